import csv
import json
import subprocess
import sys

import pytest
import torch

TINY = ["--set", "dataset.n_users=240", "--set", "dataset.n_blocks=6",
        "--set", "dataset.p_in=0.08", "--set", "meta.iterations=4",
        "--set", "meta.eval_every=2", "--set", "meta.meta_batch=4",
        "--set", "baselines.pretrain_iterations=4", "--set", "baselines.scratch_steps=3",
        "--set", "tasks.n_val_tasks=8", "--set", "tasks.n_test_tasks=30",
        "--set", "model.hidden=8", "--set", "model.head_hidden=8",
        "--device", "cpu", "--quiet", "--threads", "1"]


def graphmeta(*args):
    return subprocess.run([sys.executable, "-m", "graphmeta.cli", *args],
                          capture_output=True, text=True, timeout=300)


def _strip_seconds(res):
    for m in res["methods"].values():
        m.pop("seconds")
    return res


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    p = graphmeta("compare", "--methods", "maml,fomaml,maml-mlp,finetune,scratch",
                  "--out", str(out), "--seed", "3", *TINY)
    assert p.returncode == 0, p.stderr
    assert "maml-mlp" in p.stdout and "ROC-AUC" in p.stdout
    return out


def test_run_directory_contents(run_dir):
    res = json.loads((run_dir / "results.json").read_text())
    assert res["dataset"] == "synthetic" and res["task_kind"] == "user-interest"
    assert res["n_test_tasks"] == 30
    assert set(res["methods"]) == {"maml", "fomaml", "maml-mlp", "finetune", "scratch"}
    for m in res["methods"].values():
        for metric in ("accuracy", "auc"):
            assert 0 <= m[metric]["mean"] <= 1 and m[metric]["ci95"] > 0
        assert m["seconds"] > 0
    rows = list(csv.DictReader((run_dir / "metrics.csv").open()))
    assert {r["method"] for r in rows} == {"maml", "fomaml", "maml-mlp", "finetune"}
    assert [r["iteration"] for r in rows if r["method"] == "maml"] == ["2", "4"]
    state = torch.load(run_dir / "checkpoints" / "maml.pt", weights_only=True)
    assert any(k.startswith("encoder.convs.0") for k in state)
    assert (run_dir / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "seed: 3" in (run_dir / "config.yaml").read_text()
    assert not list(run_dir.rglob("*.tmp"))


def test_same_seed_same_results(run_dir, tmp_path):
    p = graphmeta("compare", "--methods", "maml,fomaml,maml-mlp,finetune,scratch",
                  "--out", str(tmp_path), "--seed", "3", *TINY)
    assert p.returncode == 0, p.stderr
    a = _strip_seconds(json.loads((run_dir / "results.json").read_text()))
    b = _strip_seconds(json.loads((tmp_path / "results.json").read_text()))
    assert a == b


def test_evaluate_reproduces_compare(run_dir, tmp_path):
    p = graphmeta("evaluate", str(run_dir), "--out", str(tmp_path), "--device", "cpu")
    assert p.returncode == 0, p.stderr
    a = _strip_seconds(json.loads((run_dir / "results.json").read_text()))
    b = _strip_seconds(json.loads((tmp_path / "results.json").read_text()))
    assert b["methods"] == {k: v for k, v in a["methods"].items() if k != "scratch"}


def test_train_writes_one_checkpoint(tmp_path):
    p = graphmeta("train", "--method", "maml-mlp", "--out", str(tmp_path), *TINY)
    assert p.returncode == 0, p.stderr
    assert [c.name for c in (tmp_path / "checkpoints").iterdir()] == ["maml-mlp.pt"]


def test_errors_are_clear(tmp_path):
    p = graphmeta("train", "--out", str(tmp_path), "--set", "meta.inner_stepz=2")
    assert p.returncode == 2 and "unknown key 'meta.inner_stepz'" in p.stderr
    p = graphmeta("evaluate", str(tmp_path / "nowhere"))
    assert p.returncode == 2 and "config.yaml" in p.stderr
    assert not (tmp_path / "results.json").exists()
