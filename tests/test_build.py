"""Objects from the spec: data, task samplers, models."""
import pytest

from graphmeta.build import build_data, build_tasks
from graphmeta.config import load_config
from graphmeta.models import PrototypeClassifier
from graphmeta.models.build import fewshot_model, interest_model
from graphmeta.run import prepare
from graphmeta.spec import resolve
from graphmeta.tasks import FewShotTasks, UserInterestTasks
from tests.helpers import TINY_SETTINGS


def _data(cfg):
    return build_data(cfg.section("dataset"), cfg.section("synthetic"), cfg.seed)


def test_synthetic_data_tasks_and_models():
    cfg = load_config(None, TINY_SETTINGS + ["maml.conv=gin", "tasks.max_nodes=9"])
    data = _data(cfg)
    assert data.num_nodes == 240
    spec = resolve(cfg, data)
    tasks = build_tasks(spec, data)
    assert isinstance(tasks, UserInterestTasks) and tasks.max_nodes == 9 and tasks.k_shot == 5
    m = interest_model(tasks, spec.settings["maml"])
    assert m.encoder.conv == "gin" and m.encoder.hidden == 8 and m.interest_emb is None
    assert interest_model(tasks, spec.settings["maml"], graph=False).encoder is None


def test_few_shot_tasks_and_models():
    cfg = load_config(None, TINY_SETTINGS + ["tasks.kind=few-shot", "synthetic.n_items=12",
                                             "tasks.k_shot=2", "tasks.n_query=3"])
    data = _data(cfg)
    spec = resolve(cfg, data)
    tasks = build_tasks(spec, data)
    assert isinstance(tasks, FewShotTasks) and tasks.k_shot == 2
    assert fewshot_model(tasks, spec.settings["maml"]).head.fc2.out_features == tasks.n_way
    assert isinstance(fewshot_model(tasks, prototypes=True), PrototypeClassifier)


def test_unknown_dataset_is_named():
    cfg = load_config(None, ["dataset.name=nope"])
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*or a folder with edges.csv"):
        _data(cfg)


def test_context_features_are_built_only_for_methods_that_read_them(tmp_path):
    """context is on for named interests, but a run of scorers alone builds
    no co-occurrence matrix or per-batch context features."""
    from tests.helpers import interest_folder
    folder = interest_folder(tmp_path)
    for methods, context in (("[itemknn, popularity]", False), ("[itemknn, maml]", True)):
        run = prepare(load_config(None, [f"dataset.name={folder}", f"methods={methods}"]),
                      "cpu")
        assert run.tasks.item_features == (("popularity", "cooccurrence", "neighbours",
                                            "neighbour_cooccurrence") if context else ())
        batch = run.tasks.collate(run.tasks.fixed_tasks("test", 2, 0))
        assert (batch.item_context is not None) is context
