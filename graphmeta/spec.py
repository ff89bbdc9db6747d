"""The run spec: a config with every ``auto`` resolved, frozen and typed.

:func:`resolve` runs once at start-up, when the graph is loaded: it decides
the task kind, ``k_shot``, node features, the checkpoint score and
prefetching from the data and the device, the methods to run, and each
method's own settings (its settings class's defaults, then the config's
layers, then its ``auto`` keys). One ``auto`` stays: the selectors' ``C``,
which names a procedure (cross-validation on the tasks a selector is fitted
on) rather than a value the data decides up front. Everything downstream
reads the :class:`RunSpec`; ``config.yaml`` and ``results.json`` record it,
and loading that ``config.yaml`` again gives the same spec.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from graphmeta.config import WILDCARD, Config
from graphmeta.methods import default_methods, get_method
from graphmeta.schema import (DatasetConfig, EvalConfig, RunConfig, SyntheticConfig,
                              TasksConfig)
from graphmeta.settings import ConfigError, Facts, Settings


@dataclass(frozen=True)
class RunSpec:
    """A resolved run: the global sections, the methods, and every method's
    resolved settings (``settings``: the run's methods and the methods they
    are built from)."""
    seed: int
    dataset: DatasetConfig
    synthetic: SyntheticConfig
    tasks: TasksConfig
    eval: EvalConfig
    run: RunConfig
    methods: tuple[str, ...]
    settings: Mapping[str, Settings]
    facts: Facts = field(default_factory=Facts, compare=False)

    @property
    def kind(self) -> str:
        return self.tasks.kind

    def to_dict(self) -> dict[str, Any]:
        """A config mapping (``config.yaml``) that loads back to this spec."""
        out: dict[str, Any] = {"seed": self.seed, "dataset": self.dataset.to_dict()}
        if self.dataset.name == "synthetic":
            out["synthetic"] = self.synthetic.to_dict()
        out.update(tasks=self.tasks.to_dict(), eval=self.eval.to_dict(), run=self.run.to_dict(),
                   methods=list(self.methods))
        out.update({m: s.to_dict() for m, s in self.settings.items()})
        return out

    def key(self, method: str) -> str:
        """What ``method``'s trained state depends on, as a string that
        identifies it: the data, the tasks, the evaluation (not the number
        of seeds or tuning configurations), its own settings (under its
        name) and those of the methods it is built from; not the method list
        or other methods' settings, so a change there does not retrain it."""
        d: dict[str, Any] = {"seed": self.seed, "dataset": self.dataset.to_dict(),
                             "tasks": self.tasks.to_dict(),
                             "eval": {k: v for k, v in self.eval.to_dict().items()
                                      if k not in ("seeds", "tune")}}
        if self.dataset.name == "synthetic":
            d["synthetic"] = self.synthetic.to_dict()
        d[method] = self.settings[method].to_dict()
        for dep in get_method(method).dependencies(self.settings[method]):
            d.update(json.loads(self.key(dep)))
        return json.dumps(d, sort_keys=True)

    def with_settings(self, method: str, changes: Mapping[str, Any],
                      source: str = "tuning") -> "RunSpec":
        """This spec with some of ``method``'s settings changed (and resolved)."""
        s = self.settings[method]
        checked = {k: s.check(k, v, source, f"{method}.") for k, v in changes.items()}
        return dataclasses.replace(self, settings={**self.settings, method:
                                                   s.replace(**checked).resolve(self.facts)})


def method_settings(cfg: Config, name: str, facts: Facts) -> Settings:
    """``name``'s settings: its class's defaults, then each layer's ``*``
    keys it has and its own keys, then its ``auto`` keys resolved."""
    cls = get_method(name).config
    values: dict[str, Any] = {}
    for layer in cfg.layers:
        for key, value in layer.settings.get(WILDCARD, {}).items():
            if key in cls.keys():
                values[key] = cls.check(key, value, layer.source, f"{WILDCARD}.")
        values.update(layer.settings.get(name, {}))
    return cls(**values).resolve(facts)


def resolve(cfg: Config, data: Any, device: torch.device | str = "cpu") -> RunSpec:
    """The :class:`RunSpec` of a loaded config (:func:`~graphmeta.config.load_config`)
    on ``data`` and ``device``."""
    has_interests = getattr(data, "interests", None) is not None
    tasks = cfg.section("tasks")
    kind = tasks.kind if tasks.kind != "auto" else (
        "user-interest" if has_interests else "few-shot")
    if kind == "user-interest" and not has_interests:
        raise ConfigError("tasks.kind=user-interest: the graph has no interests "
                          "(use tasks.kind=few-shot over its labels)")
    ev = cfg.section("eval")
    facts = Facts.from_data(data, kind, device, ev.metric)
    methods = tuple(cfg.methods) or tuple(default_methods(kind, n_interests=facts.n_interests))
    settings: dict[str, Settings] = {}
    todo, where = list(methods), {m: "methods" for m in methods}
    while todo:
        name = todo.pop(0)
        if name in settings:
            continue
        method = get_method(name)
        if kind not in method.kinds:
            raise ConfigError(f"{where[name]}: {name!r} does not run on {kind} tasks "
                              f"(known there: {', '.join(default_methods(kind, every=True))})")
        settings[name] = method_settings(cfg, name, facts)
        for dep in method.dependencies(settings[name]):
            try:
                get_method(dep)
            except KeyError as e:
                raise ConfigError(f"{name}.candidates: {e.args[0]}") from None
            where.setdefault(dep, f"{name}.candidates")
            todo.append(dep)
    return RunSpec(seed=cfg.seed, dataset=cfg.section("dataset"),
                   synthetic=cfg.section("synthetic"), tasks=tasks.resolve(facts),
                   eval=ev.resolve(facts), run=cfg.section("run").resolve(facts),
                   methods=methods, settings=settings, facts=facts)


def with_n_way(spec: RunSpec, n_way: int) -> RunSpec:
    """``spec`` with the few-shot ``n_way`` that the class splits allow."""
    return dataclasses.replace(spec, tasks=spec.tasks.replace(n_way=n_way))


__all__ = ["RunSpec", "method_settings", "resolve", "with_n_way"]
