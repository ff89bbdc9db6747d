"""Meta-step and training-throughput timings against in-run references."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import torch

from torch_geometric.nn.models import GCN, GIN, GAT, GraphSAGE

from graphmeta.meta import MAML, expand_params, reference_meta_loss, task_ce
from graphmeta.models import GNNEncoder, InterestModel
from graphmeta.models.reference import interest_task_losses
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import Prefetcher, UserInterestTasks

# The message-passing twin of each dense encoder: PyG's own models, what a
# per-task research loop runs.
SPARSE = {"gcn": GCN, "sage": GraphSAGE, "gin": GIN, "gat": GAT}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], Any], repeats: int, warmup: int, device: torch.device) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def setup(tasks: int, max_nodes: int, hidden: int, layers: int, conv: str,
          device: torch.device, n_batches: int = 4, seed: int = 0):
    """The demo's synthetic graph, a GNN + head model and a few meta-batches."""
    data = make_social_graph(2000, seed=seed)
    sampler = UserInterestTasks(data, max_nodes=max_nodes, seed=seed)
    stream = sampler.batches("train", tasks, seed=seed)
    batches = [next(stream).to(device) for _ in range(n_batches)]
    torch.manual_seed(seed)
    model = InterestModel(data.x.size(1), GNNEncoder(data.x.size(1), hidden, layers, conv),
                          interest_x=data.interest_x).to(device)
    return sampler, batches, model


def message_passing_twin(model: InterestModel, conv: str) -> InterestModel:
    """The same model with PyG's message-passing encoder in place of the
    dense one (the per-task reference's; same sizes, its own weights)."""
    enc = model.encoder
    sparse = SPARSE[conv](enc.in_channels, enc.hidden, enc.num_layers, enc.hidden)
    return InterestModel(enc.in_channels, sparse, interest_x=model.interest_x,
                         combine=model.combine).to(model.interest_x.device)


def bench_meta_step(model, batches, inner_steps: int, device: torch.device,
                    repeats: int, loop_repeats: int, conv: str = "gcn") -> dict[str, float]:
    """Median ms of graphmeta's batched meta-step (second and first order),
    of the per-task reference with PyG message passing (a Python loop over
    tasks, one ``autograd.grad`` per task and step), and of one fused
    forward+backward over the meta-batch."""
    it = iter(range(10**9))

    def pick():
        return batches[next(it) % len(batches)]

    def step(first_order: bool) -> Callable[[], None]:
        maml = MAML(model, inner_lr=0.1, inner_steps=inner_steps, first_order=first_order)
        return lambda: maml.meta_loss(pick()).backward()

    twin = message_passing_twin(model, conv)

    def loop(first_order: bool) -> Callable[[], None]:
        return lambda: reference_meta_loss(twin, interest_task_losses(twin, pick()), inner_lr=0.1,
                                           inner_steps=inner_steps,
                                           first_order=first_order).backward()

    def fused() -> None:
        b = pick()
        p = expand_params(dict(model.named_parameters()), b.num_tasks)
        task_ce(model.batched_logits(p, b, b.support_items), b.support_y).sum().backward()

    return {
        "batched_second_order": median_ms(step(False), repeats, 3, device),
        "batched_first_order": median_ms(step(True), repeats, 3, device),
        "loop_second_order": median_ms(loop(False), loop_repeats, 1, device),
        "loop_first_order": median_ms(loop(True), loop_repeats, 1, device),
        "fused_fwd_bwd": median_ms(fused, repeats, 3, device),
    }


def bench_throughput(sampler: UserInterestTasks, model, batches, tasks: int,
                     inner_steps: int, device: torch.device, iterations: int
                     ) -> dict[str, float]:
    """Tasks/s of the training loop (sampling + collate + meta-step + Adam),
    sampling in-line and in a prefetch thread, against the bare meta-step on
    pre-collated batches. ``train_auto`` is what ``graphmeta train`` does on
    this device (``tasks.prefetch: auto``)."""
    maml = MAML(model, inner_lr=0.1, inner_steps=inner_steps)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run(source) -> float:
        next(source)  # warm-up
        _sync(device)
        start = time.perf_counter()
        for _ in range(iterations):
            loss = maml.meta_loss(next(source))
            opt.zero_grad()
            loss.backward()
            opt.step()
        _sync(device)
        return tasks * iterations / (time.perf_counter() - start)

    def cycle():
        while True:
            yield from batches
    bare = run(cycle())
    inline = run(b.to(device) for b in sampler.batches("train", tasks, seed=1))
    with Prefetcher(sampler.batches("train", tasks, seed=1), 2, lambda b: b.to(device)) as pre:
        thread = run(pre)
    auto = thread if device.type == "cuda" else inline
    return {"bare_meta_step": bare, "train_inline": inline, "train_prefetch_thread": thread,
            "train_auto": auto, "auto_fraction_of_bare": auto / bare}
