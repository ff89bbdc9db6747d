"""The training loop every trained method shares.

Builds the method's learner from the registry (seeded) and runs its
training stages (:meth:`Learner.stages`: meta-iterations, pre-training, or
both in turn): Adam on each stage's loss over its batches, validation on
the evaluator's fixed meta-val tasks every ``eval_every`` iterations, and
at the end of each stage the state with the best meta-val score
(``eval.select``).

With a :class:`Checkpointer` the loop saves a resumable state every
``run.checkpoint_every`` iterations, and when SIGINT (Ctrl-C) or SIGTERM
arrives, at the end of the iteration it arrives in
(:mod:`graphmeta.interrupts`): the stage, the learner, the optimiser, the
best state so far, the history, the RNG states, the position of the batch
stream and the seconds spent. Resumed from it, training ends with the same
parameters as an uninterrupted run, and its seconds count every part.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterator, Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from graphmeta import distributed, profile
from graphmeta.checks import LARGE_FEATURE
from graphmeta.errors import Interrupted
from graphmeta.eval import Evaluator
from graphmeta.interrupts import deferred_signals
from graphmeta.methods import Context, Learner, Stage, get_method
from graphmeta.optimiser import Optimiser, restore_rng, rng_states
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


def build_learner(ctx: Context) -> Learner:
    """The method's learner, built from the training seed ``ctx.seed``, on ``ctx.device``."""
    torch.manual_seed(ctx.seed)
    return get_method(ctx.method).build(ctx).to(ctx.device)


def batch_stream(source: Iterator, device: torch.device, prefetch: str = "off"
                 ) -> ContextManager[Iterator]:
    """Training batches on ``device``. With ``prefetch="thread"``, sampling
    and collating run ahead in a background thread (same batches, same
    order); ``run.prefetch: auto`` resolves to that on CUDA only: on a CPU
    the meta-step's own threads and its Python dispatch use the cores and
    the GIL, so a sampling thread slows it down (see docs/PERFORMANCE.md)."""
    if prefetch == "thread":
        return Prefetcher(source, depth=2, transform=lambda b: to_device(b, device))
    return contextlib.nullcontext(to_device(b, device) for b in source)


def optimise(learner: Learner, ctx: Context, stage: Stage, evaluator: Evaluator, *,
             index: int = 0, history: Optional[list[dict]] = None, progress: bool = True,
             prefetch: str = "off", checkpointer: Optional[Checkpointer] = None,
             saved: Optional[dict] = None,
             elapsed: Callable[[], float] = lambda: 0.0) -> list[dict]:
    """Runs one training stage (Adam on ``stage.loss`` over
    ``stage.batches()`` for ``stage.iterations`` steps); validates every
    ``stage.eval_every`` and at the end, and leaves the learner in its best
    meta-val state (``ctx.select``). ``history`` holds the rows of earlier
    stages; the rows of this one are appended and the whole returned.
    ``saved`` is a snapshot of this stage (``index``) to resume from;
    ``elapsed()`` the training's seconds so far, all parts, for snapshots.

    SIGINT and SIGTERM stop it at the end of the iteration they arrive in
    (:func:`~graphmeta.interrupts.deferred_signals`): with a checkpointer
    that state is saved, then :class:`~graphmeta.errors.Interrupted` is
    raised."""
    label = ctx.method + (f":{stage.name}" if stage.name else "")
    select = ctx.select
    history = list(history or [])
    distributed.broadcast_parameters(learner)
    opt = Optimiser(learner, stage.lr)
    best = (-math.inf, copy.deepcopy(learner.state_dict()))
    running: list[float] = []
    done, before = 0, 0.0
    if saved is not None:
        learner.load_state_dict(saved["learner"])
        opt.load_state_dict(saved["opt"])
        best, history, running = (saved["best_score"], saved["best"]), saved["history"], \
            saved["running"]
        done, before = saved["iteration"], saved["seconds"]
        restore_rng(saved["rng"])
    start = time.perf_counter() - before        # the stage's clock counts earlier parts too
    source = stage.batches()
    if done:
        _skip(source, done)

    def snapshot(iteration: int) -> dict:
        """The state after ``iteration`` complete iterations, the RNGs as
        the next one starts with them: a resume continues from exactly here."""
        return {"stage": index, "iteration": iteration, "learner": learner.state_dict(),
                "opt": opt.state_dict(), "best_score": best[0], "best": best[1],
                "history": history, "running": running, "rng": rng_states(),
                "seconds": round(time.perf_counter() - start, 3),
                "elapsed": round(elapsed(), 3)}

    bar = tqdm(range(done + 1, stage.iterations + 1), desc=label, disable=not progress,
               leave=False, dynamic_ncols=True, initial=done, total=stage.iterations)
    # SIGINT and SIGTERM are acted on between iterations only: the saved
    # state is then always the state after a whole number of them.
    with deferred_signals(ctx.device) as stop, \
            batch_stream(source, ctx.device, prefetch) as stream:
        for it in bar:
            learner.train()
            with profile.stage("sample"):
                batch = next(stream)
            with profile.stage("step"):
                value = stage.loss(batch)
                finite = bool(torch.isfinite(value))
                if finite:
                    _step(learner, opt, value, batch, running, ctx.device)
            if not finite:
                msg = f"{label}: training loss is {value.item()} at iteration {it}; " + \
                    _lower(ctx, stage)
                # The loss is this rank's own: one rank stopping alone would
                # leave the others waiting in the gradient sum, so a
                # distributed run still raises (and its peers see it).
                if best[0] == -math.inf or distributed.active():
                    raise FloatingPointError(msg)
                # Diverged after a finite validation: stop, and keep the best
                # meta-val state so far (Keras' TerminateOnNaN with restored
                # best weights); nothing after it is selectable.
                log.warning("%s seed %d: %s; training stopped, the best meta-val state "
                            "(score %.4f) is kept", label, ctx.seed, msg, best[0])
                break
            if it % stage.eval_every == 0 or it == stage.iterations:
                learner.eval()
                try:
                    with profile.stage("meta-val"):
                        m = evaluator.evaluate(learner.predict, "val")
                except FloatingPointError as e:
                    # A state whose adaptation diverges on a meta-val task is
                    # not selectable; training goes on (the loss is finite).
                    log.warning("%s seed %d: iteration %d: not selectable: %s",
                                label, ctx.seed, it, e)
                    m = None
                row = {"method": label, "seed": ctx.seed, "iteration": it,
                       "train_loss": round(float(np.mean(running)), 6),
                       **({f"val_{k}": round(float(np.nanmean(v)), 6) for k, v in m.items()}
                          if m is not None else {f"val_{select}": math.nan}),
                       "seconds": round(time.perf_counter() - start, 3)}
                running = []
                history.append(row)
                score = row[f"val_{select}"]
                bar.set_postfix(loss=f"{row['train_loss']:.3f}",
                                **{f"val_{select}": f"{score:.3f}"})
                log.info("%s seed %d: iteration %d/%d, loss %.4f, val %s %.4f (%.0f s)",
                         label, ctx.seed, it, stage.iterations, row["train_loss"],
                         select, score, row["seconds"])
                if score > best[0]:
                    best = (score, copy.deepcopy(learner.state_dict()))
            signum = stop.requested()
            if checkpointer is not None and (signum or (
                    checkpointer.every and it % checkpointer.every == 0
                    and it < stage.iterations)):
                with profile.stage("write"):
                    checkpointer.save(snapshot(it))
            if signum:
                raise Interrupted(signum, f"{label} seed {ctx.seed}: stopped after iteration "
                                          f"{it} of {stage.iterations}")
    if history and best[0] == -math.inf:    # no validation gave a finite score
        raise FloatingPointError(f"{label} seed {ctx.seed}: every meta-val evaluation diverged "
                                 f"(NaN or infinite scores); try a smaller learning rate")
    learner.load_state_dict(best[1])
    return history


