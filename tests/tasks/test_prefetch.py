import pytest
import torch

from graphmeta.tasks import Prefetcher


def _same(a, b):
    assert torch.equal(a.graphs.x, b.graphs.x) and torch.equal(a.graphs.adj, b.graphs.adj)
    for key in ("support_items", "support_y", "query_items", "query_y", "users"):
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
