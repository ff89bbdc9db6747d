"""Meta-selection methods in a run: candidates trained once, the selector's
state in the checkpoint, the oracle report."""
import torch

from graphmeta.config import load_config
from graphmeta.methods.selection import FEATURES, meta_features
from graphmeta.meta.selection import CS
from graphmeta.runner import compare, evaluate_run, prepare
from tests.helpers import TINY_SETTINGS

CPU = torch.device("cpu")
SETTINGS = TINY_SETTINGS + ["selection.candidates=[maml, itemknn, popularity]",
                            "selection.neighbors=5"]


def test_meta_features_describe_support_and_ego(tmp_path):
    run = prepare(load_config(None, SETTINGS + ["methods=[select-knn]"]), CPU)
    from graphmeta.methods import InterestScorers
    b = run.tasks.collate(run.tasks.fixed_tasks("test", 6, 0))
    X = meta_features(InterestScorers(run.tasks), b)
    assert X.shape == (6, len(FEATURES)) and (X[:, 0] == 5).all()      # 5 support positives
    assert (X[:, 1] == b.graphs.node_mask.sum(1).numpy()).all()


def test_selectors_run_beside_their_candidates_and_reload(tmp_path):
    cfg = load_config(None, SETTINGS + ["methods=[maml, itemknn, select-knn, select-clf, blend]"])
    res = compare(cfg, tmp_path, CPU, progress=False, log=lambda s: None)
    rep = res["methods"]["select-knn"]["selection"][0]
    assert set(rep["candidates"]) == {"maml", "itemknn", "popularity"}
    assert 0 <= rep["oracle_rate"] <= 1 and rep["oracle_score"] >= rep["best_single_score"]
    assert rep["oracle_score"] >= rep["selected_score"]
    assert sum(rep["choices"].values()) <= res["n_test_tasks"]
    blend = res["methods"]["blend"]
    assert "oracle_rate" not in blend["selection"][0]
    assert abs(sum(blend["selection"][0]["mean_weights"].values()) - 1) < 1e-3
    assert blend["selection"][0]["C"] in CS and "C" not in rep          # C: auto, chosen on meta-val
    # the report's score is the blend's own test score (one seed here)
    assert abs(blend["selection"][0]["selected_score"] - blend["auc"]["mean"]) < 1e-5
    # the candidate maml inside the selector is the run's maml (trained once)
    state = torch.load(tmp_path / "checkpoints" / "select-knn" / "seed-0.pt",
                       weights_only=True)["state_dict"]
    maml = torch.load(tmp_path / "checkpoints" / "maml" / "seed-0.pt",
                      weights_only=True)["state_dict"]
    assert all(torch.equal(state[f"candidates.maml.{k}"], v) for k, v in maml.items())
    again = evaluate_run(tmp_path, CPU, tmp_path / "again")
    for m in ("select-knn", "select-clf", "blend"):
        assert again["methods"][m]["auc"] == res["methods"][m]["auc"], m
