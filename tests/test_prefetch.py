import pickle

import numpy as np
import pytest
import torch

from graphmeta.tasks import Prefetcher


def _same(a, b):
    for key in ("x", "adj", "support_items", "support_y", "query_items", "query_y", "users"):
        assert torch.equal(getattr(a, key), getattr(b, key)), key


def test_prefetched_batches_equal_plain_ones(small_tasks):
    plain = small_tasks.batches("train", 6, seed=4)
    with Prefetcher(small_tasks.batches("train", 6, seed=4), depth=3) as pre:
        for _ in range(8):
            _same(next(plain), next(pre))


def test_transform_runs_and_errors_reach_the_consumer():
    with Prefetcher(iter(range(5)), transform=lambda v: v * 10) as p:
        assert list(p) == [0, 10, 20, 30, 40]

    def broken():
        yield 1
        raise RuntimeError("sampler broke")
    with Prefetcher(broken()) as p:
        assert next(p) == 1
        with pytest.raises(RuntimeError, match="sampler broke"):
            next(p)


def test_close_stops_an_endless_stream(small_tasks):
    p = Prefetcher(small_tasks.batches("train", 2, seed=0), depth=1)
    next(p)
    p.close()
    assert not p._thread.is_alive()


def test_sampler_survives_pickling_for_worker_processes(small_tasks):
    s = pickle.loads(pickle.dumps(small_tasks.sampler))
    a = s.sample(5, np.random.default_rng(0))
    b = small_tasks.sampler.sample(5, np.random.default_rng(0))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
