from graphmeta.meta.losses import QUERY_LOSSES, task_bpr, task_ce, task_loss, task_softmax
from graphmeta.meta.maml import MAML, expand_params, inner_loop, reference_meta_loss
from graphmeta.meta.rules import (RULES, SGD, Adam, InnerRule, LearnedLR, LearnedRule, Momentum,
                                  make_rule)

__all__ = ["MAML", "QUERY_LOSSES", "RULES", "SGD", "Adam", "InnerRule", "LearnedLR", "LearnedRule",
           "Momentum", "expand_params", "inner_loop", "make_rule", "reference_meta_loss",
           "task_bpr", "task_ce", "task_loss", "task_softmax"]
