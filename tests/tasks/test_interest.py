"""User-interest tasks: splits, task content, interest features without
leakage, negative sampling, collation."""
import pytest
import torch
from torch_geometric.data import Data

from graphmeta.features import CONTEXT_FEATURES, ContextFeatures
from graphmeta.models import GNNEncoder, InterestModel
from graphmeta.meta import MAML
from graphmeta.synthetic import make_social_graph
from graphmeta.tasks import UserInterestTasks, split_users


@pytest.fixture(scope="module")
def named():
    """Named interests with skewed popularity and no node features (the
    shape of the real datasets)."""
    g = make_social_graph(400, 40, 6, n_blocks=8, p_in=0.08, p_out=0.002, seed=5)
    gen = torch.Generator().manual_seed(0)
    rate = torch.linspace(0.6, 0.02, 40)            # interest c is liked less often as c grows
    interests = torch.rand(400, 40, generator=gen) < rate
    return Data(edge_index=g.edge_index, interests=interests, num_nodes=400)


def test_splits_are_disjoint_and_cover(small_tasks):
    s = small_tasks.splits
    sets = [set(s[k].tolist()) for k in ("train", "val", "test")]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert set().union(*sets) == set(small_tasks.eligible.tolist())


def test_split_fractions_validated():
    with pytest.raises(ValueError, match="split fractions"):
        split_users(range(10), [0.8, 0.3, 0.1], 0)


def test_task_content(small_tasks):
    interests = small_tasks.interests
    for t in small_tasks.fixed_tasks("test", 20, 1):
        assert t.nodes[0] == t.user
        s, q = set(t.support_items.tolist()), set(t.query_items.tolist())
        assert not s & q  # held-out interests are never in the support set
        assert t.support_y.sum() == 3 and len(t.support_y) == 6
        assert torch.equal(interests[t.user, t.support_items].long(), t.support_y)
        assert torch.equal(interests[t.user, t.query_items].long(), t.query_y)
        assert {0, 1} <= set(t.query_y.tolist())


def test_fixed_tasks_score_each_user_once_against_the_whole_catalogue(small_tasks):
    n_test = len(small_tasks.splits["test"])
    a = small_tasks.fixed_tasks("test", n_test + 7, 9)
    b = small_tasks.fixed_tasks("test", n_test + 7, 9)
    assert len(a) == n_test and len({t.user for t in a}) == n_test     # no user twice
    for x, y in zip(a, b):
        assert x.user == y.user and torch.equal(x.nodes, y.nodes)
        assert torch.equal(x.query_items, y.query_items)
    for t in a:   # full ranking: every interest outside the support set is a candidate
        assert sorted(t.query_items.tolist() + t.support_items.tolist()) == list(range(30))
        assert torch.equal(small_tasks.interests[t.user, t.query_items].long(), t.query_y)


def test_sampled_protocol_and_candidate_samples(small_tasks, named):
    for t in small_tasks.fixed_tasks("test", 5, 0, full=False):
        assert len(t.query_items) <= 8 and (t.query_y == 1).sum() <= 4
    few = UserInterestTasks(named, k_shot=2, n_query=5)
    for t in few.fixed_tasks("test", 5, 0, candidates=10):
        assert (t.query_y == 0).sum() == 10
        assert (t.query_y == 1).sum() == named.interests[t.user].sum() - 2


def test_collate_pads(small_tasks):
    tasks = small_tasks.fixed_tasks("train", 6, 0)
    b = small_tasks.collate(tasks)
    n = max(len(t.nodes) for t in tasks)
    g = b.graphs
    assert g.x.shape == (6, n, small_tasks.data.x.size(1)) and b.num_tasks == 6
    for i, t in enumerate(tasks):
        k = len(t.nodes)
        assert torch.equal(g.x[i, :k], small_tasks.data.x[t.nodes])
        assert g.node_mask[i, :k].all() and not g.node_mask[i, k:].any()
        assert g.adj[i, :, k:].sum() == 0
        assert g.adj[i].sum() == t.edge_index.size(1)


