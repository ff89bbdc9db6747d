"""Dataset registry: ``load(name, root=None)`` returns a PyG ``Data``.

``root`` (or the environment variable ``GRAPHMETA_DATA``) points at a local
mirror laid out like ``shared/datasets`` (``deezer_gemsec/raw_csv/...``).
Datasets with a card (``graphmeta/datasets/cards/<name>.yaml``) that are absent from the
mirror are downloaded from their canonical address into the cache
(``$GRAPHMETA_CACHE``, default ``~/.cache/graphmeta``), checked against the
card's sha256, and their processed graph is cached there.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from torch_geometric.data import Data

from graphmeta.datasets.custom import from_edge_list, from_folder, from_networkx
from graphmeta.datasets.download import Card, cache_dir, cached_load, card, fetch
from graphmeta.datasets.gemsec import read_gemsec
from graphmeta.datasets.matlab import read_mat
from graphmeta.datasets.musae import read_musae
from graphmeta.datasets.snap import read_snap_ego, read_snap_labelled
from graphmeta.errors import DataError, MissingFileError

_REGISTRY: dict[str, Callable[[Path], Data]] = {}
_RECOMMENDED: dict[str, dict] = {}


def register(name: str, *, config: Optional[dict] = None
             ) -> Callable[[Callable[[Path], Data]], Callable[[Path], Data]]:
    """Registers ``fn(root) -> Data`` under ``name`` for :func:`load`.

    ``config`` maps dotted config keys to the settings recommended for this
    dataset (``{"tasks.k_shot": 1, "*.iterations": 3000, "maml.inner_rule":
    "lslr"}``); they apply wherever the user's config file and ``--set``
    leave the key unset (``*.key``: for every method that has the key).
    Registering the same function again (a re-run notebook cell) replaces
    it; another function under a taken name is an error.
    """
    def deco(fn: Callable[[Path], Data]) -> Callable[[Path], Data]:
        old = _REGISTRY.get(name)
        if old is not None and ((old.__module__, old.__qualname__)
                                != (fn.__module__, fn.__qualname__)):
            raise ValueError(f"dataset {name!r} is already registered "
                             f"(by {old.__module__}.{old.__qualname__})")
        _REGISTRY[name] = fn
        _RECOMMENDED[name] = dict(config or {})
        return fn
    return deco


def unregister(name: str) -> None:
    """Removes a registered dataset (no error if it is absent)."""
    _REGISTRY.pop(name, None)
    _RECOMMENDED.pop(name, None)


def recommended(name: str) -> dict:
    """Config settings registered for ``name`` (dotted keys; may be empty)."""
    return dict(_RECOMMENDED.get(name, {}))


def names() -> list[str]:
    """Every registered dataset's name, sorted (built-in and your own)."""
    return sorted(_REGISTRY)


def resolve_root(root: Optional[str | Path] = None) -> Path:
    """The local mirror: ``root``, else ``$GRAPHMETA_DATA``; raises
    :class:`MissingFileError` when neither is given."""
    root = root or os.environ.get("GRAPHMETA_DATA")
    if not root:
        raise MissingFileError("no local dataset mirror: pass root=... or set GRAPHMETA_DATA "
                                "to a folder laid out like shared/datasets")
    return Path(root)


def locate(name: str, root: Optional[str | Path] = None,
           cache: Optional[str | Path] = None) -> Optional[Path]:
    """The mirror root that holds every file of ``name``'s card: ``root`` (or
    ``$GRAPHMETA_DATA``), else the download cache; ``None`` when neither does."""
    c = card(name)
    if c is None:
        return None
    root = root or os.environ.get("GRAPHMETA_DATA")
    for base in ([Path(root)] if root else []) + [cache_dir(cache) / "raw"]:
        if c.present(base):
            return base
    return None


