"""The run directory's files and the printed table."""
import csv
import json

import numpy as np
import pytest
import torch
import yaml

from graphmeta.config import load_config
from graphmeta.rundir import (format_table, read_per_task, summarize, write_config, write_json,
                              write_run)
from graphmeta.run import prepare
from tests.helpers import TINY_SETTINGS


def test_write_run_writes_every_file_atomically(tmp_path):
    run = prepare(load_config(None, TINY_SETTINGS), torch.device("cpu"))
    per_seed = {"maml": [{"auc": np.array([0.5, 0.7, np.nan])},
                         {"auc": np.array([0.7, 0.7, np.nan])}],
                "itemknn": [{"auc": np.array([0.4, 0.6, 0.5])}]}
    results = summarize(run.spec, run.evaluator, per_seed, {"maml": 1.234, "itemknn": 0.1},
                        lambda m: [0, 1] if m == "maml" else [0])
    history = [{"method": "maml", "seed": 0, "iteration": 2, "train_loss": 0.5, "val_auc": 0.7,
                "seconds": 1.0}]
    write_config(tmp_path, run.spec)
    write_run(tmp_path, run.spec, results, history, per_seed)
    write_json(tmp_path / "results.json", results)
    assert load_config(tmp_path / "config.yaml").section("tasks").k_shot == 5
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["eval"]["select"] == "auc"
    res = json.loads((tmp_path / "results.json").read_text())
    m = res["methods"]["maml"]
    assert m["auc"]["mean"] == 0.65 and m["seeds"] == [0, 1]   # seed-averaged: 0.6, 0.7, -
    assert m["seed_sd"]["auc"] == round(float(np.std([0.6, 0.7], ddof=1)), 6)
    assert m["seconds"] == 1.23 and res["spec"]["seed"] == 0
    p = res["paired"]["maml"]
    assert (p["baseline"], p["metric"], p["n"]) == ("itemknn", "auc", 2)   # tasks both score
    assert p["diff"] == pytest.approx(0.15)
    assert p["ci95"] is None and m["auc"]["ci95"] is None   # 2 tasks: no interval, not a 0-wide one
    table = format_table(res)
    assert "0.650 ±   -  " in table and "+0.150 ±   -  " in table
    rows = list(csv.DictReader((tmp_path / "per_task.csv").open()))
    assert [(r["method"], r["auc"]) for r in rows][:2] == [("maml", "0.6"), ("maml", "0.7")]
    assert list(csv.DictReader((tmp_path / "metrics.csv").open()))[0]["iteration"] == "2"
    assert (tmp_path / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.rglob("*.tmp"))
    back = read_per_task(tmp_path, "auc")             # what the benchmark scripts pair
    np.testing.assert_array_equal(back["maml"], [0.6, 0.7, np.nan])
    np.testing.assert_array_equal(back["itemknn"], [0.4, 0.6, 0.5])
    with pytest.raises(ValueError, match=r"per_task.csv: no column 'ndcg@10' \(columns: "):
        read_per_task(tmp_path, "ndcg@10")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_per_task(tmp_path / "missing", "auc")


def test_table_aligns_long_method_names():
    cell = {"mean": 0.5, "ci95": 0.1}
    r = {"dataset": "d", "task_kind": "user-interest", "protocol": "full", "metric": "auc",
         "n_test_tasks": 2, "paired": {"maml": {"baseline": "itemknn", "diff": 0.1, "ci95": 0.05}},
         "methods": {m: {"auc": cell, "ndcg@10": cell, "recall@10": cell, "mrr": cell,
                         "seed_sd": {"auc": 0.01}, "seconds": 1.0}
                     for m in ("maml", "neighbor-vote-long-name")}}
    header, *rows = format_table(r).splitlines()[1:]
    assert len({len(line) for line in [header, *rows]}) == 1
    assert len({row.index("0.500") for row in rows}) == 1 and "+0.100 ± 0.050" in rows[0]
