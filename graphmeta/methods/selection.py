"""Meta-selection methods: learn which learner to use for a new task.

For each user-interest task a selector chooses among trained candidate
learners (``selection.candidates``: by default MAML, finetune, itemknn, EASE,
graph-knn and popularity) from the task's meta-features (:func:`meta_features`:
support size, ego-subgraph size and density, the ego's degree and known
neighbours, the neighbours' agreement with the support, the support items'
popularity and co-occurrence). It is fitted on the candidates' per-task
scores on the meta-val tasks, in one of three ways:

- ``select-knn``: the candidate that did best on the ``selection.neighbors``
  nearest meta-val tasks in meta-feature space (auto-sklearn's warm start,
  Feurer et al., 2015);
- ``select-clf``: a logistic-regression classifier from meta-features to the
  per-task best candidate;
- ``blend``: a per-task stacked blend: each candidate's scores are
  standardised within the task and mixed with non-negative weights that sum
  to one, a softmax gate on the meta-features, fitted by a listwise loss on
  the meta-val items.

Each is scored on meta-val by 2-fold cross-fitting (fitted on one half of
the tasks, scored on the other, both ways round) beside the best single
candidate chosen the same way. With ``selection.fallback`` (the default) a
selector that does not beat that single candidate there is not used: the
method predicts with the candidate best on all meta-val tasks, as ensemble
selection (Caruana et al., 2004; auto-sklearn's final step) keeps a single
model when no mixture beats it on validation data.

:class:`~graphmeta.meta.selection.MetaSelector` and
:class:`~graphmeta.meta.selection.StackedBlend` are scikit-learn style and
save to plain JSON-able dicts, no pickle; the method's checkpoint holds the
candidates' states and that dict.

Over 300 lines: the method, the cross-fitting that scores it and decides
the fallback on meta-val (:func:`cross_fit`), and the meta-val readers the
analysis scripts under ``benchmarks/`` use; one protocol, kept in one
module so that the scripts measure exactly what the method does.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

from graphmeta.eval import ranking_metrics
from graphmeta.meta.selection import CS, MetaSelector, StackedBlend
from graphmeta.methods.registry import Context, Learner, get_method, register_method
from graphmeta.methods.scorers import InterestScorers
from graphmeta.tasks import TaskBatch

FEATURES = ("support_positives", "ego_nodes", "ego_density", "ego_degree", "known_neighbours",
            "neighbour_support_agreement", "support_popularity", "support_cooccurrence")


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
    """A meta-selection method: trained candidates plus a selector (or a
    blend) fitted on their meta-val scores. The candidates' states and the
    selector's JSON-able state are its checkpoint."""

    def __init__(self, ctx: Context, mode: str) -> None:
        super().__init__(ctx)
        from graphmeta.train import build_learner
        self.mode = mode
        self.names = list(ctx.spec.selection.candidates)
        for name in self.names:
            if ctx.spec.kind not in get_method(name).kinds:
                raise ValueError(f"selection.candidates: {name!r} does not run on "
                                 f"{ctx.spec.kind} tasks")
        self.candidates = nn.ModuleDict({n: build_learner(self._context(n)) for n in self.names})
        self.scorers = InterestScorers(ctx.tasks, ctx.spec.baselines)
        self.selector = self._new_selector()
        # set by fit (and saved): the candidate used instead of the selector,
        # and the cross-fitted meta-val scores that decided it
        self.fallback_: str | None = None
        self.val_: dict[str, float] = {}

    def _new_selector(self) -> MetaSelector | StackedBlend:
        s = self.ctx.spec.selection
        return (StackedBlend(C=s.C) if self.mode == "blend"
                else MetaSelector("knn" if self.mode == "knn" else "classifier", s.neighbors, s.C))

    def _context(self, name: str) -> Context:
        c = self.ctx
        return Context(name, c.spec.for_method(name), c.tasks, c.device, c.seed, c.trained)

    def fit(self, val: Iterable, progress: bool = False) -> list[dict]:
        """Trains (or takes from the run) each candidate, then fits the
        selector on their per-task meta-val scores. Its own meta-val score
        (the history row tuning reads) is 2-fold cross-fitted
        (:func:`cross_fit`), as is the best single candidate's beside it;
        with ``selection.fallback``, unless the selector's is higher, the
        method keeps the candidate best on all meta-val tasks instead (and
        that is its score). The kept selector is refitted on every task."""
        from graphmeta.train import fit as fit_method
        for name in self.names:
            trained = (self.ctx.trained(name, self.ctx.seed) if self.ctx.trained is not None
                       else fit_method(self._context(name), val, progress).learner)
            self.candidates[name].load_state_dict(trained.state_dict())
        data = self._collect(val)
        select = self.ctx.spec.meta.select
        self.val_, prefer_single = fallback_decision(
            *cross_fit(self.mode, self._new_selector, data, select))
        self.selector = fit_selector(self.mode, self._new_selector(), data)
        use_single = self.ctx.spec.selection.fallback and prefer_single
        self.fallback_ = self.names[best_candidate(data[4])] if use_single else None
        return [{"method": self.ctx.method, "seed": self.ctx.seed, "iteration": 0,
                 f"val_{select}": self.val_["best_single" if use_single else "selector"]}]

    def _collect(self, batches: Iterable) -> tuple[np.ndarray, ...]:
        """Meta-features, candidates' scores ``[L, T, S]``, labels, masks and
        each candidate's per-task metric ``[T, L]`` over ``batches``."""
        metric = self.ctx.spec.meta.select
        batches = list(batches)
        Xs, S, Y, M, P = [], [], [], [], []
        width = max(b.query_y.size(1) for b in batches)
        for b in batches:
            preds = [self.candidates[n].eval().predict(b).detach().cpu().double()
                     for n in self.names]
            Xs.append(meta_features(self.scorers, b))
            S.append(np.stack([_pad(p.numpy(), width) for p in preds]))
            Y.append(_pad(b.query_y.cpu().numpy(), width))
            M.append(_pad(b.query_mask.cpu().numpy(), width).astype(bool))
            P.append(np.stack([self.ctx.tasks.score(p, b)[metric] for p in preds], 1))
        return (np.concatenate(Xs), np.concatenate(S, 1), np.concatenate(Y),
                np.concatenate(M), np.concatenate(P))

    def predict(self, batch: TaskBatch) -> Tensor:
        if self.fallback_ is not None:
            return self.candidates[self.fallback_].eval().predict(batch).detach().cpu().double()
        preds = torch.stack([self.candidates[n].eval().predict(batch).detach().cpu().double()
                             for n in self.names])                         # [L, T, S]
        X = meta_features(self.scorers, batch)
        if self.mode == "blend":
            out = self.selector.predict(X, preds.numpy(), batch.query_mask.cpu().numpy())
            return torch.from_numpy(out)
        choice = torch.from_numpy(self.selector.predict(X))
        return preds[choice, torch.arange(batch.num_tasks)]

    def selection_report(self, batches: Iterable) -> dict[str, Any]:
        """On ``batches``: the method's mean per-task score (``selected_score``)
        against the best single candidate's and the per-task oracle's; the
        candidate used instead of the selector (``fallback``, None if the
        selector is used) and the cross-fitted meta-val scores that decided
        it (``val_selector``, ``val_best_single``); the fitted selector's own
        score (``selector_score``, equal to ``selected_score`` without a
        fallback); for a selector (or a fallback), how often its choice is a
        per-task best candidate (the oracle rate) and how often it chose each;
        for the blend, the gate's mean weight on each candidate; for the blend
        and ``select-clf``, the ``C`` they were fitted with."""
        data = self._collect(batches)
        X, per_task = data[0], data[4]
        fitted = np.asarray(selector_metric(self.mode, self.selector, data,
                                            self.ctx.spec.meta.select))
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
        # checkpoints written before the fallback existed used the selector
        self.fallback_, self.val_ = state.get("fallback"), state.get("val", {})