@pytest.mark.parametrize("features", ["interests", "x+interests", "x+interests-svd"])
def test_query_labels_never_reach_the_model(named, features):
    """Flip the egos' query labels in the interest matrix itself and rebuild
    the node features from it: what the model sees (the collated batch) and
    what it predicts after adaptation must not change. A leak (the ego's full
    interest row as features, say) fails this."""
    import copy
    data = named.clone()
    data.x = torch.randn(400, 3, generator=torch.Generator().manual_seed(1))
    tasks = UserInterestTasks(data, k_shot=2, n_query=5, node_features=features)
    ts = tasks.fixed_tasks("test", 12, 0)
    torch.manual_seed(0)
    model = InterestModel(tasks.node_x.size(1), GNNEncoder(tasks.node_x.size(1), 8, 2, "sage"),
                          num_interests=40, interest_dim=4, head_hidden=8)
    maml = MAML(model, inner_lr=0.3, inner_steps=2, rows=model.adapted_rows())
    before = tasks.collate(ts)
    pred = maml.adapted_logits(before)
    leaked = copy.copy(tasks)
    leaked.interests = tasks.interests.clone()
    for t in ts:
        leaked.interests[t.user, t.query_items] ^= True
    leaked._set_node_features(features)
    after = leaked.collate(ts)
    assert torch.equal(after.graphs.x, before.graphs.x)
    assert torch.equal(maml.adapted_logits(after), pred)
    # ...whereas a model that could see them would notice: the ego rows of
    # the interest matrix differ.
    assert not torch.equal(leaked.interests[before.users], tasks.interests[before.users])


def test_interest_features_hide_cold_start_users_and_the_egos_query(named):
    tasks = UserInterestTasks(named, k_shot=2, n_query=5, node_features="interests")
    assert tasks.node_features == "interests" and tasks.node_x.shape == (400, 40)
    for split in ("val", "test"):
        assert tasks.node_x[tasks.splits[split]].sum() == 0
    train = tasks.splits["train"]
    assert torch.equal(tasks.node_x[train].bool(), named.interests[train])
    ts = tasks.fixed_tasks("train", 30, 0)
    b = tasks.collate(ts)
    for t, task in enumerate(ts):
        expected = torch.zeros(40)
        expected[task.support_items[task.support_y == 1]] = 1
        assert torch.equal(b.graphs.x[t, 0], expected)     # ego row: support positives only
        assert b.graphs.x[t, 0, task.query_items[task.query_y == 1]].sum() == 0


def test_svd_interest_features_project_the_known_interests(named):
    """``interests-svd``: a node's row is its known multi-hot row projected
    on the SVD components (zero for cold-start users), the ego's row the
    projection of its support positives only."""
    tasks = UserInterestTasks(named, k_shot=2, n_query=5, node_features="interests-svd")
    v = tasks._svd                                                  # [C, k]
    assert tasks.node_x.shape == (400, v.size(1)) and v.size(1) == 39
    known = (named.interests & tasks.known.unsqueeze(1)).double()
    torch.testing.assert_close(tasks.node_x.double(), known @ v.double(), rtol=1e-5, atol=1e-5)
    for split in ("val", "test"):
        assert tasks.node_x[tasks.splits[split]].abs().sum() == 0
    ts = tasks.fixed_tasks("train", 10, 0)
    b = tasks.collate(ts)
    for t, task in enumerate(ts):
        torch.testing.assert_close(b.graphs.x[t, 0],
                                   v[task.support_items[task.support_y == 1]].sum(0))


def test_popularity_negatives_are_harder(named):
    def mean_pop(mode):
        tasks = UserInterestTasks(named, k_shot=2, n_query=5, negatives=mode)
        ts = tasks.fixed_tasks("train", 200, 1)
        neg = torch.cat([t.support_items[t.support_y == 0] for t in ts])
        return tasks.popularity[neg].mean().item()
    assert mean_pop("popularity") > 1.25 * mean_pop("uniform")


def test_popularity_counts_meta_train_users_only(named):
    a = UserInterestTasks(named, k_shot=2, n_query=5)
    changed = named.clone()
    changed.interests = named.interests.clone()
    gen = torch.Generator().manual_seed(1)
    for u in a.splits["test"].tolist():              # same counts, other interests
        changed.interests[u] = named.interests[u][torch.randperm(40, generator=gen)]
    assert not torch.equal(changed.interests, named.interests)
    b = UserInterestTasks(changed, k_shot=2, n_query=5)
    assert torch.equal(a.splits["train"], b.splits["train"])
    assert torch.equal(a.popularity, b.popularity)


