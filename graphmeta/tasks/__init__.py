from graphmeta.tasks.interest import (Task, TaskBatch, UserInterestTasks,
                                      collate_tasks, split_users)
from graphmeta.tasks.sampler import EgoSampler

__all__ = ["EgoSampler", "Task", "TaskBatch", "UserInterestTasks",
           "collate_tasks", "split_users"]
