"""What a resumable training state holds besides the learner: the
optimiser (Adam, with lazy Adam for sparse-gradient tables) and the random
number generators' states."""
from __future__ import annotations

import random

import numpy as np
import torch


def rng_states() -> dict:
    np_state = np.random.get_state()
    out = {"torch": torch.get_rng_state(), "python": random.getstate(),
           "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)),
                     *np_state[2:]]}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Optimiser:
    """Adam on the learner's parameters, except those whose gradients are
    sparse (a module's ``sparse_parameters()``: a large interest table with
    ``model.sparse_grad``), which get lazy Adam
    (:class:`torch.optim.SparseAdam`: moments and updates for the rows a
    step touched only, which is what keeps a step's cost independent of the
    table's size; plain Adam would move every row every step)."""

    def __init__(self, learner: torch.nn.Module, lr: float) -> None:
        sparse = {id(p) for m in learner.modules()
                  for p in getattr(m, "sparse_parameters", list)()}
        params = list(learner.parameters())
        self.opts: list[torch.optim.Optimizer] = [
            torch.optim.Adam([p for p in params if id(p) not in sparse], lr=lr)]
        if sparse:
            self.opts.append(torch.optim.SparseAdam([p for p in params if id(p) in sparse],
                                                    lr=lr))

    def zero_grad(self) -> None:
        for o in self.opts:
            o.zero_grad()

    def step(self) -> None:
        for o in self.opts:
            o.step()

    def state_dict(self) -> dict:
        if len(self.opts) == 1:     # the checkpoint format of a plain Adam
            return self.opts[0].state_dict()
        return {"optimisers": [o.state_dict() for o in self.opts]}

    def load_state_dict(self, state: dict) -> None:
        states = state["optimisers"] if "optimisers" in state else [state]
        if len(states) != len(self.opts):
            raise ValueError(f"the checkpoint holds {len(states)} optimiser states, this "
                             f"learner needs {len(self.opts)} (model.sparse_grad changed?)")
        for o, st in zip(self.opts, states):
            o.load_state_dict(st)


__all__ = ["Optimiser", "restore_rng", "rng_states"]
