"""Meta-val readers shared by the selection analysis scripts: what a run's
``blend`` saw on meta-val (each candidate's scores, the meta-features), and
each candidate's per-task ranking metrics. Analysis only, so kept out of
the package; the scripts import it from beside them."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from graphmeta.config import load_config
from graphmeta.eval import ranking_metrics
from graphmeta.run import prepare, resolve_device


def candidate_metrics(scores: np.ndarray, y: np.ndarray, mask: np.ndarray,
                      metrics: tuple[str, ...] = ("auc", "ndcg@10")) -> dict[str, np.ndarray]:
    """Each candidate's per-task ranking metrics ``[T, L]`` from scores
    ``[L, T, S]``, labels and item mask ``[T, S]`` (as
    :meth:`~graphmeta.methods.selection.Selection.collect` returns them)."""
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
    what ``Selection.collect`` gathers on the run's fixed meta-val tasks
    (meta-features, scores ``[L, T, S]``, labels, masks, per-task metric
    ``[T, L]``). The test split is not drawn. Raises :class:`ValueError` at
    once if the run trained no ``blend``; each seed is read as iterated."""
    run_dir = Path(run_dir)
    run = prepare(load_config(run_dir / "config.yaml"), resolve_device(device))
    if "blend" not in run.spec.methods:
        raise ValueError(f"{run_dir}: no blend in this run (its candidates are read from "
                         f"the blend's checkpoint)")

    def read(seed: int) -> tuple[int, list[str], tuple[np.ndarray, ...]]:
        sel = run.load(run_dir, "blend", seed)
        return seed, sel.names, sel.collect(run.evaluator.batches("val"), run.evaluator.score)
    return (read(seed) for seed in run.seeds("blend"))
