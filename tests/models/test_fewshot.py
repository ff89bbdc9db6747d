"""Few-shot models on the batched engine against a per-graph PyG loop."""
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from graphmeta.meta import MAML
from graphmeta.models import FewShotClassifier, GNNEncoder, PrototypeClassifier, encode_graph
from graphmeta.models.functional import sub_params
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import FewShotTasks


@pytest.fixture(scope="module")
def graph():
    data = make_social_graph(400, 12, 6, n_blocks=8, p_in=0.08, p_out=0.002, seed=1)
    data.x = data.x.double()
    return data


def _reference_meta_loss(model, batch, *, inner_lr, inner_steps, proto):
    """Task by task, graph by graph, with PyG message passing."""
    params = dict(model.named_parameters())
    sup, qry = batch.support.data_list, batch.query.data_list
    T, S = batch.support_y.shape
    Q = batch.query_y.size(1)

    def embed(p, graphs):
        enc = sub_params(p, "encoder.")
        return torch.stack([encode_graph(model.encoder, enc, g.x, g.edge_index)[0]
                            for g in graphs])

    def logits(p, graphs, support):
        z = embed(p, graphs)
        if not proto:
            head = sub_params(p, "head.")
            return functional_call(model.head, head, (z,))
        zs, ys = embed(p, support[0]), support[1]
        c = torch.stack([zs[ys == k].mean(0) for k in range(batch.n_way)])
        return -((z[:, None] - c[None]) ** 2).sum(-1)

    losses = []
    for t in range(T):
        s_graphs, q_graphs = sup[t * S:(t + 1) * S], qry[t * Q:(t + 1) * Q]
        fast = dict(params)
        for _ in range(inner_steps):
            loss = F.cross_entropy(logits(fast, s_graphs, (s_graphs, batch.support_y[t])),
                                   batch.support_y[t])
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=True,
                                        allow_unused=True)
            fast = {k: v if g is None else v - inner_lr * g
                    for (k, v), g in zip(fast.items(), grads)}
        losses.append(F.cross_entropy(logits(fast, q_graphs, (s_graphs, batch.support_y[t])),
                                      batch.query_y[t]))
    return torch.stack(losses).mean()


@pytest.mark.parametrize("conv", ["gcn", "sage", "gin", "gat"])
@pytest.mark.parametrize("method", ["maml", "gmeta"])
def test_batched_meta_gradient_matches_per_graph_loop(graph, conv, method):
    tasks = FewShotTasks(graph, n_way=3, k_shot=2, n_query=2, max_nodes=8,
                         class_split=(0.5, 0.25, 0.25))
    batch = tasks.collate(tasks.episodes("train", 3, seed=0))
    torch.manual_seed(0)
    enc = GNNEncoder(graph.x.size(1), 8, 2, conv).double()
    model = (PrototypeClassifier(enc) if method == "gmeta"
             else FewShotClassifier(enc, 3, 8)).double()
    maml = MAML(model, inner_lr=0.3, inner_steps=2)
    loss = maml.meta_loss(batch)
    g = torch.autograd.grad(loss, list(model.parameters()))
    ref = _reference_meta_loss(model, batch, inner_lr=0.3, inner_steps=2, proto=method == "gmeta")
    g_ref = torch.autograd.grad(ref, list(model.parameters()))
    assert torch.allclose(loss, ref, rtol=1e-9, atol=1e-12)
    for a, b in zip(g, g_ref):
        assert torch.allclose(a, b, rtol=1e-7, atol=1e-10)


def test_protonet_is_nearest_prototype(graph):
    tasks = FewShotTasks(graph, n_way=3, k_shot=2, n_query=2, max_nodes=8,
                         class_split=(0.5, 0.25, 0.25))
    batch = tasks.collate(tasks.episodes("test", 2, seed=0))
    model = PrototypeClassifier(GNNEncoder(graph.x.size(1), 8, 2, "sage")).double()
    logits = MAML(model, inner_steps=0).adapted_logits(batch)
    with torch.no_grad():
        z_s = torch.stack([encode_graph(model.encoder, None, g.x, g.edge_index)[0]
                           for g in batch.support.data_list])
        z_q = torch.stack([encode_graph(model.encoder, None, g.x, g.edge_index)[0]
                           for g in batch.query.data_list])
    z_s, z_q = z_s.view(2, 6, -1), z_q.view(2, 6, -1)
    for t in range(2):
        protos = torch.stack([z_s[t][batch.support_y[t] == k].mean(0) for k in range(3)])
        assert torch.equal(logits[t].argmax(-1), torch.cdist(z_q[t], protos).argmin(-1))
