"""A resolved run: the graph, the spec, the task sampler and the evaluator,
and the learners trained so far (:class:`Run`, built by :func:`prepare`).
:mod:`graphmeta.runner` compares methods with it; tuning trains its trials
through :meth:`Run.trial`."""
from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch_geometric.data import Data

from graphmeta import checkpoint, datasets, distributed
from graphmeta.build import build_data, build_tasks
from graphmeta.checks import check_data, check_run
from graphmeta.config import Config
from graphmeta.eval import Evaluator
from graphmeta.methods import Context, Learner, get_method
from graphmeta.profile import current_row, row, stage
from graphmeta.spec import RunSpec, resolve, with_n_way
from graphmeta.store import RunStore
from graphmeta.tasks import EgoTasks, shared_sampler
from graphmeta.train import Checkpointer, TrainResult, build_learner, fit

EVAL_CHUNK = 100
# The profile row of a method trained while tuning (graphmeta.profile).
TUNE_ROW = " [tune]"


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
    """A resolved run: its config, spec, graph, task sampler, evaluator and
    device, and the learners trained so far (shared by copies with other
    settings, keyed by method, seed and the method's resolved settings)."""
    cfg: Config
    spec: RunSpec
    data: Data
    tasks: EgoTasks
    evaluator: Evaluator
    device: torch.device
    warnings: list[str] = field(default_factory=list)
    cache: dict = field(default_factory=dict, repr=False)
    store: Optional[RunStore] = None
    progress: bool = False

    def context(self, method: str, seed: Optional[int] = None,
                trained: Optional[dict[str, Learner]] = None) -> Context:
        """What ``method`` is built with; training seed ``seed`` (default:
        the run's seed); ``trained``: the learners it is built from."""
        return Context(method, self.spec.settings[method], self.tasks, self.device,
                       self.spec.seed if seed is None else seed, self.spec.eval.select,
                       trained or {})

    @property
    def fingerprint(self) -> dict:
        return checkpoint.fingerprint(self.data, self.tasks.splits)

    def _dependencies(self, method: str, seed: int, trained: bool) -> dict[str, Learner]:
        """The learners ``method`` is built from: its own copies, as built,
        with the states of the run's trained ones if ``trained``."""
        out = {}
        for d in get_method(method).dependencies(self.spec.settings[method]):
            out[d] = self.build(d, seed)
            if trained:
                out[d].load_state_dict(self.train(d, seed).learner.state_dict())
        return out

    def build(self, method: str, seed: int) -> Learner:
        """``method``'s learner as built (untrained) at ``seed``."""
        return build_learner(self.context(method, seed, self._dependencies(method, seed, False)))

    def load(self, run_dir: Path, method: str, seed: int) -> Learner:
        """``method``'s learner at ``seed`` from ``run_dir``'s checkpoint
        (rebuilt from the spec when the method saves none)."""
        learner = self.build(method, seed)
        if get_method(method).checkpointed:
            checkpoint.load(run_dir, method, seed, learner, self.spec.key(method),
                            self.fingerprint, self.device)
        return learner

    def train(self, method: str, seed: int, resumable: bool = True) -> TrainResult:
        """``method`` trained at ``seed`` (its dependencies first), once per
        resolved settings. In a run directory (``store``) a finished method
        is loaded from its checkpoint and an interrupted one resumes."""
        key = self.spec.key(method)
        if (method, seed, key) in self.cache:
            return self.cache[(method, seed, key)]
        tuning = current_row().endswith(TUNE_ROW)
        with row(method + (TUNE_ROW if tuning else "")):
            res = self._train(method, seed, key, resumable)
        self.cache[(method, seed, key)] = res
        return res

    def _train(self, method: str, seed: int, key: str, resumable: bool) -> TrainResult:
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
            ctx = self.context(method, seed, self._dependencies(method, seed, True))
            res = fit(ctx, self.evaluator, progress=self.progress, prefetch=self.spec.run.prefetch,
                      checkpointer=ck)
        return res

    def trial(self, method: str, settings: dict) -> dict[str, float]:
        """Meta-val metrics of ``method`` trained with ``settings`` changed
        (one tuning configuration; not resumable)."""
        run = self.with_spec(self.spec.with_settings(method, settings))
        with row(method + TUNE_ROW):
            res = run.train(method, run.spec.seed, resumable=False)
            try:
                return self.val_metrics(res)
            finally:    # one configuration's learner is not used again: let it go
                run.cache.pop((method, run.spec.seed, run.spec.key(method)), None)

    def val_metrics(self, res: Any) -> dict[str, float]:
        """The meta-val metrics of a training result's kept state: the best
        checkpoint's, or (an untrained method, or one never validated) the
        learner scored as it is, on the same fixed meta-val tasks."""
        metrics = res.best_val_metrics(self.spec.eval.select)
        if not metrics:
            res.learner.eval()
            with stage("meta-val"):
                scores = self.evaluator.evaluate(res.learner.predict, "val")
            metrics = {k: round(float(np.nanmean(v)), 6) for k, v in scores.items()}
        return metrics

    def seeds(self, method: str) -> list[int]:
        """Training seeds: ``seed, seed + 1, ...`` (``eval.seeds`` of them)
        for seeded methods, ``seed`` alone for deterministic scorers."""
        n = self.spec.eval.seeds if get_method(method).seeded else 1
        return [self.spec.seed + i for i in range(n)]

    def with_spec(self, spec: RunSpec) -> "Run":
        """This run under another spec of the same data and tasks."""
        return dataclasses.replace(self, spec=spec)


