"""Training, evaluation and comparison of methods on fixed test tasks.

Methods (all evaluated on the same seeded test tasks):

- ``maml`` / ``fomaml``: GNN encoder + MLP head, meta-trained with
  second-order / first-order MAML.
- ``maml-mlp``: MAML on the MLP head alone, fed the ego's own node features
  and the interest (no neighbours): the gap to ``maml`` is what the graph adds.
- ``finetune``: one model trained on all meta-train users' interests, then
  fine-tuned on each support set with the same inner loop as MAML.
- ``scratch``: a random initialisation trained on the support set only
  (Adam, ``baselines.scratch_steps``).

On few-shot episodes (``tasks.kind: few-shot``, N-way K-shot classification
of users by their ego-subgraphs, the G-Meta protocol):

- ``maml`` / ``fomaml``: GNN encoder + MLP head with ``N`` logits.
- ``protonet``: prototypical network, episodic training, no inner loop.
- ``gmeta``: the prototypical loss inside MAML (G-Meta): the inner loop
  adapts the encoder on the support prototypes' loss.
- ``finetune``: encoder + head pre-trained to classify meta-train users into
  all meta-train classes; at test a fresh ``N``-way output layer and the rest
  are trained on the support set (Adam, ``baselines.scratch_steps``).
- ``scratch``: a random initialisation trained on the support set only.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ContextManager, Iterable, Iterator, Optional

import numpy as np
import torch
import yaml
from torch_geometric.data import Data
from tqdm.auto import tqdm

from graphmeta import io as gio
from graphmeta.baselines import BASELINES, InterestBaselines
from graphmeta.eval import mean_ci, task_metrics
from graphmeta.config import DEFAULT_METHODS, FEWSHOT_METHODS, INTEREST_METHODS
from graphmeta.meta import MAML, adapt_adam, expand_params, learn_inner_lrs, task_ce
from graphmeta.models import FewShotClassifier, GNNEncoder, InterestModel, PrototypeClassifier
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import FewShotBatch, FewShotTasks, Prefetcher, TaskBatch, UserInterestTasks

EVAL_CHUNK = 100


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"--device must be auto, cpu or cuda[:N], got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available on this machine")
    return torch.device(name)


def build_data(cfg: dict) -> Data:
    d = cfg["dataset"]
    if d["name"] != "synthetic":
        from graphmeta import datasets
        if Path(d["name"]).is_dir():  # --dataset PATH: edges.csv + interests.json
            return datasets.from_folder(d["name"])
        if d["name"] not in datasets.names():
            raise ValueError(f"dataset.name: unknown dataset {d['name']!r} "
                             f"(known: synthetic, {', '.join(datasets.names())}, or a folder with edges.csv)")
        return datasets.load(d["name"], root=d["root"] or None)
    return make_social_graph(
        d["n_users"], d["n_items"], d["n_features"], graph=d["graph"],
        homophily=d["homophily"], feature_noise=d["feature_noise"],
        n_blocks=d["n_blocks"], p_in=d["p_in"], p_out=d["p_out"], ba_m=d["ba_m"],
        seed=cfg["seed"])


TASK_KINDS = ("auto", "user-interest", "few-shot")


def task_kind(cfg: dict, data: Data) -> str:
    """``tasks.kind``, with ``auto`` resolved: user-interest tasks when the
    graph has ``interests``, few-shot episodes over ``y`` otherwise."""
    kind = cfg["tasks"]["kind"]
    if kind not in TASK_KINDS:
        raise ValueError(f"tasks.kind: unknown task kind {kind!r} (known: {', '.join(TASK_KINDS)})")
    if kind == "auto":
        return "user-interest" if getattr(data, "interests", None) is not None else "few-shot"
    return kind


def resolve_methods(cfg: dict, kind: str, methods: Optional[list[str]] = None) -> list[str]:
    """The methods to run: ``methods``, else ``cfg["methods"]``, else the
    task kind's defaults; each must exist for the task kind."""
    methods = list(methods or cfg["methods"] or DEFAULT_METHODS[kind])
    known = FEWSHOT_METHODS if kind == "few-shot" else INTEREST_METHODS
    for m in methods:
        if m not in known:
            raise ValueError(f"methods: {m!r} does not run on {kind} tasks "
                             f"(known there: {', '.join(known)})")
    return methods


