"""Every bad input gets one clear line from the command line and exit code 2,
with no traceback and nothing half-written. docs/RELIABILITY.md is this
table, printed by ``python -m tests.test_reliability``."""
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from graphmeta import datasets
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



# -- the inputs added for the reliability issue of 0.3 -------------------------
RING = "source,target\n" + "".join(f"{i},{(i + 1) % 30}\n{i},{(i + 7) % 30}\n" for i in range(30))
INTERESTS = {str(u): [f"i{(u * k) % 6}" for k in range(1, 4)] for u in range(30)}
# k_shot=1 and n_query=1, so a 30-user graph with 6 interests has tasks
SMALL = ["--methods", "maml,popularity", "--set", "tasks.k_shot=1", "--set", "tasks.n_query=1"]


def _graph(tmp, edges=RING, **files):
    """A --dataset folder: ``edges.csv`` and the given files (text or bytes;
    ``interests.json`` of :data:`INTERESTS` unless another interests file is given)."""
    d = tmp / "graph"
    d.mkdir(exist_ok=True)
    files = {k.replace("_", "."): v for k, v in files.items()}
    if not any(k.startswith("interests") for k in files):
        files["interests.json"] = json.dumps(INTERESTS)
    for name, content in {"edges.csv": edges, **files}.items():
        if isinstance(content, bytes):
            (d / name).write_bytes(content)
        else:
            (d / name).write_text(content)
    return d


def _run_on(**kw):
    return lambda tmp: ["compare", "--dataset", str(_graph(tmp, **kw)), "--out",
                        str(tmp / "run"), *TINY, *SMALL]


def _interest_rows(header=""):
    return header + "".join(f"{u},{i}\n" for u, items in INTERESTS.items() for i in items)


def _dir_in_place_of(name):
    def build(tmp):
        d = _graph(tmp)
        (d / name).unlink(missing_ok=True)
        (d / name).mkdir()
        return ["compare", "--dataset", str(d), "--out", str(tmp / "run"), *TINY, *SMALL]
    return build


def _config(text):
    def build(tmp):
        (tmp / "c.yaml").write_text(text)
        return ["compare", "--config", str(tmp / "c.yaml"), "--out", str(tmp / "run")]
    return build


