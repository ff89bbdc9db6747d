"""Run configuration: the schema, YAML files and dotted overrides.

Every key is declared once, in :mod:`graphmeta.schema`, with its default,
its type, and its choices or range. A config is built in layers, each filling only what the
layers above leave unset:

1. ``--set KEY=VALUE`` overrides (values parsed as YAML),
2. the YAML file given with ``--config``,
3. the settings a dataset registers for itself
   (``graphmeta.datasets.register(name, config={...})``),
4. the defaults below.

``method_settings`` holds per-method settings (``{gmeta: {meta.inner_lr:
0.01}}``); a method's own registered defaults fill the keys that no layer
sets. :func:`graphmeta.spec.resolve` turns the result into the run's frozen
:class:`~graphmeta.spec.RunSpec`, with every ``auto`` resolved.

An unknown key, a value of the wrong type, outside its range or not among
its choices is a :class:`ConfigError` that names the key and what was
expected.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import re
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from graphmeta.errors import GraphmetaError
from graphmeta.schema import (DEFAULTS, SECTIONS, BaselinesConfig, DatasetConfig, EvalConfig,
                              MetaConfig, ModelConfig, RunConfig, SelectionConfig, TasksConfig)


class ConfigError(GraphmetaError, ValueError):
    """A configuration key or value is wrong."""


def _field(key: str) -> Optional[dataclasses.Field]:
    section, _, name = key.partition(".")
    cls = SECTIONS.get(section)
    if cls is None or not name:
        return None
    return next((f for f in dataclasses.fields(cls) if f.name == name), None)


def known_keys() -> list[str]:
    return ["seed", "methods", "method_settings"] + [
        f"{s}.{f.name}" for s, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def _unknown(key: str, source: str) -> ConfigError:
    near = difflib.get_close_matches(key, known_keys(), n=1)
    hint = f"; did you mean '{near[0]}'?" if near else ""
    section = key.partition(".")[0]
    if section in SECTIONS and not near:
        hint = f" (known: {', '.join(f.name for f in dataclasses.fields(SECTIONS[section]))})"
    return ConfigError(f"{source}: unknown key '{key}'{hint}")


_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def check_value(key: str, value: Any, source: str) -> Any:
    """``value`` for the dotted ``key``, checked (and coerced: an int where a
    float is expected, and a string like ``1e-4``, which YAML reads as a
    string)."""
    if key == "seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: 'seed' expects an int, got {value!r}")
        return value
    if key == "methods":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
            raise ConfigError(f"{source}: 'methods' expects a list of method names, got {value!r}")
        return list(value)
    f = _field(key)
    if f is None:
        raise _unknown(key, source)
    m = f.metadata
    kind = m["kind"]
    if m["auto"] and value == "auto":
        return value
    if kind is float and isinstance(value, str) and _FLOAT.match(value.strip()):
        value = float(value)
    if kind is str and isinstance(value, bool) and {"off", "on"} & set(m["choices"] or ()):
        # YAML 1.1 reads a bare off/on (and no/yes) as a bool: where the
        # key's choices are words like these, `--set tasks.prefetch=off`
        # and `prefetch: off` mean the word.
        value = "on" if value else "off"
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str),
          list: lambda v: isinstance(v, list)}[kind](value)
    if not ok:
        name = {int: "an int", float: "a number", bool: "true or false", str: "a string",
                list: "a list"}[kind]
        expected = f"auto or {name}" if m["auto"] else name
        raise ConfigError(f"{source}: '{key}' expects {expected} "
                          f"(like {f.default if f.default is not dataclasses.MISSING else []!r}), "
                          f"got {value!r}")
    if kind is float:
        value = float(value)
    if m["choices"] and value not in m["choices"]:
        raise ConfigError(f"{source}: '{key}' must be one of {', '.join(m['choices'])}, "
                          f"got {value!r}")
    if kind in (int, float):
        if m["low"] is not None and value < m["low"]:
            raise ConfigError(f"{source}: '{key}' must be >= {m['low']}, got {value!r}")
        if m["high"] is not None and value > m["high"]:
            raise ConfigError(f"{source}: '{key}' must be <= {m['high']}, got {value!r}")
        if m["positive"] and not value > 0:
            raise ConfigError(f"{source}: '{key}' must be > 0, got {value!r}")
    return value


def _leaves(d: dict, prefix: str = "") -> dict[str, Any]:
    """``{dotted key: value}`` of a nested mapping (``method_settings`` is a leaf)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key != "method_settings":
            out.update(_leaves(v, key + "."))
        else:
            out[key] = v
    return out


