"""Any encoder module: PyG's dense convs and a user's own dense module are
meta-trained batched (vmap over their own forward) with the per-task loop's
values and meta-gradients; message passing runs task by task; a module the
batched path cannot reproduce is refused."""
import pytest
import torch
import torch_geometric.nn.dense as dense
from torch import nn
from torch_geometric.nn.models import GraphSAGE

from graphmeta.meta import MAML, reference_meta_loss
from graphmeta.models import BatchedPathError, GNNEncoder, InterestModel, describe
from graphmeta.models.batched import encode_egos, is_sparse, path_of
from graphmeta.models.functional import sub_params
from graphmeta.tasks.batch import GraphBatch
from graphmeta.models.reference import interest_task_losses

# Every convolution torch_geometric.nn.dense has, found by name, so one PyG
# adds is tested too; each builds (in, out).
DENSE_CONVS = sorted(n for n in dense.__all__ if n.startswith("Dense") and n.endswith("Conv"))
BUILD = {"DenseGINConv": lambda i, o: dense.DenseGINConv(nn.Sequential(nn.Linear(i, o), nn.ReLU(),
                                                                       nn.Linear(o, o))),
         "DenseGATConv": lambda i, o: dense.DenseGATConv(i, o // 2, heads=2)}


class Stack(nn.Module):
    """Two layers of one dense conv class, written as a researcher would."""

    def __init__(self, make, d_in: int, d: int) -> None:
        super().__init__()
        self.a, self.b = make(d_in, d), make(d, d)
        self.out_channels = d

    def forward(self, x, adj, mask=None):
        return self.b(torch.relu(self.a(x, adj, mask)), adj, mask)


class MyConv(nn.Module):
    """A researcher's own dense layer: a gated mean of the neighbours."""

    def __init__(self, d_in: int, d: int) -> None:
        super().__init__()
        self.lin, self.gate = nn.Linear(d_in, d), nn.Linear(d_in, 1)
        self.out_channels = d

    def forward(self, x, adj, mask=None):
        agg = adj @ x / adj.sum(-1, keepdim=True).clamp(min=1)
        return torch.tanh(self.lin(agg)) * torch.sigmoid(self.gate(x))


class PaddingBlind(MyConv):
    """Normalises by the mean over all N rows, padding included: a different
    answer on a padded graph than on the graph alone."""

    def forward(self, x, adj, mask=None):
        h = super().forward(x, adj, mask)
        return h - h.mean(-2, keepdim=True)


class DataDependent(MyConv):
    """Reads a value out of a tensor, which vmap cannot batch."""

    def forward(self, x, adj, mask=None):
        return super().forward(x, adj, mask) * float(adj.sum().item() > 0)


def _meta_step(model, batch):
    """Batched MAML and the per-task reference: losses and meta-gradients."""
    maml = MAML(model, inner_lr=0.3, inner_steps=2)
    params = list(model.parameters())
    batched = maml.meta_loss(batch)
    g1 = torch.autograd.grad(batched, params, allow_unused=True, materialize_grads=True)
    ref = reference_meta_loss(model, interest_task_losses(model, batch), inner_lr=0.3,
                              inner_steps=2)
    g2 = torch.autograd.grad(ref, params, allow_unused=True, materialize_grads=True)
    return batched, ref, g1, g2


def _model(tasks, encoder):
    torch.manual_seed(0)
    return InterestModel(tasks.node_x.size(1), encoder, interest_x=tasks.data.interest_x,
                         head_hidden=6).double()


@pytest.mark.parametrize("conv", DENSE_CONVS)
def test_every_pyg_dense_conv_meta_trains_batched_as_the_per_task_loop(small_tasks, conv):
    assert len(DENSE_CONVS) >= 5
    make = BUILD.get(conv, getattr(dense, conv))
    torch.manual_seed(0)
    model = _model(small_tasks, Stack(make, small_tasks.node_x.size(1), 6).double())
    assert path_of(model.encoder) == "batched"
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0))
    batched, ref, g1, g2 = _meta_step(model, batch)
    torch.testing.assert_close(batched, ref, rtol=1e-9, atol=1e-12)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("conv", ["gcn", "sage", "gin", "gat", "graph"])
def test_graphmetas_encoder_meta_trains_batched_as_the_per_task_loop(small_tasks, conv):
    """GNNEncoder asks for the ego's row alone where its layer allows that:
    the result is the full forward's, for every conv."""
    enc = GNNEncoder(small_tasks.node_x.size(1), 6, 2, conv, heads=2).double()
    model = _model(small_tasks, enc)
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0))
    batched, ref, g1, g2 = _meta_step(model, batch)
    torch.testing.assert_close(batched, ref, rtol=1e-9, atol=1e-12)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-10)
    # the ego's row alone is what SAGE, GIN and GraphConv give; GCN and GAT run whole
    assert enc._graphmeta_rows == (conv in ("sage", "gin", "graph"))


def test_a_users_own_dense_module_meta_trains_batched(small_tasks):
    model = _model(small_tasks, Stack(MyConv, small_tasks.node_x.size(1), 6).double())
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0))
    batched, ref, g1, g2 = _meta_step(model, batch)
    torch.testing.assert_close(batched, ref, rtol=1e-9, atol=1e-12)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-10)
    assert "batched path" in describe(model.encoder)


