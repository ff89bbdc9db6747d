"""Equal-budget tuning on meta-val: the budget, the draw, and the sealed test split."""
import copy
import math

import pytest
import dataclasses
import json

import torch

from graphmeta.build import build_tasks
from graphmeta.config import load_config
from graphmeta.eval import Evaluator
from graphmeta.methods import get_method, registry
from graphmeta.run import Run, prepare
from graphmeta.runner import compare, search_space
from graphmeta.settings import Facts, Range, setting
from graphmeta.tune import Space, configurations, search, tune
from tests.helpers import TINY_SETTINGS

CPU = torch.device("cpu")


def _distinct(space: Space, tried: list[dict]) -> bool:
    return len({space.canonical(t) for t in tried}) == len(tried)


def test_a_space_that_fits_the_budget_is_tried_whole_defaults_first():
    space = Space({"a": [1, 2, 3], "b": ["x", "y"]}, base={"a": 1, "b": "x"})
    c = configurations(space, 4, seed=0)
    assert c[0] == {} and len(c) == 4 and _distinct(space, c)
    assert c == configurations(space, 4, seed=0)
    # the defaults are one of the grid's six, so the grid is six configurations
    assert len(configurations(space, 50, seed=0)) == 6
    assert configurations(Space({}), 5, seed=0) == [{}]
    seen = []
    tried, how, _ = search(space, 6, 0, lambda s: seen.append(s) or 0.0)
    assert how == "whole space" and len(tried) == 6 and _distinct(space, tried) and seen == tried


def test_tpe_never_repeats_a_configuration_nor_exceeds_its_budget():
    # A finite space larger than the budget, where the sampler keeps
    # proposing the best corner again: repeats are skipped, not counted.
    space = Space({"a": [1, 2, 3], "b": ["x", "y", "z"]}, base={"a": 1, "b": "x"})
    calls = []
    tried, how, repeats = search(space, 8, 3, lambda s: calls.append(s) or
                                 float({**space.base, **s}["a"]))
    assert how == "tpe" and len(tried) == 8 == len(calls) and _distinct(space, tried)
    assert tried[0] == {}
    # An interval, and a key searched only under another's value.
    space = Space({"kind": ["p", "q"], "alpha": Range(0, 2, ), "k": Range(5, 800, log=True,
                                                                         integer=True)},
                  when={"alpha": {"kind": "q"}}, base={"kind": "p", "alpha": 0.5, "k": 10})
    tried, how, _ = search(space, 30, 1, lambda s: -abs({**space.base, **s}["alpha"] - 1.2))
    assert how == "tpe" and len(tried) == 30 and _distinct(space, tried)
    assert all(("alpha" in t) == (t.get("kind") == "q") for t in tried[1:])
    assert all(5 <= t["k"] <= 800 and isinstance(t["k"], int) for t in tried[1:])
    # seeded: the same seed draws the same, another seed other values
    again, _, _ = search(space, 30, 1, lambda s: -abs({**space.base, **s}["alpha"] - 1.2))
    other, _, _ = search(space, 30, 2, lambda s: -abs({**space.base, **s}["alpha"] - 1.2))
    assert again == tried and other != tried


def test_an_interval_capped_by_the_data_holds_no_value_that_means_the_same():
    r = Range(5, 800, log=True, integer=True, cap="n_interests")
    # 83 other interests are all of them in a catalogue of 84
    assert r.capped(Facts(n_interests=84)).high == 83
    assert r.capped(Facts(n_interests=5000)).high == 800
    # every other interest is the most there is: no "high edge" flag there
    # (blogcatalog's rp3beta topk 38 of 39 was flagged before), but the
    # search-set end of an uncapped range, and a capped range's low end, are
    capped = Space({"k": r.capped(Facts(n_interests=39))})
    assert capped.edges({"k": 38}) == {} and capped.edges({"k": 5}) == {"k": "low"}
    assert Space({"k": r.capped(Facts(n_interests=5000))}).edges({"k": 800}) == {"k": "high"}
    space = get_method("itemknn").search_space("user-interest", Facts(n_interests=30))
    assert space["topk"].high == 29
    # userknn's neighbours are known users: at most all of them but one
    run = prepare(load_config(None, TINY_SETTINGS + ["methods=[userknn]"]), CPU)
    known = int(run.tasks.known.sum())
    assert search_space(run, "userknn").dims["topk"].high == min(1000, known - 1)


def test_the_best_value_at_the_edge_of_its_range_is_flagged():
    space = Space({"l2": Range(1, 1e6, log=True), "s": [0.0, 10.0, 100.0]},
                  base={"l2": 100.0, "s": 10.0})
    logged = []
    out = tune(["m"], 25, 0, lambda m: space,
               lambda m, s: {"auc": math.log({**space.base, **s}["l2"])
                             - abs({**space.base, **s}["s"] - 10)},
               "auc", log=logged.append)["m"]
    best = {**space.base, **out["settings"]}
    assert best["l2"] > 1e5 and out["edges"] == {"l2": "high"}
    assert any("m.l2" in line and "high edge" in line for line in logged)
    assert out["budget"] == 25 and len(out["trials"]) == 25 and out["searched"] == "tpe"
    assert space.edges({"l2": 1e3, "s": 100.0}) == {"s": "high"}
    # near an end, but the search went nearer it and found worse: bracketed, no flag
    assert space.edges({"l2": 1.5}, tried=[{"l2": 1.5}, {"l2": 5.0}]) == {"l2": "low"}
    assert space.edges({"l2": 1.5}, tried=[{"l2": 1.5}, {"l2": 1.1}]) == {}
    # a default outside the range (topk 0: all) is no edge, and does not hide one
    knn = Space({"k": Range(5, 800, log=True, integer=True)}, base={"k": 0})
    assert knn.edges({}, tried=[{}, {"k": 5}]) == {}
    assert knn.edges({"k": 5}, tried=[{}, {"k": 5}, {"k": 90}]) == {"k": "low"}
    with pytest.raises(ValueError, match="at least 1 configuration"):
        tune(["m"], 0, 0, lambda m: space, lambda m, s: {"auc": 0.5}, "auc")