def load(name: str, root: Optional[str | Path] = None, *, download: bool = True,
         cache: Optional[str | Path] = None) -> Data:
    """Loads a registered dataset.

    Args:
        name: A name from :func:`names`.
        root: Local mirror laid out like ``shared/datasets`` (default:
            ``$GRAPHMETA_DATA``).
        download: When the files are in neither the mirror nor the cache,
            download them from the canonical address in the dataset's card
            (sha256-checked) into ``cache``.
        cache: Download and processed-graph cache (default:
            ``$GRAPHMETA_CACHE`` or ``~/.cache/graphmeta``).
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown dataset {name!r} (known: {', '.join(names())})")
    c = card(name)
    if c is None:  # a user-registered loader: it reads its own files from root
        return _REGISTRY[name](resolve_root(root))
    base = locate(name, root, cache)
    if base is None:
        where = root or os.environ.get("GRAPHMETA_DATA")
        if not download:
            raise MissingFileError(
                f"{name}: files not found under {where or 'no mirror (GRAPHMETA_DATA unset)'} or "
                f"in the cache {cache_dir(cache) / 'raw'}; pass root=... or set GRAPHMETA_DATA, "
                f"or allow download")
        base = cache_dir(cache) / "raw"
        fetch(c, base)
    return cached_load(name, _REGISTRY[name], base, c, cache_dir(cache))


def _deezer(country: str) -> Callable[[Path], Data]:
    def load_deezer(root: Path) -> Data:  # GEMSEC layout: deezer_gemsec/raw_csv/<C>_*
        return read_gemsec(root / "deezer_gemsec" / "raw_csv", country)
    return load_deezer


for _country in ("HU", "HR", "RO"):
    register(f"deezer-{_country.lower()}")(_deezer(_country))


# 1.4 groups per user: K=1 leaves 2,852 eligible users. With one support
# positive, fixed-rate inner steps hurt and 1,000 meta-iterations stop while
# meta-val ROC-AUC still climbs (docs/DECISIONS.md, blogcatalog).
@register("blogcatalog", config={"tasks.k_shot": 1, "*.iterations": 3000,
                                 **{f"{m}.inner_rule": "lslr"
                                    for m in ("maml", "fomaml", "anil", "maml-mlp")}})
def _blogcatalog(root: Path) -> Data:
    return read_mat(root / "blogcatalog" / "blogcatalog.mat")


@register("facebook-page-page")
def _facebook(root: Path) -> Data:
    return read_musae(root / "facebook_page_page" / "raw_csv", "facebook",
                      label_column="page_type", features_as="x")


@register("lastfm-asia")
def _lastfm(root: Path) -> Data:
    return read_musae(root / "lastfm_asia" / "raw_csv", "lastfm_asia", label_column="target")


@register("deezer-europe")
def _deezer_europe(root: Path) -> Data:
    return read_musae(root / "deezer_europe" / "raw_csv", "deezer_europe", label_column="target")


@register("github")
def _github(root: Path) -> Data:
    return read_musae(root / "github" / "raw_csv", "git", label_column="ml_target")


@register("email-eu-core")
def _email(root: Path) -> Data:
    raw = root / "email_eu_core" / "raw"
    return read_snap_labelled(raw / "email-Eu-core.txt",
                              raw / "email-Eu-core-department-labels.txt")


@register("ego-facebook", config={"tasks.k_shot": 1})  # 1.5 circles per member
def _ego_facebook(root: Path) -> Data:
    return read_snap_ego(root / "ego_facebook" / "ego-facebook" / "raw" / "facebook")


def _twitch(lang: str) -> Callable[[Path], Data]:
    def load_twitch(root: Path) -> Data:  # SNAP twitch.zip layout: twitch/<LANG>/musae_<LANG>_*
        return read_musae(root / "twitch" / lang, f"musae_{lang}", label_column="mature",
                          id_column="new_id", features_as="interests")
    return load_twitch


for _lang in ("DE", "ENGB", "ES", "FR", "PTBR", "RU"):
    register(f"twitch-{_lang.lower()}")(_twitch(_lang))


__all__ = ["Card", "DataError", "MissingFileError", "card", "fetch", "from_edge_list",
           "from_folder", "from_networkx", "load", "locate", "names", "read_gemsec", "read_mat",
           "read_musae", "read_snap_ego", "read_snap_labelled", "recommended", "register",
           "resolve_root", "unregister"]
