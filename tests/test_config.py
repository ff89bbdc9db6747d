import pytest

from graphmeta import datasets
from graphmeta.config import DEFAULTS, ConfigError, check_value, load_config


def test_defaults_and_overrides(tmp_path):
    cfg = load_config(None, ["meta.inner_steps=10"])
    assert cfg["meta"]["inner_steps"] == 10 and cfg["_explicit"] == ["meta.inner_steps"]
    p = tmp_path / "c.yaml"
    p.write_text("meta:\n  inner_lr: 1\nmodel:\n  conv: gat\n")
    cfg = load_config(p, ["model.hidden=16"])
    assert cfg["meta"]["inner_lr"] == 1.0 and isinstance(cfg["meta"]["inner_lr"], float)
    assert cfg["model"]["conv"] == "gat" and cfg["model"]["hidden"] == 16
    assert cfg["tasks"] == DEFAULTS["tasks"]


def test_auto_keys_and_floats_written_the_usual_way():
    cfg = load_config(None, ["tasks.k_shot=3", "tasks.negatives=uniform",
                             "tasks.node_features=x+interests", "meta.meta_lr=1e-4"])
    assert cfg["tasks"]["k_shot"] == 3 and cfg["tasks"]["negatives"] == "uniform"
    assert cfg["meta"]["meta_lr"] == 1e-4          # YAML reads 1e-4 as a string
    assert load_config()["tasks"]["k_shot"] == "auto"
    with pytest.raises(ConfigError, match="'tasks.k_shot' expects auto or an int"):
        load_config(None, ["tasks.k_shot=many"])
    with pytest.raises(ConfigError, match="'tasks.negatives' expects a string"):
        load_config(None, ["tasks.negatives=3"])


def test_off_means_the_word_where_a_choice_is_off(tmp_path):
    """YAML 1.1 reads a bare ``off`` as False; a key whose choices include
    ``off`` takes the word, from --set and from a file; elsewhere a bool
    is still refused."""
    assert load_config(None, ["tasks.prefetch=off"])["tasks"]["prefetch"] == "off"
    p = tmp_path / "c.yaml"
    p.write_text("tasks:\n  prefetch: off\n")
    assert load_config(p)["tasks"]["prefetch"] == "off"
    with pytest.raises(ConfigError, match="'tasks.prefetch' must be one of"):
        load_config(None, ["tasks.prefetch=on"])
    with pytest.raises(ConfigError, match="'tasks.negatives' expects a string"):
        load_config(None, ["tasks.negatives=off"])


@pytest.mark.parametrize("override, match", [
    ("meta.inner_stepz=3", "unknown key 'meta.inner_stepz'; did you mean 'meta.inner_steps'"),
    ("meta.inner_steps=abc", "'meta.inner_steps' expects an int"),
    ("meta", "expected KEY=VALUE"),
    ("meta=3", "'meta' expects a mapping"),
    ("methods=[maml, reptile-nope]", "unknown method 'reptile-nope'"),
    ("tasks.prefetch=process", "'tasks.prefetch' must be one of auto, thread, off"),
    ("meta.inner_steps=-1", "'meta.inner_steps' must be >= 0"),
    ("meta.iterations=0", "'meta.iterations' must be >= 1"),
    ("meta.eval_every=0", "'meta.eval_every' must be >= 1"),
    ("meta.meta_batch=0", "'meta.meta_batch' must be >= 1"),
    ("meta.inner_lr=-5", "'meta.inner_lr' must be >= 0"),
    ("meta.meta_lr=0", "'meta.meta_lr' must be > 0"),
    ("tasks.max_nodes=1", "'tasks.max_nodes' must be >= 2"),
    ("tasks.n_test_tasks=0", "'tasks.n_test_tasks' must be >= 1"),
    ("method_settings.maml.meta.inner_lr=abc", "'meta.inner_lr' expects a number"),
    ("method_settings.maml.dataset.name=x", "a method cannot change the data"),
    ("method_settings.nope.meta.inner_lr=0.1", "method_settings: unknown method 'nope'"),
])
def test_bad_overrides_are_named(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, [override])


def test_bad_file_names_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("model:\n  depth: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'model.depth'"):
        load_config(p)
    p.write_text("[1, 2]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: expected a mapping"):
        load_config(p)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")


def test_method_settings_from_file_and_set(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("method_settings:\n  gmeta:\n    meta.inner_lr: 0.02\n")
    cfg = load_config(p, ["method_settings.maml.meta.inner_steps=2"])
    assert cfg["method_settings"] == {"gmeta": {"meta.inner_lr": 0.02},
                                      "maml": {"meta.inner_steps": 2}}


@pytest.fixture
def bad_settings_dataset():
    datasets.register("bad-settings-test", config={"meta.iterations": "many"})(lambda root: None)
    yield
    datasets.unregister("bad-settings-test")


def test_dataset_settings_fill_only_unset_keys(tmp_path, bad_settings_dataset):
    cfg = load_config(None, ["dataset.name=blogcatalog"])
    assert cfg["meta"]["iterations"] == 3000 and cfg["meta"]["inner_rule"] == "lslr"
    assert cfg["tasks"]["k_shot"] == 1
    cfg = load_config(None, ["dataset.name=blogcatalog", "meta.inner_rule=sgd"])
    assert cfg["meta"]["inner_rule"] == "sgd" and cfg["meta"]["iterations"] == 3000
    p = tmp_path / "c.yaml"
    p.write_text("dataset:\n  name: blogcatalog\nmeta:\n  iterations: 10\n")
    assert load_config(p)["meta"]["iterations"] == 10
    assert load_config()["meta"]["iterations"] == DEFAULTS["meta"]["iterations"]
    with pytest.raises(ConfigError, match="registered for dataset 'bad-settings-test'.*'meta.iterations'"):
        load_config(None, ["dataset.name=bad-settings-test"])


def test_check_value_coerces_ints_to_floats():
    assert check_value("meta.inner_lr", 1, "x") == 1.0
    assert check_value("seed", 3, "x") == 3
    with pytest.raises(ConfigError, match="'seed' expects an int"):
        check_value("seed", True, "x")
