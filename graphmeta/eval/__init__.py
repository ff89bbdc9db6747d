from graphmeta.eval.evaluate import evaluate
from graphmeta.eval.ranking import metric_names, ranking_metrics
from graphmeta.eval.stats import mean_ci, paired_diff

__all__ = ["evaluate", "mean_ci", "metric_names", "paired_diff", "ranking_metrics"]
