"""Tasks: seeded splits, the CSR ego sampler, per-user and few-shot task
drawing, collation into one typed batch, and a prefetching thread."""
from graphmeta.tasks.base import (BatchTransform, Compose, EgoTasks, LazyBatches, SeededStream,
                                  split_ids, split_users)
from graphmeta.tasks.batch import FewShotBatch, GraphBatch, TaskBatch
from graphmeta.tasks.fewshot import Episode, FewShotTasks, structural_features
from graphmeta.tasks.interest import Task, UserInterestTasks
from graphmeta.tasks.prefetch import Prefetcher
from graphmeta.tasks.sampler import EgoSampler, shared_sampler

__all__ = ["BatchTransform", "Compose", "EgoSampler", "EgoTasks", "Episode", "FewShotBatch",
           "FewShotTasks", "GraphBatch", "LazyBatches", "Prefetcher", "SeededStream", "Task",
           "TaskBatch", "UserInterestTasks", "shared_sampler", "split_ids", "split_users",
           "structural_features"]
