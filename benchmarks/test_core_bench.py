"""Core overheads and large-array throughput, each next to plain numpy doing the same work.

Targets (issue 2): ``a + b`` <= 3 us per op; ``(x * 2).sum().backward()`` <= 50 us; a*b+c on 1M
elements, 1024x1024 matmul and a 1024x1024 sum over a dim within 1.15x of numpy.
"""
import numpy as np
import pytest

import ember


@pytest.fixture
def scalars():
    return ember.tensor([1.0]), ember.tensor([2.0])


def test_add_1_element(benchmark, scalars):
    a, b = scalars
    benchmark(lambda: a + b)


def test_add_1_element_numpy(benchmark):
    a, b = np.array([1.0], np.float32), np.array([2.0], np.float32)
    benchmark(lambda: a + b)


def test_relu_1_element(benchmark, scalars):
    a, _ = scalars
    benchmark(a.relu)


def test_small_autograd_step(benchmark):
    x = ember.tensor([1.0], requires_grad=True)

    def step():
        (x * 2).sum().backward()
    benchmark(step)


@pytest.fixture(scope="module")
def million():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(1_000_000).astype(np.float32) for _ in range(3)]


def test_fma_1m(benchmark, million):
    a, b, c = (ember.from_numpy(x) for x in million)
    benchmark(lambda: a * b + c)


def test_fma_1m_numpy(benchmark, million):
    a, b, c = million
    benchmark(lambda: a * b + c)


@pytest.fixture(scope="module")
def square():
    rng = np.random.default_rng(1)
    return [rng.standard_normal((1024, 1024)).astype(np.float32) for _ in range(2)]


def test_matmul_1024(benchmark, square):
    a, b = (ember.from_numpy(x) for x in square)
    benchmark(lambda: a @ b)


def test_matmul_1024_numpy(benchmark, square):
    a, b = square
    benchmark(lambda: a @ b)


def test_sum_dim_1024(benchmark, square):
    a = ember.from_numpy(square[0])
    benchmark(lambda: a.sum(1))


def test_sum_dim_1024_numpy(benchmark, square):
    a = square[0]
    benchmark(lambda: a.sum(1))
