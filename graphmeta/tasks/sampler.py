"""Ego-subgraph sampling from a CSR adjacency.

PyG's :func:`~torch_geometric.utils.k_hop_subgraph` scans every edge of the
graph on each call, so a task would cost in proportion to the whole graph.
:class:`EgoSampler` keeps ``rowptr``/``col`` arrays and touches only the
rows of the nodes it visits, so a task costs in proportion to its subgraph.
It is written by hand because PyG's own neighbour samplers need pyg-lib or
torch-sparse, which are not available on every platform.
"""
from __future__ import annotations

import threading

import numpy as np
import torch
from torch import Tensor


class EgoSampler:
    r"""Samples the h-hop ego-subgraph of a node, capped at ``max_nodes``.

    Hops are expanded breadth-first. When a hop would exceed ``max_nodes``,
    the remaining slots are filled by sampling that hop's new nodes uniformly
    without replacement, and expansion stops. The ego is always node 0, then
    the nodes of hop 1, then hop 2, each hop in ascending id order.

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

    def __init__(self, edge_index: Tensor, num_nodes: int, hops: int = 2,
                 max_nodes: int | None = 64) -> None:
        if hops < 0:
            raise ValueError(f"hops must be >= 0, got {hops}")
        if max_nodes is not None and max_nodes < 1:
            raise ValueError(f"max_nodes must be >= 1 or None, got {max_nodes}")
        self.num_nodes = int(num_nodes)
        self.hops = hops
        self.max_nodes = max_nodes
        # Neighbours of v (the nodes that send messages to v and that v
        # reaches) are the sources of edges whose target is v: CSR by target.
        src, dst = edge_index.cpu().numpy()
        order = np.argsort(dst, kind="stable")
        self.col = src[order].astype(np.int64)
        counts = np.bincount(dst, minlength=self.num_nodes)
        self.rowptr = np.zeros(self.num_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=self.rowptr[1:])
        # Scratch lookup (global id -> local id), one per thread, reset after
        # every call so that a call costs O(subgraph) and not O(num_nodes).
        self._tls = threading.local()

    def __getstate__(self) -> dict:  # worker processes make their own scratch
        return {k: v for k, v in self.__dict__.items() if k != "_tls"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._tls = threading.local()

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