def _step(learner: Learner, opt: Optimiser, value: torch.Tensor, batch: Any,
          running: list[float], device: torch.device) -> None:
    """One optimiser step on a finite loss; the logged loss appended to ``running``."""
    opt.zero_grad()
    if distributed.active():
        # This rank's mean, weighted by its share of the global batch: the
        # summed gradients are the global mean's.
        n = _units(batch)
        total, global_n = distributed.global_sum(value.item() * n, n, device)
        (value * n / global_n).backward()
        distributed.sum_gradients(learner)
        running.append(total / global_n)        # the global mean, as one process logs
    else:
        value.backward()
        running.append(value.item())
    opt.step()


def _lower(ctx: Context, stage: Stage) -> str:
    """What to lower after a non-finite loss: the stage's rate, and the inner
    rate where the method has one."""
    s = ctx.settings
    inner = (f"{ctx.method}.inner_lr (now {s.inner_lr}) or "
             if "inner_lr" in s.keys() and stage.rate_key.endswith("meta_lr") else "")
    out = f"lower {inner}{stage.rate_key} (now {stage.lr})"
    big = float(ctx.tasks.node_x.abs().max()) if ctx.tasks.node_x.numel() else 0.0
    if big > LARGE_FEATURE:
        out += (f"; the likely cause: the node features reach |x| = {big:.3g}, so set "
                f"tasks.scale_x=standard (or standardise data.x)")
    return out


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


def fit(ctx: Context, evaluator: Evaluator, *, progress: bool = True, prefetch: str = "off",
        checkpointer: Optional[Checkpointer] = None) -> TrainResult:
    """Builds and trains ``ctx.method``; returns the learner with the state
    of best meta-val score, the validation history and the seconds it took
    (all parts of a resumed training). ``checkpointer`` makes trained stages
    resumable (``custom`` training restarts)."""
    start = time.perf_counter()
    method = get_method(ctx.method)
    with profile.stage("build"):
        learner = build_learner(ctx)
    history: list[dict] = []
    before = 0.0
    if method.training == "custom":
        with profile.stage("step"):
            history = learner.fit(evaluator, progress)
    elif method.training != "none":
        saved = checkpointer.load() if checkpointer is not None else None
        before = saved["elapsed"] if saved is not None else 0.0

        def elapsed() -> float:
            return before + time.perf_counter() - start
        for i, stage in enumerate(learner.stages()):
            if saved is not None and saved["stage"] > i:
                continue    # a finished stage: the snapshot holds what it left
            history = optimise(learner, ctx, stage, evaluator, index=i, history=history,
                               progress=progress, prefetch=prefetch, checkpointer=checkpointer,
                               saved=saved if saved is not None and saved["stage"] == i
                               else None, elapsed=elapsed)
    return TrainResult(learner, history, before + time.perf_counter() - start)
