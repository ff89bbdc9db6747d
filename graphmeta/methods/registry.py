"""The method registry: every method graphmeta can train and score, declared once.

A method is a name, the task kinds it runs on, how it is trained
(``"meta"``: meta-iterations of :attr:`MetaConfig`; ``"pretrain"``:
``baselines.pretrain_*``; ``"none"``), a builder that returns its
:class:`Learner`, and the config settings it changes unless the user sets
them. The learner's ``state_dict`` is the method's checkpoint. Register your
own method from outside the package, as PyG users subclass
``MessagePassing``::

    from graphmeta.methods import Learner, register_method

    @register_method("reptile", kinds=("user-interest", "few-shot"), training="meta",
                     description="Reptile (Nichol et al., 2018)")
    def build_reptile(ctx):
        return Reptile(ctx)

(``examples/custom_method.py`` is that, whole.)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from graphmeta.spec import RunSpec
    from graphmeta.tasks import EgoTasks, MetaBatch

KINDS = ("user-interest", "few-shot")
TRAINING = ("meta", "pretrain", "custom", "none")
# The three families of meta-learning, and the baselines they are judged against.
FAMILIES = ("meta-parameter", "meta-rule", "meta-selection", "baseline")
Search = Mapping[str, Sequence[Any]]


@dataclass(frozen=True)
class Context:
    """What a method's builder gets: the run spec as this method runs it, the
    task sampler, the device and the training seed (model initialisation
    and training batches; the data, splits and test tasks follow
    ``spec.seed``)."""
    method: str
    spec: "RunSpec"
    tasks: "EgoTasks"
    device: torch.device
    seed: int = 0
    # The run's trained learner of another method at a seed (meta-selection
    # reuses its candidates); None outside a run: such methods train their own.
    trained: Optional[Callable[[str, int], "Learner"]] = None


class Learner(nn.Module):
    """What a method trains and scores; its ``state_dict`` is the checkpoint.

    Subclasses implement :meth:`predict` and, for ``"meta"`` and
    ``"pretrain"`` training, :meth:`training_loss`: the training loop draws
    batches from :meth:`train_batches` (by default meta-batches of meta-train
    tasks), optimises ``parameters()`` with Adam, validates with
    :meth:`predict` and keeps the best state. ``"custom"`` training calls
    :meth:`fit` instead.
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    @property
    def spec(self) -> "RunSpec":
        return self.ctx.spec

    def train_batches(self) -> Iterator[Any]:
        """Training batches (on the CPU; the loop moves them to the device):
        meta-batches of meta-train tasks, with the query sets
        ``tasks.train_query`` asks for on user-interest tasks."""
        from graphmeta import distributed
        tasks, spec = self.ctx.tasks, self.spec
        if spec.kind == "user-interest":
            return tasks.batches("train", spec.meta.meta_batch, seed=self.ctx.seed,
                                 full=spec.tasks.train_query == "full",
                                 shard=distributed.shard())
        return tasks.batches("train", spec.meta.meta_batch, seed=self.ctx.seed,
                             shard=distributed.shard())

    def training_loss(self, batch: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} is not trained")

    def fit(self, val: Iterable[Any], progress: bool = False) -> list[dict]:
        """``"custom"`` training: train with meta-val batches ``val`` at
        hand; returns history rows for ``metrics.csv``."""
        raise NotImplementedError(f"{type(self).__name__} has no custom training")

    def predict(self, batch: "MetaBatch") -> Tensor:
        """Query scores after the method's own adaptation to the support
        sets: probabilities ``[T, Q]`` on user-interest tasks, logits
        ``[T, Q, N]`` on few-shot episodes."""
        raise NotImplementedError


@dataclass(frozen=True)
class Method:
    """A registered method (see :func:`register_method`)."""
    name: str
    build: Callable[[Context], Learner]
    kinds: tuple[str, ...]
    training: str
    family: str
    description: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    default_for: tuple[str, ...] = ()
    search: Search | Callable[[str], Search] = field(default_factory=dict)
    seeded: bool = True
    max_interests: Optional[int] = None

    @property
    def checkpointed(self) -> bool:
        """Trained methods save their learner's state; the others are rebuilt."""
        return self.training != "none"

    @property
    def baseline(self) -> bool:
        return self.family == "baseline"

    def search_space(self, kind: str) -> dict[str, list[Any]]:
        """The settings tuning may choose from on ``kind`` tasks."""
        space = self.search(kind) if callable(self.search) else self.search
        return {k: list(v) for k, v in space.items()}


