"""Dataset cards, verified downloads and the processed-graph cache.

A card (``graphmeta/datasets/cards/<name>.yaml``, package data; ``datasets/``
at the top of the source tree links to it) records where a
dataset's files live in a mirror (``folder``/``path``), the canonical public
address of each (``url``, with ``member`` for a file inside a ``.tar.gz`` or
``.zip`` archive; a ``.gz`` URL is unpacked), its ``sha256``, and the
citation, licence and counts.

:func:`fetch` downloads every file of a card, checks every sha256 and only
then writes the files (each through a temporary file and a rename), so a
truncated or corrupted download leaves nothing behind. ``GRAPHMETA_MIRROR_URL``
(or ``base_url``) replaces the canonical addresses by a mirror served over
HTTP with the ``shared/datasets`` layout (``<base>/<folder>/<path>``).
"""
from __future__ import annotations

import gzip
import hashlib
import inspect
import io
import os
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
import yaml
from torch_geometric.data import Data

from graphmeta.errors import DataError, DownloadError
from graphmeta import io as gio

# Package data: installed with graphmeta (the source tree's top-level
# `datasets/` is a link to this folder).
CARDS_DIR = Path(__file__).resolve().parent / "cards"


@dataclass(frozen=True)
class CardFile:
    """One file of a card: its ``path`` in the mirror folder, its canonical
    ``url`` (``member`` of an archive, when it is one) and ``sha256``."""
    path: str
    url: str
    sha256: Optional[str]
    member: Optional[str] = None


@dataclass(frozen=True)
class Card:
    """A dataset's card, read from its YAML file: ``name``, the mirror
    ``folder``, its ``files`` (each a :class:`CardFile`: path, canonical
    URL, sha256), the ``counts`` the loader is tested against, and ``meta``
    (page, citation, licence, note)."""
    name: str
    folder: str
    files: tuple[CardFile, ...]
    counts: dict
    meta: dict

    def paths(self, root: Path) -> list[Path]:
        return [root / self.folder / f.path for f in self.files]

    def present(self, root: Path) -> bool:
        return all(p.exists() for p in self.paths(root))


def cards_dir() -> Path:
    return Path(os.environ.get("GRAPHMETA_CARDS") or CARDS_DIR)


def read_card(path: Path) -> Card:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise DataError(f"{path}: not valid YAML ({e})") from None
    for key in ("name", "folder", "files", "counts"):
        if not isinstance(raw, dict) or key not in raw:
            raise DataError(f"{path}: missing key {key!r} "
                            f"(a card needs name, folder, files, counts)")
    files = []
    for i, f in enumerate(raw["files"]):
        if not isinstance(f, dict) or not {"path", "url", "sha256"} <= set(f):
            raise DataError(f"{path}: files[{i}] needs path, url and sha256 (null if unknown)")
        files.append(CardFile(f["path"], f["url"], f["sha256"], f.get("member")))
    meta = {k: v for k, v in raw.items() if k not in ("name", "folder", "files", "counts")}
    return Card(raw["name"], raw["folder"], tuple(files), dict(raw["counts"]), meta)


def card(name: str) -> Optional[Card]:
    """The card of ``name``, or ``None`` (a user-registered dataset)."""
    path = cards_dir() / f"{name}.yaml"
    return read_card(path) if path.exists() else None


def cache_dir(cache: Optional[str | Path] = None) -> Path:
    """``cache``, else ``$GRAPHMETA_CACHE``, else ``~/.cache/graphmeta``."""
    return Path(cache or os.environ.get("GRAPHMETA_CACHE") or Path.home() / ".cache" / "graphmeta")


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.read()
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(f"download of {url} failed: {e}; without network, put the files "
                            f"in a local mirror and pass root=... or set GRAPHMETA_DATA") from None


def _unpack(url: str, blob: bytes, member: Optional[str]) -> bytes:
    try:
        if member is not None and url.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
                f = tar.extractfile(member)
                if f is None:
                    raise KeyError(member)
                return f.read()
        if member is not None and url.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(blob)) as z:
                return z.read(member)
        if url.endswith(".gz"):
            return gzip.decompress(blob)
        return blob
    except KeyError:
        raise DataError(f"{url}: the archive has no member {member!r}") from None
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, OSError) as e:
        raise DataError(f"{url}: cannot unpack the download ({e}); "
                        f"truncated or corrupted?") from None


def fetch(card: Card, dest: Path, base_url: Optional[str] = None) -> list[Path]:
    """Downloads the files of ``card`` into ``dest/<folder>/``.

    Every file is checked against its sha256 before any is written, so a bad
    download leaves ``dest`` as it was. ``base_url`` (default
    ``$GRAPHMETA_MIRROR_URL``) fetches ``<base_url>/<folder>/<path>`` as-is
    instead of the canonical addresses.
    """
    base_url = base_url or os.environ.get("GRAPHMETA_MIRROR_URL")
    missing = [f.path for f in card.files if not f.sha256]
    if missing:
        raise DataError(f"{card.name}: the card records no sha256 for {', '.join(missing)}, so it "
                         f"cannot be downloaded verified; put the files under "
                         f"<root>/{card.folder}/ and pass root=... or set GRAPHMETA_DATA")
    blobs: dict[str, bytes] = {}
    contents = []
    for f in card.files:
        if base_url:
            url = f"{base_url.rstrip('/')}/{card.folder}/{f.path}"
            content = _get(url)
        else:
            url = f.url
            if url not in blobs:
                blobs[url] = _get(url)
            content = _unpack(url, blobs[url], f.member)
        digest = hashlib.sha256(content).hexdigest()
        if digest != f.sha256:
            raise DataError(f"{url}: sha256 {digest} does not match {f.sha256} recorded for "
                             f"{f.path} in the {card.name} card ({len(content)} bytes received; "
                             f"truncated or corrupted?); nothing was written")
        contents.append((dest / card.folder / f.path, content))
    for path, content in contents:
        gio.write_bytes(path, content)
    return [p for p, _ in contents]


def cached_load(name: str, loader: Callable[[Path], Data], root: Path, card: Card,
                cache: Path) -> Data:
    """``loader(root)``, through a processed-graph cache in ``cache/processed``.

    The cache entry is keyed by the source files' sizes and modification
    times, by the loader's source code and by that of graphmeta's readers
    (this package's modules), so an edited file, loader or reader is read
    afresh."""
    stamp = [[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in card.paths(root)]
    try:
        code = inspect.getsource(inspect.getmodule(loader)) + inspect.getsource(loader)
    except (OSError, TypeError):
        code = repr(loader)
    code += "".join(p.read_text() for p in sorted(Path(__file__).parent.glob("*.py")))
    key = hashlib.sha256(repr((stamp, code)).encode()).hexdigest()
    path = cache / "processed" / f"{name}.pt"
    if path.exists():
        try:
            saved = torch.load(path, weights_only=True)
            if saved.get("key") == key:
                return Data.from_dict(saved["data"])
        except Exception:  # an unreadable cache entry is rebuilt
            pass
    data = loader(root)
    try:
        gio.save_torch(path, {"key": key, "data": data.to_dict()})
    except OSError:  # a read-only cache only costs the speed-up
        pass
    return data
