from graphmeta.tasks.base import EgoTasks, SeededStream, split_ids, split_users
from graphmeta.tasks.batch import FewShotBatch, GraphBatch, MetaBatch, TaskBatch
from graphmeta.tasks.fewshot import Episode, FewShotTasks, structural_features
from graphmeta.tasks.interest import Task, UserInterestTasks
from graphmeta.tasks.prefetch import Prefetcher
from graphmeta.tasks.sampler import EgoSampler

__all__ = ["EgoSampler", "EgoTasks", "Episode", "FewShotBatch", "FewShotTasks", "GraphBatch",
           "MetaBatch", "Prefetcher", "SeededStream", "Task", "TaskBatch", "UserInterestTasks", "split_ids",
           "split_users", "structural_features"]
