
import pytest
import torch

from graphmeta import datasets

from tests.helpers import SHARED
needs_mirror = pytest.mark.skipif(not (SHARED / "deezer_gemsec").exists(),
                                  reason="shared dataset mirror not present")


@needs_mirror
def test_deezer_hu_counts_match_source_md():
    d = datasets.load("deezer-hu", root=SHARED)
    assert d.num_nodes == 47_538
    assert d.edge_index.size(1) == 2 * 222_887
    assert len(d.interest_names) == 84 and d.interests.shape == (47_538, 84)
    assert int(d.interests.sum()) == 284_901
    per_user = d.interests.sum(1)
    assert per_user.min() == 1 and per_user.max() == 42
    s, t = d.edge_index
    assert not (s == t).any()
    assert d.interest_names == sorted(d.interest_names)


@pytest.mark.skipif(not (SHARED / "blogcatalog").exists(), reason="mirror not present")
def test_blogcatalog_counts_match_source_md():
    d = datasets.load("blogcatalog", root=SHARED)
    assert d.num_nodes == 10_312
    assert d.edge_index.size(1) == 2 * 333_983
    assert d.interests.shape == (10_312, 39) and int(d.interests.sum()) == 14_476
    assert d.interests.sum(1).min() == 1
    s, t = d.edge_index
    assert not (s == t).any()


def test_damaged_mat_file_is_named(tmp_path):
    bad = tmp_path / "blogcatalog" / "blogcatalog.mat"
    bad.parent.mkdir()
    bad.write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(ValueError, match="blogcatalog.mat: not a readable MAT file"):
        datasets.load("blogcatalog", root=tmp_path)


def test_bad_edge_file_names_the_line(tmp_path):
    (tmp_path / "XX_edges.csv").write_text("node_1,node_2\n0,1\n1,two\n")
    (tmp_path / "XX_genres.json").write_text('{"0": ["Pop"], "1": ["Rock"]}')
    with pytest.raises(ValueError, match=r"XX_edges.csv, line 3: expected two integer"):
        datasets.read_gemsec(tmp_path, "XX")
    (tmp_path / "XX_edges.csv").write_text("a,b\n0,1\n")
    with pytest.raises(ValueError, match=r"line 1: expected header 'node_1,node_2'"):
        datasets.read_gemsec(tmp_path, "XX")


def test_small_gemsec_file(tmp_path):
    (tmp_path / "XX_edges.csv").write_text("node_1,node_2\n0,1\n1,2\n2,1\n")
    (tmp_path / "XX_genres.json").write_text('{"0": ["Pop"], "1": ["Rock", "Pop"], "2": []}')
    d = datasets.read_gemsec(tmp_path, "XX")
    assert d.num_nodes == 3 and d.interest_names == ["Pop", "Rock"]
    assert d.edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert d.interests.tolist() == [[True, False], [True, True], [False, False]]


