"""The training loop every trained method shares.

Builds the method's learner from the registry (seeded), optimises its
parameters with Adam on batches from :meth:`Learner.train_batches` (meta
iterations, or pre-training for ``training="pretrain"``), validates on fixed
meta-val tasks every ``meta.eval_every`` iterations and keeps the state with
the best meta-val score (``meta.select``).

With a :class:`Checkpointer` the loop saves a resumable state every
``run.checkpoint_every`` iterations, and when interrupted between two
steps (Ctrl-C): the learner, the optimiser, the best state so far, the
history, the RNG states and the position of the batch stream. Resumed from
it, training ends with the same parameters as an uninterrupted run.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterable, Iterator, Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from graphmeta import distributed
from graphmeta.eval import evaluate
from graphmeta.methods import Context, Learner, get_method
from graphmeta.tasks import Prefetcher
from graphmeta.tasks.batch import to_device

# Plain progress lines (one per validation) for logs that are not a terminal;
# the command line turns them on when it shows no progress bar.
log = logging.getLogger("graphmeta")


@dataclass
class TrainResult:
    learner: Learner
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    def best_val(self, select: str) -> float:
        """The meta-val score of the kept state (``nan`` if never validated)."""
        return self.best_val_metrics(select).get(select, math.nan)

    def best_val_metrics(self, select: str) -> dict[str, float]:
        """Every meta-val metric of the kept state, the row with the best
        ``select`` score (empty if never validated)."""
        rows = [r for r in self.history if math.isfinite(r.get(f"val_{select}", math.nan))]
        if not rows:
            return {}
        best = max(rows, key=lambda r: r[f"val_{select}"])
        return {k[4:]: v for k, v in best.items() if k.startswith("val_")}


@dataclass
class Checkpointer:
    """Where one training run keeps its resumable state (see the module docstring)."""
    save: Callable[[dict], None]
    load: Callable[[], Optional[dict]]
    every: int


def _rng_states() -> dict:
    np_state = np.random.get_state()
    out = {"torch": torch.get_rng_state(), "python": random.getstate(),
           "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                     *np_state[2:]]}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def _restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def build_learner(ctx: Context) -> Learner:
    """The method's learner, built from the training seed ``ctx.seed``, on ``ctx.device``."""
    torch.manual_seed(ctx.seed)
    return get_method(ctx.method).build(ctx).to(ctx.device)


def batch_stream(ctx: Context, source: Iterator) -> ContextManager[Iterator]:
    """Training batches on the device. With ``tasks.prefetch: thread``,
    sampling and collating run ahead in a background thread (same batches,
    same order); ``auto`` resolves to that on CUDA only: on a CPU the
    meta-step's own threads and its Python dispatch use the cores and the
    GIL, so a sampling thread slows it down (see docs/PERFORMANCE.md)."""
    if ctx.spec.tasks.prefetch == "thread":
        return Prefetcher(source, depth=2, transform=lambda b: to_device(b, ctx.device))
    return contextlib.nullcontext(to_device(b, ctx.device) for b in source)


class Optimiser:
    """Adam on the learner's parameters, except those whose gradients are
    sparse (a module's ``sparse_parameters()``: a large interest table with
    ``model.sparse_grad``), which get lazy Adam
    (:class:`torch.optim.SparseAdam`: moments and updates for the rows a
    step touched only, which is what keeps a step's cost independent of the
    table's size; plain Adam would move every row every step)."""

    def __init__(self, learner: torch.nn.Module, lr: float) -> None:
        sparse = {id(p) for m in learner.modules()
                  for p in getattr(m, "sparse_parameters", list)()}
        params = list(learner.parameters())
        self.opts: list[torch.optim.Optimizer] = [
            torch.optim.Adam([p for p in params if id(p) not in sparse], lr=lr)]
        if sparse:
            self.opts.append(torch.optim.SparseAdam([p for p in params if id(p) in sparse],
                                                    lr=lr))

    def zero_grad(self) -> None:
        for o in self.opts:
            o.zero_grad()

    def step(self) -> None:
        for o in self.opts:
            o.step()

    def state_dict(self) -> dict:
        if len(self.opts) == 1:     # the checkpoint format of a plain Adam
            return self.opts[0].state_dict()
        return {"optimisers": [o.state_dict() for o in self.opts]}

    def load_state_dict(self, state: dict) -> None:
        states = state["optimisers"] if "optimisers" in state else [state]
        if len(states) != len(self.opts):
            raise ValueError(f"the checkpoint holds {len(states)} optimiser states, this "
                             f"learner needs {len(self.opts)} (model.sparse_grad changed?)")
        for o, st in zip(self.opts, states):
            o.load_state_dict(st)


