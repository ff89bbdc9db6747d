"""Training seeds and methods side by side, one worker process per core.

On a CPU the meta-step of a small GNN does not use two cores twice as well
as one (a maml step on twitch-fr: 129 ms on one thread, 76 ms on two), and
sampling, collation and Python dispatch use one core at a time. So
:func:`run_jobs` trains the (method, seed) pairs of a comparison in
``jobs`` worker processes with one thread each (the cores divided between
them), instead of one pair after another on every core. Each pair computes
what it computes alone (its own seed, batches and test tasks); only the
floating-point order of a reduction can differ with the thread count.

Workers are spawned (a fork would inherit the parent's OpenMP pool), each
prepares the run from the run directory's ``config.yaml`` as ``--resume``
does, and writes the pair's resumable state, checkpoint and finished
scores there (:class:`~graphmeta.store.RunStore`; the parent holds the
lock). At most ``jobs`` pairs are in flight, so an interrupt or an error
stops the comparison after the pairs running then: a worker acts on
SIGINT/SIGTERM at the end of an iteration and saves its state
(:func:`~graphmeta.interrupts.deferred_signals`); Ctrl-C reaches every
process of the terminal's group, and the parent forwards a signal it gets
to its workers as SIGTERM, so a signal sent to the parent alone stops
them too; ``--resume`` continues every pair from where it stopped.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import pickle
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from graphmeta import profile
from graphmeta.config import load_config
from graphmeta.errors import Interrupted
from graphmeta.plugins import installed_plugins, load_plugin, loaded
from graphmeta.run import Run, prepare
from graphmeta.store import RunStore

Pair = tuple[str, int]
# What a worker does with a pair: (run, out, method, seed, test batches) ->
# its finished record (graphmeta.runner.train_and_score).
Work = Callable[[Run, Path, str, int, Any], dict]
_worker: dict[str, Any] = {}


def _start(out: str, device: str, threads: int, level: int, profiled: bool,
           plugins: list[str], work: Work) -> None:
    """Worker initialiser: the parent's plug-ins and one prepared run;
    signals are ignored outside training (see the module docstring)."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_IGN)
    torch.set_num_threads(threads)
    logger = logging.getLogger("graphmeta")
    logger.setLevel(level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    prof = profile.Profile()
    try:
        for plugin in plugins:
            load_plugin(plugin)
        with profile.profiling(prof) if profiled else contextlib.nullcontext():
            run = prepare(load_config(Path(out) / "config.yaml"), torch.device(device))
            with profile.stage("test"):
                test = run.evaluator.batches("test")
        run.store = RunStore(out, resume=True)    # reads and writes; the parent holds the lock
    except Exception as e:      # noqa: BLE001 (reported by the first pair, see _pair)
        _worker.update(failed=_portable(e), profiled=False)
        return
    _worker.update(run=run, test=test, out=Path(out), profiled=profiled, work=work,
                   profile=prof.finish() if profiled else None)


def _pair(method: str, seed: int) -> tuple[str, Any, Optional[dict]]:
    """Trains and scores one pair in a worker: ``("ok", done, profile)`` or
    ``("error", exception, profile)``."""
    if "failed" in _worker:
        return "unstarted", _worker["failed"], None
    run = _worker["run"]
    prof = _worker.pop("profile", None) or profile.Profile()
    try:
        with profile.profiling(prof) if _worker["profiled"] else contextlib.nullcontext():
            done = _worker["work"](run, _worker["out"], method, seed, _worker["test"])
        out: tuple[str, Any] = ("ok", done)
    except BaseException as e:      # noqa: BLE001 (sent back whole, raised by the parent)
        out = ("error", _portable(e))
    finally:
        run.cache.clear()       # a finished pair's learner is not needed again here
    return (*out, prof.finish().to_dict() if _worker["profiled"] else None)


def _portable(e: BaseException) -> BaseException:
    """``e`` as the parent can unpickle it; a second Ctrl-C's plain
    ``KeyboardInterrupt`` as the :class:`~graphmeta.errors.Interrupted` it
    stands for."""
    if isinstance(e, KeyboardInterrupt) and not isinstance(e, Interrupted):
        return Interrupted(signal.SIGINT, "stopped at once (a second Ctrl-C), nothing saved")
    try:
        return pickle.loads(pickle.dumps(e))
    except Exception:       # noqa: BLE001
        return RuntimeError(f"{type(e).__name__}: {e}")


def default_jobs(device: torch.device | str, pairs: int) -> int:
    """``jobs="auto"``: on a CPU, one process per thread of this one when
    there are at least two pairs per process, else 1 (with fewer, a core
    idles while the longest pair trains on one thread, slower than on
    all of them); on a GPU 1 (the device is shared)."""
    threads = torch.get_num_threads()
    if torch.device(device).type != "cpu" or threads < 2 or pairs < 2 * threads:
        return 1
    return threads


def run_jobs(out: Path, device: torch.device, pairs: list[Pair], jobs: int, work: Work,
             log: Callable[[str], None] = print) -> dict[Pair, dict]:
    """Runs ``work`` (a module-level function, as a worker imports it) on
    each of ``pairs`` in ``jobs`` worker processes (threads divided between
    them), each with the run of the run directory ``out``; returns each
    pair's finished record (``metrics``, ``history``, ``seconds``,
    ``extra``, as :func:`graphmeta.runner.train_and_score` gives); pairs
    missing from it are left to the caller (a worker that could not
    prepare the run, e.g. a method registered in a ``__main__`` block,
    gives a warning and none). Raises
    the first worker error, or :class:`~graphmeta.errors.Interrupted` after
    an interrupt, once the pairs in flight have stopped."""
    threads = max(1, torch.get_num_threads() // jobs)
    prof = profile.current()
    log(f"training {len(pairs)} method-seed pairs in {jobs} processes, "
        f"{threads} thread{'s' * (threads > 1)} each")
    level = logging.getLogger("graphmeta").getEffectiveLevel()
    results: dict[Pair, dict] = {}
    todo = list(pairs)
    failure: Optional[BaseException] = None
    unstarted: Optional[BaseException] = None
    running: dict[Future, Pair] = {}
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_start,
                             initargs=(str(out), str(device), threads, level,
                                       prof is not None, installed_plugins() + loaded(), work)
                             ) as pool:
        while todo or running:
            while todo and failure is None and unstarted is None and len(running) < jobs:
                pair = todo.pop(0)
                running[pool.submit(_pair, *pair)] = pair
            if not running:
                break
            try:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
            except BaseException as e:      # Ctrl-C or SIGTERM in the parent
                failure = failure or e
                _stop_workers()
                continue
            for f in finished:
                pair = running.pop(f)
                try:
                    status, value, seconds = f.result()
                except BrokenProcessPool as e:     # a worker killed (by the OS, or a
                    status, value, seconds = "error", e, None  # signal while it started)
                if prof is not None and seconds is not None:
                    prof.add(seconds, jobs)
                if status == "ok":
                    results[pair] = value
                elif status == "unstarted":
                    unstarted = unstarted or value
                elif failure is None:
                    # The pairs running go on to their end (a signal that
                    # stopped this one reached the others too, if sent to
                    # the group); none is started after it.
                    failure = value
    if failure is not None:
        raise failure
    if unstarted is not None:
        log(f"WARNING: a worker process could not prepare the run ({unstarted}); the "
            f"remaining pairs train in this process (a method or dataset registered in a "
            f"__main__ block is not known to workers: register it in a module, or pass "
            f"jobs=1 / --jobs 1)")
    return results


def _stop_workers() -> None:
    """SIGTERM to every worker: each saves its state at the end of the
    iteration it is in (a second SIGINT would stop it unsaved)."""
    for child in mp.active_children():
        try:
            os.kill(child.pid, signal.SIGTERM)
        except (ProcessLookupError, TypeError):
            pass


__all__ = ["default_jobs", "run_jobs"]
