"""Run configuration: YAML files and dotted overrides, layered and checked.

Keys come in three forms:

- ``section.key``: the run's global settings (:mod:`graphmeta.schema`:
  ``dataset``, ``synthetic``, ``tasks``, ``eval``, ``run``), plus ``seed``
  and ``methods``;
- ``METHOD.key``: one method's own setting (``maml.inner_steps``), declared
  by the settings class it registered (``graphmeta methods`` lists them);
- ``*.key``: that setting for every method of the run that has it
  (``*.iterations=200``).

A config is built in layers, each overriding the ones below it: the
defaults, the settings a dataset registers for itself
(``graphmeta.datasets.register(name, config={...})``), the YAML file given
with ``--config``, then ``--set KEY=VALUE``. Within a layer a method's own
key overrides a ``*`` one. :func:`graphmeta.spec.resolve` turns the result
into the run's frozen :class:`~graphmeta.spec.RunSpec`, with every
``auto`` resolved.

An unknown key, a value of the wrong type, outside its range or not among
its choices is a :class:`ConfigError` that names the key, where it was set
and what was expected.
"""
from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import yaml

from graphmeta import datasets
from graphmeta.methods import get_method, method_names
from graphmeta.schema import SECTIONS, TOP, global_keys
from graphmeta.settings import ConfigError

WILDCARD = "*"


@dataclass
class Layer:
    """One layer of method settings: ``{method or "*": {key: value}}`` and
    where it was set (for errors)."""
    source: str
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Config:
    """A loaded, checked config: the global values and the layers of method
    settings (lowest first), before the data resolves any ``auto``."""
    seed: int = 0
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    methods: list[str] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)

    def section(self, name: str) -> Any:
        """The global section ``name`` as its settings class."""
        return SECTIONS[name].from_mapping(self.sections.get(name, {}), "config", f"{name}.")

    def with_methods(self, methods: Sequence[str]) -> "Config":
        out = copy.deepcopy(self)
        out.methods = list(methods)
        return out


def _where(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    return f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _check_methods(value: Any, source: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(m, str) for m in value):
        raise ConfigError(f"{source}: 'methods' expects a list of method names, got {value!r}")
    for m in value:
        if m not in method_names():
            raise ConfigError(f"{source}: methods: unknown method {m!r} "
                              f"(known: {', '.join(method_names())})")
    return list(value)


# Sections of graphmeta before 0.3, whose keys are now each method's own.
FORMER = ("meta", "model", "baselines", "selection", "method_settings")


def _unknown_top(key: str, source: str) -> ConfigError:
    near = difflib.get_close_matches(key, global_keys() + method_names(), n=1)
    hint = f"; did you mean '{near[0]}'?" if near else ""
    if key in FORMER:
        hint = (f"; the '{key}' section is gone: each method has its own settings "
                f"(graphmeta methods lists them)")
    return ConfigError(f"{source}: unknown key '{key}'{hint} (global sections: "
                       f"{', '.join(SECTIONS)}; a method's own settings: METHOD.key; every "
                       f"method's: *.key)")


def _check_wildcard(key: str, source: str) -> None:
    """A ``*.key`` must be some registered method's key (its value is
    checked by each method that has it, when the run resolves)."""
    keys = sorted({k for m in method_names() for k in get_method(m).config.keys()})
    if key not in keys:
        near = difflib.get_close_matches(key, keys, n=1)
        hint = f"; did you mean '{WILDCARD}.{near[0]}'?" if near else ""
        raise ConfigError(f"{source}: unknown key '{WILDCARD}.{key}': no method has a setting "
                          f"{key!r}{hint}")


def _apply(cfg: Config, source: str, mapping: dict[str, Any]) -> None:
    """Checks one layer (a nested mapping) and adds it to ``cfg``."""
    layer = Layer(source)
    for top, value in mapping.items():
        top = str(top)
        if top == "seed":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{source}: 'seed' expects an int, got {value!r}")
            cfg.seed = value
        elif top == "methods":
            cfg.methods = _check_methods(value, source)
        elif top in SECTIONS:
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{top}' expects a mapping of its keys, got "
                                  f"{value!r}")
            cls = SECTIONS[top]
            for k, v in value.items():
                cfg.sections.setdefault(top, {})[k] = cls.check(str(k), v, source, f"{top}.")
        elif top == WILDCARD or top in method_names():
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{top}' expects a mapping of the method's "
                                  f"settings, got {value!r}")
            if top == WILDCARD:
                for k in value:
                    _check_wildcard(str(k), source)
            else:
                cls = get_method(top).config
                value = {str(k): cls.check(str(k), v, source, f"{top}.")
                         for k, v in value.items()}
            layer.settings.setdefault(top, {}).update({str(k): v for k, v in value.items()})
        else:
            raise _unknown_top(top, source)
    if layer.settings:
        cfg.layers.append(layer)


def _nest(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}`` (a method name may hold dashes,
    never dots; the first dot splits)."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        if key in TOP:
            out[key] = value
            continue
        top, dot, rest = key.partition(".")
        if not dot or not rest:
            raise ConfigError(f"'{key}': expected SECTION.KEY, METHOD.KEY or *.KEY")
        out.setdefault(top, {})[rest] = value
    return out


def parse_override(item: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of ``--set``, the value read as YAML."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. maml.inner_steps=10")
    key, raw = item.split("=", 1)
    try:
        return key.strip(), yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {item}: the value is not valid YAML "
                          f"({getattr(e, 'problem', None) or e})") from None


def read_yaml(path: str | Path) -> dict[str, Any]:
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
    return loaded


def load_config(path: Optional[str | Path] = None, overrides: Sequence[str] = ()) -> Config:
    """The checked config of the YAML file at ``path`` and the ``KEY=VALUE``
    ``overrides``, over the dataset's registered settings and the defaults
    (see the module docstring for the order)."""
    user: list[tuple[str, dict]] = []
    if path is not None:
        user.append((str(path), read_yaml(path)))
    for item in overrides:
        key, value = parse_override(item)
        user.append((f"--set {item}", _nest({key: value})))
    # The dataset is known only once the user's layers are read.
    probe = Config()
    for source, mapping in user:
        _apply(probe, source, {k: v for k, v in mapping.items() if k == "dataset"})
    name = probe.sections.get("dataset", {}).get("name", "synthetic")
    cfg = Config()
    recommended = datasets.recommended(name)
    if recommended:
        _apply(cfg, f"settings registered for dataset {name!r}", _nest(recommended))
    for source, mapping in user:
        _apply(cfg, source, mapping)
    return cfg


__all__ = ["Config", "ConfigError", "Layer", "WILDCARD", "load_config", "parse_override",
           "read_yaml"]
