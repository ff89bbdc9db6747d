"""Milliseconds per training step of a method on a dataset (the loss, its
backward pass and Adam's update, on batches drawn beforehand, so sampling
is not counted), and torch.profiler's table of the operators they spend it
in.

    python benchmarks/profile_step.py --dataset deezer-hu --method maml

`graphmeta compare --profile` says how much of a run is the step; this
says what the step is made of (the next thing to make cheaper).
"""
import argparse
import time

import torch
from torch.profiler import ProfilerActivity, profile

from graphmeta.config import load_config
from graphmeta.run import prepare
from graphmeta.train import build_learner

# torch.profiler's operator names without "aten::" and without an in-place
# trailing "_" (add_ counts as add), grouped by what they do.
GROUPS = (
    ("matrix products", ("mm", "bmm", "addmm", "baddbmm", "matmul", "linear", "einsum")),
    ("elementwise", ("add", "sub", "mul", "div", "relu", "threshold", "sigmoid", "exp",
                     "log", "neg", "pow", "sqrt", "rsqrt", "where", "clamp", "lerp",
                     "addcmul", "addcdiv", "maximum", "minimum", "softplus", "tanh")),
    ("reductions and softmax", ("sum", "mean", "max", "min", "softmax", "log_softmax",
                                "_log_softmax", "nll_loss", "cross_entropy", "norm", "amax",
                                "logsumexp")),
    ("copies, views and indexing", ("copy", "clone", "contiguous", "expand", "view",
                                    "reshape", "permute", "transpose", "t", "select",
                                    "slice", "index", "index_select", "gather", "scatter",
                                    "cat", "stack", "unsqueeze", "squeeze", "to", "_to_copy",
                                    "empty", "zeros", "ones", "fill", "zero", "new_zeros",
                                    "as_strided", "unbind", "split", "narrow", "repeat")),
)


def _group(name: str) -> str:
    op = name.split("::")[-1].rstrip("_")
    return next((group for group, ops in GROUPS if op in ops), "autograd and other")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--method", default="maml")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--top", type=int, default=20, help="operators to list")
    p.add_argument("--shapes", type=int, default=0, metavar="N",
                   help="also list the N costliest (operator, input shapes) pairs")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override, as on the command line")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    run = prepare(load_config(None, [f"dataset.name={args.dataset}",
                                     f"methods=[{args.method}]", *args.set]),
                  torch.device("cpu"))
    learner = build_learner(run.context(args.method))
    stage = learner.stages()[0]
    source = stage.batches()
    batches = [next(source) for _ in range(args.steps + 3)]
    opt = torch.optim.Adam(learner.parameters(), lr=stage.lr)

    def step(batch) -> None:
        opt.zero_grad(set_to_none=True)
        stage.loss(batch).backward()
        opt.step()

    for b in batches[:3]:                           # warm-up
        step(b)
    start = time.perf_counter()
    for b in batches[3:]:
        step(b)
    ms = (time.perf_counter() - start) / args.steps * 1000
    print(f"{args.method} on {args.dataset}: {ms:.1f} ms a step ({args.steps} steps, "
          f"{args.threads} threads; sampling not counted)")

    with profile(activities=[ProfilerActivity.CPU], record_shapes=bool(args.shapes)) as prof:
        for b in batches[3:]:
            step(b)
    events = [e for e in prof.key_averages() if e.key.startswith("aten::")]
    total = sum(e.self_cpu_time_total for e in events)
    groups: dict[str, float] = {}
    for e in events:
        g = _group(e.key)
        groups[g] = groups.get(g, 0.0) + e.self_cpu_time_total
    print(f"\naten operators' own time, {total / args.steps / 1000:.1f} ms a step "
          f"(profiled; the profiler adds its own overhead):")
    for g, t in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {g:<28} {t / args.steps / 1000:7.2f} ms  {100 * t / total:5.1f}%")
    print(f"\nthe top {args.top} operators by own time:")
    print(f"  {'operator':<36} {'calls/step':>10} {'ms/step':>8} {'share':>6}")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:args.top]:
        print(f"  {e.key:<36} {e.count / args.steps:10.0f} "
              f"{e.self_cpu_time_total / args.steps / 1000:8.2f} "
              f"{100 * e.self_cpu_time_total / total:5.1f}%")
    if args.shapes:
        shaped = [e for e in prof.key_averages(group_by_input_shape=True)
                  if e.key.startswith("aten::")]
        print(f"\nthe top {args.shapes} (operator, input shapes) by own time:")
        for e in sorted(shaped, key=lambda e: -e.self_cpu_time_total)[:args.shapes]:
            shapes = ", ".join(str(list(x)) for x in e.input_shapes if x)
            print(f"  {e.key:<16} {e.count / args.steps:6.0f}/step "
                  f"{e.self_cpu_time_total / args.steps / 1000:7.2f} ms  {shapes}")


if __name__ == "__main__":
    main()
