"""Downloads through a real HTTP server on 127.0.0.1, sha256 checks, and the
processed-graph cache."""
import gzip
import hashlib
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
import yaml

from graphmeta import datasets
from graphmeta.cli import main
from graphmeta.datasets.download import CARDS_DIR

from tests.helpers import SHARED
needs_mirror = pytest.mark.skipif(not (SHARED / "email_eu_core").exists(),
                                  reason="shared dataset mirror not present")
EMAIL = SHARED / "email_eu_core" / "raw"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """``serve(folder)`` -> base URL of a real HTTP server for ``folder``."""
    servers = []

    def start(folder: Path) -> str:
        srv = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}"
    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


@pytest.fixture
def no_mirror(monkeypatch):
    monkeypatch.delenv("GRAPHMETA_DATA", raising=False)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@needs_mirror
def test_download_from_a_mirror_url_then_load_from_cache(serve, tmp_path, no_mirror, monkeypatch):
    monkeypatch.setenv("GRAPHMETA_MIRROR_URL", serve(SHARED))
    cache = tmp_path / "cache"
    d = datasets.load("email-eu-core", cache=cache)
    assert d.num_nodes == 1_005 and len(d.label_names) == 42
    assert _files(cache) == ["processed/email-eu-core.pt",
                             "raw/email_eu_core/raw/email-Eu-core-department-labels.txt",
                             "raw/email_eu_core/raw/email-Eu-core.txt"]
    assert ((cache / "raw/email_eu_core/raw/email-Eu-core.txt").read_bytes()
            == (EMAIL / "email-Eu-core.txt").read_bytes())
    # Second load: no server needed, the processed graph comes back equal.
    monkeypatch.setenv("GRAPHMETA_MIRROR_URL", "http://127.0.0.1:9")
    again = datasets.load("email-eu-core", cache=cache)
    assert torch.equal(again.edge_index, d.edge_index) and torch.equal(again.y, d.y)
    assert again.label_names == d.label_names


def _canonical_cards(tmp_path: Path, base: str) -> Path:
    """Cards for email-eu-core pointing at a .gz file and a .tar.gz member on ``base``."""
    cards = tmp_path / "cards"
    cards.mkdir()
    card = yaml.safe_load((CARDS_DIR / "email-eu-core.yaml").read_text())
    card["files"][0]["url"] = f"{base}/email-Eu-core.txt.gz"
    card["files"][1]["url"] = f"{base}/labels.tar.gz"
    card["files"][1]["member"] = "email/labels.txt"
    (cards / "email-eu-core.yaml").write_text(yaml.safe_dump(card))
    return cards


def _serve_canonical(folder: Path, edges: bytes) -> None:
    folder.mkdir()
    (folder / "email-Eu-core.txt.gz").write_bytes(gzip.compress(edges))
    with tarfile.open(folder / "labels.tar.gz", "w:gz") as tar:
        tar.add(EMAIL / "email-Eu-core-department-labels.txt", arcname="email/labels.txt")


@needs_mirror
def test_canonical_gz_and_tar_members_are_unpacked_and_verified(serve, tmp_path, no_mirror,
                                                                monkeypatch):
    site = tmp_path / "site"
    _serve_canonical(site, (EMAIL / "email-Eu-core.txt").read_bytes())
    monkeypatch.setenv("GRAPHMETA_CARDS", str(_canonical_cards(tmp_path, serve(site))))
    d = datasets.load("email-eu-core", cache=tmp_path / "cache")
    assert d.num_nodes == 1_005 and d.edge_index.size(1) == 2 * 16_706 - 642


@needs_mirror
@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_bad_download_is_refused_and_leaves_nothing(serve, tmp_path, no_mirror, monkeypatch,
                                                    damage):
    edges = (EMAIL / "email-Eu-core.txt").read_bytes()
    bad = (edges[: len(edges) // 2] if damage == "truncated"
           else edges.replace(b"0 1\n", b"0 2\n", 1))
    site = tmp_path / "site"
    _serve_canonical(site, bad)
    monkeypatch.setenv("GRAPHMETA_CARDS", str(_canonical_cards(tmp_path, serve(site))))
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=r"email-Eu-core.txt.gz: sha256 [0-9a-f]{64} "
                                         r"does not match .* nothing was written"):
        datasets.load("email-eu-core", cache=cache)
    assert not cache.exists() or _files(cache) == []
    # A damaged archive is named too.
    (site / "labels.tar.gz").write_bytes((site / "labels.tar.gz").read_bytes()[:50])
    (site / "email-Eu-core.txt.gz").write_bytes(gzip.compress(edges))
    with pytest.raises(ValueError, match=r"labels.tar.gz: cannot unpack the download"):
        datasets.load("email-eu-core", cache=cache)
    assert not cache.exists() or _files(cache) == []


def test_card_without_sha256_is_not_downloaded(tmp_path, no_mirror):
    with pytest.raises(ValueError,
                       match=r"twitch-de: the card records no sha256 .* GRAPHMETA_DATA"):
        datasets.load("twitch-de", cache=tmp_path)


def test_unreachable_server_is_a_clear_error(tmp_path, no_mirror, monkeypatch):
    monkeypatch.setenv("GRAPHMETA_MIRROR_URL", "http://127.0.0.1:9")
    with pytest.raises(ConnectionError, match=r"download of http://127.0.0.1:9/email_eu_core/raw/"):
        datasets.load("email-eu-core", cache=tmp_path)


@needs_mirror
@pytest.mark.parametrize("name", ["deezer-hu", "blogcatalog", "facebook-page-page", "lastfm-asia",
                                  "deezer-europe", "github", "email-eu-core", "ego-facebook"])
def test_card_matches_mirror_files_and_loaded_counts(name):
    c = datasets.card(name)
    for f, path in zip(c.files, c.paths(SHARED)):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256, f.path
    d = datasets.load(name, root=SHARED)
    s, t = d.edge_index
    loops = int((s == t).sum())
    assert c.counts["nodes"] == d.num_nodes
    assert c.counts["edges"] == (d.edge_index.size(1) - loops) // 2 + loops
    assert c.counts.get("self_loops", 0) == loops
    if "interests" in c.counts:
        assert c.counts["interests"] == d.interests.size(1)
    if "classes" in c.counts:
        assert c.counts["classes"] == len(d.label_names)
    if "features" in c.counts:
        assert c.counts["features"] == d.x.size(1)


def test_every_built_in_dataset_has_a_card():
    built_in = ["blogcatalog", "deezer-europe", "deezer-hr", "deezer-hu", "deezer-ro",
                "ego-facebook", "email-eu-core",
                "facebook-page-page", "github", "lastfm-asia"] + [
        f"twitch-{lang}" for lang in ("de", "engb", "es", "fr", "ptbr", "ru")]
    assert set(built_in) <= set(datasets.names())
    assert sorted(p.stem for p in CARDS_DIR.glob("*.yaml")) == sorted(built_in)
    assert all(datasets.card(n).name == n for n in built_in)


@needs_mirror
def test_datasets_command_lists_counts_and_presence(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRAPHMETA_DATA", str(SHARED))
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.strip()}
    assert set(datasets.names()) <= set(rows)
    assert "47538" in rows["deezer-hu"] and "mirror" in rows["deezer-hu"]
    assert "absent" in rows["twitch-de"]
