"""The run's global settings: the data, the synthetic generator, the tasks,
the evaluation and the run itself. Every key is declared once here, with
its default, type and choices or range; each method's own settings are its
own class, declared where the method is registered (``graphmeta methods``
lists them)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from graphmeta.settings import ConfigError, Facts, Settings, setting
from graphmeta.tasks.interest import SVD_FROM


@dataclass(frozen=True)
class DatasetConfig(Settings):
    section = "dataset"
    name: str = setting("synthetic", doc="synthetic | a registered dataset | a folder with "
                                         "edges.csv")
    root: str = setting("", doc="local mirror (default: $GRAPHMETA_DATA)")


@dataclass(frozen=True)
class SyntheticConfig(Settings):
    """The synthetic social graph (``dataset.name: synthetic``,
    :func:`graphmeta.synthetic.make_social_graph`)."""
    section = "synthetic"
    graph: str = setting("sbm", choices=("sbm", "ba", "none"))
    n_users: int = setting(2000, low=1)
    n_items: int = setting(100, low=1)
    n_features: int = setting(10, low=1)
    homophily: float = setting(0.9, low=0, high=1)
    feature_noise: float = setting(2.0, low=0)
    n_blocks: int = setting(20, low=1)
    p_in: float = setting(0.05, low=0, high=1)
    p_out: float = setting(0.0005, low=0, high=1)
    ba_m: int = setting(4, low=1)


NODE_FEATURES = ("auto", "x", "interests", "x+interests", "interests-svd", "x+interests-svd",
                 "structure", "x+structure")
# What "auto" is, per task kind.
K_SHOT = {"user-interest": 5, "few-shot": 3}
FEATURES = {"user-interest": ("x", "interests", "interests-svd"), "few-shot": ("x", "structure")}


@dataclass(frozen=True)
class TasksConfig(Settings):
    section = "tasks"
    kind: str = setting("auto", choices=("auto", "user-interest", "few-shot"),
                        doc="auto: user-interest when the graph has interests, else few-shot")
    hops: int = setting(2, low=0)
    max_nodes: int = setting(64, low=2)
    k_shot: Any = setting("auto", auto=int, low=1,
                          doc="auto: 5 on user-interest tasks, 3 on few-shot")
    n_way: Any = setting("auto", auto=int, low=2,
                         doc="few-shot: auto is 5, fewer when a split has fewer")
    class_split: list = setting([0.6, 0.2, 0.2], doc="few-shot: class fractions for "
                                                     "train/val/test")
    n_query: int = setting(10, low=1)
    split: list = setting([0.7, 0.1, 0.2], doc="user fractions for meta-train/val/test "
                                                 "(summing to at most 1: the rest are left "
                                                 "out, a way to subsample)")
    n_val_tasks: int = setting(200, low=1, doc="at most this many meta-val users (a "
                                               "smaller split scores each once)")
    n_test_tasks: int = setting(500, low=1, doc="at most this many test users (a smaller "
                                                "split scores each once)")
    test_seed: int = setting(12345)
    negatives: str = setting("uniform", choices=("uniform", "popularity"),
                             doc="how training tasks draw negatives (evaluation tasks: "
                                 "eval.negatives)")
    scale_x: str = setting("none", choices=("none", "standard"),
                           doc="node features x as given, or standardised per column (zero "
                               "mean, unit variance over all nodes): for raw counts and ages, "
                               "whose scale sends the inner loop to NaN")
    node_features: str = setting("auto", choices=NODE_FEATURES,
                                 doc="auto: x when the graph has it, else interests "
                                     "(user-interest; interests-svd, 64 SVD components of "
                                     "them, above 1,000 interests) or structure (few-shot)")

    def resolve(self, facts: Facts) -> "TasksConfig":
        kind = facts.kind
        allowed = FEATURES[kind]
        nf = self.node_features
        if nf == "auto":
            nf = (allowed[0] if facts.has_x else "interests-svd"
                  if kind == "user-interest" and facts.n_interests > SVD_FROM else allowed[1])
        parts = nf.split("+")
        if not set(parts) <= set(allowed):
            raise ConfigError(f"tasks.node_features={nf!r} does not apply to {kind} tasks "
                              f"(choose from {', '.join(allowed)}, or {allowed[0]}+{allowed[1]})")
        if "x" in parts and not facts.has_x:
            raise ConfigError(f"tasks.node_features={nf!r} needs node features x, which this "
                              f"graph lacks")
        return self.replace(kind=kind, node_features=nf,
                            k_shot=K_SHOT[kind] if self.k_shot == "auto" else self.k_shot)


@dataclass(frozen=True)
class EvalConfig(Settings):
    section = "eval"
    protocol: str = setting("full", choices=("full", "sampled"),
                            doc="user-interest: rank each user's held-out interests against "
                                "every non-support interest (full) or n_query sampled negatives")
    candidates: int = setting(0, low=0, doc="full protocol: a uniform sample of this many "
                                            "negatives per user (0: all)")
    negatives: str = setting("uniform", choices=("uniform", "popularity"),
                             doc="how the meta-val and test tasks' support negatives are "
                                 "drawn (which leaves them out of the candidates): part of "
                                 "the protocol, whatever training draws")
    metric: str = setting("auc", choices=("auc", "ndcg@10"),
                          doc="user-interest headline metric: paired differences, tuning")
    select: str = setting("auto", choices=("auto", "accuracy", "auc", "ndcg@10"),
                          doc="meta-val score for checkpoints and tuning; auto: eval.metric on "
                              "user-interest tasks, accuracy on few-shot episodes")
    seeds: int = setting(3, low=1, doc="training seeds per learned method (seed, seed+1, ...)")
    tune: int = setting(0, low=0, doc="configurations per method tried on meta-val before the "
                                      "test run (0: no tuning)")

    def resolve(self, facts: Facts) -> "EvalConfig":
        select = self.select
        if select == "auto":
            select = self.metric if facts.kind == "user-interest" else "accuracy"
        if (select == "accuracy") != (facts.kind == "few-shot"):
            raise ConfigError(f"eval.select={select}: {facts.kind} tasks are scored by "
                              f"{'accuracy' if facts.kind == 'few-shot' else 'ranking metrics'}")
        return self.replace(select=select)


@dataclass(frozen=True)
class RunConfig(Settings):
    section = "run"
    checkpoint_every: int = setting(100, low=0, doc="save a resumable training state every "
                                                    "this many iterations (0: only when "
                                                    "interrupted)")
    tensorboard: bool = setting(False, doc="also write each method's training history as "
                                           "TensorBoard events under RUN_DIR/tensorboard/")
    prefetch: str = setting("auto", choices=("auto", "thread", "off"),
                            doc="auto: a sampling thread on CUDA, in-line on CPU")

    def resolve(self, facts: Facts) -> "RunConfig":
        if self.prefetch != "auto":
            return self
        return self.replace(prefetch="thread" if facts.device.startswith("cuda") else "off")


SECTIONS: dict[str, type[Settings]] = {
    "dataset": DatasetConfig, "synthetic": SyntheticConfig, "tasks": TasksConfig,
    "eval": EvalConfig, "run": RunConfig}
# Top-level keys that are not sections: the seed and the list of methods.
TOP = ("seed", "methods")


def global_keys() -> list[str]:
    """Every global key, dotted (``tasks.k_shot``)."""
    return list(TOP) + [f"{s}.{f.name}" for s, cls in SECTIONS.items()
                        for f in dataclasses.fields(cls)]


__all__ = ["DatasetConfig", "EvalConfig", "FEATURES", "K_SHOT", "RunConfig", "SECTIONS",
           "SyntheticConfig", "TOP", "TasksConfig", "global_keys"]
