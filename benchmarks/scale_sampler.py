"""A 5M-node, 50M-edge graph sampled from by 2 processes sharing one
memory-mapped CSR copy (what local ranks of a distributed run do).

    python benchmarks/scale_sampler.py [--nodes 5000000 --degree 20]

Prints the build time, the CSR size on disk, and per process: ms per task of
batched ego-subgraph sampling (32 tasks a batch, 2 hops, 64 nodes) and its
resident memory, split into private and shared (mapped-file) pages.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHILD = r"""
import json, sys, time
import numpy as np
from graphmeta.tasks import EgoSampler
s = EgoSampler.load(sys.argv[1], hops=2, max_nodes=64)
rng = np.random.default_rng(int(sys.argv[2]))
s.sample_many(rng.integers(0, s.num_nodes, 32), rng)
start = time.perf_counter()
n = 0
for _ in range(50):
    n += len(s.sample_many(rng.integers(0, s.num_nodes, 32), rng))
ms = (time.perf_counter() - start) * 1000 / n
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
kb = lambda k: int(status[k].split()[0])
print(json.dumps({"ms_per_task": round(ms, 3), "rss_mb": round(kb("VmRSS") / 1024),
                  "rss_file_mb": round(kb("RssFile") / 1024),
                  "rss_anon_mb": round(kb("RssAnon") / 1024)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=5_000_000)
    ap.add_argument("--degree", type=int, default=10, help="mean degree (directed edges / nodes)")
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    import numpy as np

    from graphmeta.tasks import EgoSampler
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    half = args.nodes * args.degree // 2
    src = rng.integers(0, args.nodes, half)
    dst = rng.integers(0, args.nodes, half)
    import torch
    ei = torch.from_numpy(np.stack([np.r_[src, dst], np.r_[dst, src]]))   # both directions
    del src, dst
    sampler = EgoSampler(ei, args.nodes, hops=2, max_nodes=64)
    edges = ei.size(1)
    del ei
    with tempfile.TemporaryDirectory() as d:
        sampler.save(d)
        built = time.perf_counter() - start
        size = sum(f.stat().st_size for f in Path(d).iterdir()) / 2**20
        del sampler
        procs = [subprocess.Popen([sys.executable, "-c", CHILD, d, str(i)], stdout=subprocess.PIPE,
                                  text=True) for i in range(args.processes)]
        results = [json.loads(p.communicate()[0]) for p in procs]
    print(json.dumps({"nodes": args.nodes, "directed_edges": edges,
                      "build_seconds": round(built, 1), "csr_mb": round(size),
                      "processes": results}, indent=1))


if __name__ == "__main__":
    main()
