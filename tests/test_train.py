"""The shared training loop: seeded building, best-on-meta-val state, errors."""
import math

import numpy as np
import pytest
import torch

from graphmeta.config import load_config
from graphmeta.eval import evaluate
from graphmeta.methods import Learner, register_method, unregister_method
from graphmeta.runner import prepare
from graphmeta.train import build_learner, fit
from tests.helpers import TINY_SETTINGS


@pytest.fixture(scope="module")
def run():
    return prepare(load_config(None, TINY_SETTINGS + ["meta.iterations=6"]), torch.device("cpu"))


def test_learners_are_built_from_the_seed(run):
    a = build_learner(run.context("maml")).state_dict()
    torch.manual_seed(123)
    b = build_learner(run.context("maml")).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fit_keeps_the_state_with_the_best_val_score(run):
    val = run.fixed("val")
    res = fit(run.context("maml"), val, progress=False)
    assert [r["iteration"] for r in res.history] == [2, 4, 6]
    assert run.spec.meta.select == "auc"
    best = max(r["val_auc"] for r in res.history)
    assert res.best_val("auc") == best
    again = evaluate(res.learner, run.tasks, val)
    assert float(np.nanmean(again["auc"])) == pytest.approx(best, abs=1e-6)
    assert res.seconds > 0 and all(math.isfinite(r["train_loss"]) for r in res.history)


def test_untrained_methods_skip_the_loop(run):
    res = fit(run.context("scratch"), run.fixed("val"), progress=False)
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
    register_method("diverges-test", kinds=("user-interest",), training="meta")(_Diverges)
    try:
        with pytest.raises(FloatingPointError, match="diverges-test: training loss is nan at "
                                                     "iteration 1; lower meta.inner_lr"):
            fit(run.context("diverges-test"), run.fixed("val"), progress=False)
    finally:
        unregister_method("diverges-test")


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
    register_method("nan-test", kinds=("user-interest",), training="meta")(_SometimesNaN)
    try:
        _SometimesNaN.bad = (False, True, False)
        res = fit(run.context("nan-test"), run.fixed("val"), progress=False)
        assert [r["iteration"] for r in res.history] == [2, 4, 6]
        assert math.isnan(res.history[1]["val_auc"])
        assert res.best_val("auc") == max(res.history[0]["val_auc"], res.history[2]["val_auc"])
        _SometimesNaN.bad = (True, True, True)
        with pytest.raises(FloatingPointError, match="every meta-val evaluation diverged"):
            fit(run.context("nan-test"), run.fixed("val"), progress=False)
    finally:
        unregister_method("nan-test")
