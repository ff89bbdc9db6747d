"""Batched ego-subgraph sampling: :meth:`EgoSampler.sample_many`'s two
ways of keeping sets of (task, node) pairs, flag arrays indexed by the pair
(:func:`sample_dense`) or sorted arrays (:func:`sample_sorted`), over one
breadth-first expansion (:func:`_hops`). Same subgraphs for the same
``rng`` either way."""
from __future__ import annotations

from typing import Any, Callable, Optional, Protocol

import numpy as np
import torch
from torch import Tensor


class EgoSampler(Protocol):
    """What these functions read of :class:`graphmeta.tasks.EgoSampler`."""
    num_nodes: int
    hops: int
    max_nodes: Optional[int]
    _tls: Any

    def _neighbours(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def _cap(s: EgoSampler, new: np.ndarray, count: np.ndarray, rng: np.random.Generator
         ) -> np.ndarray:
    """``new`` (sorted pair keys of one hop), each task's share cut to a
    uniform subset of the room its cap leaves."""
    T, N = len(count), s.num_nodes
    cap = s.max_nodes if s.max_nodes is not None else N
    new_t = new // N
    room = cap - count
    over = np.flatnonzero(np.bincount(new_t, minlength=T) > room)
    if len(over) == 0:
        return new
    # One draw per capped task, not a sort of every key: numpy's choice
    # without replacement costs O(room) per task after O(share) setup.
    bounds = np.searchsorted(new_t, np.arange(T + 1))
    keep = np.ones(len(new), dtype=bool)
    for t in over:
        a, b = bounds[t], bounds[t + 1]
        keep[a:b] = False
        keep[a + rng.choice(b - a, room[t], replace=False, shuffle=False)] = True
    return new[keep]


def _split(s: EgoSampler, parts: list[np.ndarray], T: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The hops' keys ordered by task, then hop, then id: (keys, task,
    node, each task's bounds)."""
    N = s.num_nodes
    keys = np.concatenate(parts)
    hop = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    order = np.lexsort((keys, hop, keys // N))         # task, then hop, then id
    keys = keys[order]
    task = keys // N
    return keys, task, keys % N, np.searchsorted(task, np.arange(T + 1))


def _pack(nodes: np.ndarray, bounds: np.ndarray, src: np.ndarray, dst: np.ndarray,
          edge_task: np.ndarray, T: int) -> list[tuple[Tensor, Tensor]]:
    e_bounds = np.searchsorted(edge_task, np.arange(T + 1))
    out = []
    for t in range(T):
        a, b = e_bounds[t], e_bounds[t + 1]
        out.append((torch.from_numpy(nodes[bounds[t]:bounds[t + 1]].copy()),
                    torch.from_numpy(np.stack([src[a:b], dst[a:b]]))))
    return out


def _scratch(s: EgoSampler, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This thread's all-clear flag arrays (visited, new) and position
    map (-1) over ``size`` pair keys; callers clear what they set."""
    tls = s._tls
    if getattr(tls, "seen", None) is None or len(tls.seen) < size:
        tls.seen = np.zeros(size, dtype=bool)
        tls.fresh = np.zeros(size, dtype=bool)
        tls.where = np.full(size, -1, dtype=np.int32)
    return tls.seen, tls.fresh, tls.where


def _hops(s: EgoSampler, egos: np.ndarray, rng: np.random.Generator, parts: list[np.ndarray],
          new_keys: Callable[[np.ndarray], np.ndarray],
          visit: Callable[[np.ndarray], None]) -> None:
    """Appends to ``parts`` the sorted pair keys of the egos, then of each
    hop. ``new_keys(keys)``: the distinct, not yet visited ones of
    ``keys``, sorted; ``visit(keys)`` marks keys visited."""
    T, N = len(egos), s.num_nodes
    cap = s.max_nodes if s.max_nodes is not None else N
    tids = np.arange(T)
    parts.append(tids * N + egos)
    visit(parts[0])
    count = np.ones(T, dtype=np.int64)
    f_nodes, f_tasks = egos, tids
    for _ in range(s.hops):
        live = count[f_tasks] < cap
        f_nodes, f_tasks = f_nodes[live], f_tasks[live]
        if len(f_nodes) == 0:
            break
        nbrs, rows = s._neighbours(f_nodes)
        new = _cap(s, new_keys(f_tasks[rows] * N + nbrs), count, rng)
        new_t = new // N
        count += np.bincount(new_t, minlength=T)
        parts.append(new)
        visit(new)
        f_nodes, f_tasks = new % N, new_t


def sample_dense(s: EgoSampler, egos: np.ndarray, rng: np.random.Generator
                 ) -> list[tuple[Tensor, Tensor]]:
    T, N = len(egos), s.num_nodes
    seen, fresh, where = _scratch(s, T * N)
    parts: list[np.ndarray] = []

    def new_keys(keys: np.ndarray) -> np.ndarray:
        keys = keys[~seen[keys]]
        if len(keys):
            fresh[keys] = True
            lo = int(keys.min())
            keys = np.flatnonzero(fresh[lo:int(keys.max()) + 1]) + lo  # sorted, distinct
            fresh[keys] = False
        return keys
    try:
        _hops(s, egos, rng, parts, new_keys, lambda keys: seen.__setitem__(keys, True))
        keys, task, nodes, bounds = _split(s, parts, T)
        local = np.arange(len(keys)) - bounds[task]
        where[keys] = local
        nbrs, rows = s._neighbours(nodes)
        src = where[task[rows] * N + nbrs]
        hit = src >= 0
        return _pack(nodes, bounds, src[hit].astype(np.int64), local[rows[hit]],
                     task[rows[hit]], T)
    finally:
        for part in parts:
            seen[part] = False
            where[part] = -1


def sample_sorted(s: EgoSampler, egos: np.ndarray, rng: np.random.Generator
                  ) -> list[tuple[Tensor, Tensor]]:
    T, N = len(egos), s.num_nodes
    parts: list[np.ndarray] = []
    visited = [np.empty(0, dtype=np.int64)]       # sorted

    def new_keys(keys: np.ndarray) -> np.ndarray:
        keys, v = np.unique(keys), visited[0]
        return keys[v[np.minimum(np.searchsorted(v, keys), len(v) - 1)] != keys]

    def visit(keys: np.ndarray) -> None:
        visited[0] = np.union1d(visited[0], keys)
    _hops(s, egos, rng, parts, new_keys, visit)
    keys, task, nodes, bounds = _split(s, parts, T)
    local = np.arange(len(keys)) - bounds[task]
    by_key = np.argsort(keys)
    sorted_keys = keys[by_key]
    nbrs, rows = s._neighbours(nodes)
    q = task[rows] * N + nbrs
    pos = np.minimum(np.searchsorted(sorted_keys, q), len(sorted_keys) - 1)
    hit = sorted_keys[pos] == q
    return _pack(nodes, bounds, local[by_key[pos[hit]]], local[rows[hit]],
                      task[rows[hit]], T)


__all__ = ["sample_dense", "sample_sorted"]
