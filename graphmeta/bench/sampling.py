"""Ego-subgraph sampling: graphmeta's CSR sampler against PyG's ``k_hop_subgraph``."""
from __future__ import annotations

import time

import numpy as np
import torch
from torch_geometric.utils import k_hop_subgraph

from graphmeta.datasets.formats import undirected
from graphmeta.tasks import EgoSampler


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