def test_bad_settings_are_named(named):
    with pytest.raises(ValueError, match="negatives must be one of"):
        UserInterestTasks(named, negatives="hard")
    with pytest.raises(ValueError, match="node_features must be one of"):
        UserInterestTasks(named, node_features="structure")
    with pytest.raises(ValueError, match="needs data.x"):
        UserInterestTasks(named, node_features="x")
    with pytest.raises(ValueError, match="no user has more than k_shot=40"):
        UserInterestTasks(named, k_shot=40)
    assert "UserInterestTasks(users={'train'" in repr(UserInterestTasks(named, k_shot=2))


@pytest.mark.parametrize("change, match", [
    (lambda d: {"interests": d.interests.float().argmax(1)},
     r"interests must be \[num_nodes=400, num_interests\], got \(400,\) \(a label per user"),
    (lambda d: {"interests": d.interests[:350]},
     r"interests must be \[num_nodes=400, num_interests\], got \(350, 40\)"),
    (lambda d: {"interests": d.interests.float().to_sparse()}, "a sparse one: interests.to_dense"),
    (lambda d: {"edge_index": d.edge_index.float()}, "integer node ids"),
    (lambda d: {"edge_index": d.edge_index.t()}, r"edge_index must be a \[2, num_edges\]"),
    (lambda d: {"edge_index": torch.cat([d.edge_index, torch.tensor([[0], [400]])], 1)},
     r"node ids from 0 to 400, outside \[0, num_nodes=400\)"),
    (lambda d: {"x": torch.randn(399, 3)}, r"data.x must be \[num_nodes=400, num_features\]"),
])
def test_a_malformed_graph_is_named_before_sampling(named, change, match):
    data = Data(edge_index=named.edge_index, interests=named.interests, num_nodes=400)
    for k, v in change(named).items():
        data[k] = v
    with pytest.raises(ValueError, match=match):
        UserInterestTasks(data, k_shot=2)


def test_item_context_is_leave_one_out_for_training_egos(named):
    tasks = UserInterestTasks(named, k_shot=2, n_query=5, transform=ContextFeatures())
    assert tasks.item_features == CONTEXT_FEATURES
    train = tasks.splits["train"]
    X = named.interests[train].double()
    for split in ("train", "test"):
        ts = tasks.fixed_tasks(split, 6, 0)
        b = tasks.collate(ts)
        assert b.item_context.shape == (6, 40, 4)
        for t, task in enumerate(ts):
            rows = X[train != task.user]                   # the ego's own row left out
            pop = rows.mean(0)
            co = rows.T @ rows
            n = co.diagonal().clamp_min(1)
            sim = (co / (n[:, None] * n[None, :]).sqrt()).fill_diagonal_(0)
            pos = task.support_items[task.support_y == 1]
            # the neighbours' interest frequency, by brute force from the graph
            g = b.graphs.data_list[t]
            ids = b.graphs.node_ids[t][:g.num_nodes]
            nbrs = ids[g.edge_index[1][g.edge_index[0] == 0]].unique()
            nbrs = nbrs[tasks.known[nbrs]]
            freq = (named.interests[nbrs].double().mean(0) if len(nbrs)
                    else torch.zeros(40, dtype=torch.float64))
            nbr_co = (sim @ freq) / freq.sum().clamp_min(1e-12)
            for col, raw in enumerate([pop, sim[:, pos].mean(1), freq, nbr_co]):
                std = raw.std() if raw.std() > 0 else 1    # standardised within the task
                assert torch.allclose(b.item_context[t, :, col].double(),
                                      (raw - raw.mean()) / std, atol=1e-5)
            assert (split == "test") or nbr_co.abs().sum() > 0


def test_full_training_queries(small_tasks):
    b = next(small_tasks.batches("train", 4, seed=0, full=True))
    assert (b.query_mask.sum(1) == 30 - 6).all()       # every non-support interest
