"""Pools several `graphmeta compare` runs of the same methods: one line per
run and method, then the differences to a base method across the runs.

    python benchmarks/pool_runs.py runs/email-split0 runs/email-split1 ... \
        --base finetune --metric accuracy

Made for runs that differ in what a single run cannot vary, such as the
few-shot class split (`--seed S` draws a new one): a run's paired CI covers
its own test episodes only, so with 5 meta-test classes it says nothing of
another split. Per run and method it prints the test score, the meta-val
score the run selected its checkpoints by (each seed's best, averaged over
seeds; "-" for methods that do not train), and the paired per-task
difference to ``--base`` with its 95% CI. Across runs it prints the mean of
the per-run differences with a Student-t interval over the runs (each run
one observation), how many runs the CI puts above / below zero, and how
often the method with the best meta-val score is also the best of those
methods on test.

The statistics are graphmeta's own (`graphmeta.eval.mean_ci`,
`paired_diff`); this script only reads the run directories' CSV files.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from graphmeta.eval import mean_ci, paired_diff
from graphmeta.rundir import read_per_task


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise SystemExit(f"pool_runs: {path}: no such file (is it a `graphmeta compare` run?)")
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _float(v: str) -> float:
    return float(v) if v not in ("", "nan") else np.nan


def load_run(run: Path, metric: str) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """``({method: per-task test scores in task order}, {method: meta-val score})``."""
    try:
        test = read_per_task(run, metric)
    except (OSError, ValueError) as e:
        raise SystemExit(f"pool_runs: {e}") from None
    # A method trained in stages logs "method:stage" rows; each stage keeps
    # its best meta-val state, so the method's score is its last stage's best.
    best: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    metrics = run / "metrics.csv"
    for r in _read(metrics) if metrics.is_file() else []:
        v = _float(r.get(f"val_{metric}", ""))
        method, _, stage = r["method"].partition(":")
        if not np.isnan(v):
            stages = best[method, r["seed"]]
            stages[stage] = max(stages.pop(stage, -np.inf), v)    # re-inserted: last stage last
    val: dict[str, list[float]] = defaultdict(list)
    for (m, _), stages in best.items():
        val[m].append(list(stages.values())[-1])
    return test, {m: float(np.mean(v)) for m, v in val.items()}


def pool(runs: list[Path], base: str, metric: str) -> str:
    lines = [f"| run | method | test {metric} | meta-val {metric} | Δ vs {base} (95% CI) |",
             "|---|---|---|---|---|"]
    diffs: dict[str, list[dict[str, float]]] = defaultdict(list)
    agree = 0
    for run in runs:
        test, val = load_run(run, metric)
        if base not in test:
            raise SystemExit(f"pool_runs: {run}: no method {base!r} (has {', '.join(test)})")
        for m, s in test.items():
            d = paired_diff(s, test[base]) if m != base else None
            diffs[m].append(d or {})
            v = f"{val[m]:.4f}" if m in val else "-"
            dd = f"{d['diff']:+.4f} ± {_half(d['ci95'])}" if d else "-"
            lines.append(f"| {run.name} | {m} | {np.nanmean(s):.4f} | {v} | {dd} |")
        if val:
            by_val = max(val, key=val.get)
            by_test = max(val, key=lambda m: np.nanmean(test[m]))   # among the same methods
            agree += by_val == by_test
    lines += ["", f"| method | mean Δ vs {base} over {len(runs)} runs (95% CI over runs) | "
                  "runs above / tied / below |", "|---|---|---|"]
    for m, ds in diffs.items():
        if m == base:
            continue
        per_run = [d["diff"] for d in ds]
        ci = mean_ci(per_run)
        above = sum(d["diff"] - d["ci95"] > 0 for d in ds)
        below = sum(d["diff"] + d["ci95"] < 0 for d in ds)
        lines.append(f"| {m} | {ci['mean']:+.4f} ± {_half(ci['ci95'])} | "
                     f"{above} / {len(ds) - above - below} / {below} |")
    lines += ["", f"runs whose best meta-val method is also best on test (among the methods "
                  f"with a meta-val score): {agree} of {len(runs)}"]
    return "\n".join(lines)


def _half(ci: float) -> str:
    """An interval's half-width, or ``-`` where there is none (fewer than
    ``graphmeta.eval.stats.MIN_TASKS`` values: no 0-wide interval)."""
    return f"{ci:.4f}" if np.isfinite(ci) else "-"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="run directories")
    p.add_argument("--base", required=True, help="method the others are compared with")
    p.add_argument("--metric", default="auc", help="per_task.csv column (default: auc)")
    args = p.parse_args(argv)
    print(pool(args.runs, args.base, args.metric))
    return 0


if __name__ == "__main__":
    sys.exit(main())
