"""Dispatch keys: a mode key (Autocast) sees each call before Autograd and the backend, may
change its inputs, and passes it on below itself; outside any mode the hot path only checks
that none is active."""
import numpy as np
import pytest

import ember
from ember.dispatch import keys
from ember.dispatch.keys import ACTIVE, AUTOCAST, AUTOGRAD, key_set, pop_mode, push_mode


class _Widening:
    """A test mode at the Autocast key: matmul runs in float64; every call is noted."""

    def __init__(self):
        self.seen = []

    def __call__(self, op, inputs, attrs, below):
        self.seen.append((op.name, tuple(getattr(t, "dtype", None) for t in inputs)))
        if op.name == "matmul":
            inputs = tuple(t.double() if isinstance(t, ember.Tensor) else t for t in inputs)
        return below(op, inputs, attrs)


@pytest.fixture
def widening():
    mode = _Widening()
    push_mode(AUTOCAST, mode)
    yield mode
    pop_mode(AUTOCAST)


def test_no_mode_is_active_outside_one():
    assert ACTIVE.modes == () and ACTIVE.keys == ()
    assert key_set("CPU", needs_grad=True) == (AUTOGRAD, "CPU")
    assert keys.PRIORITY.index(AUTOCAST) < keys.PRIORITY.index(AUTOGRAD) < keys.PRIORITY.index("CPU")


def test_a_mode_sees_the_call_first_and_autograd_records_below_it(widening):
    a = ember.randn(3, 4, requires_grad=True)
    b = ember.randn(4, 2)
    out = a @ b
    assert key_set("CPU", needs_grad=True) == (AUTOCAST, AUTOGRAD, "CPU")
    assert out.dtype is ember.float64                  # the mode changed the inputs
    assert ("matmul", (ember.float32, ember.float32)) in widening.seen  # before anything was cast
    assert ("cast", (ember.float32,)) in widening.seen  # its own casts dispatch through it too
    pop_mode(AUTOCAST)
    out.sum().backward()                               # the graph runs through the casts
    assert a.grad.dtype is ember.float32
    expected = np.ones((3, 2)) @ b.numpy().astype(np.float64).T
    np.testing.assert_allclose(a.grad.numpy(), expected, rtol=1e-6)


def test_leaving_the_mode_restores_the_plain_path(widening):
    pop_mode(AUTOCAST)
    assert (ember.ones(2, 2) @ ember.ones(2, 2)).dtype is ember.float32
    assert ACTIVE.modes == ()


def test_an_error_below_a_mode_leaves_it_active(widening):
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        ember.ones(2, 3).t().view(6)  # raised by the CPU kernel, below the mode
    assert ACTIVE.keys == (AUTOCAST,) and ("view", (ember.float32,)) in widening.seen


def test_only_mode_keys_take_handlers():
    with pytest.raises(ValueError, match="'Autograd' is not a mode dispatch key"):
        push_mode(AUTOGRAD, lambda *a: None)
