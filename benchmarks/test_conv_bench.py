"""The CPU conv and pooling kernels (ember/plugins/cpu/conv.py) on the LeNet step's shapes
(benchmarks/training_workloads.py, cnn_b64): each call the step makes, on the compiled path
(numba loops + BLAS) and on the numpy path, plus the whole step. Never assert timings.

    conv1 fwd      (64, 1, 28, 28) * (6, 1, 5, 5), padding 2
    conv2 fwd      (64, 6, 14, 14) * (16, 6, 5, 5)
    conv2 dgrad    conv_transpose of (64, 16, 10, 10) by the conv2 weight
    conv1/2 wgrad  the weight gradients: convs whose kernel is the output gradient
    pool1/2        2x2 max pooling with indices, and its backward
"""
import pathlib
import sys

import numpy as np
import pytest

from ember.plugins.cpu import conv as K

_UNIT = dict(stride=(1, 1), dilation=(1, 1), groups=1)


def _calls():
    rng = np.random.default_rng(0)

    def r(*shape):
        return rng.standard_normal(shape, dtype=np.float32)
    x1, w1, b1, g1 = r(64, 1, 28, 28), r(6, 1, 5, 5), r(6), r(64, 6, 28, 28)
    x2, w2, b2, g2 = r(64, 6, 14, 14), r(16, 6, 5, 5), r(16), r(64, 16, 10, 10)
    _, idx1 = K.max_pool(g1, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), output_size=(14, 14))
    p1 = r(64, 6, 14, 14)
    return {
        "conv1_fwd": lambda: K.conv(x1, w1, b1, padding=(2, 2), **_UNIT),
        "conv2_fwd": lambda: K.conv(x2, w2, b2, padding=(0, 0), **_UNIT),
        "conv2_dgrad": lambda: K.conv_transpose(g2, w2, None, padding=(0, 0), output_padding=(0, 0), **_UNIT),
        "conv1_wgrad": lambda: K.conv(x1.transpose(1, 0, 2, 3), g1.transpose(1, 0, 2, 3), None, padding=(2, 2),
                                      **_UNIT),
        "conv2_wgrad": lambda: K.conv(x2.transpose(1, 0, 2, 3), g2.transpose(1, 0, 2, 3), None, padding=(0, 0),
                                      **_UNIT),
        "pool1_fwd": lambda: K.max_pool(g1, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1),
                                        output_size=(14, 14)),
        "pool1_bwd": lambda: K.max_pool_backward(p1, idx1, input_shape=g1.shape, kernel=(2, 2), stride=(2, 2),
                                                 dilation=(1, 1)),
    }


CALLS = _calls()


@pytest.fixture(params=["compiled", "numpy"])
def path(request, monkeypatch):
    if request.param == "compiled" and not K._numba_available():
        pytest.skip("numba is not installed")
    monkeypatch.setitem(K._LOOPS, "available", request.param == "compiled")
    return request.param


@pytest.mark.parametrize("name", list(CALLS))
def test_lenet_conv_kernel(benchmark, path, name):
    benchmark(CALLS[name])


def test_lenet_training_step(benchmark, path):
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import ember
    from training_workloads import build
    step = build(ember, "cnn_b64")
    step()
    benchmark(step)
