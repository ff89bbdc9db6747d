"""Property-based: random, malformed edge lists and interest files. The
loaders either build a graph or raise graphmeta's own error, and never hang."""
import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphmeta import datasets
from graphmeta.errors import GraphmetaError

ids = st.one_of(st.integers(-3, 40).map(str), st.text(string.ascii_letters + "0_ -", max_size=4))
cells = st.one_of(ids, st.just(""), st.text(max_size=6))
rows = st.lists(cells, min_size=0, max_size=4)
edge_files = st.one_of(
    st.lists(rows, max_size=12).map(lambda rs: "\n".join(",".join(r) for r in rs)),
    st.lists(rows, max_size=12).map(lambda rs: "\n".join(" ".join(r) for r in rs)),
    st.text(max_size=80),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                     st.text(max_size=4)),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                               st.text(max_size=3), inner, max_size=3), max_leaves=8)
interest_files = st.one_of(
    st.dictionaries(ids, st.lists(st.one_of(ids, st.integers()), max_size=4), max_size=8)
    .map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=60))

SETTINGS = settings(max_examples=150, deadline=2000,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@SETTINGS
@given(edges=edge_files)
def test_random_edge_lists(tmp_path_factory, edges):
    path = tmp_path_factory.mktemp("e") / "edges.csv"
    path.write_text(edges, encoding="utf-8", errors="surrogatepass")
    try:
        d = datasets.from_edge_list(path)
    except GraphmetaError:
        return
    assert d.edge_index.size(1) > 0 and d.edge_index.max() < d.num_nodes


@SETTINGS
@given(edges=edge_files, interests=interest_files, isolated=st.booleans())
def test_random_interest_files(tmp_path_factory, edges, interests, isolated):
    folder = tmp_path_factory.mktemp("i")
    (folder / "edges.csv").write_text(edges, encoding="utf-8", errors="surrogatepass")
    (folder / "interests.json").write_text(interests, encoding="utf-8", errors="surrogatepass")
    try:
        d = datasets.from_edge_list(folder / "edges.csv", folder / "interests.json",
                                    allow_isolated=isolated)
    except GraphmetaError:
        return
    assert d.interests.shape == (d.num_nodes, len(d.interest_names))
