"""The shared training loop: seeded building, best-on-meta-val state, errors."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from graphmeta.config import load_config
from graphmeta.methods import Learner, MAMLSettings, register_method, unregister_method
from graphmeta.models.settings import CONTEXT_UP_TO, SPARSE_FROM
from graphmeta.run import prepare
from graphmeta.spec import resolve
from graphmeta.tasks.interest import SVD_FROM
from graphmeta.train import build_learner, fit
from tests.helpers import TINY_SETTINGS, interest_folder


@pytest.fixture(scope="module")
def run():
    return prepare(load_config(None, TINY_SETTINGS + ["*.iterations=6"]), torch.device("cpu"))


def _ctx(run, name):
    """A method registered after the run was resolved, with maml's settings."""
    return dataclasses.replace(run.context("maml"), method=name)


def test_learners_are_built_from_the_seed(run):
    a = build_learner(run.context("maml")).state_dict()
    torch.manual_seed(123)
    b = build_learner(run.context("maml")).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fit_keeps_the_state_with_the_best_val_score(run):
    res = fit(run.context("maml"), run.evaluator, progress=False)
    assert [r["iteration"] for r in res.history] == [2, 4, 6]
    assert run.spec.eval.select == "auc"
    best = max(r["val_auc"] for r in res.history)
    assert res.best_val("auc") == best
    kept = res.best_val_metrics("auc")          # every metric of the same row
    assert kept["auc"] == best and "ndcg@10" in kept
    again = run.evaluator.evaluate(res.learner.eval().predict, "val")
    assert float(np.nanmean(again["auc"])) == pytest.approx(best, abs=1e-6)
    assert res.seconds > 0 and all(math.isfinite(r["train_loss"]) for r in res.history)


def test_untrained_methods_skip_the_loop(run):
    res = fit(run.context("scratch"), run.evaluator, progress=False)
    assert res.history == [] and res.learner.ctx.method == "scratch"


class _Diverges(Learner):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.w = torch.nn.Parameter(torch.zeros(()))

    def training_loss(self, batch):
        return self.w * float("nan")

    def predict(self, batch):
        return torch.full(batch.query_y.shape, 0.5)


def test_a_non_finite_loss_names_the_rates(run):
    register_method("diverges-test", kinds=("user-interest",), training="meta",
                    config=MAMLSettings)(_Diverges)
    try:
        with pytest.raises(FloatingPointError, match="diverges-test: training loss is nan at "
                                                     "iteration 1; lower diverges-test.inner_lr "
                                                     "\\(now 0.1\\) or diverges-test.meta_lr"):
            fit(_ctx(run, "diverges-test"), run.evaluator, progress=False)
    finally:
        unregister_method("diverges-test")


class _DivergesLater(Learner):
    """A finite, falling loss until iteration ``at``, then an infinite one."""
    at = 5

    def __init__(self, ctx):
        super().__init__(ctx)
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.steps = 0

    def training_loss(self, batch):
        self.steps += 1
        return -self.w * (float("inf") if self.steps >= self.at else 1.0)

    def predict(self, batch):
        return batch.query_y.float() * self.w.detach()


def test_a_loss_that_diverges_after_a_validation_stops_training_at_the_best_state(run, caplog):
    register_method("late-test", kinds=("user-interest",), training="meta",
                    config=MAMLSettings)(_DivergesLater)
    try:
        with caplog.at_level("WARNING"):
            res = fit(_ctx(run, "late-test"), run.evaluator, progress=False)
        # validations at 2 and 4; the loss is -inf at iteration 5, before the third
        assert [r["iteration"] for r in res.history] == [2, 4]
        assert "training loss is -inf at iteration 5" in caplog.text
        assert "training stopped" in caplog.text
        # both validations rank perfectly; the first (after 2 Adam steps of ~lr) is kept
        assert [r["val_auc"] for r in res.history] == [1.0, 1.0]
        lr = MAMLSettings().meta_lr
        assert res.learner.w.item() == pytest.approx(2 * lr, rel=1e-3)
    finally:
        unregister_method("late-test")


class _SometimesNaN(Learner):
    """A finite loss, but predictions that are NaN at chosen validations (as
    when one task's adaptation overflows): evaluation ``i`` is NaN iff
    ``bad[i]``; otherwise it ranks by ``w``, which grows every step."""
    bad: tuple = ()

    def __init__(self, ctx):
        super().__init__(ctx)
        self.w = torch.nn.Parameter(torch.zeros(()))
        self.calls = 0

    def training_loss(self, batch):
        return -self.w

    def predict(self, batch):
        self.calls += 1
        if self.bad[self.calls - 1]:
            return torch.full(batch.query_y.shape, float("nan"))
        return batch.query_y.float() * self.w.detach()


