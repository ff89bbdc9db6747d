"""The run directory's files and the printed table."""
import csv
import json

import numpy as np
import torch
import yaml

from graphmeta.config import load_config
from graphmeta.rundir import format_table, summarize, write_run
from graphmeta.runner import prepare
from tests.helpers import TINY_SETTINGS


def test_write_run_writes_every_file_atomically(tmp_path):
    run = prepare(load_config(None, TINY_SETTINGS), torch.device("cpu"))
    metrics = {"maml": {"accuracy": np.array([0.5, 0.7]), "auc": np.array([0.6, np.nan])}}
    results = summarize(run.spec, run.tasks, metrics, {"maml": 1.234})
    history = [{"method": "maml", "iteration": 2, "train_loss": 0.5, "val_accuracy": 0.6,
                "val_auc": 0.7, "seconds": 1.0}]
    write_run(tmp_path, run.spec, results, history, {"maml": {"w": torch.ones(2)}})
    assert load_config(tmp_path / "config.yaml")["tasks"]["k_shot"] == 5
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["meta"]["select"] == "accuracy"
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["methods"]["maml"]["accuracy"]["mean"] == 0.6
    assert res["methods"]["maml"]["auc"]["mean"] == 0.6      # a task without AUC is left out
    assert res["methods"]["maml"]["seconds"] == 1.23 and res["spec"]["seed"] == 0
    assert list(csv.DictReader((tmp_path / "metrics.csv").open()))[0]["iteration"] == "2"
    assert torch.equal(torch.load(tmp_path / "checkpoints" / "maml.pt", weights_only=True)["w"],
                       torch.ones(2))
    assert (tmp_path / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.rglob("*.tmp"))


def test_table_aligns_long_method_names():
    r = {"dataset": "d", "task_kind": "user-interest", "n_test_tasks": 2,
         "methods": {m: {"accuracy": {"mean": 0.5, "ci95": 0.1}, "auc": {"mean": 0.6, "ci95": 0.1},
                         "seconds": 1.0} for m in ("maml", "neighbor-vote-long-name")}}
    header, *rows = format_table(r).splitlines()[1:]
    assert len({len(line) for line in [header, *rows]}) == 1
    assert len({row.index("0.500") for row in rows}) == 1
