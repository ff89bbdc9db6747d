"""Whether ``selection.fallback`` helps, on meta-val only.

    GRAPHMETA_DATA=../shared/datasets python benchmarks/selection_fallback.py \
        runs/deezer-ctx-tuned-sel --threads 2

Reads a `graphmeta compare` run directory that trained ``blend`` (its
checkpoint holds every candidate) and, per training seed, scores the
candidates on the run's fixed meta-val tasks (the test split is never
drawn). For each meta-selection method (``select-knn``, ``select-clf``,
``blend``, at the run's ``selection`` settings) it compares, on tasks none
of them was fitted on (2-fold, alternate tasks, both ways round):

- the selector, fitted on the other half;
- the best single candidate on the other half;
- the fallback rule, decided inside the other half exactly as
  ``Selection.fit`` decides it (the selector's and the best single's
  2-fold cross-fitted scores there, :func:`~graphmeta.methods.selection.cross_fit`;
  the selector unless its score is higher, the single candidate otherwise).

It prints each one's mean on the held-out halves in the selection metric
(``meta.select``), the rule's paired differences to the other two with
95% CIs, and what the rule chose in each half.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from graphmeta.config import load_config
from graphmeta.settings import Facts
from graphmeta.spec import method_settings
from graphmeta.eval import paired_diff
from graphmeta.meta.selection import MetaSelector, StackedBlend
from graphmeta.methods.crossfit import (best_candidate, cross_fit, fallback_decision,
                                        fit_selector, selector_metric, subset)
from meta_val import collect_meta_val


def nested(mode, make, data, metric):
    """Per task: the selector's, the best single's and the rule's metric,
    each fitted (and for the rule, decided) on the other half; and the
    rule's choice in each half."""
    n = len(data[0])
    half = np.arange(n) % 2 == 0
    out = {k: np.full(n, np.nan) for k in ("selector", "single", "rule")}
    chose = []
    for test in (half, ~half):
        fit, held = subset(data, ~test), subset(data, test)
        _, use_single = fallback_decision(*cross_fit(mode, make, fit, metric))
        best = best_candidate(fit[4])
        out["selector"][test] = selector_metric(mode, fit_selector(mode, make(), fit), held, metric)
        out["single"][test] = held[4][:, best]
        out["rule"][test] = out["single" if use_single else "selector"][test]
        chose.append(f"single ({best})" if use_single else "selector")
    return out, chose


def selectors(settings: dict) -> dict[str, tuple[str, Callable[[], MetaSelector | StackedBlend]]]:
    """Each meta-selection method's mode and a maker of its unfitted selector,
    at its settings (``settings[method]``, as ``Selection`` builds them)."""
    knn, clf, blend = (settings[m] for m in ("select-knn", "select-clf", "blend"))
    return {"select-knn": ("knn", lambda: MetaSelector("knn", knn.neighbors)),
            "select-clf": ("classifier", lambda: MetaSelector("classifier", C=clf.C)),
            "blend": ("blend", lambda: StackedBlend(C=blend.C))}


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
    cfg = load_config(args.run / "config.yaml")
    metric = cfg.section("eval").select
    metric = cfg.section("eval").metric if metric == "auto" else metric   # as the run resolved it
    every = cfg.with_methods(["select-knn", "select-clf", "blend"])
    makers = selectors({m: method_settings(every, m, Facts()) for m in every.methods})
    try:
        seeds = collect_meta_val(args.run, args.device)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    print(f"{args.run}: meta-val, 2-fold cross-fitted ({metric}); the rule decided inside "
          f"each fitting half by its own 2-fold cross-fitting")
    print("| seed | method | selector | best single | rule | rule − selector | "
          "rule − best single | rule chose (each half) |")
    print("|---|---|---|---|---|---|---|---|")
    for seed, names, data in seeds:
        for method, (mode, make) in makers.items():
            r, chose = nested(mode, make, data, metric)
            chose = "; ".join(c if c == "selector" else f"single: {names[int(c[8:-1])]}"
                              for c in chose)
            print(f"| {seed} | {method} | {np.nanmean(r['selector']):.4f} "
                  f"| {np.nanmean(r['single']):.4f} | {np.nanmean(r['rule']):.4f} "
                  f"| {_cell(paired_diff(r['rule'], r['selector']))} "
                  f"| {_cell(paired_diff(r['rule'], r['single']))} | {chose} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
