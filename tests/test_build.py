"""Objects from the spec: data, task samplers, models."""
import pytest

from graphmeta.build import build_data, build_tasks, fewshot_model, interest_model
from graphmeta.config import load_config
from graphmeta.models import PrototypeClassifier
from graphmeta.spec import resolve
from graphmeta.tasks import FewShotTasks, UserInterestTasks
from tests.helpers import TINY_SETTINGS


def test_synthetic_data_tasks_and_models():
    cfg = load_config(None, TINY_SETTINGS + ["model.conv=gin", "tasks.max_nodes=9"])
    data = build_data(cfg["dataset"], cfg["seed"])
    assert data.num_nodes == 240
    spec = resolve(cfg, data)
    tasks = build_tasks(spec, data)
    assert isinstance(tasks, UserInterestTasks) and tasks.max_nodes == 9 and tasks.k_shot == 5
    m = interest_model(spec, tasks)
    assert m.encoder.conv == "gin" and m.encoder.hidden == 8 and m.interest_emb is None
    assert interest_model(spec, tasks, graph=False).encoder is None


def test_few_shot_tasks_and_models():
    cfg = load_config(None, TINY_SETTINGS + ["tasks.kind=few-shot", "dataset.n_items=12",
                                             "tasks.k_shot=2", "tasks.n_query=3"])
    data = build_data(cfg["dataset"], cfg["seed"])
    spec = resolve(cfg, data)
    tasks = build_tasks(spec, data)
    assert isinstance(tasks, FewShotTasks) and tasks.k_shot == 2
    assert fewshot_model(spec, tasks).head.fc2.out_features == tasks.n_way
    assert isinstance(fewshot_model(spec, tasks, prototypes=True), PrototypeClassifier)


def test_unknown_dataset_is_named():
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*or a folder with edges.csv"):
        build_data(load_config(None, ["dataset.name=nope"])["dataset"], 0)


def test_context_features_are_built_only_for_methods_that_read_them(tmp_path):
    """model.context is on for named interests, but a run of scorers alone
    builds no co-occurrence matrix or per-batch context features."""
    from tests.helpers import interest_folder
    folder = interest_folder(tmp_path)
    for methods, context in (("[itemknn, popularity]", False), ("[itemknn, maml]", True)):
        cfg = load_config(None, [f"dataset.name={folder}", f"methods={methods}"])
        data = build_data(cfg["dataset"], cfg["seed"])
        spec = resolve(cfg, data)
        assert spec.model.context is True
        tasks = build_tasks(spec, data)
        assert tasks.context is context
        batch = tasks.collate(tasks.fixed_tasks("test", 2, 0))
        assert (batch.item_context is not None) is context
