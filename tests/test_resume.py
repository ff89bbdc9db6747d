"""Kill a real graphmeta process with SIGKILL, resume it, and get the same
parameters as a run that was never interrupted (same seed, same device,
one thread: the arithmetic is deterministic)."""
import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.helpers import TINY

LONG = TINY + ["--set", "*.iterations=200", "--set", "*.eval_every=50",
               "--set", "run.checkpoint_every=10", "--set", "*.pretrain_iterations=200"]


def _cmd(*args):
    return [sys.executable, "-m", "graphmeta.cli", *args]


def _kill_when(proc, path, timeout=120):
    start = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - start < timeout, "no resumable state appeared"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _same_checkpoints(a, b):
    files = sorted(p.relative_to(a) for p in (a / "checkpoints").rglob("*.pt"))
    assert files == sorted(p.relative_to(b) for p in (b / "checkpoints").rglob("*.pt"))
    for f in files:
        x, y = (torch.load(p / f, weights_only=True)["state_dict"] for p in (a, b))
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), f


def _metrics(path):
    res = json.loads((path / "results.json").read_text())
    return {m: {k: v for k, v in r.items() if k != "seconds"} for m, r in res["methods"].items()}


@pytest.mark.parametrize("command, methods, killed_during", [
    ("train", ["--method", "maml"], "maml"),
    ("compare", ["--methods", "maml,finetune"], "finetune")])
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, command, methods,
                                                         killed_during):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    p = subprocess.run(_cmd(command, *methods, "--out", str(whole), *LONG),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    proc = subprocess.Popen(_cmd(command, *methods, "--out", str(cut), *LONG),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _kill_when(proc, cut / "state" / killed_during / "seed-0.pt")
    assert not (cut / "results.json").exists()
    p = subprocess.run(_cmd(command, "--out", str(cut), *LONG), capture_output=True, text=True)
    assert p.returncode == 2 and "already holds a run; use --resume" in p.stderr
    p = subprocess.run(_cmd(command, "--resume", str(cut), "--device", "cpu", "--quiet",
                            "--threads", "1"), capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    _same_checkpoints(whole, cut)
    assert _metrics(whole) == _metrics(cut)
    assert not list((cut / "state").rglob("seed-0.pt"))     # in-progress states are gone
    assert not (cut / ".lock").exists()
