from graphmeta.tasks.interest import (Task, TaskBatch, UserInterestTasks,
                                      collate_tasks, split_users)
from graphmeta.tasks.sampler import EgoSampler

__all__ = ["EgoSampler", "Task", "TaskBatch", "UserInterestTasks",
           "collate_tasks", "split_users"]
from graphmeta.tasks.prefetch import Prefetcher  # noqa: E402

__all__.append("Prefetcher")
