"""The training loop every trained method shares.

Builds the method's learner from the registry (seeded), optimises its
parameters with Adam on batches from :meth:`Learner.train_batches` (meta
iterations, or pre-training for ``training="pretrain"``), validates on fixed
meta-val tasks every ``meta.eval_every`` iterations and keeps the state with
the best meta-val score (``meta.select``).
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import ContextManager, Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from graphmeta.eval import evaluate
from graphmeta.methods import Context, Learner, get_method
from graphmeta.tasks import Prefetcher
from graphmeta.tasks.batch import to_device

@dataclass
class TrainResult:
    learner: Learner
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def best_val(self, select: str) -> float:
        """The meta-val score of the kept state (``nan`` if never validated)."""
        scores = [r[f"val_{select}"] for r in self.history]
        return max(scores) if scores else math.nan


def build_learner(ctx: Context) -> Learner:
    """The method's learner, built from the training seed ``ctx.seed``, on ``ctx.device``."""
    torch.manual_seed(ctx.seed)
    return get_method(ctx.method).build(ctx).to(ctx.device)


def batch_stream(learner: Learner, ctx: Context) -> ContextManager[Iterator]:
    """Training batches on the device. With ``tasks.prefetch: thread``,
    sampling and collating run ahead in a background thread (same batches,
    same order); ``auto`` resolves to that on CUDA only: on a CPU the
    meta-step's own threads and its Python dispatch use the cores and the
    GIL, so a sampling thread slows it down (see docs/PERFORMANCE.md)."""
    source = learner.train_batches()
    if ctx.spec.tasks.prefetch == "thread":
        return Prefetcher(source, depth=2, transform=lambda b: to_device(b, ctx.device))
    return contextlib.nullcontext(to_device(b, ctx.device) for b in source)


def fit(ctx: Context, val: Iterable, progress: bool = True) -> TrainResult:
    """Builds and trains ``ctx.method``; returns the learner with the state
    of best meta-val score and the validation history."""
    start = time.perf_counter()
    method = get_method(ctx.method)
    learner = build_learner(ctx)
    if method.training == "none":
        return TrainResult(learner, [], time.perf_counter() - start)
    if method.training == "custom":
        history = learner.fit(val, progress)
        return TrainResult(learner, history, time.perf_counter() - start)
    spec = ctx.spec
    meta = method.training == "meta"
    iterations = spec.meta.iterations if meta else spec.baselines.pretrain_iterations
    opt = torch.optim.Adam(learner.parameters(),
                           lr=spec.meta.meta_lr if meta else spec.baselines.pretrain_lr)
    history: list[dict] = []
    best = (-math.inf, copy.deepcopy(learner.state_dict()))
    running: list[float] = []
    bar = tqdm(range(1, iterations + 1), desc=ctx.method, disable=not progress,
               leave=False, dynamic_ncols=True)
    with batch_stream(learner, ctx) as stream:
        for it in bar:
            learner.train()
            loss = learner.training_loss(next(stream))
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{ctx.method}: training loss is {loss.item()} at iteration {it}; lower "
                    f"meta.inner_lr (now {spec.meta.inner_lr}) or the outer rate "
                    f"({'meta.meta_lr' if meta else 'baselines.pretrain_lr'})")
            opt.zero_grad()
            loss.backward()
            opt.step()
            running.append(loss.item())
            if it % spec.meta.eval_every == 0 or it == iterations:
                m = evaluate(learner, ctx.tasks, val)
                row = {"method": ctx.method, "seed": ctx.seed, "iteration": it,
                       "train_loss": round(float(np.mean(running)), 6),
                       **{f"val_{k}": round(float(np.nanmean(v)), 6) for k, v in m.items()},
                       "seconds": round(time.perf_counter() - start, 3)}
                running = []
                history.append(row)
                score = row[f"val_{spec.meta.select}"]
                bar.set_postfix(loss=f"{row['train_loss']:.3f}",
                                **{f"val_{spec.meta.select}": f"{score:.3f}"})
                if score > best[0]:
                    best = (score, copy.deepcopy(learner.state_dict()))
    learner.load_state_dict(best[1])
    return TrainResult(learner, history, time.perf_counter() - start)
