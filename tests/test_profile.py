"""``--profile``: every second of a run counted once, in the stage it was
spent in, per method; the table and profile.json from the command line."""
import json
import subprocess
import sys
import time

import pytest
import torch

from graphmeta.config import load_config
from graphmeta.profile import profiling, row, stage
from graphmeta.runner import compare
from tests.helpers import TINY, TINY_SETTINGS


def test_nested_stages_count_each_second_once():
    with profiling() as p:
        with row("m"), stage("step"):
            time.sleep(0.05)
            with stage("meta-val"):       # pauses "step"
                time.sleep(0.05)
    d = p.to_dict()
    assert 0.045 < d["rows"]["m"]["step"] < 0.08 and 0.045 < d["rows"]["m"]["meta-val"] < 0.08
    assert sum(d["stages"].values()) <= d["wall"] + 1e-6
    with stage("step"):                   # outside profiling(): nothing recorded
        pass
    assert d == p.to_dict()


def test_a_comparison_is_broken_down_by_method_and_stage(tmp_path):
    cfg = load_config(None, TINY_SETTINGS + ["methods=[maml,popularity]"])
    with profiling() as p:
        compare(cfg, tmp_path / "run", torch.device("cpu"), progress=False, log=lambda s: None,
                jobs=1)
    d = p.to_dict()
    assert {"sample", "step", "meta-val", "test"} <= set(d["rows"]["maml"])
    assert {"load", "features"} <= set(d["rows"]["run"]) and "step" not in d["rows"]["popularity"]
    # each figure is rounded to the millisecond: the sum may be off by half of one for each
    rounding = 0.0005 * (len(d["stages"]) + 2) + 1e-9
    assert sum(d["stages"].values()) + d["other"] == pytest.approx(d["wall"], abs=rounding)
    assert "share" in p.table() and "in no stage" in p.table()


def test_the_command_line_prints_the_table_and_writes_profile_json(tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "graphmeta.cli", "compare", "--methods", "maml",
                        "--out", str(out), "--profile", *TINY], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    assert "seconds" in p.stdout and f"wrote {out / 'profile.json'}" in p.stdout
    d = json.loads((out / "profile.json").read_text())
    assert d["rows"]["maml"]["step"] > 0 and d["wall"] > 0 and d["jobs"] == 1
