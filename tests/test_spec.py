"""The run spec: every auto resolved from the data, per-method settings, and
a config.yaml that loads back to the same spec."""
import pytest
import torch
import yaml
from torch_geometric.data import Data

from graphmeta.config import ConfigError, load_config
from graphmeta.spec import resolve
from graphmeta.synthetic import make_social_graph


@pytest.fixture(scope="module")
def synthetic():
    return make_social_graph(200, 20, 4, n_blocks=4, seed=0)


@pytest.fixture(scope="module")
def labelled():
    ei = torch.stack([torch.arange(60), (torch.arange(60) + 1) % 60])
    return Data(edge_index=torch.cat([ei, ei.flip(0)], 1), y=torch.arange(60) % 6, num_nodes=60)


def test_autos_on_synthetic_user_interest_data(synthetic):
    spec = resolve(load_config(), synthetic, "cpu")
    assert spec.kind == "user-interest" and spec.tasks.k_shot == 5
    assert spec.tasks.negatives == "uniform" and spec.tasks.node_features == "x"
    assert spec.meta.meta_batch == 32 and spec.meta.select == "auc"
    assert spec.tasks.prefetch == "off"
    assert spec.methods == ("maml", "maml-mlp", "finetune", "scratch", "popularity", "itemknn",
                            "graph-knn")
    real = resolve(load_config(None, ["dataset.name=deezer-hu", "eval.metric=ndcg@10"]), Data(
        edge_index=synthetic.edge_index, interests=synthetic.interests, num_nodes=200), "cpu")
    assert real.tasks.negatives == "uniform" and real.meta.select == "ndcg@10"
    assert real.tasks.node_features == "interests" and real.tasks.k_shot == 5
    with pytest.raises(ConfigError, match="user-interest tasks are scored by ranking metrics"):
        resolve(load_config(None, ["meta.select=accuracy"]), synthetic, "cpu")


def test_autos_on_a_labelled_graph(labelled):
    spec = resolve(load_config(), labelled, "cpu")
    assert spec.kind == "few-shot" and spec.tasks.k_shot == 3 and spec.meta.meta_batch == 4
    assert spec.tasks.node_features == "structure"
    assert spec.methods == ("maml", "fomaml", "protonet", "gmeta", "finetune", "scratch")
    with pytest.raises(ConfigError, match="the graph has no interests"):
        resolve(load_config(None, ["tasks.kind=user-interest"]), labelled, "cpu")
    with pytest.raises(ConfigError, match="few-shot tasks are scored by accuracy"):
        resolve(load_config(None, ["meta.select=auc"]), labelled, "cpu")
    with pytest.raises(ConfigError, match="'interests' does not apply to few-shot"):
        resolve(load_config(None, ["tasks.node_features=interests"]), labelled, "cpu")
    with pytest.raises(ConfigError, match="'itemknn' does not run on few-shot tasks"):
        resolve(load_config(None, ["methods=[maml, itemknn]"]), labelled, "cpu")


def test_method_defaults_fill_only_what_no_layer_sets(labelled):
    spec = resolve(load_config(), labelled, "cpu")
    assert spec.meta.inner_lr == 0.1 and spec.settings("gmeta") == {"meta.inner_lr": 0.01}
    assert spec.for_method("gmeta").meta.inner_lr == 0.01
    assert spec.for_method("maml").meta.inner_lr == 0.1
    spec = resolve(load_config(None, ["meta.inner_lr=0.05"]), labelled, "cpu")
    assert spec.settings("gmeta") == {} and spec.for_method("gmeta").meta.inner_lr == 0.05
    spec = resolve(load_config(None, ["method_settings.gmeta.meta.inner_lr=0.2",
                                      "method_settings.maml.meta.meta_batch=auto"]),
                   labelled, "cpu")
    assert spec.for_method("gmeta").meta.inner_lr == 0.2
    assert spec.settings("maml") == {}          # auto resolves to the common 4


def test_config_yaml_loads_back_to_the_same_spec(labelled, tmp_path):
    spec = resolve(load_config(None, ["meta.inner_steps=3",
                                      "method_settings.maml.model.hidden=16"]), labelled, "cpu")
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False))
    again = resolve(load_config(p), labelled, "cpu")
    assert again == spec
    assert again.for_method("maml").model.hidden == 16 and again.model.hidden == 64
    assert again.for_method("gmeta").meta.inner_lr == 0.01
