from graphmeta.eval.metrics import mean_ci, task_metrics

__all__ = ["mean_ci", "task_metrics"]
