"""Synthetic tasks: the classic MAML generator and its social-graph version.

The classic generator draws one binary task as

.. math::
    X \\sim \\mathcal{N}(0, I), \\quad w \\sim \\mathcal{N}(0, I), \\quad
    y = \\mathbb{1}[X w > 0].

:func:`make_social_graph` puts users on a graph and gives every user ``u`` a
latent ``w_u`` that is smoothed over the graph, so that friends have similar
tastes. Items are drawn once as ``x ~ N(0, I)`` and user ``u`` likes item
``x`` iff ``x @ w_u > 0``: per user this is exactly :func:`generate_task`.
"""
from __future__ import annotations

import math
from typing import Optional

import networkx as nx
import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import from_networkx, to_undirected

GRAPH_KINDS = ("sbm", "ba", "none")


def generate_task(
    n_samples: int = 100,
    n_features: int = 10,
    *,
    generator: Optional[torch.Generator] = None,
) -> tuple[Tensor, Tensor]:
    r"""Draws one classic synthetic binary task.

    Args:
        n_samples (int): Number of points in the task.
        n_features (int): Dimension of each point.
        generator (torch.Generator, optional): Source of randomness.

    Returns:
        ``(X, y)``: ``X`` float32 ``[n_samples, n_features]`` drawn from
        :math:`\mathcal{N}(0, I)` and ``y`` int64 ``[n_samples]`` with
        ``y = 1[X @ w > 0]`` for a fresh ``w ~ N(0, I)``.

    Example:
        >>> X, y = generate_task(100, 10, generator=torch.Generator().manual_seed(0))
        >>> X.shape, y.dtype
        (torch.Size([100, 10]), torch.int64)
    """
    if n_samples < 1 or n_features < 1:
        raise ValueError(f"n_samples and n_features must be >= 1, got "
                         f"{n_samples} and {n_features}")
    X = torch.randn(n_samples, n_features, generator=generator)
    w = torch.randn(n_features, generator=generator)
    y = (X @ w > 0).long()
    return X, y


def _graph_edges(kind: str, n_users: int, rng: np.random.Generator, *,
                 n_blocks: int, p_in: float, p_out: float,
                 ba_m: int) -> Tensor:
    seed = int(rng.integers(2**31 - 1))
    if kind == "none":
        return torch.empty(2, 0, dtype=torch.long)
    if kind == "sbm":
        sizes = [n_users // n_blocks + (1 if b < n_users % n_blocks else 0)
                 for b in range(n_blocks)]
        probs = [[p_in if a == b else p_out for b in range(n_blocks)]
                 for a in range(n_blocks)]
        G = nx.stochastic_block_model(sizes, probs, seed=seed)
    elif kind == "ba":
        G = nx.barabasi_albert_graph(n_users, ba_m, seed=seed)
    else:
        raise ValueError(f"graph must be one of {GRAPH_KINDS}, got {kind!r}")
    edge_index = from_networkx(nx.Graph(G)).edge_index
    return to_undirected(edge_index, num_nodes=n_users)


def _smooth(z: Tensor, edge_index: Tensor, steps: int) -> Tensor:
    """Mean over the closed neighbourhood, ``steps`` times (lazy random walk)."""
    n = z.size(0)
    src, dst = edge_index
    deg = torch.ones(n).index_add_(0, dst, torch.ones(dst.numel()))
    s = z
    for _ in range(steps):
        s = (s + torch.zeros_like(s).index_add_(0, dst, s[src])) / deg[:, None]
    return s


def make_social_graph(
    n_users: int = 2000,
    n_items: int = 100,
    n_features: int = 10,
    *,
    graph: str = "sbm",
    homophily: float = 0.9,
    feature_noise: float = 2.0,
    n_blocks: int = 20,
    p_in: float = 0.05,
    p_out: float = 0.0005,
    ba_m: int = 4,
    smoothing_steps: int = 2,
    seed: int = 0,
) -> Data:
    r"""Builds a synthetic social graph whose users have graph-smoothed tastes.

    Every user ``u`` gets an i.i.d. draw :math:`z_u \sim \mathcal{N}(0, I)`;
    :math:`s_u` is :math:`z` averaged ``smoothing_steps`` times over closed
    neighbourhoods and rescaled to unit variance per dimension. The latent
    taste is

    .. math::
        w_u = \sqrt{1 - h}\, z_u + \sqrt{h}\, s_u

    with ``h = homophily``, so ``h = 0`` gives i.i.d. tastes and ``h = 1``
    fully smoothed ones. Items are drawn once, ``x_c ~ N(0, I)``, and user
    ``u`` likes item ``c`` iff ``x_c @ w_u > 0``. Node features are a noisy
    view of the taste, ``w_u + feature_noise * eps``.

    With ``graph="none"`` and ``n_users=1`` and the same ``torch`` seed, the
    items and labels equal those of :func:`generate_task`.

    Returns:
        :class:`torch_geometric.data.Data` with ``edge_index``, ``x``
        ``[N, n_features]``, ``interests`` bool ``[N, n_items]``,
        ``interest_x`` ``[n_items, n_features]`` (item features),
        ``interest_names``, ``w`` (the latent tastes, for analysis only) and
        ``num_nodes``.
    """
    if not 0.0 <= homophily <= 1.0:
        raise ValueError(f"homophily must be in [0, 1], got {homophily}")
    if feature_noise < 0:
        raise ValueError(f"feature_noise must be >= 0, got {feature_noise}")
    if graph == "sbm" and n_blocks > n_users:
        raise ValueError(f"n_blocks={n_blocks} exceeds n_users={n_users}")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    edge_index = _graph_edges(graph, n_users, rng, n_blocks=n_blocks,
                              p_in=p_in, p_out=p_out, ba_m=ba_m)
    # Same draw order as generate_task: items (X) first, then the tastes (w).
    items = torch.randn(n_items, n_features, generator=gen)
    z = torch.randn(n_users, n_features, generator=gen)
    if homophily > 0 and edge_index.numel() > 0:
        s = _smooth(z, edge_index, smoothing_steps)
        s = (s - s.mean(0)) / s.std(0).clamp_min(1e-12)
        w = math.sqrt(1 - homophily) * z + math.sqrt(homophily) * s
    else:
        w = z
    interests = (items @ w.T).T > 0  # [N, C]: user u likes item c iff x_c @ w_u > 0
    x = w + feature_noise * torch.randn(n_users, n_features, generator=gen)
    return Data(
        x=x, edge_index=edge_index, interests=interests, interest_x=items,
        interest_names=[f"item{c}" for c in range(n_items)], w=w,
        num_nodes=n_users,
    )


__all__ = ["generate_task", "make_social_graph"]
