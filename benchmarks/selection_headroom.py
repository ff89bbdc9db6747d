"""How far per-user meta-selection could get beyond the best single
candidate, judged by a selector far better informed than any meta-feature
one; on meta-val only.

    GRAPHMETA_DATA=../shared/datasets python benchmarks/selection_headroom.py \
        runs/deezer-ctx-1k --threads 2

The selection report's oracle scores each user with the candidate that did
best on that user's own held-out items: with a few relevant items per user,
part of its lead is the luck of which candidate ranked those few items
highest, which no selector can know in advance. This script splits each
meta-val user's candidate items at random into two halves (relevant and
irrelevant items alike), picks per user the candidate best on one half and
scores it on the other (the split-half oracle), both ways round. That
selector sees half of each user's held-out answers, which `select-*` never
does (they see meta-features only): a generous reference for what they
could reach, though not a strict bound (meta-features that told each
user's best candidate without error would beat it). Where it is level with
the best single candidate, the per-user differences between candidates are
mostly noise, and selection from meta-features has little to find; where it
leads, that lead is what a good selector could aim for.

Reads a `graphmeta compare` run directory that trained ``blend`` (its
checkpoint holds every candidate) and scores the candidates on the run's
fixed meta-val tasks (the test split is never drawn). Only users with at
least two relevant items take part (each half needs one); their number is
printed. For each seed and metric it prints the best single candidate, the
full-information oracle and the split-half oracle (each on the scoring
half), and split-half oracle minus best single with its paired 95% CI.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from graphmeta.eval import paired_diff
from meta_val import candidate_metrics, collect_meta_val

METRICS = ("auc", "ndcg@10")


def headroom(scores: np.ndarray, y: np.ndarray, mask: np.ndarray, seed: int = 0
             ) -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray]:
    """Per task (those with two or more relevant items), on the scoring
    half and averaged over both ways round: the best single candidate's
    metric (best by its mean on the choosing halves), the oracle's (best on
    the scoring half itself) and the split-half oracle's (best on the other
    half). Returns those and the kept tasks' mask."""
    keep = ((y > 0) & mask).sum(1) >= 2
    scores, y, mask = scores[:, keep], y[keep], mask[keep]
    rng = np.random.default_rng(seed)
    # a random half of each task's relevant items and of its irrelevant ones
    half = np.zeros_like(mask)
    for t in range(len(y)):
        for items in (np.flatnonzero(mask[t] & (y[t] > 0)), np.flatnonzero(mask[t] & (y[t] <= 0))):
            half[t, rng.permutation(items)[: (len(items) + 1) // 2]] = True
    a, b = (candidate_metrics(scores, y, mask & h, METRICS) for h in (half, ~half))
    rows = np.arange(len(y))
    out = {}
    for k in METRICS:
        got = {"best single": [], "oracle": [], "split-half oracle": []}
        for choose, score in ((a[k], b[k]), (b[k], a[k])):
            got["best single"].append(score[:, int(np.nanargmax(np.nanmean(choose, 0)))])
            got["oracle"].append(np.nanmax(score, 1))
            got["split-half oracle"].append(score[rows, np.nanargmax(choose, 1)])
        out[k] = {name: np.mean(v, 0) for name, v in got.items()}
    return out, keep


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
    print(f"{args.run}: meta-val, each user's items split in two halves at random")
    print("| seed | users | metric | best single | oracle | split-half oracle "
          "| split-half oracle − best single |")
    print("|---|---|---|---|---|---|---|")
    for seed, _, (_, scores, y, mask, _) in seeds:
        res, keep = headroom(scores, y, mask)
        for k in METRICS:
            r = res[k]
            d = paired_diff(r["split-half oracle"], r["best single"])
            print(f"| {seed} | {int(keep.sum())} of {len(keep)} | {k} "
                  f"| {np.nanmean(r['best single']):.4f} | {np.nanmean(r['oracle']):.4f} "
                  f"| {np.nanmean(r['split-half oracle']):.4f} "
                  f"| {d['diff']:+.4f} ± {d['ci95']:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
