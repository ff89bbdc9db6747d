"""The meta-learning core: batched MAML on any ``nn.Module``, inner-loop
rules and per-task losses. Imports nothing from graphmeta outside this
package (a test checks it), so research code can use it alone."""
from graphmeta.meta.losses import QUERY_LOSSES, task_bpr, task_ce, task_loss, task_softmax
from graphmeta.meta.maml import (MAML, Adapter, BatchedModule, MetaBatch, expand_params,
                                 inner_loop, reference_meta_loss, row_sparse_params,
                                 selected_names)
from graphmeta.meta.rules import (RULES, SGD, Adam, InnerRule, LearnedLR, LearnedRule, Momentum,
                                  make_rule)

__all__ = ["MAML", "QUERY_LOSSES", "RULES", "SGD", "Adam", "Adapter", "BatchedModule",
           "InnerRule", "LearnedLR", "LearnedRule", "MetaBatch", "Momentum", "expand_params",
           "inner_loop", "make_rule", "reference_meta_loss", "row_sparse_params",
           "selected_names", "task_bpr", "task_ce", "task_loss", "task_softmax"]
