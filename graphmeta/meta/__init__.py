from graphmeta.meta.maml import (MAML, adapt_adam, expand_params, inner_loop, learn_inner_lrs,
                                 reference_meta_loss, task_ce, weights)

__all__ = ["MAML", "adapt_adam", "expand_params", "inner_loop", "learn_inner_lrs",
           "reference_meta_loss", "task_ce", "weights"]
