"""Loading a config: global sections, each method's own settings, ``*``
keys, layers, and every bad key or value named."""
import pytest

from graphmeta import datasets
from graphmeta.config import ConfigError, load_config
from graphmeta.methods.settings import MAMLSettings
from graphmeta.schema import TasksConfig
from graphmeta.spec import method_settings, resolve
from graphmeta.settings import Facts
from graphmeta.synthetic import make_social_graph

FACTS = Facts(kind="user-interest", n_interests=100, has_interest_x=True)


def _maml(cfg):
    return method_settings(cfg, "maml", FACTS)


def test_defaults_and_overrides(tmp_path):
    cfg = load_config(None, ["maml.inner_steps=10"])
    assert _maml(cfg).inner_steps == 10 and _maml(load_config()).inner_steps == 5
    p = tmp_path / "c.yaml"
    p.write_text("maml:\n  inner_lr: 1\n  conv: gat\n")
    cfg = load_config(p, ["maml.hidden=16"])
    s = _maml(cfg)
    assert s.inner_lr == 1.0 and isinstance(s.inner_lr, float)
    assert s.conv == "gat" and s.hidden == 16
    assert cfg.section("tasks") == TasksConfig()


def test_star_keys_set_every_method_that_has_the_key_and_a_methods_own_wins():
    cfg = load_config(None, ["*.iterations=7", "maml.iterations=9", "*.hidden=8"])
    assert _maml(cfg).iterations == 9 and method_settings(cfg, "anil", FACTS).iterations == 7
    assert method_settings(cfg, "finetune", FACTS).hidden == 8
    # a later layer's * beats an earlier layer's own key
    cfg = load_config(None, ["maml.iterations=9", "*.iterations=7"])
    assert _maml(cfg).iterations == 7
    data = make_social_graph(200, seed=0)
    spec = resolve(load_config(None, ["methods=[maml,itemknn]", "*.iterations=3"]), data)
    assert spec.settings["maml"].iterations == 3 and "iterations" not in \
        spec.settings["itemknn"].keys()
    # a key of some method: applied where a method of the run has it
    assert resolve(load_config(None, ["methods=[maml]", "*.shrink=3"]), data)
    with pytest.raises(ConfigError, match="unknown key '\\*.iteratons': no method has a "
                                          "setting 'iteratons'; did you mean '\\*.iterations'"):
        load_config(None, ["*.iteratons=3"])
    with pytest.raises(ConfigError, match="'\\*.iterations' expects an int"):
        _maml(load_config(None, ["*.iterations=many"]))


def test_auto_keys_and_floats_written_the_usual_way():
    cfg = load_config(None, ["tasks.k_shot=3", "tasks.negatives=uniform",
                             "tasks.node_features=x+interests", "maml.meta_lr=1e-4"])
    assert cfg.section("tasks").k_shot == 3 and cfg.section("tasks").negatives == "uniform"
    assert _maml(cfg).meta_lr == 1e-4              # YAML reads 1e-4 as a string
    assert load_config().section("tasks").k_shot == "auto"
    with pytest.raises(ConfigError, match="'tasks.k_shot' expects auto or an int"):
        load_config(None, ["tasks.k_shot=many"])
    with pytest.raises(ConfigError, match="'tasks.negatives' expects a string"):
        load_config(None, ["tasks.negatives=3"])


def test_off_means_the_word_where_a_choice_is_off(tmp_path):
    """YAML 1.1 reads a bare ``off`` as False; a key whose choices include
    ``off`` takes the word, from --set and from a file; elsewhere a bool
    is still refused."""
    assert load_config(None, ["run.prefetch=off"]).section("run").prefetch == "off"
    p = tmp_path / "c.yaml"
    p.write_text("run:\n  prefetch: off\n")
    assert load_config(p).section("run").prefetch == "off"
    with pytest.raises(ConfigError, match="'run.prefetch' must be one of"):
        load_config(None, ["run.prefetch=on"])
    with pytest.raises(ConfigError, match="'tasks.negatives' expects a string"):
        load_config(None, ["tasks.negatives=off"])


