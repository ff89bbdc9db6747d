from graphmeta.models.encoder import CONVS, GNNEncoder
from graphmeta.models.model import InterestModel, MLPHead

__all__ = ["CONVS", "GNNEncoder", "InterestModel", "MLPHead"]
