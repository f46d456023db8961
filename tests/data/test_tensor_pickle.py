"""Tensors pickle (how they travel from DataLoader workers) and deepcopy (ember/core/pickling.py)."""
import copy
import pickle

import numpy as np
import pytest

import ember


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.bfloat16, ember.int64, ember.uint8,
                                   ember.bool])
def test_round_trip_keeps_values_dtype_and_device(dtype):
    t = (ember.randn(3, 4) * 10).to(dtype)
    u = pickle.loads(pickle.dumps(t))
    assert type(u) is ember.Tensor and u.dtype is dtype and u.device is t.device and u.shape == t.shape
    np.testing.assert_array_equal(u.float().numpy(), t.float().numpy())
    assert u._data is not t._data


def test_views_and_zero_d_tensors():
    base = ember.arange(12).reshape(3, 4)
    view = base.t()[1:]
    u = pickle.loads(pickle.dumps(view))
    assert u.tolist() == view.tolist() and u._base is None
    assert pickle.loads(pickle.dumps(ember.tensor(2.5))).item() == 2.5


def test_requires_grad_survives_but_the_graph_does_not():
    leaf = ember.randn(3, requires_grad=True)
    u = pickle.loads(pickle.dumps(leaf))
    assert u.requires_grad and u.is_leaf and u.grad is None
    out = pickle.loads(pickle.dumps(leaf * 2))
    assert out.requires_grad and out.is_leaf and out.grad_fn is None
    out.sum().backward()
    assert out.grad.tolist() == [1.0, 1.0, 1.0]


def test_structures_of_tensors_share_nothing_after_loading():
    t = ember.ones(2)
    a, b = pickle.loads(pickle.dumps((t, t)))
    assert a is b  # pickle's memo keeps identity within one dump
    a.add_(1)
    assert t.tolist() == [1.0, 1.0]


def test_deepcopy_copies_values_and_grad():
    leaf = ember.randn(3, requires_grad=True)
    (leaf * 3).sum().backward()
    c = copy.deepcopy(leaf)
    assert c.requires_grad and c.grad.tolist() == leaf.grad.tolist() and c.grad is not leaf.grad
    c.detach().add_(1)
    assert not np.array_equal(c.detach().numpy(), leaf.detach().numpy())
    with pytest.raises(RuntimeError, match="MulBackward0"):
        copy.deepcopy(leaf * 2)
