"""Models: any encoder module (dense modules run batched, message passing task
by task: :mod:`graphmeta.models.batched`), graphmeta's default encoder of
PyG dense convolutions, the classic MLP head and the two task kinds' models."""
from graphmeta.models.batched import BatchedPathError, describe, encode_egos, encode_graph
from graphmeta.models.encoder import CONVS, GNNEncoder, dense_conv
from graphmeta.models.fewshot import FewShotClassifier, PrototypeClassifier
from graphmeta.models.model import InterestModel, MLPHead
from graphmeta.models.settings import EncoderSettings, HeadSettings, ModelSettings
from graphmeta.models.build import fewshot_model, interest_model  # noqa: E402 (uses the above)

__all__ = ["BatchedPathError", "CONVS", "EncoderSettings", "FewShotClassifier", "GNNEncoder",
           "HeadSettings", "InterestModel", "MLPHead", "ModelSettings", "PrototypeClassifier",
           "dense_conv", "describe", "encode_egos", "encode_graph", "fewshot_model",
           "interest_model"]
