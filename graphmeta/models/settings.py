"""The model's settings (:class:`ModelSettings`): what :func:`interest_model`
and :func:`fewshot_model` build, with the command line's defaults. A
method's settings class extends them with its training keys."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphmeta.models.encoder import CONVS
from graphmeta.models.model import COMBINES
from graphmeta.settings import Facts, Settings, setting

# Above this many interests a learned interest table gets sparse gradients.
SPARSE_FROM = 10_000
# Up to this many named interests the head reads their context features by
# default (chosen on meta-val, docs/DECISIONS.md); above it their [C, C]
# co-occurrence and [T, C, 4] per-batch features cost what the item-item
# scorers do.
CONTEXT_UP_TO = 10_000


@dataclass(frozen=True)
class EncoderSettings(Settings):
    """graphmeta's GNN encoder (:class:`~graphmeta.models.GNNEncoder`)."""
    conv: str = setting("sage", choices=CONVS, doc="PyG dense convolution")
    layers: int = setting(2, low=1)
    hidden: int = setting(64, low=1)
    dropout: float = setting(0.0, low=0, high=1)
    heads: int = setting(4, low=1, doc="attention heads of gat")


@dataclass(frozen=True)
class HeadSettings(Settings):
    """The MLP head (``fc1 -> ReLU -> fc2``) and what it reads."""
    head_hidden: int = setting(64, low=1)
    combine: str = setting("concat-product", choices=COMBINES,
                           doc="user-interest: how the ego and interest embeddings are joined")
    interest_dim: int = setting(32, low=1)
    sparse_grad: Any = setting("auto", auto=bool,
                               doc="learned interest table with sparse gradients and lazy Adam "
                                   "(a step's cost independent of the catalogue); auto: on "
                                   "above 10,000 interests")
    context: Any = setting("auto", auto=bool,
                           doc="user-interest: the head also reads each candidate's popularity, "
                               "co-occurrence with the support positives and (with the "
                               "encoder) frequency among the ego's neighbours and co-occurrence "
                               "with their interests; auto: on for named interests, up to "
                               "10,000 of them")

    def resolve(self, facts: Facts) -> "HeadSettings":
        out = self
        if self.sparse_grad == "auto":
            out = out.replace(sparse_grad=facts.n_interests > SPARSE_FROM)
        if self.context == "auto":    # not for fixed item features (the synthetic setup)
            out = out.replace(context=facts.kind == "user-interest" and not facts.has_interest_x
                              and facts.n_interests <= CONTEXT_UP_TO)
        return super(HeadSettings, out).resolve(facts)


@dataclass(frozen=True)
class ModelSettings(EncoderSettings, HeadSettings):
    """Encoder and head: what :func:`graphmeta.methods.interest_model` builds."""


__all__ = ["CONTEXT_UP_TO", "EncoderSettings", "HeadSettings", "ModelSettings", "SPARSE_FROM"]
