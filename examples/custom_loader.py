"""Plugging your own graph into graphmeta, four ways
=================================================

1. Files you already have: ``from_edge_list(edges, interests, features, labels)``.
2. A networkx graph with node attributes: ``from_networkx``.
3. Your own loader function: ``@graphmeta.datasets.register("name")``, after
   which ``load("name")`` works, and ``graphmeta compare --plugin
   my_loaders.py --dataset name`` from the command line.
4. No code: ``graphmeta compare --dataset PATH`` on a folder holding
   ``edges.csv`` and ``interests.json`` (optionally ``features.*`` and
   ``labels.csv``).

Run:  python examples/custom_loader.py          (5 s on 2 CPU cores)
"""
import json
import tempfile
from pathlib import Path

import networkx as nx
import numpy as np

from graphmeta import datasets
from graphmeta.tasks import UserInterestTasks

folder = Path(tempfile.mkdtemp()) / "mygraph"
folder.mkdir()
rng = np.random.default_rng(0)
# 1. Files: string node ids, a CSV edge list with a header, interests as JSON.
pairs = rng.integers(0, 300, (1500, 2))
(folder / "edges.csv").write_text(
    "source,target\n" + "".join(f"user{a},user{b}\n" for a, b in pairs if a != b))
topics = [f"topic{k}" for k in range(30)]
(folder / "interests.json").write_text(json.dumps(
    {f"user{u}": list(rng.choice(topics, 8, replace=False)) for u in range(300)}))
data = datasets.from_edge_list(folder / "edges.csv", folder / "interests.json", name="mygraph")
print("from_edge_list:", data, "first ids:", data.node_ids[:3])

# 2. networkx, with interests stored on the nodes.
G = nx.karate_club_graph()
for u in G.nodes:
    G.nodes[u]["interests"] = [G.nodes[u]["club"]]
print("from_networkx:", datasets.from_networkx(G, interests_attr="interests"))


# 3. A registered loader; `root` is the mirror folder (GRAPHMETA_DATA).
@datasets.register("mygraph", config={"tasks.k_shot": 3})  # settings it recommends
def load_mygraph(root: Path):
    return datasets.from_folder(root / "mygraph")


data = datasets.load("mygraph", root=folder.parent)
tasks = UserInterestTasks(data, k_shot=3, n_query=5)
print("registered:", tasks)

# 4. The same folder with no code at all:
print(f"\nno code: graphmeta compare --dataset {folder} --methods maml,itemknn "
      f"--set tasks.k_shot=3 --out runs/mygraph")