class _ReadOnly:
    """``--out`` inside a folder the process may not write: chmod 555, and,
    when the tests run as root (whom permissions do not stop), run as
    ``nobody`` through the effective uid for the call."""
    def __call__(self, tmp):
        self.folder = Path(tempfile.mkdtemp(prefix="graphmeta-ro-"))
        self.folder.chmod(0o555)
        return ["compare", "--out", str(self.folder / "run"), *TINY]

    @contextlib.contextmanager
    def running(self):
        root = os.geteuid() == 0
        try:
            if root:
                os.seteuid(65534)
            yield
        finally:
            if root:
                os.seteuid(0)
            self.folder.chmod(0o755)
            shutil.rmtree(self.folder)


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
    # the cases of the reliability issue
    ("headerless interests.csv whose line 1 names no node",
     _run_on(interests_csv="u99,rock\n" + _interest_rows()),
     "interests.csv, line 1: 'u99' is neither a node of the edge list nor a header"),
    ("raw feature scale sends training to NaN",
     _run_on(features_csv="".join(f"{u},{1e4 * u},{3e4 + u}\n" for u in range(30))),
     "the likely cause: the node features reach |x| = 2.9e+05, so set tasks.scale_x=standard"),
    ("an edge list whose line 1 could be a header or an edge",
     _run_on(edges="who,whom\n" + "".join(f"u{i},u{(i + 1) % 30}\n" for i in range(30))),
     "edges.csv, line 1: 'who,whom' is not a known header and shares no node with the other "
     "rows"),
    # new inputs
    ("edge list in Latin-1, not UTF-8",
     _run_on(edges=RING.encode() + "caf\xe9,1\n".encode("latin-1")),
     "edges.csv: not UTF-8 text (invalid continuation byte at byte 337)"),
    ("interests.csv saved as UTF-16", _run_on(interests_csv=_interest_rows().encode("utf-16")),
     "interests.csv: not UTF-8 text (invalid start byte at byte 0) (UTF-16: re-save it as UTF-8)"),
    ("an empty edges.csv (0 bytes)", _run_on(edges=""), "edges.csv: no edges"),
    ("an empty interests.json (0 bytes)", _run_on(interests_json=""),
     "interests.json: not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    ("a folder where edges.csv belongs", _dir_in_place_of("edges.csv"),
     "edges.csv: is a directory, expected a file"),
    ("a folder where interests.json belongs", _dir_in_place_of("interests.json"),
     "interests.json: is a directory, expected a file"),
    ("two feature rows for one node",
     _run_on(features_csv="".join(f"{u},1,2\n" for u in range(30)) + "3,5,5\n"),
     "features.csv, line 31: node '3' already has features (line 4); one row per node"),
    ("a node with two labels", _run_on(labels_csv="node,label\n1,a\n2,a\n1,b\n"),
     "labels.csv: node '1' has two labels, 'a' and 'b'; one label per node"),
    ("a node twice in interests.json", _run_on(interests_json='{"1": ["a"], "1": ["b"]}'),
     "interests.json: key '1' appears twice; one entry per node"),
    ("NaN in features.csv",
     _run_on(features_csv="".join(f"{u},1,{'nan' if u == 3 else 2}\n" for u in range(30))),
     "features.csv: node '3': features must be finite numbers, got [1.0, nan]"),
    ("an interest with an empty name", _run_on(interests_csv=_interest_rows() + "3,\n"),
     "interests.csv, line 91: expected 'node,interest', got '3,'"),
    ("nobody has more than K interests and non-interests",
     _run_on(interests_json=json.dumps({str(u): ["a"] for u in range(30)})),
     "no user has more than k_shot=1 positive and negative interests"),
    ("a read-only output folder", _ReadOnly(), "cannot write in"),
    ("--threads 0", _compare("--threads", "0"), "--threads 0: expected at least 1"),
    ("a config file that is a list", _config("- maml\n- finetune\n"),
     "c.yaml: expected a mapping of config keys, got ['maml', 'finetune']"),
    ("a config section given a number", _config("tasks: 5\n"),
     "c.yaml: 'tasks' expects a mapping of its keys, got 5"),
    ("--set without a value", _compare("--set", "maml.iterations"),
     "--set 'maml.iterations': expected KEY=VALUE"),
    ("a config file that does not exist", lambda tmp: ["compare", "--config",
                                                        str(tmp / "nope.yaml"), "--out",
                                                        str(tmp / "run")],
     "nope.yaml: no such config file"),
]