def inner_lr(cfg: dict, method: str) -> float:
    """``meta.inner_lr``; ``auto`` is 0.1, and G-Meta's own 0.01 for
    ``gmeta``, whose logits are unbounded squared distances (0.1 sent its
    inner loop to NaN on lastfm-asia, while 0.01 cost ``maml`` 12 points of
    accuracy on email-eu-core)."""
    lr = cfg["meta"]["inner_lr"]
    if lr == "auto":
        return 0.01 if method == "gmeta" else 0.1
    return lr


def selection_metric(cfg: dict, tasks) -> str:
    """``meta.select``. ``auto`` is ROC-AUC on user-interest tasks from real
    data: their query sets hold the user's few held-out positives and up to
    ``n_query`` negatives (on blogcatalog 1-2 against 10), so accuracy
    rewards answering "no" and a ranking is the honest score. Synthetic
    users have balanced query sets and few-shot episodes one label per
    example: there it is accuracy."""
    select = cfg["meta"]["select"]
    if select not in ("auto", "accuracy", "auc"):
        raise ValueError(f"meta.select must be auto, accuracy or auc, got {select!r}")
    if select == "auc" and isinstance(tasks, FewShotTasks):
        raise ValueError("meta.select=auc: few-shot episodes are scored by accuracy only")
    if select == "auto":
        real = cfg["dataset"]["name"] != "synthetic"
        return "auc" if real and isinstance(tasks, UserInterestTasks) else "accuracy"
    return select


def meta_batch(cfg: dict, tasks) -> int:
    mb = cfg["meta"]["meta_batch"]
    if mb == "auto":
        return 4 if isinstance(tasks, FewShotTasks) else 32
    return mb


def build_tasks(cfg: dict, data: Data) -> UserInterestTasks | FewShotTasks:
    t = cfg["tasks"]
    name = cfg["dataset"]["name"]
    if task_kind(cfg, data) == "few-shot":
        from graphmeta import datasets
        defaults = datasets.task_defaults(name)
        return FewShotTasks(data, n_way=defaults.get("n_way", "auto") if t["n_way"] == "auto" else t["n_way"],
                            k_shot=3 if t["k_shot"] == "auto" else t["k_shot"],
                            n_query=t["n_query"], hops=t["hops"], max_nodes=t["max_nodes"],
                            class_split=t["class_split"], seed=cfg["seed"],
                            node_features=t["node_features"])
    negatives = t["negatives"]
    if negatives == "auto":
        negatives = "uniform" if name == "synthetic" else "popularity"
    k_shot = t["k_shot"]
    if k_shot == "auto":
        from graphmeta import datasets
        k_shot = datasets.task_defaults(name).get("k_shot", 5)
    return UserInterestTasks(data, k_shot=k_shot, n_query=t["n_query"],
                             hops=t["hops"], max_nodes=t["max_nodes"],
                             split=t["split"], seed=cfg["seed"], negatives=negatives,
                             node_features=t["node_features"])


def build_model(cfg: dict, tasks: UserInterestTasks | FewShotTasks, method: str
                ) -> InterestModel | FewShotClassifier | PrototypeClassifier:
    """The method's model; MAML-trained ones get learned inner rates when
    ``meta.learn_inner_lr`` is set."""
    model = _build_model(cfg, tasks, method)
    if cfg["meta"]["learn_inner_lr"] and method in ("maml", "fomaml", "gmeta", "maml-mlp"):
        learn_inner_lrs(model, inner_lr(cfg, method), cfg["meta"]["inner_steps"])
    return model