def test_message_passing_runs_task_by_task_with_the_same_results(small_tasks):
    enc = GraphSAGE(small_tasks.node_x.size(1), 6, 2, 6, aggr="max").double()
    model = _model(small_tasks, enc)
    assert is_sparse(enc) and path_of(enc) == "per-task" and "per-task" in describe(enc)
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0))
    batched, ref, g1, g2 = _meta_step(model, batch)
    torch.testing.assert_close(batched, ref, rtol=1e-9, atol=1e-12)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("module, match", [(PaddingBlind, "depends on the padding"),
                                           (DataDependent, "vmap over its forward failed")])
def test_a_module_the_batched_path_cannot_reproduce_is_refused(small_tasks, module, match):
    enc = Stack(module, small_tasks.node_x.size(1), 6).double()
    model = _model(small_tasks, enc)
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0))
    with pytest.raises(BatchedPathError, match=match):
        MAML(model, inner_lr=0.3, inner_steps=1).meta_loss(batch)


def test_a_padding_blind_module_is_refused_at_the_first_padded_batch(small_tasks):
    """A first batch of graphs of one size has no padding, so a module that
    ignores the mask passes its check there; the first padded batch is
    checked again, and refused."""
    enc = Stack(PaddingBlind, small_tasks.node_x.size(1), 6).double()
    p = {k: v.unsqueeze(0).expand(3, *v.shape) for k, v in enc.named_parameters()}
    ring = torch.tensor([[0, 1, 2, 1, 2, 0], [1, 2, 0, 0, 1, 2]])

    def graphs(sizes):
        parts = [(torch.arange(10 * i, 10 * i + n), ring[:, (ring < n).all(0)])
                 for i, n in enumerate(sizes)]
        return GraphBatch.from_subgraphs(parts, small_tasks.node_x)
    same = graphs([3, 3, 3])
    assert same.node_mask.all()
    assert encode_egos(enc, p, same).shape == (3, 6)            # passes: nothing to pad
    assert not enc._graphmeta_padded
    assert encode_egos(enc, p, same).shape == (3, 6)
    with pytest.raises(BatchedPathError, match="depends on the padding"):
        encode_egos(enc, p, graphs([3, 3, 2]))
    ok = Stack(MyConv, small_tasks.node_x.size(1), 6).double()   # respects the mask
    encode_egos(ok, p, same)
    encode_egos(ok, p, graphs([3, 3, 2]))
    assert ok._graphmeta_padded


def test_the_encoders_size_is_read_or_given_and_gat_heads_concatenate(small_tasks):
    from graphmeta.models import interest_model
    from graphmeta.models.batched import out_channels
    f = small_tasks.node_x.size(1)
    gat = dense.DenseGATConv(f, 4, heads=2)                 # out_channels 4 a head, 8 in all
    assert out_channels(gat) == 8 and out_channels(dense.DenseGATConv(f, 4, 2, concat=False)) == 4
    assert out_channels(GNNEncoder(f, 8, conv="gat", heads=4)) == 8   # its out_channels: all
    model = _model(small_tasks, gat.double())
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0))
    assert MAML(model, inner_lr=0.3, inner_steps=1).meta_loss(batch).isfinite()
    unnamed = Stack(MyConv, f, 6)
    del unnamed.out_channels
    with pytest.raises(ValueError, match="has no int out_channels: pass encoder_dim"):
        interest_model(small_tasks, encoder=unnamed, context=False)
    model = interest_model(small_tasks, encoder=unnamed, encoder_dim=6, context=False)
    d = small_tasks.data.interest_x.size(1)
    assert model.head.fc1.in_features == 6 + d + 6        # ego, interest features, product


def test_a_sparse_forward_is_not_taken_for_a_dense_one(small_tasks):
    class EdgeIndexOnly(nn.Module):
        out_channels = 6

        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(small_tasks.node_x.size(1), 6)

        def forward(self, x, edge_index):
            return self.lin(x)
    model = _model(small_tasks, EdgeIndexOnly().double())
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0))
    with pytest.raises(BatchedPathError, match="cannot take \\(x, adj, mask\\)"):
        MAML(model, inner_lr=0.3, inner_steps=1).meta_loss(batch)


def test_rows_is_the_full_forwards_rows(small_tasks):
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0))
    g = batch.graphs
    for conv in ("sage", "gin", "graph"):
        enc = GNNEncoder(small_tasks.node_x.size(1), 6, 2, conv).double()
        torch.testing.assert_close(enc(g.x, g.adj, g.node_mask, rows=1)[:, 0],
                                   enc(g.x, g.adj, g.node_mask)[:, 0])
        p = {k: v.unsqueeze(0).expand(5, *v.shape) for k, v in enc.named_parameters()}
        egos = encode_egos(enc, p, g)
        assert egos.shape == (5, 6) and enc._graphmeta_rows


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match="conv must be one of"):
        GNNEncoder(3, conv="cheb")
    with pytest.raises(ValueError, match="divisible by heads"):
        GNNEncoder(3, hidden=6, conv="gat", heads=4)
    assert "GNNEncoder(3, 8, layers=2" in repr(GNNEncoder(3, 8))
    assert sub_params({"encoder.a": 1}, "encoder.") == {"a": 1}
    with pytest.raises(ValueError, match="pass encoder_dim"):
        InterestModel(3, nn.Linear(3, 3), num_interests=4)
