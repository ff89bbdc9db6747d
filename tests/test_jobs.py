"""Method-seed pairs trained side by side in worker processes
(graphmeta.jobs): the same scores as one after another, interrupts that
stop every worker and resume exactly, and a method registered where the
workers cannot see it trained in-line."""
import json
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

import graphmeta.plugins

from graphmeta.config import load_config
from graphmeta.profile import profiling
from graphmeta.runner import compare
from tests.helpers import TINY, TINY_SETTINGS

METHODS = "methods=[maml,finetune,popularity]"


def _cmd(*args):
    return [sys.executable, "-m", "graphmeta.cli", *args]


def _per_task(run):
    return (run / "per_task.csv").read_text()


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_pairs_side_by_side_score_exactly_as_one_after_another(tmp_path, one_thread,
                                                                monkeypatch):
    # One thread in this process and in each worker: the same arithmetic.
    monkeypatch.setattr(graphmeta.plugins, "_loaded", [])   # other tests' temporary plug-ins
    runs = {}
    for jobs in (1, 2):
        cfg = load_config(None, TINY_SETTINGS + [METHODS, "eval.seeds=2"])
        lines = []
        with profiling() as prof:
            res = compare(cfg, tmp_path / f"jobs{jobs}", torch.device("cpu"), progress=False,
                          log=lines.append, jobs=jobs)
        runs[jobs] = (res, prof, lines)
    (one, _, lines1), (two, prof, lines2) = runs[1], runs[2]
    assert not any("processes" in s for s in lines1)
    assert "training 4 method-seed pairs in 2 processes, 1 thread each" in lines2
    assert not any("could not prepare" in s for s in lines2)      # the workers trained them
    for m in ("maml", "finetune", "popularity"):
        a, b = one["methods"][m], two["methods"][m]
        assert {k: v for k, v in a.items() if k != "seconds"} == \
            {k: v for k, v in b.items() if k != "seconds"}, m
    assert _per_task(tmp_path / "jobs1") == _per_task(tmp_path / "jobs2")
    # the workers' stages are in the parent's profile
    d = prof.to_dict()
    assert d["jobs"] == 2 and d["rows"]["maml"]["step"] > 0 and d["rows"]["finetune"]["step"] > 0
    assert "2 processes side by side" in prof.table()


SETTINGS = TINY + ["--set", "*.iterations=12", "--set", "*.eval_every=3",
                   "--set", "run.checkpoint_every=5", "--jobs", "2",
                   "--methods", "maml,finetune"]
# Loaded by the workers too (graphmeta.plugins.loaded): maml's worker sends
# the signal at its 8th optimiser step, to itself or to the parent.
PLUGIN = '''
import os, signal
import graphmeta.optimiser
SIG = getattr(signal, "SIG" + os.environ["GM_SIGNAL"])
Optimiser, calls = graphmeta.optimiser.Optimiser, [0]
init, original = Optimiser.__init__, Optimiser.step

def __init__(self, learner, lr):
    init(self, learner, lr)
    self.method = learner.ctx.method

def step(self, *args, **kwargs):
    out = original(self, *args, **kwargs)
    if self.method == "maml":
        calls[0] += 1
        if calls[0] == 8:
            os.kill(os.getpid() if os.environ["GM_TO"] == "self" else os.getppid(), SIG)
    return out
Optimiser.__init__, Optimiser.step = __init__, step
'''


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    p = subprocess.run(_cmd("compare", "--out", str(out), *SETTINGS), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return out


@pytest.mark.parametrize("sig, to", [("INT", "self"),
                                     pytest.param("TERM", "parent", marks=pytest.mark.slow)])
def test_an_interrupt_stops_the_workers_and_resume_ends_as_an_uninterrupted_run(
        tmp_path, whole, sig, to):
    plugin = tmp_path / "signal_plugin.py"
    plugin.write_text(PLUGIN)
    cut = tmp_path / "cut"
    env = {**__import__("os").environ, "GM_SIGNAL": sig, "GM_TO": to}
    p = subprocess.run(_cmd("compare", "--out", str(cut), "--plugin", str(plugin), *SETTINGS),
                       capture_output=True, text=True, timeout=300, env=env)
    signum = getattr(signal, "SIG" + sig)
    assert p.returncode == 128 + signum, p.stderr
    assert f"--resume {cut}" in p.stderr and "Traceback" not in p.stderr
    assert not (cut / ".lock").exists() and not (cut / "results.json").exists()
    assert (cut / "state" / "maml" / "seed-0.pt").exists()      # maml's state was saved
    p = subprocess.run(_cmd("compare", "--resume", str(cut), "--device", "cpu", "--quiet",
                            "--threads", "1", "--jobs", "2"), capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    for m in ("maml", "finetune"):
        a, b = (torch.load(r / "checkpoints" / m / "seed-0.pt", weights_only=True)["state_dict"]
                for r in (whole, cut))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), m
    res = [json.loads((r / "results.json").read_text())["methods"] for r in (whole, cut)]
    for m in ("maml", "finetune"):
        assert {k: v for k, v in res[0][m].items() if k != "seconds"} == \
            {k: v for k, v in res[1][m].items() if k != "seconds"}


SCRIPT = '''
import sys
from pathlib import Path
import torch
from graphmeta.config import load_config
from graphmeta.methods import register_method
from graphmeta.runner import compare
from graphmeta.methods import get_method

if __name__ == "__main__":
    # registered here only: a worker process cannot know this method
    register_method("maml-here", kinds=("user-interest",), training="meta",
                    config=get_method("maml").config)(get_method("maml").build)
    torch.set_num_threads(2)
    lines = []
    res = compare(load_config(None, {settings!r} + ["methods=[maml-here,finetune]",
                                                    "eval.seeds=2"]),
                  Path(sys.argv[1]), torch.device("cpu"), progress=False, log=lines.append,
                  jobs=2)
    print("\\n".join(lines))
    print(sorted(res["methods"]))
'''


def test_a_method_the_workers_cannot_know_trains_in_line(tmp_path):
    script = tmp_path / "mine.py"
    script.write_text(textwrap.dedent(SCRIPT.format(settings=TINY_SETTINGS)))
    p = subprocess.run([sys.executable, str(script), str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "training 4 method-seed pairs in 2 processes" in p.stdout
    assert "could not prepare the run" in p.stdout and "unknown method 'maml-here'" in p.stdout
    assert "['finetune', 'maml-here']" in p.stdout
    assert len(list((tmp_path / "run" / "state").glob("*/seed-*.done.pt"))) == 4