def _build_model(cfg: dict, tasks: UserInterestTasks | FewShotTasks, method: str
                 ) -> InterestModel | FewShotClassifier | PrototypeClassifier:
    m = cfg["model"]
    data = tasks.data
    in_channels = tasks.node_x.size(1)
    if isinstance(tasks, FewShotTasks):
        encoder = GNNEncoder(in_channels, m["hidden"], m["layers"], m["conv"],
                             m["dropout"], m["heads"])
        if method in ("protonet", "gmeta"):
            return PrototypeClassifier(encoder)
        return FewShotClassifier(encoder, tasks.n_way, m["head_hidden"])
    encoder = None
    if method != "maml-mlp":
        encoder = GNNEncoder(in_channels, m["hidden"], m["layers"], m["conv"],
                             m["dropout"], m["heads"])
    kw: dict[str, Any] = ({"interest_x": data.interest_x}
                          if getattr(data, "interest_x", None) is not None
                          else {"num_interests": data.interests.size(1),
                                "interest_dim": m["interest_dim"]})
    return InterestModel(in_channels, encoder, combine=m["combine"],
                         head_hidden=m["head_hidden"], **kw)


def make_maml(cfg: dict, model, method: str) -> MAML:
    mc = cfg["meta"]
    adapt = mc["adapt"]
    if adapt == "head" and isinstance(model, PrototypeClassifier):
        raise ValueError(f"meta.adapt=head: {method} has no head (its logits are distances "
                         f"to prototypes); use meta.adapt=all")
    return MAML(model, inner_lr=inner_lr(cfg, method),
                inner_steps=0 if method == "protonet" else mc["inner_steps"],
                first_order=method == "fomaml", adapt=adapt,
                balanced_query=mc["balanced_query"])


def predict(cfg: dict, method: str, model, batch: TaskBatch | FewShotBatch):
    """After the method's own adaptation: query probabilities ``[T, Q]`` of
    user-interest tasks, query logits ``[T, Q, N]`` of few-shot episodes
    (``model`` is an :class:`InterestBaselines` for the non-learned ones)."""
    if isinstance(model, InterestBaselines):
        return model.predict(method, batch)
    model.eval()
    logits = isinstance(batch, FewShotBatch)
    if method == "scratch" or (logits and method == "finetune"):
        b = cfg["baselines"]
        return adapt_adam(model, batch, steps=b["scratch_steps"], lr=b["scratch_lr"], logits=logits)
    maml = make_maml(cfg, model, method)
    return maml.predict_logits(batch) if logits else maml.predict(batch)


