from graphmeta.eval.evaluate import evaluate
from graphmeta.eval.metrics import mean_ci, task_metrics

__all__ = ["evaluate", "mean_ci", "task_metrics"]
