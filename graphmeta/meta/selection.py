"""Meta-selection estimators, scikit-learn style (``fit``/``predict``/
``get_params``), saved as plain JSON-able dicts (``state_dict``), no pickle.

- :class:`MetaSelector`: per task, pick one of ``L`` candidate learners from
  the task's meta-features: ``"knn"`` (the candidate best on the nearest
  fitted tasks, auto-sklearn's warm start, Feurer et al., 2015) or
  ``"classifier"`` (multinomial logistic regression onto each task's best).
- :class:`StackedBlend`: per task, a convex combination of the candidates'
  standardised scores, its weights a softmax gate on the meta-features
  (fitted by a listwise loss on items).

The meta-features and candidates come from :mod:`graphmeta.methods.selection`.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import KFold

# ``C="auto"``: the regularisation is chosen when the estimator is fitted, by
# cross-validation over the fitted tasks among these values (scikit-learn's
# ``LogisticRegressionCV(Cs=...)`` convention). Folds are fixed (seed 0), so a
# fit is deterministic.
CS = (0.01, 0.1, 1.0, 10.0)
CV_FOLDS = 5


class _Standardiser:
    def fit(self, X: np.ndarray) -> "_Standardiser":
        self.mean, self.scale = X.mean(0), X.std(0)
        self.scale[self.scale == 0] = 1.0
        return self

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.scale


class MetaSelector:
    """Chooses a candidate per task from meta-features.

    Args:
        strategy: ``"knn"`` (best on average over the ``n_neighbors``
            nearest fitted tasks) or ``"classifier"`` (multinomial logistic
            regression onto each task's best candidate).
        n_neighbors: Neighbours for ``"knn"``.
        C: Inverse regularisation for ``"classifier"``; ``"auto"``: chosen
            among :data:`CS` by ``LogisticRegressionCV`` (5 folds, held-out
            log-loss; the chosen value is ``C_`` after ``fit``).

    Example:
        >>> sel = MetaSelector("knn", n_neighbors=10).fit(X_val, scores_val)
        >>> choice = sel.predict(X_test)      # candidate index per task
    """

    def __init__(self, strategy: str = "knn", n_neighbors: int = 25,
                 C: float | str = 1.0) -> None:
        if strategy not in ("knn", "classifier"):
            raise ValueError(f"strategy must be 'knn' or 'classifier', got {strategy!r}")
        _check_C(C)
        self.strategy, self.n_neighbors, self.C = strategy, n_neighbors, C
        self.C_: float | None = None if C == "auto" else float(C)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"strategy": self.strategy, "n_neighbors": self.n_neighbors, "C": self.C}

    def set_params(self, **params: Any) -> "MetaSelector":
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        return f"MetaSelector({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    def fit(self, X: np.ndarray, scores: np.ndarray) -> "MetaSelector":
        """``X`` ``[n, f]`` meta-features, ``scores`` ``[n, L]`` each
        candidate's score on each task (NaN rows are dropped)."""
        keep = ~np.isnan(scores).any(1)
        X, scores = np.asarray(X, float)[keep], np.asarray(scores, float)[keep]
        self.n_candidates = scores.shape[1]
        self._std = _Standardiser().fit(X)
        Z = self._std(X)
        if self.strategy == "knn":
            self._X, self._scores = Z, scores
        else:
            best = scores.argmax(1)
            self._classes = np.unique(best)
            if len(self._classes) == 1:
                self._coef = np.zeros((1, X.shape[1]))
                self._intercept = np.zeros(1)
            else:
                if self.C == "auto":
                    folds = KFold(min(CV_FOLDS, len(Z)), shuffle=True, random_state=0)
                    with warnings.catch_warnings():
                        # scikit-learn 1.8+ announces changes to defaults and fitted
                        # attributes that do not touch an L2 fit's C_, coef_, intercept_
                        warnings.simplefilter("ignore", FutureWarning)
                        clf = LogisticRegressionCV(Cs=list(CS), cv=folds, max_iter=2000,
                                                   scoring="neg_log_loss").fit(Z, best)
                    self.C_ = float(np.ravel(clf.C_)[0])
                else:
                    clf = LogisticRegression(C=self.C, max_iter=2000).fit(Z, best)
                coef, intercept = clf.coef_, clf.intercept_
                if len(self._classes) == 2:           # sklearn's binary form: one row
                    coef, intercept = np.vstack([-coef, coef]) / 2, np.r_[-intercept, intercept] / 2
                self._coef, self._intercept = coef, intercept
        return self

    def decision(self, X: np.ndarray) -> np.ndarray:
        """Expected score (knn) or log-odds (classifier) of each candidate ``[n, L]``."""
        Z = self._std(np.asarray(X, float))
        if self.strategy == "knn":
            d = ((Z[:, None, :] - self._X[None]) ** 2).sum(-1)
            near = np.argsort(d, 1, kind="stable")[:, :self.n_neighbors]
            return self._scores[near].mean(1)
        out = np.full((len(Z), self.n_candidates), -np.inf)
        out[:, self._classes] = Z @ self._coef.T + self._intercept
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.decision(X).argmax(1)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to predict, as JSON-able lists."""
        s: dict[str, Any] = {"params": self.get_params(), "C_": self.C_,
                             "n_candidates": self.n_candidates,
                             "mean": self._std.mean.tolist(), "scale": self._std.scale.tolist()}
        if self.strategy == "knn":
            s.update(X=self._X.tolist(), scores=self._scores.tolist())
        else:
            s.update(classes=self._classes.tolist(), coef=self._coef.tolist(),
                     intercept=self._intercept.tolist())
        return s

    def load_state_dict(self, state: dict[str, Any]) -> "MetaSelector":
        self.set_params(**state["params"])
        self.C_ = state.get("C_", None if self.C == "auto" else self.C)
        self.n_candidates = state["n_candidates"]
        self._std = _Standardiser()
        self._std.mean, self._std.scale = np.array(state["mean"]), np.array(state["scale"])
        if self.strategy == "knn":
            self._X, self._scores = np.array(state["X"]), np.array(state["scores"])
        else:
            self._classes = np.array(state["classes"], dtype=int)
            self._coef, self._intercept = np.array(state["coef"]), np.array(state["intercept"])
        return self


def _standardise_scores(s: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each task's scores ``[T, S]`` to zero mean, unit deviation over its candidates."""
    m = mask.astype(float)
    n = m.sum(1, keepdims=True).clip(1)
    mean = (s * m).sum(1, keepdims=True) / n
    sd = np.sqrt((((s - mean) * m) ** 2).sum(1, keepdims=True) / n)
    return np.where(mask, (s - mean) / np.where(sd > 0, sd, 1), 0.0)


class StackedBlend:
    """Per-task blend of candidates' standardised scores, gated by the task's
    meta-features: ``score = sum_l w_l(x) z_l`` with
    ``w(x) = softmax(a + B clip(x))``, a convex combination of the candidates.

    The gate's weights are non-negative and sum to one, so no task, however
    far its meta-features lie from the fitted ones, can get a candidate's
    ranking inverted; meta-features are also clipped to the range seen in
    ``fit``. (A plain logistic regression on the z-scores and their products
    with the meta-features, the first version, gave correlated candidates
    weights of opposite sign that grew linearly with the meta-features: on
    ego-facebook test tasks outside meta-val's range it ranked the one
    relevant interest near the bottom.) ``a``, ``B`` and a temperature are fitted
    by a listwise loss (softmax cross-entropy of each relevant item against
    its task's candidate list, averaged per task) with an L2 penalty on
    ``B`` of ``1 / C``, scikit-learn's convention. scikit-learn has no gated
    (mixture-of-experts) stacker, hence this one, fitted with L-BFGS in
    float64. ``C="auto"`` chooses ``C`` among :data:`CS` by 5-fold
    cross-validation over the tasks (the held-out listwise loss, without the
    penalty), then refits on all of them with it (``C_``; 1 when fewer than
    two tasks have a relevant item).
    """

    def __init__(self, C: float | str = 1.0) -> None:
        _check_C(C)
        self.C = C
        self.C_: float | None = None if C == "auto" else float(C)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"C": self.C}

    def _x(self, X: np.ndarray) -> np.ndarray:
        """Standardised meta-features, clipped to the fitted range."""
        return np.clip(self._std(np.asarray(X, float)), self._lo, self._hi)

    def weights(self, X: np.ndarray) -> np.ndarray:
        """Each task's weight on each candidate ``[T, L]`` (rows sum to one)."""
        return softmax(self._a + self._x(X) @ self._B.T, axis=1)

    def fit(self, X: np.ndarray, scores: np.ndarray, y: np.ndarray, mask: np.ndarray
            ) -> "StackedBlend":
        """``X`` ``[T, f]``; ``scores`` ``[L, T, S]``; ``y``, ``mask`` ``[T, S]``.
        Tasks with no relevant item in ``mask`` do not count."""
        X, mask = np.asarray(X, float), np.asarray(mask, bool)
        self._std = _Standardiser().fit(X)
        Zx = self._std(X)
        self._lo, self._hi = Zx.min(0), Zx.max(0)
        pos = (np.asarray(y) > 0) & mask
        keep = pos.any(1)
        data = (torch.from_numpy(Zx[keep]),
                torch.from_numpy(np.stack([_standardise_scores(s, mask) for s in scores],
                                          -1)[keep]),
                torch.from_numpy(mask[keep]), torch.from_numpy(pos[keep]).double())
        n = int(keep.sum())
        if self.C == "auto" and n < 2:       # nothing to cross-validate: sklearn's default
            self.C_ = 1.0
        elif self.C == "auto":
            folds = [(torch.from_numpy(tr), torch.from_numpy(te)) for tr, te in
                     KFold(min(CV_FOLDS, n), shuffle=True, random_state=0).split(np.arange(n))]
            held_out = []
            for C in CS:
                losses = [_listwise_nll(_fit_gate([d[tr] for d in data], C),
                                        [d[te] for d in data]).mean() for tr, te in folds]
                held_out.append(float(torch.stack(losses).mean()))
            self.C_ = CS[int(np.argmin(held_out))]
        assert self.C_ is not None        # given, or chosen by cross-validation above
        a, B, log_t = _fit_gate(list(data), self.C_)
        self._a, self._B = a.numpy(), B.numpy()
        self._temperature = float(log_t.exp())
        return self

    def predict(self, X: np.ndarray, scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
        Z = np.stack([_standardise_scores(s, mask) for s in scores], -1)   # [T, S, L]
        return self._temperature * (Z * self.weights(X)[:, None, :]).sum(-1)

    def state_dict(self) -> dict[str, Any]:
        return {"params": self.get_params(), "C_": self.C_, "mean": self._std.mean.tolist(),
                "scale": self._std.scale.tolist(), "lo": self._lo.tolist(),
                "hi": self._hi.tolist(), "a": self._a.tolist(), "B": self._B.tolist(),
                "temperature": self._temperature}

    def load_state_dict(self, state: dict[str, Any]) -> "StackedBlend":
        self.C = state["params"]["C"]
        self.C_ = state.get("C_", None if self.C == "auto" else self.C)
        self._std = _Standardiser()
        self._std.mean, self._std.scale = np.array(state["mean"]), np.array(state["scale"])
        self._lo, self._hi = np.array(state["lo"]), np.array(state["hi"])
        self._a, self._B = np.array(state["a"]), np.array(state["B"])
        self._temperature = float(state["temperature"])
        return self


def _check_C(C: float | str) -> None:
    if not (C == "auto" or (isinstance(C, (int, float)) and not isinstance(C, bool) and C > 0)):
        raise ValueError(f"C must be a number > 0 or 'auto', got {C!r}")


def _fit_gate(data: list[torch.Tensor], C: float
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The blend's gate ``a``, ``B`` and log-temperature on ``data`` =
    ``(x [T, f], Z [T, S, L], mask [T, S], positives [T, S])``: the mean
    listwise loss plus ``|B|^2 / (2 C T)``, minimised by L-BFGS."""
    x, Z, m, p = data
    L = Z.shape[-1]
    a = torch.zeros(L, dtype=torch.float64, requires_grad=True)
    B = torch.zeros(L, x.shape[1], dtype=torch.float64, requires_grad=True)
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([a, B, log_t], max_iter=500, tolerance_grad=1e-9,
                            line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        opt.zero_grad()
        out = (_listwise_nll((a, B, log_t), data).mean()
               + (B ** 2).sum() / (2 * C * len(x)))
        out.backward()
        return out

    with torch.enable_grad():
        opt.step(loss)
    return a.detach(), B.detach(), log_t.detach()


def _listwise_nll(gate: tuple[torch.Tensor, ...], data: list[torch.Tensor]) -> torch.Tensor:
    """Per task: the mean over its relevant items of minus the log-softmax of
    the blended score against the task's candidate list."""
    a, B, log_t = gate
    x, Z, m, p = data
    w = torch.softmax(a + x @ B.T, 1)                                     # [T, L]
    s = log_t.exp() * (Z * w[:, None, :]).sum(-1)
    logp = torch.log_softmax(s.masked_fill(~m, float("-inf")), 1).masked_fill(~m, 0)
    return -(logp * p).sum(1) / p.sum(1)


__all__ = ["CS", "MetaSelector", "StackedBlend"]
