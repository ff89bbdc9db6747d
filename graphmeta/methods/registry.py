"""The method registry: every method graphmeta can train and score, declared once.

A method is a name, the task kinds it runs on, how it is trained
(``"meta"``: meta-iterations; ``"pretrain"``: pre-training iterations;
``"custom"``: its own :meth:`Learner.fit`; ``"none"``), its settings class
(keys, defaults, ranges and tuning values, :mod:`graphmeta.settings`) and a
builder that returns its :class:`Learner`. The learner's ``state_dict`` is
the method's checkpoint. Register your own method from outside the
package, as PyG users subclass ``MessagePassing``::

    from graphmeta.methods import Learner, TrainSettings, register_method

    @dataclass(frozen=True)
    class ReptileSettings(ModelSettings, TrainSettings):
        inner_steps: int = setting(5, low=1, search=[1, 5, 10])

    @register_method("reptile", kinds=("user-interest", "few-shot"), training="meta",
                     config=ReptileSettings, description="Reptile (Nichol et al., 2018)")
    def build_reptile(ctx):
        return Reptile(ctx)

(``examples/custom_method.py`` is that, whole.)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

import torch
from torch import Tensor, nn

from graphmeta import distributed
from graphmeta.eval import Evaluator
from graphmeta.settings import Settings
from graphmeta.tasks import EgoTasks

KINDS = ("user-interest", "few-shot")
TRAINING = ("meta", "pretrain", "custom", "none")
# The three families of meta-learning, and the baselines they are judged against.
FAMILIES = ("meta-parameter", "meta-rule", "meta-selection", "baseline")
# Top-level config names a method may not take.
RESERVED = ("seed", "methods", "dataset", "synthetic", "tasks", "eval", "run", "*")


@dataclass(frozen=True)
class Context:
    """What a method's builder gets: its own resolved settings, the task
    kind and sampler, the device, the training seed (model initialisation
    and training batches; the data, splits and test tasks follow the run's
    seed), the meta-val metric, and the trained learners of the methods it
    is built from (``depends``: a meta-selector's candidates)."""
    method: str
    settings: Any
    tasks: EgoTasks
    device: torch.device = torch.device("cpu")
    seed: int = 0
    select: str = "auc"
    trained: Mapping[str, "Learner"] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.tasks.kind


@dataclass
class Stage:
    """One stage of a learner's training: Adam at rate ``lr`` on ``loss``
    over ``batches()`` for ``iterations`` steps, validated every
    ``eval_every``; the best meta-val state is kept at its end. ``rate_key``
    names the setting ``lr`` comes from (for messages)."""
    iterations: int
    lr: float
    loss: Callable[[Any], Tensor]
    batches: Callable[[], Iterator[Any]]
    eval_every: int
    rate_key: str
    name: str = ""


class Learner(nn.Module):
    """What a method trains and scores; its ``state_dict`` is the checkpoint.

    Subclasses implement :meth:`predict` and, for ``"meta"`` and
    ``"pretrain"`` training, :meth:`training_loss` (or :meth:`stages`, for
    several): the training loop draws batches from :meth:`train_batches` (by
    default meta-batches of meta-train tasks), optimises ``parameters()``
    with Adam, validates with :meth:`predict` and keeps the best state.
    ``"custom"`` training calls :meth:`fit` instead.
    """

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx

    @property
    def settings(self) -> Any:
        """The method's own resolved settings."""
        return self.ctx.settings

    def train_batches(self) -> Iterator[Any]:
        """Training batches (on the CPU; the loop moves them to the device):
        meta-batches of ``settings.meta_batch`` meta-train tasks, with the
        query sets ``settings.train_query`` asks for on user-interest tasks;
        in a distributed run, this rank's share of each."""
        tasks, s = self.ctx.tasks, self.settings
        if self.ctx.kind == "user-interest":
            return tasks.batches("train", s.meta_batch, seed=self.ctx.seed,
                                 full=s.train_query == "full", shard=distributed.shard())
        return tasks.batches("train", s.meta_batch, seed=self.ctx.seed, shard=distributed.shard())

    def training_loss(self, batch: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} is not trained")

    def stages(self) -> list[Stage]:
        """The training stages (by default one: :meth:`training_loss` over
        :meth:`train_batches` for ``settings.iterations`` at ``meta_lr``)."""
        s = self.settings
        return [Stage(s.iterations, s.meta_lr, self.training_loss, self.train_batches,
                      s.eval_every, f"{self.ctx.method}.meta_lr")]

    def fit(self, evaluator: Evaluator, progress: bool = False) -> list[dict]:
        """``"custom"`` training, with the evaluator's meta-val tasks at hand;
        returns history rows for ``metrics.csv``."""
        raise NotImplementedError(f"{type(self).__name__} has no custom training")

    def report(self, batches: Iterable[Any], score: Callable[[Tensor, Any], dict]
               ) -> Optional[dict]:
        """What the method has to say about its predictions on ``batches``
        beyond their scores, for ``results.json`` (a selector's choices);
        ``None`` by default."""
        return None

    @property
    def adapt_steps(self) -> Optional[int]:
        """The inner steps :meth:`predict` adapts by (``None``: it does not
        adapt by steps)."""
        return None

    def predict(self, batch: Any, steps: Optional[int] = None) -> Tensor:
        """Query scores after the method's own adaptation to the support
        sets: ``[T, Q]`` (higher ranks first) on user-interest tasks, logits
        ``[T, Q, N]`` on few-shot episodes. ``steps`` overrides the inner
        steps of a method that adapts by steps (:attr:`adapt_steps`)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Method:
    """A registered method (see :func:`register_method`)."""
    name: str
    build: Callable[[Context], Learner]
    kinds: tuple[str, ...]
    training: str
    family: str
    config: type[Settings]
    description: str = ""
    default_for: tuple[str, ...] = ()
    seeded: bool = True
    max_interests: Optional[int] = None
    depends: Optional[Callable[[Any], list[str]]] = None

    @property
    def checkpointed(self) -> bool:
        """Trained methods save their learner's state; the others are rebuilt."""
        return self.training != "none"

    @property
    def baseline(self) -> bool:
        return self.family == "baseline"

    def search_space(self, kind: str, facts: Any = None) -> dict[str, Any]:
        """The settings tuning may choose from on ``kind`` tasks (lists of
        values or :class:`~graphmeta.settings.Range`, capped by ``facts``)."""
        return self.config.search_space(kind, facts)

    def dependencies(self, settings: Any) -> list[str]:
        """The methods this one is built from, trained first (its candidates)."""
        return list(self.depends(settings)) if self.depends is not None else []


_METHODS: dict[str, Method] = {}


def register_method(name: str, *, kinds: tuple[str, ...], training: str,
                    config: type[Settings] = Settings, family: str = "meta-parameter",
                    description: str = "", default_for: tuple[str, ...] = (),
                    seeded: bool = True, max_interests: Optional[int] = None,
                    depends: Optional[Callable[[Any], list[str]]] = None
                    ) -> Callable[[Callable[[Context], Learner]], Callable[[Context], Learner]]:
    """Registers ``build(ctx) -> Learner`` as method ``name``.

    Args:
        kinds: Task kinds it runs on (``"user-interest"``, ``"few-shot"``).
        training: ``"meta"``, ``"pretrain"``, ``"custom"`` (:meth:`Learner.fit`)
            or ``"none"``.
        config: Its settings class (a frozen dataclass of
            :class:`~graphmeta.settings.Settings`): its keys, defaults,
            ranges and tuning values (``search``), set as ``NAME.KEY`` and
            checked like every other key. ``ctx.settings`` is the resolved
            instance.
        family: ``"meta-parameter"``, ``"meta-rule"``, ``"meta-selection"``
            or ``"baseline"`` (tables pair every method with the best
            baseline).
        description: One line for ``--help`` and the docs.
        default_for: Task kinds whose default method list includes it.
        seeded: Whether results depend on the training seed (``False`` for
            deterministic scorers, which then run once).
        max_interests: Left out of default lists above this many interests
            (methods that hold item-item matrices).
        depends: ``settings -> method names`` this method is built from:
            the run trains them first, at the same seed, and passes them in
            ``ctx.trained``.

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
    if name in RESERVED or "." in name:
        raise ValueError(f"method {name!r}: a method cannot be called {name!r} "
                         f"(reserved: {', '.join(RESERVED)}; no dots)")
    if not (isinstance(config, type) and issubclass(config, Settings)):
        raise ValueError(f"method {name!r}: config must be a Settings dataclass, got {config!r}")

    def deco(build: Callable[[Context], Learner]) -> Callable[[Context], Learner]:
        old = _METHODS.get(name)
        if old is not None and (old.build.__module__, old.build.__qualname__) != \
                (build.__module__, build.__qualname__):
            raise ValueError(f"method {name!r} is already registered "
                             f"(by {old.build.__module__}.{old.build.__qualname__})")
        _METHODS[name] = Method(name, build, tuple(kinds), training, family, config,
                                description, tuple(default_for), seeded, max_interests, depends)
        return build
    return deco


def unregister_method(name: str) -> None:
    """Removes a registered method (no error if it is absent)."""
    _METHODS.pop(name, None)


def get_method(name: str) -> Method:
    """The registered :class:`Method` called ``name`` (a ``KeyError`` naming
    the known ones otherwise)."""
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


__all__ = ["Context", "FAMILIES", "KINDS", "Learner", "Method", "Stage", "TRAINING",
           "default_methods",
           "get_method", "method_names", "register_method", "unregister_method"]
