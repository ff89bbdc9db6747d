"""Typed settings, declared once: the machinery behind the run's global
sections (:mod:`graphmeta.schema`) and every method's own settings
(``register_method(..., config=...)``).

A settings class is a frozen dataclass of :class:`Settings` whose fields
are declared with :func:`setting`: a default, a type (from the default),
choices or a range, an optional ``"auto"`` (resolved from the data by
:meth:`Settings.resolve`), the values tuning may try (``search``) and a
line of documentation. Built-in and plug-in settings get the same checks
and the same error messages::

    @dataclass(frozen=True)
    class ReptileSettings(TrainSettings):
        outer_step: float = setting(1.0, positive=True, search=[0.3, 1.0],
                                    doc="how far the initialisation moves")

``search`` is a list of values (tried as categories) or a :class:`Range`
(an interval, searched continuously, optionally on a log scale); ``when``
makes a key searched only under another key's value (asymmetric cosine's
exponent only with ``similarity="asymmetric"``), so tuning never spends a
configuration on a value that changes nothing.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Optional, Sequence, TypeVar

from graphmeta.errors import GraphmetaError

S = TypeVar("S", bound="Settings")


class ConfigError(GraphmetaError, ValueError):
    """A configuration key or value is wrong."""


@dataclass(frozen=True)
class Range:
    """A search interval ``[low, high]`` for tuning: floats, or integers
    with ``integer``; ``log`` searches it on a log scale. ``cap``: a fact
    (:class:`Facts` field, e.g. ``"n_interests"``) that bounds ``high`` on
    a given dataset: an integer range at the fact minus 1 (a neighbourhood
    of 83 other items in a catalogue of 84 is already all of them), so
    values beyond it, which would all mean the same, are not tried.
    ``data_high``: set by :meth:`capped` when the data bounded ``high``
    (then a best value there is not "at the edge": nothing lies beyond)."""
    low: float
    high: float
    log: bool = False
    integer: bool = False
    cap: Optional[str] = None
    data_high: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(f"bad search range {self}")

    def capped(self, facts: Optional["Facts"]) -> "Range":
        """This range with ``high`` bounded by its ``cap`` fact of ``facts``."""
        if self.cap is None or facts is None:
            return self
        bound = getattr(facts, self.cap)
        if bound and self.integer:
            bound -= 1
        if bound and bound < self.high:
            return dataclasses.replace(self, high=max(bound, self.low + (1 if self.integer else 0)),
                                       data_high=True)
        return self

    def __repr__(self) -> str:
        return f"{'int ' if self.integer else ''}[{self.low:g}, {self.high:g}]" + \
            (" log" if self.log else "")


Search = Sequence[Any] | Range


def setting(default: Any, *, choices: Optional[Sequence[str]] = None,
            auto: Optional[type] = None, low: Optional[float] = None,
            high: Optional[float] = None, positive: bool = False,
            search: Search | Mapping[str, Search] | None = None,
            when: Optional[Mapping[str, Any]] = None, doc: str = "") -> Any:
    """Declares a setting: ``choices`` for strings; ``auto`` (the type) for
    keys that take ``"auto"`` or a value; ``low``/``high`` bounds
    (inclusive), ``positive`` for ``> 0``; ``search``: what tuning may try
    (a list of values, a :class:`Range`, or ``{task kind: either}``);
    ``when``: ``{other key: value}`` under which it is searched at all."""
    kind = auto or (list if isinstance(default, (list, tuple)) else type(default))
    meta = {"choices": tuple(choices) if choices else None, "auto": auto is not None,
            "kind": kind, "low": low, "high": high, "positive": positive, "doc": doc,
            "search": search, "when": dict(when) if when else None}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Facts:
    """What ``"auto"`` settings are resolved from: the task kind, the graph
    and the device."""
    kind: str = "user-interest"
    n_interests: int = 0
    n_nodes: int = 0
    # users whose interests are known (all but meta-val and meta-test): set
    # once the tasks are split (graphmeta.runner.search_space), else 0
    n_known: int = 0
    has_x: bool = True
    has_interest_x: bool = False
    device: str = "cpu"
    metric: str = "auc"

    @classmethod
    def from_data(cls, data: Any, kind: str, device: Any = "cpu", metric: str = "auc"
                  ) -> "Facts":
        """The facts of a PyG graph (``interests``, ``x``, ``interest_x``)."""
        interests = getattr(data, "interests", None)
        return cls(kind=kind, n_interests=int(interests.size(1)) if interests is not None else 0,
                   n_nodes=int(getattr(data, "num_nodes", 0) or 0),
                   has_x=getattr(data, "x", None) is not None,
                   has_interest_x=getattr(data, "interest_x", None) is not None,
                   device=str(device), metric=metric)


_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_NAMES = {int: "an int", float: "a number", bool: "true or false", str: "a string",
          list: "a list"}
_OK = {bool: lambda v: isinstance(v, bool),
       int: lambda v: isinstance(v, int) and not isinstance(v, bool),
       float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
       str: lambda v: isinstance(v, str),
       list: lambda v: isinstance(v, list)}


@dataclass(frozen=True)
class Settings:
    """Base of every settings class (see the module docstring)."""
    # What tables and errors call a section of these ("tasks", "maml", ...).
    section: ClassVar[str] = ""

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def _field(cls, key: str) -> Optional[dataclasses.Field]:
        return next((f for f in dataclasses.fields(cls) if f.name == key), None)

    @classmethod
    def unknown(cls, key: str, source: str, prefix: str = "") -> ConfigError:
        """The error for a key this class lacks, with the nearest one."""
        near = difflib.get_close_matches(key, cls.keys(), n=1)
        hint = f"; did you mean '{prefix}{near[0]}'?" if near else \
            f" (known: {', '.join(cls.keys()) or 'none'})"
        return ConfigError(f"{source}: unknown key '{prefix}{key}'{hint}")

    @classmethod
    def check(cls, key: str, value: Any, source: str, prefix: str = "") -> Any:
        """``value`` for ``key``, checked, and coerced where that is safe (an
        int where a float is expected; a string like ``1e-4``, which YAML
        reads as a string). Errors name ``prefix + key`` and ``source``."""
        f = cls._field(key)
        if f is None:
            raise cls.unknown(key, source, prefix)
        m, name = f.metadata, prefix + key
        kind = m["kind"]
        if m["auto"] and value == "auto":
            return value
        if kind is float and isinstance(value, str) and _FLOAT.match(value.strip()):
            value = float(value)
        if kind is str and isinstance(value, bool) and {"off", "on"} & set(m["choices"] or ()):
            # YAML 1.1 reads a bare off/on as a bool: where the choices are
            # words like these, `--set run.prefetch=off` means the word.
            value = "on" if value else "off"
        if not _OK[kind](value):
            expected = f"auto or {_NAMES[kind]}" if m["auto"] else _NAMES[kind]
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            raise ConfigError(f"{source}: '{name}' expects {expected} (like {default!r}), "
                              f"got {value!r}")
        if kind is float:
            value = float(value)
        if m["choices"] and value not in m["choices"]:
            raise ConfigError(f"{source}: '{name}' must be one of {', '.join(m['choices'])}, "
                              f"got {value!r}")
        if kind in (int, float):
            if m["low"] is not None and value < m["low"]:
                raise ConfigError(f"{source}: '{name}' must be >= {m['low']}, got {value!r}")
            if m["high"] is not None and value > m["high"]:
                raise ConfigError(f"{source}: '{name}' must be <= {m['high']}, got {value!r}")
            if m["positive"] and not value > 0:
                raise ConfigError(f"{source}: '{name}' must be > 0, got {value!r}")
        return value

    @classmethod
    def from_mapping(cls: type[S], values: Mapping[str, Any], source: str = "settings",
                     prefix: str = "") -> S:
        """An instance from ``values`` (the defaults where a key is absent),
        every value checked."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: '{prefix.rstrip('.') or cls.section}' expects a "
                              f"mapping of its keys, got {values!r}")
        return cls(**{k: cls.check(k, v, source, prefix) for k, v in values.items()})

    def replace(self: S, **changes: Any) -> S:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) if not isinstance(getattr(self, f.name), tuple)
                else list(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def search_space(cls, kind: str, facts: Optional[Facts] = None) -> dict[str, list[Any] | Range]:
        """What tuning may choose from on ``kind`` tasks: key -> a list of
        values or a :class:`Range` (capped by ``facts`` where it says so),
        in declaration order (a key searched ``when`` another has a value
        comes after it)."""
        out: dict[str, list[Any] | Range] = {}
        for f in dataclasses.fields(cls):
            s = f.metadata.get("search") if f.metadata else None
            if isinstance(s, Mapping):
                s = s.get(kind)
            if isinstance(s, Range):
                out[f.name] = s.capped(facts)
            elif s:
                out[f.name] = list(s)
        return out

    @classmethod
    def search_conditions(cls) -> dict[str, dict[str, Any]]:
        """key -> ``{other key: value}``: keys searched only under another's value."""
        return {f.name: f.metadata["when"] for f in dataclasses.fields(cls)
                if f.metadata and f.metadata.get("when")}

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        """``(key, default, doc)`` of every setting, for help and docs."""
        return [(f.name, f.default if f.default is not dataclasses.MISSING
                 else f.default_factory(), f.metadata.get("doc", ""))
                for f in dataclasses.fields(cls)]

    def resolve(self: S, facts: Facts) -> S:
        """These settings with every ``"auto"`` decided from ``facts``
        (subclasses with ``auto`` keys override this)."""
        return self


__all__ = ["ConfigError", "Facts", "Range", "Settings", "setting"]
