from graphmeta.models.encoder import CONVS, GNNEncoder
from graphmeta.models.fewshot import FewShotClassifier, PrototypeClassifier
from graphmeta.models.model import InterestModel, MLPHead

__all__ = ["CONVS", "FewShotClassifier", "GNNEncoder", "InterestModel", "MLPHead",
           "PrototypeClassifier"]
