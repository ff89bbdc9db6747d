"""Run configuration: YAML files plus dotted overrides (``meta.inner_steps=10``).

Every key has a default in :data:`DEFAULTS`; an unknown key or a value of the
wrong type is an error that names the key and what was expected.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

INTEREST_METHODS = ("maml", "fomaml", "maml-mlp", "finetune", "scratch",
                    "popularity", "neighbor-vote", "itemknn")
FEWSHOT_METHODS = ("maml", "fomaml", "protonet", "gmeta", "finetune", "scratch")
METHODS = tuple(dict.fromkeys(INTEREST_METHODS + FEWSHOT_METHODS))
# What an empty ``methods`` list runs, per task kind.
DEFAULT_METHODS = {"user-interest": ["maml", "maml-mlp", "finetune", "scratch"],
                   "few-shot": list(FEWSHOT_METHODS)}

DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "dataset": {
        "name": "synthetic",       # synthetic | a registered dataset (graphmeta.datasets.names())
        "root": "",                # local mirror (default: $GRAPHMETA_DATA)
        "graph": "sbm",            # sbm | ba | none
        "n_users": 2000,
        "n_items": 100,
        "n_features": 10,
        "homophily": 0.9,
        "feature_noise": 2.0,
        "n_blocks": 20,
        "p_in": 0.05,
        "p_out": 0.0005,
        "ba_m": 4,
    },
    "tasks": {
        "kind": "auto",            # auto (user-interest when the graph has interests) | user-interest | few-shot
        "hops": 2,
        "max_nodes": 64,
        "k_shot": "auto",          # int, or auto: the dataset's default (user-interest 5, 1 on blogcatalog; few-shot 3)
        "n_way": "auto",           # few-shot: int, or auto: 5, fewer when a class split has fewer
        "class_split": [0.6, 0.2, 0.2],  # few-shot: fractions of classes for meta-train/val/test
        "n_query": 10,
        "split": [0.7, 0.1, 0.2],
        "n_val_tasks": 200,
        "n_test_tasks": 500,
        "test_seed": 12345,
        "negatives": "auto",       # auto (uniform on synthetic, popularity on real data) | uniform | popularity
        "node_features": "auto",   # auto | x | interests | x+interests (user-interest); auto | x | structure | x+structure (few-shot)
        "prefetch": "auto",        # auto (thread on CUDA, in-line on CPU) | thread | off
    },
    "model": {
        "conv": "sage",            # gcn | sage | gin | gat
        "layers": 2,
        "hidden": 64,
        "dropout": 0.0,
        "heads": 4,
        "combine": "concat-product",
        "head_hidden": 64,
        "interest_dim": 32,
    },
    "meta": {
        "inner_steps": 5,
        "inner_lr": "auto",        # float, or auto: 0.1; 0.01 for gmeta (G-Meta's default)
        "learn_inner_lr": False,
        "balanced_query": False,   # weigh the query loss's positives and negatives equally
        "select": "auto",          # checkpoint score: auto (auc on real-data user-interest tasks, else accuracy) | accuracy | auc   # meta-learn one inner rate per parameter tensor and step (MAML++ LSLR)
        "meta_batch": "auto",      # int, or auto: 32 user-interest tasks, 4 few-shot episodes (each N*(K+Q) graphs)
        "meta_lr": 0.001,
        "iterations": 1000,
        "eval_every": 50,
        "adapt": "all",            # all | head (ANIL)
    },
    "baselines": {
        "scratch_steps": 100,
        "scratch_lr": 0.01,
        "pretrain_iterations": 1000,
        "pretrain_lr": 0.001,
    },
    "methods": [],                 # empty: DEFAULT_METHODS of the task kind
}


# Keys whose value is "auto" or a number of the given type (every other key
# takes its default's type).
AUTO_OR = {"tasks.k_shot": int, "tasks.n_way": int, "meta.meta_batch": int, "meta.inner_lr": float}


class ConfigError(ValueError):
    """A configuration key or value is wrong."""


def _check(value: Any, default: Any, key: str, source: str) -> Any:
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' must be a mapping, got {value!r}")
        out = copy.deepcopy(default)
        for k, v in value.items():
            full = f"{key}.{k}" if key else str(k)
            if k not in default:
                raise ConfigError(f"{source}: unknown key '{full}' "
                                  f"(known: {', '.join(sorted(default))})")
            out[k] = _check(v, default[k], full, source)
        return out
    if key in AUTO_OR:
        kinds = (int, float) if AUTO_OR[key] is float else (int,)
        ok = value == "auto" or (isinstance(value, kinds) and not isinstance(value, bool))
        value = float(value) if ok and value != "auto" and AUTO_OR[key] is float else value
    elif isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, list):
        ok = isinstance(value, list)
    else:
        ok = isinstance(value, type(default))
    if not ok:
        expected = (f"auto or {'a number' if AUTO_OR[key] is float else 'an int'}" if key in AUTO_OR
                    else type(default).__name__)
        raise ConfigError(f"{source}: '{key}' expects {expected} "
                          f"(like {default!r}), got {value!r}")
    return value


def load_config(path: Optional[str | Path] = None,
                overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Defaults, updated by the YAML file at ``path``, then by ``KEY=VALUE``
    overrides whose values are parsed as YAML (``meta.first_order=true``).

    A registered dataset may carry recommended settings
    (``graphmeta.datasets.config_defaults``); they fill every key that the
    file and the overrides leave unset."""
    cfg = copy.deepcopy(DEFAULTS)
    explicit: set[str] = set()
    if path is not None:
        text = Path(path).read_text()
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        cfg = _check(loaded, DEFAULTS, "", str(path))
        explicit |= set(_leaves(loaded))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. meta.inner_steps=10")
        key, raw = item.split("=", 1)
        patch: dict[str, Any] = {}
        node = patch
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = yaml.safe_load(raw)
        cfg = _check(_merge(cfg, patch), DEFAULTS, "", f"--set {item}")
        explicit |= set(_leaves(patch))
    from graphmeta import datasets
    for key, value in datasets.config_defaults(cfg["dataset"]["name"]).items():
        if key not in explicit:
            patch = {}
            node = patch
            parts = key.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = value
            cfg = _check(_merge(cfg, patch), DEFAULTS, "",
                         f"settings registered for dataset {cfg['dataset']['name']!r}")
    for m in cfg["methods"]:
        if m not in METHODS:
            raise ConfigError(f"methods: unknown method {m!r} (known: {', '.join(METHODS)})")
    return cfg


def _leaves(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        out += _leaves(v, key + ".") if isinstance(v, dict) else [key]
    return out


def _merge(base: dict, patch: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in patch.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
