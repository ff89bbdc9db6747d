"""compare and evaluate, called in-process."""
import json
from pathlib import Path

import pytest
import torch

from graphmeta.cli import main
from graphmeta.config import load_config
from graphmeta.errors import CheckpointError
from graphmeta.methods import get_method
from graphmeta.plugins import load_plugin
from graphmeta.runner import compare, evaluate_run, prepare
from tests.helpers import SHARED, TINY_SETTINGS

CPU = torch.device("cpu")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _strip_seconds(res):
    for m in res["methods"].values():
        m.pop("seconds")
    return res


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    import time
    out = tmp_path_factory.mktemp("run")
    cfg = load_config(None, TINY_SETTINGS + ["seed=3", "methods=[maml, fomaml, maml-mlp, "
                                             "finetune, scratch]"])
    stamps = []
    # in-line (jobs=1): the test below reads each method's time off the log's
    # stamps, which side-by-side workers would interleave
    compare(cfg, out, CPU, progress=False, log=lambda s: stamps.append((time.perf_counter(), s)),
            jobs=1)
    (out / "stamps.json").write_text(json.dumps(stamps))
    return out


def test_method_seconds_are_at_most_the_time_the_method_took(run_dir):
    """A method's seconds (training and test, each counted once; training
    was once counted twice) fit between its line of the log and the line
    before it."""
    res = json.loads((run_dir / "results.json").read_text())
    stamps = json.loads((run_dir / "stamps.json").read_text())
    done = {m: t for t, line in stamps for m in res["methods"] if line.lstrip().startswith(m + " ")}
    order = list(res["methods"])
    for prev, m in zip(order, order[1:]):
        # (seconds are rounded to 10 ms in results.json)
        assert 0 < res["methods"][m]["seconds"] <= done[m] - done[prev] + 0.01, m


def test_compare_writes_every_method_with_the_resolved_spec(run_dir):
    res = json.loads((run_dir / "results.json").read_text())
    assert list(res["methods"]) == ["maml", "fomaml", "maml-mlp", "finetune", "scratch"]
    assert res["spec"]["tasks"]["k_shot"] == 5 and res["spec"]["maml"]["meta_batch"] == 4
    assert res["methods"]["maml"]["settings"] == res["spec"]["maml"]
    assert "dataset" in res["spec"] and "meta" not in res["spec"]
    assert res["spec"]["tasks"]["negatives"] == "uniform" and res["selected_by"] == "val auc"
    assert res["protocol"] == "full" and res["metric"] == "auc"
    ckpts = sorted(str(p.relative_to(run_dir / "checkpoints"))
                   for p in (run_dir / "checkpoints").rglob("*.pt"))
    assert ckpts == ["finetune/seed-3.pt", "fomaml/seed-3.pt", "maml-mlp/seed-3.pt",
                     "maml/seed-3.pt"]
    # every method is paired with the best baseline other than itself
    assert res["paired"]["maml"]["baseline"] in ("finetune", "scratch")
    assert res["paired"]["finetune"]["baseline"] == "scratch"
    assert res["paired"]["scratch"]["baseline"] == "finetune"


def test_evaluate_reproduces_compare_for_every_method(run_dir, tmp_path):
    res = evaluate_run(run_dir, CPU, tmp_path)
    assert (tmp_path / "evaluation.json").exists()
    a = _strip_seconds(json.loads((run_dir / "results.json").read_text()))
    assert _strip_seconds(res)["methods"] == a["methods"] and res["paired"] == a["paired"]
    (run_dir / "checkpoints" / "notamethod.pt").write_bytes(b"junk")   # not in the spec: ignored
    assert set(evaluate_run(run_dir, CPU, tmp_path)["methods"]) == set(a["methods"])


def test_evaluate_scores_the_same_models_under_the_other_negatives(run_dir, tmp_path):
    a = json.loads((run_dir / "results.json").read_text())
    res = evaluate_run(run_dir, CPU, tmp_path, negatives="popularity")
    assert res["negatives"] == {"training": "uniform", "evaluation": "popularity"}
    assert a["negatives"] == {"training": "uniform", "evaluation": "uniform"}
    assert res["spec"]["eval"]["negatives"] == "popularity"
    # the same models (meta-val unchanged), other test candidates
    assert {m: r["val"] for m, r in res["methods"].items()} == \
        {m: r["val"] for m, r in a["methods"].items()}
    assert any(res["methods"][m]["auc"] != a["methods"][m]["auc"] for m in a["methods"])


