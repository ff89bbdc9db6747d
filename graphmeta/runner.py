"""Runs: train and compare methods on the same fixed test tasks, and
re-evaluate a run directory.

A comparison: the graph and the spec are resolved (:func:`graphmeta.run.prepare`);
with ``eval.tune`` every method is tuned on meta-val (:mod:`graphmeta.tune`);
then every method is trained once per training seed (``eval.seeds``;
deterministic scorers once), keeping its best meta-val state, and scored on
the evaluator's fixed test tasks. The test split is drawn after tuning and
scored once per method and seed. The run directory is written as it goes
(:mod:`graphmeta.store`, :mod:`graphmeta.rundir`).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from graphmeta import checkpoint, distributed
from graphmeta.config import Config, load_config
from graphmeta.errors import GraphmetaError, RunDirError
from graphmeta.eval import mean_ci
from graphmeta.jobs import default_jobs, run_jobs
from graphmeta.methods import get_method
from graphmeta.profile import row, stage
from graphmeta.run import Run, prepare, resolve_device
from graphmeta.rundir import (primary_metric, summarize, write_config, write_json, write_run,
                              write_tensorboard)
from graphmeta.store import RunStore, holds_run
from graphmeta.tune import CHEAP_BUDGET, Space, tune


def compare(cfg: Config, out: Path, device: torch.device, progress: bool = True,
            log: Callable[[str], None] = print, *, resume: bool = False,
            force: bool = False, jobs: int | str = "auto") -> dict:
    """Tunes (with ``eval.tune``), trains and evaluates every method of the
    spec on the same fixed test tasks, writing the run directory ``out`` as
    it goes. With ``resume`` the run in ``out`` continues from its own
    ``config.yaml``: finished methods are not trained again, and an
    interrupted one continues from its last saved state. An existing run is
    replaced only with ``force``. ``jobs``: method-seed pairs trained side
    by side in worker processes, the threads divided between them
    (:mod:`graphmeta.jobs`; ``"auto"``: :func:`~graphmeta.jobs.default_jobs`)."""
    writer = distributed.is_main()
    if resume and not writer:
        distributed.barrier()   # rank 0 checks the directory first
    with RunStore(out, resume=resume, force=force, writer=writer) as store:
        if resume and writer:
            distributed.barrier()
        if resume:
            cfg = load_config(out / "config.yaml")
            log(f"resuming {out}")
        run = prepare(cfg, device, progress)
        run.store = store
        if run.spec.run.tensorboard:
            try:
                import torch.utils.tensorboard  # noqa: F401  (optional: only to say it is missing)
            except ImportError:
                raise GraphmetaError("run.tensorboard needs the tensorboard package: "
                                     "pip install tensorboard") from None
        if writer:
            write_config(out, run.spec)
        log(f"{run.tasks}")
        log(f"{run.evaluator}")
        for w in run.warnings:
            log(f"WARNING: {w}")
        tuning = None
        if run.spec.eval.tune:
            if resume and (out / "tuning.json").exists():
                tuning = json.loads((out / "tuning.json").read_text())
            else:
                log(f"tuning on meta-val ({run.spec.eval.select}): {run.spec.eval.tune} distinct "
                    f"configurations per learned method, {max(run.spec.eval.tune, CHEAP_BUDGET)} "
                    f"per scorer (or its whole space)")
                tuning = tune_run(run, run.spec.eval.tune, log)
                if writer:
                    write_json(out / "tuning.json", tuning)
            spec = run.spec
            for m, t in tuning.items():
                spec = spec.with_settings(m, t["settings"], "tuning.json")
            run = run.with_spec(spec)
            if writer:
                write_config(out, run.spec)
        results = _test_every_method(run, out, log, jobs)
        if tuning:
            results["tuning"] = {m: {"settings": t["settings"], "val": t["val"],
                                     "configurations": len(t["trials"]),
                                     "searched": t.get("searched"), "edges": t.get("edges", {})}
                                 for m, t in tuning.items()}
        if writer:
            write_json(out / "results.json", results)
        return results


def _test_every_method(run: Run, out: Path, log: Callable[[str], None],
                       jobs: int | str = 1) -> dict:
    """Trains every method and seed (or takes it from the run directory) and
    scores it on the fixed test tasks; writes everything but results.json."""
    with stage("test"):
        test = run.evaluator.batches("test")
    metric = primary_metric(run.spec)
    per_seed: dict[str, list[dict[str, np.ndarray]]] = {}
    val: dict[str, list[dict[str, float]]] = {}
    seconds: dict[str, float] = {}
    history: list[dict] = []
    reports: dict[str, list] = {}
    store = run.store
    ready = _train_side_by_side(run, out, log, jobs)
    for method in run.spec.methods:
        per_seed[method], val[method], seconds[method] = [], [], 0.0
        key = run.spec.key(method)
        for seed in run.seeds(method):
            done = ready.get((method, seed)) or store.finished(method, seed, key)
            if done is None:
                why = store.changed(method, seed, key)
                if why:
                    log(f"  {method} seed {seed}: saved under other settings ({why}); "
                        f"training it again")
                done = train_and_score(run, out, method, seed, test)
            per_seed[method].append(done["metrics"])
            val[method].append(done["extra"].get("val") or {})
            history += done["history"]
            if run.spec.run.tensorboard and store.writer:
                write_tensorboard(out, method, seed, done["history"])
            seconds[method] += done["seconds"]
            if done["extra"].get("report"):
                reports.setdefault(method, []).append(done["extra"]["report"])
        s = mean_ci(np.nanmean([m[metric] for m in per_seed[method]], 0))
        log(f"  {method:<12} {metric} {s['mean']:.3f} ± {s['ci95']:.3f}  "
            f"({len(per_seed[method])} seed(s), {seconds[method]:.1f} s)")
    results = summarize(run.spec, run.evaluator, per_seed, seconds, run.seeds, run.warnings,
                        str(run.device), val)
    for method, r in reports.items():
        results["methods"][method]["selection"] = r
    if store.writer:
        with stage("write"):
            write_run(out, run.spec, results, history, per_seed, run.evaluator.users("test"))
    return results


def train_and_score(run: Run, out: Path, method: str, seed: int, test) -> dict:
    """Trains ``method`` at ``seed`` (or resumes it), scores it on the test
    tasks ``test`` and records it as finished in the run directory ``out``;
    returns the record (``metrics``, ``history``, ``seconds``, ``extra``)."""
    key = run.spec.key(method)
    res = run.train(method, seed)
    start = time.perf_counter()      # training has its own clock
    with row(method):
        val = run.val_metrics(res)   # what picks a table's winners, never the test scores
    res.learner.eval()
    with row(method), stage("test"):
        scores = run.evaluator.evaluate(res.learner.predict, test)
        report = res.learner.report(test, run.evaluator.score)
    with row(method), stage("write"):
        if get_method(method).checkpointed and run.store.writer:
            checkpoint.save(out, method, seed, res.learner, key, run.fingerprint)
        took = res.seconds + time.perf_counter() - start
        extra = {"report": report, "val": val}
        run.store.finish(method, seed, key, scores, res.history, took, extra)
    return {"metrics": scores, "history": res.history, "seconds": took, "extra": extra}


def _train_side_by_side(run: Run, out: Path, log: Callable[[str], None], jobs: int | str
                        ) -> dict[tuple[str, int], dict]:
    """With ``jobs`` above 1 (see :func:`compare`), the seeded
    methods that depend on no other are trained and scored in worker
    processes first (:mod:`graphmeta.jobs`); returns their records. The
    rest (deterministic scorers, methods built from others) run in-line
    after, reading what the workers wrote."""
    if distributed.active():
        return {}
    pairs = [(m, s) for m in run.spec.methods if _side_by_side(m, run.spec.settings[m])
             for s in run.seeds(m) if run.store.finished(m, s, run.spec.key(m)) is None]
    jobs = min(default_jobs(run.device, len(pairs)) if jobs == "auto" else int(jobs), len(pairs))
    if jobs < 2:
        return {}
    ready = run_jobs(out, run.device, pairs, jobs, train_and_score, log)
    for m, s in ready:
        run.store.adopt(m, s)       # a method built from this one loads it
    return ready


def _side_by_side(method: str, settings) -> bool:
    """Whether a worker can train ``method`` alone: seeded, built from no other."""
    m = get_method(method)
    return m.seeded and not m.dependencies(settings)


def search_space(run: Run, method: str) -> Space:
    """``method``'s search space on ``run``'s data: its settings' ``search``
    (intervals capped by the data's facts, the known users counted), their
    conditions, and the
    run's settings as the base every configuration starts from."""
    m = get_method(method)
    facts = run.spec.facts
    known = getattr(run.tasks, "known", None)
    if known is not None:       # user-kNN's neighbourhood is at most the known users
        facts = dataclasses.replace(facts, n_known=int(known.sum()))
    return Space(m.config.search_space(run.spec.kind, facts),
                 m.config.search_conditions(), run.spec.settings[method].to_dict())


def tune_run(run: Run, n: int, log: Callable[[str], None] = print) -> dict:
    """Tunes every method of ``run`` on meta-val (:func:`graphmeta.tune.tune`):
    ``n`` configurations for each learned method, the cheap budget for the
    scorers, the sampler seeded by the run's seed and dataset."""
    cheap = [m for m in run.spec.methods if get_method(m).training == "none"]
    return tune(run.spec.methods, n, run.spec.seed, lambda m: search_space(run, m), run.trial,
                run.spec.eval.select, log, cheap=cheap, salt=Path(run.spec.dataset.name).name)


def tune_only(cfg: Config, out: Path, device: torch.device, progress: bool = True,
              log: Callable[[str], None] = print) -> dict:
    """``graphmeta tune``: tunes every method on meta-val (``eval.tune``
    configurations, at least 1: the current settings) and writes
    ``tuning.json``; the test split is never drawn. The tool for design
    choices: compare settings by their meta-val scores, then run ``compare``
    once for the table. ``out`` is checked first: a file, or a
    ``compare``/``train`` run (whose ``tuning.json`` a resume reads back),
    is refused before any tuning."""
    if holds_run(out):
        raise RunDirError(f"--out {out} holds a compare or train run, which reads its "
                          f"tuning.json back when resumed; give graphmeta tune another --out")
    run = prepare(cfg, device, progress)
    log(f"{run.tasks}")
    tuning = tune_run(run, max(run.spec.eval.tune, 1), log)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "tuning.json", tuning)
    return tuning


