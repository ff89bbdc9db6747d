"""The run spec: every auto resolved from the data, each method's own
settings, and a config.yaml that loads back to the same spec."""
import json

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
    assert spec.settings["maml"].meta_batch == 32 and spec.eval.select == "auc"
    assert spec.run.prefetch == "off"
    assert spec.settings["maml"].context is False          # fixed item features
    assert spec.methods == ("maml", "maml-mlp", "finetune", "scratch", "popularity", "itemknn",
                            "rp3beta", "userknn", "graph-knn")
    real = resolve(load_config(None, ["dataset.name=deezer-hu", "eval.metric=ndcg@10"]), Data(
        edge_index=synthetic.edge_index, interests=synthetic.interests, num_nodes=200), "cpu")
    assert real.tasks.negatives == "uniform" and real.eval.select == "ndcg@10"
    assert real.tasks.node_features == "interests" and real.tasks.k_shot == 5
    assert real.settings["maml"].context is True and real.settings["maml"].sparse_grad is False
    with pytest.raises(ConfigError, match="user-interest tasks are scored by ranking metrics"):
        resolve(load_config(None, ["eval.select=accuracy"]), synthetic, "cpu")


def test_autos_on_a_labelled_graph(labelled):
    spec = resolve(load_config(), labelled, "cpu")
    assert spec.kind == "few-shot" and spec.tasks.k_shot == 3
    assert spec.settings["maml"].meta_batch == 4
    assert spec.tasks.node_features == "structure"
    assert spec.methods == ("maml", "fomaml", "protonet", "gmeta", "finetune", "scratch")
    f = spec.settings["finetune"]
    assert (f.inner_rule, f.inner_steps, f.inner_lr) == ("adam", 100, 0.01)
    with pytest.raises(ConfigError, match="the graph has no interests"):
        resolve(load_config(None, ["tasks.kind=user-interest"]), labelled, "cpu")
    with pytest.raises(ConfigError, match="few-shot tasks are scored by accuracy"):
        resolve(load_config(None, ["eval.select=auc"]), labelled, "cpu")
    with pytest.raises(ConfigError, match="'interests' does not apply to few-shot"):
        resolve(load_config(None, ["tasks.node_features=interests"]), labelled, "cpu")
    with pytest.raises(ConfigError, match="'itemknn' does not run on few-shot tasks"):
        resolve(load_config(None, ["methods=[maml, itemknn]"]), labelled, "cpu")


def test_each_method_has_its_own_settings(labelled, synthetic):
    spec = resolve(load_config(), labelled, "cpu")
    assert spec.settings["maml"].inner_lr == 0.1 and spec.settings["gmeta"].inner_lr == 0.01
    spec = resolve(load_config(None, ["*.inner_lr=0.05"]), labelled, "cpu")
    assert spec.settings["gmeta"].inner_lr == 0.05 and spec.settings["maml"].inner_lr == 0.05
    spec = resolve(load_config(None, ["gmeta.inner_lr=0.2", "maml.meta_batch=auto"]),
                   labelled, "cpu")
    assert spec.settings["gmeta"].inner_lr == 0.2 and spec.settings["maml"].meta_batch == 4
    # a selector's candidates get settings too, and a selector's key holds theirs
    spec = resolve(load_config(None, ["methods=[select-knn]", "maml.hidden=16"]), synthetic)
    assert set(spec.settings) == {"select-knn", "maml", "finetune", "itemknn", "ease",
                                  "graph-knn", "popularity"}
    assert json.loads(spec.key("select-knn"))["maml"]["hidden"] == 16
    assert spec.key("itemknn") == resolve(load_config(None, ["methods=[select-knn]"]),
                                          synthetic).key("itemknn")


def test_config_yaml_loads_back_to_the_same_spec(labelled, synthetic, tmp_path):
    for data in (labelled, synthetic):
        spec = resolve(load_config(None, ["*.inner_steps=3", "maml.hidden=16"]), data, "cpu")
        p = tmp_path / "config.yaml"
        p.write_text(yaml.safe_dump(spec.to_dict(), sort_keys=False))
        again = resolve(load_config(p), data, "cpu")
        assert again == spec
        assert again.settings["maml"].hidden == 16 and again.settings["finetune"].hidden == 64
    assert "synthetic" in spec.to_dict()        # the generator's keys, for synthetic data only
    assert "synthetic" not in resolve(load_config(None, ["dataset.name=email-eu-core"]),
                                      labelled).to_dict()
