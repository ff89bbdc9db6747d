"""CUDA checks; skipped without a GPU (see conftest.py)."""
import json
import subprocess
import sys

import pytest
import torch

from graphmeta.meta import MAML, QUERY_LOSSES, make_rule, reference_meta_loss
from graphmeta.models import GNNEncoder, InterestModel

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("conv", ["gcn", "sage", "gin", "gat"])
def test_batched_matches_reference_on_cuda(small_tasks, conv):
    d = small_tasks.data
    torch.manual_seed(0)
    model = InterestModel(d.x.size(1), GNNEncoder(d.x.size(1), 6, 2, conv, heads=2),
                          interest_x=d.interest_x, head_hidden=5).double().cuda()
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0)).to("cuda")
    params = list(model.parameters())
    g = torch.autograd.grad(MAML(model, inner_lr=0.4, inner_steps=3).meta_loss(batch), params)
    r = torch.autograd.grad(reference_meta_loss(model, batch, inner_lr=0.4, inner_steps=3), params)
    for a, b in zip(g, r):
        assert a.is_cuda and ((a - b).norm() / b.norm()).item() < 1e-5


@pytest.mark.parametrize("query_loss", QUERY_LOSSES)
@pytest.mark.parametrize("rule", ["sgd", "metasgd", "learned"])
def test_meta_gradient_on_cuda_equals_cpu(small_tasks, query_loss, rule):
    """Every query loss and the meta-rule learners' rules: the same meta-loss
    and meta-gradient (model and rule parameters) on the GPU as on the CPU."""
    d = small_tasks.data
    batch = small_tasks.collate(small_tasks.fixed_tasks("train", 5, 0))
    out = []
    for dev in ("cpu", "cuda"):
        torch.manual_seed(0)
        model = InterestModel(d.x.size(1), GNNEncoder(d.x.size(1), 6, 2, "sage"),
                              interest_x=d.interest_x, head_hidden=5).double().to(dev)
        maml = MAML(model, rule=make_rule(rule, 0.3).double(), inner_steps=3,
                    query_loss=query_loss).to(dev)
        loss = maml.meta_loss(batch.to(dev))
        params = list(model.parameters()) + list(maml.rule.parameters())
        grads = torch.autograd.grad(loss, params, allow_unused=True, materialize_grads=True)
        assert all(g.device.type == dev for g in grads)
        out.append((loss.item(), [g.cpu() for g in grads]))
    assert out[1][0] == pytest.approx(out[0][0], rel=1e-10)
    for a, b in zip(out[1][1], out[0][1]):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-10)


def test_cli_runs_on_cuda(tmp_path):
    from tests.helpers import TINY
    args = [a if a != "cpu" else "cuda" for a in TINY]
    p = subprocess.run([sys.executable, "-m", "graphmeta.cli", "compare", "--out",
                        str(tmp_path), *args], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "device=cuda" in p.stdout
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["n_test_tasks"] == 30
    assert res["provenance"]["device"].startswith("cuda") and res["provenance"]["gpu"]
