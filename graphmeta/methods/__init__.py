"""Methods: the registry and the built-in methods (imported here, so they register)."""
from graphmeta.methods.registry import (KINDS, TRAINING, Context, Learner, Method,
                                        default_methods, get_method, method_names,
                                        register_method, unregister_method)
# Registration order is the order of the default method lists.
from graphmeta.methods import meta  # noqa: E402,F401
from graphmeta.methods import baselines  # noqa: E402,F401
from graphmeta.methods import scorers  # noqa: E402,F401
from graphmeta.methods import selection  # noqa: E402,F401
from graphmeta.methods.meta import MetaLearner
from graphmeta.methods.scorers import SCORERS, InterestScorers

__all__ = ["Context", "InterestScorers", "KINDS", "Learner", "Method", "MetaLearner", "SCORERS",
           "TRAINING", "default_methods", "get_method", "method_names", "register_method",
           "unregister_method"]
