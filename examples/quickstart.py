"""graphmeta as a library, in the README's 20 lines
================================================

Your graph, per-user tasks, a GNN + MLP-head model, batched MAML and
full-ranking evaluation.

Run:  python examples/quickstart.py     (21 s on 2 CPU cores)

The code below is the README's library example, character for character
(a test checks it), and runs as written on this networkx graph and, with
its ``data = ...`` line swapped for the comment's, on the synthetic one.
"""
import networkx as nx
import torch
from graphmeta.datasets import from_networkx
from graphmeta.eval import Evaluator
from graphmeta.features import ContextFeatures
from graphmeta.meta import MAML
from graphmeta.models import interest_model
from graphmeta.tasks import UserInterestTasks

G = nx.barabasi_albert_graph(2000, 4, seed=0)          # your social graph; each user
for u in G:                                            # likes its and its friends' topics
    G.nodes[u]["interests"] = [f"topic{v % 40}" for v in (u, *G[u])]
data = from_networkx(G, interests_attr="interests")    # or graphmeta.synthetic.make_social_graph()
tasks = UserInterestTasks(data, k_shot=2, transform=ContextFeatures())  # a task per user
model = interest_model(tasks)                          # GNN encoder + MLP head, CLI defaults
maml = MAML(model, inner_lr=0.1, inner_steps=5)        # params=model.head is ANIL
opt = torch.optim.Adam(maml.parameters(), lr=1e-3)
stream = tasks.batches("train", batch_size=32, seed=0)
for _ in range(150):
    loss = maml.meta_loss(next(stream))                # 32 users, one batched inner loop
    opt.zero_grad()
    loss.backward()
    opt.step()
scores = Evaluator(tasks).evaluate(maml.adapted_logits, "test")  # held-out users, full ranking
print({k: round(float(v[v == v].mean()), 3) for k, v in scores.items()})
