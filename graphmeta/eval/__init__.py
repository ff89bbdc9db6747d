"""Evaluation: the evaluator (the protocol, fixed tasks, scoring), per-user
ranking metrics and the paired statistics."""
from graphmeta.eval.evaluator import Evaluator
from graphmeta.eval.ranking import metric_names, positive_scores, ranking_metrics
from graphmeta.eval.stats import holm, mean_ci, paired_diff, paired_seeds

__all__ = ["Evaluator", "holm", "mean_ci", "metric_names", "paired_diff", "paired_seeds",
           "positive_scores", "ranking_metrics"]
