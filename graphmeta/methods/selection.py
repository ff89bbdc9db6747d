"""Meta-selection methods: learn which learner to use for a new task.

For each user-interest task a selector chooses among trained candidate
learners (``candidates``: by default MAML, finetune, itemknn, EASE,
graph-knn and popularity) from the task's meta-features (:func:`meta_features`:
support size, ego-subgraph size and density, the ego's degree and known
neighbours, the neighbours' agreement with the support, the support items'
popularity and co-occurrence). It is fitted on the candidates' per-task
scores on the meta-val tasks, in one of three ways:

- ``select-knn``: the candidate that did best on the ``neighbors`` nearest
  meta-val tasks in meta-feature space (auto-sklearn's warm start, Feurer
  et al., 2015);
- ``select-clf``: a logistic-regression classifier from meta-features to the
  per-task best candidate;
- ``blend``: a per-task stacked blend: each candidate's scores are
  standardised within the task and mixed with non-negative weights that sum
  to one, a softmax gate on the meta-features, fitted by a listwise loss on
  the meta-val items.

Each is scored on meta-val by 2-fold cross-fitting beside the best single
candidate chosen the same way (:mod:`graphmeta.methods.crossfit`). With
``fallback`` (the default) a selector that does not beat that single
candidate there is not used: the method predicts with the candidate best on
all meta-val tasks, as ensemble selection (Caruana et al., 2004;
auto-sklearn's final step) keeps a single model when no mixture beats it on
validation data.

The candidates are other methods of the run, trained at the same seed and
passed in (``ctx.trained``). The selector
(:class:`~graphmeta.meta.selection.MetaSelector`,
:class:`~graphmeta.meta.selection.StackedBlend`) saves to a plain JSON-able
dict, no pickle; the method's checkpoint holds the candidates' states and
that dict.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

import numpy as np
import torch
from torch import Tensor, nn

from graphmeta.eval import Evaluator
from graphmeta.meta.selection import CS, MetaSelector, StackedBlend
from graphmeta.methods.crossfit import (best_candidate, cross_fit, fallback_decision,
                                        fit_selector, selector_metric)
from graphmeta.methods.registry import Context, Learner, register_method
from graphmeta.methods.scorers import InterestScorers
from graphmeta.settings import Settings, setting
from graphmeta.tasks import TaskBatch

FEATURES = ("support_positives", "ego_nodes", "ego_density", "ego_degree", "known_neighbours",
            "neighbour_support_agreement", "support_popularity", "support_cooccurrence")
CANDIDATES = ["maml", "finetune", "itemknn", "ease", "graph-knn", "popularity"]


@dataclass(frozen=True)
class SelectionSettings(Settings):
    candidates: list = setting(CANDIDATES, doc="the learners chosen among per task (each "
                                               "with its own settings)")
    fallback: bool = setting(True, doc="use the best single candidate instead when the "
                                       "selector, cross-fitted on meta-val, does not beat it")


@dataclass(frozen=True)
class KNNSelectSettings(SelectionSettings):
    neighbors: int = setting(25, low=1, search=[5, 10, 25, 50, 100],
                             doc="meta-val tasks consulted")


@dataclass(frozen=True)
class FittedSelectSettings(SelectionSettings):
    C: Any = setting("auto", auto=float, positive=True, search=list(CS),
                     doc="inverse regularisation; auto: chosen when the selector is fitted, "
                         "by 5-fold cross-validation over the meta-val tasks among "
                         "0.01, 0.1, 1, 10")


def meta_features(scorers: InterestScorers, batch: TaskBatch) -> np.ndarray:
    """Meta-features ``[T, len(FEATURES)]`` of a batch's tasks, from their
    support sets and ego-subgraphs only."""
    g = batch.graphs
    adj, mask = g.adj.cpu(), g.node_mask.cpu()
    n = mask.sum(1).double()
    edges = adj.sum((1, 2)).double()
    ids = g.node_ids.cpu()
    degree = (adj[:, 0] > 0).sum(1).double()
    known = ((adj[:, 0] > 0) & (ids >= 0) & scorers.tasks.known[ids.clamp_min(0)]).sum(1).double()
    pos = (batch.support_y.cpu() == 1).double()
    items = batch.support_items.cpu()
    freq = scorers.catalogue_scores("neighbor-vote", batch).gather(1, items)
    pop = scorers.popularity[items]
    sim = scorers.similarity[items.unsqueeze(-1), items.unsqueeze(1)]       # [T, k, k]
    pairs = pos.unsqueeze(-1) * pos.unsqueeze(1)
    k = pos.sum(1)
    cols = [k, n, edges / (n * (n - 1)).clamp_min(1), degree, known,
            (freq * pos).sum(1) / k.clamp_min(1), (pop * pos).sum(1) / k.clamp_min(1),
            (sim * pairs).sum((1, 2)) / (k * (k - 1)).clamp_min(1)]
    return torch.stack(cols, 1).numpy()


class Selection(Learner):
    """A meta-selection method: trained candidates (``ctx.trained``) plus a
    selector (or a blend) fitted on their meta-val scores. The candidates'
    states and the selector's JSON-able state are its checkpoint."""

    def __init__(self, ctx: Context, mode: str) -> None:
        super().__init__(ctx)
        self.mode = mode
        self.names = list(ctx.settings.candidates)
        missing = [n for n in self.names if n not in ctx.trained]
        if missing:
            raise ValueError(f"{ctx.method}: candidates {missing} were not passed in "
                             f"(ctx.trained holds {sorted(ctx.trained)})")
        self.candidates = nn.ModuleDict({n: ctx.trained[n] for n in self.names})
        self.scorers = InterestScorers(ctx.tasks)
        self.selector = self._new_selector()
        # set by fit (and saved): the candidate used instead of the selector,
        # and the cross-fitted meta-val scores that decided it
        self.fallback_: str | None = None
        self.val_: dict[str, float] = {}

    def _new_selector(self) -> MetaSelector | StackedBlend:
        s = self.settings
        if self.mode == "blend":
            return StackedBlend(C=s.C)
        if self.mode == "knn":
            return MetaSelector("knn", n_neighbors=s.neighbors)
        return MetaSelector("classifier", C=s.C)

    def fit(self, evaluator: Evaluator, progress: bool = False) -> list[dict]:
        """Fits the selector on the candidates' per-task meta-val scores. Its
        own meta-val score (the history row tuning reads) is 2-fold
        cross-fitted, as is the best single candidate's beside it; with
        ``fallback``, unless the selector's is higher, the method keeps the
        candidate best on all meta-val tasks instead (and that is its
        score). The kept selector is refitted on every task."""
        data = self.collect(evaluator.batches("val"), evaluator.score)
        select = self.ctx.select
        self.val_, prefer_single = fallback_decision(
            *cross_fit(self.mode, self._new_selector, data, select))
        self.selector = fit_selector(self.mode, self._new_selector(), data)
        use_single = self.settings.fallback and prefer_single
        self.fallback_ = self.names[best_candidate(data[4])] if use_single else None
        return [{"method": self.ctx.method, "seed": self.ctx.seed, "iteration": 0,
                 f"val_{select}": self.val_["best_single" if use_single else "selector"]}]

    def _predictions(self, batch: TaskBatch) -> list[Tensor]:
        return [self.candidates[n].eval().predict(batch).detach().cpu().double()
                for n in self.names]

    def collect(self, batches: Iterable, score: Callable[[Tensor, Any], dict]
                ) -> tuple[np.ndarray, ...]:
        """Meta-features, candidates' scores ``[L, T, S]``, labels, masks and
        each candidate's per-task metric ``[T, L]`` (``score(pred, batch)``)
        over ``batches``."""
        metric = self.ctx.select
        batches = list(batches)
        Xs, S, Y, M, P = [], [], [], [], []
        width = max(b.query_y.size(1) for b in batches)
        for b in batches:
            preds = self._predictions(b)
            Xs.append(meta_features(self.scorers, b))
            S.append(np.stack([_pad(p.numpy(), width) for p in preds]))
            Y.append(_pad(b.query_y.cpu().numpy(), width))
            M.append(_pad(b.query_mask.cpu().numpy(), width).astype(bool))
            P.append(np.stack([score(p, b)[metric] for p in preds], 1))
        return (np.concatenate(Xs), np.concatenate(S, 1), np.concatenate(Y),
                np.concatenate(M), np.concatenate(P))

    def predict(self, batch: TaskBatch, steps: Optional[int] = None) -> Tensor:
        if self.fallback_ is not None:
            return self.candidates[self.fallback_].eval().predict(batch).detach().cpu().double()
        preds = torch.stack(self._predictions(batch))                        # [L, T, S]
        X = meta_features(self.scorers, batch)
        if self.mode == "blend":
            out = self.selector.predict(X, preds.numpy(), batch.query_mask.cpu().numpy())
            return torch.from_numpy(out)
        choice = torch.from_numpy(self.selector.predict(X))
        return preds[choice, torch.arange(batch.num_tasks)]

    def report(self, batches: Iterable, score: Callable[[Tensor, Any], dict]) -> dict[str, Any]:
        """On ``batches``: the method's mean per-task score (``selected_score``)
        against the best single candidate's and the per-task oracle's; the
        candidate used instead of the selector (``fallback``, None if the
        selector is used) and the cross-fitted meta-val scores that decided
        it (``val_selector``, ``val_best_single``); the fitted selector's own
        score (``selector_score``); for a selector (or a fallback), how often
        its choice is a per-task best candidate (the oracle rate) and how
        often it chose each; for the blend, the gate's mean weight on each
        candidate; for the blend and ``select-clf``, the ``C`` they were
        fitted with."""
        data = self.collect(batches, score)
        X, per_task = data[0], data[4]
        fitted = np.asarray(selector_metric(self.mode, self.selector, data, self.ctx.select))
        choice = (np.full(len(X), self.names.index(self.fallback_)) if self.fallback_ is not None
                  else None if self.mode == "blend" else self.selector.predict(X))
        own = fitted if choice is None else per_task[np.arange(len(X)), choice]
        ok = ~np.isnan(per_task).any(1)
        X, per_task, fitted, own = X[ok], per_task[ok], fitted[ok], own[ok]
        choice = None if choice is None else choice[ok]
        single = per_task.mean(0)
        out: dict[str, Any] = {"candidates": dict(zip(self.names, np.round(single, 6).tolist())),
                               "best_single": self.names[int(single.argmax())],
                               "best_single_score": round(float(single.max()), 6),
                               "oracle_score": round(float(per_task.max(1).mean()), 6),
                               "selected_score": round(float(own.mean()), 6),
                               "selector_score": round(float(fitted.mean()), 6),
                               "fallback": self.fallback_,
                               "val_selector": self.val_.get("selector"),
                               "val_best_single": self.val_.get("best_single")}
        if self.mode != "knn":                      # the C it was fitted with (chosen if auto)
            out["C"] = self.selector.C_
        if self.mode == "blend":
            w = self.selector.weights(X)
            out["mean_weights"] = dict(zip(self.names, np.round(w.mean(0), 4).tolist()))
        if choice is not None:
            out.update(oracle_rate=round(float((own == per_task.max(1)).mean()), 6),
                       choices={n: int((choice == i).sum()) for i, n in enumerate(self.names)})
        return out

    def get_extra_state(self) -> dict[str, Any]:
        return {"selector": self.selector.state_dict(), "fallback": self.fallback_,
                "val": self.val_}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.selector.load_state_dict(state["selector"])
        self.fallback_, self.val_ = state["fallback"], state["val"]


def _pad(a: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((a.shape[0], width), dtype=a.dtype)
    out[:, :a.shape[1]] = a
    return out


def _selection(mode: str) -> Callable[[Context], Learner]:
    def build(ctx: Context) -> Learner:
        return Selection(ctx, mode)
    build.__qualname__ = f"build_select_{mode}"
    return build


for _name, _mode, _what, _config in [
        ("select-knn", "knn", "per task, the candidate best on the nearest meta-val tasks",
         KNNSelectSettings),
        ("select-clf", "classifier", "per task, the candidate a classifier on meta-features picks",
         FittedSelectSettings),
        ("blend", "blend", "per task, a blend of the candidates' scores weighted by "
                           "meta-features", FittedSelectSettings)]:
    register_method(_name, kinds=("user-interest",), training="custom", family="meta-selection",
                    description=_what, config=_config,
                    depends=lambda s: list(s.candidates))(_selection(_mode))

__all__ = ["CANDIDATES", "FEATURES", "FittedSelectSettings", "KNNSelectSettings", "Selection",
           "SelectionSettings", "meta_features"]