def located(cfg: Config) -> Config:
    """``cfg`` with the data's place written in: a registered dataset's
    ``root`` from ``$GRAPHMETA_DATA`` when the config has none, a folder
    dataset's path made absolute. The run directory's ``config.yaml`` then
    loads the same data for ``evaluate``, ``report`` and ``--resume`` from
    any directory, without the environment it was made in."""
    dataset = dict(cfg.sections.get("dataset", {}))
    name, env = str(dataset.get("name", "synthetic")), os.environ.get("GRAPHMETA_DATA")
    if name in datasets.names() and not dataset.get("root") and env:
        dataset["root"] = str(Path(env).resolve())
    elif name != "synthetic" and name not in datasets.names() and Path(name).is_dir():
        dataset["name"] = str(Path(name).resolve())
    if dataset == cfg.sections.get("dataset", {}):
        return cfg
    out = copy.deepcopy(cfg)
    out.sections["dataset"] = dataset
    return out


def prepare(cfg: Config, device: torch.device, progress: bool = False) -> Run:
    """Loads the graph, resolves the spec and builds the task sampler (with
    the context features when a trained method reads them) and the evaluator.
    The data's place is recorded in the spec (:func:`located`)."""
    cfg = located(cfg)
    dataset = cfg.section("dataset")
    with stage("load"):
        data = build_data(dataset, cfg.section("synthetic"), cfg.seed)
        check_data(data, dataset.name)
    with stage("features"):
        spec = resolve(cfg, data, device)
        context = any("context" in s.keys() and s.context is True
                      and get_method(m).training != "none" for m, s in spec.settings.items())
        tasks = build_tasks(spec, data, context)
        if distributed.active():
            tasks.sampler = shared_sampler(tasks.sampler,
                                           checkpoint.fingerprint(data, tasks.splits)["splits"])
        if spec.kind == "few-shot":
            spec = with_n_way(spec, tasks.n_way)
        t, e = spec.tasks, spec.eval
        evaluator = Evaluator(tasks, protocol=e.protocol, candidates=e.candidates,
                              negatives=e.negatives,
                              n_val=t.n_val_tasks, n_test=t.n_test_tasks, test_seed=t.test_seed,
                              device=device, chunk=EVAL_CHUNK)
        warnings = check_run(spec, data, tasks) + evaluator.warnings()
    return Run(cfg, spec, data, tasks, evaluator, device, warnings, progress=progress)


__all__ = ["EVAL_CHUNK", "Run", "located", "prepare", "resolve_device"]
