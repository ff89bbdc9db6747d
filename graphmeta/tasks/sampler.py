"""Ego-subgraph sampling from a CSR adjacency.

PyG's :func:`~torch_geometric.utils.k_hop_subgraph` scans every edge of the
graph on each call, so a task would cost in proportion to the whole graph.
:class:`EgoSampler` keeps ``rowptr``/``col`` arrays and touches only the
rows of the nodes it visits, so a task costs in proportion to its subgraph.
It is written by hand because PyG's own neighbour samplers need pyg-lib or
torch-sparse, which are not available on every platform.
"""
from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor

from graphmeta import distributed
from graphmeta import io as gio
from graphmeta.datasets.download import cache_dir
from graphmeta.tasks.many import sample_dense, sample_sorted


# Up to this many (task, node) pairs per batch, sample_many keeps sets of
# pairs as flags in arrays indexed by the pair: 2 bytes and an int32 a pair
# (32 tasks of a 500,000-node graph: 96 MB per sampling thread).
DENSE_KEYS = 1 << 24


def _save_npy(path: str, arr: np.ndarray) -> None:
    with open(path, "wb") as f:      # np.save(path) would append ".npy" to the temp name
        np.save(f, arr)


class EgoSampler:
    r"""Samples the h-hop ego-subgraph of a node, capped at ``max_nodes``.

    Hops are expanded breadth-first. When a hop would exceed ``max_nodes``,
    the remaining slots are filled by sampling that hop's new nodes uniformly
    without replacement, and expansion stops. The ego is always node 0, then
    the nodes of hop 1, then hop 2, each hop in ascending id order. Self
    loops of the source graph are left out of the subgraph: the convolutions
    add their own.

    Args:
        edge_index (Tensor): ``[2, E]`` edges (``source -> target``).
        num_nodes (int): Number of nodes.
        hops (int): Neighbourhood radius ``h``.
        max_nodes (int, optional): Cap on the subgraph size, ego included.
            ``None`` keeps the whole h-hop neighbourhood.

    Example:
        >>> ei = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
        >>> nodes, sub_ei = EgoSampler(ei, 3, hops=1).sample(1, np.random.default_rng(0))
        >>> nodes.tolist()
        [1, 0, 2]
    """

    def __init__(self, edge_index: Optional[Tensor], num_nodes: int, hops: int = 2,
                 max_nodes: int | None = 64) -> None:
        if hops < 0:
            raise ValueError(f"hops must be >= 0, got {hops}")
        if max_nodes is not None and max_nodes < 1:
            raise ValueError(f"max_nodes must be >= 1 or None, got {max_nodes}")
        self.num_nodes = int(num_nodes)
        self.hops = hops
        self.max_nodes = max_nodes
        self._tls = threading.local()
        if edge_index is None:      # filled by load()
            return
        # Neighbours of v (the nodes that send messages to v and that v
        # reaches) are the sources of edges whose target is v: CSR by target.
        src, dst = edge_index.cpu().numpy()
        loops = src == dst
        src, dst = src[~loops], dst[~loops]
        order = np.argsort(dst, kind="stable")
        self.col = src[order].astype(np.int64)
        counts = np.bincount(dst, minlength=self.num_nodes)
        self.rowptr = np.zeros(self.num_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=self.rowptr[1:])
        # The scratch lookup (global id -> local id) is one per thread, reset
        # after every call so that a call costs O(subgraph), not O(num_nodes).

    def save(self, folder: str | Path) -> Path:
        """Writes the CSR arrays as ``rowptr.npy`` and ``col.npy`` (atomically),
        for other processes to :meth:`load` memory-mapped."""
        folder = Path(folder)
        for name in ("rowptr", "col"):
            arr = getattr(self, name)
            gio.atomic(folder / f"{name}.npy", functools.partial(_save_npy, arr=arr))
        return folder

    @classmethod
    def load(cls, folder: str | Path, hops: int = 2, max_nodes: int | None = 64,
             mmap: bool = True) -> "EgoSampler":
        """A sampler over CSR arrays saved by :meth:`save`. Memory-mapped, so
        the processes of one machine share a single copy of the graph through
        the page cache (distributed ranks, 5M-node graphs)."""
        folder = Path(folder)
        rowptr = np.load(folder / "rowptr.npy", mmap_mode="r" if mmap else None)
        sampler = cls(None, len(rowptr) - 1, hops, max_nodes)
        sampler.rowptr = rowptr
        sampler.col = np.load(folder / "col.npy", mmap_mode="r" if mmap else None)
        return sampler

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(num_nodes={self.num_nodes}, "
                f"hops={self.hops}, max_nodes={self.max_nodes})")

    def _neighbours(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All CSR entries of ``nodes``: (neighbour ids, row index into nodes)."""
        starts = self.rowptr[nodes]
        counts = self.rowptr[nodes + 1] - starts
        total = int(counts.sum())
        if total == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        rows = np.repeat(np.arange(len(nodes)), counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.col[starts[rows] + offsets], rows

    def sample(self, node: int, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
        """Returns ``(nodes, edge_index)``: global ids with ``node`` first, and
        the induced subgraph's edges in local ids."""
        if not 0 <= node < self.num_nodes:
            raise IndexError(f"node {node} out of range [0, {self.num_nodes})")
        cap = self.max_nodes if self.max_nodes is not None else self.num_nodes
        local = getattr(self._tls, "local", None)
        if local is None:
            local = self._tls.local = np.full(self.num_nodes, -1, dtype=np.int64)
        chosen = [np.array([node], dtype=np.int64)]
        local[node] = 0
        n = 1
        frontier = chosen[0]
        try:
            for _ in range(self.hops):
                if n >= cap or len(frontier) == 0:
                    break
                nbrs, _ = self._neighbours(frontier)
                new = np.unique(nbrs[local[nbrs] < 0])
                if n + len(new) > cap:
                    new = np.sort(rng.choice(new, cap - n, replace=False))
                local[new] = np.arange(n, n + len(new))
                n += len(new)
                chosen.append(new)
                frontier = new
            nodes = np.concatenate(chosen)
            nbrs, rows = self._neighbours(nodes)
            keep = local[nbrs] >= 0
            # edge (neighbour -> node): source = neighbour, target = node
            sub = np.stack([local[nbrs[keep]], rows[keep]])
        finally:
            for part in chosen:
                local[part] = -1
        return torch.from_numpy(nodes), torch.from_numpy(sub)

    def sample_many(self, egos: Sequence[int] | np.ndarray, rng: np.random.Generator
                    ) -> list[tuple[Tensor, Tensor]]:
        """:meth:`sample` for a whole meta-batch in one pass.

        Same subgraphs for uncapped hops and the same distribution when a hop
        is capped (a uniform subset of its new nodes), but every numpy call
        covers all egos at once, so the per-call overhead that bounds
        :meth:`sample` on small subgraphs is paid once per batch. Pairs
        (task, node) are encoded as ``task * num_nodes + node``; up to
        :data:`DENSE_KEYS` pairs, sets of them are flags in a per-thread
        array indexed by the pair (no sorting), above it sorted arrays. Both
        give the same subgraphs for the same ``rng``.
        """
        egos = np.asarray(egos, dtype=np.int64)
        T, N = len(egos), self.num_nodes
        if T == 0:
            return []
        if egos.min() < 0 or egos.max() >= N:
            raise IndexError(f"ego ids must be in [0, {N}), got {egos.min()}..{egos.max()}")
        if T * N <= DENSE_KEYS:
            return sample_dense(self, egos, rng)
        return sample_sorted(self, egos, rng)

def shared_sampler(sampler: EgoSampler, key: str) -> EgoSampler:
    """In a distributed run, one CSR copy per machine: local rank 0 saves
    ``sampler``'s arrays under the dataset cache (``csr/<key>``), the other
    local ranks map that file and drop their own copy."""
    if not distributed.active():
        return sampler
    folder = cache_dir() / "csr" / key
    local = int(os.environ.get("LOCAL_RANK", distributed.rank()))
    if local == 0:
        sampler.save(folder)
    distributed.barrier()
    return sampler if local == 0 else EgoSampler.load(folder, sampler.hops, sampler.max_nodes)
