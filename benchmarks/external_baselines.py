"""An external check of graphmeta's item-item baselines: the ItemKNN of
LensKit (Ekstrand, CIKM 2020) and the ItemKNN and EASE of Cornac (Salah et
al., JMLR 2020), maintained recommender libraries (`pip install -e
'.[bench]'`), tuned on the same meta-val users and scored by the same
ranking metrics, against graphmeta's own tuned itemknn and ease.

    GRAPHMETA_DATA=../shared/datasets python benchmarks/external_baselines.py --dataset deezer-hu

Each side sees the known users' interests (everyone but the meta-val and
meta-test users) and each meta-val user's support positives: LensKit and
graphmeta read those as the query's history; Cornac, which scores only the
users it was fitted on, gets them as training rows, so its item statistics
also count the meta-val users' supports (a little more than graphmeta's).
Each meta-val user's candidates are those the evaluator ranks (the full protocol: every non-support
interest), scored by `graphmeta.eval.ranking_metrics`. Every scorer is
tuned over `--trials` distinct configurations by graphmeta's tuner (the
same seeded TPE): LensKit's ItemKNN in its implicit-feedback mode (the sum
of cosine similarities to the history) over `max_nbrs`, `min_nbrs` and
`min_sim`, reading the support positives as the query's history, as
graphmeta does; Cornac's ItemKNN over its neighbourhood `k`, similarity
(cosine, pearson), weighting (none, idf, bm25) and amplification; Cornac's
EASE over lambda (1 to 1e6, log) and `posB`. Cornac's ItemKNN predicts
ratings as a similarity-weighted *average*, which on unary data is about 1
for every interest with a neighbour in the history: it is reported, but
LensKit's is the implicit-feedback ItemKNN to compare with. Only meta-val
is read.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from graphmeta.config import load_config
from graphmeta.run import prepare
from graphmeta.runner import search_space
from graphmeta.settings import Range
from graphmeta.tune import Space, search


def _score_batches(run, scores_for) -> dict[str, np.ndarray]:
    """Per-user meta-val metrics of ``scores_for(user, history, candidates)
    -> scores`` (NaN for an interest the library does not know: ranked last)."""
    ev = run.evaluator
    out: dict[str, list] = {}
    for b in ev.batches("val"):
        pred = torch.empty(b.query_items.shape, dtype=torch.float64)
        for t in range(b.num_tasks):
            history = b.support_items[t][b.support_y[t] == 1].tolist()
            pred[t] = torch.as_tensor(np.asarray(scores_for(int(b.users[t]), history,
                                                            b.query_items[t].tolist()),
                                                 np.float64))
        known = pred[~torch.isnan(pred)]
        last = (known.min() - 1) if len(known) else torch.tensor(0.0, dtype=torch.float64)
        pred = torch.where(torch.isnan(pred), last, pred)       # unknown interests rank last
        for k, v in ev.score(pred, b).items():
            out.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def lenskit_scorer(run):
    """``score(settings) -> per-user metrics`` for LensKit's implicit ItemKNN
    trained on the known users' interests, queried with each meta-val
    user's support positives."""
    import pandas as pd
    from lenskit.data import ItemList, RecQuery, from_interactions_df
    from lenskit.knn import ItemKNNScorer

    users, items = (run.tasks.interests & run.tasks.known[:, None]).nonzero(as_tuple=True)
    data = from_interactions_df(pd.DataFrame({"user_id": users.numpy(),
                                              "item_id": items.numpy()}))

    def score(settings: dict) -> dict[str, np.ndarray]:
        model = ItemKNNScorer(max_nbrs=settings["max_nbrs"], min_nbrs=settings["min_nbrs"],
                              min_sim=settings["min_sim"], feedback="implicit")
        model.train(data)
        return _score_batches(run, lambda u, history, cands: model(
            RecQuery(user_items=ItemList(item_ids=history)), ItemList(item_ids=cands)).scores())
    return score


