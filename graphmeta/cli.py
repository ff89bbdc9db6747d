"""``graphmeta`` command line: demo, compare, tune, train, evaluate, report,
datasets, methods, bench. The argparse declarations of every subcommand are
here; the work each does lives in other modules, imported inside
:func:`main` (importing torch and PyG takes seconds, and ``graphmeta
--version`` should not wait for them)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from graphmeta.errors import GraphmetaError
from graphmeta.plugins import from_argv, installed_plugins, load_plugin


def _common(p: argparse.ArgumentParser, out_default: Optional[str]) -> None:
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
                                           else " (required unless --resume)"))
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: the cores not already busy, from the "
                        "load average; see docs/SCALING.md)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its own config.yaml: finished "
                        "methods are kept, an interrupted one continues where it stopped")
    p.add_argument("--force", action="store_true",
                   help="replace the run already in --out (default: refuse)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also write training histories as TensorBoard events "
                        "(sets run.tensorboard)")


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


def _parser() -> argparse.ArgumentParser:
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
    _common(p, None)
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


def default_threads() -> int:
    """Threads for this process: the usable cores minus those the 1-minute
    load average says are busy, at least 1. On shared cores, more threads
    than free cores make every job wait on the others (docs/SCALING.md)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return max(1, min(cores or 1, round((cores or 1) - busy)))


def _progress(quiet: bool) -> bool:
    """Progress bars on a terminal; plain log lines (one per validation)
    when stderr is redirected; neither with ``--quiet``."""
    bars = not quiet and sys.stderr.isatty()
    logger = logging.getLogger("graphmeta")
    logger.setLevel(logging.INFO if not quiet and not bars else logging.WARNING)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    return bars


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:     # what the parser would print, without importing torch
        import graphmeta
        print(f"graphmeta {graphmeta.__version__}")
        return 0
    try:
        for plugin in installed_plugins() + from_argv(argv):
            load_plugin(plugin)
    except (ImportError, FileNotFoundError) as e:
        print(f"graphmeta: error: --plugin: {e}", file=sys.stderr)
        return 2
    args = _parser().parse_args(argv)
    import torch

    from graphmeta.rundir import format_table
    if args.command == "bench":
        from graphmeta import bench
        return bench.run(args)
    if args.command in ("datasets", "methods"):
        from graphmeta import listing
        if args.command == "methods" and args.name:
            try:
                print(listing.methods_table(args.name))
            except KeyError as e:
                print(f"graphmeta: error: {e.args[0]}", file=sys.stderr)
                return 2
            return 0
        print(listing.datasets_table(args.root) if args.command == "datasets"
              else listing.methods_table())
        return 0
    if args.command == "report":
        from graphmeta import runner
        from graphmeta.report import write_report
        if args.threads:
            torch.set_num_threads(args.threads)
        try:
            path = write_report(Path(args.run), runner.resolve_device(args.device),
                                n_tasks=args.tasks)
        except (GraphmetaError, ValueError, FileNotFoundError) as e:
            print(f"graphmeta: error: {e}", file=sys.stderr)
            return 2
        print(f"wrote {path}")
        return 0
    from graphmeta import runner
    from graphmeta.config import load_config
    if getattr(args, "resume", None):
        given = [f for f, v in (("--config", args.config), ("--set", args.overrides),
                                ("--seed", args.seed), ("--dataset", args.dataset),
                                ("--task", args.task), ("--out", args.out if args.command != "demo"
                                                        else None),
                                ("--methods", getattr(args, "methods", None)),
                                ("--tune", getattr(args, "tune", None))) if v]
        if given:
            print(f"graphmeta: error: --resume continues the run with its own config.yaml; "
                  f"drop {', '.join(given)}", file=sys.stderr)
            return 2
    try:
        device = runner.resolve_device(args.device)
        if args.command == "evaluate":
            if args.threads:
                torch.set_num_threads(args.threads)
            res = runner.evaluate_run(Path(args.run), device,
                                      Path(args.out) if args.out else None)
            if not args.quiet:
                print(format_table(res))
            return 0
        overrides = list(args.overrides)
        if args.seed is not None:
            overrides.append(f"seed={args.seed}")
        if args.dataset:
            overrides.append(f"dataset.name={args.dataset}")
        if args.task:
            overrides.append(f"tasks.kind={args.task}")
        if args.command in ("compare", "tune") and args.methods:
            overrides.append(f"methods=[{args.methods}]")
        if args.command in ("compare", "tune") and args.tune is not None:
            overrides.append(f"eval.tune={args.tune}")
        if args.command == "train":
            overrides.append(f"methods=[{args.method}]")
        if getattr(args, "tensorboard", False):
            overrides.append("run.tensorboard=true")
        cfg = load_config(args.config, overrides)
        if args.command == "demo" and not cfg.methods:
            cfg = cfg.with_methods(DEMO_METHODS)
    except (GraphmetaError, ValueError, FileNotFoundError) as e:
        print(f"graphmeta: error: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads or default_threads())
    resume = getattr(args, "resume", None)
    if not (args.out or resume):
        print(f"graphmeta {args.command}: error: --out is required (or --resume RUN_DIR)",
              file=sys.stderr)
        return 2
    out = Path(resume or args.out)
    from graphmeta import distributed
    distributed.init(device)
    main_rank = distributed.is_main()
    if distributed.active():
        print(f"graphmeta {args.command}: rank {distributed.rank()} of {distributed.world()}")
        if not distributed.is_main():
            args.quiet = True
    print(f"graphmeta {args.command}: device={device}, out={out}")
    try:
        progress = _progress(args.quiet)
        if args.command == "tune":
            runner.tune_only(cfg, out, device, progress=progress)
            print(f"wrote {out / 'tuning.json'}")
            return 0
        res = runner.compare(cfg, out, device, progress=progress, resume=bool(resume),
                             force=args.force)
    except (GraphmetaError, ValueError, FileNotFoundError, FloatingPointError) as e:
        print(f"graphmeta: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"graphmeta: interrupted; the run so far is in {out}: continue it with "
              f"graphmeta {args.command} --resume {out}", file=sys.stderr)
        return 130
    finally:
        distributed.finish()
    if main_rank:
        print(format_table(res))
        print(f"wrote {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
