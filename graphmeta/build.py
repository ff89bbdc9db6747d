"""The graph and the task sampler of a run spec."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Data

from graphmeta import datasets
from graphmeta.features import ContextFeatures
from graphmeta.schema import DatasetConfig, SyntheticConfig
from graphmeta.spec import RunSpec
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import EgoTasks, FewShotTasks, UserInterestTasks


def build_data(dataset: DatasetConfig, synthetic: SyntheticConfig, seed: int) -> Data:
    """The graph named by ``dataset.name``: the synthetic generator (with
    ``synthetic``'s settings), a registered dataset, or a folder with
    ``edges.csv`` (a registered name wins over a folder of the same name:
    write ``./NAME`` for the folder)."""
    name = dataset.name
    if name == "synthetic":
        s = synthetic
        return make_social_graph(s.n_users, s.n_items, s.n_features, graph=s.graph,
                                 homophily=s.homophily, feature_noise=s.feature_noise,
                                 n_blocks=s.n_blocks, p_in=s.p_in, p_out=s.p_out, ba_m=s.ba_m,
                                 seed=seed)
    # A registered name wins over a folder of that name in the working
    # directory (as graphmeta.run.located decides too); ./NAME is the folder.
    if name in datasets.names():
        return datasets.load(name, root=dataset.root or None)
    if Path(name).is_dir():  # --dataset PATH: edges.csv + interests.json
        return datasets.from_folder(name)
    raise ValueError(f"dataset.name: unknown dataset {name!r} (known: synthetic, "
                     f"{', '.join(datasets.names())}, or a folder with edges.csv)")


def standardize(x: Tensor) -> Tensor:
    """Each column of ``x`` at zero mean and unit variance over the nodes (a
    constant column at zero)."""
    x = x.float() if not x.is_floating_point() else x
    std = x.std(0, keepdim=True)
    return (x - x.mean(0, keepdim=True)) / torch.where(std > 0, std, torch.ones_like(std))


def build_tasks(spec: RunSpec, data: Data, context: bool = False) -> EgoTasks:
    """The task sampler of ``spec.tasks``; with ``context``, user-interest
    batches carry :class:`~graphmeta.features.ContextFeatures`; with
    ``tasks.scale_x: standard`` the node features are standardised first."""
    t = spec.tasks
    if t.scale_x == "standard" and getattr(data, "x", None) is not None:
        data = data.clone()
        data.x = standardize(data.x)
    common = dict(k_shot=t.k_shot, n_query=t.n_query, hops=t.hops, max_nodes=t.max_nodes,
                  seed=spec.seed, node_features=t.node_features)
    if spec.kind == "few-shot":
        return FewShotTasks(data, n_way=t.n_way, class_split=t.class_split, **common)
    return UserInterestTasks(data, split=t.split, negatives=t.negatives,
                             transform=ContextFeatures() if context else None, **common)


__all__ = ["build_data", "build_tasks", "standardize"]
