"""Shared test settings: the dataset mirror and a tiny, fast run config."""
import os
from pathlib import Path

SHARED = Path(os.environ.get("GRAPHMETA_DATA")
              or Path(__file__).resolve().parents[2] / "shared" / "datasets")

# A run that finishes in seconds: small graph, model and budgets.
TINY_SETTINGS = ["dataset.n_users=240", "dataset.n_blocks=6", "dataset.p_in=0.08",
                 "meta.iterations=4", "meta.eval_every=2", "meta.meta_batch=4",
                 "baselines.pretrain_iterations=4", "baselines.scratch_steps=3",
                 "tasks.n_val_tasks=8", "tasks.n_test_tasks=30", "model.hidden=8",
                 "model.head_hidden=8", "eval.seeds=1"]
TINY = [a for s in TINY_SETTINGS for a in ("--set", s)] + [
    "--device", "cpu", "--quiet", "--threads", "1"]
