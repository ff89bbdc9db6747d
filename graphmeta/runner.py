"""Runs: train and compare methods on the same fixed test tasks, and
re-evaluate a run directory. The pieces live in :mod:`graphmeta.spec`
(resolution), :mod:`graphmeta.build`, :mod:`graphmeta.methods` (the
registry), :mod:`graphmeta.train` and :mod:`graphmeta.rundir`."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np
import torch
from torch_geometric.data import Data

from graphmeta.build import build_data, build_tasks
from graphmeta.config import ConfigError, load_config
from graphmeta.eval import evaluate, mean_ci
from graphmeta.methods import Context, get_method
from graphmeta.rundir import checkpoint_path, summarize, write_results, write_run
from graphmeta.spec import RunSpec, resolve, with_n_way
from graphmeta.tasks import EgoTasks
from graphmeta.train import build_learner, fit

EVAL_CHUNK = 100


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"--device must be auto, cpu or cuda[:N], got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    return torch.device(name)


@dataclass
class Run:
    """A resolved run: its spec, graph, task sampler and device."""
    spec: RunSpec
    data: Data
    tasks: EgoTasks
    device: torch.device

    def context(self, method: str) -> Context:
        return Context(method, self.spec.for_method(method), self.tasks, self.device)

    def fixed(self, split: str) -> Iterable:
        """The fixed meta-val (``split="val"``) or test tasks, the same for every method."""
        t = self.spec.tasks
        n, seed = ((t.n_val_tasks, t.test_seed + 1) if split == "val"
                   else (t.n_test_tasks, t.test_seed))
        return self.tasks.fixed_batches(split, n, seed, self.device, EVAL_CHUNK)


def prepare(cfg: dict, device: torch.device) -> Run:
    """Loads the graph, resolves the spec and builds the task sampler."""
    data = build_data(cfg["dataset"], cfg["seed"])
    spec = resolve(cfg, data, device)
    tasks = build_tasks(spec, data)
    if spec.kind == "few-shot":
        spec = with_n_way(spec, tasks.n_way)
    return Run(spec, data, tasks, device)


def compare(cfg: dict, out: Path, device: torch.device, progress: bool = True,
            log: Callable[[str], None] = print) -> dict:
    """Trains and evaluates every method of the spec on the same fixed test
    tasks and writes the run directory."""
    run = prepare(cfg, device)
    log(f"{run.tasks}")
    val, test = run.fixed("val"), run.fixed("test")
    metrics, seconds, history, ckpts = {}, {}, [], {}
    for method in run.spec.methods:
        res = fit(run.context(method), val, progress)
        start = time.perf_counter()
        metrics[method] = evaluate(res.learner, run.tasks, test)
        seconds[method] = res.seconds + time.perf_counter() - start
        history += res.history
        if get_method(method).checkpointed:
            ckpts[method] = res.learner.state_dict()
        s = mean_ci(metrics[method]["accuracy"])
        log(f"  {method:<9} accuracy {s['mean']:.3f} ± {s['ci95']:.3f}  "
            f"({seconds[method]:.1f} s)")
    results = summarize(run.spec, run.tasks, metrics, seconds)
    write_run(out, run.spec, results, history, ckpts)
    return results


def evaluate_run(run_dir: Path, device: torch.device, out: Optional[Path] = None) -> dict:
    """Re-evaluates a run directory's methods on its test tasks: trained
    methods from their checkpoints, the others rebuilt from the spec."""
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{cfg_path}: no config.yaml; is {run_dir} a run directory?")
    run = prepare(load_config(cfg_path), device)
    test = run.fixed("test")
    metrics: dict[str, dict[str, np.ndarray]] = {}
    seconds = {}
    for method in run.spec.methods:
        learner = build_learner(run.context(method))
        if get_method(method).checkpointed:
            path = checkpoint_path(run_dir, method)
            if not path.exists():
                raise FileNotFoundError(f"{path}: no checkpoint for method {method!r}")
            learner.load_state_dict(torch.load(path, weights_only=True, map_location=device))
        start = time.perf_counter()
        metrics[method] = evaluate(learner, run.tasks, test)
        seconds[method] = time.perf_counter() - start
    results = summarize(run.spec, run.tasks, metrics, seconds)
    write_results((out or run_dir) / "results.json", results)
    return results


__all__ = ["ConfigError", "Run", "compare", "evaluate_run", "prepare", "resolve_device"]
