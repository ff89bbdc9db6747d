"""The config schema: every key, declared once, with its default, type and
choices or range (see :mod:`graphmeta.config` for how a config is layered,
loaded and checked, and :mod:`graphmeta.spec` for how ``auto`` resolves)."""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence


def opt(default: Any, *, choices: Optional[Sequence[str]] = None, auto: Optional[type] = None,
        low: Optional[float] = None, high: Optional[float] = None, positive: bool = False,
        doc: str = "") -> Any:
    """Declares a key: ``choices`` for strings; ``auto`` (the type) for keys
    that take ``"auto"`` or a number; ``low``/``high`` bounds (inclusive),
    ``positive`` for ``> 0``."""
    kind = auto or (list if isinstance(default, (list, tuple)) else type(default))
    meta = {"choices": tuple(choices) if choices else None, "auto": auto is not None,
            "kind": kind, "low": low, "high": high, "positive": positive, "doc": doc}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DatasetConfig:
    name: str = opt("synthetic", doc="synthetic | a registered dataset | a folder with edges.csv")
    root: str = opt("", doc="local mirror (default: $GRAPHMETA_DATA)")
    graph: str = opt("sbm", choices=("sbm", "ba", "none"))
    n_users: int = opt(2000, low=1)
    n_items: int = opt(100, low=1)
    n_features: int = opt(10, low=1)
    homophily: float = opt(0.9, low=0, high=1)
    feature_noise: float = opt(2.0, low=0)
    n_blocks: int = opt(20, low=1)
    p_in: float = opt(0.05, low=0, high=1)
    p_out: float = opt(0.0005, low=0, high=1)
    ba_m: int = opt(4, low=1)


@dataclass(frozen=True)
class TasksConfig:
    kind: str = opt("auto", choices=("auto", "user-interest", "few-shot"),
                    doc="auto: user-interest when the graph has interests, else few-shot")
    hops: int = opt(2, low=0)
    max_nodes: int = opt(64, low=2)
    k_shot: Any = opt("auto", auto=int, low=1, doc="auto: 5 on user-interest tasks, 3 on few-shot")
    n_way: Any = opt("auto", auto=int, low=2, doc="few-shot: auto is 5, fewer when a split has fewer")
    class_split: list = opt([0.6, 0.2, 0.2], doc="few-shot: class fractions for train/val/test")
    n_query: int = opt(10, low=1)
    split: list = opt([0.7, 0.1, 0.2], doc="user fractions for meta-train/val/test")
    n_val_tasks: int = opt(200, low=1)
    n_test_tasks: int = opt(500, low=1)
    test_seed: int = opt(12345)
    negatives: str = opt("uniform", choices=("uniform", "popularity"),
                         doc="how training tasks (and support sets) draw negatives")
    train_query: str = opt("sampled", choices=("sampled", "full"),
                           doc="training query sets: n_query positives and negatives, or "
                               "every non-support interest")
    node_features: str = opt("auto", choices=("auto", "x", "interests", "x+interests",
                                              "interests-svd", "x+interests-svd",
                                              "structure", "x+structure"),
                             doc="auto: x when the graph has it, else interests (user-interest; "
                                 "interests-svd, 64 SVD components of them, above 1,000 "
                                 "interests) or structure (few-shot)")
    prefetch: str = opt("auto", choices=("auto", "thread", "off"),
                        doc="auto: a sampling thread on CUDA, in-line on CPU")


@dataclass(frozen=True)
class ModelConfig:
    conv: str = opt("sage", choices=("gcn", "sage", "gin", "gat"))
    layers: int = opt(2, low=1)
    hidden: int = opt(64, low=1)
    dropout: float = opt(0.0, low=0, high=1)
    heads: int = opt(4, low=1)
    combine: str = opt("concat-product", choices=("concat", "concat-product"))
    head_hidden: int = opt(64, low=1)
    interest_dim: int = opt(32, low=1)
    sparse_grad: Any = opt("auto", auto=bool,
                           doc="learned interest table with sparse gradients and lazy Adam "
                               "(a step's cost independent of the catalogue); auto: on above "
                               "10,000 interests")
    context: Any = opt("auto", auto=bool,
                       doc="user-interest: the head also reads each candidate's popularity, "
                           "co-occurrence with the support positives and (with the encoder) "
                           "frequency among the ego's neighbours and co-occurrence with their "
                           "interests; auto: on for named interests, up to 10,000 of them")