def test_evaluate_names_a_missing_checkpoint(run_dir, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "config.yaml").write_text((run_dir / "config.yaml").read_text())
    with pytest.raises(CheckpointError,
                       match=r"maml/seed-3.pt: no checkpoint for method 'maml', seed 3"):
        evaluate_run(copy, CPU)


def test_an_externally_registered_method_runs_beside_the_built_ins(tmp_path):
    load_plugin(str(EXAMPLES / "custom_method.py"))
    assert get_method("reptile").training == "meta"
    cfg = load_config(None, TINY_SETTINGS + ["methods=[maml, reptile]"])
    res = compare(cfg, tmp_path, CPU, progress=False, log=lambda s: None)
    assert list(res["methods"]) == ["maml", "reptile"]
    assert (tmp_path / "checkpoints" / "reptile" / "seed-0.pt").exists()
    assert evaluate_run(tmp_path, CPU, tmp_path / "again")["methods"]["reptile"]["auc"] == \
        res["methods"]["reptile"]["auc"]
    assert not (tmp_path / "evaluation.json").exists()          # written under --out


def test_prepare_resolves_few_shot_n_way():
    run = prepare(load_config(None, TINY_SETTINGS + ["tasks.kind=few-shot", "synthetic.n_items=12",
                                                     "tasks.k_shot=2", "tasks.n_query=3"]), CPU)
    assert run.spec.tasks.n_way == run.tasks.n_way <= 5


@pytest.mark.skipif(not (SHARED / "email_eu_core").exists(), reason="mirror not present")
def test_compare_few_shot_on_email_runs_every_method(tmp_path):
    out = tmp_path / "run"
    cfg = load_config(None, [f"dataset.root={SHARED}", "dataset.name=email-eu-core",
                             "tasks.kind=few-shot", "*.iterations=4", "*.eval_every=2",
                             "*.pretrain_iterations=4", "*.inner_steps=3",
                             "tasks.n_val_tasks=4", "tasks.n_test_tasks=8"])
    res = compare(cfg, out, CPU, progress=False, log=lambda s: None)
    assert res["task_kind"] == "few-shot" and res["n_way"] == 5 and res["k_shot"] == 3
    assert list(res["methods"]) == ["maml", "fomaml", "protonet", "gmeta", "finetune", "scratch"]
    assert res["classes"] == {"train": 15, "val": 5, "test": 5}
    assert res["methods"]["gmeta"]["settings"]["inner_lr"] == 0.01
    for m in res["methods"].values():
        assert 0 <= m["accuracy"]["mean"] <= 1 and "auc" not in m
    again = evaluate_run(out, CPU, tmp_path)       # checkpoints evaluate to the same numbers
    for m in res["methods"]:
        assert again["methods"][m]["accuracy"] == res["methods"][m]["accuracy"], m


@pytest.mark.skipif(not (SHARED / "deezer_gemsec").exists(), reason="mirror not present")
def test_compare_on_deezer_hu_runs_every_user_interest_method(tmp_path):
    logs = []
    cfg = load_config(None, [f"dataset.root={SHARED}", "dataset.name=deezer-hu",
                             "methods=[maml, maml-mlp, finetune, scratch, popularity, "
                             "neighbor-vote, itemknn]", "*.iterations=3", "*.eval_every=3",
                             "*.meta_batch=4", "*.pretrain_iterations=3",
                             "scratch.inner_steps=2", "tasks.n_val_tasks=8",
                             "tasks.n_test_tasks=40", "*.hidden=8"])
    res = compare(cfg, tmp_path, CPU, progress=False, log=logs.append)
    assert "node_features='interests'" in logs[0] and "protocol='full'" in logs[1]
    assert res["dataset"] == "deezer-hu" and len(res["methods"]) == 7
    assert all(0 <= m["auc"]["mean"] <= 1 for m in res["methods"].values())
    assert sorted(c.name for c in (tmp_path / "checkpoints").iterdir()) == \
        ["finetune", "maml", "maml-mlp"]
    assert res["paired"]["maml"]["metric"] == "auc"


def test_method_that_does_not_fit_the_task_kind_is_named(tmp_path, capsys):
    rc = main(["compare", "--task", "few-shot", "--methods", "itemknn", "--out", str(tmp_path),
               "--set", "synthetic.n_users=200", "--quiet"])
    assert rc == 2
    assert "'itemknn' does not run on few-shot tasks" in capsys.readouterr().err
