"""Search spaces for tuning: what :func:`graphmeta.tune.tune` may try for
one method.

A :class:`Space` holds a method's dimensions (lists of values, tried as
categories, and :class:`~graphmeta.settings.Range` intervals), the keys
searched only under another key's value, and the current settings every
configuration starts from. It says when two configurations are the same
(:meth:`Space.canonical`: the values of the keys that are active), lists a
finite space whole, asks an Optuna trial for a configuration, and flags a
chosen value at the edge of its range.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from graphmeta.settings import Range

# An interval's best value this close to an end (a share of its width, on
# its own scale) is "at the edge".
EDGE = 0.05


def _round(v: float) -> float:
    return float(f"{v:.3g}")


@dataclass
class Space:
    """A method's search space: ``dims`` (key -> list of values or
    :class:`Range`, in order), ``when`` (key -> ``{other key: value}``
    under which it is searched) and ``base`` (the current settings, which
    every configuration starts from)."""
    dims: dict[str, list[Any] | Range]
    when: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.when = {k: c for k, c in self.when.items() if k in self.dims}

    def active(self, key: str, values: Mapping[str, Any]) -> bool:
        """Whether ``key`` is searched given the others' ``values``."""
        return all(values.get(o, self.base.get(o)) == v for o, v in self.when.get(key, {}).items())

    def canonical(self, settings: Mapping[str, Any]) -> tuple:
        """What identifies a configuration: the value of every active key."""
        values = {**self.base, **settings}
        return tuple((k, values.get(k)) for k in self.dims if self.active(k, values))

    @property
    def finite(self) -> bool:
        return not any(isinstance(d, Range) and not d.integer for d in self.dims.values())

    def _values(self, key: str) -> list[Any]:
        d = self.dims[key]
        if isinstance(d, Range):
            return list(range(int(d.low), int(d.high) + 1))
        return list(d)

    def grid(self, limit: int | None = None) -> Iterable[dict[str, Any]]:
        """Every distinct configuration of a finite space (inactive keys left out)."""
        seen: set[tuple] = set()
        for combo in itertools.product(*(self._values(k) for k in self.dims)):
            values = dict(zip(self.dims, combo))
            settings = {k: v for k, v in values.items() if self.active(k, values)}
            key = self.canonical(settings)
            if key not in seen:
                seen.add(key)
                yield settings
                if limit is not None and len(seen) >= limit:
                    return

    def suggest(self, trial: Any) -> dict[str, Any]:
        """One configuration from an Optuna ``trial``, keys in order (so a
        ``when`` key sees the values it depends on)."""
        out: dict[str, Any] = {}
        for key, d in self.dims.items():
            if not self.active(key, out):
                continue
            if isinstance(d, Range) and d.integer:
                out[key] = trial.suggest_int(key, int(d.low), int(d.high), log=d.log)
            elif isinstance(d, Range):
                out[key] = _round(trial.suggest_float(key, d.low, d.high, log=d.log))
            else:
                out[key] = d[trial.suggest_categorical(key, list(range(len(d))))]
        return out

    def distributions(self, settings: Mapping[str, Any]) -> dict[str, Any] | None:
        """Optuna's params and distributions for ``settings`` (to tell the
        sampler about the defaults), or None when a value lies outside its
        dimension."""
        from optuna.distributions import (CategoricalDistribution, FloatDistribution,
                                          IntDistribution)
        values = {**self.base, **settings}
        params, dists = {}, {}
        for key, d in self.dims.items():
            if not self.active(key, values):
                continue
            v = values.get(key)
            if isinstance(d, Range):
                if not isinstance(v, (int, float)) or not d.low <= v <= d.high:
                    return None
                dists[key] = (IntDistribution(int(d.low), int(d.high), log=d.log) if d.integer
                              else FloatDistribution(d.low, d.high, log=d.log))
                params[key] = int(v) if d.integer else float(v)
            else:
                if v not in d:
                    return None
                dists[key] = CategoricalDistribution(list(range(len(d))))
                params[key] = d.index(v)
        return {"params": params, "distributions": dists}

    def edges(self, settings: Mapping[str, Any],
              tried: Sequence[Mapping[str, Any]] = ()) -> dict[str, str]:
        """The keys of ``settings`` at the edge of their range: key ->
        ``"low"`` or ``"high"`` (numeric dimensions only). A listed value is
        at the edge when it is the smallest or largest listed; an interval's
        when it lies within :data:`EDGE` of an end (on its own scale) and no
        configuration of ``tried`` went nearer that end (then the search
        looked beyond it and found worse), except an upper end the data
        set (:meth:`Range.capped <graphmeta.settings.Range.capped>`: a
        ``topk`` of every other interest), beyond which nothing differs."""
        values = {**self.base, **settings}
        out = {}
        for key, d in self.dims.items():
            v = values.get(key)
            if not self.active(key, values) or isinstance(v, bool) or \
                    not isinstance(v, (int, float)):
                continue
            if isinstance(d, Range):
                if not d.low <= v <= d.high:    # a value outside the range (topk 0: all)
                    continue
                lo, hi, x = ((math.log(d.low), math.log(d.high), math.log(v))
                             if d.log else (d.low, d.high, v))
                at = (x - lo) / (hi - lo)
                others = [t[key] for t in ({**self.base, **t} for t in tried)
                          if isinstance(t.get(key), (int, float)) and self.active(key, t)
                          and d.low <= t[key] <= d.high]
                if at <= EDGE and not any(o < v for o in others):
                    out[key] = "low"
                elif at >= 1 - EDGE and not d.data_high and not any(o > v for o in others):
                    out[key] = "high"
            elif len(d) > 1 and all(isinstance(x, (int, float)) for x in d):
                if v == min(d):
                    out[key] = "low"
                elif v == max(d):
                    out[key] = "high"
        return out

    def describe(self) -> dict[str, str]:
        """Each dimension as text, for ``tuning.json`` and the tables."""
        out = {k: repr(d) if isinstance(d, Range) else repr(list(d)) for k, d in self.dims.items()}
        for k, c in self.when.items():
            out[k] += " when " + ", ".join(f"{o}={v}" for o, v in c.items())
        return out


def configurations(space: Space, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` distinct configurations of a finite ``space`` without scores:
    ``{}`` (the current settings) first, then a seeded sample of the rest
    (all of them when there are fewer). What :func:`tune` tries when the
    whole space fits its budget."""
    rng = np.random.default_rng(seed)
    grid = alternatives(space)
    return [{}] + [grid[i] for i in rng.permutation(len(grid))[:max(n - 1, 0)]]


def alternatives(space: Space, limit: int | None = None) -> list[dict[str, Any]]:
    """The configurations of a finite space other than the current settings
    (at most ``limit``)."""
    base = space.canonical({})
    others = (g for g in space.grid() if space.canonical(g) != base)
    return list(itertools.islice(others, limit))


__all__ = ["EDGE", "Space", "alternatives", "configurations"]
