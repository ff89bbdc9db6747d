"""Shared test settings: the dataset mirror and a tiny, fast run config."""
import os
from pathlib import Path

SHARED = Path(os.environ.get("GRAPHMETA_DATA")
              or Path(__file__).resolve().parents[2] / "shared" / "datasets")

# A run that finishes in seconds: small graph, model and budgets.
TINY_SETTINGS = ["synthetic.n_users=240", "synthetic.n_blocks=6", "synthetic.p_in=0.08",
                 "*.iterations=4", "*.eval_every=2", "*.meta_batch=4",
                 "*.pretrain_iterations=4", "scratch.inner_steps=3",
                 "tasks.n_val_tasks=8", "tasks.n_test_tasks=30", "*.hidden=8",
                 "*.head_hidden=8", "eval.seeds=1"]
TINY = [a for s in TINY_SETTINGS for a in ("--set", s)] + [
    "--device", "cpu", "--quiet", "--threads", "1"]


def interest_folder(tmp_path, n_users=80, n_interests=60):
    """A ``--dataset`` folder (edges.csv + interests.json, no features): a
    random graph whose users have 12 named interests each."""
    import json
    import numpy as np
    rng = np.random.default_rng(0)
    d = tmp_path / "graph"
    d.mkdir()
    edges = {tuple(sorted(map(int, rng.choice(n_users, 2, replace=False)))) for _ in range(400)}
    (d / "edges.csv").write_text("source,target\n" + "".join(f"{a},{b}\n" for a, b in edges))
    (d / "interests.json").write_text(json.dumps(
        {str(u): [f"i{j}" for j in rng.choice(n_interests, 12, replace=False)]
         for u in range(n_users)}))
    return d
