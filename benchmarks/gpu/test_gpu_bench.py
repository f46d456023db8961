"""GPU benchmarks (``cuda``; skipped where it is unavailable). Run by ``benchmarks/gpu/run_gpu.sh``.

Each timed call ends with ``ember.cuda.synchronize()``, so a number is the time the GPU
work takes, not the time to queue it. Fused kernels sit next to the composites they
replace (``EMBER_FORCE_CPU_OPS`` is not involved: the composite runs through
``ember.ops.reduction``'s reference functions on the same device).
"""
import pytest

import ember
from ember.ops import reduction

pytestmark = pytest.mark.skipif(not ember.cuda.is_available(),
                                reason=f"cuda unavailable: {ember.cuda.unavailable_reason()}")


def synced(fn):
    def run():
        out = fn()
        ember.cuda.synchronize()
        return out
    return run


@pytest.fixture(scope="module")
def logits():
    return ember.randn(4096, 1024, device="cuda")


def test_softmax_fused(benchmark, logits):
    benchmark(synced(lambda: ember.softmax(logits, 1)))


def test_softmax_composite(benchmark, logits):
    benchmark(synced(lambda: reduction._softmax_reference(logits, dim=1)))


def test_log_softmax_fused(benchmark, logits):
    benchmark(synced(lambda: ember.log_softmax(logits, 1)))


def test_softmax_dim0_fused(benchmark, logits):
    benchmark(synced(lambda: ember.softmax(logits, 0)))


def test_randn_4m(benchmark):
    benchmark(synced(lambda: ember.randn(4 * 1024 * 1024, device="cuda")))


def test_matmul_4096(benchmark):
    a, b = ember.randn(4096, 4096, device="cuda"), ember.randn(4096, 4096, device="cuda")
    benchmark(synced(lambda: a @ b))


def test_fma_16m(benchmark):
    a, b, c = (ember.randn(16 * 1024 * 1024, device="cuda") for _ in range(3))
    benchmark(synced(lambda: a * b + c))


def test_add_1_element_overhead(benchmark):
    a, b = ember.ones(1, device="cuda"), ember.ones(1, device="cuda")
    benchmark(lambda: a + b)  # dispatch + launch cost, not synchronised


def test_mlp_training_step(benchmark):
    w1 = ember.randn(1024, 1024, device="cuda", requires_grad=True)
    w2 = ember.randn(1024, 10, device="cuda", requires_grad=True)
    x = ember.randn(256, 1024, device="cuda")

    def step():
        loss = ember.log_softmax((x @ w1).relu() @ w2, 1).mean()
        loss.backward()
        w1.grad = w2.grad = None
    benchmark(synced(step))


@pytest.mark.parametrize("pinned", [False, True])
def test_host_to_device_64mb(benchmark, pinned):
    host = ember.randn(16 * 1024 * 1024)
    if pinned:
        host = host.pin_memory()
    benchmark(synced(lambda: host.to("cuda", non_blocking=pinned)))
