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
import ctypes
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch_geometric.utils import k_hop_subgraph

from graphmeta.datasets.formats import undirected
from graphmeta.meta import MAML, expand_params, reference_meta_loss, task_ce
from graphmeta.models import GNNEncoder, InterestModel
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import EgoSampler, Prefetcher, UserInterestTasks


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], Any], repeats: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def setup(tasks: int, inner_steps: int, max_nodes: int, hidden: int, layers: int,
          conv: str, device: torch.device, n_batches: int = 4, seed: int = 0):
    """The demo's synthetic graph, a GNN + head model and a few meta-batches."""
    data = make_social_graph(2000, seed=seed)
    sampler = UserInterestTasks(data, max_nodes=max_nodes, seed=seed)
    stream = sampler.batches("train", tasks, seed=seed)
    batches = [next(stream).to(device) for _ in range(n_batches)]
    torch.manual_seed(seed)
    model = InterestModel(data.x.size(1), GNNEncoder(data.x.size(1), hidden, layers, conv),
                          interest_x=data.interest_x).to(device)
    return sampler, batches, model


def bench_meta_step(model, batches, inner_steps: int, device: torch.device,
                    repeats: int, loop_repeats: int) -> dict[str, float]:
    it = iter(range(10**9))

    def pick():
        return batches[next(it) % len(batches)]

    def step(first_order: bool) -> Callable[[], None]:
        maml = MAML(model, inner_lr=0.1, inner_steps=inner_steps, first_order=first_order)
        return lambda: maml.meta_loss(pick()).backward()

    def loop(first_order: bool) -> Callable[[], None]:
        return lambda: reference_meta_loss(model, pick(), inner_lr=0.1, inner_steps=inner_steps,
                                           first_order=first_order).backward()

    def fused() -> None:
        b = pick()
        p = expand_params(dict(model.named_parameters()), b.num_tasks)
        task_ce(model.batched_logits(p, b, b.support_items), b.support_y).sum().backward()

    return {
        "batched_second_order": median_ms(step(False), repeats, 3, device),
        "batched_first_order": median_ms(step(True), repeats, 3, device),
        "loop_second_order": median_ms(loop(False), loop_repeats, 1, device),
        "loop_first_order": median_ms(loop(True), loop_repeats, 1, device),
        "fused_fwd_bwd": median_ms(fused, repeats, 3, device),
    }


