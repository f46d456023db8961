"""Per-op Python overhead on the hot path (issue 15, H3): dispatch, wrap, autograd record and the
backward engine on 1-element tensors, where the Python work is all there is. The 1-element a+b,
relu and autograd step of the acceptance table are in test_core_bench.py; these time the paths
beside them (a scalar operand, a dispatch point with numpy names, recording, a longer graph and
a leaf reached by several edges). Never asserted."""
import pytest

import ember


@pytest.fixture
def one():
    return ember.tensor([1.0])


def test_mul_scalar_1_element(benchmark, one):
    benchmark(lambda: one * 2)


def test_sum_1_element(benchmark, one):
    benchmark(one.sum)


def test_mul_recorded_1_element(benchmark):
    x = ember.tensor([1.0], requires_grad=True)
    benchmark(lambda: x * x)


def test_backward_chain_of_20(benchmark):
    x = ember.tensor([1.0], requires_grad=True)

    def step():
        h = x
        for _ in range(20):
            h = h * 1.0001 + x  # x is reached through 21 edges
        h.sum().backward()
    benchmark(step)


def test_no_grad_relu_chain_of_20(benchmark, one):
    def step():
        h = one
        with ember.no_grad():
            for _ in range(20):
                h = h.relu()
        return h
    benchmark(step)
