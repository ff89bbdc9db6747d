"""Meta-selection methods in a run: candidates trained once, the selector's
state in the checkpoint, the oracle report."""
import hashlib

import numpy as np
import torch
import yaml

from graphmeta.config import load_config
from graphmeta.methods.selection import FEATURES, cross_fit, meta_features
from graphmeta.meta.selection import CS, MetaSelector
from graphmeta.run import prepare
from graphmeta.runner import compare, evaluate_run
from tests.helpers import TINY_SETTINGS

CPU = torch.device("cpu")
SETTINGS = TINY_SETTINGS + ["*.candidates=[maml, itemknn, popularity]",
                            "select-knn.neighbors=5"]


def test_meta_features_describe_support_and_ego(tmp_path):
    run = prepare(load_config(None, SETTINGS + ["methods=[select-knn]"]), CPU)
    from graphmeta.methods import InterestScorers
    b = run.tasks.collate(run.tasks.fixed_tasks("test", 6, 0))
    X = meta_features(InterestScorers(run.tasks), b)
    assert X.shape == (6, len(FEATURES)) and (X[:, 0] == 5).all()      # 5 support positives
    assert (X[:, 1] == b.graphs.node_mask.sum(1).numpy()).all()


def test_selectors_run_beside_their_candidates_and_reload(tmp_path):
    cfg = load_config(None, SETTINGS + ["methods=[maml, itemknn, select-knn, select-clf, blend]",
                                        "blend.fallback=false"])   # the blend's own report
    res = compare(cfg, tmp_path, CPU, progress=False, log=lambda s: None)
    rep = res["methods"]["select-knn"]["selection"][0]
    assert set(rep["candidates"]) == {"maml", "itemknn", "popularity"}
    assert 0 <= rep["oracle_rate"] <= 1 and rep["oracle_score"] >= rep["best_single_score"]
    assert rep["oracle_score"] >= rep["selected_score"]
    assert sum(rep["choices"].values()) <= res["n_test_tasks"]
    blend = res["methods"]["blend"]
    assert "oracle_rate" not in blend["selection"][0]
    assert abs(sum(blend["selection"][0]["mean_weights"].values()) - 1) < 1e-3
    assert blend["selection"][0]["C"] in CS and "C" not in rep         # C: auto, chosen on meta-val
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


def _digests(paths):
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths]


def test_editing_a_selectors_settings_refits_it_and_keeps_its_candidates(tmp_path):
    cfg = load_config(None, SETTINGS + ["methods=[maml, blend]", "blend.C=1"])
    compare(cfg, tmp_path, CPU, progress=False, log=lambda s: None)
    maml = [tmp_path / "state" / "maml" / "seed-0.done.pt",
            tmp_path / "checkpoints" / "maml" / "seed-0.pt"]
    before = _digests(maml)
    blend = (tmp_path / "state" / "blend" / "seed-0.done.pt").read_bytes()
    edited = yaml.safe_load((tmp_path / "config.yaml").read_text())
    edited["blend"]["C"] = 0.1
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(edited))
    said = []
    res = compare(load_config(tmp_path / "config.yaml"), tmp_path, CPU, progress=False,
                  log=said.append, resume=True)
    assert _digests(maml) == before                 # maml was not trained again
    assert (tmp_path / "state" / "blend" / "seed-0.done.pt").read_bytes() != blend
    assert res["methods"]["blend"]["selection"][0]["C"] == 0.1
    assert [s.strip() for s in said if "saved under" in s] == [
        "blend seed 0: saved under other settings (blend.C: 1.0 -> 0.1); training it again"]
    # a changed setting of a candidate retrains it, and the selector built on it
    edited["maml"]["hidden"] = 6
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(edited))
    said.clear()
    compare(load_config(tmp_path / "config.yaml"), tmp_path, CPU, progress=False,
            log=said.append, resume=True)
    assert _digests(maml) != before
    assert [s.strip() for s in said if "saved under" in s] == [
        "maml seed 0: saved under other settings (maml.hidden: 8 -> 6); training it again",
        "blend seed 0: saved under other settings (maml.hidden: 8 -> 6); training it again"]


def _collected(informative, T=400, seed=0):
    """What ``Selection._collect`` returns for two candidates: candidate 0 is
    best on 60% of the tasks; which ones is feature 0's sign if
    ``informative``, else unrelated to the meta-features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, 3))
    first = X[:, 0] > -0.25 if informative else rng.random(T) < 0.6
    per_task = np.where(first[:, None], [0.9, 0.7], [0.7, 0.9])
    return (X, np.zeros((2, T, 4)), np.zeros((T, 4)), np.ones((T, 4), bool), per_task)


def test_cross_fitting_tells_a_useful_selector_from_a_useless_one():
    """The fallback rule's two scores: a selector beats the best single
    candidate held out only where the meta-features say which is best."""
    for informative in (True, False):
        own, single = cross_fit("knn", lambda: MetaSelector("knn", n_neighbors=1),
                                _collected(informative), "auc")
        assert not np.isnan(own).any() and np.isin(single, [0.7, 0.9]).all()
        # the best single candidate is candidate 0 in both halves: 0.9 on 60% of tasks
        assert abs(single.mean() - 0.82) < 0.02
        assert (own.mean() > single.mean() + 0.05) == informative
        assert (own.mean() < single.mean() - 0.02) == (not informative)


def test_fallback_uses_the_best_single_candidate_unless_the_selector_beats_it(tmp_path):
    """With ``fallback`` a selector no better than the best single
    candidate on cross-fitted meta-val is replaced by that candidate (its
    predictions and scores are the candidate's); without, it is used."""
    base = SETTINGS + ["methods=[maml, select-knn, select-clf, blend]"]
    on = compare(load_config(None, base), tmp_path / "on", CPU, progress=False,
                 log=lambda s: None)
    off = compare(load_config(None, base + ["*.fallback=false"]), tmp_path / "off",
                  CPU, progress=False, log=lambda s: None)
    fell = 0
    for m in ("select-knn", "select-clf", "blend"):
        rep, plain = on["methods"][m]["selection"][0], off["methods"][m]["selection"][0]
        assert plain["fallback"] is None
        assert plain["val_selector"] == rep["val_selector"]           # the same fit
        assert plain["selector_score"] == rep["selector_score"] == plain["selected_score"]
        assert (rep["fallback"] is None) == (rep["val_selector"] > rep["val_best_single"])
        if rep["fallback"] is None:
            assert on["methods"][m]["auc"] == off["methods"][m]["auc"]
            continue
        fell += 1
        assert rep["selected_score"] == rep["candidates"][rep["fallback"]]
        assert set(rep["choices"].values()) <= {0, sum(rep["choices"].values())}
        if rep["fallback"] == "maml":
            assert on["methods"][m]["auc"] == on["methods"]["maml"]["auc"]
    assert fell                                     # the tiny run exercises the fallback
    # the decision is saved with the selector: a reloaded run predicts the same
    again = evaluate_run(tmp_path / "on", CPU, tmp_path / "again")
    for m in ("select-knn", "select-clf", "blend"):
        assert again["methods"][m]["auc"] == on["methods"][m]["auc"]
