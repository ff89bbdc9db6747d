"""Distributed meta-training with real processes on 127.0.0.1 (gloo)."""
import csv
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from tests.helpers import TINY_SETTINGS, interest_folder

SETTINGS = [a for s in TINY_SETTINGS + ["*.iterations=20", "*.eval_every=10",
                                        "*.meta_batch=8"] for a in ("--set", s)]
COMMON = ["--device", "cpu", "--quiet", "--threads", "1"]


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state(path):
    return torch.load(path / "checkpoints" / "maml" / "seed-0.pt", weights_only=True)["state_dict"]


@pytest.mark.parametrize("table", ["fixed item features", "sparse learned table"])
def test_two_processes_train_what_one_does(tmp_path, table):
    """The same global meta-batches, split over 2 ranks whose gradients are
    summed: the parameters after 20 meta-steps equal one process's up to
    float32 summation order (the 2 ranks add the per-task losses in another
    order), so the tolerance is relative 1e-5, not equality. The second
    case sums a learned interest table's sparse gradients (lazy Adam)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    extra = [] if table == "fixed item features" else [
        "--dataset", str(interest_folder(tmp_path)), "--set", "*.sparse_grad=true",
        "--set", "tasks.k_shot=2", "--set", "tasks.n_query=2"]
    one = subprocess.run([sys.executable, "-m", "graphmeta", "train", "--method", "maml",
                          "--out", str(tmp_path / "one"), *SETTINGS, *COMMON, *extra],
                         capture_output=True, text=True, timeout=300, env=env)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                          f"--master_port={_port()}", "-m", "graphmeta", "train", "--method",
                          "maml", "--out", str(tmp_path / "two"), *SETTINGS, *COMMON, *extra],
                         capture_output=True, text=True, timeout=300, env=env)
    assert two.returncode == 0, two.stderr
    assert "rank 0 of 2" in two.stdout and "rank 1 of 2" in two.stdout
    a, b = _state(tmp_path / "one"), _state(tmp_path / "two")
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6), k
    # the logged loss is the global meta-batch's mean, not rank 0's share
    logged = [[float(r["train_loss"]) for r in csv.DictReader((tmp_path / run / "metrics.csv")
                                                              .open())] for run in ("one", "two")]
    assert len(logged[0]) == len(logged[1]) > 0
    np.testing.assert_allclose(logged[1], logged[0], rtol=1e-5)
    assert not torch.equal(a["maml.model.head.fc2.bias"],
                           torch.zeros_like(a["maml.model.head.fc2.bias"]))


def test_a_dead_rank_stops_the_other_with_a_clear_error(tmp_path):
    port = _port()
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "RANK": str(rank), "LOCAL_RANK": str(rank),
               "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "GRAPHMETA_DIST_TIMEOUT": "30"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "graphmeta", "train", "--method", "maml", "--out",
             str(tmp_path / "run"), *SETTINGS, "--set", "*.iterations=100000",
             "--set", "run.checkpoint_every=5", *COMMON],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    state = tmp_path / "run" / "state" / "maml" / "seed-0.pt"
    start = time.time()
    while not state.exists():                      # both ranks are past a few meta-steps
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.time() - start < 120
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGKILL)
    killed = time.time()
    out, err = procs[0].communicate(timeout=90)
    assert time.time() - killed < 60
    assert procs[0].returncode == 2, err
    assert "rank 0 of 2: another rank failed or stopped answering" in err
    assert "Traceback" not in err


WORKER = r"""
import sys, time
import torch, torch.distributed as dist
from types import SimpleNamespace
from graphmeta.eval import Evaluator, ranking_metrics
dist.init_process_group("gloo", init_method=sys.argv[1], rank=int(sys.argv[2]), world_size=2,
                        timeout=__import__("datetime").timedelta(seconds=30))
y = torch.tensor([[1, 0, 0]]); mask = torch.ones(1, 3, dtype=torch.bool)
batches = [SimpleNamespace(i=i) for i in range(4)]
class Scores(Evaluator):            # the evaluator's sharing, on hand-made scores
    def __init__(self):
        pass

    def score(self, pred, b):
        return ranking_metrics(pred, y, mask)
ev = Scores()
nan_on = int(sys.argv[3])      # the batch whose scores diverge (-1: none)
def predict(b):
    return torch.full((1, 3), float("nan")) if b.i == nan_on else torch.tensor([[0.9, 0.1, 0.2]])
start = time.time()
try:
    print("auc", ev.evaluate(predict, batches)["auc"].tolist())
except FloatingPointError as e:
    print("FloatingPointError", round(time.time() - start), e)
ev.evaluate(predict, batches[:0] if nan_on < 0 else [b for b in batches if b.i != nan_on])
print("in step")
dist.destroy_process_group()
"""


def test_a_share_that_diverges_on_one_rank_raises_on_every_rank_in_step():
    """Rank 1 scores batch 1; its NaN must not leave rank 0 waiting in a
    collective: both raise FloatingPointError at once, then keep working
    together (the next collective completes)."""
    url = f"tcp://127.0.0.1:{_port()}"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, url, str(r), "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in (0, 1)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        lines = out.splitlines()
        assert lines[0].startswith("FloatingPointError 0 3 candidate scores are NaN"), out
        assert lines[1] == "in step", out
