"""Distributed meta-training on ``torch.distributed`` (gloo on CPU, nccl on CUDA).

Launch any ``graphmeta train|compare`` under ``torchrun`` (one or several
nodes through its rendezvous)::

    torchrun --nproc_per_node=2 -m graphmeta train --method maml --out runs/m

- Every rank draws the same global meta-batch from the seeded stream and
  keeps its own disjoint slice (tasks ``rank, rank + world, ...``): the
  support/query draws and subgraphs are the single-process ones, so N ranks
  train on exactly the batches one process would.
- Each rank runs the inner loops of its slice; its query loss is scaled by
  ``n_rank / n_global`` and the meta-gradients are summed with
  :func:`torch.distributed.all_reduce`: the mean over the global meta-batch,
  as one process computes it, up to the order of floating-point sums. (The
  DDP wrapper is not used: it does not support ``torch.autograd.grad`` in
  the inner loop.)
- Parameters start from rank 0's (broadcast); only rank 0 writes the run
  directory; validation and test tasks are sharded by batch and the
  per-task scores gathered, so every rank keeps the same checkpoint.
- A rank that dies makes the others fail their next collective with an
  error naming the lost peer (:class:`PeerLost`), within the process
  group's timeout (``GRAPHMETA_DIST_TIMEOUT`` seconds, default 60).
"""
from __future__ import annotations

import datetime
import os
from typing import Any, Iterable

import torch
import torch.distributed as dist

from graphmeta.errors import GraphmetaError


class PeerLost(GraphmetaError, RuntimeError):
    """Another rank of a distributed run died or stopped answering."""


def launched() -> bool:
    """Whether this process was started as one of several ranks (torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: torch.device) -> None:
    """Joins the process group when launched by torchrun (no-op otherwise)."""
    if not launched() or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = datetime.timedelta(seconds=float(os.environ.get("GRAPHMETA_DIST_TIMEOUT", "60")))
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=timeout)


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def shard() -> tuple[int, int]:
    """``(rank, world)``: which slice of each global meta-batch is this rank's."""
    return rank(), world()


def _collective(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except RuntimeError as e:   # gloo/nccl errors (DistBackendError) are RuntimeErrors
        first = (str(e).strip().splitlines() or [""])[0][:200]
        raise PeerLost(f"rank {rank()} of {world()}: another rank failed or stopped answering "
                       f"({first}); the run is stopped, resume it with --resume") from None


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Every rank starts from rank 0's parameters and buffers."""
    if not active():
        return
    for t in list(module.parameters()) + list(module.buffers()):
        _collective(dist.broadcast, t.data, 0)


def global_sum(value: float, n: int, device: torch.device) -> tuple[float, int]:
    """``value`` and ``n`` summed over the ranks (one collective)."""
    if not active():
        return value, n
    t = torch.tensor([value, float(n)], dtype=torch.float64, device=device)
    _collective(dist.all_reduce, t)
    return float(t[0]), int(t[1].item())


def any_rank(flag: int, device: torch.device | str = "cpu") -> int:
    """The largest of every rank's ``flag`` (0 where none is set)."""
    if not active():
        return flag
    t = torch.tensor([flag], dtype=torch.long, device=device)
    _collective(dist.all_reduce, t, op=dist.ReduceOp.MAX)
    return int(t.item())


def sum_gradients(module: torch.nn.Module) -> None:
    """Sums every parameter's gradient over the ranks (missing ones count as zero)."""
    if not active():
        return
    for p in module.parameters():
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        if p.grad.is_sparse:
            # A sparse table gradient (sparse_grad) is summed dense and handed
            # back at the rows some rank's batch read, zero-valued ones
            # included: lazy Adam moves every row its gradient holds, as it
            # does in one process. Correct, but its traffic grows with the table.
            g = p.grad.coalesce()
            read = torch.zeros(g.shape[0], device=g.device)
            read[g.indices()[0]] = 1
            dense = g.to_dense()
            _collective(dist.all_reduce, dense)
            _collective(dist.all_reduce, read)
            rows = read.nonzero().view(-1)
            p.grad = torch.sparse_coo_tensor(rows.unsqueeze(0), dense[rows], dense.shape)
            continue
        _collective(dist.all_reduce, p.grad)


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order."""
    if not active():
        return [obj]
    out: list[Any] = [None] * world()
    _collective(dist.all_gather_object, out, obj)
    return out


def barrier() -> None:
    if active():
        _collective(dist.barrier)


def mine(items: Iterable[Any]) -> Iterable[tuple[int, Any]]:
    """``(index, item)`` for this rank's items: every ``world``-th, from ``rank``."""
    r, w = shard()
    if hasattr(items, "__getitem__") and hasattr(items, "__len__"):
        return ((i, items[i]) for i in range(r, len(items), w))
    return ((i, x) for i, x in enumerate(items) if i % w == r)


def finish() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["PeerLost", "active", "any_rank", "barrier", "broadcast_parameters", "finish",
           "gather", "global_sum", "init", "is_main", "launched", "mine", "rank", "shard",
           "sum_gradients", "world"]
