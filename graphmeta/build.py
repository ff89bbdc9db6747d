"""Objects from the run spec: the graph, the task sampler and the models."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from torch_geometric.data import Data

from graphmeta.models import FewShotClassifier, GNNEncoder, InterestModel, PrototypeClassifier
from graphmeta.spec import RunSpec
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import EgoTasks, FewShotTasks, UserInterestTasks


def build_data(dataset: Mapping[str, Any], seed: int) -> Data:
    """The graph named by the ``dataset`` config section: the synthetic
    generator, a registered dataset, or a folder with ``edges.csv``."""
    name = dataset["name"]
    if name == "synthetic":
        return make_social_graph(
            dataset["n_users"], dataset["n_items"], dataset["n_features"],
            graph=dataset["graph"], homophily=dataset["homophily"],
            feature_noise=dataset["feature_noise"], n_blocks=dataset["n_blocks"],
            p_in=dataset["p_in"], p_out=dataset["p_out"], ba_m=dataset["ba_m"], seed=seed)
    from graphmeta import datasets
    if Path(name).is_dir():  # --dataset PATH: edges.csv + interests.json
        return datasets.from_folder(name)
    if name not in datasets.names():
        raise ValueError(f"dataset.name: unknown dataset {name!r} (known: synthetic, "
                         f"{', '.join(datasets.names())}, or a folder with edges.csv)")
    return datasets.load(name, root=dataset["root"] or None)


def build_tasks(spec: RunSpec, data: Data) -> EgoTasks:
    """The task sampler of ``spec.tasks`` (both kinds share the settings)."""
    t = spec.tasks
    common = dict(k_shot=t.k_shot, n_query=t.n_query, hops=t.hops, max_nodes=t.max_nodes,
                  seed=spec.seed, node_features=t.node_features)
    if spec.kind == "few-shot":
        return FewShotTasks(data, n_way=t.n_way, class_split=t.class_split, **common)
    from graphmeta.methods import get_method   # the registry imports this module
    # Only trained methods build a model that reads the context features;
    # a run of scorers alone skips their [C, C] co-occurrence and per-batch cost.
    context = any(spec.for_method(m).model.context and get_method(m).training != "none"
                  for m in spec.methods)
    return UserInterestTasks(data, split=t.split, negatives=t.negatives,
                             protocol=spec.eval.protocol, candidates=spec.eval.candidates,
                             context=context, train_query=t.train_query, **common)


def encoder(spec: RunSpec, tasks: EgoTasks) -> GNNEncoder:
    m = spec.model
    return GNNEncoder(tasks.node_x.size(1), m.hidden, m.layers, m.conv, m.dropout, m.heads)


def interest_model(spec: RunSpec, tasks: UserInterestTasks, graph: bool = True) -> InterestModel:
    """GNN encoder (``graph``; else the ego's own features) + interest
    embedding + MLP head. Synthetic graphs give fixed item features. With
    ``model.context`` the head reads the candidates' context features; the
    two of the neighbours only with ``graph`` (the no-graph ablation sees
    nothing of the neighbours)."""
    enc = encoder(spec, tasks) if graph else None
    context = ([0, 1, 2, 3] if graph else [0, 1]) if spec.model.context else []
    data = tasks.data
    kw: dict[str, Any] = ({"interest_x": data.interest_x}
                          if getattr(data, "interest_x", None) is not None
                          else {"num_interests": data.interests.size(1),
                                "interest_dim": spec.model.interest_dim,
                                "sparse_grad": bool(spec.model.sparse_grad)})
    return InterestModel(tasks.node_x.size(1), enc, combine=spec.model.combine,
                         head_hidden=spec.model.head_hidden, context=context, **kw)


def fewshot_model(spec: RunSpec, tasks: FewShotTasks, prototypes: bool = False
                  ) -> FewShotClassifier | PrototypeClassifier:
    """GNN encoder + MLP head with ``n_way`` logits, or prototype logits."""
    enc = encoder(spec, tasks)
    if prototypes:
        return PrototypeClassifier(enc)
    return FewShotClassifier(enc, tasks.n_way, spec.model.head_hidden)


__all__ = ["build_data", "build_tasks", "encoder", "fewshot_model", "interest_model"]
