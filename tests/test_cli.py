"""The command line, as real processes."""
import json
import platform
import subprocess
import sys
from pathlib import Path

import torch

from graphmeta.cli import main
from tests.helpers import TINY

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def graphmeta(*args):
    return subprocess.run([sys.executable, "-m", "graphmeta.cli", *args],
                          capture_output=True, text=True, timeout=300)


def _strip_seconds(res):
    """Everything but wall times and the provenance (timestamp, command)."""
    for m in res["methods"].values():
        m.pop("seconds")
    res.pop("provenance")
    return res


def test_compare_twice_gives_the_same_results(tmp_path):
    runs = []
    for name in ("a", "b"):
        p = graphmeta("compare", "--methods", "maml,finetune,scratch", "--out",
                      str(tmp_path / name), "--seed", "3", *TINY)
        assert p.returncode == 0, p.stderr
        assert "maml" in p.stdout and "ROC-AUC" in p.stdout
        runs.append(_strip_seconds(json.loads((tmp_path / name / "results.json").read_text())))
    assert runs[0] == runs[1]


def test_train_writes_one_checkpoint(tmp_path):
    p = graphmeta("train", "--method", "maml-mlp", "--out", str(tmp_path), *TINY)
    assert p.returncode == 0, p.stderr
    assert [str(c.relative_to(tmp_path)) for c in (tmp_path / "checkpoints").rglob("*.pt")] == \
        ["checkpoints/maml-mlp/seed-0.pt"]


def test_a_plugin_method_runs_from_the_command_line(tmp_path):
    p = graphmeta("compare", "--plugin", str(EXAMPLES / "custom_method.py"), "--methods",
                  "maml,reptile", "--out", str(tmp_path), *TINY)
    assert p.returncode == 0, p.stderr
    assert list(json.loads((tmp_path / "results.json").read_text())["methods"]) == \
        ["maml", "reptile"]
    p = graphmeta("evaluate", str(tmp_path), "--plugin", str(EXAMPLES / "custom_method.py"),
                  "--device", "cpu", "--out", str(tmp_path / "again"))
    assert p.returncode == 0, p.stderr


def in_process(capsys, *args):
    """``graphmeta ARGS`` through ``main`` in this process: (exit code, stdout,
    stderr). For what the parser and the error paths print, where a new
    process would only add its seconds of importing torch and PyG."""
    try:
        code = main(list(args))
    except SystemExit as e:          # argparse's --help and usage errors
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_errors_are_clear(tmp_path, capsys):
    code, _, err = in_process(capsys, "train", "--out", str(tmp_path), "--set",
                              "maml.inner_stepz=2")
    assert code == 2 and "unknown key 'maml.inner_stepz'" in err
    code, _, err = in_process(capsys, "evaluate", str(tmp_path / "nowhere"))
    assert code == 2 and "config.yaml" in err
    code, _, err = in_process(capsys, "compare", "--plugin", "no_such_module_xyz",
                              "--out", str(tmp_path))
    assert code == 2 and "--plugin" in err and "no_such_module_xyz" in err
    assert not (tmp_path / "results.json").exists()


def test_tune_refuses_a_run_directory_or_a_file_before_tuning(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("seed: 0\n")       # a compare/train run's directory
    (run / "tuning.json").write_text("{}")
    code, out, err = in_process(capsys, "tune", "--methods", "popularity", "--out", str(run))
    assert code == 2 and "holds a compare or train run" in err and "tune another --out" in err
    assert (run / "tuning.json").read_text() == "{}"   # untouched
    assert "UserInterestTasks" not in out                # refused before the tasks were built
    (tmp_path / "afile").write_text("")
    code, _, err = in_process(capsys, "tune", "--methods", "popularity", "--out",
                              str(tmp_path / "afile"))
    assert code == 2 and "is a file, not a directory" in err
    code, _, err = in_process(capsys, "tune", "--methods", "popularity")
    assert code == 2 and "--out is required" in err and "--resume" not in err


def test_ctrl_c_in_evaluate_is_a_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    from graphmeta import runner

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner, "evaluate_run", interrupted)
    code, _, err = in_process(capsys, "evaluate", str(tmp_path))
    assert code == 130 and "interrupted (SIGINT); graphmeta evaluate" in err
    assert "Traceback" not in err


def test_resume_refuses_flags_it_would_ignore(tmp_path, capsys):
    code, _, err = in_process(capsys, "compare", "--resume", str(tmp_path), "--tensorboard")
    assert code == 2 and "own config.yaml; drop --tensorboard" in err
    code, _, err = in_process(capsys, "demo", "--resume", str(tmp_path), "--out",
                              str(tmp_path / "elsewhere"))
    assert code == 2 and "drop --out" in err
    code, _, err = in_process(capsys, "demo", "--resume", str(tmp_path / "none"))
    assert code == 2 and "drop" not in err and "no run to resume" in err


def test_every_subcommand_has_help_with_an_example(capsys):
    for command in ("demo", "compare", "train", "tune", "evaluate", "report", "datasets",
                    "bench"):
        code, out, _ = in_process(capsys, command, "--help")
        assert code == 0 and "example:\n  " in out, command
    assert "--skip-memory" in in_process(capsys, "bench", "--help")[1]
    code, out, _ = in_process(capsys, "compare", "--help")
    assert "itemknn" in out and "metasgd" in out               # the registered methods
    code, out, _ = in_process(capsys, "--help")
    assert code == 0 and "Over 300 lines" not in out           # the module's notes stay in it


def test_version_and_provenance_from_the_console_process(tmp_path):
    p = graphmeta("--version")
    assert p.returncode == 0 and p.stdout.startswith("graphmeta ")
    p = graphmeta("train", "--method", "itemknn", "--out", str(tmp_path), *TINY)
    assert p.returncode == 0, p.stderr
    prov = json.loads((tmp_path / "results.json").read_text())["provenance"]
    assert prov["command"].startswith("graphmeta train --method itemknn")
    assert {"torch", "torch_geometric", "graphmeta", "timestamp", "numpy", "scipy",
            "scikit-learn", "networkx"} <= set(prov)
    # the architecture and the instruction set torch's kernels use on this machine
    assert prov["cpu"] == f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}"
    assert prov["device"] == "cpu" and "gpu" not in prov       # the device it ran on


def test_logs_are_plain_lines_when_not_a_terminal_and_tensorboard_events(tmp_path):
    args = [a for a in TINY if a != "--quiet"]
    p = graphmeta("train", "--method", "maml", "--out", str(tmp_path), "--tensorboard", *args)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if "iteration" in ln]
    assert len(lines) == 2 and "maml seed 0: iteration 2/4" in lines[0]
    assert "\r" not in p.stderr                                     # no progress bar redraws
    assert list((tmp_path / "tensorboard" / "maml" / "seed-0").glob("events.out.tfevents.*"))
    q = graphmeta("evaluate", str(tmp_path), "--quiet", "--threads", "1", "--device", "cpu")
    assert q.returncode == 0 and q.stdout == ""


def test_no_command_prints_a_dependency_warning_the_user_cannot_act_on(tmp_path):
    """Even with every warning shown (-W default), a run prints none from
    torch or PyG; graphmeta's own warnings are lines that say what to change."""
    p = subprocess.run([sys.executable, "-W", "default", "-m", "graphmeta", "compare",
                        "--methods", "maml,popularity", "--out", str(tmp_path / "run"), *TINY],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "site-packages" not in p.stderr and "Warning:" not in p.stderr, p.stderr
