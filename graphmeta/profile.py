"""Where a run's time goes: seconds per method and stage.

``graphmeta compare --profile`` (or, in Python, ``with profiling() as p:``)
times the stages of a run without changing what it computes. Each second
is counted once, in the innermost stage open at the time (a stage entered
inside another pauses the outer one), so the stages and ``other`` add up
to the wall time:

- ``load``: reading the graph (or generating it);
- ``features``: the spec, the task sampler (CSR, node features, context
  statistics) and the evaluator;
- ``build``: a learner built from its settings (for the scorers, their
  item-item or co-occurrence tables);
- ``sample``: the training loop waiting for its next batch (sampling,
  collation, the copy to the device);
- ``step``: the training loss, its backward pass and the optimiser step;
- ``meta-val``: scoring the meta-val tasks (drawing them the first time);
- ``test``: drawing and scoring the test tasks;
- ``write``: checkpoints, resumable states and the run directory's files.

Rows are methods; a method trained during tuning is its own row
(``maml [tune]``). Outside ``profiling()`` every :func:`stage` is a no-op.
On CUDA the device is synchronised at each stage boundary while profiling,
so asynchronous kernels are counted where they were launched.
"""
from __future__ import annotations

import contextlib
import contextvars
import time
from collections import defaultdict
from typing import Any, Iterator, Optional

import torch

STAGES = ("load", "features", "build", "sample", "step", "meta-val", "test", "write")


class Profile:
    """Exclusive seconds per ``(row, stage)``, and the wall time."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.calls: dict[tuple[str, str], int] = defaultdict(int)
        self._stack: list[list[Any]] = []        # [key, since]
        self._start = time.perf_counter()
        self.wall = 0.0
        self.jobs = 1       # processes whose seconds were added (graphmeta.jobs)

    def enter(self, key: tuple[str, str]) -> None:
        now = _now()
        if self._stack:
            top = self._stack[-1]
            self.seconds[top[0]] += now - top[1]
        self._stack.append([key, now])
        self.calls[key] += 1

    def leave(self) -> None:
        now = _now()
        key, since = self._stack.pop()
        self.seconds[key] += now - since
        if self._stack:
            self._stack[-1][1] = now

    def finish(self) -> "Profile":
        self.wall = time.perf_counter() - self._start
        return self

    def add(self, other: dict[str, Any], jobs: int) -> None:
        """Adds the seconds of another process's profile (its
        :meth:`to_dict`), one of ``jobs`` run side by side: the stages then
        count process-seconds, which add up to more than the wall time."""
        for r, st_s in other["rows"].items():
            for st, s in st_s.items():
                self.seconds[(r, st)] += s
        self.jobs = max(self.jobs, jobs)

    def rows(self) -> list[str]:
        return list(dict.fromkeys(r for r, _ in self.seconds))

    def to_dict(self) -> dict[str, Any]:
        """``{"wall", "other", "rows": {row: {stage: seconds}}, "stages":
        {stage: seconds}}``, seconds rounded to milliseconds."""
        per_stage: dict[str, float] = defaultdict(float)
        rows: dict[str, dict[str, float]] = {}
        for (row, st), s in self.seconds.items():
            rows.setdefault(row, {})[st] = round(s, 3)
            per_stage[st] += s
        counted = sum(per_stage.values())
        return {"wall": round(self.wall, 3), "jobs": self.jobs,
                "other": round(max(self.wall - counted, 0.0), 3),
                "stages": {st: round(per_stage[st], 3) for st in STAGES if st in per_stage},
                "rows": rows}

    def table(self) -> str:
        """Seconds per row and stage, each stage's share of the wall time,
        and what no stage counted (``other``: Python between stages, logs)."""
        d = self.to_dict()
        stages = [st for st in STAGES if st in d["stages"]]
        width = max([len("run")] + [len(r) for r in d["rows"]])
        head = f"{'seconds':<{width}} " + " ".join(f"{st:>9}" for st in stages) + \
            f" {'total':>9}"
        lines = [head]
        for row, st_s in d["rows"].items():
            lines.append(f"{row:<{width}} " + " ".join(
                f"{st_s[st]:>9.1f}" if st in st_s else f"{'':>9}" for st in stages)
                + f" {sum(st_s.values()):>9.1f}")
        # Shares of the wall time; of all processes' seconds with jobs.
        counted = sum(d["stages"].values())
        wall = (counted if self.jobs > 1 else d["wall"]) or 1.0
        lines.append(f"{'all':<{width}} " + " ".join(f"{d['stages'][st]:>9.1f}" for st in stages)
                     + f" {counted:>9.1f}")
        lines.append(f"{'share':<{width}} " + " ".join(
            f"{d['stages'][st] / wall:>9.1%}" for st in stages) + f" {counted / wall:>9.1%}")
        if self.jobs > 1:
            lines.append(f"wall {d['wall']:.1f} s; {self.jobs} processes side by side: the "
                         f"stages count each one's seconds, shares are of their sum")
        else:
            lines.append(f"wall {d['wall']:.1f} s, of which {d['other']:.1f} s in no stage")
        return "\n".join(lines)


def _now() -> float:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


_profile: contextvars.ContextVar[Optional[Profile]] = contextvars.ContextVar(
    "graphmeta_profile", default=None)
_row: contextvars.ContextVar[str] = contextvars.ContextVar("graphmeta_profile_row", default="run")


@contextlib.contextmanager
def profiling(profile: Optional[Profile] = None) -> Iterator[Profile]:
    """Profiles the stages run inside it; yields the :class:`Profile`,
    finished (its ``wall`` set) on exit."""
    p = profile or Profile()
    token = _profile.set(p)
    try:
        yield p
    finally:
        _profile.reset(token)
        p.finish()


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Counts the time inside under ``name`` for the current row (a no-op
    unless profiling)."""
    p = _profile.get()
    if p is None:
        yield
        return
    p.enter((_row.get(), name))
    try:
        yield
    finally:
        p.leave()


@contextlib.contextmanager
def row(name: str) -> Iterator[None]:
    """The stages inside count for row ``name`` (a method, or ``maml [tune]``)."""
    token = _row.set(name)
    try:
        yield
    finally:
        _row.reset(token)


def current_row() -> str:
    return _row.get()


def current() -> Optional[Profile]:
    """The profile being recorded, if any."""
    return _profile.get()


__all__ = ["STAGES", "Profile", "current", "current_row", "profiling", "row", "stage"]
