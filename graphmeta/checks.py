"""Checks made before any training: the data the run will read and the
memory its dense batches will need. Fatal problems are errors that name
what to change; the rest are warnings the run records."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch
from torch_geometric.data import Data

from graphmeta.errors import DataError, GraphmetaError
from graphmeta.spec import RunSpec
from graphmeta.tasks import EgoTasks, UserInterestTasks

# Above this, node features are "large" (the run warns, and a non-finite
# loss names them): multi-hot and standardised features sit within a few units.
LARGE_FEATURE = 100.0
# Dense float tensors of a batch per node pair: the adjacency, its
# normalisations, and what autograd keeps of them.
PAIR_COPIES = 4


def available_memory() -> Optional[int]:
    """Bytes the kernel says are available (``MemAvailable``), or ``None``."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_data(data: Data, name: str) -> None:
    """A graph graphmeta can learn from: edges, and finite features."""
    if data.edge_index.numel() == 0:
        raise DataError(f"dataset {name!r}: the graph has no edges; graphmeta learns from "
                        f"ego-subgraphs and needs a graph")
    x = getattr(data, "x", None)
    if x is not None and x.is_floating_point() and not torch.isfinite(x).all():
        node = int((~torch.isfinite(x)).any(1).nonzero()[0])
        raise DataError(f"dataset {name!r}: node {node} has NaN or infinite features")


def check_run(spec: RunSpec, data: Data, tasks: EgoTasks,
              memory: Optional[int] = None) -> list[str]:
    """Before training: the dense batches fit in memory, and users that
    cannot be tasks are counted. Returns warnings."""
    warnings: list[str] = []
    n = min(spec.tasks.max_nodes, data.num_nodes)
    graphs = max([int(s.meta_batch) for s in spec.settings.values() if "meta_batch" in s.keys()]
                 + [1])
    if spec.kind == "few-shot":
        graphs *= tasks.n_way * (tasks.k_shot + tasks.n_query)
    need = graphs * n * n * 4 * PAIR_COPIES
    memory = available_memory() if memory is None else memory
    if memory is not None and need > memory:
        raise GraphmetaError(
            f"a meta-batch of {graphs} ego-subgraphs of up to {n} nodes needs about "
            f"{need / 2**30:.1f} GiB for its dense adjacency alone, and {memory / 2**30:.1f} GiB "
            f"are available; lower tasks.max_nodes (now {spec.tasks.max_nodes}) or "
            f"*.meta_batch")
    x = getattr(data, "x", None)
    if x is not None and x.numel() and spec.tasks.scale_x == "none" and "x" in \
            spec.tasks.node_features.split("+"):
        big = float(x.abs().max())
        if big > LARGE_FEATURE:
            col = int(x.abs().max(0).values.argmax())
            warnings.append(f"node features reach |x| = {big:.3g} (column {col}); graphmeta "
                            f"uses them as given, and features this large can send training "
                            f"to NaN: set tasks.scale_x=standard to standardise them")
    if isinstance(tasks, UserInterestTasks):
        skipped = data.num_nodes - len(tasks.eligible)
        if skipped:
            warnings.append(f"{skipped} of {data.num_nodes} users have at most k_shot="
                            f"{tasks.k_shot} interests, or at most k_shot non-interests, and "
                            f"are not tasks (their interests still feed the statistics)")
    return warnings


__all__ = ["available_memory", "check_data", "check_run"]