def evaluate(cfg: dict, method: str, model,
             batches: Iterable[TaskBatch | FewShotBatch]) -> dict[str, np.ndarray]:
    """Per-task metrics: accuracy and ROC-AUC on user-interest tasks,
    accuracy on few-shot episodes."""
    parts = []
    for b in batches:
        out = predict(cfg, method, model, b)
        if isinstance(b, FewShotBatch):
            acc = (out.argmax(-1) == b.query_y).double().mean(1)
            parts.append({"accuracy": acc.cpu().numpy()})
        else:
            parts.append(task_metrics(out, b.query_y, b.query_mask))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class _EpisodeBatches:
    """Fixed episodes, collated chunk by chunk on each pass (a few-shot batch
    holds ``N * (K + Q)`` dense subgraphs per episode; keeping every chunk
    collated would hold hundreds of MB)."""

    def __init__(self, tasks: FewShotTasks, episodes: list, device: torch.device) -> None:
        self.tasks, self.episodes, self.device = tasks, episodes, device

    def __iter__(self) -> Iterator[FewShotBatch]:
        step = max(1, EVAL_CHUNK // 4)
        for i in range(0, len(self.episodes), step):
            yield self.tasks.collate(self.episodes[i:i + step]).to(self.device)


def fixed_batches(tasks: UserInterestTasks | FewShotTasks, split: str, n: int, seed: int,
                  device: torch.device) -> Iterable[TaskBatch | FewShotBatch]:
    if isinstance(tasks, FewShotTasks):
        return _EpisodeBatches(tasks, tasks.episodes(split, n, seed), device)
    ts = tasks.fixed_tasks(split, n, seed)
    return [tasks.collate(ts[i:i + EVAL_CHUNK]).to(device)
            for i in range(0, len(ts), EVAL_CHUNK)]


def batch_stream(cfg: dict, tasks: UserInterestTasks, device: torch.device
                 ) -> ContextManager[Iterator[TaskBatch]]:
    """Meta-training batches on ``device``. With prefetching, sampling and
    collating run ahead in a background thread (same batches, same order).
    ``auto`` prefetches on CUDA only: on a CPU the meta-step's own threads
    and its Python dispatch use the cores and the GIL, so a sampling thread
    slows it down (see docs/PERFORMANCE.md)."""
    mode = cfg["tasks"]["prefetch"]
    if mode not in ("auto", "thread", "off"):
        raise ValueError(f"tasks.prefetch must be auto, thread or off, got {mode!r}")
    source = tasks.batches("train", meta_batch(cfg, tasks), seed=cfg["seed"])
    if mode == "thread" or (mode == "auto" and device.type == "cuda"):
        return Prefetcher(source, depth=2, transform=lambda b: b.to(device))
    return contextlib.nullcontext(b.to(device) for b in source)


@dataclass
class TrainResult:
    model: InterestModel | InterestBaselines
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def train(cfg: dict, method: str, tasks: UserInterestTasks | FewShotTasks,
          device: torch.device, val: Iterable, progress: bool = True) -> TrainResult:
    """Trains one method; keeps the parameters with the best meta-val score
    (:func:`selection_metric`)."""
    start = time.perf_counter()
    if method in BASELINES:
        return TrainResult(InterestBaselines(tasks), [], time.perf_counter() - start)
    torch.manual_seed(cfg["seed"])
    model = build_model(cfg, tasks, method).to(device)
    if method == "scratch":
        return TrainResult(model, [], time.perf_counter() - start)
    mc, bc = cfg["meta"], cfg["baselines"]
    meta = method != "finetune"
    iterations = mc["iterations"] if meta else bc["pretrain_iterations"]
    maml = make_maml(cfg, model, method)
    if meta:
        trained, stream_cm, step_loss = model, batch_stream(cfg, tasks, device), maml.meta_loss
    elif isinstance(tasks, FewShotTasks):
        trained, stream_cm, step_loss = _fewshot_pretraining(cfg, tasks, model, device)
    else:
        trained, stream_cm, step_loss = model, batch_stream(cfg, tasks, device), \
            lambda batch: _interest_supervised_loss(model, batch)
    opt = torch.optim.Adam(trained.parameters(), lr=mc["meta_lr"] if meta else bc["pretrain_lr"])
    history: list[dict] = []
    select = selection_metric(cfg, tasks)
    best = (-math.inf, copy.deepcopy(model.state_dict()))
    running = []
    bar = tqdm(range(1, iterations + 1), desc=method, disable=not progress,
               leave=False, dynamic_ncols=True)
    with stream_cm as stream:
        for it in bar:
            trained.train()
            loss = step_loss(next(stream))
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{method}: training loss is {loss.item()} at iteration {it}; "
                    f"lower meta.inner_lr (now {inner_lr(cfg, method)}) or meta.meta_lr")
            opt.zero_grad()
            loss.backward()
            opt.step()
            running.append(loss.item())
            if it % mc["eval_every"] == 0 or it == iterations:
                m = evaluate(cfg, method, model, val)
                row = {"method": method, "iteration": it,
                       "train_loss": float(np.mean(running)),
                       "val_accuracy": float(np.nanmean(m["accuracy"])),
                       "val_auc": float(np.nanmean(m["auc"])) if "auc" in m else float("nan"),
                       "seconds": round(time.perf_counter() - start, 3)}
                running = []
                history.append(row)
                bar.set_postfix(loss=f"{row['train_loss']:.3f}",
                                val_acc=f"{row['val_accuracy']:.3f}")
                score = row["val_auc"] if select == "auc" else row["val_accuracy"]
                if score > best[0]:
                    best = (score, copy.deepcopy(model.state_dict()))
    model.load_state_dict(best[1])
    return TrainResult(model, history, time.perf_counter() - start)


