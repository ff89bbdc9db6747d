import json
import subprocess
import sys

import networkx as nx
import numpy as np
import pytest
import torch

from graphmeta import datasets


def _files(tmp_path):
    (tmp_path / "edges.csv").write_text("src,dst\nalice,bob\nbob,carol\ncarol,bob\ndave,dave\n")
    (tmp_path / "interests.json").write_text(json.dumps(
        {"alice": ["jazz", "rock"], "bob": ["rock"], "carol": [], "erin": ["jazz"]}))
    return tmp_path


def test_edge_list_with_string_ids(tmp_path):
    d = datasets.from_edge_list(_files(tmp_path) / "edges.csv", tmp_path / "interests.json",
                                name="toy", allow_isolated=True)
    assert d.node_ids == ["alice", "bob", "carol", "dave", "erin"]  # erin: interests only
    assert d.num_nodes == 5 and d.name == "toy"
    assert d.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]  # undirected, no self loop
    assert d.interest_names == ["jazz", "rock"]
    assert d.interests.tolist() == [[True, True], [False, True], [False, False],
                                    [False, False], [True, False]]


def test_whitespace_edges_csv_interests_features_labels(tmp_path):
    (tmp_path / "e.txt").write_text("# comment\n10 2\n2 3\n")
    (tmp_path / "i.csv").write_text("node,interest\n10,a\n2,b\n2,a\n")
    (tmp_path / "f.csv").write_text("node,f0,f1\n2,1.5,2\n3,0,1\n")
    (tmp_path / "l.csv").write_text("node,label\n10,x\n3,y\n")
    d = datasets.from_edge_list(tmp_path / "e.txt", tmp_path / "i.csv", tmp_path / "f.csv",
                                tmp_path / "l.csv")
    assert d.node_ids == ["2", "3", "10"]  # integer ids ordered numerically
    assert d.interests.tolist() == [[True, True], [False, False], [True, False]]
    assert d.x.tolist() == [[1.5, 2.0], [0.0, 1.0], [0.0, 0.0]]
    assert d.y.tolist() == [-1, 1, 0] and d.label_names == ["x", "y"]


def test_npy_and_json_features(tmp_path):
    (tmp_path / "e.csv").write_text("a,b\n0,1\n1,2\n")
    np.save(tmp_path / "f.npy", np.arange(6, dtype=np.float32).reshape(3, 2))
    d = datasets.from_edge_list(tmp_path / "e.csv", features=tmp_path / "f.npy")
    assert d.x.tolist() == [[0, 1], [2, 3], [4, 5]]
    (tmp_path / "f.json").write_text('{"0": [1], "2": [3]}')
    d = datasets.from_edge_list(tmp_path / "e.csv", features=tmp_path / "f.json")
    assert d.x.tolist() == [[1], [0], [3]]


@pytest.mark.parametrize("name, text, match", [
    ("e.csv", "a,b\n0,1\n2,\n", r"e.csv, line 3: expected two node ids \('source,target'\)"),
    ("e.txt", "0 1\n7\n", r"e.txt, line 2: expected two node ids"),
    ("e.csv", "a,b\n0,1,2\n", r"e.csv, line 2: expected two node ids .* got '0,1,2'"),
    ("e.csv", "source,target\n", r"e.csv: no edges; graphmeta learns from ego-subgraphs"),
    ("e.csv", "", r"e.csv: no edges"),
    ("e.csv", "a,b\n3,3\n4,4\n", r"e.csv: no edges \(only 2 self loops\)"),
    # a stray quote would swallow every later row into one id
    ("e.csv", "a,b\n0,1\n3,\"4\n5,6\n7,8\n", r"e.csv, line 3: a quote .* not closed on that line "
                                              r"\(it would run on to line 5\)"),
])
def test_bad_edges_name_file_and_line(tmp_path, name, text, match):
    (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=match):
        datasets.from_edge_list(tmp_path / name)


def test_bad_side_files(tmp_path):
    (tmp_path / "e.csv").write_text("a,b\n0,1\n")
    (tmp_path / "i.json").write_text('{"0": "rock"}')
    with pytest.raises(ValueError, match=r"i.json: node '0': expected a list"):
        datasets.from_edge_list(tmp_path / "e.csv", interests=tmp_path / "i.json")
    (tmp_path / "f.csv").write_text("node,f0\n0,abc\n")
    with pytest.raises(ValueError, match=r"f.csv, line 2: expected 'node,number"):
        datasets.from_edge_list(tmp_path / "e.csv", features=tmp_path / "f.csv")
    with pytest.raises(FileNotFoundError, match="no edges.csv"):
        datasets.from_folder(tmp_path / "nowhere")


