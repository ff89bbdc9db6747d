"""The command line's arguments: every subcommand's options, help texts and
examples, in one place (:mod:`graphmeta.cli` runs them)."""
from __future__ import annotations

import argparse
from typing import Optional


def _common(p: argparse.ArgumentParser, out_default: Optional[str],
            resumable: bool = True) -> None:
    p.add_argument("--config", help="YAML config file (every key and its default: "
                                    "graphmeta methods)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted override, e.g. --set maml.inner_steps=10, or "
                        "--set '*.iterations=200' for every method (repeatable)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default: auto)")
    p.add_argument("--seed", type=int, help="overrides the config's seed")
    p.add_argument("--dataset", help="dataset name or folder (overrides dataset.name), "
                                     "e.g. deezer-hu")
    p.add_argument("--task", choices=("auto", "user-interest", "few-shot"),
                   help="task kind (overrides tasks.kind)")
    p.add_argument("--out", default=out_default,
                   help="run directory" + (f" (default: {out_default})" if out_default
                                           else " (required unless --resume)" if resumable
                                           else " (required)"))
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: the cores not already busy, from the "
                        "load average; see docs/SCALING.md)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--profile", action="store_true",
                   help="print the seconds per method and stage (loading, features, "
                        "sampling, steps, meta-val, test, writing) and write profile.json")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its own config.yaml: finished "
                        "methods are kept, an interrupted one continues where it stopped")
    p.add_argument("--force", action="store_true",
                   help="replace the run already in --out (default: refuse)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write training histories as TensorBoard events "
                        "(sets run.tensorboard)")
    p.add_argument("--jobs", default="auto", type=_jobs, metavar="N",
                   help="method-seed pairs trained side by side in worker processes, the "
                        "threads divided between them (default auto: one per thread on a "
                        "CPU when there are at least two pairs each, else 1)")


def _jobs(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number >= 1, got {value!r}")
    return n


def _plugin_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE_OR_FILE",
                   help="import a module or a .py file first, e.g. one that registers "
                        "methods or datasets (repeatable)")


DESCRIPTION = """Meta-learning on social graphs: a task is one user's ego-subgraph and
interests (or a few-shot episode). Train, tune, compare, evaluate and report
methods; list datasets; run the benchmarks."""
# What graphmeta demo compares (compare's default list adds the scorers).
DEMO_METHODS = ("maml", "maml-mlp", "finetune", "scratch")
EXAMPLES = {
    "demo": "graphmeta demo --out runs/demo --threads 2",
    "compare": "GRAPHMETA_DATA=../shared/datasets graphmeta compare --dataset deezer-hu "
               "--methods maml,finetune,itemknn,ease --tune 4 --out runs/deezer",
    "tune": "graphmeta tune --methods maml,itemknn --tune 8 --out runs/tuned",
    "train": "graphmeta train --method maml --set maml.inner_steps=10 --out runs/m   "
             "(then: graphmeta train --resume runs/m)",
    "evaluate": "graphmeta evaluate runs/m   (writes runs/m/evaluation.json)",
    "report": "graphmeta report runs/demo   (writes runs/demo/report.md and its figures)",
    "datasets": "GRAPHMETA_DATA=../shared/datasets graphmeta datasets",
    "methods": "graphmeta methods maml   (its settings, their defaults and tuning values)",
    "bench": "graphmeta bench --json > bench.json",
}


def _sub(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                          epilog=f"example:\n  {EXAMPLES[name]}",
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def parser() -> argparse.ArgumentParser:
    import graphmeta
    from graphmeta import bench
    from graphmeta.methods import method_names
    ap = argparse.ArgumentParser(prog="graphmeta", description=DESCRIPTION,
                                 epilog=f"example:\n  {EXAMPLES['demo']}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"graphmeta {graphmeta.__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = _sub(sub, "demo", "compare maml, maml-mlp, finetune and scratch "
                          "on the synthetic social graph")
    _common(p, "runs/demo")
    _run_args(p)
    _plugin_arg(p)
    p = _sub(sub, "compare", "train and evaluate several methods on the same test tasks")
    _common(p, None)
    _run_args(p)
    _plugin_arg(p)
    p.add_argument("--methods", help=f"comma-separated, from {', '.join(method_names())}")
    p.add_argument("--tune", type=int, metavar="N",
                   help="tune every method on meta-val with N configurations first "
                        "(overrides eval.tune)")
    p = _sub(sub, "tune", "tune methods on meta-val only (writes tuning.json; "
                          "the test split is never drawn)")
    _common(p, None, resumable=False)
    _plugin_arg(p)
    p.add_argument("--methods", help=f"comma-separated, from {', '.join(method_names())}")
    p.add_argument("--tune", type=int, metavar="N", help="configurations per method "
                                                          "(overrides eval.tune; default 1)")
    p = _sub(sub, "train", "train one method and save its checkpoint")
    _common(p, None)
    _run_args(p)
    _plugin_arg(p)
    p.add_argument("--method", default="maml", help="one of " + ", ".join(method_names()))
    p = _sub(sub, "evaluate", "evaluate a run directory's methods on its test tasks")
    p.add_argument("run", help="run directory written by train or compare")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--out", help="where to write evaluation.json (default: the run directory)")
    p.add_argument("--negatives", choices=("uniform", "popularity"),
                   help="score the test tasks with their support negatives drawn this way "
                        "instead of the run's eval.negatives (the same trained models: the "
                        "other setting of the protocol)")
    _plugin_arg(p)
    p = _sub(sub, "report", "write RUN_DIR/report.md with figures: training curves, methods "
                            "with CIs and paired differences, score against inner steps, "
                            "learned inner rules")
    p.add_argument("run", help="a finished run directory")
    p.add_argument("--device", default="auto")
    p.add_argument("--tasks", type=int, default=500,
                   help="test tasks re-scored for the inner-steps figure (default 500)")
    p.add_argument("--threads", type=int, default=None)
    _plugin_arg(p)
    p = _sub(sub, "datasets", "list the registered datasets, their counts and "
                              "whether their files are present locally")
    p.add_argument("--root", help="local mirror (default: $GRAPHMETA_DATA)")
    _plugin_arg(p)
    p = _sub(sub, "methods", "list the registered methods and their own settings (with "
                             "defaults and tuning values), and the global settings")
    p.add_argument("name", nargs="?", help="one method")
    _plugin_arg(p)
    p = _sub(sub, "bench", "meta-step, sampler, memory and throughput benchmarks "
                           "against in-run references")
    bench.add_arguments(p)
    return ap


__all__ = ["DEMO_METHODS", "DESCRIPTION", "EXAMPLES", "parser"]
