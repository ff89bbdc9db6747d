#!/usr/bin/env bash
# Distributed meta-training on one machine with 2 processes (gloo on CPU,
# nccl on CUDA), then the same run in one process, and how far apart they end.
# Each meta-gradient agrees to float32 summation order (~1e-7); Adam carries
# those last bits forward, so the gap grows with the number of steps.
# Multi-node: the same torchrun command with --nnodes=N --node_rank=I
# --rdzv_endpoint=HOST:PORT on every node.
#
# Run:  bash examples/distributed.sh        (27 s on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${OUT:-runs/distributed}
SET="--set synthetic.n_users=600 --set maml.iterations=40 --set maml.eval_every=20 --set eval.seeds=1
     --set tasks.n_val_tasks=50 --set tasks.n_test_tasks=100 --device cpu --quiet --threads 1 --force"
rm -rf "$OUT"
OMP_NUM_THREADS=1 $PY -m torch.distributed.run --nproc_per_node=2 --master_port=29533 \
    -m graphmeta train --method maml --out "$OUT/two" $SET
$PY -m graphmeta train --method maml --out "$OUT/one" $SET
$PY - "$OUT" <<'PY'
import sys, torch
a, b = (torch.load(f"{sys.argv[1]}/{n}/checkpoints/maml/seed-0.pt", weights_only=True)["state_dict"]
        for n in ("one", "two"))
rel = max(((a[k] - b[k]).abs().max() / a[k].abs().max().clamp_min(1e-12)).item() for k in a)
print(f"2 processes vs 1 after 40 meta-steps: largest relative parameter difference {rel:.1e}")
PY
