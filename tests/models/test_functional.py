import torch

from graphmeta.models.functional import blinear, sub_params


def test_blinear_is_a_linear_layer_per_task():
    g = torch.Generator().manual_seed(0)
    x, w, b = (torch.randn(3, 4, 5, generator=g), torch.randn(3, 2, 5, generator=g),
               torch.randn(3, 2, generator=g))
    out = blinear(x, w, b)
    for t in range(3):
        assert torch.allclose(out[t], torch.nn.functional.linear(x[t], w[t], b[t]), atol=1e-6)
    # G = 2 graphs per task share the task's weight; bias per graph
    x2 = torch.randn(6, 4, 5, generator=g)
    out2 = blinear(x2, w, b.repeat_interleave(2, 0))
    assert torch.allclose(out2[3], torch.nn.functional.linear(x2[3], w[1], b[1]), atol=1e-6)


def test_sub_params_strips_the_prefix():
    p = {"encoder.convs.0.lin.weight": 1, "head.fc1.bias": 2, "encoderx.w": 3}
    assert sub_params(p, "encoder.") == {"convs.0.lin.weight": 1}
