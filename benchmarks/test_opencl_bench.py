"""OpenCL backend benchmarks (``opencl``; skipped where it is unavailable).

Each timed call ends with a synchronize of the device queue, so a number is the time the
device work takes, not the time to enqueue it. Compare with the CPU numbers of
``benchmarks/test_core_bench.py`` (same shapes). GEMM throughput: 2 * 1024**3 flop per
1024x1024 matmul, so GFLOP/s = 2.147 / (mean seconds). Never asserts timings.
"""
import numpy as np
import pytest

import ember
from ember.dispatch.registry import REGISTRY
from ember.ops import reduction

REGISTRY.load()
_BACKEND = REGISTRY.backends.get("opencl")
_REASON = "no opencl plugin" if _BACKEND is None else _BACKEND.unavailable_reason()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=f"opencl unavailable: {_REASON}")


def synced(fn):
    def run():
        out = fn()
        _BACKEND.synchronize()
        return out
    return run


def _warm(fn):
    fn()  # the first call compiles the kernel (PoCL: tenths of a second); time the rest
    return fn


@pytest.fixture(scope="module")
def scalars():
    return ember.tensor([1.0], device="opencl"), ember.tensor([2.0], device="opencl")


def test_opencl_add_1_element(benchmark, scalars):
    a, b = scalars
    benchmark(synced(_warm(lambda: a + b)))


def test_opencl_add_1_element_enqueue_only(benchmark, scalars):
    a, b = scalars
    benchmark(_warm(lambda: a + b))


def test_opencl_small_autograd_step(benchmark):
    x = ember.tensor([1.0], device="opencl", requires_grad=True)

    def step():
        (x * 2).sum().backward()
    benchmark(synced(_warm(step)))


@pytest.fixture(scope="module")
def million():
    rng = np.random.default_rng(0)
    return [ember.tensor(rng.standard_normal(1_000_000).astype(np.float32), device="opencl") for _ in range(3)]


def test_opencl_fma_1m(benchmark, million):
    a, b, c = million
    benchmark(synced(_warm(lambda: a * b + c)))


def test_opencl_exp_1m(benchmark, million):
    a = million[0]
    benchmark(synced(_warm(lambda: a.exp())))


def test_opencl_add_1m_strided(benchmark, million):
    a = million[0].view(1000, 1000).t()   # a transposed view: index arithmetic in the kernel, no copy
    b = million[1].view(1000, 1000)
    benchmark(synced(_warm(lambda: a + b)))


@pytest.fixture(scope="module")
def square():
    rng = np.random.default_rng(1)
    return [ember.tensor(rng.standard_normal((1024, 1024)).astype(np.float32), device="opencl") for _ in range(2)]


def test_opencl_matmul_1024(benchmark, square):
    a, b = square
    benchmark(synced(_warm(lambda: a @ b)))
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["GFLOP/s"] = round(2 * 1024 ** 3 / mean / 1e9, 2)


def test_opencl_sum_dim_1024(benchmark, square):
    a = square[0]
    benchmark(synced(_warm(lambda: a.sum(1))))


def test_opencl_sum_all_1m(benchmark, square):
    a = square[0]
    benchmark(synced(_warm(lambda: a.sum())))


@pytest.fixture(scope="module")
def logits():
    return ember.randn(4096, 1024, device="opencl")


def test_opencl_softmax_fused(benchmark, logits):
    benchmark(synced(_warm(lambda: ember.softmax(logits, 1))))


def test_opencl_softmax_composite(benchmark, logits):
    benchmark(synced(_warm(lambda: reduction._softmax_reference(logits, dim=1))))


def test_opencl_randn_1m(benchmark):
    benchmark(synced(_warm(lambda: ember.randn(1_000_000, device="opencl"))))


def test_opencl_transfer_1m_to_device(benchmark):
    host = ember.randn(1_000_000)
    benchmark(synced(_warm(lambda: host.to("opencl"))))


def test_opencl_transfer_1m_to_host(benchmark, million):
    benchmark(_warm(lambda: million[0].cpu()))