def random_graph(num_nodes: int, degree: int = 8, seed: int = 0) -> torch.Tensor:
    """Uniform random graph with mean degree about ``degree`` (same local
    structure at every size, so per-task cost can be compared across sizes)."""
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(num_nodes).repeat_interleave(degree // 2)
    dst = torch.randint(0, num_nodes, (src.numel(),), generator=g)
    return undirected(torch.stack([src, dst]), num_nodes)


def bench_sampler(edge_index: torch.Tensor, num_nodes: int, max_nodes: int, tasks: int,
                  n_batches: int = 10, n_khop: int = 10, seed: int = 0) -> dict[str, float]:
    """ms per task: graphmeta's batched sampler (one meta-batch per call),
    its one-task sampler, and PyG's ``k_hop_subgraph`` (uncapped, one call
    per task, the usual way)."""
    sampler = EgoSampler(edge_index, num_nodes, hops=2, max_nodes=max_nodes)
    rng = np.random.default_rng(seed)
    egos = rng.integers(0, num_nodes, (n_batches, tasks))
    sampler.sample_many(egos[0], rng)  # allocates nothing big; warms caches
    start = time.perf_counter()
    sizes = [len(n) for batch in egos for n, _ in sampler.sample_many(batch, rng)]
    batched = (time.perf_counter() - start) * 1000 / egos.size
    sampler.sample(int(egos[0, 0]), rng)  # allocates the scratch array
    start = time.perf_counter()
    for u in egos.flat:
        sampler.sample(int(u), rng)
    single = (time.perf_counter() - start) * 1000 / egos.size
    start = time.perf_counter()
    for u in egos.flat[:n_khop]:
        k_hop_subgraph(int(u), 2, edge_index, relabel_nodes=True, num_nodes=num_nodes)
    khop = (time.perf_counter() - start) * 1000 / n_khop
    return {"graphmeta": batched, "graphmeta_one_task": single, "k_hop_subgraph": khop,
            "speedup": khop / batched, "mean_nodes": float(np.mean(sizes)),
            "num_nodes": num_nodes, "num_edges": int(edge_index.size(1))}


def bench_throughput(sampler: UserInterestTasks, model, batches, tasks: int,
                     inner_steps: int, device: torch.device, iterations: int
                     ) -> dict[str, float]:
    """Tasks/s of the training loop (sampling + collate + meta-step + Adam),
    sampling in-line and in a prefetch thread, against the bare meta-step on
    pre-collated batches. ``train_auto`` is what ``graphmeta train`` does on
    this device (``tasks.prefetch: auto``)."""
    maml = MAML(model, inner_lr=0.1, inner_steps=inner_steps)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run(source) -> float:
        next(source)  # warm-up
        _sync(device)
        start = time.perf_counter()
        for _ in range(iterations):
            loss = maml.meta_loss(next(source))
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(device)
        return tasks * iterations / (time.perf_counter() - start)

    def cycle():
        while True:
            yield from batches
    bare = run(cycle())
    inline = run(b.to(device) for b in sampler.batches("train", tasks, seed=1))
    with Prefetcher(sampler.batches("train", tasks, seed=1), 2, lambda b: b.to(device)) as pre:
        thread = run(pre)
    auto = thread if device.type == "cuda" else inline
    return {"bare_meta_step": bare, "train_inline": inline, "train_prefetch_thread": thread,
            "train_auto": auto, "auto_fraction_of_bare": auto / bare}


def _memory_child(args: argparse.Namespace) -> None:
    """Runs in a fresh process: peak memory of one meta-step."""
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    _, batches, model = setup(args.tasks, args.inner_steps, args.max_nodes, args.hidden,
                              args.layers, args.conv, device, n_batches=1)
    b = batches[0]
    maml = MAML(model, inner_lr=0.1, inner_steps=args.memory_steps,
                first_order=args.memory_order == "first")
    # Warm the allocator and kernels with a 0-step pass, then measure.
    MAML(model, 0.1, 0).meta_loss(b).backward()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        maml.meta_loss(b).backward()
        torch.cuda.synchronize()
        peak_mb = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        # CPU: hand freed heap pages back to the OS, reset the kernel's
        # peak-RSS mark, and read how far one meta-step raises it.
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        Path("/proc/self/clear_refs").write_text("5")
        base = _proc_status_kb("VmRSS")
        maml.meta_loss(b).backward()
        peak_mb = (_proc_status_kb("VmHWM") - base) / 1024
    print(json.dumps({"peak_mb": peak_mb}))


def _proc_status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {key}")


def bench_memory(args: argparse.Namespace, steps: list[int]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {"second_order": {}, "first_order": {}}
    for order in ("second", "first"):
        for s in steps:
            cmd = [sys.executable, "-m", "graphmeta.bench", "--_memory-order", order,
                   "--_memory-steps", str(s), "--device", args.device, "--threads",
                   str(args.threads), "--tasks", str(args.tasks), "--max-nodes",
                   str(args.max_nodes), "--hidden", str(args.hidden), "--layers",
                   str(args.layers), "--conv", args.conv]
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                raise RuntimeError(f"memory probe failed: {p.stderr[-2000:]}")
            out[f"{order}_order"][str(s)] = round(json.loads(p.stdout.strip().splitlines()[-1])["peak_mb"], 1)
    return out


def run_bench(args: argparse.Namespace, log: Callable[[str], None] = print) -> dict:
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    sampler, batches, model = setup(args.tasks, args.inner_steps, args.max_nodes,
                                    args.hidden, args.layers, args.conv, device)
    mean_nodes = float(np.mean([g.num_nodes for b in batches for g in b.graphs]))
    config = {"tasks": args.tasks, "inner_steps": args.inner_steps, "max_nodes": args.max_nodes,
              "hidden": args.hidden, "layers": args.layers, "conv": args.conv,
              "threads": torch.get_num_threads(), "device": str(device),
              "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                              else "cpu"),
              "mean_ego_nodes": round(mean_nodes, 1), "torch": torch.__version__}
    log(f"config: {config}")
    result: dict[str, Any] = {"config": config}
    result["meta_step_ms"] = bench_meta_step(model, batches, args.inner_steps, device,
                                             args.repeats, args.loop_repeats)
    log(f"meta_step_ms: {result['meta_step_ms']}")
    if not args.skip_sampler:
        graphs: dict[str, tuple[torch.Tensor, int]] = {}
        root = _mirror(args.data_root)
        if root is not None:
            from graphmeta import datasets
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
    ms = result["meta_step_ms"]
    result["ratios"] = {
        "loop_over_batched_second_order": ms["loop_second_order"] / ms["batched_second_order"],
        "loop_over_batched_first_order": ms["loop_first_order"] / ms["batched_first_order"],
        "first_order_over_floor": ms["batched_first_order"]
        / ((args.inner_steps + 1) * ms["fused_fwd_bwd"]),
    }
    return result


def _mirror(root: Optional[str]) -> Optional[Path]:
    import os
    candidates = [root, os.environ.get("GRAPHMETA_DATA"),
                  str(Path(__file__).resolve().parents[2] / "shared" / "datasets")]
    for c in candidates:
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
    ap.add_argument("--memory-steps", dest="memory_steps_list", type=lambda s: [int(x) for x in s.split(",")],
                    default=[1, 5, 10, 20])
    ap.add_argument("--data-root", help="dataset mirror holding deezer_gemsec/ (default: "
                                        "GRAPHMETA_DATA, then ../shared/datasets)")
    ap.add_argument("--skip-sampler", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--_memory-order", dest="memory_order", help=argparse.SUPPRESS)
    ap.add_argument("--_memory-steps", dest="memory_steps", type=int, help=argparse.SUPPRESS)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="graphmeta bench", description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    args = ap.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.memory_order:
        _memory_child(args)
        return 0
    log = (lambda s: print(s, file=sys.stderr)) if args.json else (lambda s: None)
    r = run_bench(args, log)
    print(json.dumps(r, indent=2) if args.json else format_report(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
