"""Peak memory of one meta-step, each measured in a fresh process."""
from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
from pathlib import Path

import torch

from graphmeta.bench.timing import setup
from graphmeta.meta import MAML


def memory_child(args: argparse.Namespace) -> None:
    """Runs in a fresh process: peak memory of one meta-step."""
    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    _, batches, model = setup(args.tasks, args.max_nodes, args.hidden, args.layers, args.conv,
                              device, n_batches=1)
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
            out[f"{order}_order"][str(s)] = round(
                json.loads(p.stdout.strip().splitlines()[-1])["peak_mb"], 1)
    return out
