"""What both task kinds share: the graph, its CSR ego sampler, seeded splits,
node features built from named parts, and padding sampled subgraphs."""
from __future__ import annotations

from collections import abc
from typing import Any, Callable, ClassVar, Generic, Iterator, Protocol, Sequence, TypeVar, \
    runtime_checkable

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from graphmeta.tasks.batch import GraphBatch
from graphmeta.tasks.sampler import EgoSampler

SPLITS = ("train", "val", "test")
T = TypeVar("T")


class SeededStream(Generic[T]):
    """An endless stream of training batches that can be resumed.

    Batch ``i`` is ``make(seed_i)``, where ``seed_i`` is the ``i``-th draw of
    one generator seeded with ``seed``: batch ``i`` depends on nothing but
    ``seed`` and ``i``. :attr:`position` counts the batches drawn, and
    :meth:`skip` fast-forwards a fresh stream to where a stopped run was
    (one integer draw per batch, no sampling).
    """

    def __init__(self, make: Callable[[int], T], seed: int) -> None:
        self.make, self.seed = make, seed
        self.rng = np.random.default_rng(seed)
        self.position = 0

    def __iter__(self) -> "SeededStream[T]":
        return self

    def __next__(self) -> T:
        child = int(self.rng.integers(2**63 - 1))
        self.position += 1
        return self.make(child)

    def skip(self, n: int) -> "SeededStream[T]":
        if n:
            self.rng.integers(2**63 - 1, size=n)
        self.position += n
        return self


class LazyBatches(abc.Sequence, Generic[T]):
    """A fixed sequence of ``n`` batches, batch ``i`` built by ``make(i)``
    each time it is read: for evaluation sets too large to hold at once
    (full ranking over a catalogue of 10^5-10^6 interests)."""

    def __init__(self, make: Callable[[int], T], n: int) -> None:
        self.make, self.n = make, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> T:  # type: ignore[override]  # no slices
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.make(i)

    def __iter__(self) -> Iterator[T]:
        return (self.make(i) for i in range(self.n))