def test_from_networkx():
    G = nx.Graph()
    G.add_node("u", interests=["a"], feat=[1.0, 0.0], team="red")
    G.add_node("v", interests=["b", "a"], feat=[0.0, 1.0], team="blue")
    G.add_edge("u", "v")
    d = datasets.from_networkx(G, "interests", "feat", "team")
    assert d.node_ids == ["u", "v"] and d.edge_index.tolist() == [[0, 1], [1, 0]]
    assert d.interests.tolist() == [[True, False], [True, True]]
    assert d.x.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert d.y.tolist() == [1, 0] and d.label_names == ["blue", "red"]
    with pytest.raises(ValueError, match="has no attribute 'age'"):
        datasets.from_networkx(G, features_attr="age")


@pytest.fixture
def toy_registered(tmp_path):
    @datasets.register("toy-test-graph", config={"tasks.k_shot": 1})
    def _toy(root):
        return datasets.from_edge_list(_files(tmp_path) / "edges.csv", tmp_path / "interests.json",
                                       allow_isolated=True)
    yield _toy
    datasets.unregister("toy-test-graph")
    assert "toy-test-graph" not in datasets.names()


def test_register_a_loader(tmp_path, toy_registered):
    assert "toy-test-graph" in datasets.names()
    assert datasets.load("toy-test-graph", root=tmp_path).num_nodes == 5
    assert datasets.recommended("toy-test-graph") == {"tasks.k_shot": 1}
    datasets.register("toy-test-graph", config={"tasks.k_shot": 1})(toy_registered)  # re-run cell
    with pytest.raises(ValueError, match="already registered"):
        datasets.register("toy-test-graph")(lambda root: None)


def test_a_registered_name_wins_over_a_folder_of_that_name(tmp_path, toy_registered,
                                                           monkeypatch):
    from graphmeta.build import build_data
    from graphmeta.config import load_config
    (tmp_path / "toy-test-graph").mkdir()          # e.g. an old --out of that name
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, ["dataset.name=toy-test-graph", f"dataset.root={tmp_path}"])
    data = build_data(cfg.section("dataset"), cfg.section("synthetic"), cfg.seed)
    assert data.num_nodes == 5
    from graphmeta.errors import MissingFileError
    with pytest.raises(MissingFileError, match="no edges.csv"):    # ./NAME is the folder
        cfg = load_config(None, ["dataset.name=./toy-test-graph"])
        build_data(cfg.section("dataset"), cfg.section("synthetic"), cfg.seed)


def test_cli_dataset_folder_needs_no_code(tmp_path):
    folder = tmp_path / "mygraph"
    folder.mkdir()
    rng = np.random.default_rng(0)
    edges = ["src,dst"] + [f"u{a},u{b}" for a, b in rng.integers(0, 150, (600, 2)) if a != b]
    (folder / "edges.csv").write_text("\n".join(edges) + "\n")
    items = [f"i{k}" for k in range(20)]
    (folder / "interests.json").write_text(json.dumps(
        {f"u{u}": list(rng.choice(items, 8, replace=False)) for u in range(150)}))
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "graphmeta.cli", "compare", "--dataset", str(folder),
                        "--methods", "maml,itemknn", "--set", "tasks.k_shot=2",
                        "--set", "*.iterations=2", "--set", "*.eval_every=2",
                        "--set", "*.meta_batch=4", "--set", "tasks.n_val_tasks=4",
                        "--set", "tasks.n_test_tasks=20", "--set", "*.hidden=8",
                        "--set", "eval.seeds=1",
                        "--out", str(out), "--quiet", "--threads", "1", "--device", "cpu"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    res = json.loads((out / "results.json").read_text())
    assert set(res["methods"]) == {"maml", "itemknn"} and res["n_test_tasks"] == 20
    assert torch.load(out / "checkpoints" / "maml" / "seed-0.pt", weights_only=True)


def test_a_headerless_csv_keeps_its_first_edge(tmp_path):
    (tmp_path / "e.csv").write_text("1,2\n2,3\n3,4\n")
    assert datasets.from_edge_list(tmp_path / "e.csv").num_nodes == 4
    (tmp_path / "e.csv").write_text("user,friend\n1,2\n2,3\n")
    assert datasets.from_edge_list(tmp_path / "e.csv").num_nodes == 3
    (tmp_path / "e.csv").write_text("u0,u1\nu1,u2\nu2,u3\n")     # string ids, line 1 an edge
    assert datasets.from_edge_list(tmp_path / "e.csv").node_ids == ["u0", "u1", "u2", "u3"]
    (tmp_path / "e.csv").write_text("who,whom\nu1,u2\nu2,u3\n")   # an unknown header, or an edge?
    with pytest.raises(datasets.DataError, match="e.csv, line 1: 'who,whom' is not a known "
                                                 "header and shares no node"):
        datasets.from_edge_list(tmp_path / "e.csv")


