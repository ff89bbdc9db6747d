"""Runs: train and compare methods on the same fixed test tasks, and
re-evaluate a run directory. The pieces live in :mod:`graphmeta.spec`
(resolution), :mod:`graphmeta.build`, :mod:`graphmeta.methods` (the
registry), :mod:`graphmeta.train`, :mod:`graphmeta.tune` and
:mod:`graphmeta.rundir`.

A comparison: the graph and the spec are resolved; with ``eval.tune`` every
method is tuned on meta-val (:mod:`graphmeta.tune`); then every method is
trained once per training seed (``eval.seeds``; deterministic scorers once),
keeping its best meta-val state, and scored on the fixed test tasks. The test
split is drawn after tuning and scored once per method and seed.

Over 300 lines: ``compare`` is one sequence (tune, train per seed, score,
pair, record) whose steps share the resolved graph, spec and test tasks;
splitting it would pass those between modules for no gain in clarity.
"""
from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

import numpy as np
import torch
from torch_geometric.data import Data

from graphmeta.build import build_data, build_tasks
from graphmeta.checks import check_data, check_run
from graphmeta.config import ConfigError, load_config
from graphmeta.errors import GraphmetaError
from graphmeta.eval import evaluate, mean_ci
from graphmeta.methods import Context, Learner, get_method
from graphmeta import checkpoint, distributed
from graphmeta.rundir import (primary_metric, summarize, write_config, write_json, write_run,
                              write_tensorboard)
from graphmeta.store import RunStore
from graphmeta.spec import RunSpec, resolve, with_n_way
from graphmeta.tasks import EgoTasks
from graphmeta.train import Checkpointer, TrainResult, build_learner, fit
from graphmeta.tune import tune

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
    """A resolved run: its config, spec, graph, task sampler and device, and
    the learners trained so far (shared by copies with other settings, keyed
    by method, seed and the method's resolved spec)."""
    cfg: dict
    spec: RunSpec
    data: Data
    tasks: EgoTasks
    device: torch.device
    warnings: list[str] = field(default_factory=list)
    cache: dict = field(default_factory=dict, repr=False)
    store: Optional[RunStore] = None

    def context(self, method: str, seed: Optional[int] = None) -> Context:
        """What ``method`` is built with; training seed ``seed`` (default: ``spec.seed``)."""
        return Context(method, self.spec.for_method(method), self.tasks, self.device,
                       self.spec.seed if seed is None else seed, self.trained)

    @property
    def val(self) -> Iterable:
        if "val" not in self.cache:
            self.cache["val"] = self.fixed("val")
        return self.cache["val"]

    def key(self, method: str) -> str:
        """``method``'s resolved settings, as a string that identifies them:
        everything its training depends on (not the method list, other
        methods' settings, the number of seeds or tuning configurations;
        not the ``selection`` section, which only meta-selection methods
        read, so a selector's settings change without retraining its
        candidates)."""
        d = self.spec.for_method(method).to_dict()
        for k in ("methods", "method_settings", "run"):
            d.pop(k)
        if get_method(method).family != "meta-selection":
            d.pop("selection")
        d["eval"] = {k: v for k, v in d["eval"].items() if k not in ("seeds", "tune")}
        return json.dumps(d, sort_keys=True)

    @property
    def fingerprint(self) -> dict:
        return checkpoint.fingerprint(self.data, self.tasks.splits)

    def load(self, run_dir: Path, method: str, seed: int) -> Learner:
        """``method``'s learner at ``seed`` from ``run_dir``'s checkpoint
        (rebuilt from the spec when the method saves none)."""
        learner = build_learner(self.context(method, seed))
        if get_method(method).checkpointed:
            checkpoint.load(run_dir, method, seed, learner, self.key(method), self.fingerprint,
                            self.device)
        return learner

    def train(self, method: str, seed: int, progress: bool = False,
              resumable: bool = True) -> TrainResult:
        """``method`` trained at ``seed``, once per resolved settings. In a
        run directory (``store``) a finished method is loaded from its
        checkpoint and an interrupted one resumes (when ``resumable``)."""
        key = self.key(method)
        if (method, seed, key) in self.cache:
            return self.cache[(method, seed, key)]
        ctx = self.context(method, seed)
        done = self.store.finished(method, seed, key) if self.store else None
        if done is not None:
            res = TrainResult(self.load(self.store.root, method, seed), done["history"],
                              done["seconds"])
        else:
            ck = None
            if self.store is not None and resumable:
                store = self.store
                ck = Checkpointer(lambda state: store.save(method, seed, key, state),
                                  lambda: store.load(method, seed, key),
                                  self.spec.run.checkpoint_every)
            res = fit(ctx, self.val, progress, ck)
        self.cache[(method, seed, key)] = res
        return res

    def trained(self, method: str, seed: int) -> Learner:
        return self.train(method, seed).learner

    def seeds(self, method: str) -> list[int]:
        """Training seeds: ``seed, seed + 1, ...`` (``eval.seeds`` of them)
        for seeded methods, ``seed`` alone for deterministic scorers."""
        n = self.spec.eval.seeds if get_method(method).seeded else 1
        return [self.spec.seed + i for i in range(n)]

    def fixed(self, split: str) -> Iterable:
        """The fixed meta-val (``split="val"``) or test tasks, the same for every method."""
        t = self.spec.tasks
        n, seed = ((t.n_val_tasks, t.test_seed + 1) if split == "val"
                   else (t.n_test_tasks, t.test_seed))
        return self.tasks.fixed_batches(split, n, seed, self.device, EVAL_CHUNK)

    def with_method_settings(self, settings: dict[str, dict]) -> "Run":
        """This run with more per-method settings (the same data and tasks)."""
        cfg = copy.deepcopy(self.cfg)
        for method, s in settings.items():
            cfg["method_settings"].setdefault(method, {}).update(s)
        spec = resolve(cfg, self.data, self.device)
        if spec.kind == "few-shot":
            spec = with_n_way(spec, self.tasks.n_way)
        return Run(cfg, spec, self.data, self.tasks, self.device, self.warnings, self.cache,
                   self.store)


