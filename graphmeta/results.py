"""A comparison's results: what ``results.json`` holds
(:func:`summarize`) and how it prints (:func:`format_table`).

Per method and metric the mean ± 95% CI over test tasks of the
seed-averaged scores, the seed spread, the meta-val score, and the paired
difference to the baseline meta-val ranks best, with an interval over
users and training seeds (:func:`graphmeta.eval.paired_seeds`) and
Holm-corrected p-values; ``chosen`` names the meta-learner and the baseline
meta-val picks, ``headline`` (:func:`headline`) their difference in every
metric; ``provenance`` says what produced it.
"""
from __future__ import annotations

import datetime
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

import graphmeta
from graphmeta.eval import Evaluator, holm, mean_ci, paired_seeds
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


def seed_mean(per_seed: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per-task scores averaged over training seeds (NaN where no seed scores
    the task: a user without both relevant and irrelevant candidates)."""
    out = {}
    for k in per_seed[0]:
        v = np.stack([m[k] for m in per_seed])
        n = (~np.isnan(v)).sum(0)
        out[k] = np.where(n > 0, np.nansum(v, 0) / np.maximum(n, 1), np.nan)
    return out


def _r(x: float) -> Optional[float]:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def summarize(spec: RunSpec, evaluator: Evaluator,
              per_seed: dict[str, list[dict[str, np.ndarray]]], seconds: dict[str, float],
              seeds: Callable[[str], list[int]], warnings: Optional[list[str]] = None,
              device: Optional[str] = None,
              val: Optional[dict[str, list[dict[str, float]]]] = None) -> dict:
    """``results.json``: per method and metric the mean ± 95% CI over test
    tasks of the seed-averaged scores, the seed spread (standard deviation of
    the per-seed means), its meta-val score (``val``: per seed, the kept
    state's meta-val metrics); the paired difference in the primary metric
    to the baseline other than itself that meta-val ranks best, with an
    interval over users and seeds (:func:`~graphmeta.eval.paired_seeds`)
    and Holm-corrected p-values over the table's comparisons; ``chosen``:
    the meta-learner and the baseline meta-val picks (a table's winner is
    decided between these two, never by the best test row); ``headline``:
    their difference in every metric (:func:`headline`); and the
    provenance (on ``device``)."""
    metric, select = primary_metric(spec), spec.eval.select
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
        out.update(k_shot=tasks.k_shot, negatives={"training": tasks.negatives,
                                                   "evaluation": evaluator.negatives},
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
        row["val"] = _val(val, m, select)
        out["methods"][m] = row
    baselines = [m for m in per_seed if get_method(m).baseline]
    out["paired"] = {}
    raw_p: dict[str, float] = {}
    for m in per_seed:
        others = [b for b in baselines if b != m]
        if not others:
            continue
        best = _by_val(others, out["methods"])
        p = paired_seeds(np.stack([s[metric] for s in per_seed[m]]),
                         np.stack([s[metric] for s in per_seed[best]]))
        out["paired"][m] = {"baseline": best, "metric": metric, "diff": _r(p["diff"]),
                            "ci95": _r(p["ci95"]), "p": _r(p["p"]), "n": p["n"],
                            "interval": p["interval"], "seeds": p["seeds"]}
        raw_p[m] = p["p"]
    # Holm on the unrounded p-values (rounding to 6 places would zero the smallest)
    for m, p_holm in zip(raw_p, holm(list(raw_p.values()))):
        out["paired"][m]["p_holm"] = _r(p_holm)
    learners = [m for m in per_seed if not get_method(m).baseline]
    out["chosen"] = {"by": f"val {select}",
                     "meta-learner": _by_val(learners, out["methods"]) if learners else None,
                     "baseline": _by_val(baselines, out["methods"]) if baselines else None}
    if out["chosen"]["meta-learner"] and out["chosen"]["baseline"]:
        out["headline"] = headline(per_seed, out["chosen"]["meta-learner"],
                                   out["chosen"]["baseline"])
    out["spec"] = spec.to_dict()
    out["provenance"] = provenance(device)
    return out


def headline(per_seed: dict[str, list[dict[str, np.ndarray]]], learner: str,
             baseline: str) -> dict[str, Any]:
    """A table's answer: ``learner`` minus ``baseline`` (meta-val's choices)
    in every metric, each with its interval over users and seeds
    (:func:`~graphmeta.eval.paired_seeds`) and its p-value, Holm-corrected
    over the metrics (``p_holm``)."""
    rows = {k: paired_seeds(np.stack([s[k] for s in per_seed[learner]]),
                            np.stack([s[k] for s in per_seed[baseline]]))
            for k in per_seed[learner][0]}
    corrected = holm([r["p"] for r in rows.values()])
    return {"meta-learner": learner, "baseline": baseline,
            "metrics": {k: {"diff": _r(r["diff"]), "ci95": _r(r["ci95"]), "p": _r(r["p"]),
                            "p_holm": _r(c), "n": r["n"], "interval": r["interval"],
                            "seeds": r["seeds"]}
                        for (k, r), c in zip(rows.items(), corrected)}}


def _val(val: Optional[dict[str, list[dict[str, float]]]], method: str, select: str
         ) -> Optional[float]:
    """``method``'s meta-val ``select`` score, averaged over its seeds (None when unknown)."""
    rows = [v[select] for v in (val or {}).get(method, []) if v and select in v]
    return _r(float(np.mean(rows))) if rows else None


def _by_val(methods: list[str], rows: dict[str, dict]) -> str:
    """The method of ``methods`` with the best meta-val score (ties and
    unknown scores: the first listed)."""
    scored = [m for m in methods if rows[m].get("val") is not None]
    if not scored:
        return methods[0]
    return max(scored, key=lambda m: rows[m]["val"])


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
    chosen = results.get("chosen", {})
    width = max([len("method") + 2] + [len(m) + 2 for m in results["methods"]])
    lines = [f"{results['dataset']} / {kind}: {results['n_test_tasks']} test tasks; mean ± 95% CI "
             f"of seed-averaged scores; val: meta-val {LABELS[metric]}; Δ: paired "
             f"difference in {LABELS[metric]} to the baseline meta-val ranks best, 95% interval "
             f"over users and seeds; p: Holm-corrected; *: meta-val's choice of meta-learner "
             f"and of baseline"]
    head = (f"{'method':<{width}} " + " ".join(f"{LABELS[c]:>15}" for c in cols)
            + f" {'seed sd':>7} {'val':>6} {'Δ vs':>14} {'Δ':>16} {'p':>7} {'seconds':>8}")
    lines.append(head)
    for m, r in results["methods"].items():
        sd = r["seed_sd"].get(metric)
        p = results["paired"].get(m)
        delta = (f"{p['diff']:>+7.3f} ± " + (f"{p['ci95']:.3f}" if p["ci95"] is not None
                                              else "  -  ")
                 if p and p["diff"] is not None else f"{'-':>15}")
        p_cell = (f"{p['p_holm']:>7.3g}" if p and p.get("p_holm") is not None else f"{'-':>7}")
        sd_cell = f"{sd:>7.3f}" if sd is not None else f"{'-':>7}"
        val_cell = f"{r['val']:>6.3f}" if r.get("val") is not None else f"{'-':>6}"
        star = " *" if m in (chosen.get("meta-learner"), chosen.get("baseline")) else ""
        lines.append(f"{m + star:<{width}} " + " ".join(_cell(r.get(c)) for c in cols)
                     + f" {sd_cell} {val_cell} {p['baseline'] if p else '-':>14} {delta:>16} "
                     f"{p_cell} {r['seconds']:>8.1f}")
    h = results.get("headline")
    if h:
        cells = [f"{LABELS.get(k, k)} {v['diff']:+.4f} ± "
                 + (f"{v['ci95']:.4f}" if v["ci95"] is not None else "-")
                 + (f" (p {v['p_holm']:.3g})" if v.get("p_holm") is not None else "")
                 for k, v in h["metrics"].items() if v["diff"] is not None]
        over = ("users and seeds" if any(v.get("interval") == "users+seeds"
                                         for v in h["metrics"].values()) else "users")
        lines.append(f"{h['meta-learner']} minus {h['baseline']} (meta-val's choices; interval "
                     f"over {over}, p Holm-corrected over the metrics): " + "; ".join(cells))
    for w in results.get("warnings", []):
        lines.append(f"WARNING: {w}")
    return "\n".join(lines)


__all__ = ["LABELS", "format_table", "headline", "primary_metric", "provenance", "seed_mean",
           "summarize"]
