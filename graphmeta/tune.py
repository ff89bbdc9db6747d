"""Equal-budget tuning on meta-val.

Every method gets the same number of configurations (``eval.tune``), drawn
from its own registered search space (:attr:`Method.search`), trained on
meta-train users and scored by the same metric (``meta.select``) on the same
fixed meta-val tasks. The first configuration is the method's current
settings; the others are a seeded sample of the grid without repeats (all
of it when it is smaller than the budget). Only the train and val splits are
touched: the test tasks are not even drawn until tuning has chosen.
"""
from __future__ import annotations

import itertools
import time
import zlib
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from graphmeta.eval import evaluate
from graphmeta.methods import get_method

if TYPE_CHECKING:
    from graphmeta.runner import Run


def configurations(space: dict[str, list[Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` distinct settings from the grid ``space``: ``{}`` (the current
    settings) first, then a seeded sample of the rest."""
    grid = [dict(zip(space, values)) for values in itertools.product(*space.values())]
    grid = [g for g in grid if g]
    rng = np.random.default_rng(seed)
    picked = [grid[i] for i in rng.permutation(len(grid))[:max(n - 1, 0)]]
    return [{}] + picked


def tune(run: "Run", n: int, progress: bool = False,
         log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Tunes every method of ``run`` on its meta-val tasks; returns, per
    method, the chosen ``settings``, their meta-val score and every trial."""
    select = run.spec.meta.select
    out: dict[str, dict[str, Any]] = {}
    for method in run.spec.methods:
        space = get_method(method).search_space(run.spec.kind)
        seed = run.spec.seed + zlib.crc32(method.encode())
        trials = []
        for settings in configurations(space, n, seed):
            trial = run.with_method_settings({method: settings})
            start = time.perf_counter()
            try:
                res = trial.train(method, trial.spec.seed, progress, resumable=False)
            except FloatingPointError as e:   # a diverging configuration loses, the rest go on
                trials.append({"settings": settings, "val": None, "error": str(e),
                               "seconds": round(time.perf_counter() - start, 2)})
                continue
            score, metrics = res.best_val(select), res.best_val_metrics(select)
            if not res.history:     # untrained methods: score the learner as built
                scores = evaluate(res.learner, run.tasks, run.val)
                metrics = {k: round(float(np.nanmean(v)), 6) for k, v in scores.items()}
                score = metrics[select]
            trials.append({"settings": settings, "val": round(score, 6),
                           "val_metrics": metrics,
                           "seconds": round(time.perf_counter() - start, 2)})
        scored = [t for t in trials if t["val"] is not None]
        if not scored:
            raise FloatingPointError(f"{method}: every tuning configuration diverged "
                                     f"({trials[0]['error']})")
        best = max(scored, key=lambda t: t["val"])
        out[method] = {"settings": best["settings"], "val": best["val"], "metric": select,
                       "trials": trials}
        log(f"  tuned {method:<12} val {select} {best['val']:.4f} with "
            f"{best['settings'] or 'its defaults'} ({len(trials)} configurations)")
    return out


__all__ = ["configurations", "tune"]
