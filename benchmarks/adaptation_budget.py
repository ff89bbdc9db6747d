"""How much of a few-shot method's score comes from its initialisation and
how much from its test-time adaptation, on meta-val only.

    GRAPHMETA_DATA=../shared/datasets python benchmarks/adaptation_budget.py \
        runs/email-split0 --threads 1

Reads a `graphmeta compare --task few-shot` run directory that trained
``maml`` and ``finetune`` (``scratch`` needs no checkpoint) and scores, on
the run's fixed meta-val episodes (the test split is never drawn), each
initialisation under each adaptation on the support set:

- initialisations: ``scratch`` (random), ``finetune`` (the encoder and
  ``fc1`` pre-trained as a classifier over the meta-train classes, a fresh
  ``N``-way ``fc2``), ``maml`` (the meta-learned one, all of it);
- adaptations: ``maml``'s own inner loop (plain gradient steps at
  ``maml.inner_lr``, ``maml.inner_steps`` of them), and ``finetune``'s
  (Adam at ``finetune.inner_lr`` for ``finetune.inner_steps`` on few-shot
  episodes), each also at a few other step counts.

Each cell is the mean meta-val accuracy over the episodes with its 95% CI.
The adaptation is graphmeta's own (:class:`graphmeta.meta.Adapter` with the
``SGD`` or ``Adam`` inner rule), so a cell is what that method would score
with another initialisation or another budget. (`graphmeta report`'s
adaptation figure varies only the step count of each method's own rule, on
test tasks; this crosses initialisations with rules and stays on meta-val.)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from graphmeta.config import load_config
from graphmeta.eval import mean_ci
from graphmeta.meta import SGD, Adam, Adapter
from graphmeta.run import prepare, resolve_device


def models(run, run_dir: Path, seed: int) -> dict[str, torch.nn.Module]:
    """Each initialisation as a few-shot model of the same architecture."""
    return {"scratch": run.load(run_dir, "scratch", seed).adapter.model,
            "finetune": run.load(run_dir, "finetune", seed).adapter.model,
            "maml": run.load(run_dir, "maml", seed).maml.model}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="a few-shot compare run with maml and finetune")
    p.add_argument("--seed", type=int, default=None, help="training seed (default: the run's)")
    p.add_argument("--steps", default="5,20,100", help="SGD steps to try (default: 5,20,100)")
    p.add_argument("--adam-steps", default="5,100,300",
                   help="Adam steps to try (default: 5,100,300)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.run / "config.yaml")
    cfg = cfg.with_methods(sorted(set(cfg.methods) | {"maml", "finetune", "scratch"}))
    run = prepare(cfg, resolve_device(args.device))
    if run.spec.kind != "few-shot":
        raise SystemExit(f"{args.run}: a {run.spec.kind} run; this compares few-shot adaptation")
    seed = run.spec.seed if args.seed is None else args.seed
    inits = models(run, args.run, seed)
    m, b = run.spec.settings["maml"], run.spec.settings["finetune"]
    if m.inner_rule != "sgd":
        raise SystemExit(f"{args.run}: maml's inner rule is {m.inner_rule!r}; this script "
                         f"re-runs the plain SGD rule only")
    rules = ([(f"SGD {m.inner_lr:g} x {n}", lambda: SGD(m.inner_lr), int(n))
              for n in args.steps.split(",")]
             + [(f"Adam {b.inner_lr:g} x {n}", lambda: Adam(b.inner_lr), int(n))
                for n in args.adam_steps.split(",")])
    print(f"{args.run}: meta-val accuracy, {run.spec.tasks.n_val_tasks} episodes, seed {seed} "
          f"(maml trained with SGD {m.inner_lr:g} x {m.inner_steps}; finetune adapts with "
          f"{b.inner_rule} {b.inner_lr:g} x {b.inner_steps})")
    print("| adaptation | " + " | ".join(inits) + " |")
    print("|---|" + "---|" * len(inits))
    for label, rule, steps in rules:
        cells = []
        for model in inits.values():
            adapter = Adapter(model, rule(), steps)
            acc = run.evaluator.evaluate(adapter.adapted_logits, "val")["accuracy"]
            ci = mean_ci(acc)
            cells.append(f"{ci['mean']:.3f} ± {ci['ci95']:.3f}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
