"""Tuning on meta-val, counted in distinct configurations.

Every method is searched over its own space (the ``search`` its settings
class declares: lists of values and :class:`~graphmeta.settings.Range`
intervals, some keys only under another key's value), trained on the
known users and scored by the same metric on the same fixed meta-val
tasks. The search is Optuna's TPE sampler (Bergstra et al., NeurIPS 2011),
seeded per dataset and method, asked and told one configuration at a time:

- the first configuration is the method's current settings;
- a configuration is never tried twice: one the sampler proposes again
  (after rounding floats to 3 significant digits) is told its earlier
  score and does not count;
- learned methods share the same budget (``n`` each); cheap methods
  (``cheap``: scorers that train nothing, seconds a configuration) get
  :data:`CHEAP_BUDGET`, or ``n`` if larger;
- a space with no more distinct configurations than the budget is tried
  whole, in a seeded order, with no sampler;
- a best value at the edge of its range (the smallest or largest listed,
  or within :data:`EDGE` of an interval's end, on its own scale) is flagged
  in the result (``edges``) and in the log: the range may be too narrow.

Only the train and val splits are touched: the test tasks are not even
drawn until tuning has chosen. :func:`tune` knows nothing of runs:
``trial(method, settings)`` trains and scores one configuration (the
runner's :meth:`~graphmeta.runner.Run.trial`).

Why Optuna rather than a hand-written draw: the grid draw this replaced
repeated a method's defaults, tried the same values on every dataset and
could not search an interval; Optuna is maintained, seeded and reproducible,
and its TPE spends later trials near the good ones.
"""
from __future__ import annotations

import math
import time
import zlib
from typing import Any, Callable, Sequence

from graphmeta.space import EDGE, Space, alternatives, configurations

# Configurations a cheap method (a scorer: seconds each) is searched over,
# whatever the learners' budget: Dacrema et al. (RecSys 2019) give each
# item-kNN similarity 35 Bayesian-search trials; three similarities and
# three weightings here.
CHEAP_BUDGET = 100
# Proposals the sampler may make per configuration counted before the
# search stops (a small space the sampler keeps revisiting).
_PATIENCE = 20


def search(space: Space, budget: int, seed: int,
           score: Callable[[dict[str, Any]], float | None]
           ) -> tuple[list[dict[str, Any]], str, int]:
    """Tries up to ``budget`` distinct configurations of ``space``, the
    current settings (``{}``) first; ``score(settings)`` is the meta-val
    score (None: diverged, loses). Returns the configurations tried, in
    order, how they were chosen (``"whole space"`` or ``"tpe"``) and how
    many repeated proposals were skipped."""
    if budget < 1:
        return [], "none", 0
    if space.finite and len(alternatives(space, budget)) < budget:     # all of it fits
        tried = configurations(space, budget, seed)
        for s in tried:
            score(s)
        return tried, "whole space", 0
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    seen: dict[tuple, float | None] = {}
    tried: list[dict[str, Any]] = []

    def record(settings: dict[str, Any]) -> float | None:
        value = score(settings)
        seen[space.canonical(settings)] = value
        tried.append(settings)
        return value

    first = record({})
    told = space.distributions({})
    if told is not None and first is not None:
        study.add_trial(optuna.trial.create_trial(value=first, **told))
    repeats = 0
    for _ in range(_PATIENCE * budget):
        if len(tried) >= budget:
            break
        trial = study.ask()
        settings = space.suggest(trial)
        key = space.canonical(settings)
        if key in seen:
            repeats += 1
            value = seen[key]
        else:
            value = record({k: v for k, v in settings.items()})
        if value is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, value)
    return tried, "tpe", repeats


def tune(methods: Sequence[str], n: int, seed: int, space: Callable[[str], Space],
         trial: Callable[[str, dict[str, Any]], dict[str, float]], select: str,
         log: Callable[[str], None] = print, *, cheap: Sequence[str] = (),
         cheap_budget: int = CHEAP_BUDGET, salt: str = "") -> dict[str, dict[str, Any]]:
    """Tunes every method on meta-val (see the module docstring): ``n``
    distinct configurations of ``space(method)`` for each method, or
    ``max(n, cheap_budget)`` for those in ``cheap``, each scored by
    ``trial(method, settings)`` (its meta-val metrics; a
    ``FloatingPointError`` loses). The sampler's seed mixes ``seed``,
    ``salt`` (the dataset) and the method. Returns, per method, the chosen
    ``settings``, their meta-val ``select`` score, every trial, the budget,
    how the space was searched and the chosen values at the edge of their
    range (``edges``)."""
    if n < 1:
        raise ValueError(f"tuning needs at least 1 configuration per method, got {n}")
    out: dict[str, dict[str, Any]] = {}
    for method in methods:
        trials: list[dict[str, Any]] = []

        def score(settings: dict[str, Any], method: str = method,
                  trials: list[dict[str, Any]] = trials) -> float | None:
            start = time.perf_counter()
            try:
                metrics = trial(method, settings)
            except FloatingPointError as e:   # a diverging configuration loses, the rest go on
                trials.append({"settings": settings, "val": None, "error": str(e),
                               "seconds": round(time.perf_counter() - start, 2)})
                return None
            value = metrics[select]
            if not math.isfinite(value):     # no score (NaN): it loses, as a divergence does
                trials.append({"settings": settings, "val": None, "val_metrics": metrics,
                               "error": f"meta-val {select} is {value}",
                               "seconds": round(time.perf_counter() - start, 2)})
                return None
            trials.append({"settings": settings, "val": round(value, 6),
                           "val_metrics": metrics,
                           "seconds": round(time.perf_counter() - start, 2)})
            return value

        sp = space(method)
        budget = max(n, cheap_budget) if method in cheap else n
        _, how, repeats = search(sp, budget,
                                 (seed + zlib.crc32(f"{salt}/{method}".encode())) % 2**32, score)
        scored = [t for t in trials if t["val"] is not None]
        if not scored:
            raise FloatingPointError(f"{method}: every tuning configuration diverged "
                                     f"({trials[0]['error']})")
        best = max(scored, key=lambda t: t["val"])
        edges = sp.edges(best["settings"], [t["settings"] for t in scored])
        out[method] = {"settings": best["settings"], "val": best["val"], "metric": select,
                       "budget": budget, "searched": how, "space": sp.describe(),
                       "repeats_skipped": repeats, "edges": edges, "trials": trials}
        log(f"  tuned {method:<12} val {select} {best['val']:.4f} with "
            f"{best['settings'] or 'its defaults'} ({len(trials)} configurations, {how})")
        for key, side in edges.items():
            value = {**sp.base, **best["settings"]}[key]
            log(f"  WARNING: {method}.{key} = {value} is at the {side} edge of its searched "
                f"range {sp.describe()[key]}: the best value may lie beyond it")
    return out


__all__ = ["CHEAP_BUDGET", "EDGE", "Space", "configurations", "search", "tune"]
