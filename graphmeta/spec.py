"""The run spec: a config with every ``auto`` resolved, frozen and typed.

:func:`resolve` runs once at start-up, when the graph is loaded: it decides
the task kind, ``k_shot``, negatives, node features, meta-batch size,
checkpoint score and prefetching from the data and the device, the methods
to run, and each method's own settings (its registered defaults, filling the
keys no config layer sets, then ``method_settings``). One ``auto`` stays:
``selection.C``, which names a procedure (cross-validation on the tasks a
selector is fitted on) rather than a value the data decides up front.
Everything downstream reads the :class:`RunSpec`; ``config.yaml`` and
``results.json`` record it, and loading that ``config.yaml`` again gives
the same spec.
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from graphmeta.config import (SECTIONS, BaselinesConfig, ConfigError, DatasetConfig, EvalConfig,
                              MetaConfig, ModelConfig, RunConfig, SelectionConfig, TasksConfig,
                              check_value, get_key, set_key)

# What "auto" is, per task kind.
K_SHOT = {"user-interest": 5, "few-shot": 3}
META_BATCH = {"user-interest": 32, "few-shot": 4}
FEATURES = {"user-interest": ("x", "interests", "interests-svd"), "few-shot": ("x", "structure")}


@dataclass(frozen=True)
class RunSpec:
    """A resolved run configuration (see :mod:`graphmeta.config` for the keys).

    ``method_settings`` holds, per method, the keys whose resolved value for
    that method differs from the common one; :meth:`for_method` applies them.
    """
    seed: int
    dataset: DatasetConfig
    tasks: TasksConfig
    model: ModelConfig
    meta: MetaConfig
    baselines: BaselinesConfig
    eval: EvalConfig
    selection: SelectionConfig
    run: RunConfig
    methods: tuple[str, ...]
    method_settings: Mapping[str, Mapping[str, Any]]

    @property
    def kind(self) -> str:
        return self.tasks.kind

    @property
    def real_data(self) -> bool:
        return self.dataset.name != "synthetic"

    def for_method(self, name: str) -> "RunSpec":
        """This spec as ``name`` runs it."""
        d = self.to_dict()
        for key, value in self.method_settings.get(name, {}).items():
            set_key(d, key, value)
        return _from_dict(d, self.methods, self.method_settings)

    def settings(self, name: str) -> dict[str, Any]:
        """``name``'s settings that differ from the common ones."""
        return dict(self.method_settings.get(name, {}))

    def to_dict(self) -> dict[str, Any]:
        """A config mapping (``config.yaml``) that loads back to this spec."""
        out: dict[str, Any] = {"seed": self.seed}
        for section in SECTIONS:
            out[section] = copy.deepcopy(dataclasses.asdict(getattr(self, section)))
        out["methods"] = list(self.methods)
        out["method_settings"] = {m: dict(s) for m, s in self.method_settings.items() if s}
        return out


def _from_dict(d: dict, methods: tuple[str, ...], settings: Mapping) -> RunSpec:
    return RunSpec(seed=d["seed"], methods=tuple(methods),
                   method_settings={m: dict(s) for m, s in settings.items()},
                   **{s: cls(**d[s]) for s, cls in SECTIONS.items()})


# Above this many interests a learned interest table gets sparse gradients.
SPARSE_FROM = 10_000
# Above this many interests, graphs without x get ``interests-svd`` node
# features instead of multi-hot ones: chosen for cost (on a 2,113-interest
# graph the multi-hot first layer made a meta-step 341 ms against 27 ms,
# docs/SCALING.md); every dataset of docs/RESULTS.md has at most 193.
SVD_FROM = 1_000
# Up to this many named interests the head reads their context features by
# default (chosen on meta-val, docs/RESULTS.md: +0.017 / +0.020 ROC-AUC on
# blogcatalog / ego-facebook); above it their [C, C] co-occurrence and
# [T, C, 4] per-batch features cost what the item-item scorers do.
CONTEXT_UP_TO = 10_000