def _interest_supervised_loss(model: InterestModel, batch: TaskBatch) -> torch.Tensor:
    """``finetune`` pre-training: plain supervised loss on every sampled
    interest of the user (support and query alike)."""
    p = expand_params(dict(model.named_parameters()), batch.num_tasks)
    items = torch.cat([batch.support_items, batch.query_items], 1)
    y = torch.cat([batch.support_y, batch.query_y], 1)
    mask = torch.cat([torch.ones_like(batch.support_y, dtype=torch.bool), batch.query_mask], 1)
    return task_ce(model.batched_logits(p, batch, items), y, mask).mean()


def _fewshot_pretraining(cfg: dict, tasks: FewShotTasks, model: FewShotClassifier,
                         device: torch.device):
    """``finetune`` on few-shot episodes: a classifier over all meta-train
    classes that shares ``model``'s encoder and ``fc1`` (so ``model``, with
    its own freshly initialised ``N``-way ``fc2``, is what gets validated and
    saved). Cross-entropy when every user has one class, else one binary
    loss per class."""
    n_train = len(tasks.splits["train"])
    pre = FewShotClassifier(model.encoder, n_train, cfg["model"]["head_hidden"]).to(device)
    pre.head.fc1 = model.head.fc1
    single = bool((tasks.member[:, tasks.splits["train"]].sum(1) <= 1).all())
    one_task = type("OneTask", (), {"num_tasks": 1})()

    def loss(item) -> torch.Tensor:
        graphs, target = item
        p = {k: v.unsqueeze(0) for k, v in pre.named_parameters()}
        logits = pre.batched_logits(p, one_task, graphs)[0]
        if single:
            return torch.nn.functional.cross_entropy(logits, target.float().argmax(1))
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, target.float())

    stream = ((g.to(device), t.to(device))
              for g, t in tasks.pretrain_batches(4 * meta_batch(cfg, tasks) * tasks.n_way, cfg["seed"]))
    return pre, contextlib.nullcontext(stream), loss


METRIC_FIELDS = ["method", "iteration", "train_loss", "val_accuracy", "val_auc", "seconds"]


def write_run(out: Path, cfg: dict, results: dict, history: list[dict],
              checkpoints: dict[str, dict]) -> None:
    """Writes config.yaml, metrics.csv, checkpoints/<method>.pt, results.json
    and learning_curve.png into ``out`` (each file atomically)."""
    gio.write_text(out / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=METRIC_FIELDS)
    w.writeheader()
    w.writerows(history)
    gio.write_text(out / "metrics.csv", buf.getvalue())
    for method, state in checkpoints.items():
        gio.save_torch(out / "checkpoints" / f"{method}.pt", state)
    gio.write_text(out / "results.json", json.dumps(results, indent=2) + "\n")
    plot_learning_curve(history, out / "learning_curve.png")