_METHODS: dict[str, Method] = {}


def register_method(name: str, *, kinds: tuple[str, ...], training: str,
                    family: str = "meta-parameter", description: str = "",
                    defaults: Mapping[str, Any] | None = None, default_for: tuple[str, ...] = (),
                    search: Search | Callable[[str], Search] | None = None, seeded: bool = True,
                    max_interests: Optional[int] = None
                    ) -> Callable[[Callable[[Context], Learner]], Callable[[Context], Learner]]:
    """Registers ``build(ctx) -> Learner`` as method ``name``.

    Args:
        kinds: Task kinds it runs on (``"user-interest"``, ``"few-shot"``).
        training: ``"meta"``, ``"pretrain"``, ``"custom"`` (:meth:`Learner.fit`)
            or ``"none"``.
        family: ``"meta-parameter"``, ``"meta-rule"``, ``"meta-selection"``
            or ``"baseline"`` (tables pair every method with the best
            baseline). Only meta-selection methods read the ``selection``
            section: the others' saved states do not record it, so editing
            it on ``--resume`` does not train them again.
        description: One line for ``--help`` and the docs.
        defaults: Dotted config settings this method uses unless the config
            sets them (``{"meta.inner_lr": 0.01}``).
        default_for: Task kinds whose default method list includes it.
        max_interests: Left out of default lists above this many interests
            (methods that hold item-item matrices).
        search: What tuning (``eval.tune``) may choose from: dotted keys to
            candidate values, or a function of the task kind returning that.
        seeded: Whether results depend on the training seed (``False`` for
            deterministic scorers, which then run once).

    Registering the same builder again (a re-run notebook cell) replaces it;
    another builder under a taken name is an error.
    """
    bad = set(kinds) - set(KINDS)
    if not kinds or bad:
        raise ValueError(f"method {name!r}: kinds must be some of {KINDS}, got {kinds}")
    if training not in TRAINING:
        raise ValueError(f"method {name!r}: training must be one of {TRAINING}, got {training!r}")
    if family not in FAMILIES:
        raise ValueError(f"method {name!r}: family must be one of {FAMILIES}, got {family!r}")
    if not set(default_for) <= set(kinds):
        raise ValueError(f"method {name!r}: default_for {default_for} is not within kinds {kinds}")

    def deco(build: Callable[[Context], Learner]) -> Callable[[Context], Learner]:
        old = _METHODS.get(name)
        if old is not None and (old.build.__module__, old.build.__qualname__) != \
                (build.__module__, build.__qualname__):
            raise ValueError(f"method {name!r} is already registered "
                             f"(by {old.build.__module__}.{old.build.__qualname__})")
        _METHODS[name] = Method(name, build, tuple(kinds), training, family, description,
                                dict(defaults or {}), tuple(default_for), search or {}, seeded,
                                max_interests)
        return build
    return deco


def unregister_method(name: str) -> None:
    """Removes a registered method (no error if it is absent)."""
    _METHODS.pop(name, None)


def get_method(name: str) -> Method:
    if name not in _METHODS:
        raise KeyError(f"unknown method {name!r} (known: {', '.join(method_names())})")
    return _METHODS[name]


def method_names(kind: str | None = None) -> list[str]:
    """Registered methods, in registration order (those running on ``kind``)."""
    return [n for n, m in _METHODS.items() if kind is None or kind in m.kinds]


def default_methods(kind: str, every: bool = False, n_interests: int = 0) -> list[str]:
    """What an empty ``methods`` list runs on ``kind`` (``every``: all that
    can) for a catalogue of ``n_interests``."""
    return [n for n, m in _METHODS.items()
            if kind in m.kinds and (every or kind in m.default_for)
            and (every or m.max_interests is None or n_interests <= m.max_interests)]


__all__ = ["Context", "FAMILIES", "KINDS", "Learner", "Method", "TRAINING", "default_methods",
           "get_method", "method_names", "register_method", "unregister_method"]