def optimise(learner: Learner, ctx: Context, val: Iterable, *, iterations: int, lr: float,
             rate_key: str, progress: bool = True, loss: Optional[Callable] = None,
             batches: Optional[Iterator] = None, label: Optional[str] = None,
             checkpointer: Optional[Checkpointer] = None) -> list[dict]:
    """Adam on ``loss`` (default :meth:`Learner.training_loss`) over
    ``batches`` (default :meth:`Learner.train_batches`) for ``iterations``
    steps; validates every ``meta.eval_every`` and at the end, and leaves the
    learner in its best meta-val state (``meta.select``). Returns the
    history rows. ``rate_key`` names the config key of ``lr`` for errors."""
    start = time.perf_counter()
    spec, label = ctx.spec, label or ctx.method
    loss = loss or learner.training_loss
    distributed.broadcast_parameters(learner)
    opt = Optimiser(learner, lr)
    history: list[dict] = []
    best = (-math.inf, copy.deepcopy(learner.state_dict()))
    running: list[float] = []
    done = 0
    saved = checkpointer.load() if checkpointer is not None else None
    if saved is not None:
        learner.load_state_dict(saved["learner"])
        opt.load_state_dict(saved["opt"])
        best, history, running = (saved["best_score"], saved["best"]), saved["history"], \
            saved["running"]
        done = saved["iteration"]
        _restore_rng(saved["rng"])
    source = batches if batches is not None else learner.train_batches()
    if done:
        _skip(source, done)

    def snapshot(iteration: int, rng: dict) -> dict:
        return {"iteration": iteration, "learner": learner.state_dict(),
                "opt": opt.state_dict(), "best_score": best[0], "best": best[1],
                "history": history, "running": running, "rng": rng,
                "seconds": round(time.perf_counter() - start, 3)}

    bar = tqdm(range(done + 1, iterations + 1), desc=label, disable=not progress,
               leave=False, dynamic_ncols=True, initial=done, total=iterations)
    stepping, it = False, done
    rng = _rng_states()
    try:
        with batch_stream(ctx, source) as stream:
            for it in bar:
                rng = _rng_states()          # as the previous iteration left it
                learner.train()
                batch = next(stream)
                value = loss(batch)
                if not torch.isfinite(value):
                    msg = (f"{label}: training loss is {value.item()} at iteration {it}; lower "
                           f"meta.inner_lr (now {spec.meta.inner_lr}) or {rate_key} (now {lr})")
                    # The loss is this rank's own: one rank stopping alone
                    # would leave the others waiting in the gradient sum, so
                    # a distributed run still raises (and its peers see it).
                    if best[0] == -math.inf or distributed.active():
                        raise FloatingPointError(msg)
                    # Diverged after a finite validation: stop, and keep the
                    # best meta-val state so far (Keras' TerminateOnNaN with
                    # restored best weights); nothing after it is selectable.
                    log.warning("%s seed %d: %s; training stopped, the best meta-val state "
                                "(score %.4f) is kept", label, ctx.seed, msg, best[0])
                    break
                opt.zero_grad()
                if distributed.active():
                    # This rank's mean, weighted by its share of the global
                    # batch: the summed gradients are the global mean's.
                    n = _units(batch)
                    (value * n / distributed.global_size(n, ctx.device)).backward()
                    distributed.sum_gradients(learner)
                else:
                    value.backward()
                stepping = True
                opt.step()
                stepping = False
                running.append(value.item())
                if it % spec.meta.eval_every == 0 or it == iterations:
                    try:
                        m = evaluate(learner, ctx.tasks, val)
                    except FloatingPointError as e:
                        # A state whose adaptation diverges on a meta-val task is
                        # not selectable; training goes on (the loss is finite).
                        log.warning("%s seed %d: iteration %d: not selectable: %s",
                                    label, ctx.seed, it, e)
                        m = None
                    row = {"method": label, "seed": ctx.seed, "iteration": it,
                           "train_loss": round(float(np.mean(running)), 6),
                           **({f"val_{k}": round(float(np.nanmean(v)), 6) for k, v in m.items()}
                              if m is not None else {f"val_{spec.meta.select}": math.nan}),
                           "seconds": round(time.perf_counter() - start, 3)}
                    running = []
                    history.append(row)
                    score = row[f"val_{spec.meta.select}"]
                    bar.set_postfix(loss=f"{row['train_loss']:.3f}",
                                    **{f"val_{spec.meta.select}": f"{score:.3f}"})
                    log.info("%s seed %d: iteration %d/%d, loss %.4f, val %s %.4f (%.0f s)",
                             label, ctx.seed, it, iterations, row["train_loss"],
                             spec.meta.select, score, row["seconds"])
                    if score > best[0]:
                        best = (score, copy.deepcopy(learner.state_dict()))
                if (checkpointer is not None and checkpointer.every
                        and it % checkpointer.every == 0 and it < iterations):
                    checkpointer.save(snapshot(it, _rng_states()))
    except KeyboardInterrupt:
        # Between two steps the parameters are those of the last completed
        # iteration: save them, so a resume loses nothing.
        if checkpointer is not None and not stepping:
            learner.train()
            checkpointer.save(snapshot(it - 1, rng))
        raise
    if history and best[0] == -math.inf:    # no validation gave a finite score
        raise FloatingPointError(f"{label} seed {ctx.seed}: every meta-val evaluation diverged "
                                 f"(NaN or infinite scores); try a smaller learning rate")
    learner.load_state_dict(best[1])
    return history


