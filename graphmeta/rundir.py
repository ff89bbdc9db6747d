"""The run directory: what ``train``/``compare`` write and ``evaluate`` reads.

- ``config.yaml``: the resolved spec, loadable as a config;
- ``metrics.csv``: the meta-val history of every method and seed;
- ``checkpoints/<method>/seed-<s>.pt``: each trained learner's ``state_dict``
  with its settings and data fingerprint (:mod:`graphmeta.checkpoint`);
- ``results.json``: the table (per metric mean ± 95% CI over test tasks of
  the seed-averaged scores, the seed spread, paired differences to the best
  baseline, tuned settings, warnings) and the spec;
- ``per_task.csv``: every method's seed-averaged score on every test task;
- ``tuning.json`` (with ``eval.tune``) and ``learning_curve.png``.

Every file is written atomically (a temp file, then a rename).
"""
from __future__ import annotations

import csv
import datetime
import io
import json
import math
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import networkx
import numpy as np
import scipy
import sklearn
import torch
import torch_geometric
import yaml

import graphmeta
from graphmeta import io as gio
from graphmeta.eval import Evaluator, mean_ci, paired_diff
from graphmeta.methods import get_method
from graphmeta.spec import RunSpec

LABELS = {"auc": "ROC-AUC", "ndcg@10": "nDCG@10", "recall@10": "Recall@10",
          "recall@20": "Recall@20", "mrr": "MRR", "accuracy": "accuracy"}


def provenance(device: Optional[str] = None) -> dict[str, Any]:
    """What produced a result: package versions, the source commit (when
    graphmeta runs from a git checkout), the command line, the time, the
    device, and the CPU's architecture and the vector instruction set
    torch's kernels use on it (``cpu``): float results can differ in their
    last bits from one to another, and a long training run can carry that
    into its scores."""
    out: dict[str, Any] = {
        "graphmeta": graphmeta.__version__, "python": platform.python_version(),
        "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
        "numpy": np.__version__, "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__, "networkx": networkx.__version__,
        "cpu": f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}",
        "command": " ".join(["graphmeta" if Path(sys.argv[0]).name in ("graphmeta", "cli.py")
                             else sys.argv[0], *sys.argv[1:]]),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": device}
    if device and device.startswith("cuda") and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(torch.device(device))
    src = Path(graphmeta.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=5)
        if commit.returncode == 0:
            dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain",
                                    "--untracked-files=no"], capture_output=True, text=True,
                                   timeout=5).stdout.strip()
            out["commit"] = commit.stdout.strip() + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def primary_metric(spec: RunSpec) -> str:
    """The metric tables lead with and pair on."""
    return "accuracy" if spec.kind == "few-shot" else spec.eval.metric


def write_json(path: Path, obj: Any) -> None:
    gio.write_text(path, json.dumps(obj, indent=2) + "\n")


def _csv(rows: list[dict]) -> str:
    fields = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def read_per_task(run: Path, metric: str) -> dict[str, np.ndarray]:
    """A run's ``per_task.csv`` read back: ``{method: seed-averaged test
    scores in task order}`` for ``metric`` (NaN where no seed scored the task).

    Raises :class:`FileNotFoundError` when ``run`` has no ``per_task.csv``
    and :class:`ValueError` naming the file and what it holds when the
    column is missing or a method's task numbers are not 0..n-1."""
    path = Path(run) / "per_task.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (is {run} a finished "
                                f"`graphmeta compare` run?)")
    per: dict[str, dict[int, float]] = {}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if metric not in (reader.fieldnames or []):
            raise ValueError(f"{path}: no column {metric!r} (columns: "
                             f"{', '.join(reader.fieldnames or [])})")
        for r in reader:
            v = r[metric]
            per.setdefault(r["method"], {})[int(r["task"])] = (
                float(v) if v not in ("", "nan") else math.nan)
    for method, scores in per.items():
        if sorted(scores) != list(range(len(scores))):
            raise ValueError(f"{path}: method {method!r} has tasks "
                             f"{sorted(scores)[:5]}...; expected 0..{len(scores) - 1}")
    return {m: np.array([d[t] for t in range(len(d))]) for m, d in per.items()}


