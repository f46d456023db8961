"""The CPU plugin's fused training-step kernels (ember/plugins/cpu/training.py) against the
numpy kernels they replace, at the sizes of the training workloads (training_workloads.py):

    adam_step            one Adam/AdamW update of the MLP's 784x256 weight (200,704 floats)
    layer_norm           TransformerEncoderLayer's norm: (16, 32, 128) over the last dim, forward
    layer_norm_backward  its gradients (x, weight, bias) from the saved statistics
    layer_norm step      forward + backward through autograd (the fused rule vs the composite)

Each runs as ``fused`` (the CPU kernel table's entry) and ``numpy`` (the shared xp kernel, or the
composite's numpy arithmetic). Never asserts timings.
"""
import numpy as np
import pytest
import scipy.special

import ember
from ember.plugins.cpu import training
from ember.plugins.cpu.kernels import kernel_table
from ember.plugins.xp import XpKernels

pytest.importorskip("numba")

_ADAM = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, step=10.0,
             decoupled_weight_decay=True, amsgrad=False, maximize=False)


@pytest.mark.parametrize("which", ["fused", "numpy"])
def test_adam_step(benchmark, which):
    kernel = kernel_table()["adam_step"] if which == "fused" else XpKernels(np, scipy.special).kernels()["adam_step"]
    rng = np.random.default_rng(0)
    p, g = (rng.standard_normal((256, 784), dtype=np.float32) for _ in range(2))
    m, v = np.zeros_like(p), np.zeros_like(p)
    benchmark(lambda: kernel(p, g, m, v, None, **_ADAM))


@pytest.mark.parametrize("which", ["fused", "numpy"])
def test_layer_norm_forward(benchmark, which):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 32, 128), dtype=np.float32)
    w, b = np.ones(128, np.float32), np.zeros(128, np.float32)
    if which == "fused":
        benchmark(lambda: training.layer_norm(x, w, b, normalized_ndim=1, eps=1e-5))
    else:
        benchmark(lambda: training._layer_norm_numpy(x, w, b, 1, 1e-5))


@pytest.mark.parametrize("which", ["fused", "numpy"])
def test_layer_norm_backward(benchmark, which):
    rng = np.random.default_rng(2)
    x, g = (rng.standard_normal((16, 32, 128), dtype=np.float32) for _ in range(2))
    w = np.ones(128, np.float32)
    _, mean, rstd = training.layer_norm(x, w, None, normalized_ndim=1, eps=1e-5)
    if which == "fused":
        benchmark(lambda: training.layer_norm_backward(g, x, w, mean, rstd, normalized_ndim=1))
    else:
        benchmark(lambda: training._layer_norm_backward_numpy(g, x, w, mean, rstd, 1))


@pytest.mark.parametrize("which", ["fused", "composite"])
def test_layer_norm_autograd_step(benchmark, which, monkeypatch):
    from ember.dispatch.ops import OPS
    if which == "composite":  # hide the CPU kernels: the decomposition and its ember-op gradients run
        for name in ("layer_norm", "layer_norm_backward"):
            monkeypatch.setattr(OPS[name], "kernels", {k: v for k, v in OPS[name].kernels.items() if k != "CPU"})
            monkeypatch.setattr(OPS[name], "resolved", {})
    norm = ember.nn.LayerNorm(128)
    x = ember.randn(16, 32, 128, requires_grad=True)
    g = ember.randn(16, 32, 128)

    def step():
        norm(x).backward(g)
    benchmark(step)
    for name in ("layer_norm", "layer_norm_backward"):
        OPS[name].resolved.clear()
