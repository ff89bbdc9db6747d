"""Overlap sampling with training: a background thread runs ahead of the
consumer by ``depth`` items.

A thread (not DataLoader worker processes) because the stream is one seeded
generator: consumed in order by one thread, it yields exactly the batches the
plain loop would, and torch releases the GIL inside its kernels, so sampling
(numpy/Python) runs while the meta-step computes.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Iterator, Optional, TypeVar

T = TypeVar("T")
_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class Prefetcher(Generic[T]):
    """Iterates ``source`` in a background thread, ``depth`` items ahead.

    Args:
        source: Any iterator (e.g. :meth:`UserInterestTasks.batches`).
        depth: Items kept ready.
        transform: Applied in the background thread to each item (e.g.
            moving a batch to the GPU).

    Example:
        >>> stream = Prefetcher(tasks.batches("train", 32, seed=0), depth=2)
        >>> batch = next(stream)
        >>> stream.close()
    """

    def __init__(self, source: Iterator[T], depth: int = 2,
                 transform: Optional[Callable[[T], T]] = None) -> None:
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self._source, self._transform = source, transform
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="graphmeta-prefetch",
                                        daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._source:
                if self._transform is not None:
                    item = self._transform(item)
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as e:  # re-raised in the consumer
            self._put(_Failure(e))

    def __iter__(self) -> "Prefetcher[T]":
        return self

    def __next__(self) -> T:
        item = self._queue.get()
        if item is _END:
            raise StopIteration
        if isinstance(item, _Failure):
            raise item.exc
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> "Prefetcher[T]":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
