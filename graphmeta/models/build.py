"""One call from a task sampler to a model, with the command line's defaults.

>>> tasks = UserInterestTasks(data, transform=ContextFeatures())
>>> model = interest_model(tasks)                      # GNN encoder + MLP head
>>> model = interest_model(tasks, encoder=MyEncoder(...))   # your own encoder
"""
from __future__ import annotations

from typing import Any, Optional

from torch import nn

from graphmeta.models.encoder import GNNEncoder
from graphmeta.models.fewshot import FewShotClassifier, PrototypeClassifier
from graphmeta.models.model import InterestModel
from graphmeta.models.settings import EncoderSettings, HeadSettings, ModelSettings
from graphmeta.settings import ConfigError, Facts
from graphmeta.tasks import EgoTasks, FewShotTasks, UserInterestTasks


def task_facts(tasks: EgoTasks) -> Facts:
    """What ``"auto"`` settings are resolved from, read off a task sampler."""
    return Facts.from_data(tasks.data, tasks.kind)


def _settings(cls: type, settings: Optional[Any], overrides: dict, tasks: EgoTasks) -> Any:
    s = settings if settings is not None else cls()
    if overrides:
        s = s.replace(**{k: s.check(k, v, "interest_model") for k, v in overrides.items()})
    return s.resolve(task_facts(tasks))


def gnn_encoder(tasks: EgoTasks, settings: EncoderSettings) -> GNNEncoder:
    """graphmeta's encoder over the tasks' node features."""
    return GNNEncoder(tasks.node_x.size(1), settings.hidden, settings.layers, settings.conv,
                      settings.dropout, settings.heads)


def interest_model(tasks: UserInterestTasks, settings: Optional[HeadSettings] = None, *,
                   graph: bool = True, encoder: Optional[nn.Module] = None,
                   encoder_dim: Optional[int] = None, **overrides: Any) -> InterestModel:
    """The user-interest model for ``tasks``: an encoder over their node
    features (``encoder``, else :class:`GNNEncoder` from ``settings``; none
    with ``graph=False``: the ego's own features), an interest embedding
    (fixed item features where the graph has ``interest_x``) and the MLP
    head, which reads the context features the tasks' batches carry
    (:class:`~graphmeta.features.ContextFeatures`).

    ``settings`` (:class:`ModelSettings`, default: the command line's) and
    keyword ``overrides`` (``hidden=128``) choose the sizes; ``encoder_dim``
    is your ``encoder``'s output size where it has no ``out_channels``."""
    s = _settings(ModelSettings, settings, overrides, tasks)
    carried = tasks.item_features
    if s.context and not carried:
        raise ConfigError("context=True: the head reads per-interest context features, which "
                          "these tasks' batches do not carry; build the tasks with "
                          "transform=graphmeta.features.ContextFeatures()")
    context = [i for i, name in enumerate(carried) if graph or "neighbour" not in name] \
        if s.context else []
    if encoder is None and graph:
        encoder = gnn_encoder(tasks, s)
    data = tasks.data
    kw: dict[str, Any] = ({"interest_x": data.interest_x}
                          if getattr(data, "interest_x", None) is not None
                          else {"num_interests": tasks.num_interests,
                                "interest_dim": s.interest_dim,
                                "sparse_grad": bool(s.sparse_grad)})
    return InterestModel(tasks.node_x.size(1), encoder if graph else None, combine=s.combine,
                         head_hidden=s.head_hidden, context=context,
                         encoder_dim=encoder_dim if graph else None, **kw)


def fewshot_model(tasks: FewShotTasks, settings: Optional[EncoderSettings] = None, *,
                  prototypes: bool = False, encoder: Optional[nn.Module] = None,
                  encoder_dim: Optional[int] = None,
                  **overrides: Any) -> FewShotClassifier | PrototypeClassifier:
    """An ``N``-way classifier (encoder + MLP head), or prototype logits, for
    few-shot ``tasks``; ``encoder_dim`` is your ``encoder``'s output size
    where it has no ``out_channels``."""
    s = _settings(ModelSettings, settings, overrides, tasks)
    encoder = encoder if encoder is not None else gnn_encoder(tasks, s)
    if prototypes:
        return PrototypeClassifier(encoder)
    return FewShotClassifier(encoder, tasks.n_way, getattr(s, "head_hidden", 64), encoder_dim)


__all__ = ["fewshot_model", "gnn_encoder", "interest_model", "task_facts"]
