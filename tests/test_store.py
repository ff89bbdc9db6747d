"""The run directory while it is written: checked first, locked, resumable."""
import json
import os
import subprocess
import sys

import pytest
import torch

from graphmeta.errors import RunDirError
from graphmeta.store import RunStore


def test_out_must_be_a_writable_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(RunDirError, match="is a file, not a directory"):
        RunStore(f)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if not os.access(ro, os.W_OK):           # root can write anywhere
            with pytest.raises(RunDirError, match="cannot write in"):
                RunStore(ro / "run")
    finally:
        ro.chmod(0o700)


def test_an_existing_run_is_refused_unless_resumed_or_forced(tmp_path):
    (tmp_path / "config.yaml").write_text("seed: 0\n")
    (tmp_path / "results.json").write_text("{}")
    (tmp_path / "mine.txt").write_text("keep")
    (tmp_path / "profile.json").write_text("{}")
    (tmp_path / "tensorboard" / "maml").mkdir(parents=True)
    with pytest.raises(RunDirError, match="already holds a run; use --resume"):
        RunStore(tmp_path)
    with pytest.raises(RunDirError, match="no run to resume"):
        RunStore(tmp_path / "empty", resume=True)
    with RunStore(tmp_path, force=True):
        assert not (tmp_path / "results.json").exists()
        assert not (tmp_path / "profile.json").exists() and not (tmp_path / "tensorboard").exists()
    assert (tmp_path / "mine.txt").read_text() == "keep"      # only graphmeta's own files go


def test_the_lock_keeps_a_second_writer_out_and_stale_locks_are_taken_over(tmp_path):
    with RunStore(tmp_path / "r"):
        assert (tmp_path / "r" / ".lock").read_text() == str(os.getpid())
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            (tmp_path / "r" / ".lock").write_text(str(sleeper.pid))
            with pytest.raises(RunDirError,
                               match=f"another graphmeta process \\(pid {sleeper.pid}"):
                RunStore(tmp_path / "r").__enter__()
        finally:
            sleeper.kill()
            sleeper.wait()
        with RunStore(tmp_path / "r"):                         # its process is gone: taken over
            pass
    assert not (tmp_path / "r" / ".lock").exists()


def test_states_are_keyed_by_the_resolved_settings(tmp_path):
    with RunStore(tmp_path / "r") as s:
        s.save("maml", 0, "k1", {"iteration": 3, "w": torch.ones(2)})
    (tmp_path / "r" / "config.yaml").write_text("seed: 0\n")
    with RunStore(tmp_path / "r", resume=True) as s:
        assert s.load("maml", 0, "k1")["iteration"] == 3
        assert s.load("maml", 0, "other settings") is None
        s.finish("maml", 0, "k1", {"auc": [0.5, 0.7]}, [{"iteration": 3}], 1.5)
        assert not (tmp_path / "r" / "state" / "maml" / "seed-0.pt").exists()
        done = s.finished("maml", 0, "k1")
        assert done["metrics"]["auc"].tolist() == [0.5, 0.7] and done["seconds"] == 1.5
        (tmp_path / "r" / "state" / "maml" / "seed-0.done.pt").write_bytes(b"trunc")
        with pytest.raises(RunDirError, match="seed-0.done.pt: unreadable"):
            s.finished("maml", 0, "k1")


def test_changed_names_what_differs_from_the_saved_state(tmp_path):
    k1 = json.dumps({"meta": {"inner_lr": 0.1, "inner_steps": 5}, "model": {"hidden": 8}})
    k2 = json.dumps({"meta": {"inner_lr": 0.01, "inner_steps": 5}, "model": {"hidden": 8}})
    with RunStore(tmp_path / "r") as s:
        s.finish("maml", 0, k1, {"auc": [0.5]}, [], 1.0)
    (tmp_path / "r" / "config.yaml").write_text("seed: 0\n")
    with RunStore(tmp_path / "r", resume=True) as s:
        assert s.changed("maml", 0, k1) is None and s.changed("maml", 1, k1) is None
        assert s.changed("maml", 0, k2) == "meta.inner_lr: 0.1 -> 0.01"
        s.save("maml", 0, k2, {"iteration": 3})     # retraining under k2, interrupted:
        assert s.changed("maml", 0, k2) is None     # it resumes, nothing to announce
