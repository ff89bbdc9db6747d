"""graphmeta as a library: tasks, model, batched MAML and evaluation in a page.

Run:  python examples/quickstart.py     (about 30 s on 2 CPU cores)
"""
import torch

from graphmeta.eval import mean_ci, ranking_metrics
from graphmeta.meta import MAML
from graphmeta.models import GNNEncoder, InterestModel
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import UserInterestTasks

torch.manual_seed(0)
data = make_social_graph(n_users=2000, homophily=0.9, feature_noise=2.0, seed=0)
tasks = UserInterestTasks(data, k_shot=5, n_query=10, hops=2, max_nodes=64)
print(tasks)

encoder = GNNEncoder(data.x.size(1), hidden=64, layers=2, conv="sage")
model = InterestModel(data.x.size(1), encoder, interest_x=data.interest_x)
maml = MAML(model, inner_lr=0.1, inner_steps=5)           # second order
opt = torch.optim.Adam(model.parameters(), lr=1e-3)

stream = tasks.batches("train", batch_size=32, seed=0)     # endless meta-batches
for it in range(300):
    loss = maml.meta_loss(next(stream))                    # all 32 tasks at once
    opt.zero_grad()
    loss.backward()
    opt.step()

# Each held-out user once; its held-out items ranked against every item outside its support.
test = tasks.collate(tasks.fixed_tasks("test", 500, seed=12345))
m = ranking_metrics(maml.predict(test), test.query_y, test.query_mask)
auc, ndcg = mean_ci(m["auc"]), mean_ci(m["ndcg@10"])
print(f"{len(test.users)} held-out users: ROC-AUC {auc['mean']:.3f} ± {auc['ci95']:.3f}, "
      f"nDCG@10 {ndcg['mean']:.3f} ± {ndcg['ci95']:.3f}")
