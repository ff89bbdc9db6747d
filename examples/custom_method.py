"""Registering a method graphmeta lacks: Reptile (Nichol, Achiam & Schulman, 2018).

Reptile adapts each task with plain first-order SGD on all of its labelled
examples, then moves the initialisation toward the adapted weights: its
meta-gradient is ``theta - mean_t(phi_t)``. Written as the loss
``0.5 * ||theta - stopgrad(mean_t phi_t)||^2``, whose gradient is exactly
that, graphmeta's training loop (Adam, meta-val checkpointing) does the rest,
and ``graphmeta compare`` scores it beside the built-ins on the same tasks.

Run:  python examples/custom_method.py [--set meta.iterations=200 ...]   (demo graph, ~1 min)
 or:  graphmeta compare --plugin examples/custom_method.py --methods maml,reptile,finetune \\
          --out runs/reptile
"""
import sys

from torch import Tensor

from graphmeta.build import fewshot_model, interest_model
from graphmeta.meta import MAML, task_ce
from graphmeta.methods import Context, Learner, register_method


class Reptile(Learner):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        spec = ctx.spec
        model = (fewshot_model(spec, ctx.tasks) if spec.kind == "few-shot"
                 else interest_model(spec, ctx.tasks))
        # First order: Reptile never differentiates through its inner loop.
        self.maml = MAML(model, inner_lr=spec.meta.inner_lr, inner_steps=spec.meta.inner_steps,
                         first_order=True)

    def training_loss(self, batch) -> Tensor:
        model = self.maml.model

        def every_example(p):  # per-task loss on the support and the query set
            s = task_ce(model.batched_logits(p, batch, batch.support_items), batch.support_y)
            q = task_ce(model.batched_logits(p, batch, batch.query_items), batch.query_y,
                        batch.query_mask)
            return s + q

        fast = self.maml.adapt(every_example, num_tasks=batch.num_tasks, detach=True)
        return sum(0.5 * (p - fast[k].detach().mean(0)).pow(2).sum()
                   for k, p in model.named_parameters())

    def predict(self, batch) -> Tensor:  # adapt on the support set, as MAML does
        if self.ctx.spec.kind == "few-shot":
            return self.maml.predict_logits(batch)
        return self.maml.predict(batch)


@register_method("reptile", kinds=("user-interest", "few-shot"), training="meta",
                 description="Reptile: first order, moves the init toward adapted weights")
def build_reptile(ctx: Context) -> Learner:
    return Reptile(ctx)


if __name__ == "__main__":
    from graphmeta.cli import main
    sys.exit(main(["compare", "--methods", "maml,reptile,finetune", "--out", "runs/reptile",
                   *sys.argv[1:]]))