def _subset(data: tuple[np.ndarray, ...], keep: np.ndarray) -> tuple[np.ndarray, ...]:
    """The tasks ``keep`` of what :meth:`Selection._collect` gathers."""
    X, scores, y, mask, per_task = data
    return X[keep], scores[:, keep], y[keep], mask[keep], per_task[keep]


def fit_selector(mode: str, selector: MetaSelector | StackedBlend,
                 data: tuple[np.ndarray, ...]) -> MetaSelector | StackedBlend:
    """Fits ``selector`` (of ``mode`` "knn", "classifier" or "blend") on
    collected tasks ``data`` (:meth:`Selection._collect`'s tuple)."""
    X, scores, y, mask, per_task = data
    return selector.fit(X, scores, y, mask) if mode == "blend" else selector.fit(X, per_task)


def selector_metric(mode: str, selector: MetaSelector | StackedBlend,
                    data: tuple[np.ndarray, ...], metric: str) -> np.ndarray:
    """A fitted selector's per-task ``metric`` on collected tasks ``data``."""
    X, scores, y, mask, per_task = data
    if mode == "blend":
        out = selector.predict(X, scores, mask)
        return np.asarray(ranking_metrics(torch.from_numpy(out), torch.from_numpy(y),
                                          torch.from_numpy(mask))[metric], dtype=float)
    return per_task[np.arange(len(X)), selector.predict(X)]


