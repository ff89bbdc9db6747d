"""``graphmeta report RUN_DIR``: ``report.md`` with figures, from a finished run.

Figures (PNG, under ``RUN_DIR/figures/``):

- ``training.png``: per method, the training loss and the meta-val score
  (the checkpoint score) against iterations, first seed;
- ``methods.png``: every method's primary test metric with its 95% CI, and
  its paired difference to the best other baseline with that CI;
- ``inner_steps.png``: the primary test metric against the number of inner
  steps at test time, for every method that adapts by inner steps
  (checkpoints of the first seed, re-scored on the first ``tasks`` test tasks);
- ``rules.png``: the learned inner rates (per tensor and step, or per
  element as a per-tensor mean) and the learned update rule, where a method
  has them.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from graphmeta import io as gio
from graphmeta.config import load_config
from graphmeta.errors import RunDirError
from graphmeta.eval import Evaluator
from graphmeta.meta import LearnedRule
from graphmeta.methods import get_method
from graphmeta.run import Run, prepare
from graphmeta.rundir import LABELS, format_table, primary_metric

STEPS = (0, 1, 2, 5, 10)


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig: Any, path: Path) -> None:
    gio.atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    _plt().close(fig)


def training_figure(rows: list[dict], select: str, path: Path) -> bool:
    rows = [r for r in rows if r.get("iteration") not in (None, "")]
    if not rows:
        return False
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        mine = [r for r in mine if r.get("seed") == mine[0].get("seed")]
        it = [int(r["iteration"]) for r in mine]
        if all(r.get("train_loss") not in (None, "") for r in mine):
            a.plot(it, [float(r["train_loss"]) for r in mine], marker=".", label=method)
        b.plot(it, [float(r[f"val_{select}"]) for r in mine], marker=".", label=method)
    a.set(xlabel="iteration", ylabel="training loss (mean since the last validation)",
          title="Training loss")
    b.set(xlabel="iteration", ylabel=f"meta-val {LABELS[select]}",
          title=f"Meta-val {LABELS[select]} (the checkpoint score)")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    b.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    return True


def methods_figure(results: dict, path: Path) -> None:
    plt = _plt()
    metric = results["metric"]
    names = list(results["methods"])
    means = [results["methods"][m][metric]["mean"] for m in names]
    cis = [results["methods"][m][metric]["ci95"] or 0 for m in names]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 0.35 * len(names) + 1.8))
    y = np.arange(len(names))
    a.barh(y, means, xerr=cis, color="tab:blue", alpha=0.7, capsize=3)
    a.set(yticks=y, yticklabels=names, xlabel=f"test {LABELS[metric]} (mean ± 95% CI)",
          xlim=(max(0.0, min(means) - 0.05), min(1.0, max(means) + 0.03)))
    a.invert_yaxis()
    paired = results.get("paired", {})
    d = [paired[m]["diff"] if m in paired and paired[m]["diff"] is not None else 0 for m in names]
    e = [paired[m]["ci95"] or 0 if m in paired else 0 for m in names]
    colors = ["tab:green" if di - ei > 0 else "tab:red" if di + ei < 0 else "tab:gray"
              for di, ei in zip(d, e)]
    b.barh(y, d, xerr=e, color=colors, alpha=0.7, capsize=3)
    b.axvline(0, color="black", lw=0.8)
    b.set(yticks=y, yticklabels=[f"{m} vs {paired[m]['baseline']}" if m in paired else m
                                 for m in names],
          xlabel=f"paired difference in {LABELS[metric]} (95% CI)")
    b.invert_yaxis()
    fig.tight_layout()
    _save(fig, path)


def inner_steps_curves(run: Run, run_dir: Path, steps: Sequence[int], n_tasks: int
                       ) -> tuple[dict[str, list[float]], str]:
    """The primary test metric against the inner steps at test time, for
    every method that adapts by inner steps (first seed's checkpoint, the
    first ``n_tasks`` test tasks)."""
    metric = primary_metric(run.spec)
    ev = run.evaluator
    test = Evaluator(run.tasks, protocol=ev.protocol, candidates=ev.candidates,
                     negatives=ev.negatives,
                     n_test=min(n_tasks, ev.sizes["test"]), test_seed=ev.seeds["test"],
                     device=run.device).batches("test")
    curves: dict[str, list[float]] = {}
    for method in run.spec.methods:
        if not get_method(method).checkpointed:
            continue
        learner = run.load(run_dir, method, run.seeds(method)[0]).eval()
        if learner.adapt_steps is None:     # no inner loop
            continue
        curves[method] = [float(np.nanmean(ev.evaluate(
            lambda b, s=s, learner=learner: learner.predict(b, steps=s), test)[metric]))
            for s in steps]
    return curves, metric


def inner_steps_figure(curves: dict[str, list[float]], steps: Sequence[int], metric: str,
                       path: Path) -> bool:
    if not curves:
        return False
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for method, c in curves.items():
        ax.plot(steps, c, marker="o", label=method)
    ax.set(xlabel="inner steps at test time", ylabel=f"test {LABELS[metric]}",
           title="Adaptation: score against inner steps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    return True


def rules_figure(run_dir: Path, methods: Sequence[str], path: Path) -> list[str]:
    """Learned rates and rules found in the first-seed checkpoints."""
    found = []
    for m in methods:
        files = sorted((run_dir / "checkpoints" / m).glob("seed-*.pt"))
        if not files:
            continue
        state = torch.load(files[0], weights_only=True, map_location="cpu")["state_dict"]
        rates = {k: v for k, v in state.items() if ".rule.values." in k or ".rule.rates." in k}
        net = {k: v for k, v in state.items() if ".rule.net." in k}
        if rates or net:
            found.append((m, rates, net))
    if not found:
        return []
    plt = _plt()
    fig, axes = plt.subplots(1, len(found), figsize=(5.5 * len(found), 4), squeeze=False)
    for ax, (m, rates, net) in zip(axes[0], found):
        if net:
            hidden = next(v for k, v in net.items() if k.endswith("net.0.weight")).size(0)
            rule = LearnedRule(0.0, hidden=hidden)
            rule.net.load_state_dict({k.split(".rule.net.")[1]: v for k, v in net.items()})
            d = rule.describe(points=21)
            im = ax.imshow(np.array(d["update[g][m]"]), origin="lower", cmap="coolwarm",
                           extent=(-2, 2, -2, 2))
            fig.colorbar(im, ax=ax, label="normalised update")
            ax.set(xlabel="momentum / σ", ylabel="gradient / σ", title=f"{m}: learned update")
        else:
            vals = [v.float() for v in rates.values()]
            if all(v.dim() == 1 and v.numel() == vals[0].numel() for v in vals) and \
                    vals[0].numel() <= 20:
                im = ax.imshow(torch.stack(vals).numpy(), aspect="auto", cmap="viridis")
                fig.colorbar(im, ax=ax, label="rate")
                ax.set(xlabel="inner step", ylabel="parameter tensor",
                       title=f"{m}: learned rate per tensor and step")
            else:
                ax.bar(range(len(vals)), [v.mean().item() for v in vals])
                ax.set(xlabel="parameter tensor", ylabel="mean learned rate",
                       title=f"{m}: learned rates (per-tensor mean)")
    fig.tight_layout()
    _save(fig, path)
    return [m for m, _, _ in found]


def write_report(run_dir: Path, device: Optional[torch.device] = None,
                 steps: Sequence[int] = STEPS, n_tasks: int = 500) -> Path:
    """Writes ``report.md`` and its figures into ``run_dir``; returns its path."""
    run_dir = Path(run_dir)
    results_path = run_dir / "results.json"
    if not results_path.exists():
        raise RunDirError(f"{results_path}: no results; is {run_dir} a finished run? "
                          f"(graphmeta compare writes it at the end)")
    results = json.loads(results_path.read_text())
    select = results["spec"]["eval"]["select"]
    rows = list(csv.DictReader((run_dir / "metrics.csv").open())) \
        if (run_dir / "metrics.csv").exists() else []
    # the data first: a run whose graph cannot be loaded fails before any figure is written
    run = prepare(load_config(run_dir / "config.yaml"), device or torch.device("cpu"))
    figs = run_dir / "figures"
    lines = [f"# Report: {run_dir.name}", "",
             f"{results['dataset']}, {results['task_kind']} tasks, protocol "
             f"{results['protocol']}; produced by "
             f"`{results.get('provenance', {}).get('command', '?')}`.",
             "", "```", format_table(results), "```", ""]
    if training_figure(rows, select, figs / "training.png"):
        lines += ["## Training", "", "Training loss and the meta-val score that picks each "
                  "method's checkpoint (first seed).", "", "![training](figures/training.png)", ""]
    methods_figure(results, figs / "methods.png")
    lines += ["## Methods", "", f"Test {LABELS[results['metric']]} with 95% CIs, and each "
              "method's paired difference to the best other baseline (green: the CI excludes "
              "0 in the method's favour, red: against it).", "",
              "![methods](figures/methods.png)", ""]
    curves, metric = inner_steps_curves(run, run_dir, steps, n_tasks)
    if inner_steps_figure(curves, steps, metric, figs / "inner_steps.png"):
        shown = min(n_tasks, int(results.get("n_test_tasks", n_tasks)))   # the split may hold fewer
        lines += ["## Adaptation", "", f"Test {LABELS[metric]} on the first {shown} test "
                  f"tasks against the number of inner steps at test time (first seed).", "",
                  "![inner steps](figures/inner_steps.png)", "", "| method | "
                  + " | ".join(f"{s} steps" for s in steps) + " |",
                  "|---|" + "---|" * len(steps)]
        lines += [f"| {m} | " + " | ".join(f"{v:.4f}" for v in c) + " |"
                  for m, c in curves.items()]
        lines.append("")
    learned = rules_figure(run_dir, list(results["methods"]), figs / "rules.png")
    if learned:
        lines += ["## Learned inner-loop rules", "", f"What {', '.join(learned)} learned "
                  "about the inner loop (first seed).", "", "![rules](figures/rules.png)", ""]
    out = run_dir / "report.md"
    gio.write_text(out, "\n".join(lines))
    return out


__all__ = ["write_report"]