def _units(batch: Any) -> int:
    """The examples a training loss averages over: tasks of a meta-batch, or
    graphs of a pre-training batch ``(graphs, targets)``."""
    return batch.num_tasks if hasattr(batch, "num_tasks") else len(batch[1])


def _skip(source: Iterator, n: int) -> None:
    """Fast-forwards a batch stream past ``n`` batches."""
    if hasattr(source, "skip"):
        source.skip(n)
    else:
        for _ in range(n):
            next(source)


def fit(ctx: Context, val: Iterable, progress: bool = True,
        checkpointer: Optional[Checkpointer] = None) -> TrainResult:
    """Builds and trains ``ctx.method``; returns the learner with the state
    of best meta-val score and the validation history. ``checkpointer``
    makes ``meta`` and ``pretrain`` training resumable (``custom`` training
    restarts)."""
    start = time.perf_counter()
    method = get_method(ctx.method)
    learner = build_learner(ctx)
    if method.training == "none":
        history: list[dict] = []
    elif method.training == "custom":
        history = learner.fit(val, progress)
    elif method.training == "meta":
        history = optimise(learner, ctx, val, iterations=ctx.spec.meta.iterations,
                           lr=ctx.spec.meta.meta_lr, rate_key="meta.meta_lr", progress=progress,
                           checkpointer=checkpointer)
    else:
        b = ctx.spec.baselines
        history = optimise(learner, ctx, val, iterations=b.pretrain_iterations,
                           lr=b.pretrain_lr, rate_key="baselines.pretrain_lr", progress=progress,
                           checkpointer=checkpointer)
    return TrainResult(learner, history, time.perf_counter() - start)
