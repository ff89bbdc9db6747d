"""Few-shot (G-Meta protocol) episodes, models and the compare command."""
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call
from torch_geometric.data import Data

from graphmeta.cli import main
from graphmeta.meta import MAML
from graphmeta.models import FewShotClassifier, GNNEncoder, PrototypeClassifier
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import FewShotTasks

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="module")
def graph():
    data = make_social_graph(400, 12, 6, n_blocks=8, p_in=0.08, p_out=0.002, seed=1)
    data.x = data.x.double()
    return data


def test_class_splits_are_disjoint_and_episodes_are_clean(graph):
    tasks = FewShotTasks(graph, k_shot=2, n_query=3, max_nodes=10, class_split=(0.5, 0.25, 0.25))
    splits = [set(v.tolist()) for v in tasks.splits.values()]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])
    member = graph.interests.bool()
    for split in ("train", "val", "test"):
        for ep in tasks.episodes(split, 5, seed=3):
            assert set(ep.classes.tolist()) <= set(tasks.splits[split].tolist())
            users = torch.cat([ep.support_users, ep.query_users])
            assert len(set(users.tolist())) == len(users)   # nobody twice
            ys = torch.cat([ep.support_y, ep.query_y])
            rows = member[users][:, ep.classes]              # [users, N]
            # each user is in its own class and in no other class of the episode
            assert rows[torch.arange(len(users)), ys].all() and (rows.sum(1) == 1).all()
            assert ep.support_y.tolist() == sorted(ep.support_y.tolist())
            for (nodes, _), u in zip(ep.support_graphs + ep.query_graphs, users.tolist()):
                assert nodes[0] == u and len(nodes) <= 10
    a = tasks.episodes("test", 3, seed=7)
    b = tasks.episodes("test", 3, seed=7)
    assert all(torch.equal(x.query_users, y.query_users) for x, y in zip(a, b))


def test_n_way_auto_shrinks_and_too_few_classes_is_named():
    y = torch.arange(60) % 6                      # 6 classes of 10 users
    ei = torch.stack([torch.arange(60), (torch.arange(60) + 1) % 60])
    data = Data(edge_index=torch.cat([ei, ei.flip(0)], 1), y=y, num_nodes=60,
                x=torch.randn(60, 3))
    tasks = FewShotTasks(data, k_shot=2, n_query=3, class_split=(0.34, 0.33, 0.33))
    assert tasks.n_way == 2 and tasks.node_features == "x"
    with pytest.raises(ValueError, match=r"n_way=5: every class split needs .* train 2, val 2, test 2"):
        FewShotTasks(data, n_way=5, k_shot=2, n_query=3, class_split=(0.34, 0.33, 0.33))
    with pytest.raises(ValueError, match=r"labels='interests' needs data.interests"):
        FewShotTasks(data, labels="interests")


def test_structure_features_without_x():
    y = torch.arange(60) % 6
    ei = torch.stack([torch.arange(60), (torch.arange(60) + 1) % 60])
    data = Data(edge_index=torch.cat([ei, ei.flip(0)], 1), y=y, num_nodes=60)
    a = FewShotTasks(data, n_way=2, k_shot=2, n_query=3, class_split=(0.34, 0.33, 0.33))
    b = FewShotTasks(data, n_way=2, k_shot=2, n_query=3, class_split=(0.34, 0.33, 0.33))
    assert a.node_features == "structure" and a.node_x.shape == (60, 17)
    assert torch.equal(a.node_x, b.node_x)        # the eigenvector signs repeat
    with pytest.raises(ValueError, match="needs data.x"):
        FewShotTasks(data, n_way=2, k_shot=2, n_query=3, class_split=(0.34, 0.33, 0.33),
                     node_features="x")


def _reference_meta_loss(model, batch, *, inner_lr, inner_steps, proto):
    """Task by task, graph by graph, with PyG message passing."""
    params = dict(model.named_parameters())
    sup, qry = batch.support.graphs, batch.query.graphs
    T, S = batch.support_y.shape
    Q = batch.query_y.size(1)

    def embed(p, graphs):
        enc = {k[8:]: v for k, v in p.items() if k.startswith("encoder.")}
        return torch.stack([functional_call(model.encoder, enc, (g.x, g.edge_index))[0] for g in graphs])

    def logits(p, graphs, support):
        z = embed(p, graphs)
        if not proto:
            head = {k[5:]: v for k, v in p.items() if k.startswith("head.")}
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
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=True, allow_unused=True)
            fast = {k: v if g is None else v - inner_lr * g for (k, v), g in zip(fast.items(), grads)}
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
    model = (PrototypeClassifier(enc) if method == "gmeta" else FewShotClassifier(enc, 3, 8)).double()
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
    logits = MAML(model, inner_steps=0).predict_logits(batch)
    with torch.no_grad():
        z_s = torch.stack([model.encoder(g.x, g.edge_index)[0] for g in batch.support.graphs])
        z_q = torch.stack([model.encoder(g.x, g.edge_index)[0] for g in batch.query.graphs])
    z_s, z_q = z_s.view(2, 6, -1), z_q.view(2, 6, -1)
    for t in range(2):
        protos = torch.stack([z_s[t][batch.support_y[t] == k].mean(0) for k in range(3)])
        assert torch.equal(logits[t].argmax(-1), torch.cdist(z_q[t], protos).argmin(-1))


@pytest.mark.skipif(not (SHARED / "email_eu_core").exists(), reason="mirror not present")
def test_compare_few_shot_on_email_runs_every_method(tmp_path):
    out = tmp_path / "run"
    rc = main(["compare", "--dataset", "email-eu-core", "--task", "few-shot", "--quiet",
               "--out", str(out), "--set", f"dataset.root={SHARED}",
               "--set", "meta.iterations=4", "--set", "meta.eval_every=2",
               "--set", "baselines.pretrain_iterations=4", "--set", "baselines.scratch_steps=3",
               "--set", "tasks.n_val_tasks=4", "--set", "tasks.n_test_tasks=8"])
    assert rc == 0
    res = json.loads((out / "results.json").read_text())
    assert res["task_kind"] == "few-shot" and res["n_way"] == 5 and res["k_shot"] == 3
    assert list(res["methods"]) == ["maml", "fomaml", "protonet", "gmeta", "finetune", "scratch"]
    assert res["classes"] == {"train": 15, "val": 5, "test": 5}
    for m in res["methods"].values():
        assert 0 <= m["accuracy"]["mean"] <= 1 and "auc" not in m
    # The saved checkpoints evaluate to the same numbers.
    assert main(["evaluate", str(out), "--out", str(tmp_path)]) == 0
    again = json.loads((tmp_path / "results.json").read_text())
    for m in ("maml", "protonet", "gmeta", "finetune"):
        assert again["methods"][m]["accuracy"] == res["methods"][m]["accuracy"], m


def test_method_that_does_not_fit_the_task_kind_is_named(tmp_path, capsys):
    rc = main(["compare", "--task", "few-shot", "--methods", "itemknn", "--out", str(tmp_path),
               "--set", "dataset.n_users=200", "--quiet"])
    assert rc == 2
    assert "'itemknn' does not run on few-shot tasks" in capsys.readouterr().err
