"""Would a low-rank form of the head's per-task ``fc1`` make a second-order
MAML step cheaper? Times the head's inner loop and outer backward pass at a
meta-batch's shapes, two ways, alternating, on the same inputs:

- ``full``: what graphmeta does. ``fc1``'s weight is expanded to ``[T, H, D]``
  and every inner step forms a new per-task weight ``W - lr * dW``.
- ``low-rank``: never forms a per-task weight. With ``S`` support rows a
  task's gradient ``dW = g^T z`` has rank at most ``S``, so after ``k`` steps
  ``z W_t^T = z W^T + sum_j (z z_j^T)(-lr g_j)``: the pre-activation's
  gradient ``g_j`` ``[T, S, H]`` and the input ``z_j`` ``[T, S, D]`` are kept
  instead of ``[T, H, D]`` weights (plain SGD only).

Both give the same meta-gradient (checked first, and printed). The
default shapes are a deezer-hu maml step's head (32 tasks, 10 support and
20 query rows, ``fc1`` 164 -> 64, 5 inner steps).

    python benchmarks/lowrank_head.py
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import Tensor


def _ce(logits: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum")


def _out(h: Tensor, w2: Tensor, c2: Tensor) -> Tensor:
    return c2.unsqueeze(1).baddbmm(F.relu(h), w2.transpose(1, 2))


def meta_loss(p: dict[str, Tensor], zs: Tensor, ys: Tensor, zq: Tensor, yq: Tensor, *,
              steps: int, lr: float, low_rank: bool) -> Tensor:
    """The summed query loss after ``steps`` second-order SGD steps on the
    support loss, every parameter adapted per task."""
    T = zs.size(0)
    c1, w2, c2 = (p[k].expand(T, *p[k].shape) for k in ("b1", "w2", "b2"))
    W1 = p["w1"]
    if low_rank:
        us: list[Tensor] = []
        vs: list[Tensor] = []

        def pre(z: Tensor) -> Tensor:
            a = torch.matmul(z, W1.t()) + c1.unsqueeze(1)   # the shared weight: no task copy
            for u, v in zip(us, vs):
                a = a + z.bmm(v.transpose(1, 2)).bmm(u)
            return a
        for _ in range(steps):
            a = pre(zs)
            ga, g1, g2, g3 = torch.autograd.grad(_ce(_out(a, w2, c2), ys), [a, c1, w2, c2],
                                                 create_graph=True)
            us.append(-lr * ga)
            vs.append(zs)
            c1, w2, c2 = c1 - lr * g1, w2 - lr * g2, c2 - lr * g3
        return _ce(_out(pre(zq), w2, c2), yq)
    w1 = W1.expand(T, *W1.shape)

    def fwd(z: Tensor, w1: Tensor, c1: Tensor, w2: Tensor, c2: Tensor) -> Tensor:
        return _out(c1.unsqueeze(1).baddbmm(z, w1.transpose(1, 2)), w2, c2)
    for _ in range(steps):
        grads = torch.autograd.grad(_ce(fwd(zs, w1, c1, w2, c2), ys), [w1, c1, w2, c2],
                                    create_graph=True)
        w1, c1, w2, c2 = (q - lr * g for q, g in zip((w1, c1, w2, c2), grads))
    return _ce(fwd(zq, w1, c1, w2, c2), yq)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=32)
    ap.add_argument("--support", type=int, default=10)
    ap.add_argument("--query", type=int, default=20)
    ap.add_argument("--in-features", type=int, default=164)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5, help="inner steps")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--iters", type=int, default=30, help="meta-steps per timing")
    ap.add_argument("--rounds", type=int, default=4, help="alternating timings of each form")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    fc1, fc2 = torch.nn.Linear(a.in_features, a.hidden), torch.nn.Linear(a.hidden, 2)
    p = {"w1": fc1.weight, "b1": fc1.bias, "w2": fc2.weight, "b2": fc2.bias}
    T = a.tasks
    # The inputs stand for the encoder's output: the meta-gradient reaches them too.
    zs = torch.randn(T, a.support, a.in_features, requires_grad=True)
    zq = torch.randn(T, a.query, a.in_features, requires_grad=True)
    ys, yq = torch.randint(0, 2, (T, a.support)), torch.randint(0, 2, (T, a.query))
    wrt = [*p.values(), zs, zq]

    def step(low_rank: bool) -> list[Tensor]:
        loss = meta_loss(p, zs, ys, zq, yq, steps=a.steps, lr=a.lr, low_rank=low_rank)
        return list(torch.autograd.grad(loss, wrt))
    full, low = step(False), step(True)
    gap = max(((f - g).abs().max() / f.abs().max().clamp_min(1e-12)).item()
              for f, g in zip(full, low))
    print(f"meta-gradients agree: largest relative difference {gap:.1e}")
    times: dict[str, list[float]] = {"full": [], "low-rank": []}
    for _ in range(a.rounds):
        for name, lr_form in (("full", False), ("low-rank", True)):
            t = time.perf_counter()
            for _ in range(a.iters):
                step(lr_form)
            times[name].append((time.perf_counter() - t) / a.iters * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:9s} {med[k]:6.2f} ms a meta-step (median; rounds: "
              f"{', '.join(f'{x:.2f}' for x in v)})")
    print(f"full / low-rank: {med['full'] / med['low-rank']:.2f}x "
          f"({T} tasks, {a.support}+{a.query} rows, fc1 {a.in_features}->{a.hidden}, "
          f"{a.steps} inner steps, {a.threads} threads)")


if __name__ == "__main__":
    main()