def prepare(cfg: dict, device: torch.device) -> Run:
    """Loads the graph, resolves the spec and builds the task sampler."""
    data = build_data(cfg["dataset"], cfg["seed"])
    check_data(data, cfg["dataset"]["name"])
    spec = resolve(cfg, data, device)
    tasks = build_tasks(spec, data)
    if distributed.active():
        tasks.sampler = distributed.shared_sampler(
            tasks.sampler, checkpoint.fingerprint(data, tasks.splits)["splits"])
    if spec.kind == "few-shot":
        spec = with_n_way(spec, tasks.n_way)
    t = spec.tasks
    warnings = (check_run(spec, data, tasks) + tasks.eval_size("val", t.n_val_tasks)[1]
                + tasks.eval_size("test", t.n_test_tasks)[1])
    return Run(cfg, spec, data, tasks, device, warnings)


def compare(cfg: dict, out: Path, device: torch.device, progress: bool = True,
            log: Callable[[str], None] = print, *, resume: bool = False,
            force: bool = False) -> dict:
    """Tunes (with ``eval.tune``), trains and evaluates every method of the
    spec on the same fixed test tasks, writing the run directory ``out`` as
    it goes. With ``resume`` the run in ``out`` continues from its own
    ``config.yaml``: finished methods are not trained again, and an
    interrupted one continues from its last saved state (:mod:`graphmeta.store`).
    An existing run is replaced only with ``force``."""
    writer = distributed.is_main()
    if resume and not writer:
        distributed.barrier()   # rank 0 checks the directory first
    with RunStore(out, resume=resume, force=force, writer=writer) as store:
        if resume and writer:
            distributed.barrier()
        if resume:
            cfg = load_config(out / "config.yaml")
            log(f"resuming {out}")
        run = prepare(cfg, device)
        run.store = store
        if run.spec.run.tensorboard:
            try:
                import torch.utils.tensorboard  # noqa: F401
            except ImportError:
                raise GraphmetaError("run.tensorboard needs the tensorboard package: "
                                     "pip install tensorboard") from None
        if writer:
            write_config(out, run.spec)
        log(f"{run.tasks}")
        for w in run.warnings:
            log(f"WARNING: {w}")
        tuning = None
        if run.spec.eval.tune:
            if resume and (out / "tuning.json").exists():
                tuning = json.loads((out / "tuning.json").read_text())
            else:
                log(f"tuning: {run.spec.eval.tune} configurations per method on meta-val "
                    f"({run.spec.meta.select})")
                tuning = tune(run, run.spec.eval.tune, progress, log)
                if writer:
                    write_json(out / "tuning.json", tuning)
            run = run.with_method_settings({m: t["settings"] for m, t in tuning.items()})
            if writer:
                write_config(out, run.spec)
        results = _test_every_method(run, out, progress, log)
        if tuning:
            results["tuning"] = {m: {"settings": t["settings"], "val": t["val"],
                                     "configurations": len(t["trials"])}
                                 for m, t in tuning.items()}
        if writer:
            write_json(out / "results.json", results)
        return results


