"""The run directory: what ``train``/``compare`` write and ``evaluate`` reads.

- ``config.yaml``: the resolved spec, loadable as a config;
- ``metrics.csv``: the meta-val history of every method and seed;
- ``checkpoints/<method>/seed-<s>.pt``: each trained learner's ``state_dict``
  with its settings and data fingerprint (:mod:`graphmeta.checkpoint`);
- ``results.json``: the table (per metric mean ± 95% CI over test tasks of
  the seed-averaged scores, the seed spread, each method's meta-val score,
  paired differences over users and seeds to the baseline meta-val ranks
  best with Holm-corrected p-values, the meta-val-chosen meta-learner and
  baseline, tuned settings, warnings) and the spec;
- ``per_task.csv``: every method's seed-averaged score on every test task
  (with the task's user id on user-interest tasks);
- ``tuning.json`` (with ``eval.tune``) and ``learning_curve.png``.

Every file is written atomically (a temp file, then a rename).
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np
import yaml

from graphmeta import io as gio
# The results' contents live in graphmeta.results; they are named here too,
# where run-directory code has always imported them.
from graphmeta.results import (LABELS, format_table, primary_metric, provenance, seed_mean,
                               summarize)
from graphmeta.spec import RunSpec


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


def read_users(run: Path) -> Optional[np.ndarray]:
    """The test tasks' user ids of a run's ``per_task.csv``, in task order
    (None for runs without them: few-shot episodes, older runs)."""
    path = Path(run) / "per_task.csv"
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if "user" not in (reader.fieldnames or []):
            return None
        first, users = None, {}
        for r in reader:
            first = first or r["method"]
            if r["method"] == first:
                users[int(r["task"])] = int(r["user"])
    return np.array([users[t] for t in range(len(users))], dtype=np.int64)


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
              per_seed: dict[str, list[dict[str, np.ndarray]]],
              users: Optional[np.ndarray] = None) -> None:
    """Writes the run's tables and figures (see the module docstring);
    ``users``: the test tasks' user ids, in order."""
    gio.write_text(out / "metrics.csv", _csv(history) if history else "method\n")
    rows = []
    for method, scores in per_seed.items():
        mean = seed_mean(scores)
        n = len(next(iter(mean.values())))
        if users is not None and len(users) != n:
            raise ValueError(f"{method}: {n} scored tasks but {len(users)} user ids")
        who = ({"user": int(users[i])} if users is not None else {} for i in range(n))
        rows += [{"method": method, "task": i, **u,
                  **{k: round(float(v[i]), 6) for k, v in mean.items()}}
                 for i, u in zip(range(n), who)]
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


__all__ = ["LABELS", "format_table", "plot_learning_curve", "primary_metric", "provenance",
           "read_per_task", "read_users", "seed_mean", "summarize", "write_config", "write_json",
           "write_run", "write_tensorboard"]
