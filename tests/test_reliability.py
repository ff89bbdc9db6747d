"""Every bad input gets one clear line from the command line and exit code 2,
with no traceback and nothing half-written. docs/RELIABILITY.md is this
table, printed by ``python -m tests.test_reliability``."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from graphmeta.cli import main

TINY = ["--set", "synthetic.n_users=120", "--set", "synthetic.n_blocks=4",
        "--set", "*.iterations=2", "--set", "*.eval_every=2", "--set", "tasks.n_val_tasks=4",
        "--set", "tasks.n_test_tasks=8", "--set", "*.hidden=8", "--set", "eval.seeds=1",
        "--quiet", "--device", "cpu"]


def _folder(tmp, edges="source,target\n0,1\n1,2\n2,0\n", interests=None, features=None):
    d = tmp / "graph"
    d.mkdir(exist_ok=True)
    (d / "edges.csv").write_text(edges)
    (d / "interests.json").write_text(interests if interests is not None else json.dumps(
        {str(u): ["a", "b", "c"] for u in range(3)}))
    if features is not None:
        np.save(d / "features.npy", features)
    return d


def _compare(*args):
    return lambda tmp: ["compare", "--out", str(tmp / "run"), *TINY, *args]


def _on_folder(**kw):
    return lambda tmp: ["compare", "--dataset", str(_folder(tmp, **kw)), "--out", str(tmp / "run"),
                        *TINY]


def _existing_run(tmp):
    (tmp / "run").mkdir()
    (tmp / "run" / "config.yaml").write_text("seed: 0\n")
    return ["compare", "--out", str(tmp / "run"), *TINY]


def _out_is_file(tmp):
    (tmp / "file").write_text("x")
    return ["compare", "--out", str(tmp / "file"), *TINY]


def _bad_checkpoint(tmp):
    run = tmp / "run"
    assert main(["train", "--method", "maml", "--out", str(run), *TINY]) == 0
    (run / "checkpoints" / "maml" / "seed-0.pt").write_bytes(b"not a checkpoint")
    return ["evaluate", str(run), "--device", "cpu"]


def _other_model(tmp):
    run = tmp / "run"
    assert main(["train", "--method", "maml", "--out", str(run), *TINY]) == 0
    cfg = (run / "config.yaml").read_text().replace("hidden: 8", "hidden: 16")
    (run / "config.yaml").write_text(cfg)
    return ["evaluate", str(run), "--device", "cpu"]


CASES = [
    ("unknown config key", _compare("--set", "maml.inner_stepz=3"),
     "unknown key 'maml.inner_stepz'; did you mean 'maml.inner_steps'?"),
    ("unknown key for every method", _compare("--set", "*.inner_stepz=3"),
     "unknown key '*.inner_stepz': no method has a setting 'inner_stepz'; did you mean "
     "'*.inner_steps'?"),
    ("a section of graphmeta before 0.3", _compare("--set", "meta.inner_steps=3"),
     "the 'meta' section is gone: each method has its own settings"),
    ("value of the wrong type", _compare("--set", "maml.iterations=many"),
     "'maml.iterations' expects an int"),
    ("negative rate", _compare("--set", "maml.inner_lr=-5"), "'maml.inner_lr' must be >= 0"),
    ("zero steps where steps are required", _compare("--set", "maml.eval_every=0"),
     "'maml.eval_every' must be >= 1"),
    ("max_nodes below 2", _compare("--set", "tasks.max_nodes=1"), "'tasks.max_nodes' must be >= 2"),
    ("a choice that does not exist", _compare("--set", "run.prefetch=process"),
     "'run.prefetch' must be one of auto, thread, off"),
    ("unknown method", _compare("--methods", "maml,reptil"), "unknown method 'reptil'"),
    ("method that does not fit the task kind", _compare("--task", "few-shot", "--methods", "ease"),
     "'ease' does not run on few-shot tasks"),
    ("config file that is not YAML", lambda tmp: (tmp / "c.yaml").write_text("a: [") and
     ["compare", "--config", str(tmp / "c.yaml"), "--out", str(tmp / "run")], "not valid YAML"),
    ("missing dataset folder or name", _compare("--dataset", "no-such-graph"),
     "unknown dataset 'no-such-graph'"),
    ("empty edge list", _on_folder(edges="source,target\n"), "edges.csv: no edges"),
    ("self-loop-only edge list", _on_folder(edges="source,target\n1,1\n2,2\n"),
     "no edges (only 2 self loops)"),
    ("a row with three fields", _on_folder(edges="source,target\n0,1,5\n"),
     "edges.csv, line 2: expected two node ids"),
    ("interests file that is not JSON", _on_folder(interests='{"0": ['),
     "interests.json: not valid JSON"),
    ("interests naming unknown nodes", _on_folder(interests='{"0": ["a"], "9": ["b"]}'),
     "interests.json: 1 node(s) not in the edge list"),
    ("the same id written two ways", _on_folder(interests='{"000": ["a"], "1": ["b"]}'),
     "writes node id '0' and"),
    ("NaN or infinite features", _on_folder(features=np.array([[0.0], [np.nan], [1.0]])),
     "features.npy: row 1, column 0 is nan"),
    ("no user with more interests than K", _on_folder(), "no user has more than k_shot=5"),
    ("fewer classes than N for few-shot", _compare("--task", "few-shot", "--set", "tasks.n_way=9",
                                                   "--set", "synthetic.n_items=10"),
     "n_way=9: every class split needs"),
    ("dense batches larger than memory",
     _compare("--set", "tasks.max_nodes=1000000", "--set", "tasks.hops=50",
              "--set", "synthetic.n_users=20000", "--set", "synthetic.n_blocks=100"),
     "needs about"),
    ("--out is a file", _out_is_file, "is a file, not a directory"),
    ("--out already holds a run", _existing_run, "already holds a run; use --resume"),
    ("--resume where there is no run", lambda tmp: ["compare", "--resume", str(tmp / "none")],
     "no run to resume there"),
    ("--resume with other settings", lambda tmp: ["compare", "--resume", str(tmp),
                                                  "--set", "seed=1"],
     "--resume continues the run with its own config.yaml; drop --set"),
    ("truncated or corrupted checkpoint", _bad_checkpoint, "unreadable, truncated or corrupted"),
    ("checkpoint from another spec", _other_model, "other settings (maml.hidden: 8 -> 16)"),
    ("a plugin that does not import", _compare("--plugin", "no_such_plugin_module"),
     "--plugin: No module named 'no_such_plugin_module'"),
]


@pytest.mark.parametrize("what, argv, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_line(tmp_path, capsys, what, argv, expected):
    args = argv(tmp_path)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "Traceback" not in err and err.count("\n") == 0, err
    assert err.startswith("graphmeta")
    assert not list(tmp_path.rglob("*.tmp"))


if __name__ == "__main__":   # python -m tests.test_reliability > table.md
    import tempfile
    print("| bad input | the message (exit code 2) |\n|---|---|")
    for what, argv, _ in CASES:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            args = argv(tmp)
            import contextlib
            import io
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                main(args)
            msg = err.getvalue().strip().replace(str(tmp), "…").replace("|", "\\|")
            print(f"| {what} | `{msg}` |")
    sys.exit(0)