def cornac_scorer(run, model_name: str):
    """``score(settings) -> per-user metrics`` for a Cornac model fitted on
    the known users' interests plus each meta-val user's support positives."""
    import cornac
    from cornac.data import Dataset

    tasks = run.tasks
    known = tasks.interests[tasks.known].nonzero().tolist()
    known_ids = tasks.known.nonzero().view(-1).tolist()
    triples = [(f"u{known_ids[u]}", f"i{i}", 1.0) for u, i in known]
    for b in run.evaluator.batches("val"):   # the meta-val users, with their support positives
        for t in range(b.num_tasks):
            pos = b.support_items[t][b.support_y[t] == 1].tolist()
            triples += [(f"v{int(b.users[t])}", f"i{i}", 1.0) for i in pos]
    data = Dataset.from_uir(triples, seed=0)

    def score(settings: dict) -> dict[str, np.ndarray]:
        if model_name == "itemknn":
            model = cornac.models.ItemKNN(k=settings["k"], similarity=settings["similarity"],
                                          weighting=settings["weighting"],
                                          amplify=settings["amplify"], verbose=False,
                                          num_threads=torch.get_num_threads())
        else:
            model = cornac.models.EASE(lamb=settings["lamb"], posB=settings["posB"],
                                       verbose=False)
        model.fit(data)

        def scores_for(user, history, cands):
            row = np.asarray(model.score(data.uid_map[f"v{user}"]), np.float64).ravel()
            return [row[data.iid_map[f"i{c}"]] if f"i{c}" in data.iid_map else np.nan
                    for c in cands]
        return _score_batches(run, scores_for)
    return score


SPACES = {
    "lenskit itemknn": Space({"max_nbrs": Range(5, 800, log=True, integer=True,
                                                cap="n_interests"),
                              "min_nbrs": [1, 2, 3, 5],
                              "min_sim": Range(1e-6, 0.1, log=True)},
                             base={"max_nbrs": 20, "min_nbrs": 1, "min_sim": 1e-6}),
    "cornac itemknn": Space({"k": Range(5, 800, log=True, integer=True, cap="n_interests"),
                      "similarity": ["cosine", "pearson"],
                      "weighting": [None, "idf", "bm25"],
                      "amplify": Range(0.5, 4)},
                     base={"k": 50, "similarity": "cosine", "weighting": None, "amplify": 1.0}),
    "cornac ease": Space({"lamb": Range(1, 1e6, log=True), "posB": [True, False]},
                  base={"lamb": 500.0, "posB": True}),
}


def tuned(space: Space, trials: int, seed: int, score) -> tuple[dict, float, list]:
    """The best of ``trials`` distinct configurations by mean meta-val ``auc``."""
    record = []

    def objective(settings):
        s = {**space.base, **settings}
        metrics = score(s)
        record.append((s, {k: float(np.nanmean(v)) for k, v in metrics.items()}))
        return record[-1][1]["auc"]
    search(space, trials, seed, objective)
    best = max(record, key=lambda r: r[1]["auc"])
    return best[0], best[1], record


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="deezer-hu")
    ap.add_argument("--trials", type=int, default=100, choices=range(1, 10_001),
                    metavar="N (1-10000)")
    ap.add_argument("--seed", type=int, default=0, help="the run's split seed")
    ap.add_argument("--out", help="write the table as JSON here")
    args = ap.parse_args()
    run = prepare(load_config(None, [f"dataset.name={args.dataset}", f"seed={args.seed}",
                                     "methods=[itemknn, ease]"]), torch.device("cpu"))
    facts = run.spec.facts
    rows = {}
    makers = {"lenskit itemknn": lambda: lenskit_scorer(run),
              "cornac itemknn": lambda: cornac_scorer(run, "itemknn"),
              "cornac ease": lambda: cornac_scorer(run, "ease")}
    for name, make in makers.items():
        start = time.perf_counter()
        space = SPACES[name]
        space = Space({k: d.capped(facts) if isinstance(d, Range) else d
                       for k, d in space.dims.items()}, base=space.base)
        settings, metrics, _ = tuned(space, args.trials, args.seed, make())
        rows[name] = {"settings": settings, "val": metrics,
                      "seconds": round(time.perf_counter() - start, 1)}
    for name in ("itemknn", "ease"):
        start = time.perf_counter()
        ours = search_space(run, name)
        record = []

        def objective(settings, name=name, record=record):
            m = run.trial(name, settings)
            record.append((settings, m))
            return m["auc"]
        search(ours, max(args.trials, 1), args.seed, objective)
        best = max(record, key=lambda r: r[1]["auc"])
        rows[f"graphmeta {name}"] = {"settings": {**ours.base, **best[0]}, "val": best[1],
                                     "seconds": round(time.perf_counter() - start, 1)}
    print(f"{args.dataset}, meta-val ({len(run.evaluator.users('val'))} users), "
          f"{args.trials} configurations each, full ranking:")
    print(f"{'scorer':<20} {'ROC-AUC':>8} {'nDCG@10':>8} {'MRR':>8} {'seconds':>8}  settings")
    for name, r in rows.items():
        v = r["val"]
        print(f"{name:<20} {v['auc']:>8.4f} {v['ndcg@10']:>8.4f} {v['mrr']:>8.4f} "
              f"{r['seconds']:>8.1f}  {r['settings']}")
    if args.out:
        Path(args.out).write_text(json.dumps({"dataset": args.dataset, "trials": args.trials,
                                              "rows": rows}, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