def test_a_diverged_validation_is_not_selectable_and_training_goes_on(run):
    register_method("nan-test", kinds=("user-interest",), training="meta",
                    config=MAMLSettings)(_SometimesNaN)
    try:
        _SometimesNaN.bad = (False, True, False)
        res = fit(_ctx(run, "nan-test"), run.evaluator, progress=False)
        assert [r["iteration"] for r in res.history] == [2, 4, 6]
        assert math.isnan(res.history[1]["val_auc"])
        assert res.best_val("auc") == max(res.history[0]["val_auc"], res.history[2]["val_auc"])
        _SometimesNaN.bad = (True, True, True)
        with pytest.raises(FloatingPointError, match="every meta-val evaluation diverged"):
            fit(_ctx(run, "nan-test"), run.evaluator, progress=False)
    finally:
        unregister_method("nan-test")


def test_a_sparse_interest_table_trains_with_lazy_adam(tmp_path):
    """``model.sparse_grad=on``: the table gets SparseAdam, which leaves the
    rows no training batch read exactly where they started; the optimiser
    state round-trips through its state_dict."""
    from graphmeta.optimiser import Optimiser
    cfg = load_config(None, [f"dataset.name={interest_folder(tmp_path)}", "maml.sparse_grad=true",
                             "maml.iterations=3", "maml.eval_every=3", "maml.meta_batch=2",
                             "tasks.n_val_tasks=4", "maml.hidden=8", "maml.head_hidden=8",
                             "tasks.k_shot=2", "tasks.n_query=2", "maml.inner_steps=1",
                             "methods=[maml]"])
    run = prepare(cfg, torch.device("cpu"))
    assert run.spec.settings["maml"].sparse_grad is True
    ctx = run.context("maml")
    torch.manual_seed(0)
    start = build_learner(ctx).model.interest_emb.weight.detach().clone()
    learner = fit(ctx, run.evaluator, progress=False).learner
    table = learner.model.interest_emb.weight.detach()
    moved = (table != start).any(1)
    assert learner.model.sparse_grad and 0 < moved.sum() < len(moved)
    opt = Optimiser(learner, 1e-3)
    assert [type(o).__name__ for o in opt.opts] == ["Adam", "SparseAdam"]
    opt.load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="optimiser states"):
        Optimiser(torch.nn.Linear(2, 2), 1e-3).load_state_dict(opt.state_dict())


def test_autos_that_follow_the_catalogue_size():
    from torch_geometric.data import Data
    assert SPARSE_FROM == CONTEXT_UP_TO
    for n, sparse, features, context in ((SVD_FROM, False, "interests", True),
                                         (SVD_FROM + 1, False, "interests-svd", True),
                                         (SPARSE_FROM, False, "interests-svd", True),
                                         (SPARSE_FROM + 1, True, "interests-svd", False)):
        data = Data(edge_index=torch.tensor([[0], [1]]), num_nodes=2,
                    interests=torch.zeros(2, n, dtype=torch.bool))
        spec = resolve(load_config(None), data)
        m = spec.settings["maml"]
        assert (m.sparse_grad, spec.tasks.node_features, m.context) == \
            (sparse, features, context)
    # fixed item features (the synthetic setup) and few-shot tasks: no context
    data.interest_x = torch.zeros(SVD_FROM, 3)
    data.interests = torch.zeros(2, SVD_FROM, dtype=torch.bool)
    assert resolve(load_config(None), data).settings["maml"].context is False
    del data.interests, data.interest_x
    data.y = torch.tensor([0, 1])
    assert resolve(load_config(None), data).settings["maml"].context is False


def test_raw_feature_scale_is_named_and_standardising_it_trains(tmp_path):
    """Features like followers counts: the run warns, a NaN loss names them
    as the likely cause, and tasks.scale_x=standard trains."""
    from graphmeta import datasets
    from graphmeta.synthetic import make_social_graph

    @datasets.register("raw-scale-test")
    def raw_scale(root):
        d = make_social_graph(240, 12, 6, n_blocks=6, p_in=0.08, seed=0)
        d.x = d.x * 1e4 + 3e4
        return d

    base = TINY_SETTINGS + ["dataset.name=raw-scale-test", f"dataset.root={tmp_path}",
                            "methods=[maml]"]
    try:
        raw = prepare(load_config(None, base), torch.device("cpu"))
        assert any("node features reach |x| = " in w and "tasks.scale_x=standard" in w
                   for w in raw.warnings)
        with pytest.raises(FloatingPointError, match="the likely cause: the node features reach "
                                                     r"\|x\| = .*set tasks.scale_x=standard"):
            fit(raw.context("maml"), raw.evaluator, progress=False)
        scaled = prepare(load_config(None, base + ["tasks.scale_x=standard"]),
                         torch.device("cpu"))
        assert not any("node features reach" in w for w in scaled.warnings)
        x = scaled.tasks.node_x
        torch.testing.assert_close(x.mean(0), torch.zeros(x.size(1)), atol=1e-4, rtol=0)
        torch.testing.assert_close(x.std(0), torch.ones(x.size(1)), atol=1e-4, rtol=0)
        res = fit(scaled.context("maml"), scaled.evaluator, progress=False)
        assert all(math.isfinite(r["train_loss"]) for r in res.history)
    finally:
        datasets.unregister("raw-scale-test")
