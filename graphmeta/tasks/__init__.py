from graphmeta.tasks.fewshot import (Episode, FewShotBatch, FewShotTasks, GraphBatch,
                                     structural_features)
from graphmeta.tasks.interest import (Task, TaskBatch, UserInterestTasks,
                                      collate_tasks, split_users)
from graphmeta.tasks.prefetch import Prefetcher
from graphmeta.tasks.sampler import EgoSampler

__all__ = ["EgoSampler", "Episode", "FewShotBatch", "FewShotTasks", "GraphBatch", "Prefetcher",
           "Task", "TaskBatch", "UserInterestTasks", "collate_tasks", "split_users",
           "structural_features"]
