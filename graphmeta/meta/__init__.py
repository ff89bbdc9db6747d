from graphmeta.meta.maml import (MAML, adapt_adam, expand_params, inner_loop,
                                 reference_meta_loss, task_ce)

__all__ = ["MAML", "adapt_adam", "expand_params", "inner_loop",
           "reference_meta_loss", "task_ce"]