def seed_mean(per_seed: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-task scores averaged over training seeds (NaN where no seed scores
    the task: a user without both relevant and irrelevant candidates)."""
    out = {}
    for k in per_seed[0]:
        v = np.stack([m[k] for m in per_seed])
        n = (~np.isnan(v)).sum(0)
        out[k] = np.where(n > 0, np.nansum(v, 0) / np.maximum(n, 1), np.nan)
    return out


def write_tensorboard(out: Path, method: str, seed: int, history: list[dict]) -> None:
    """``history`` as TensorBoard scalars under ``out/tensorboard/<method>/seed-<s>``."""
    from torch.utils.tensorboard import SummaryWriter
    with SummaryWriter(str(out / "tensorboard" / method / f"seed-{seed}")) as w:
        for row in history:
            for k, v in row.items():
                if k.startswith(("val_", "train_")) and isinstance(v, (int, float)):
                    w.add_scalar(k, v, int(row["iteration"]))


def write_config(out: Path, spec: RunSpec) -> None:
    """``config.yaml``: the resolved spec (written first, rewritten after tuning)."""
    gio.write_text(out / "config.yaml", yaml.safe_dump(spec.to_dict(), sort_keys=False))


def write_run(out: Path, spec: RunSpec, results: dict, history: list[dict],
              per_seed: dict[str, list[dict[str, np.ndarray]]]) -> None:
    """Writes the run's tables and figures (see the module docstring)."""
    gio.write_text(out / "metrics.csv", _csv(history) if history else "method\n")
    rows = []
    for method, scores in per_seed.items():
        mean = seed_mean(scores)
        n = len(next(iter(mean.values())))
        rows += [{"method": method, "task": i, **{k: round(float(v[i]), 6) for k, v in mean.items()}}
                 for i in range(n)]
    gio.write_text(out / "per_task.csv", _csv(rows))
    write_json(out / "results.json", results)
    plot_learning_curve(history, out / "learning_curve.png", spec.eval.select)


def plot_learning_curve(history: list[dict], path: Path, select: str) -> None:
    """Meta-val score per method (first seed) against meta-iterations: the
    checkpoint score ``select`` (``meta.select``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    key = f"val_{select}"
    for method in dict.fromkeys(r["method"] for r in history):
        rows = [r for r in history if r["method"] == method]
        rows = [r for r in rows if r["seed"] == rows[0]["seed"]]
        ax.plot([r["iteration"] for r in rows], [r[key] for r in rows], marker="o", label=method)
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"meta-val {LABELS[select]}")
    ax.set_title(f"Meta-validation {LABELS[select]} (the checkpoint score)")
    ax.grid(alpha=0.3)
    if history:
        ax.legend()
    fig.tight_layout()
    gio.atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def _r(x: float) -> Optional[float]:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def summarize(spec: RunSpec, evaluator: Evaluator,
              per_seed: dict[str, list[dict[str, np.ndarray]]], seconds: dict[str, float],
              seeds: Callable[[str], list[int]], warnings: Optional[list[str]] = None,
              device: Optional[str] = None) -> dict:
    """``results.json``: per method and metric the mean ± 95% CI over test
    tasks of the seed-averaged scores, the seed spread (standard deviation of
    the per-seed means), the paired difference in the primary metric to
    the best baseline other than itself, and the provenance (on ``device``)."""
    metric = primary_metric(spec)
    means = {m: seed_mean(s) for m, s in per_seed.items()}
    n_tasks = len(next(iter(next(iter(means.values())).values())))
    out: dict[str, Any] = {
        "dataset": Path(spec.dataset.name).name, "task_kind": spec.kind,
        "protocol": evaluator.name,
        "metric": metric, "n_test_tasks": n_tasks, "seed": spec.seed,
        "selected_by": f"val {spec.eval.select}"}
    tasks = evaluator.tasks
    if spec.kind == "few-shot":
        out.update(n_way=tasks.n_way, k_shot=tasks.k_shot, n_query=tasks.n_query,
                   classes={k: len(v) for k, v in tasks.splits.items()})
    else:
        out.update(k_shot=tasks.k_shot, negatives=tasks.negatives,
                   candidates=evaluator.candidates or "all")
    out["warnings"] = list(warnings or [])
    out["methods"] = {}
    for m, scores in per_seed.items():
        row: dict[str, Any] = {}
        for k, v in means[m].items():
            s = mean_ci(v)
            row[k] = {"mean": _r(s["mean"]), "ci95": _r(s["ci95"])}
        row["seeds"] = seeds(m)
        row["seed_sd"] = {k: _r(float(np.std([np.nanmean(s[k]) for s in scores], ddof=1)))
                          if len(scores) > 1 else None for k in means[m]}
        row["seconds"] = round(seconds[m], 2)
        row["settings"] = spec.settings[m].to_dict()
        out["methods"][m] = row
    baselines = [m for m in per_seed if get_method(m).baseline]
    out["paired"] = {}
    for m in per_seed:
        others = [b for b in baselines if b != m]
        if not others:
            continue
        best = max(others, key=lambda b: np.nanmean(means[b][metric]))
        p = paired_diff(means[m][metric], means[best][metric])
        out["paired"][m] = {"baseline": best, "metric": metric, "diff": _r(p["diff"]),
                            "ci95": _r(p["ci95"]), "n": p["n"]}
    out["spec"] = spec.to_dict()
    out["provenance"] = provenance(device)
    return out


def _cell(v: Optional[dict]) -> str:
    if v is None or v.get("mean") is None:
        return f"{'-':>15}"
    ci = f"{v['ci95']:.3f}" if v.get("ci95") is not None else "  -  "
    return f"{v['mean']:>7.3f} ± {ci}"


def format_table(results: dict) -> str:
    """The results as a fixed-width table."""
    kind = results["task_kind"]
    metric = results["metric"]
    if kind == "few-shot":
        kind += f" {results['n_way']}-way {results['k_shot']}-shot"
        cols = ["accuracy"]
    else:
        kind += f", {results['protocol']} ranking"
        cols = ["auc", "ndcg@10", "recall@10", "mrr"]
    width = max([len("method")] + [len(m) for m in results["methods"]])
    lines = [f"{results['dataset']} / {kind}: {results['n_test_tasks']} test tasks; mean ± 95% CI "
             f"of seed-averaged scores; Δ: paired difference in {LABELS[metric]} to the best "
             f"other baseline"]
    head = (f"{'method':<{width}} " + " ".join(f"{LABELS[c]:>15}" for c in cols)
            + f" {'seed sd':>7} {'Δ vs':>14} {'Δ':>16} {'seconds':>8}")
    lines.append(head)
    for m, r in results["methods"].items():
        sd = r["seed_sd"].get(metric)
        p = results["paired"].get(m)
        delta = (f"{p['diff']:>+7.3f} ± " + (f"{p['ci95']:.3f}" if p["ci95"] is not None
                                              else "  -  ")
                 if p and p["diff"] is not None else f"{'-':>15}")
        sd_cell = f"{sd:>7.3f}" if sd is not None else f"{'-':>7}"
        lines.append(f"{m:<{width}} " + " ".join(_cell(r.get(c)) for c in cols)
                     + f" {sd_cell} {p['baseline'] if p else '-':>14} {delta:>16} "
                     f"{r['seconds']:>8.1f}")
    for w in results.get("warnings", []):
        lines.append(f"WARNING: {w}")
    return "\n".join(lines)
