"""Registering a method graphmeta lacks, with its own settings: Reptile
====================================================================

Reptile (Nichol, Achiam & Schulman, 2018), registered from outside the package.

Reptile adapts each task with plain first-order SGD on all of its labelled
examples, then moves the initialisation toward the adapted weights: its
meta-gradient is ``theta - mean_t(phi_t)``. Written as the loss
``0.5 * ||theta - stopgrad(mean_t phi_t)||^2``, whose gradient is exactly
that, graphmeta's training loop (Adam, meta-val checkpointing) does the rest,
and ``graphmeta compare`` scores it beside the built-ins on the same tasks.

Its settings are its own class: the model's and the training loop's keys
graphmeta already has, plus Reptile's inner loop, each with its range and
tuning values. ``--set reptile.inner_steps=10`` is checked as built-in keys
are, and ``graphmeta methods reptile --plugin examples/custom_method.py``
lists them.

Run it (maml, reptile and finetune on the demo graph, 300 iterations, one
seed: 81 s on 2 CPU cores), or the same from the command line::

    python examples/custom_method.py
    graphmeta compare --plugin examples/custom_method.py --methods maml,reptile,finetune \\
        --set reptile.inner_steps=10 --out runs/reptile
"""
import sys
from dataclasses import dataclass

from torch import Tensor

from graphmeta.meta import MAML, task_ce
from graphmeta.methods import Context, Learner, ModelSettings, TrainSettings, register_method
from graphmeta.methods.common import classifier, predict
from graphmeta.settings import setting


@dataclass(frozen=True)
class ReptileSettings(ModelSettings, TrainSettings):
    inner_steps: int = setting(5, low=1, search=[1, 5, 10], doc="SGD steps on each task")
    inner_lr: float = setting(0.1, positive=True, search=[0.03, 0.1, 0.3])
    with_query: bool = setting(True, doc="adapt on the query examples too, as Reptile "
                                         "adapts on all of a task's examples")


class Reptile(Learner):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        s = ctx.settings
        # First order: Reptile never differentiates through its inner loop.
        self.maml = MAML(classifier(ctx), inner_lr=s.inner_lr, inner_steps=s.inner_steps,
                         first_order=True)

    def training_loss(self, batch) -> Tensor:
        model = self.maml.model

        def examples(p):  # per-task loss on the support (and query) set
            loss = task_ce(model.batched_logits(p, batch, batch.support_items), batch.support_y)
            if self.settings.with_query:
                loss = loss + task_ce(model.batched_logits(p, batch, batch.query_items),
                                      batch.query_y, batch.query_mask)
            return loss

        fast = self.maml.adapt(examples, num_tasks=batch.num_tasks, detach=True)
        return sum(0.5 * (p - fast[k].detach().mean(0)).pow(2).sum()
                   for k, p in model.named_parameters())

    def predict(self, batch, steps=None) -> Tensor:  # adapt on the support set, as MAML does
        return predict(self.ctx, self.maml, batch, steps)


@register_method("reptile", kinds=("user-interest", "few-shot"), training="meta",
                 config=ReptileSettings,
                 description="Reptile: first order, moves the init toward adapted weights")
def build_reptile(ctx: Context) -> Learner:
    return Reptile(ctx)


if __name__ == "__main__":
    from graphmeta.cli import main
    status = main(["compare", "--methods", "maml,reptile,finetune", "--out", "runs/reptile",
                   "--force", "--quiet", "--set", "*.iterations=300",
                   "--set", "finetune.pretrain_iterations=300",
                   "--set", "eval.seeds=1", *sys.argv[1:]])
    # exit only on a failure: the docs build runs this file inside the Sphinx
    # process, where even sys.exit(0) would end the whole build
    if status:
        sys.exit(status)
