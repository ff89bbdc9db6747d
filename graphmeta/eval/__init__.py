"""Evaluation: the evaluator (the protocol, fixed tasks, scoring), per-user
ranking metrics and the paired statistics."""
from graphmeta.eval.evaluator import Evaluator
from graphmeta.eval.ranking import metric_names, positive_scores, ranking_metrics
from graphmeta.eval.stats import mean_ci, paired_diff

__all__ = ["Evaluator", "mean_ci", "metric_names", "paired_diff", "positive_scores",
           "ranking_metrics"]
