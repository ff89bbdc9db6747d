"""SIGINT and SIGTERM at chosen points of a real ``graphmeta train`` process,
then ``--resume``: the final parameters equal an uninterrupted run's,
wherever the signal landed (before a step, right after a step, during
meta-val, while a state is being saved), and the lock is released.

The signal is sent by the process to itself from a plugin that wraps one
graphmeta function, so it lands at a known point of a known iteration."""
import json
import signal
import subprocess
import sys

import pytest
import torch

from tests.helpers import TINY

SETTINGS = TINY + ["--set", "*.iterations=12", "--set", "*.eval_every=3",
                   "--set", "run.checkpoint_every=5"]
PLUGIN = '''
import os, signal
import graphmeta.eval.evaluator, graphmeta.methods.meta, graphmeta.optimiser, graphmeta.store
SIG = getattr(signal, "SIG" + os.environ["GM_SIGNAL"])
WHERE, AT = os.environ["GM_AT"], int(os.environ["GM_CALL"])
TARGETS = {"loss": (graphmeta.methods.meta.MetaLearner, "training_loss", False),
           "step": (graphmeta.optimiser.Optimiser, "step", True),
           "val": (graphmeta.eval.evaluator.Evaluator, "evaluate", False),
           "save": (graphmeta.store.RunStore, "save", False)}
cls, name, after = TARGETS[WHERE]
original, calls = getattr(cls, name), [0]

def wrapped(*args, **kwargs):
    calls[0] += 1
    if calls[0] == AT and not after:
        os.kill(os.getpid(), SIG)
    out = original(*args, **kwargs)
    if calls[0] == AT and after:
        os.kill(os.getpid(), SIG)
    return out
setattr(cls, name, wrapped)
'''
# (where, which call): before the 7th step's loss; right after the 8th step
# (the case a resume once applied twice); during the 3rd meta-val (after
# iteration 9); during the 1st periodic save (iteration 5).
POINTS = [("step", 8), ("val", 3), ("loss", 7), ("save", 1)]
FAST = {("step", 8, "INT"), ("val", 3, "TERM")}


def _cmd(*args):
    return [sys.executable, "-m", "graphmeta.cli", *args]


def _state(run):
    return torch.load(run / "checkpoints" / "maml" / "seed-0.pt", weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    p = subprocess.run(_cmd("train", "--method", "maml", "--out", str(out), *SETTINGS),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return out


@pytest.mark.parametrize("where, call, sig", [
    pytest.param(w, c, s, marks=() if (w, c, s) in FAST else pytest.mark.slow)
    for w, c in POINTS for s in ("INT", "TERM")])
def test_a_signal_anywhere_resumes_to_the_uninterrupted_parameters(tmp_path, whole, where,
                                                                    call, sig):
    plugin = tmp_path / "signal_plugin.py"
    plugin.write_text(PLUGIN)
    cut = tmp_path / "cut"
    env = {**__import__("os").environ, "GM_SIGNAL": sig, "GM_AT": where, "GM_CALL": str(call)}
    p = subprocess.run(_cmd("train", "--method", "maml", "--out", str(cut), "--plugin",
                            str(plugin), *SETTINGS), capture_output=True, text=True,
                       timeout=300, env=env)
    signum = getattr(signal, "SIG" + sig)
    assert p.returncode == 128 + signum, p.stderr
    assert f"interrupted (SIG{sig})" in p.stderr and f"--resume {cut}" in p.stderr
    assert "Traceback" not in p.stderr
    assert not (cut / ".lock").exists() and not (cut / "results.json").exists()
    saved = torch.load(cut / "state" / "maml" / "seed-0.pt", weights_only=True)
    p = subprocess.run(_cmd("train", "--resume", str(cut), "--device", "cpu", "--quiet",
                            "--threads", "1"), capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    a, b = _state(whole), _state(cut)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    res = [json.loads((r / "results.json").read_text())["methods"]["maml"] for r in (whole, cut)]
    assert {k: v for k, v in res[0].items() if k != "seconds"} == \
        {k: v for k, v in res[1].items() if k != "seconds"}
    # the resumed run's seconds count the part before the signal too
    assert res[1]["seconds"] >= saved["elapsed"] > 0
