"""Distributed meta-training with real processes on 127.0.0.1 (gloo)."""
import os
import signal
import socket
import subprocess
import sys
import time

import torch

from tests.helpers import TINY_SETTINGS

SETTINGS = [a for s in TINY_SETTINGS + ["meta.iterations=20", "meta.eval_every=10",
                                        "meta.meta_batch=8"] for a in ("--set", s)]
COMMON = ["--device", "cpu", "--quiet", "--threads", "1"]


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state(path):
    return torch.load(path / "checkpoints" / "maml" / "seed-0.pt", weights_only=True)["state_dict"]


def test_two_processes_train_what_one_does(tmp_path):
    """The same global meta-batches, split over 2 ranks whose gradients are
    summed: the parameters after 20 meta-steps equal one process's up to
    float32 summation order (the 2 ranks add the per-task losses in another
    order), so the tolerance is relative 1e-5, not equality."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "graphmeta", "train", "--method", "maml",
                          "--out", str(tmp_path / "one"), *SETTINGS, *COMMON],
                         capture_output=True, text=True, timeout=300, env=env)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                          f"--master_port={_port()}", "-m", "graphmeta", "train", "--method",
                          "maml", "--out", str(tmp_path / "two"), *SETTINGS, *COMMON],
                         capture_output=True, text=True, timeout=300, env=env)
    assert two.returncode == 0, two.stderr
    assert "rank 0 of 2" in two.stdout and "rank 1 of 2" in two.stdout
    a, b = _state(tmp_path / "one"), _state(tmp_path / "two")
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-5, atol=1e-6), k
    assert not torch.equal(a["maml.model.head.fc2.bias"], torch.zeros_like(a["maml.model.head.fc2.bias"]))


def test_a_dead_rank_stops_the_other_with_a_clear_error(tmp_path):
    port = _port()
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "RANK": str(rank), "LOCAL_RANK": str(rank),
               "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "GRAPHMETA_DIST_TIMEOUT": "30"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "graphmeta", "train", "--method", "maml", "--out",
             str(tmp_path / "run"), *SETTINGS, "--set", "meta.iterations=100000",
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
