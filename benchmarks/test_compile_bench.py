"""ember.compile against eager: the issue's elementwise chain over 1M floats and the
TransformerEncoderLayer training step (d_model 128, 4 heads, ff 256, batch 16 x seq 32), on
cpu and opencl. PyTorch's torch.compile is timed by hand beside it (see the closing note)."""
import pytest

import ember
import ember.nn.functional as F
from ember import nn


def chain(x):
    return F.gelu(x * 1.5 + 0.1).tanh() * x.sigmoid() - x.exp().clamp(max=3) / (1 + x * x)


def _devices():
    found = ["cpu"]
    try:
        ember.zeros(1, device="opencl")
        found.append("opencl")
    except Exception:
        pass
    return found


@pytest.mark.parametrize("device", _devices())
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_elementwise_chain_1m(benchmark, device, compiled):
    x = ember.randn(1_000_000, device=device)
    fn = ember.compile(chain) if compiled else chain
    fn(x)
    benchmark(lambda: ember.Tensor.sum(fn(x)).item())


@pytest.mark.parametrize("device", _devices())
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_transformer_layer_training_step(benchmark, device, compiled):
    ember.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=256, batch_first=True).to(device)
    model = ember.compile(layer) if compiled else layer
    opt = ember.optim.Adam(layer.parameters(), lr=1e-4)
    x, y = ember.randn(16, 32, 128, device=device), ember.randn(16, 32, 128, device=device)

    def step():
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    step()
    benchmark(step)
