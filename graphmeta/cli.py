"""``graphmeta`` command line: demo, compare, tune, train, evaluate, report,
datasets, methods, bench. The argparse declarations of every subcommand are
here; the work each does lives in other modules, imported inside
:func:`main` (importing torch and PyG takes seconds, and ``graphmeta
--version`` should not wait for them)."""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Optional, Sequence

from graphmeta.cliargs import DEMO_METHODS, parser
from graphmeta.errors import GraphmetaError
from graphmeta.plugins import from_argv, installed_plugins, load_plugin


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


def _line(e: BaseException) -> str:
    """One line for an error: graphmeta's own say what to change; an OS
    error the code did not foresee names its file and the reason."""
    if isinstance(e, OSError) and not isinstance(e, GraphmetaError) and e.strerror:
        return f"{e.filename}: {e.strerror}" if e.filename else e.strerror
    return str(e)


# PyG 2.8 scripts a few pooling helpers with torch.jit.script at import, which
# torch 2.13 deprecates: nothing a graphmeta user can act on (pyproject.toml
# filters it from the tests the same way).
JIT_DEPRECATION = "`torch.jit.script` is deprecated"


def _interrupted(command: str) -> int:
    """Ctrl-C in ``evaluate`` or ``report``: a line, not a traceback."""
    print(f"graphmeta: interrupted (SIGINT); graphmeta {command} has nothing to resume: run "
          f"it again", file=sys.stderr)
    return 128 + signal.SIGINT


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    warnings.filterwarnings("ignore", message=JIT_DEPRECATION, category=DeprecationWarning)
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
    args = parser().parse_args(argv)
    if getattr(args, "threads", None) is not None and args.threads < 1:
        print(f"graphmeta: error: --threads {args.threads}: expected at least 1 (or leave it "
              f"out for the free cores)", file=sys.stderr)
        return 2
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
        except (GraphmetaError, ValueError, OSError) as e:
            print(f"graphmeta: error: {_line(e)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return _interrupted("report")
        print(f"wrote {path}")
        return 0
    from graphmeta import runner
    from graphmeta.config import load_config
    if getattr(args, "resume", None):
        # demo's --out has a default: only another directory is a conflict
        out_given = args.out if args.command != "demo" else \
            (args.out if Path(args.out) != Path(args.resume) and args.out != "runs/demo" else None)
        given = [f for f, v in (("--config", args.config), ("--set", args.overrides),
                                ("--seed", args.seed), ("--dataset", args.dataset),
                                ("--task", args.task), ("--out", out_given),
                                ("--methods", getattr(args, "methods", None)),
                                ("--tune", getattr(args, "tune", None)),
                                ("--tensorboard", getattr(args, "tensorboard", False))) if v]
        if given:
            print(f"graphmeta: error: --resume continues the run with its own config.yaml; "
                  f"drop {', '.join(given)}", file=sys.stderr)
            return 2
    try:
        device = runner.resolve_device(args.device)
        if args.command == "evaluate":
            if args.threads:
                torch.set_num_threads(args.threads)
            try:
                res = runner.evaluate_run(Path(args.run), device,
                                          Path(args.out) if args.out else None,
                                          negatives=args.negatives)
            except KeyboardInterrupt:
                return _interrupted("evaluate")
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
    except (GraphmetaError, ValueError, OSError) as e:
        print(f"graphmeta: error: {_line(e)}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads or default_threads())
    resume = getattr(args, "resume", None)
    if not (args.out or resume):
        alt = "" if args.command == "tune" else " (or --resume RUN_DIR)"
        print(f"graphmeta {args.command}: error: --out is required{alt}", file=sys.stderr)
        return 2
    out = Path(resume or args.out)
    from graphmeta import distributed
    from graphmeta.interrupts import raise_on_sigterm
    distributed.init(device)
    main_rank = distributed.is_main()
    if distributed.active():
        print(f"graphmeta {args.command}: rank {distributed.rank()} of {distributed.world()}")
        if not distributed.is_main():
            args.quiet = True
    print(f"graphmeta {args.command}: device={device}, out={out}")
    from graphmeta.profile import profiling
    try:
        progress = _progress(args.quiet)
        with raise_on_sigterm(), (profiling() if args.profile
                                  else contextlib.nullcontext()) as prof:
            if args.command == "tune":
                runner.tune_only(cfg, out, device, progress=progress)
                print(f"wrote {out / 'tuning.json'}")
            else:
                res = runner.compare(cfg, out, device, progress=progress, resume=bool(resume),
                                     force=args.force, jobs=getattr(args, "jobs", "auto"))
        if prof is not None and main_rank:
            from graphmeta.rundir import write_json
            write_json(out / "profile.json", prof.to_dict())
    except (GraphmetaError, ValueError, OSError, FloatingPointError) as e:
        print(f"graphmeta: error: {_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:      # Ctrl-C, or SIGTERM (graphmeta.errors.Interrupted)
        signum = getattr(e, "signum", signal.SIGINT)
        name = signal.Signals(signum).name
        if args.command == "tune":      # nothing to resume: tuning.json is written at the end
            print(f"graphmeta: interrupted ({name}); graphmeta tune writes nothing until it "
                  f"finishes: run it again", file=sys.stderr)
        else:
            print(f"graphmeta: interrupted ({name}); the run so far is in {out}: continue it "
                  f"with graphmeta {args.command} --resume {out}", file=sys.stderr)
        return 128 + signum
    finally:
        distributed.finish()
    if main_rank and args.command != "tune":
        print(format_table(res))
        print(f"wrote {out / 'results.json'}")
    if prof is not None and main_rank:
        print(prof.table())
        print(f"wrote {out / 'profile.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