def plot_learning_curve(history: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    # The selection score: ROC-AUC where there is one (user-interest tasks).
    key = "val_auc" if history and all(math.isfinite(r["val_auc"]) for r in history) else "val_accuracy"
    name = "ROC-AUC" if key == "val_auc" else "accuracy"
    for method in dict.fromkeys(r["method"] for r in history):
        rows = [r for r in history if r["method"] == method]
        ax.plot([r["iteration"] for r in rows], [r[key] for r in rows],
                marker="o", label=method)
    ax.set_xlabel("meta-iteration")
    ax.set_ylabel(f"meta-val {name}")
    ax.set_title(f"Meta-validation {name} (the checkpoint score)")
    ax.grid(alpha=0.3)
    if history:
        ax.legend()
    fig.tight_layout()
    gio._atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    plt.close(fig)


def summarize(cfg: dict, tasks, metrics: dict[str, dict], seconds: dict[str, float]) -> dict:
    out = {
        "dataset": cfg["dataset"]["name"],
        "task_kind": "few-shot" if isinstance(tasks, FewShotTasks) else "user-interest",
        "n_test_tasks": cfg["tasks"]["n_test_tasks"],
        "seed": cfg["seed"],
    }
    out["inner_lr"] = cfg["meta"]["inner_lr"]
    out["selected_by"] = f"val {selection_metric(cfg, tasks)}"
    if isinstance(tasks, FewShotTasks):
        out.update(n_way=tasks.n_way, k_shot=tasks.k_shot, n_query=tasks.n_query,
                   classes={k: len(v) for k, v in tasks.splits.items()})
    else:
        out.update(k_shot=tasks.k_shot, negatives=tasks.negatives)
    out["methods"] = {m: {**{k: _ci(v[k]) for k in ("accuracy", "auc") if k in v},
                          "seconds": round(seconds[m], 2)} for m, v in metrics.items()}
    return out


def _ci(values: np.ndarray) -> dict[str, float]:
    s = mean_ci(values)
    return {"mean": round(s["mean"], 6), "ci95": round(s["ci95"], 6)}


def compare(cfg: dict, out: Path, device: torch.device,
            methods: Optional[list[str]] = None, progress: bool = True,
            log=print) -> dict:
    """Trains and evaluates every method on the same fixed test tasks."""
    data = build_data(cfg)
    methods = resolve_methods(cfg, task_kind(cfg, data), methods)
    tasks = build_tasks(cfg, data)
    t = cfg["tasks"]
    log(f"{tasks}")
    val = fixed_batches(tasks, "val", t["n_val_tasks"], t["test_seed"] + 1, device)
    test = fixed_batches(tasks, "test", t["n_test_tasks"], t["test_seed"], device)
    metrics, seconds, history, ckpts = {}, {}, [], {}
    for method in methods:
        res = train(cfg, method, tasks, device, val, progress)
        start = time.perf_counter()
        metrics[method] = evaluate(cfg, method, res.model, test)
        seconds[method] = res.seconds + time.perf_counter() - start
        history += res.history
        if method != "scratch" and method not in BASELINES:
            ckpts[method] = res.model.state_dict()
        s = mean_ci(metrics[method]["accuracy"])
        log(f"  {method:<9} accuracy {s['mean']:.3f} ± {s['ci95']:.3f}  "
            f"({seconds[method]:.1f} s)")
    results = summarize(cfg, tasks, metrics, seconds)
    write_run(out, cfg, results, history, ckpts)
    return results


def evaluate_run(run: Path, device: torch.device, out: Optional[Path] = None) -> dict:
    """Re-evaluates the checkpoints of a run directory on its test tasks."""
    cfg_path = run / "config.yaml"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{cfg_path}: no config.yaml; is {run} a run directory?")
    from graphmeta.config import load_config
    cfg = load_config(cfg_path)
    ckpts = sorted((run / "checkpoints").glob("*.pt"))
    if not ckpts:
        raise FileNotFoundError(f"{run / 'checkpoints'}: no <method>.pt checkpoint")
    data = build_data(cfg)
    tasks = build_tasks(cfg, data)
    t = cfg["tasks"]
    test = fixed_batches(tasks, "test", t["n_test_tasks"], t["test_seed"], device)
    metrics, seconds = {}, {}
    for path in ckpts:
        method = path.stem
        model = build_model(cfg, tasks, method).to(device)
        model.load_state_dict(torch.load(path, weights_only=True, map_location=device))
        start = time.perf_counter()
        metrics[method] = evaluate(cfg, method, model, test)
        seconds[method] = time.perf_counter() - start
    results = summarize(cfg, tasks, metrics, seconds)
    gio.write_text((out or run) / "results.json", json.dumps(results, indent=2) + "\n")
    return results


def format_table(results: dict) -> str:
    kind = results["task_kind"]
    if kind == "few-shot":
        kind += f" {results['n_way']}-way {results['k_shot']}-shot"
    lines = [f"{results['dataset']} / {kind}: "
             f"{results['n_test_tasks']} test tasks, mean ± 95% CI",
             f"{'method':<10} {'accuracy':>17} {'ROC-AUC':>17} {'seconds':>8}"]
    for m, r in results["methods"].items():
        a, u = r["accuracy"], r.get("auc")
        auc = f"{u['mean']:>9.3f} ± {u['ci95']:.3f}" if u else f"{'-':>17}"
        lines.append(f"{m:<10} {a['mean']:>9.3f} ± {a['ci95']:.3f} {auc} {r['seconds']:>8.1f}")
    return "\n".join(lines)
