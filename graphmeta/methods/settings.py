"""The built-in methods' settings: building blocks that a method's settings
class combines (a plug-in's too), each key with its default, range and
tuning values. ``--set maml.inner_steps=10`` sets one method's key;
``--set '*.iterations=200'`` sets it for every method of the run that has
it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphmeta.meta.losses import QUERY_LOSSES
from graphmeta.meta.rules import RULES
from graphmeta.models.settings import EncoderSettings, HeadSettings, ModelSettings
from graphmeta.settings import Facts, Settings, setting

META_BATCH = {"user-interest": 32, "few-shot": 4}


@dataclass(frozen=True)
class TrainSettings(Settings):
    """Meta-training: Adam on the meta-loss, meta-val every ``eval_every``."""
    iterations: int = setting(1000, low=1)
    meta_lr: float = setting(0.001, positive=True, search=[3e-4, 1e-3, 3e-3])
    meta_batch: Any = setting("auto", auto=int, low=1,
                              doc="auto: 32 user-interest tasks, 4 few-shot episodes")
    eval_every: int = setting(50, low=1)
    train_query: str = setting("sampled", choices=("sampled", "full"),
                               doc="user-interest training query sets: n_query positives and "
                                   "negatives, or every non-support interest")

    def resolve(self, facts: Facts) -> "TrainSettings":
        out = self
        if self.meta_batch == "auto":
            out = out.replace(meta_batch=META_BATCH[facts.kind])
        return super(TrainSettings, out).resolve(facts)


@dataclass(frozen=True)
class InnerSettings(Settings):
    """The inner loop: steps of the inner rule on the support set."""
    inner_steps: int = setting(5, low=0, search=[1, 3, 5])
    inner_lr: float = setting(0.1, low=0, search=[0.03, 0.1, 0.3],
                              doc="the inner rule's (initial) rate")
    query_loss: str = setting("ce", choices=QUERY_LOSSES,
                              doc="outer loss on query sets: cross-entropy, class-balanced, "
                                  "pairwise ranking (BPR) or listwise softmax")


@dataclass(frozen=True)
class RuleSettings(Settings):
    """The inner loop's update rule (plain SGD, or a learned one)."""
    inner_rule: str = setting("sgd", choices=tuple(RULES), search=["sgd", "lslr"],
                              doc="lslr: learned rate per tensor and step (MAML++); metasgd: "
                                  "learned rate per element; learned: a learned update network")


@dataclass(frozen=True)
class MAMLSettings(ModelSettings, InnerSettings, RuleSettings, TrainSettings):
    """maml, fomaml, anil."""


@dataclass(frozen=True)
class MLPSettings(HeadSettings, InnerSettings, RuleSettings, TrainSettings):
    """maml-mlp: the head alone, on the ego's own features."""


@dataclass(frozen=True)
class MetaRuleSettings(ModelSettings, InnerSettings, TrainSettings):
    """metasgd and learned-rule: the rule is the method's own."""


@dataclass(frozen=True)
class PretrainSettings(Settings):
    """Pre-training of one model on all meta-train users (finetune,
    meta-baseline): iterations and Adam's learning rate."""
    pretrain_iterations: int = setting(1000, low=1)
    pretrain_lr: float = setting(0.001, positive=True, search=[3e-4, 1e-3, 3e-3])


@dataclass(frozen=True)
class ScratchSettings(ModelSettings):
    """scratch: a random initialisation trained on the support set (Adam)."""
    inner_rule: str = setting("adam", choices=tuple(RULES))
    inner_steps: int = setting(100, low=0, search=[10, 30, 100, 300])
    inner_lr: float = setting(0.01, positive=True, search=[0.001, 0.003, 0.01, 0.03])


@dataclass(frozen=True)
class FinetuneSettings(ModelSettings, PretrainSettings):
    """finetune: pre-training on meta-train users, then adaptation to the
    support set: on user-interest tasks by the inner rule (5 SGD steps of
    0.1 by default), on few-shot episodes by Adam (100 steps of 0.01)."""
    inner_steps: Any = setting("auto", auto=int, low=0,
                               search={"user-interest": [0, 1, 3, 5, 10],
                                       "few-shot": [10, 30, 100, 300]},
                               doc="auto: 5 on user-interest tasks, 100 on few-shot")
    inner_lr: Any = setting("auto", auto=float, low=0,
                            search={"user-interest": [0.01, 0.03, 0.1, 0.3],
                                    "few-shot": [0.001, 0.003, 0.01, 0.03]},
                            doc="auto: 0.1 on user-interest tasks, 0.01 on few-shot")
    inner_rule: str = setting("auto", choices=("auto", *RULES),
                              doc="auto: sgd on user-interest tasks, adam on few-shot")
    query_loss: str = setting("ce", choices=QUERY_LOSSES, doc="user-interest pre-training loss")
    meta_batch: Any = setting("auto", auto=int, low=1,
                              doc="tasks per pre-training batch (few-shot: 4 x meta_batch x "
                                  "n_way users); auto as maml's")
    eval_every: int = setting(50, low=1)
    train_query: str = setting("sampled", choices=("sampled", "full"))

    def resolve(self, facts: Facts) -> "FinetuneSettings":
        fs = facts.kind == "few-shot"
        out = self.replace(
            inner_steps=(100 if fs else 5) if self.inner_steps == "auto" else self.inner_steps,
            inner_lr=(0.01 if fs else 0.1) if self.inner_lr == "auto" else float(self.inner_lr),
            inner_rule=("adam" if fs else "sgd") if self.inner_rule == "auto" else self.inner_rule,
            meta_batch=META_BATCH[facts.kind] if self.meta_batch == "auto" else self.meta_batch)
        return super(FinetuneSettings, out).resolve(facts)


@dataclass(frozen=True)
class ProtoSettings(EncoderSettings, TrainSettings):
    """protonet: episodic training, no inner loop."""
    hidden: int = setting(64, low=1, search=[32, 64, 128])


@dataclass(frozen=True)
class GMetaSettings(EncoderSettings, InnerSettings, RuleSettings, TrainSettings):
    """gmeta: the prototypical loss inside MAML. Its own inner rate: its
    logits are unbounded squared distances, and 0.1 sent its inner loop to
    NaN on lastfm-asia."""
    inner_lr: float = setting(0.01, low=0, search=[0.003, 0.01, 0.03])


@dataclass(frozen=True)
class MetaBaselineSettings(EncoderSettings, TrainSettings, PretrainSettings):
    """meta-baseline: classifier pre-training, then cosine-prototype
    meta-training."""
    head_hidden: int = setting(64, low=1, doc="the pre-training classifier's fc1")


__all__ = ["EncoderSettings", "FinetuneSettings", "GMetaSettings",
           "HeadSettings", "InnerSettings", "MAMLSettings", "META_BATCH", "MLPSettings",
           "MetaBaselineSettings", "MetaRuleSettings", "ModelSettings", "PretrainSettings",
           "ProtoSettings", "RuleSettings", "ScratchSettings", "TrainSettings"]
