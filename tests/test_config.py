import pytest

from graphmeta.config import DEFAULTS, ConfigError, load_config


def test_defaults_and_overrides(tmp_path):
    cfg = load_config(None, ["meta.inner_steps=10", "meta.first_order=true"]
                      if "first_order" in DEFAULTS["meta"] else ["meta.inner_steps=10"])
    assert cfg["meta"]["inner_steps"] == 10
    p = tmp_path / "c.yaml"
    p.write_text("meta:\n  inner_lr: 1\nmodel:\n  conv: gat\n")
    cfg = load_config(p, ["model.hidden=16"])
    assert cfg["meta"]["inner_lr"] == 1.0 and isinstance(cfg["meta"]["inner_lr"], float)
    assert cfg["model"]["conv"] == "gat" and cfg["model"]["hidden"] == 16
    assert cfg["tasks"] == DEFAULTS["tasks"]


def test_auto_keys():
    cfg = load_config(None, ["tasks.k_shot=3", "tasks.negatives=uniform",
                             "tasks.node_features=x+interests"])
    assert cfg["tasks"]["k_shot"] == 3 and cfg["tasks"]["negatives"] == "uniform"
    assert load_config()["tasks"]["k_shot"] == "auto"
    with pytest.raises(ConfigError, match="'tasks.k_shot' expects auto or an int"):
        load_config(None, ["tasks.k_shot=many"])
    with pytest.raises(ConfigError, match="'tasks.negatives' expects str"):
        load_config(None, ["tasks.negatives=3"])


@pytest.mark.parametrize("override, match", [
    ("meta.inner_stepz=3", "unknown key 'meta.inner_stepz'"),
    ("meta.inner_steps=abc", "'meta.inner_steps' expects int"),
    ("meta", "expected KEY=VALUE"),
    ("methods=[maml, reptile]", "unknown method 'reptile'"),
])
def test_bad_overrides_are_named(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, [override])


def test_bad_file_names_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model:\n  depth: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'model.depth'"):
        load_config(p)


def test_dataset_settings_fill_only_unset_keys(tmp_path):
    from graphmeta import datasets
    cfg = load_config(None, ["dataset.name=blogcatalog"])
    assert cfg["meta"]["iterations"] == 3000 and cfg["meta"]["learn_inner_lr"] is True
    cfg = load_config(None, ["dataset.name=blogcatalog", "meta.learn_inner_lr=false"])
    assert cfg["meta"]["learn_inner_lr"] is False and cfg["meta"]["iterations"] == 3000
    p = tmp_path / "c.yaml"
    p.write_text("dataset:\n  name: blogcatalog\nmeta:\n  iterations: 10\n")
    assert load_config(p)["meta"]["iterations"] == 10
    assert load_config()["meta"]["iterations"] == DEFAULTS["meta"]["iterations"]
    datasets.register("bad-settings-test", config={"meta.iterations": "many"})(lambda root: None)
    with pytest.raises(ConfigError, match="registered for dataset 'bad-settings-test'.*'meta.iterations'"):
        load_config(None, ["dataset.name=bad-settings-test"])
