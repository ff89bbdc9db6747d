"""Methods: the registry, the settings building blocks, and the built-in
methods (imported here, so they register)."""
from graphmeta.methods.registry import (FAMILIES, KINDS, TRAINING, Context, Learner, Method,
                                        Stage, default_methods, get_method, method_names,
                                        register_method, unregister_method)
from graphmeta.methods.settings import (FinetuneSettings, InnerSettings, MAMLSettings,
                                        MetaRuleSettings, ModelSettings, PretrainSettings,
                                        RuleSettings, TrainSettings)
# Registration order is the order of the default method lists.
from graphmeta.methods import meta  # noqa: E402,F401
from graphmeta.methods import baselines  # noqa: E402,F401
from graphmeta.methods import scorers  # noqa: E402,F401
from graphmeta.methods import selection  # noqa: E402,F401
from graphmeta.methods.meta import MetaLearner
from graphmeta.methods.scorers import SCORERS, InterestScorers

__all__ = ["Context", "FAMILIES", "FinetuneSettings", "InnerSettings", "InterestScorers",
           "KINDS", "Learner", "MAMLSettings", "Method", "MetaLearner", "MetaRuleSettings",
           "ModelSettings", "PretrainSettings", "RuleSettings", "SCORERS", "Stage", "TRAINING",
           "TrainSettings", "default_methods", "get_method", "method_names", "register_method",
           "unregister_method"]
