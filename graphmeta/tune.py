"""Equal-budget tuning on meta-val.

Every method gets the same number of configurations, drawn from its own
search space (the ``search`` values its settings class declares), trained
on meta-train users and scored by the same metric on the same fixed
meta-val tasks. The first configuration is the method's current settings;
the others are a seeded sample of the grid without repeats (all of it when
it is smaller than the budget). Only the train and val splits are touched:
the test tasks are not even drawn until tuning has chosen.

:func:`tune` knows nothing of runs: ``trial(method, settings)`` trains and
scores one configuration (the runner's :meth:`~graphmeta.runner.Run.trial`).
"""
from __future__ import annotations

import itertools
import time
import zlib
from typing import Any, Callable, Sequence

import numpy as np


def configurations(space: dict[str, list[Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` distinct settings from the grid ``space``: ``{}`` (the current
    settings) first, then a seeded sample of the rest."""
    grid = [dict(zip(space, values)) for values in itertools.product(*space.values())]
    grid = [g for g in grid if g]
    rng = np.random.default_rng(seed)
    picked = [grid[i] for i in rng.permutation(len(grid))[:max(n - 1, 0)]]
    return [{}] + picked


def tune(methods: Sequence[str], n: int, seed: int, space: Callable[[str], dict[str, list]],
         trial: Callable[[str, dict[str, Any]], dict[str, float]], select: str,
         log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Tunes every method on meta-val: ``n`` configurations from
    ``space(method)``, each scored by ``trial(method, settings)`` (its
    meta-val metrics; a ``FloatingPointError`` loses). Returns, per method,
    the chosen ``settings``, their meta-val ``select`` score and every trial."""
    out: dict[str, dict[str, Any]] = {}
    for method in methods:
        trials = []
        for settings in configurations(space(method), n, seed + zlib.crc32(method.encode())):
            start = time.perf_counter()
            try:
                metrics = trial(method, settings)
            except FloatingPointError as e:   # a diverging configuration loses, the rest go on
                trials.append({"settings": settings, "val": None, "error": str(e),
                               "seconds": round(time.perf_counter() - start, 2)})
                continue
            trials.append({"settings": settings, "val": round(metrics[select], 6),
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
