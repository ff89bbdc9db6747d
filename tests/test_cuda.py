"""CUDA checks; skipped without a GPU (see conftest.py)."""
import json
import subprocess
import sys

import pytest
import torch

from graphmeta.meta import MAML, reference_meta_loss
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


def test_cli_runs_on_cuda(tmp_path):
    from tests.helpers import TINY
    args = [a if a != "cpu" else "cuda" for a in TINY]
    p = subprocess.run([sys.executable, "-m", "graphmeta.cli", "compare", "--out",
                        str(tmp_path), *args], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "device=cuda" in p.stdout
    assert json.loads((tmp_path / "results.json").read_text())["n_test_tasks"] == 30
