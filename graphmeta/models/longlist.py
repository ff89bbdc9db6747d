"""The user-interest head over long candidate lists (full ranking of a large
catalogue): ``fc1`` factorised so that the candidates' embeddings go
through one matmul, in slices small enough for the allocator to reuse.
:meth:`~graphmeta.models.InterestModel.head_logits` calls these above
:data:`FACTORISE_FROM` candidates; below it the plain head is cheaper.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from graphmeta.models.functional import blinear
from graphmeta.tasks.batch import TaskBatch

# Candidate lists longer than this are scored factorised.
FACTORISE_FROM = 2048


def candidate_table(model: Any, p: dict[str, Tensor], batch: TaskBatch) -> Optional[Tensor]:
    """The one ``[C, D]`` table every task's candidates read, if there is
    one: fixed item features, the shared learned table, or the shared
    table of a row-sparse adaptation whose candidates are never a task's
    own (adapted) support rows."""
    if model.interest_emb is None:
        return model.interest_x
    table = p["interest_emb.weight"]
    if "interest_emb.weight@base" in p:
        return p["interest_emb.weight@base"] if batch.disjoint else None
    return table if table.dim() == 2 else None

def fc1_terms(model: Any, p: dict[str, Tensor], h: Tensor
               ) -> tuple[Tensor, Tensor, Optional[Tensor]]:
    """``fc1`` as :func:`factorised_logits` splits it: ``a`` ``[T, 1, H]``,
    ``B^T`` ``[T, D, H]`` and the context weights ``[T, F, H]`` (or None)."""
    d = h.size(-1)
    w1 = p["head.fc1.weight"]                                       # [T, H, z]
    D = w1.size(-1) - d - (d if model.proj is not None else 0) - len(model.context)
    a = ((w1[:, :, :d] @ h.unsqueeze(-1)).squeeze(-1) + p["head.fc1.bias"]).unsqueeze(1)
    b = w1[:, :, d:d + D]
    if model.proj is not None:
        b = b + (w1[:, :, d + D:2 * d + D] * h.unsqueeze(1)) @ p["proj.weight"]
    wct = w1[:, :, w1.size(-1) - len(model.context):].transpose(1, 2) if model.context else None
    return a, b.transpose(1, 2), wct

def catalogue_logits(model: Any, p: dict[str, Tensor], h: Tensor, table: Tensor) -> Tensor:
    """Logits ``[T, C, 2]`` of every row of ``table`` for every task, in
    slices of the table (no gather of candidate embeddings): ``fc1`` of
    up to 4 tasks as one ``[D, 4 * H]`` matmul, ``fc2`` as one
    block-diagonal ``[4 * H, 4 * 2]`` one (more tasks at once would grow
    the block-diagonal's wasted work)."""
    a, bt, _ = fc1_terms(model, p, h)
    T, D, H = bt.shape
    w2, b2 = p["head.fc2.weight"], p["head.fc2.bias"]              # [T, 2, H], [T, 2]
    C, K = table.size(0), w2.size(1)
    out = h.new_empty(T, C, K)
    for g in range(0, T, 4):
        G = min(4, T - g)
        b_all = bt[g:g + G].permute(1, 0, 2).reshape(D, G * H)
        a_all = a[g:g + G].reshape(1, G * H)
        # [G * H, G * K], column-major: the layout this skinny matmul is fastest in
        w2_all = torch.block_diag(*[w2[t] for t in range(g, g + G)]).T
        step = max(1, 2**21 // (G * H))                            # 8 MB of fc1 outputs
        buf, res = h.new_empty(step, G * H), h.new_empty(step, G * K)
        for i in range(0, C, step):
            e = table[i:i + step]
            n = e.size(0)
            pre = buf[:n]
            torch.mm(e, b_all, out=pre).add_(a_all).relu_()
            torch.mm(pre, w2_all, out=res[:n])
            out[g:g + G, i:i + n] = res[:n].view(n, G, K).transpose(0, 1)
    return out + b2.unsqueeze(1)

def _no_context(part: slice) -> Tensor:
    raise ValueError("the head reads item_context columns: pass ctx_rows")


def factorised_logits(model: Any, p: dict[str, Tensor], h: Tensor, n: int,
                       rows: Callable[[slice], Tensor],
                       ctx_rows: Optional[Callable[[slice], Tensor]] = None) -> Tensor:
    r""":meth:`InterestModel.head_logits` of ``n`` candidates for long lists (full
    ranking of a large catalogue; ``rows(slice)`` gives the embeddings
    of a slice of them, ``ctx_rows(slice)`` their context features).
    ``fc1`` is linear in ``[h, e, h * P e, c]``, so per task it is
    :math:`a + B e + W_c c` with :math:`a = W_h h + b` and
    :math:`B = W_e + W_p\,\mathrm{diag}(h)\,P` (``[hidden, D]``): one
    matmul of the candidates' embeddings instead of building a
    ``[n, 2d + D]`` input (6x fewer operations at the defaults). Without
    autograd the candidates go in slices through buffers small enough
    for the allocator to reuse (fresh 100 MB tensors per user cost more
    in page faults than the matmul)."""
    a, bt, wct = fc1_terms(model, p, h)
    ctx = ctx_rows if ctx_rows is not None else _no_context
    if torch.is_grad_enabled():
        pre = torch.bmm(rows(slice(None)), bt) + a
        if wct is not None:
            pre = pre + torch.bmm(ctx(slice(None)), wct)
        return blinear(F.relu(pre), p["head.fc2.weight"], p["head.fc2.bias"])
    T, H = bt.size(0), bt.size(2)
    w2, b2 = p["head.fc2.weight"], p["head.fc2.bias"]
    out = h.new_empty(T, n, w2.size(1))
    step = max(1, 2**21 // (T * H))                                # 8 MB of fc1 outputs
    buf = h.new_empty(T, step, H)
    for i in range(0, n, step):
        e = rows(slice(i, i + step))
        pre = buf if e.size(1) == step else h.new_empty(T, e.size(1), H)
        torch.bmm(e, bt, out=pre).add_(a)
        if wct is not None:
            pre.baddbmm_(ctx(slice(i, i + step)), wct)
        pre.relu_()
        # fc2 has 2 outputs: matrix-vector products, which are cheaper than
        # a [*, H] x [H, 2] matmul here.
        for t in range(T):
            for j in range(w2.size(1)):
                out[t, i:i + step, j] = torch.mv(pre[t], w2[t, j]).add_(b2[t, j])
    return out


__all__ = ["FACTORISE_FROM", "candidate_table", "catalogue_logits", "factorised_logits",
           "fc1_terms"]
