"""The run directory: what ``train``/``compare`` write and ``evaluate`` reads.

``config.yaml`` (the resolved spec, loadable as a config), ``metrics.csv``
(meta-val history), ``checkpoints/<method>.pt`` (each trained learner's
``state_dict``), ``results.json`` and ``learning_curve.png``. Every file is
written atomically (a temp file, then a rename).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import yaml

from graphmeta import io as gio
from graphmeta.eval import mean_ci
from graphmeta.spec import RunSpec
from graphmeta.tasks import EgoTasks
from graphmeta.train import METRIC_FIELDS


def checkpoint_path(run: Path, method: str) -> Path:
    return run / "checkpoints" / f"{method}.pt"


def write_run(out: Path, spec: RunSpec, results: dict, history: list[dict],
              checkpoints: dict[str, dict]) -> None:
    """Writes config.yaml, metrics.csv, checkpoints/<method>.pt, results.json
    and learning_curve.png into ``out``."""
    gio.write_text(out / "config.yaml", yaml.safe_dump(spec.to_dict(), sort_keys=False))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=METRIC_FIELDS)
    w.writeheader()
    w.writerows(history)
    gio.write_text(out / "metrics.csv", buf.getvalue())
    for method, state in checkpoints.items():
        gio.save_torch(checkpoint_path(out, method), state)
    write_results(out / "results.json", results)
    plot_learning_curve(history, out / "learning_curve.png", spec.meta.select)


def write_results(path: Path, results: dict) -> None:
    gio.write_text(path, json.dumps(results, indent=2) + "\n")


def plot_learning_curve(history: list[dict], path: Path, select: str) -> None:
    """Meta-val score per method against meta-iterations: the checkpoint
    score ``select`` (``meta.select``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    key = "val_auc" if select == "auc" else "val_accuracy"
    name = "ROC-AUC" if select == "auc" else "accuracy"
    for method in dict.fromkeys(r["method"] for r in history):
        rows = [r for r in history if r["method"] == method]
        ax.plot([r["iteration"] for r in rows], [r[key] for r in rows],
                marker="o", label=method)
    ax.set_xlabel("meta-iteration")
    ax.set_ylabel(f"meta-val {name}")
    ax.set_title(f"Meta-validation {name} (the checkpoint score)")
    ax.grid(alpha=0.3)
    if history:
        ax.legend()
    fig.tight_layout()
    gio.atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def summarize(spec: RunSpec, tasks: EgoTasks, metrics: dict[str, dict[str, np.ndarray]],
              seconds: dict[str, float]) -> dict:
    """``results.json``: the run's settings and each method's mean ± 95% CI."""
    out = {"dataset": spec.dataset.name, "task_kind": spec.kind,
           "n_test_tasks": spec.tasks.n_test_tasks, "seed": spec.seed,
           "inner_lr": spec.meta.inner_lr, "selected_by": f"val {spec.meta.select}"}
    if spec.kind == "few-shot":
        out.update(n_way=tasks.n_way, k_shot=tasks.k_shot, n_query=tasks.n_query,
                   classes={k: len(v) for k, v in tasks.splits.items()})
    else:
        out.update(k_shot=tasks.k_shot, negatives=tasks.negatives)
    out["methods"] = {m: {**{k: _ci(v[k]) for k in ("accuracy", "auc") if k in v},
                          "seconds": round(seconds[m], 2),
                          **({"settings": spec.settings(m)} if spec.settings(m) else {})}
                      for m, v in metrics.items()}
    out["spec"] = spec.to_dict()
    return out


def _ci(values: np.ndarray) -> dict[str, float]:
    s = mean_ci(values)
    return {"mean": round(s["mean"], 6), "ci95": round(s["ci95"], 6)}


def format_table(results: dict) -> str:
    kind = results["task_kind"]
    if kind == "few-shot":
        kind += f" {results['n_way']}-way {results['k_shot']}-shot"
    width = max([len("method")] + [len(m) for m in results["methods"]])
    lines = [f"{results['dataset']} / {kind}: "
             f"{results['n_test_tasks']} test tasks, mean ± 95% CI",
             f"{'method':<{width}} {'accuracy':>17} {'ROC-AUC':>17} {'seconds':>8}"]
    for m, r in results["methods"].items():
        a, u = r["accuracy"], r.get("auc")
        auc = f"{u['mean']:>9.3f} ± {u['ci95']:.3f}" if u else f"{'-':>17}"
        lines.append(f"{m:<{width}} {a['mean']:>9.3f} ± {a['ci95']:.3f} {auc} {r['seconds']:>8.1f}")
    return "\n".join(lines)