def _resolve_autos(cfg: dict, *, has_interests: bool, has_x: bool,
                   device: torch.device, n_interests: int = 0,
                   has_interest_x: bool = False) -> dict:
    """Resolves every ``auto`` of a nested config (in a copy)."""
    cfg = copy.deepcopy(cfg)
    t, m = cfg["tasks"], cfg["meta"]
    if cfg["model"]["sparse_grad"] == "auto":
        cfg["model"]["sparse_grad"] = n_interests > SPARSE_FROM
    if t["kind"] == "auto":
        t["kind"] = "user-interest" if has_interests else "few-shot"
    kind = t["kind"]
    if cfg["model"]["context"] == "auto":   # not for fixed item features (the synthetic setup)
        cfg["model"]["context"] = (kind == "user-interest" and not has_interest_x
                                   and n_interests <= CONTEXT_UP_TO)
    if kind == "user-interest" and not has_interests:
        raise ConfigError("tasks.kind=user-interest: the graph has no interests "
                          "(use tasks.kind=few-shot over its labels)")
    if t["k_shot"] == "auto":
        t["k_shot"] = K_SHOT[kind]
    allowed = FEATURES[kind]
    if t["node_features"] == "auto":
        t["node_features"] = (allowed[0] if has_x else "interests-svd"
                              if kind == "user-interest" and n_interests > SVD_FROM
                              else allowed[1])
    parts = t["node_features"].split("+")
    if not set(parts) <= set(allowed):
        raise ConfigError(f"tasks.node_features={t['node_features']!r} does not apply to {kind} "
                          f"tasks (choose from {', '.join(allowed)}, or {allowed[0]}+{allowed[1]})")
    if "x" in parts and not has_x:
        raise ConfigError(f"tasks.node_features={t['node_features']!r} needs node features x, "
                          f"which this graph lacks")
    if t["prefetch"] == "auto":
        t["prefetch"] = "thread" if device.type == "cuda" else "off"
    if m["meta_batch"] == "auto":
        m["meta_batch"] = META_BATCH[kind]
    if m["select"] == "auto":
        m["select"] = cfg["eval"]["metric"] if kind == "user-interest" else "accuracy"
    if (m["select"] == "accuracy") != (kind == "few-shot"):
        raise ConfigError(f"meta.select={m['select']}: {kind} tasks are scored by "
                          f"{'accuracy' if kind == 'few-shot' else 'ranking metrics (auc, ndcg@10)'}")
    return cfg


def resolve(cfg: dict, data: Any, device: torch.device | str = "cpu") -> RunSpec:
    """The :class:`RunSpec` of a loaded config (:func:`~graphmeta.config.load_config`)
    on ``data`` and ``device``."""
    from graphmeta.methods import get_method, default_methods
    device = torch.device(device)
    facts = {"has_interests": getattr(data, "interests", None) is not None,
             "has_x": getattr(data, "x", None) is not None, "device": device,
             "n_interests": (data.interests.size(1)
                             if getattr(data, "interests", None) is not None else 0),
             "has_interest_x": getattr(data, "interest_x", None) is not None}
    plain = {k: v for k, v in cfg.items() if k not in ("method_settings", "_explicit")}
    common = _resolve_autos(plain, **facts)
    kind = common["tasks"]["kind"]
    methods = tuple(cfg["methods"]) or tuple(default_methods(kind,
                                                             n_interests=facts["n_interests"]))
    explicit = set(cfg.get("_explicit", ()))
    settings: dict[str, dict[str, Any]] = {}
    # Meta-selection builds its candidates: they need their own settings too.
    selecting = any(get_method(m).family == "meta-selection" for m in methods)
    extra = [c for c in common["selection"]["candidates"] if c not in methods] if selecting else []
    for name in list(methods) + extra:
        try:
            method = get_method(name)
        except KeyError as e:
            raise ConfigError(f"selection.candidates: {e.args[0]}") from None
        if kind not in method.kinds:
            where = "methods" if name in methods else "selection.candidates"
            raise ConfigError(f"{where}: {name!r} does not run on {kind} tasks "
                              f"(known there: {', '.join(default_methods(kind, every=True))})")
        own = {k: v for k, v in method.defaults.items() if k not in explicit}
        own.update(cfg["method_settings"].get(name, {}))
        mine = copy.deepcopy(plain)
        for key, value in own.items():
            set_key(mine, key, check_value(key, value, f"settings of method {name!r}"))
        mine = _resolve_autos(mine, **facts)
        settings[name] = {k: get_key(mine, k) for k in own
                          if get_key(mine, k) != get_key(common, k)}
    return _from_dict(common, methods, settings)


def with_n_way(spec: RunSpec, n_way: int) -> RunSpec:
    """``spec`` with the few-shot ``n_way`` that the class splits allow."""
    return dataclasses.replace(spec, tasks=dataclasses.replace(spec.tasks, n_way=n_way))


__all__ = ["RunSpec", "resolve", "with_n_way"]
