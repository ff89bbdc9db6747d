"""Meta-selection estimators: they pick the known best learner on constructed
tasks, and round-trip through JSON."""
import json

import numpy as np
import pytest

from graphmeta.meta.selection import CS, MetaSelector, StackedBlend


def _constructed(n=300, seed=0):
    """Candidate 0 wins where feature 0 > 0, candidate 1 elsewhere; candidate
    2 never wins. Feature 1 is noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    scores = np.full((n, 3), 0.5) + rng.normal(0, 0.01, (n, 3))
    scores[X[:, 0] > 0, 0] += 0.3
    scores[X[:, 0] <= 0, 1] += 0.3
    return X, scores


def _gated(T=200, S=12, noise_features=0, signal=True, seed=0):
    """Two candidates, each right on half the tasks. With ``signal`` the half
    is feature 0's sign; without, it is unrelated to the meta-features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, 1 + noise_features))
    y = (rng.random((T, S)) < 0.3).astype(int)
    good, bad = y + rng.normal(0, 0.3, (T, S)), rng.normal(0, 1, (T, S))
    first = X[:, 0] > 0 if signal else rng.random(T) < 0.5
    scores = np.stack([np.where(first[:, None], good, bad), np.where(first[:, None], bad, good)])
    return X, scores, y, np.ones((T, S), bool)


@pytest.mark.parametrize("strategy", ["knn", "classifier"])
def test_selector_picks_the_learner_known_to_be_best(strategy):
    X, scores = _constructed()
    sel = MetaSelector(strategy, n_neighbors=15).fit(X, scores)
    Xt, st = _constructed(200, seed=1)
    choice = sel.predict(Xt)
    assert (choice == st.argmax(1)).mean() > 0.9
    assert not (choice == 2).any()
    # round trip through JSON: the same choices, no pickle
    again = MetaSelector().load_state_dict(json.loads(json.dumps(sel.state_dict())))
    assert again.get_params() == sel.get_params()
    assert np.array_equal(again.predict(Xt), choice)


def test_classifier_with_one_winner_always_picks_it():
    X, scores = _constructed()
    scores[:, 2] = 2.0
    assert (MetaSelector("classifier").fit(X, scores).predict(X) == 2).all()


def test_blend_weights_follow_the_meta_features():
    """Two candidates: the first ranks items right when feature 0 > 0, the
    second otherwise. The blend learns to trust each where it is right."""
    X, scores, y, mask = _gated()
    T, S = y.shape
    blend = StackedBlend().fit(X, scores, y, mask)
    out = blend.predict(X, scores, mask)
    from sklearn.metrics import roc_auc_score
    aucs = [roc_auc_score(y[t], out[t]) for t in range(T) if 0 < y[t].sum() < S]
    assert np.mean(aucs) > 0.9
    again = StackedBlend().load_state_dict(json.loads(json.dumps(blend.state_dict())))
    assert np.allclose(again.predict(X, scores, mask), out)


def test_blend_cannot_invert_a_ranking_on_tasks_outside_the_fitted_range():
    """The blend is a convex combination of the candidates: where every
    candidate ranks a task perfectly, so does the blend, however far the
    task's meta-features lie from those it was fitted on. (A blend with
    weights linear in the meta-features gave correlated candidates weights of
    opposite sign and inverted such tasks.)"""
    rng = np.random.default_rng(0)
    T, S = 200, 12
    X = rng.normal(size=(T, 1))
    y = (rng.random((T, S)) < 0.3).astype(int)
    y[:, 0], y[:, 1] = 1, 0
    good = y + rng.normal(0, 0.3, (2, T, S))
    noise = rng.normal(0, 1, (T, S))
    first = X[:, 0] > 0
    scores = np.stack([np.where(first[:, None], good[0], noise),
                       np.where(first[:, None], noise, good[1])])
    mask = np.ones((T, S), bool)
    blend = StackedBlend().fit(X, scores, y, mask)
    far = np.array([[-40.0], [-8.0], [8.0], [40.0]] * 5)
    w = blend.weights(far)
    assert (w >= 0).all() and np.allclose(w.sum(1), 1)
    yf = np.tile(np.arange(S) < 4, (len(far), 1)).astype(int)
    perfect = np.stack([yf * 5 + rng.random(yf.shape) for _ in range(2)])   # both rank it right
    out = blend.predict(far, perfect, np.ones_like(yf, bool))
    assert (out[yf == 1].reshape(len(far), -1).min(1)
            > out[yf == 0].reshape(len(far), -1).max(1)).all()


def test_auto_C_is_loose_where_the_meta_features_tell_and_tight_where_they_do_not():
    """``C="auto"`` picks the regularisation by cross-validation over the
    tasks: the loosest where the gate must follow a meta-feature, the
    tightest where every meta-feature is noise; both round-trip through JSON."""
    X, scores, y, mask = _gated()
    blend = StackedBlend("auto").fit(X, scores, y, mask)
    assert blend.C_ == max(CS)
    again = StackedBlend().load_state_dict(json.loads(json.dumps(blend.state_dict())))
    assert again.C == "auto" and again.C_ == blend.C_
    assert np.array_equal(again.predict(X, scores, mask), blend.predict(X, scores, mask))
    X, scores, y, mask = _gated(T=120, noise_features=9, signal=False)
    assert StackedBlend("auto").fit(X, scores, y, mask).C_ == min(CS)
    X, best = _constructed()
    sel = MetaSelector("classifier", C="auto").fit(X, best)
    assert sel.C_ == max(CS) and (sel.predict(X) == best.argmax(1)).mean() > 0.95
    again = MetaSelector().load_state_dict(json.loads(json.dumps(sel.state_dict())))
    assert again.C == "auto" and again.C_ == sel.C_
    noise = np.random.default_rng(1).normal(0.5, 0.01, best.shape)
    assert MetaSelector("classifier", C="auto").fit(X, noise).C_ == min(CS)
    with pytest.raises(ValueError, match="C must be"):
        StackedBlend(C=0)
