"""How the meta-selection methods' regularisation ``selection.C`` changes
their score, on meta-val only.

    GRAPHMETA_DATA=../shared/datasets python benchmarks/selection_c.py \
        runs/deezer-ctx-1k --threads 2

Reads a `graphmeta compare` run directory that trained ``blend`` (its
checkpoint holds every candidate) and, per training seed, scores the
candidates on the run's fixed meta-val tasks (the test split is never
drawn). For each ``C`` (``auto`` and each value of
:data:`graphmeta.meta.selection.CS`) it fits the blend and the ``select-clf``
classifier on one half of the meta-val tasks and scores them on the other,
both ways round (2-fold cross-fitting), so every task is scored by a
selector that did not see it; ``auto`` chooses its ``C`` inside the fitting
half (nested). It prints the cross-fitted ROC-AUC (the selection metric) and
nDCG@10 of each, their paired difference to the best single candidate, the
``C`` that ``auto`` chose in each half ("none": one candidate was best on
every fitting task, so no classifier was fitted), and ``auto`` minus
``C=1`` with its paired 95% CI.

The selectors and metrics are graphmeta's own
(:class:`~graphmeta.meta.selection.StackedBlend`,
:class:`~graphmeta.meta.selection.MetaSelector`, ``ranking_metrics``,
``paired_diff``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from graphmeta.eval import paired_diff
from graphmeta.eval.ranking import ranking_metrics
from graphmeta.meta.selection import CS, MetaSelector, StackedBlend
from meta_val import candidate_metrics, collect_meta_val

METRICS = ("auc", "ndcg@10")


def cross_fitted(C, X, scores, y, mask, per_task) -> tuple[dict[str, dict], list]:
    """Per task, the blend's metrics and select-clf's selected candidate's
    metrics, each from a selector fitted on the other half; and the ``C``
    each fit used."""
    T = len(X)
    half = np.arange(T) % 2 == 0
    out = {"blend": {k: np.full(T, np.nan) for k in METRICS},
           "select-clf": {k: np.full(T, np.nan) for k in METRICS}}
    chosen = []
    for test in (half, ~half):
        fit = ~test
        blend = StackedBlend(C).fit(X[fit], scores[:, fit], y[fit], mask[fit])
        m = ranking_metrics(torch.from_numpy(blend.predict(X[test], scores[:, test], mask[test])),
                            torch.from_numpy(y[test]), torch.from_numpy(mask[test]))
        clf = MetaSelector("classifier", C=C).fit(X[fit], per_task["auc"][fit])  # drops NaN rows
        pick = clf.predict(X[test])
        for k in METRICS:
            out["blend"][k][test] = np.asarray(m[k])
            out["select-clf"][k][test] = per_task[k][test][np.arange(test.sum()), pick]
        chosen.append((blend.C_, clf.C_))
    return out, chosen


def _c(C: float | None) -> str:
    """A fitted C; none where one candidate was best on every task (no classifier)."""
    return "none" if C is None else f"{C:g}"


def _cell(d: dict) -> str:
    return f"{d['diff']:+.4f} ± {d['ci95']:.4f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a user-interest compare run that trained blend")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        seeds = collect_meta_val(args.run, args.device)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    print(f"{args.run}: meta-val, 2-fold cross-fitted; "
          f"C=auto chooses among {', '.join(f'{c:g}' for c in CS)} in each fitting half")
    print("| seed | C | blend ROC-AUC | blend nDCG@10 | blend − best single (ROC-AUC) "
          "| select-clf ROC-AUC | select-clf − best single | C chosen (blend; clf) |")
    print("|---|---|---|---|---|---|---|---|")
    for seed, names, (X, scores, y, mask, _) in seeds:
        per_task = candidate_metrics(scores, y, mask, METRICS)
        best = int(np.nanargmax(np.nanmean(per_task["auc"], 0)))
        single = per_task["auc"][:, best]
        res = {}
        for C in ("auto", *CS):
            res[C], chosen = cross_fitted(C, X, scores, y, mask, per_task)
            b, c = res[C]["blend"], res[C]["select-clf"]
            picked = "; ".join(f"{_c(cb)}, {_c(cc)}" for cb, cc in chosen) if C == "auto" else "-"
            print(f"| {seed} | {C if C == 'auto' else f'{C:g}'} | {np.nanmean(b['auc']):.4f} "
                  f"| {np.nanmean(b['ndcg@10']):.4f} | {_cell(paired_diff(b['auc'], single))} "
                  f"| {np.nanmean(c['auc']):.4f} | {_cell(paired_diff(c['auc'], single))} "
                  f"| {picked} |", flush=True)
        for who in ("blend", "select-clf"):
            diffs = ", ".join(f"{k} {_cell(paired_diff(res['auto'][who][k], res[1.0][who][k]))}"
                              for k in METRICS)
            print(f"seed {seed}, {who}: auto minus C=1: {diffs} (best single: "
                  f"{names[best]} {np.nanmean(single):.4f}; {len(X)} meta-val tasks)",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