def cross_fit(mode: str, make: Callable[[], MetaSelector | StackedBlend],
              data: tuple[np.ndarray, ...], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """2-fold cross-fitting over collected tasks ``data`` (alternate tasks in
    each half): per task, ``metric`` of a selector built by ``make`` and
    fitted on the other half, and of the candidate best on average on the
    other half (``per_task`` must hold ``metric``). Both arrays ``[T]``."""
    n = len(data[0])
    half = np.arange(n) % 2 == 0
    own, single = np.full(n, np.nan), np.full(n, np.nan)
    for test in (half, ~half):
        fit, held = _subset(data, ~test), _subset(data, test)
        own[test] = selector_metric(mode, fit_selector(mode, make(), fit), held, metric)
        single[test] = held[4][:, best_candidate(fit[4])]
    return own, single


def best_candidate(per_task: np.ndarray) -> int:
    """The candidate with the best mean per-task metric ``[T, L]``."""
    return int(np.nanargmax(np.nanmean(per_task, 0)))


def fallback_decision(own: np.ndarray, single: np.ndarray) -> tuple[dict[str, float], bool]:
    """From :func:`cross_fit`'s per-task scores: the selector's and the best
    single candidate's mean over the tasks both scored (rounded to 6
    decimals, as saved and reported), and whether the single candidate is
    preferred (the selector's mean is not higher). The one rule
    ``Selection.fit`` and the analysis scripts apply."""
    ok = ~np.isnan(own) & ~np.isnan(single)
    val = {"selector": round(float(own[ok].mean()), 6),
           "best_single": round(float(single[ok].mean()), 6)}
    return val, val["selector"] <= val["best_single"]


def candidate_metrics(scores: np.ndarray, y: np.ndarray, mask: np.ndarray,
                      metrics: tuple[str, ...] = ("auc", "ndcg@10")) -> dict[str, np.ndarray]:
    """Each candidate's per-task ranking metrics ``[T, L]`` from scores
    ``[L, T, S]``, labels and item mask ``[T, S]`` (as :meth:`Selection._collect`
    returns them)."""
    out: dict[str, list] = {k: [] for k in metrics}
    for s in scores:
        m = ranking_metrics(torch.from_numpy(s), torch.from_numpy(y), torch.from_numpy(mask))
        for k in metrics:
            out[k].append(np.asarray(m[k], dtype=float))
    return {k: np.stack(v, 1) for k, v in out.items()}


def collect_meta_val(run_dir: str | Path, device: str = "cpu"
                     ) -> Iterator[tuple[int, list[str], tuple[np.ndarray, ...]]]:
    """Per training seed of the ``blend`` in a finished run directory (its
    checkpoint holds every candidate): the seed, the candidates' names and
    what :meth:`Selection._collect` gathers on the run's fixed meta-val tasks
    (meta-features, scores ``[L, T, S]``, labels, masks, per-task metric
    ``[T, L]``). The test split is not drawn. Raises :class:`ValueError` at
    once if the run trained no ``blend``; each seed is read as iterated."""
    from graphmeta.config import load_config
    from graphmeta.runner import prepare, resolve_device
    import yaml
    from graphmeta.checkpoint import ADDED
    run_dir = Path(run_dir)
    config = run_dir / "config.yaml"
    # the candidates are what is read: a setting added since the run was
    # written is read under the value that run used (checkpoint.ADDED)
    written = yaml.safe_load(config.read_text()) or {}
    older = [f"{sec}.{k}={json.dumps(v)}" for sec, keys in ADDED.items()
             for k, v in keys.items() if k not in written.get(sec, {})]
    run = prepare(load_config(config, older), resolve_device(device))
    if "blend" not in run.spec.methods:
        raise ValueError(f"{run_dir}: no blend in this run (its candidates are read from "
                         f"the blend's checkpoint)")

    def read(seed: int) -> tuple[int, list[str], tuple[np.ndarray, ...]]:
        sel = run.load(run_dir, "blend", seed)
        return seed, sel.names, sel._collect(run.val)
    return (read(seed) for seed in run.seeds("blend"))


def _pad(a: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((a.shape[0], width), dtype=a.dtype)
    out[:, :a.shape[1]] = a
    return out


def _selection(mode: str) -> Callable[[Context], Learner]:
    def build(ctx: Context) -> Learner:
        return Selection(ctx, mode)
    build.__qualname__ = f"build_select_{mode}"
    return build


SEARCH = {"selection.neighbors": [5, 10, 25, 50, 100], "selection.C": list(CS)}
for _name, _mode, _what, _search in [
        ("select-knn", "knn", "per task, the candidate best on the nearest meta-val tasks",
         {"selection.neighbors": SEARCH["selection.neighbors"]}),
        ("select-clf", "classifier", "per task, the candidate a classifier on meta-features picks",
         {"selection.C": SEARCH["selection.C"]}),
        ("blend", "blend", "per task, a blend of the candidates' scores weighted by "
                           "meta-features", {"selection.C": SEARCH["selection.C"]})]:
    register_method(_name, kinds=("user-interest",), training="custom", family="meta-selection",
                    description=_what, search=_search)(_selection(_mode))

__all__ = ["FEATURES", "Selection", "best_candidate", "candidate_metrics", "collect_meta_val",
           "cross_fit", "fallback_decision", "fit_selector", "meta_features", "selector_metric"]
