"""The method registry: built-ins declared once, methods registered from
outside, idempotent re-registration, clear errors."""
import pytest
import torch

from graphmeta.methods import (Learner, default_methods, get_method, method_names,
                               register_method, unregister_method)


def test_built_ins_are_declared_once_with_kinds_and_training():
    assert method_names("few-shot") == ["maml", "fomaml", "anil", "metasgd", "learned-rule",
                                        "protonet", "gmeta", "meta-baseline", "finetune",
                                        "scratch"]
    assert method_names("user-interest") == [
        "maml", "fomaml", "anil", "metasgd", "learned-rule", "maml-mlp", "finetune", "scratch",
        "popularity", "neighbor-vote", "itemknn", "ease", "rp3beta", "userknn", "social-userknn",
        "graph-knn", "select-knn",
        "select-clf", "blend"]
    families = {m: get_method(m).family for m in method_names()}
    assert {m for m, f in families.items() if f == "meta-rule"} == {"metasgd", "learned-rule"}
    assert {m for m, f in families.items() if f == "meta-selection"} == {
        "select-knn", "select-clf", "blend"}
    assert [m for m in method_names() if get_method(m).baseline] == [
        "finetune", "scratch", "popularity", "neighbor-vote", "itemknn", "ease", "rp3beta",
        "userknn", "social-userknn", "graph-knn"]
    assert not get_method("ease").seeded and get_method("scratch").seeded
    assert set(get_method("finetune").search_space("user-interest")) == {
        "pretrain_lr", "inner_steps", "inner_lr"}
    assert 0 in get_method("finetune").search_space("user-interest")["inner_steps"]
    assert 300 in get_method("finetune").search_space("few-shot")["inner_steps"]
    assert "inner_rule" not in get_method("metasgd").search_space("user-interest")
    assert default_methods("user-interest") == ["maml", "maml-mlp", "finetune", "scratch",
                                                "popularity", "itemknn", "rp3beta", "userknn",
                                                "graph-knn"]
    # item-item scorers leave the default list where [C, C] matrices are too big
    assert default_methods("user-interest", n_interests=20_000) == [
        "maml", "maml-mlp", "finetune", "scratch", "popularity", "userknn"]
    assert get_method("finetune").training == "pretrain" and get_method("maml").checkpointed
    assert not get_method("itemknn").checkpointed and get_method("gmeta").config().inner_lr == 0.01
    with pytest.raises(KeyError, match="unknown method 'nope'"):
        get_method("nope")


class _Constant(Learner):
    def predict(self, batch):
        return torch.full(batch.query_y.shape, 0.5)


@pytest.fixture
def constant():
    @register_method("constant-test", kinds=("user-interest",), training="none")
    def build(ctx):
        return _Constant(ctx)
    yield build
    unregister_method("constant-test")
    assert "constant-test" not in method_names()


def test_register_from_outside_is_idempotent_and_names_conflicts(constant):
    assert "constant-test" in method_names("user-interest")
    assert "constant-test" not in default_methods("user-interest")
    register_method("constant-test", kinds=("user-interest",), training="none")(constant)
    with pytest.raises(ValueError, match="'constant-test' is already registered"):
        register_method("constant-test", kinds=("user-interest",), training="none")(
            lambda ctx: _Constant(ctx))


@pytest.mark.parametrize("kw, match", [
    ({"kinds": ("graph",), "training": "meta"}, "kinds must be some of"),
    ({"kinds": ("few-shot",), "training": "twice"}, "training must be one of"),
    ({"kinds": ("few-shot",), "training": "meta", "default_for": ("user-interest",)},
     "default_for"),
    ({"kinds": ("few-shot",), "training": "meta", "config": dict}, "config must be a Settings"),
])
def test_bad_declarations(kw, match):
    with pytest.raises(ValueError, match=match):
        register_method("bad-test", **kw)
    assert "bad-test" not in method_names()


@pytest.mark.parametrize("name", ["tasks", "*", "my.method"])
def test_a_method_cannot_take_a_config_sections_name(name):
    with pytest.raises(ValueError, match="a method cannot be called"):
        register_method(name, kinds=("few-shot",), training="meta")
