"""``graphmeta bench``: speed and memory against in-run references.

Everything is measured in one run, on the same model, tasks and thread
count: graphmeta's batched meta-step (second and first order), the per-task
reference (a Python loop, PyG message passing, one ``autograd.grad`` per task
and step), one fused forward+backward over the meta-batch (the floor's unit),
ego-subgraph sampling against PyG's ``k_hop_subgraph``, peak memory per inner
step count, and end-to-end training throughput with sampling included.
Times are medians over repeats after warm-up.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from graphmeta import datasets
from graphmeta.bench.catalogue import bench_catalogue, catalogue_child
from graphmeta.bench.memory import bench_memory, memory_child
from graphmeta.bench.sampling import bench_sampler, random_graph
from graphmeta.bench.timing import bench_meta_step, bench_throughput, setup


def run_bench(args: argparse.Namespace, log: Callable[[str], None] = print) -> dict:
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    sampler, batches, model = setup(args.tasks, args.max_nodes, args.hidden, args.layers,
                                    args.conv, device)
    mean_nodes = float(np.mean([g.num_nodes for b in batches for g in b.graphs.data_list]))
    config = {"tasks": args.tasks, "inner_steps": args.inner_steps, "max_nodes": args.max_nodes,
              "hidden": args.hidden, "layers": args.layers, "conv": args.conv,
              "threads": torch.get_num_threads(), "device": str(device),
              "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                              else "cpu"),
              "mean_ego_nodes": round(mean_nodes, 1), "torch": torch.__version__}
    log(f"config: {config}")
    result: dict[str, Any] = {"config": config}
    result["meta_step_ms"] = bench_meta_step(model, batches, args.inner_steps, device,
                                             args.repeats, args.loop_repeats, args.conv)
    log(f"meta_step_ms: {result['meta_step_ms']}")
    if not args.skip_sampler:
        graphs: dict[str, tuple[torch.Tensor, int]] = {}
        root = _mirror(args.data_root)
        if root is not None:
            d = datasets.load("deezer-hu", root=root)
            graphs["deezer-hu"] = (d.edge_index, d.num_nodes)
        else:
            log("deezer-hu: no local mirror (set GRAPHMETA_DATA or --data-root); skipped")
        for n in (10_000, 1_000_000):
            graphs[f"random-{n // 1000}k"] = (random_graph(n), n)
        result["sampler_ms_per_task"] = {
            name: bench_sampler(ei, n, args.max_nodes, args.tasks)
            for name, (ei, n) in graphs.items()}
        log(f"sampler_ms_per_task: {result['sampler_ms_per_task']}")
    result["throughput_tasks_per_s"] = bench_throughput(
        sampler, model, batches, args.tasks, args.inner_steps, device, args.throughput_iters)
    log(f"throughput_tasks_per_s: {result['throughput_tasks_per_s']}")
    if not args.skip_memory:
        result["peak_memory_mb"] = bench_memory(args, args.memory_steps_list)
        log(f"peak_memory_mb: {result['peak_memory_mb']}")
    sizes = [int(c) for c in args.catalogue_sizes.split(",") if c]
    if sizes:
        result["catalogue"] = bench_catalogue(args, sizes)
        log(f"catalogue: {result['catalogue']}")
    ms = result["meta_step_ms"]
    result["ratios"] = {
        "loop_over_batched_second_order": ms["loop_second_order"] / ms["batched_second_order"],
        "loop_over_batched_first_order": ms["loop_first_order"] / ms["batched_first_order"],
        "first_order_over_floor": ms["batched_first_order"]
        / ((args.inner_steps + 1) * ms["fused_fwd_bwd"]),
    }
    return result


def _mirror(root: Optional[str]) -> Optional[Path]:
    """The dataset mirror holding deezer-hu: ``--data-root``, else ``$GRAPHMETA_DATA``."""
    for c in (root, os.environ.get("GRAPHMETA_DATA")):
        if c and (Path(c) / "deezer_gemsec" / "raw_csv" / "HU_edges.csv").exists():
            return Path(c)
    return None


def format_report(r: dict) -> str:
    ms, ra = r["meta_step_ms"], r["ratios"]
    lines = [f"graphmeta bench: {r['config']['tasks']} tasks, {r['config']['inner_steps']} inner "
             f"steps, {r['config']['device']} ({r['config']['device_name']}), "
             f"{r['config']['threads']} threads",
             "", f"{'meta-step (ms, median)':<28} {'2nd order':>10} {'1st order':>10}",
             f"{'per-task loop (reference)':<28} {ms['loop_second_order']:>10.1f} "
             f"{ms['loop_first_order']:>10.1f}",
             f"{'graphmeta batched':<28} {ms['batched_second_order']:>10.1f} "
             f"{ms['batched_first_order']:>10.1f}",
             f"{'speed-up':<28} {ra['loop_over_batched_second_order']:>9.1f}x "
             f"{ra['loop_over_batched_first_order']:>9.1f}x",
             f"fused fwd+bwd {ms['fused_fwd_bwd']:.2f} ms; first-order step = "
             f"{ra['first_order_over_floor']:.2f} x (inner_steps+1) x fused"]
    if "sampler_ms_per_task" in r:
        lines += ["", f"{'sampler (ms/task)':<16} {'batched':>8} {'one-task':>9} "
                      f"{'k_hop_subgraph':>15} {'speed-up':>9} {'nodes':>6}"]
        for name, s in r["sampler_ms_per_task"].items():
            lines.append(f"{name:<16} {s['graphmeta']:>8.3f} {s['graphmeta_one_task']:>9.3f} "
                         f"{s['k_hop_subgraph']:>15.2f} {s['speedup']:>8.0f}x "
                         f"{s['mean_nodes']:>6.1f}")
    t = r["throughput_tasks_per_s"]
    lines += ["", f"training throughput (tasks/s): bare meta-step {t['bare_meta_step']:.0f}; "
                  f"with sampling: in-line {t['train_inline']:.0f}, prefetch thread "
                  f"{t['train_prefetch_thread']:.0f}; graphmeta train (auto) = "
                  f"{100 * t['auto_fraction_of_bare']:.0f}% of bare"]
    if "catalogue" in r:
        lines += ["", "catalogue sweep (10 known interests per user): " + "; ".join(
            f"{c}: " + (f"{v['meta_step_ms']:.1f} ms a step, {v['peak_memory_mb']:.0f} MB, "
                        f"evaluation of {v['eval_users']} users {v['eval_500_users_s']:.1f} s"
                        if "error" not in v else f"failed ({v['error']})")
            for c, v in r["catalogue"].items())]
    if "peak_memory_mb" in r:
        pm = r["peak_memory_mb"]
        lines += ["", "peak memory of one meta-step (MB): "
                  + "; ".join(f"{o.replace('_', ' ')}: " + ", ".join(f"{k} steps {v:.0f}"
                                                                    for k, v in d.items())
                              for o, d in pm.items())]
    return "\n".join(lines)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tasks", type=int, default=32)
    ap.add_argument("--inner-steps", type=int, default=5)
    ap.add_argument("--max-nodes", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--conv", default="gcn")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--loop-repeats", type=int, default=5)
    ap.add_argument("--throughput-iters", type=int, default=40)
    ap.add_argument("--memory-steps", dest="memory_steps_list",
                    type=lambda s: [int(x) for x in s.split(",")], default=[1, 5, 10, 20])
    ap.add_argument("--data-root", help="dataset mirror holding deezer_gemsec/ (default: "
                                        "$GRAPHMETA_DATA; without one the deezer-hu "
                                        "sampler row is skipped)")
    ap.add_argument("--skip-sampler", action="store_true")
    ap.add_argument("--catalogue", dest="catalogue_sizes", default="100,10000,1000000",
                    help="catalogue sizes for the sweep (comma-separated; empty: skip)")
    ap.add_argument("--memory-cap-gb", type=float, default=12.0,
                    help="address-space cap of each catalogue-sweep process")
    ap.add_argument("--catalogue-timeout", type=int, default=300)
    ap.add_argument("--_catalogue", dest="catalogue", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--_memory-order", dest="memory_order", help=argparse.SUPPRESS)
    ap.add_argument("--_memory-steps", dest="memory_steps", type=int, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """``graphmeta bench`` with parsed arguments (:func:`add_arguments`)."""
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.memory_order:
        memory_child(args)
        return 0
    if args.catalogue:
        catalogue_child(args)
        return 0
    log = (lambda s: print(s, file=sys.stderr)) if args.json else (lambda s: None)
    r = run_bench(args, log)
    print(json.dumps(r, indent=2) if args.json else format_report(r))
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="graphmeta bench", description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))
