"""Paired per-user difference between a method of one `graphmeta compare`
run and a method of another, on the same test users.

    python benchmarks/pair_runs.py runs/ego-facebook-softmax:maml runs/ego-facebook-fb:maml
    python benchmarks/pair_runs.py A:maml B:graph-knn --metrics auc,ndcg@10,mrr

Within one run `graphmeta compare` pairs every method with the best other
baseline; a method added later in its own run directory (another objective,
another budget) is compared with the first run's methods by pairing the two
`per_task.csv` files task by task. That is only meaningful when both runs
drew the same test tasks, so the script first checks that the settings the
test tasks depend on (`TEST_TASK_KEYS`: the dataset, the split seed and
fractions, K, the query size, the samplers, the test seed and count, the
protocol)
are equal in the two runs' `results.json`, and stops naming the first that
differs (the count too: a user's ego-subgraph is drawn from the test
seed together with the other users'). Runs whose `per_task.csv` has user
ids are then paired user by user, the ids checked; older runs task by
task. The statistics are graphmeta's own
(`graphmeta.eval.paired_diff`, over users: `per_task.csv` holds
seed-averaged scores); this script only reads the run directories.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from graphmeta.eval import paired_diff
from graphmeta.rundir import read_per_task, read_users

# Settings that decide which test tasks a run scores (its users, their
# support sets and query candidates). Training settings (iterations, the
# objective, the model) may differ: that is what a pairing compares.
TEST_TASK_KEYS = ("dataset.name", "synthetic.graph", "synthetic.n_users", "synthetic.n_items",
                  "seed", "tasks.kind", "tasks.k_shot", "tasks.n_query", "tasks.n_way",
                  "tasks.split", "tasks.class_split", "tasks.hops", "tasks.max_nodes",
                  "tasks.negatives", "tasks.n_test_tasks", "tasks.test_seed",
                  "eval.protocol", "eval.candidates", "eval.negatives")


def _get(spec: dict, key: str):
    """``key``'s value (dotted) in a run's recorded spec; None where it has none."""
    node = spec
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _spec(run: Path) -> dict:
    path = run / "results.json"
    if not path.is_file():
        raise SystemExit(f"pair_runs: {path}: no such file (is {run} a finished "
                         f"`graphmeta compare` run?)")
    return json.loads(path.read_text())["spec"]


def _scores(run: Path, method: str, metric: str) -> np.ndarray:
    try:
        scores = read_per_task(run, metric)
    except (OSError, ValueError) as e:
        raise SystemExit(f"pair_runs: {e}") from None
    if method not in scores:
        raise SystemExit(f"pair_runs: {run / 'per_task.csv'}: no rows for method {method!r} "
                         f"(has {', '.join(scores)})")
    return scores[method]


def check_same_tasks(a: Path, b: Path) -> None:
    """Stops with the first :data:`TEST_TASK_KEYS` entry that differs."""
    sa, sb = _spec(a), _spec(b)
    for key in TEST_TASK_KEYS:
        va, vb = _get(sa, key), _get(sb, key)
        if va != vb:
            raise SystemExit(f"pair_runs: {a} and {b} scored different test tasks: "
                             f"{key} is {va!r} in the first and {vb!r} in the second")


def pair(a: Path, method_a: str, b: Path, method_b: str, metric: str) -> dict:
    check_same_tasks(a, b)
    sa, sb = _scores(a, method_a, metric), _scores(b, method_b, metric)
    ua, ub = read_users(a), read_users(b)
    if ua is not None and ub is not None:      # the same users, matched by id
        where = {int(u): i for i, u in enumerate(ub)}
        both = [(i, where[int(u)]) for i, u in enumerate(ua) if int(u) in where]
        if not both:
            raise SystemExit(f"pair_runs: {a} and {b} scored no test user in common")
        ia, ib = map(list, zip(*both))
        return paired_diff(sa[ia], sb[ib])
    if len(sa) != len(sb):
        raise SystemExit(f"pair_runs: {a}:{method_a} has {len(sa)} test tasks and "
                         f"{b}:{method_b} {len(sb)}; they must be the same tasks")
    return paired_diff(sa, sb)


def _run_method(arg: str) -> tuple[Path, str]:
    run, sep, method = arg.rpartition(":")
    if not sep or not run or not method:
        raise argparse.ArgumentTypeError(f"{arg!r}: expected RUN_DIR:METHOD")
    return Path(run), method


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", type=_run_method, help="RUN_DIR:METHOD (the minuend)")
    p.add_argument("b", type=_run_method, help="RUN_DIR:METHOD (subtracted)")
    p.add_argument("--metrics", default="auc,ndcg@10",
                   help="per_task.csv columns, comma-separated (default: auc,ndcg@10)")
    args = p.parse_args(argv)
    (ra, ma), (rb, mb) = args.a, args.b
    for metric in args.metrics.split(","):
        d = pair(ra, ma, rb, mb, metric)
        print(f"{ra}:{ma} minus {rb}:{mb}  {metric}  {d['diff']:+.4f} ± {d['ci95']:.4f} "
              f"(n={d['n']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