def _test_every_method(run: Run, out: Path, progress: bool, log: Callable[[str], None]) -> dict:
    """Trains every method and seed (or takes it from the run directory) and
    scores it on the fixed test tasks; writes everything but results.json."""
    test = run.fixed("test")
    metric = primary_metric(run.spec)
    per_seed: dict[str, list[dict[str, np.ndarray]]] = {}
    seconds: dict[str, float] = {}
    history: list[dict] = []
    reports: dict[str, list] = {}
    for method in run.spec.methods:
        per_seed[method], seconds[method] = [], 0.0
        for seed in run.seeds(method):
            key = run.key(method)
            done = run.store.finished(method, seed, key)
            if done is None:
                why = run.store.changed(method, seed, key)
                if why:
                    log(f"  {method} seed {seed}: saved under other settings ({why}); "
                        f"training it again")
                res = run.train(method, seed, progress)
                start = time.perf_counter()      # training has its own clock
                scores = evaluate(res.learner, run.tasks, test)
                report = (res.learner.selection_report(test)
                          if hasattr(res.learner, "selection_report") else None)
                if get_method(method).checkpointed and run.store.writer:
                    checkpoint.save(out, method, seed, res.learner, key, run.fingerprint)
                took = res.seconds + time.perf_counter() - start
                run.store.finish(method, seed, key, scores, res.history, took,
                                 {"selection": report})
                done = {"metrics": scores, "history": res.history, "seconds": took,
                        "extra": {"selection": report}}
            per_seed[method].append(done["metrics"])
            history += done["history"]
            if run.spec.run.tensorboard and run.store.writer:
                write_tensorboard(out, method, seed, done["history"])
            seconds[method] += done["seconds"]
            if done["extra"].get("selection"):
                reports.setdefault(method, []).append(done["extra"]["selection"])
        s = mean_ci(np.nanmean([m[metric] for m in per_seed[method]], 0))
        log(f"  {method:<12} {metric} {s['mean']:.3f} ± {s['ci95']:.3f}  "
            f"({len(per_seed[method])} seed(s), {seconds[method]:.1f} s)")
    results = summarize(run.spec, run.tasks, per_seed, seconds, run.seeds, None, run.warnings,
                        str(run.device))
    for method, r in reports.items():
        results["methods"][method]["selection"] = r
    if run.store.writer:
        write_run(out, run.spec, results, history, per_seed)
    return results


def tune_only(cfg: dict, out: Path, device: torch.device, progress: bool = True,
              log: Callable[[str], None] = print) -> dict:
    """``graphmeta tune``: tunes every method on meta-val (``eval.tune``
    configurations, at least 1: the current settings) and writes
    ``tuning.json``; the test split is never drawn. The tool for design
    choices: compare settings by their meta-val scores, then run ``compare``
    once for the table."""
    run = prepare(cfg, device)
    log(f"{run.tasks}")
    tuning = tune(run, max(run.spec.eval.tune, 1), progress, log)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "tuning.json", tuning)
    return tuning


def evaluate_run(run_dir: Path, device: torch.device, out: Optional[Path] = None) -> dict:
    """Re-evaluates a run directory's methods on its test tasks: trained
    methods from their checkpoints (every seed), the others rebuilt from the
    spec. Writes ``evaluation.json`` (beside ``results.json``, or under ``out``)."""
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{cfg_path}: no config.yaml; is {run_dir} a run directory?")
    run = prepare(load_config(cfg_path), device)
    test = run.fixed("test")
    per_seed: dict[str, list[dict[str, np.ndarray]]] = {}
    seconds = {}
    for method in run.spec.methods:
        start = time.perf_counter()
        per_seed[method] = []
        for seed in run.seeds(method):
            per_seed[method].append(evaluate(run.load(run_dir, method, seed), run.tasks, test))
        seconds[method] = time.perf_counter() - start
    results = summarize(run.spec, run.tasks, per_seed, seconds, run.seeds, None, run.warnings,
                        str(run.device))
    write_json((out or run_dir) / "evaluation.json", results)
    return results


__all__ = ["ConfigError", "Run", "compare", "evaluate_run", "prepare", "resolve_device",
           "tune_only"]