# The task settings that concern only how a method trains, not the shared
# sampler or the evaluation.
PER_METHOD_TASK_KEYS = ("tasks.train_query",)


def _check_method_settings(value: Any, source: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: 'method_settings' expects a mapping "
                          f"{{method: {{dotted.key: value}}}}, got {value!r}")
    out: dict[str, dict[str, Any]] = {}
    for method, settings in value.items():
        if not isinstance(settings, dict):
            raise ConfigError(f"{source}: 'method_settings.{method}' expects a mapping of "
                              f"dotted keys to values, got {settings!r}")
        flat = _leaves(settings)
        for k in flat:
            if (k in ("seed", "methods", "method_settings") or k.split(".")[0] in (
                    "dataset", "tasks", "eval", "run")) and k not in PER_METHOD_TASK_KEYS:
                raise ConfigError(f"{source}: 'method_settings.{method}.{k}': a method cannot "
                                  f"change the data, the tasks, the evaluation, the seed or "
                                  f"the method list")
        out[str(method)] = {k: check_value(k, v, f"{source}: method_settings.{method}")
                            for k, v in flat.items()}
    return out


def set_key(cfg: dict, key: str, value: Any) -> None:
    """Sets the dotted ``key`` of the nested ``cfg`` in place."""
    *parents, last = key.split(".")
    node = cfg
    for p in parents:
        node = node[p]
    node[last] = value


def get_key(cfg: dict, key: str) -> Any:
    node = cfg
    for p in key.split("."):
        node = node[p]
    return node


def _where(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    return f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def load_config(path: Optional[str | Path] = None,
                overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The validated config as a nested dict: defaults, then the dataset's
    registered settings, the YAML file at ``path`` and the ``KEY=VALUE``
    ``overrides`` (see the module docstring for the order). The keys set by
    the file or the overrides are listed under ``"_explicit"``."""
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}{_where(e)}: not valid YAML "
                              f"({getattr(e, 'problem', None) or e})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys, got {loaded!r}")
        layers.append((str(path), loaded))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. meta.inner_steps=10")
        key, raw = item.split("=", 1)
        key = key.strip()
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {item}: the value is not valid YAML "
                              f"({getattr(e, 'problem', None) or e})") from None
        if key.startswith("method_settings."):
            _, method, sub = key.split(".", 2) if key.count(".") >= 2 else (key, "", "")
            if not method or not sub:
                raise ConfigError(f"--set {item}: expected method_settings.METHOD.KEY=VALUE")
            layers.append((f"--set {item}", {"method_settings": {method: {sub: value}}}))
            continue
        patch: dict[str, Any] = {}
        node = patch
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
        layers.append((f"--set {item}", patch))

    cfg = copy.deepcopy(DEFAULTS)
    explicit: set[str] = set()
    for source, layer in layers:
        for key, value in _leaves(layer).items():
            if key == "method_settings":
                for m, s in _check_method_settings(value, source).items():
                    cfg["method_settings"].setdefault(m, {}).update(s)
                continue
            if key in SECTIONS:
                raise ConfigError(f"{source}: '{key}' expects a mapping of its keys, got {value!r}")
            set_key(cfg, key, check_value(key, value, source))
            explicit.add(key)
    from graphmeta import datasets
    name = cfg["dataset"]["name"]
    for key, value in datasets.recommended(name).items():
        if key not in explicit:
            set_key(cfg, key, check_value(key, value, f"settings registered for dataset {name!r}"))
    cfg["_explicit"] = sorted(explicit | set(datasets.recommended(name)))
    from graphmeta.methods import method_names
    for m in cfg["methods"]:
        if m not in method_names():
            raise ConfigError(f"methods: unknown method {m!r} (known: {', '.join(method_names())})")
    for m in cfg["method_settings"]:
        if m not in method_names():
            raise ConfigError(f"method_settings: unknown method {m!r} "
                              f"(known: {', '.join(method_names())})")
    return cfg


__all__ = ["DEFAULTS", "SECTIONS", "BaselinesConfig", "ConfigError", "DatasetConfig", "EvalConfig",
           "MetaConfig", "ModelConfig", "RunConfig", "SelectionConfig", "TasksConfig",
           "check_value", "get_key",
           "load_config",
           "set_key"]
