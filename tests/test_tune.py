"""Equal-budget tuning on meta-val: the budget, the draw, and the sealed test split."""
import copy
import dataclasses
import json

import torch

from graphmeta.build import build_tasks
from graphmeta.config import load_config
from graphmeta.eval import Evaluator
from graphmeta.methods import get_method, registry
from graphmeta.run import Run, prepare
from graphmeta.runner import compare
from graphmeta.settings import setting
from graphmeta.tune import configurations, tune
from tests.helpers import TINY_SETTINGS

CPU = torch.device("cpu")


def test_configurations_start_with_the_defaults_and_never_repeat():
    space = {"a": [1, 2, 3], "b": ["x", "y"]}
    c = configurations(space, 4, seed=0)
    assert c[0] == {} and len(c) == 4
    assert len({tuple(sorted(x.items())) for x in c[1:]}) == 3
    assert c == configurations(space, 4, seed=0)
    assert len(configurations(space, 50, seed=0)) == 7          # the whole grid, plus {}
    assert configurations({}, 5, seed=0) == [{}]


def _tune(run: Run, n: int) -> dict:
    return tune(run.spec.methods, n, run.spec.seed,
                lambda m: get_method(m).search_space(run.spec.kind), run.trial,
                run.spec.eval.select, log=lambda s: None)


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
    assert all(len(r["trials"]) == 3 for r in a.values())       # the same budget for each
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