@pytest.mark.parametrize("override, match", [
    ("maml.inner_stepz=3", "unknown key 'maml.inner_stepz'; did you mean 'maml.inner_steps'"),
    ("maml.inner_steps=abc", "'maml.inner_steps' expects an int"),
    ("maml", "expected KEY=VALUE"),
    ("maml=3", "expected SECTION.KEY, METHOD.KEY or \\*.KEY"),
    ("tasks=3", "expected SECTION.KEY"),
    ("meta.inner_steps=3", "unknown key 'meta'.*a method's own settings: METHOD.key"),
    ("methods=[maml, reptile-nope]", "unknown method 'reptile-nope'"),
    ("run.prefetch=process", "'run.prefetch' must be one of auto, thread, off"),
    ("maml.inner_steps=-1", "'maml.inner_steps' must be >= 0"),
    ("maml.iterations=0", "'maml.iterations' must be >= 1"),
    ("maml.eval_every=0", "'maml.eval_every' must be >= 1"),
    ("maml.meta_batch=0", "'maml.meta_batch' must be >= 1"),
    ("maml.inner_lr=-5", "'maml.inner_lr' must be >= 0"),
    ("maml.meta_lr=0", "'maml.meta_lr' must be > 0"),
    ("tasks.max_nodes=1", "'tasks.max_nodes' must be >= 2"),
    ("tasks.n_test_tasks=0", "'tasks.n_test_tasks' must be >= 1"),
    ("itemknn.similarity=euclid", "'itemknn.similarity' must be one of cosine"),
    ("synthetic.n_users=0", "'synthetic.n_users' must be >= 1"),
    ("dataset.n_users=10", "unknown key 'dataset.n_users'"),
])
def test_bad_overrides_are_named(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(None, [override])


def test_bad_file_names_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("maml:\n  depth: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown key 'maml.depth'"):
        load_config(p)
    p.write_text("[1, 2]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: expected a mapping"):
        load_config(p)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    p.write_text("maml: 3\n")
    with pytest.raises(ConfigError, match="'maml' expects a mapping"):
        load_config(p)


@pytest.fixture
def bad_settings_dataset():
    datasets.register("bad-settings-test", config={"*.iterations": "many"})(lambda root: None)
    yield
    datasets.unregister("bad-settings-test")


def test_dataset_settings_fill_only_unset_keys(tmp_path, bad_settings_dataset):
    cfg = load_config(None, ["dataset.name=blogcatalog"])
    assert _maml(cfg).iterations == 3000 and _maml(cfg).inner_rule == "lslr"
    assert cfg.section("tasks").k_shot == 1
    assert method_settings(cfg, "scratch", FACTS).inner_rule == "adam"   # not a MAML learner
    cfg = load_config(None, ["dataset.name=blogcatalog", "maml.inner_rule=sgd"])
    assert _maml(cfg).inner_rule == "sgd" and _maml(cfg).iterations == 3000
    p = tmp_path / "c.yaml"
    p.write_text("dataset:\n  name: blogcatalog\nmaml:\n  iterations: 10\n")
    assert _maml(load_config(p)).iterations == 10
    assert _maml(load_config()).iterations == MAMLSettings().iterations
    with pytest.raises(ConfigError, match="registered for dataset 'bad-settings-test'.*"
                                          "'\\*.iterations'"):
        _maml(load_config(None, ["dataset.name=bad-settings-test"]))


def test_settings_coerce_ints_to_floats_and_refuse_bools_for_ints():
    assert MAMLSettings.check("inner_lr", 1, "x") == 1.0
    with pytest.raises(ConfigError, match="'seed' expects an int"):
        load_config(None, ["seed=true"])
    with pytest.raises(ConfigError, match="'maml.iterations' expects an int"):
        MAMLSettings.check("iterations", True, "x", "maml.")
