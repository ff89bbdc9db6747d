"""Acting on SIGINT and SIGTERM at a safe point.

Inside :func:`deferred_signals` the two signals only set a flag; the
training loop asks :meth:`Stop.requested` at the end of each iteration and
stops there, with a state that is exactly the state after that many
iterations (never one whose last step is half-applied, or applied but not
counted). A second Ctrl-C while one is pending stops at once, without
saving. In a distributed run every rank learns of a signal any rank got, at
the same iteration, so they stop together. Outside that block,
:func:`raise_on_sigterm` turns SIGTERM into :class:`~graphmeta.errors.Interrupted`,
so context managers unwind (a run directory's lock is released).
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

from graphmeta import distributed
from graphmeta.errors import Interrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop:
    """What :func:`deferred_signals` yields: the signal received, if any."""

    def __init__(self, device: Any = "cpu") -> None:
        self.signum = 0
        self.device = device

    def requested(self) -> int:
        """The pending signal's number (0: none), agreed by every rank."""
        return distributed.any_rank(self.signum, self.device)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def deferred_signals(device: Any = "cpu") -> Iterator[Stop]:
    """SIGINT and SIGTERM set ``stop.signum`` instead of interrupting (in
    the main thread; elsewhere nothing changes)."""
    stop = Stop(device)
    if not _main_thread():
        yield stop
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt     # a second Ctrl-C: stop now, nothing saved
        stop.signum = stop.signum or signum
    old = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def raise_on_sigterm() -> Iterator[None]:
    """SIGTERM raises :class:`~graphmeta.errors.Interrupted`, as Ctrl-C raises
    ``KeyboardInterrupt`` (in the main thread)."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted(signum, "terminated")
    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


__all__ = ["Stop", "deferred_signals", "raise_on_sigterm"]