@dataclass(frozen=True)
class MetaConfig:
    inner_steps: int = opt(5, low=0)
    inner_lr: float = opt(0.1, low=0, doc="the inner rule's (initial) rate")
    inner_rule: str = opt("sgd", choices=("sgd", "lslr", "metasgd", "momentum", "adam",
                                          "learned"),
                          doc="lslr: learned rate per tensor and step (MAML++); metasgd: "
                              "learned rate per element; learned: a learned update network")
    query_loss: str = opt("ce", choices=("ce", "balanced", "bpr", "softmax"),
                          doc="outer (and finetune's) loss on query sets: cross-entropy, "
                              "class-balanced cross-entropy, pairwise ranking (BPR), or "
                              "listwise softmax of each positive against the task's negatives")
    select: str = opt("auto", choices=("auto", "accuracy", "auc", "ndcg@10"),
                      doc="meta-val score for checkpoints and tuning; auto: eval.metric on "
                          "user-interest tasks, accuracy on few-shot episodes")
    meta_batch: Any = opt("auto", auto=int, low=1,
                          doc="auto: 32 user-interest tasks, 4 few-shot episodes")
    meta_lr: float = opt(0.001, positive=True)
    iterations: int = opt(1000, low=1)
    eval_every: int = opt(50, low=1)
    adapt: str = opt("all", choices=("all", "head"), doc="head: ANIL")


@dataclass(frozen=True)
class BaselinesConfig:
    scratch_steps: int = opt(100, low=0)
    scratch_lr: float = opt(0.01, positive=True)
    pretrain_iterations: int = opt(1000, low=1)
    pretrain_lr: float = opt(0.001, positive=True)
    knn_similarity: str = opt("cosine", choices=("cosine", "asymmetric", "jaccard"),
                              doc="itemknn/graph-knn item similarity over meta-train users")
    knn_alpha: float = opt(0.5, low=0, high=1, doc="asymmetric cosine's exponent")
    knn_shrink: float = opt(0.0, low=0, doc="similarity shrinkage: co / (norm + shrink)")
    ease_lambda: float = opt(100.0, positive=True, doc="EASE's L2 regularisation")
    graph_weight: float = opt(1.0, low=0, doc="graph-knn: weight of the neighbours' "
                                              "interests against the support positives")


@dataclass(frozen=True)
class EvalConfig:
    protocol: str = opt("full", choices=("full", "sampled"),
                        doc="user-interest: rank each user's held-out interests against every "
                            "non-support interest (full) or n_query sampled negatives")
    candidates: int = opt(0, low=0, doc="full protocol: a uniform sample of this many "
                                        "negatives per user (0: all)")
    metric: str = opt("auc", choices=("auc", "ndcg@10"),
                      doc="user-interest headline metric: paired differences, tuning")
    seeds: int = opt(3, low=1, doc="training seeds per learned method (seed, seed+1, ...)")
    tune: int = opt(0, low=0, doc="configurations per method tried on meta-val before the "
                                  "test run (0: no tuning)")


@dataclass(frozen=True)
class SelectionConfig:
    candidates: list = opt(["maml", "finetune", "itemknn", "ease", "graph-knn", "popularity"],
                           doc="meta-selection: the learners chosen among per task")
    neighbors: int = opt(25, low=1, doc="select-knn: meta-val tasks consulted")
    C: Any = opt("auto", auto=float, positive=True,
                 doc="select-clf and blend: inverse regularisation; auto: chosen when the "
                     "selector is fitted, by 5-fold cross-validation over the meta-val "
                     "tasks among 0.01, 0.1, 1, 10")
    fallback: bool = opt(True, doc="meta-selection: use the best single candidate instead "
                                   "when the selector, cross-fitted on meta-val, does not "
                                   "beat it there")


@dataclass(frozen=True)
class RunConfig:
    checkpoint_every: int = opt(100, low=0, doc="save a resumable training state every this "
                                                "many iterations (0: only when interrupted)")
    tensorboard: bool = opt(False, doc="also write each method's training history as "
                                       "TensorBoard events under RUN_DIR/tensorboard/")


SECTIONS = {"dataset": DatasetConfig, "tasks": TasksConfig, "model": ModelConfig,
            "meta": MetaConfig, "baselines": BaselinesConfig, "eval": EvalConfig,
            "selection": SelectionConfig, "run": RunConfig}


def _defaults() -> dict[str, Any]:
    out: dict[str, Any] = {"seed": 0}
    for name, cls in SECTIONS.items():
        out[name] = {k: copy.deepcopy(v) for k, v in dataclasses.asdict(cls()).items()}
    out["methods"] = []            # empty: the task kind's default methods
    out["method_settings"] = {}    # {method: {dotted key: value}}
    return out


DEFAULTS: dict[str, Any] = _defaults()
