"""The catalogue sweep: the cost of one meta-training step against the
number of interests (10 known interests per user), each size in a fresh
process with a memory cap, so a size that does not fit is reported, not
fatal.

A step is what :func:`graphmeta.train.optimise` does per iteration:
``zero_grad``, the MAML meta-loss of 32 tasks (5 inner steps, second
order), its backward and the optimiser step, on the model graphmeta builds
for that catalogue: the inner loop adapts only the interest rows each task
reads (:meth:`~graphmeta.models.InterestModel.row_sparse`), and above
``SPARSE_FROM`` interests the table gets sparse gradients and lazy Adam
(``model.sparse_grad: auto``). Then the full-ranking evaluation of 500
test users (the sampler builds the batches on demand, the head scores long
candidate lists factorised, the metrics skip full sorts). docs/SCALING.md
records the sweep.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from graphmeta.bench.memory import _proc_status_kb
from graphmeta.eval import Evaluator
from graphmeta.meta import MAML
from graphmeta.models import GNNEncoder, InterestModel
from graphmeta.models.settings import SPARSE_FROM
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import UserInterestTasks
from graphmeta.optimiser import Optimiser

SIZES = (100, 10_000, 1_000_000)


def catalogue_child(args: argparse.Namespace) -> None:
    """Runs in a fresh process: one catalogue size."""
    cap = int(args.memory_cap_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    torch.set_num_threads(args.threads)
    n_items = args.catalogue
    g = make_social_graph(2000, 10, 10, seed=0)
    rng = np.random.default_rng(0)
    interests = torch.zeros(2000, n_items, dtype=torch.bool)
    # 10 distinct known interests per user.
    liked = torch.from_numpy(np.stack([rng.choice(n_items, 10, replace=False)
                                       for _ in range(2000)]))
    interests[torch.arange(2000).unsqueeze(1), liked] = True
    g.interests, g.interest_x = interests, None
    tasks = UserInterestTasks(g, k_shot=3, n_query=5, max_nodes=args.max_nodes, seed=0,
                              split=(0.5, 0.25, 0.25))
    batch = next(tasks.batches("train", args.tasks, seed=0))
    torch.manual_seed(0)
    model = InterestModel(g.x.size(1), GNNEncoder(g.x.size(1), args.hidden, args.layers, "sage"),
                          num_interests=n_items, interest_dim=32,
                          sparse_grad=n_items > SPARSE_FROM)
    maml = MAML(model, inner_lr=0.1, inner_steps=args.inner_steps, rows=model.adapted_rows(),
                sparse_grad=model.sparse_grad)
    opt = Optimiser(maml, 1e-3)

    def step() -> None:
        opt.zero_grad()
        maml.meta_loss(batch).backward()
        opt.step()
    step()                                                  # warm-up
    base = _proc_status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    times = []
    for _ in range(5):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    peak = round((_proc_status_kb("VmHWM") - base) / 1024, 1)
    # Full-ranking evaluation of the 500 test users: each user's other
    # interests against every interest outside its support set.
    start = time.perf_counter()
    ev = Evaluator(tasks, n_test=500, test_seed=0)
    scores = ev.evaluate(lambda b: maml.adapted_logits(b), "test")
    seconds = time.perf_counter() - start
    print(json.dumps({"meta_step_ms": round(sorted(times)[2], 2), "peak_memory_mb": peak,
                      "sparse_grad": model.sparse_grad, "eval_users": len(scores["auc"]),
                      "eval_500_users_s": round(seconds, 1)}))


def bench_catalogue(args: argparse.Namespace, sizes=SIZES) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for c in sizes:
        cmd = [sys.executable, "-m", "graphmeta.bench", "--_catalogue", str(c), "--threads",
               str(args.threads), "--tasks", str(args.tasks), "--max-nodes", str(args.max_nodes),
               "--hidden", str(args.hidden), "--layers", str(args.layers), "--inner-steps",
               str(args.inner_steps), "--memory-cap-gb", str(args.memory_cap_gb)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.catalogue_timeout)
        except subprocess.TimeoutExpired:
            out[str(c)] = {"error": f"over {args.catalogue_timeout} s"}
            continue
        if p.returncode == 0:
            out[str(c)] = json.loads(p.stdout.strip().splitlines()[-1])
        else:
            last = (p.stderr.strip().splitlines() or ["?"])[-1][:160]
            out[str(c)] = {"error": last}
    return out
