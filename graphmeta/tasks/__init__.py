from graphmeta.tasks.interest import (Task, TaskBatch, UserInterestTasks,
                                      collate_tasks, split_users)
from graphmeta.tasks.prefetch import Prefetcher
from graphmeta.tasks.sampler import EgoSampler

__all__ = ["EgoSampler", "Prefetcher", "Task", "TaskBatch", "UserInterestTasks",
           "collate_tasks", "split_users"]