@pytest.mark.parametrize("kind", ["interests", "features", "labels"])
def test_a_headerless_node_file_loads_every_row_or_is_refused(tmp_path, kind):
    """One header rule for every node file: line 1 is data when it names a
    node of the edge list, a header when its first field is a column name,
    and refused otherwise; never a row dropped for being first."""
    (tmp_path / "e.csv").write_text("".join(f"u{i},u{i + 1}\n" for i in range(120)))
    value = {"interests": lambda i: f"topic{i % 7}", "features": lambda i: f"{i / 2},1.5",
             "labels": lambda i: f"c{i % 3}"}[kind]
    rows = "".join(f"u{i},{value(i)}\n" for i in range(120))
    f = tmp_path / f"{kind}.csv"
    for text, n in ((rows, 120), ("node,what\n" + rows, 120), ("ID,what\n" + rows, 120)):
        f.write_text(text)
        d = datasets.from_edge_list(tmp_path / "e.csv", **{kind: f})
        first = d.node_ids.index("u0")
        if kind == "interests":
            assert int(d.interests.sum()) == n and d.interests[first].any()
        elif kind == "features":
            assert d.x[first].tolist() == [0.0, 1.5] and d.x[d.node_ids.index("u3")].tolist() \
                == [1.5, 1.5]
        else:
            assert int((d.y >= 0).sum()) == n and d.y[first] >= 0
    f.write_text("who,what\n" + rows)
    with pytest.raises(datasets.DataError, match=f"{kind}.csv, line 1: 'who' is neither a node "
                                                 f"of the edge list nor a header"):
        datasets.from_edge_list(tmp_path / "e.csv", **{kind: f})


def test_the_same_id_written_two_ways_is_refused(tmp_path):
    (tmp_path / "e.csv").write_text("a,b\n7,8\n8,9\n")
    (tmp_path / "i.json").write_text('{"007": ["x"], "8": ["y"]}')
    with pytest.raises(datasets.DataError, match=r"writes node id '7' and .*i.json writes '007'"):
        datasets.from_edge_list(tmp_path / "e.csv", tmp_path / "i.json")


def test_unknown_nodes_nan_features_and_bad_interest_files(tmp_path):
    (tmp_path / "e.csv").write_text("a,b\n0,1\n1,2\n")
    (tmp_path / "i.json").write_text('{"0": ["x"], "5": ["y"]}')
    with pytest.raises(datasets.DataError, match=r"i.json: 1 node\(s\) not in the edge list"):
        datasets.from_edge_list(tmp_path / "e.csv", tmp_path / "i.json")
    (tmp_path / "f.json").write_text('{"0": [1.0], "1": [NaN], "2": [0]}')
    with pytest.raises(datasets.DataError, match=r"f.json: node '1': features must be finite"):
        datasets.from_edge_list(tmp_path / "e.csv", features=tmp_path / "f.json")
    np.save(tmp_path / "f.npy", np.array([[0.0], [np.inf], [1.0]]))
    with pytest.raises(datasets.DataError, match=r"f.npy: row 1, column 0 is inf"):
        datasets.from_edge_list(tmp_path / "e.csv", features=tmp_path / "f.npy")
    (tmp_path / "i.json").write_text('{"0": ["x"')
    with pytest.raises(datasets.DataError, match=r"i.json: not valid JSON"):
        datasets.from_edge_list(tmp_path / "e.csv", tmp_path / "i.json")
    (tmp_path / "i.json").write_text('[1, 2]')
    with pytest.raises(datasets.DataError, match=r"i.json: expected a JSON object"):
        datasets.from_edge_list(tmp_path / "e.csv", tmp_path / "i.json")
    (tmp_path / "i.csv").write_text("node,interest\n0,x,extra\n")
    with pytest.raises(datasets.DataError, match=r"i.csv, line 2: expected 'node,interest'"):
        datasets.from_edge_list(tmp_path / "e.csv", tmp_path / "i.csv")
    with pytest.raises(datasets.MissingFileError, match=r"nope.json: no such file"):
        datasets.from_edge_list(tmp_path / "e.csv", tmp_path / "nope.json")


def test_networkx_interests_are_items_not_letters():
    G = nx.path_graph(3)
    for u in G.nodes:
        G.nodes[u]["interests"] = "abc" if u == 0 else ["abc", "d"]
    d = datasets.from_networkx(G)
    assert d.interest_names == ["abc", "d"] and d.interests[0].tolist() == [True, False]
    with pytest.raises(datasets.DataError, match="no node has the attribute 'likes'"):
        datasets.from_networkx(nx.path_graph(3), interests_attr="likes")