@pytest.mark.parametrize("what, argv, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_line(tmp_path, capsys, what, argv, expected):
    args = argv(tmp_path)
    capsys.readouterr()
    with _context(argv):
        assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "Traceback" not in err and err.count("\n") == 0, err
    assert err.startswith("graphmeta")
    assert not list(tmp_path.rglob("*.tmp"))


# -- inputs that are not errors: what graphmeta does with them ----------------
def _loads(tmp, **kw):
    return datasets.from_folder(_graph(tmp, **kw))


def _cli(*args, cwd=None, env=None, limit=None):
    """``graphmeta ARGS`` as a real process: (exit code, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "graphmeta", *args], capture_output=True,
                       text=True, timeout=300, cwd=cwd, env=env, preexec_fn=limit)
    return p.returncode, p.stdout, p.stderr


def headerless_interests(tmp):
    rows = "".join(f"{u},topic{u % 7}\n" for u in range(120))
    edges = "".join(f"{u},{(u + 1) % 120}\n" for u in range(120))
    d = _loads(tmp, edges=edges, interests_csv=rows)
    assert int(d.interests.sum()) == 120 and d.interests[0].any()
    return f"all {int(d.interests.sum())} of 120 lines load (`u0,art`-style line 1 is a row)"


def headerless_features(tmp):
    d = _loads(tmp, features_csv="".join(f"{u},{u / 2},1.5\n" for u in range(30)))
    assert d.x[1].tolist() == [0.5, 1.5] and d.x[0].tolist() == [0.0, 1.5]
    return f"line 1 (`0,0.0,1.5`) is node 0's features: x[0] = {d.x[0].tolist()}"


def utf8_bom(tmp):
    bom = b"\xef\xbb\xbf" + _interest_rows("node,interest\n").encode()
    d = _loads(tmp, interests_csv=bom)
    want = sum(len(set(v)) for v in INTERESTS.values())
    assert int(d.interests.sum()) == want
    return (f"the byte-order mark is dropped; the header is read as one, all {want} distinct "
            f"pairs load")


def same_graph(name, edges):
    def check(tmp):
        (tmp / "a").mkdir()
        (tmp / "b").mkdir()
        plain, other = _loads(tmp / "a"), _loads(tmp / "b", edges=edges)
        assert torch.equal(plain.edge_index, other.edge_index)
        assert plain.num_nodes == other.num_nodes == 30
        return (f"{name}: the same graph as the plain file ({plain.num_nodes} nodes, "
                f"{plain.edge_index.size(1) // 2} undirected edges)")
    return check


def duplicate_interests(tmp):
    once = _loads(tmp, interests_csv=_interest_rows())
    (tmp / "graph" / "interests.csv").write_text(_interest_rows() + _interest_rows())
    twice = datasets.from_folder(tmp / "graph")
    assert torch.equal(once.interests, twice.interests)
    return "a pair given twice counts once (a user has an interest or not)"


def huge_ids(tmp):
    big = 10 ** 30
    edges = "".join(f"{big + i},{big + (i + 1) % 30}\n" for i in range(30)) + f"-5,{big}\n"
    d = _loads(tmp, edges=edges, interests_json=json.dumps({str(big): ["a"], "-5": ["b"]}))
    assert d.num_nodes == 31 and d.node_ids[0] == "-5" and d.node_ids[1] == str(big)
    return ("ids beyond 64 bits and negative ids load, ordered numerically; "
            "`data.node_ids` keeps them as written")


def user_with_every_interest(tmp):
    every = {**INTERESTS, "0": [f"i{k}" for k in range(6)]}
    code, out, _ = _cli(*_run_on(interests_json=json.dumps(every))(tmp))
    assert code == 0 and "users have at most k_shot=1 interests, or at most k_shot " \
        "non-interests, and are not tasks" in out
    return ("not a task (no interest left to rank below it); counted in the run's "
            "warning `N of 30 users have at most k_shot=1 interests, or at most k_shot "
            "non-interests, and are not tasks`")


def interest_of_one_user(tmp):
    d = _loads(tmp, interests_json=json.dumps({**INTERESTS, "7": INTERESTS["7"] + ["rare"]}))
    col = d.interest_names.index("rare")
    assert int(d.interests[:, col].sum()) == 1
    return ("an interest exists only through its holders, so one nobody holds cannot be "
            "written; one held by a single user is a catalogue column like any other")


def too_few_test_users(tmp):
    code, out, _ = _cli(*_run_on()(tmp), "--set", "tasks.split=[0.8,0.13,0.07]")
    # the table's rows (`maml *   0.750 ±   -  ...`), not the headline line after them
    rows = [ln for ln in out.splitlines()
            if re.match(r"(maml|popularity) +\*? +\d", ln)]
    assert code == 0 and len(rows) == 2 and all("±   -  " in r for r in rows), out
    headline = [ln for ln in out.splitlines() if ln.startswith("maml minus popularity")]
    assert headline and "± -;" in headline[0] and "±  " not in headline[0], out
    assert "test: 2 tasks (the split has 2 users); fewer than 10 give no confidence " \
        "interval" in out
    return ("no interval: the table prints `0.812 ±   -  ` (the mean, no ±) and the "
            "warning `test: 2 tasks (the split has 2 users); fewer than 10 give no "
            "confidence interval`").replace("0.812", rows[0].split("±")[0].split()[-1])


def fewer_users_than_asked(tmp):
    code, _, _ = _cli("compare", "--out", str(tmp / "run"), *TINY, "--methods", "popularity",
                        "--set", "tasks.n_test_tasks=500")
    res = json.loads((tmp / "run" / "results.json").read_text())
    assert code == 0 and res["n_test_tasks"] == 24
    assert not [w for w in res["warnings"] if w.startswith("test:") or "asked for" in w]
    return (f"each of the split's {res['n_test_tasks']} users is scored once; the table "
            f"header says `{res['n_test_tasks']} test tasks`, and nothing warns (graphmeta "
            f"0.3.0 warned on every `graphmeta demo`)")


def partial_split(tmp):
    code, _, _ = _cli("compare", "--out", str(tmp / "run"), *TINY, "--methods", "popularity",
                        "--set", "tasks.split=[0.5,0.1,0.1]")
    res = json.loads((tmp / "run" / "results.json").read_text())
    assert code == 0 and res["n_test_tasks"] == 8
    return ("allowed: the fractions may sum to less than 1 and the rest of the users are "
            "left out (documented at `tasks.split`, a way to subsample)")


def unscaled_features(tmp):
    feats = "".join(f"{u},{1e4 * u},{3e4 + u}\n" for u in range(30))
    args = _run_on(features_csv=feats)(tmp)
    code, out, _ = _cli(*args, "--methods", "popularity")      # no training: the checks alone
    assert "WARNING: node features reach |x| = 2.9e+05 (column 0); graphmeta uses them as " \
        "given" in out and "set tasks.scale_x=standard" in out, out
    code, out, _ = _cli(*args, "--set", "tasks.scale_x=standard", "--force")
    assert code == 0 and "node features reach" not in out, out
    return ("a warning before training (`node features reach |x| = 2.9e+05 (column 0); "
            "graphmeta uses them as given ... set tasks.scale_x=standard`); with "
            "`tasks.scale_x=standard` the same files train")


def full_disk(tmp):
    def limit():      # writes past 4 KiB fail with EFBIG, as on a full disk (ENOSPC)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    code, _, err = _cli("compare", "--out", str(tmp / "run"), *TINY, "--methods", "maml",
                        limit=limit)
    err = err.strip()
    assert code == 2 and err.count("\n") == 0 and "could not write it" in err, err
    assert not list(tmp.rglob("*.tmp")) and not (tmp / "run" / ".lock").exists()
    return (f"exit 2, `{err.replace(str(tmp), '…')}`; no temp file and no lock left "
            "behind (simulated with a 4 KiB file-size limit)")


def report_elsewhere(tmp):
    (tmp / "work").mkdir()
    _graph(tmp / "work")
    code, _, err = _cli("compare", "--dataset", "graph", "--out", str(tmp / "run"), *TINY,
                        *SMALL, cwd=tmp / "work")
    assert code == 0, err
    code, out, err = _cli("report", str(tmp / "run"), "--device", "cpu", cwd=tmp)
    assert code == 0 and "wrote" in out, err
    return ("`graphmeta report` from another directory (and without `GRAPHMETA_DATA`) "
            "loads the data: `config.yaml` records the folder's absolute path, or the "
            "mirror a registered dataset was read from")


BEHAVIOURS = [
    ("headerless interests.csv", headerless_interests),
    ("headerless features.csv", headerless_features),
    ("a node file saved with a UTF-8 byte-order mark", utf8_bom),
    ("Windows line endings (CRLF)", same_graph("CRLF", RING.replace("\n", "\r\n"))),
    ("tab-separated edge list", same_graph("tabs", RING.split("\n", 1)[1].replace(",", "\t"))),
    ("every edge written twice", same_graph("duplicates", RING + RING.split("\n", 1)[1])),
    ("self loops among the edges", same_graph("self loops dropped",
                                              RING + "".join(f"{i},{i}\n" for i in range(30)))),
    ("an interest pair written twice", duplicate_interests),
    ("huge and negative ids", huge_ids),
    ("a user with every interest", user_with_every_interest),
    ("an interest nobody (else) has", interest_of_one_user),
    ("2 test users", too_few_test_users),
    ("fewer test users than tasks.n_test_tasks", fewer_users_than_asked),
    ("split fractions summing to less than 1", partial_split),
    ("raw, unscaled node features", unscaled_features),
    ("a full disk", full_disk),
    ("report without GRAPHMETA_DATA, from elsewhere", report_elsewhere),
]


@pytest.mark.parametrize("what, check", BEHAVIOURS, ids=[b[0] for b in BEHAVIOURS])
def test_what_graphmeta_does_with_inputs_that_are_not_errors(tmp_path, what, check):
    assert check(tmp_path)


def _context(build):
    return build.running() if hasattr(build, "running") else contextlib.nullcontext()


if __name__ == "__main__":   # python -m tests.test_reliability > table.md
    print("| bad input | the message (exit code 2) |\n|---|---|")
    for what, argv, _ in CASES:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            args = argv(tmp)
            import io
            err = io.StringIO()
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), \
                    _context(argv):
                main(args)
            msg = err.getvalue().strip().replace(str(tmp), "…")
            msg = msg.replace(str(getattr(argv, "folder", tmp)), "…").replace("|", "\\|")
            print(f"| {what} | `{msg}` |")
    print("\n| input | what graphmeta does |\n|---|---|")
    for what, check in BEHAVIOURS:
        with tempfile.TemporaryDirectory() as d:
            print(f"| {what} | {check(Path(d)).replace('|', chr(92) + '|')} |")
    sys.exit(0)