def test_unknown_dataset_and_missing_mirror(monkeypatch, tmp_path):
    with pytest.raises(KeyError, match="unknown dataset 'nope'"):
        datasets.load("nope")
    monkeypatch.delenv("GRAPHMETA_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="GRAPHMETA_DATA unset"):
        datasets.load("deezer-hu", download=False, cache=tmp_path)
    datasets.register("no-card-test")(lambda root: None)
    try:
        with pytest.raises(FileNotFoundError, match="GRAPHMETA_DATA"):  # no card: no download
            datasets.load("no-card-test")
    finally:
        datasets.unregister("no-card-test")


MUSAE_COUNTS = {  # from each SOURCE.md: nodes, undirected edges, classes
    "facebook-page-page": (22_470, 171_002, 4),
    "lastfm-asia": (7_624, 27_806, 18),
    "deezer-europe": (28_281, 92_752, 2),
    "github": (37_700, 289_003, 2),
}


@pytest.mark.parametrize("name", sorted(MUSAE_COUNTS))
def test_musae_counts_match_source_md(name):
    folder = SHARED / name.replace("-", "_")
    if not folder.exists():
        pytest.skip("mirror not present")
    d = datasets.load(name, root=SHARED)
    nodes, edges, classes = MUSAE_COUNTS[name]
    s, t = d.edge_index
    loops = int((s == t).sum())
    assert loops == (179 if name == "facebook-page-page" else 0)  # kept from the source
    assert d.num_nodes == nodes and (d.edge_index.size(1) - loops) // 2 + loops == edges
    assert len(d.label_names) == classes and (d.y >= 0).all()
    if name == "facebook-page-page":
        assert d.x.shape == (22_470, 4_714)
        assert torch.bincount(d.y).tolist() == [6_495, 6_880, 5_768, 3_327]  # sorted names
        assert d.label_names == ["company", "government", "politician", "tvshow"]
    if name == "github":
        assert abs(d.y.float().mean().item() - 0.258) < 0.001


def test_twitch_format_on_written_files(tmp_path):
    folder = tmp_path / "twitch" / "ENGB"
    folder.mkdir(parents=True)
    (folder / "musae_ENGB_edges.csv").write_text("from,to\n0,1\n1,2\n2,0\n2,0\n")
    (folder / "musae_ENGB_target.csv").write_text(
        "id,days,mature,views,partner,new_id\n"
        "900,10,True,5,False,2\n901,20,False,7,False,0\n902,3,True,1,True,1\n")
    (folder / "musae_ENGB_features.json").write_text('{"0": [5, 1], "1": [], "2": [1]}')
    d = datasets.load("twitch-engb", root=tmp_path)
    assert d.num_nodes == 3 and d.edge_index.size(1) == 6
    assert d.label_names == ["False", "True"] and d.y.tolist() == [0, 1, 1]
    assert d.interests.shape == (3, 2) and d.interest_names == ["1", "5"]   # ids in use
    assert d.interests[0].tolist() == [True, True] and d.interests[2].tolist() == [True, False]
    (folder / "musae_ENGB_target.csv").write_text("id,mature\n0,True\n")
    with pytest.raises(ValueError, match=r"musae_ENGB_target.csv, line 1: no column 'new_id'"):
        datasets.load("twitch-engb", root=tmp_path)


@pytest.mark.skipif(not (SHARED / "email_eu_core").exists(), reason="mirror not present")
def test_email_eu_core_counts_match_source_md():
    d = datasets.load("email-eu-core", root=SHARED)
    assert d.num_nodes == 1_005 and len(d.label_names) == 42
    assert d.y.min() == 0 and int(d.y.max()) == 41
    raw = datasets.formats.read_edge_csv(SHARED / "email_eu_core" / "raw" / "email-Eu-core.txt",
                                         delimiter=" ")
    assert raw.size(1) == 25_571                      # directed rows, self loops included
    s, t = d.edge_index
    loops = int((raw[0] == raw[1]).sum())
    assert loops > 0 and int((s == t).sum()) == loops  # the source's self loops are kept
    # Undirected and deduplicated: every directed pair once each way.
    pairs = {(a, b) for a, b in raw.T.tolist()} | {(b, a) for a, b in raw.T.tolist()}
    assert d.edge_index.size(1) == len(pairs)


@pytest.mark.skipif(not (SHARED / "ego_facebook").exists(), reason="mirror not present")
def test_ego_facebook_counts_match_source_md():
    d = datasets.load("ego-facebook", root=SHARED)
    assert d.num_nodes == 4_039 and d.edge_index.size(1) == 2 * 88_234
    assert d.interests.size(1) == 193 and len(d.interest_names) == 193
    assert d.x.size(1) == 1_406 and len(d.feature_names) == 1_406
    # The joined ego networks are SNAP's facebook_combined graph, edge for edge.
    combined = datasets.formats.read_edge_csv(
        SHARED / "ego_facebook" / "extra" / "facebook_combined.txt", delimiter=" ")
    assert torch.equal(datasets.formats.undirected(combined, 4_039), d.edge_index)
    assert d.interest_names[0] == "0/circle0" and set(d.x.unique().tolist()) == {0.0, 1.0}


def test_snap_ego_bad_feat_width_is_named(tmp_path):
    (tmp_path / "5.featnames").write_text("0 a;x\n1 b;y\n")
    (tmp_path / "5.feat").write_text("1 0 1\n2 1\n")
    (tmp_path / "5.egofeat").write_text("1 1\n")
    (tmp_path / "5.edges").write_text("1 2\n")
    (tmp_path / "5.circles").write_text("c0\t1\t2\n")
    with pytest.raises(ValueError, match=r"5.feat: expected whitespace-separated"):
        datasets.read_snap_ego(tmp_path, egos=("5",))
    (tmp_path / "5.feat").write_text("1 0 1\n2 1 1\n")
    d = datasets.read_snap_ego(tmp_path, egos=("5",))
    assert d.num_nodes == 6 and d.edge_index.size(1) == 2 * 3  # 5-1, 5-2, 1-2
    assert d.interests[[1, 2], 0].all() and d.x[5].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("country", ["ro", "hr"])
def test_deezer_countries_beside_hungary_on_written_files(tmp_path, country):
    import json
    folder = tmp_path / "deezer_gemsec" / "raw_csv"
    folder.mkdir(parents=True)
    C = country.upper()
    (folder / f"{C}_edges.csv").write_text("node_1,node_2\n0,1\n1,2\n3,2\n")
    (folder / f"{C}_genres.json").write_text(json.dumps(
        {"0": ["Pop", "Rock"], "1": ["Pop"], "2": [], "3": ["Jazz"]}))
    d = datasets.load(f"deezer-{country}", root=tmp_path, download=False)
    assert d.num_nodes == 4 and d.interest_names == ["Jazz", "Pop", "Rock"]
    assert d.interests.sum().item() == 4 and d.edge_index.size(1) == 6
    card = datasets.card(f"deezer-{country}")
    assert card.counts["interests"] == 84 and all(f.sha256 is None for f in card.files)
