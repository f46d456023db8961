"""The ``mps`` backend (MLX; off Apple hardware MLX's CPU device, ``EMBER_MPS_DEVICE=cpu``),
each next to MLX itself doing the same work. Never asserts timings.

MLX is lazy: an op records a graph node and computes nothing until a value is needed.
So each workload is timed twice: ``*_record`` is what a Python loop pays per op
(recording plus ember's dispatch), ``*_eval`` includes the computation
(``ember.mps.synchronize()`` / ``mx.eval``). Compare with benchmarks/test_core_bench.py
(the CPU backend, numpy) for the same workloads.
"""
import numpy as np
import pytest

import ember

pytestmark = pytest.mark.skipif(not ember.backends.mps.is_available(),
                                reason=f"mps unavailable: {ember.backends.mps.unavailable_reason()}")


@pytest.fixture(scope="module")
def mx():
    import mlx.core
    return mlx.core


def _on_mps(*arrays):
    return [ember.tensor(a, device="mps") for a in arrays]


# ---------------------------------------------------------------- per-op overhead: a + b on 1 element
@pytest.fixture(scope="module")
def scalars():
    return _on_mps(np.array([1.0], np.float32), np.array([2.0], np.float32))


def test_mps_add_1_element_record(benchmark, scalars):
    a, b = scalars
    benchmark(lambda: a + b)


def test_mps_add_1_element_eval(benchmark, scalars):
    a, b = scalars

    def step():
        c = a + b
        ember.mps.synchronize()
        return c
    benchmark(step)


def test_mlx_add_1_element_eval(benchmark, mx):
    a, b = mx.array([1.0]), mx.array([2.0])

    def step():
        c = a + b
        mx.eval(c)
        return c
    benchmark(step)


# ---------------------------------------------------------------- a * b + c on 1M float32
@pytest.fixture(scope="module")
def million():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(1_000_000).astype(np.float32) for _ in range(3)]


def test_mps_fma_1m_eval(benchmark, million):
    a, b, c = _on_mps(*million)

    def step():
        out = a * b + c
        ember.mps.synchronize()
        return out
    benchmark(step)


def test_mlx_fma_1m_eval(benchmark, mx, million):
    a, b, c = (mx.array(x) for x in million)

    def step():
        out = a * b + c
        mx.eval(out)
        return out
    benchmark(step)


# ---------------------------------------------------------------- 1024 x 1024 float32 matmul
@pytest.fixture(scope="module")
def square():
    rng = np.random.default_rng(1)
    return [rng.standard_normal((1024, 1024)).astype(np.float32) for _ in range(2)]


def test_mps_matmul_1024_eval(benchmark, square):
    a, b = _on_mps(*square)

    def step():
        out = a @ b
        ember.mps.synchronize()
        return out
    benchmark(step)


def test_mlx_matmul_1024_eval(benchmark, mx, square):
    a, b = (mx.array(x) for x in square)

    def step():
        out = a @ b
        mx.eval(out)
        return out
    benchmark(step)


# ---------------------------------------------------------------- a small training step
def test_mps_mlp_training_step(benchmark):
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(64, 128), ember.nn.ReLU(), ember.nn.Linear(128, 10)).to("mps")
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((32, 64), dtype=np.float32), device="mps")
    y = ember.tensor(rng.integers(0, 10, 32), device="mps")
    loss_fn = ember.nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ember.mps.synchronize()
    benchmark(step)