def evaluate_run(run_dir: Path, device: torch.device, out: Optional[Path] = None,
                 negatives: Optional[str] = None) -> dict:
    """Re-evaluates a run directory's methods on its test tasks: trained
    methods from their checkpoints (every seed), the others rebuilt from the
    spec. Writes ``evaluation.json`` (beside ``results.json``, or under ``out``).
    ``negatives``: draw the test tasks' support negatives this way instead
    of the run's ``eval.negatives`` (the other setting of the protocol, on
    the same trained models; meta-val, which chose them, is unchanged)."""
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{cfg_path}: no config.yaml; is {run_dir} a run directory?")
    run = prepare(load_config(cfg_path), device)
    if negatives is not None and negatives != run.evaluator.negatives:
        if not run.evaluator.interest:
            raise GraphmetaError("--negatives applies to user-interest runs")
        ev = copy.copy(run.evaluator)
        ev.negatives, ev._val = negatives, None
        val_ev = run.evaluator
        run = dataclasses.replace(run, evaluator=ev)
    else:
        val_ev = run.evaluator
    test = run.evaluator.batches("test")
    per_seed: dict[str, list[dict[str, np.ndarray]]] = {}
    val: dict[str, list[dict[str, float]]] = {}
    seconds = {}
    for method in run.spec.methods:
        start = time.perf_counter()
        per_seed[method], val[method] = [], []
        for seed in run.seeds(method):
            learner = run.load(run_dir, method, seed).eval()
            v = val_ev.evaluate(learner.predict, "val")
            val[method].append({k: float(np.nanmean(x)) for k, x in v.items()})
            per_seed[method].append(run.evaluator.evaluate(learner.predict, test))
        seconds[method] = time.perf_counter() - start
    # the recorded spec says which negatives the test tasks were drawn with
    # (loading the checkpoints needed the run's own: they are keyed by it)
    shown = dataclasses.replace(run.spec, eval=run.spec.eval.replace(
        negatives=run.evaluator.negatives))
    results = summarize(shown, run.evaluator, per_seed, seconds, run.seeds, run.warnings,
                        str(run.device), val)
    write_json((out or run_dir) / "evaluation.json", results)
    return results


__all__ = ["Run", "compare", "evaluate_run", "prepare", "resolve_device", "tune_only"]