def split_ids(ids: Sequence[int] | Tensor, fractions: Sequence[float], seed: int,
              what: str = "split") -> dict[str, Tensor]:
    """Disjoint random ``train``/``val``/``test`` subsets of ``ids`` (users, or
    classes for few-shot episodes), each sorted; ``fractions`` of ``len(ids)``,
    rounded."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or sum(fractions) > 1 + 1e-9:
        raise ValueError(f"{what} fractions must be three non-negative numbers "
                         f"summing to at most 1, got {list(fractions)}")
    ids = torch.as_tensor(ids, dtype=torch.long)
    perm = ids[torch.randperm(len(ids), generator=torch.Generator().manual_seed(seed))]
    n_train = int(round(fractions[0] * len(ids)))
    n_val = int(round(fractions[1] * len(ids)))
    n_test = int(round(fractions[2] * len(ids)))
    return {"train": perm[:n_train].sort().values,
            "val": perm[n_train:n_train + n_val].sort().values,
            "test": perm[n_train + n_val:n_train + n_val + n_test].sort().values}


def split_users(users: Sequence[int] | Tensor, fractions: Sequence[float],
                seed: int) -> dict[str, Tensor]:
    """Disjoint random ``train``/``val``/``test`` user splits."""
    return split_ids(users, fractions, seed)


@runtime_checkable
class BatchTransform(Protocol):
    """A transform of collated batches (``transform=`` of a task sampler), as
    PyG's transforms are of ``Data``: :meth:`attach` is called once with
    the sampler (to compute statistics from its training split), then every
    batch goes through ``__call__``. ``features`` names the per-item columns
    it adds to ``item_context`` (empty if none)."""
    features: tuple[str, ...]

    def attach(self, tasks: Any) -> None: ...
    def __call__(self, batch: Any) -> Any: ...


class Compose:
    """Several :class:`BatchTransform`, applied in order."""

    def __init__(self, transforms: Sequence[BatchTransform]) -> None:
        self.transforms = list(transforms)
        self.features = tuple(f for t in self.transforms for f in t.features)

    def attach(self, tasks: Any) -> None:
        for t in self.transforms:
            t.attach(tasks)

    def __call__(self, batch: Any) -> Any:
        for t in self.transforms:
            batch = t(batch)
        return batch

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.transforms!r})"


def check_graph(data: Data) -> None:
    """A ValueError naming what is wrong, for a graph that ego-subgraphs
    cannot be sampled from: ``edge_index`` not ``[2, E]`` integer node ids in
    ``[0, num_nodes)``, or ``x`` with another number of rows. Edges are read
    as directed, ``j -> i`` for a column ``(j, i)``, so an ego reaches the
    nodes with a path to it; make a mutual graph undirected
    (:func:`torch_geometric.utils.to_undirected`)."""
    ei = data.edge_index
    if not isinstance(ei, Tensor) or ei.dim() != 2 or ei.size(0) != 2:
        shape = tuple(ei.shape) if isinstance(ei, Tensor) else type(ei).__name__
        raise ValueError(f"data.edge_index must be a [2, num_edges] tensor, got {shape}")
    if ei.dtype.is_floating_point or ei.dtype.is_complex or ei.dtype == torch.bool:
        raise ValueError(f"data.edge_index must hold integer node ids (torch.long), got "
                         f"{ei.dtype}")
    n = data.num_nodes
    if n is None:
        raise ValueError("the graph has no num_nodes (set data.num_nodes, or give data.x)")
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= n):
        raise ValueError(f"data.edge_index holds node ids from {int(ei.min())} to "
                         f"{int(ei.max())}, outside [0, num_nodes={n})")
    x = getattr(data, "x", None)
    if x is not None and (x.dim() != 2 or x.size(0) != n):
        raise ValueError(f"data.x must be [num_nodes={n}, num_features], got "
                         f"{tuple(x.shape)}")


def check_table(data: Data, key: str) -> None:
    """A ValueError naming what is wrong unless ``data[key]`` is a dense
    ``[num_nodes, columns]`` table (the multi-hot ``interests``)."""
    table = data[key]
    if not isinstance(table, Tensor) or table.layout != torch.strided:
        raise ValueError(f"data.{key} must be a dense [num_nodes, num_{key}] 0/1 tensor (a "
                         f"sparse one: {key}.to_dense())")
    if table.dim() != 2 or table.size(0) != data.num_nodes:
        hint = (" (a label per user? one-hot it: torch.nn.functional.one_hot(y))"
                if table.dim() == 1 else
                " (users without edges? set data.num_nodes)" if table.dim() == 2 else "")
        raise ValueError(f"data.{key} must be [num_nodes={data.num_nodes}, num_{key}], got "
                         f"{tuple(table.shape)}{hint}")


class EgoTasks:
    """Base of :class:`~graphmeta.tasks.UserInterestTasks` and
    :class:`~graphmeta.tasks.FewShotTasks`.

    Subclasses set ``kind`` and ``FEATURES`` (the parts ``node_features``
    may combine with ``+``, each mapped to a method returning ``[N, F]``),
    and list their settings in :meth:`_settings` for ``repr``.
    """
    kind: ClassVar[str]
    FEATURES: ClassVar[dict[str, str]]
    DEFAULT_FEATURES: ClassVar[tuple[str, str]]   # (with data.x, without)

    def __init__(self, data: Data, hops: int, max_nodes: int) -> None:
        check_graph(data)
        self.data = data
        self.hops, self.max_nodes = hops, max_nodes
        self.sampler = EgoSampler(data.edge_index, data.num_nodes, hops, max_nodes)
        self.splits: dict[str, Tensor] = {}

    # -- node features --------------------------------------------------------
    def _set_node_features(self, mode: str) -> None:
        """``node_x`` from ``mode``: ``"auto"`` or parts of ``FEATURES``
        joined by ``+`` (``"x+interests"``), concatenated in that order."""
        choices = ("auto", *self._feature_modes())
        if mode not in choices:
            raise ValueError(f"node_features must be one of {choices}, got {mode!r}")
        x = getattr(self.data, "x", None)
        if mode == "auto":
            mode = self.DEFAULT_FEATURES[0 if x is not None else 1]
        parts = mode.split("+")
        if "x" in parts and x is None:
            raise ValueError(f"node_features={mode!r} needs data.x, which this graph lacks")
        self.node_features = mode
        self._feature_offsets: dict[str, int] = {}
        blocks: list[Tensor] = []
        for part in parts:
            self._feature_offsets[part] = sum(b.size(1) for b in blocks)
            blocks.append(getattr(self, self.FEATURES[part])(blocks[0].dtype if blocks else None))
        self.node_x = torch.cat(blocks, 1) if len(blocks) > 1 else blocks[0]

    def _feature_modes(self) -> list[str]:
        names = list(self.FEATURES)
        return [names[0]] + names[1:] + [f"{names[0]}+{n}" for n in names[1:]]

    def _x_features(self, dtype: torch.dtype | None) -> Tensor:
        x = self.data.x
        return x if x.is_floating_point() else x.float()

    # -- sampling ---------------------------------------------------------------
    def graph_batch(self, parts: Sequence[tuple[Tensor, Tensor]]) -> GraphBatch:
        """Pads sampled ``(nodes, edge_index)`` subgraphs into a :class:`GraphBatch`."""
        return GraphBatch.from_subgraphs(parts, self.node_x)

    # -- description ------------------------------------------------------------
    def _settings(self) -> dict[str, object]:
        return {"hops": self.hops, "max_nodes": self.max_nodes,
                "node_features": self.node_features}

    def __repr__(self) -> str:
        sizes = {k: len(v) for k, v in self.splits.items()}
        what = "users" if self.kind == "user-interest" else "classes"
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"{self.__class__.__name__}({what}={sizes}, {args})"