def test_scorers_get_the_cheap_budget_and_learners_share_theirs():
    space = Space({"a": Range(0, 1)}, base={"a": 0.5})
    out = tune(["learner", "scorer"], 3, 0, lambda m: space, lambda m, s: {"auc": 0.5},
               "auc", log=lambda s: None, cheap=["scorer"], cheap_budget=12)
    assert len(out["learner"]["trials"]) == 3 and len(out["scorer"]["trials"]) == 12


def _tune(run: Run, n: int) -> dict:
    return tune(run.spec.methods, n, run.spec.seed, lambda m: search_space(run, m), run.trial,
                run.spec.eval.select, log=lambda s: None,
                cheap=[m for m in run.spec.methods if get_method(m).training == "none"],
                cheap_budget=6)


def _poisoned(run: Run) -> Run:
    """The same run with every test user's interests shuffled (same counts,
    so the same eligible users and splits)."""
    data = copy.copy(run.data)
    data.interests = run.data.interests.clone()
    gen = torch.Generator().manual_seed(7)
    for u in run.tasks.splits["test"].tolist():
        data.interests[u] = data.interests[u][torch.randperm(data.interests.size(1),
                                                             generator=gen)]
    tasks = build_tasks(run.spec, data)
    assert torch.equal(tasks.splits["val"], run.tasks.splits["val"])
    ev = run.evaluator
    evaluator = Evaluator(tasks, n_val=ev.sizes["val"], n_test=ev.sizes["test"],
                          test_seed=ev.seeds["test"])
    return Run(run.cfg, run.spec, data, tasks, evaluator, run.device)


def test_tuning_never_reads_the_test_split():
    run = prepare(load_config(None, TINY_SETTINGS + [
        "methods=[maml, finetune, itemknn, graph-knn]", "*.iterations=2"]), CPU)
    poisoned = _poisoned(run)
    a, b = _tune(run, 3), _tune(poisoned, 3)
    strip = {m: [(t["settings"], t["val"]) for t in r["trials"]] for m, r in a.items()}
    assert strip == {m: [(t["settings"], t["val"]) for t in r["trials"]] for m, r in b.items()}
    assert {m: r["settings"] for m, r in a.items()} == {m: r["settings"] for m, r in b.items()}
    assert [len(a[m]["trials"]) for m in ("maml", "finetune", "itemknn", "graph-knn")] == \
        [3, 3, 6, 6]                                            # learners alike, scorers more
    # ...while the poison does reach the test tasks.
    ya = torch.cat([x.query_items.flatten() for x in run.evaluator.batches("test")])
    yb = torch.cat([x.query_items.flatten() for x in poisoned.evaluator.batches("test")])
    assert not torch.equal(ya, yb)


def test_the_chosen_settings_are_what_the_final_run_uses(tmp_path):
    cfg = load_config(None, TINY_SETTINGS + ["methods=[itemknn, scratch]", "eval.tune=3"])
    res = compare(cfg, tmp_path, CPU, progress=False, log=lambda s: None)
    tuning = json.loads((tmp_path / "tuning.json").read_text())
    spec = prepare(load_config(tmp_path / "config.yaml"), CPU).spec   # what evaluate reloads
    for m in ("itemknn", "scratch"):
        assert res["tuning"][m]["settings"] == tuning[m]["settings"]
        assert tuning[m]["val"] == max(t["val"] for t in tuning[m]["trials"])
        # each trial also records every meta-val metric of what it kept
        assert all(t["val_metrics"]["auc"] == t["val"] and "ndcg@10" in t["val_metrics"]
                   for t in tuning[m]["trials"])
        effective = spec.settings[m].to_dict()
        for key, value in tuning[m]["settings"].items():
            assert effective[key] == value, (m, key)
        assert res["methods"][m]["settings"] == effective


def test_a_diverging_configuration_loses_and_the_rest_go_on(monkeypatch):
    run = prepare(load_config(None, TINY_SETTINGS + ["methods=[maml]", "*.iterations=2"]), CPU)
    maml = get_method("maml")

    @dataclasses.dataclass(frozen=True)
    class Huge(maml.config):
        inner_lr: float = setting(0.1, low=0, search=[1e30])
    monkeypatch.setitem(registry._METHODS, "maml", dataclasses.replace(maml, config=Huge))
    out = _tune(run.with_spec(dataclasses.replace(run.spec, settings={
        "maml": Huge(**run.spec.settings["maml"].to_dict())})), 2)["maml"]
    assert out["settings"] == {} and len(out["trials"]) == 2
    assert out["trials"][1]["val"] is None and "training loss is" in out["trials"][1]["error"]


def test_a_configuration_without_a_score_loses():
    space = Space({"a": [1, 2, 3]}, base={"a": 1})
    out = tune(["m"], 3, 0, lambda m: space,
               lambda m, s: {"auc": math.nan if not s else float(s["a"])}, "auc",
               log=lambda s: None)["m"]
    assert out["settings"] == {"a": 3} and out["trials"][0]["val"] is None
    assert "is nan" in out["trials"][0]["error"]
