"""The CPU plugin's compiled reductions and softmax (issue 15), each next to plain numpy doing
the same work, at one thread and at ``ember.get_num_threads()``.

PyTorch 2.13 on the 2-core reference machine (benchmarks/pytorch_reference/bench_torch.py):
sum over dim 1 of 1024x1024 float32 ~48 us, softmax over the last dim of 256x1024 ~178 us.
Never asserts timings.
"""
import numpy as np
import pytest

import ember

pytest.importorskip("numba")


@pytest.fixture(params=[1, None], ids=["1-thread", "all-threads"])
def threads(request):
    before = ember.get_num_threads()
    if request.param is not None:
        ember.set_num_threads(request.param)
    yield
    ember.set_num_threads(before)


@pytest.fixture(scope="module")
def square():
    return ember.randn(1024, 1024)


@pytest.fixture(scope="module")
def logits():
    return ember.randn(256, 1024)


@pytest.mark.parametrize("dim", [1, 0, None], ids=["dim1", "dim0", "all"])
def test_sum_1024x1024(benchmark, threads, square, dim):
    x = square
    x.sum(dim)
    benchmark(lambda: x.sum(dim))


def test_mean_dim1_1024x1024(benchmark, threads, square):
    square.mean(1)
    benchmark(lambda: square.mean(1))


@pytest.mark.parametrize("dim", [1, 0, None], ids=["dim1", "dim0", "all"])
def test_sum_1024x1024_numpy(benchmark, square, dim):
    x = square.numpy()
    benchmark(lambda: x.sum(axis=dim))


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [-1, 0])
def test_softmax_256x1024(benchmark, threads, logits, fn, dim):
    f = getattr(ember, fn)
    f(logits, dim)
    benchmark(lambda: f(logits, dim))


def test_softmax_256x1024_numpy(benchmark, logits):
    x = logits.numpy()

    def softmax():
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    benchmark(softmax)
