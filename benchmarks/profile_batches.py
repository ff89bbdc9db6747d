"""Milliseconds per training batch (sampling, collation, context features)
of a method on a dataset, and a cProfile of where they go.

    python benchmarks/profile_batches.py --dataset runs/twitch-fr --method maml
"""
import argparse
import cProfile
import pstats
import time

import torch

from graphmeta.config import load_config
from graphmeta.run import prepare
from graphmeta.train import build_learner


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--method", default="maml")
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--top", type=int, default=25, help="cProfile rows to print")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    run = prepare(load_config(None, [f"dataset.name={args.dataset}",
                                     f"methods=[{args.method}]"]), torch.device("cpu"))
    source = build_learner(run.context(args.method)).stages()[0].batches()
    next(source)                                    # warm-up
    start = time.perf_counter()
    for _ in range(args.batches):
        next(source)
    ms = (time.perf_counter() - start) / args.batches * 1000
    print(f"{args.method} on {args.dataset}: {ms:.1f} ms a training batch "
          f"({args.batches} batches, {args.threads} threads)")
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.batches):
        next(source)
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
