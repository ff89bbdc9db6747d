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


def test_pairs_and_winners_follow_meta_val_and_count_the_seeds(tmp_path):
    run = prepare(load_config(None, TINY_SETTINGS), torch.device("cpu"))
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 0.9, 30)
    # itemknn is best on test, graph-knn on meta-val: graph-knn is the baseline every
    # method is paired with, and the chosen one; maml's 3 seeds disagree.
    per_seed = {"maml": [{"auc": base + d} for d in (0.00, 0.06, 0.03)],
                "maml-mlp": [{"auc": base + 0.01 + d} for d in (0.0, 0.001, 0.002)],
                "itemknn": [{"auc": base + 0.05}], "graph-knn": [{"auc": base}]}
    val = {"maml": [{"auc": 0.80}] * 3, "maml-mlp": [{"auc": 0.82}] * 3,
           "itemknn": [{"auc": 0.70}], "graph-knn": [{"auc": 0.75}]}
    res = summarize(run.spec, run.evaluator, per_seed, dict.fromkeys(per_seed, 1.0),
                    lambda m: [0, 1, 2] if m.startswith("maml") else [0], val=val)
    assert res["chosen"] == {"by": "val auc", "meta-learner": "maml-mlp", "baseline": "graph-knn"}
    assert res["methods"]["maml"]["val"] == 0.8
    p = res["paired"]
    assert p["maml"]["baseline"] == "graph-knn" and p["itemknn"]["baseline"] == "graph-knn"
    assert p["graph-knn"]["baseline"] == "itemknn"
    assert p["maml"]["interval"] == "users+seeds" and p["maml"]["seeds"] == [3, 1]
    assert p["maml"]["diff"] == pytest.approx(0.03)
    # maml's seed spread (sd 0.03 over 3 seeds) makes its interval wide
    assert p["maml"]["ci95"] > 0.05 > p["maml-mlp"]["ci95"]
    ps = [p[m]["p"] for m in p]
    from graphmeta.eval import holm
    assert [p[m]["p_holm"] for m in p] == pytest.approx(holm(ps), abs=1e-6)
    assert all(p[m]["p_holm"] >= p[m]["p"] for m in p)
    assert res["negatives"] == {"training": "uniform", "evaluation": "uniform"}
    table = format_table(res)
    # the headline: meta-val's two choices, paired in every metric, Holm over the metrics
    per_seed = {m: [{"auc": s["auc"], "ndcg@10": s["auc"] - 0.2 + 0.01 * (m == "maml-mlp")}
                    for s in v] for m, v in per_seed.items()}
    h = summarize(run.spec, run.evaluator, per_seed, dict.fromkeys(per_seed, 1.0),
                  lambda m: [0, 1, 2] if m.startswith("maml") else [0], val=val)["headline"]
    assert (h["meta-learner"], h["baseline"]) == ("maml-mlp", "graph-knn")
    assert h["metrics"]["auc"]["diff"] == pytest.approx(0.011)
    assert h["metrics"]["ndcg@10"]["diff"] == pytest.approx(0.021)
    assert h["metrics"]["auc"]["interval"] == "users+seeds"
    assert h["metrics"]["auc"]["seeds"] == [3, 1]
    assert [h["metrics"][k]["p_holm"] for k in ("auc", "ndcg@10")] == pytest.approx(
        holm([h["metrics"][k]["p"] for k in ("auc", "ndcg@10")]), abs=1e-6)
    assert "maml-mlp minus graph-knn (meta-val's choices" in format_table(
        summarize(run.spec, run.evaluator, per_seed, dict.fromkeys(per_seed, 1.0),
                  lambda m: [0, 1, 2] if m.startswith("maml") else [0], val=val))
    assert "maml-mlp *" in table and "graph-knn *" in table and "maml *" not in table
    users = run.evaluator.users("test")
    write_run(tmp_path, run.spec, res, [], per_seed, users)
    rows = list(csv.DictReader((tmp_path / "per_task.csv").open()))
    assert [int(r["user"]) for r in rows[:30]] == users.tolist()


def test_the_test_candidates_do_not_move_with_the_training_sampler():
    a = prepare(load_config(None, TINY_SETTINGS), torch.device("cpu"))
    b = prepare(load_config(None, TINY_SETTINGS + ["tasks.negatives=popularity"]),
                torch.device("cpu"))
    c = prepare(load_config(None, TINY_SETTINGS + ["eval.negatives=popularity"]),
                torch.device("cpu"))
    assert b.tasks.negatives == "popularity" and b.evaluator.negatives == "uniform"

    def items(run, split):
        return [(x.support_items, x.query_items) for x in run.evaluator.batches(split)]
    for split in ("val", "test"):
        for (sa, qa), (sb, qb) in zip(items(a, split), items(b, split)):
            assert torch.equal(sa, sb) and torch.equal(qa, qb)
    # the protocol's own key does change them (the support negatives, so the candidates)
    assert any(not torch.equal(sa, sc) for (sa, _), (sc, _) in zip(items(a, "test"),
                                                                    items(c, "test")))
    assert list(a.evaluator.users("test")) == [int(u) for x in a.evaluator.batches("test")
                                               for u in x.users]
