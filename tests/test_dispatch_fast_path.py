"""The per-op hot path's shortcuts give the same objects as the general code they stand for:
the dispatcher's inlined tensor wrap (``make_tensor``), the autograd constructors (``Node``,
``SavedTensor``, ``edge_of``), the engine's id-keyed graph walk, the numpy-names wrapper over a
dispatch point, and the CPU relu kernel."""
import numpy as np
import pytest

import ember
from ember.core import autograd as ag
from ember.core.call import call
from ember.core.tensor import Tensor, make_tensor
from ember.dispatch.keys import ACTIVE
from ember.dispatch.ops import OPS

_TENSOR_SLOTS = [s for s in Tensor.__slots__ if s != "__weakref__"]
_NODE_SLOTS = [s for s in ag.Node.__slots__ if s != "__weakref__"]


def _slots(obj, names):
    return {name: getattr(obj, name, "<unset>") for name in names}


def test_call_result_has_every_field_make_tensor_sets():
    a = ember.tensor([1.0, -2.0])
    out = call(OPS["add"], a, a)
    assert type(out._data) is np.ndarray
    expected = _slots(make_tensor(out._data, ember.float32, a.device), _TENSOR_SLOTS)
    assert _slots(out, _TENSOR_SLOTS) == expected
    # a 0-d result (numpy gives a scalar) goes through the backend's normalize, to an array
    s = call(OPS["sum"], a, dims=(0,), keepdim=False)
    assert type(s._data) is np.ndarray and s._data.shape == () and s.dtype is ember.float32
    assert _slots(s, _TENSOR_SLOTS) == _slots(make_tensor(s._data, ember.float32, a.device), _TENSOR_SLOTS)


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16, ember.float64, ember.int32, ember.bool])
def test_call_result_dtype_matches_the_backend(dtype):
    a = ember.ones(3, dtype=dtype)
    out = call(OPS["mul"], a, a)
    assert out.dtype is ember.empty(0, dtype=dtype).dtype


def test_new_node_equals_node():
    rule = OPS["mul"].rule
    args = ("MulBackward0", rule, {"k": 1}, ((None, 0),), ((((2,), ember.float32, None)),))
    made, plain = ag.new_node(*args), ag.Node(*args)
    assert _slots(made, _NODE_SLOTS) == _slots(plain, _NODE_SLOTS)


def test_save_input_equals_saved_tensor():
    t = ember.tensor([3.0])
    t.add_(1)  # a version above 0
    made, plain = ag.save_input(t), ag.SavedTensor(t, False)
    names = ag.SavedTensor.__slots__
    assert _slots(made, names) == _slots(plain, names)
    assert made.version == 1 and made.unpack(None) is t


def test_new_edge_equals_edge_of_for_leaves_results_and_views():
    leaf = ember.tensor([1.0, 2.0], requires_grad=True)
    result = leaf * 2
    view = result[0:1]
    for t in (leaf, result, view):
        mine, theirs = ag.new_edge(t), ag.edge_of(t)
        assert type(mine[0]) is type(theirs[0]) and mine[1] == theirs[1]
        if type(mine[0]) is ag.AccumulateGrad:
            assert mine[0] == theirs[0] and mine[0].variable is leaf
        else:
            assert mine[0] is theirs[0]


def test_engine_sums_every_path_into_a_leaf_used_several_times():
    x = ember.tensor([1.5, -2.0], requires_grad=True)
    y = ember.tensor([0.5, 3.0], requires_grad=True)
    loss = (x * y + x * x + x).sum() * 2  # x reaches the loss through three AccumulateGrad edges
    loss.backward()
    xv, yv = x.detach().numpy().astype(np.float64), y.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(x.grad.numpy(), 2 * (yv + 2 * xv + 1), rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), 2 * xv, rtol=1e-6)
    # a second pass accumulates into the same tensors
    (x * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (yv + 2 * xv + 1) + yv, rtol=1e-6)


def test_engine_captures_leaf_and_intermediate_inputs():
    x = ember.tensor([2.0, 3.0], requires_grad=True)
    h = x * x
    out = (h * 3).sum()
    gx, gh = ember.autograd.grad(out, (x, h))
    np.testing.assert_allclose(gh.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(gx.numpy(), [12.0, 18.0])
    assert x.grad is None  # grad() does not accumulate
    z = ember.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        ember.autograd.grad((x * 2).sum(), (x, z))
    (x * 5).sum().backward(inputs=[x])
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])


def test_engine_second_backward_without_retain_graph_raises():
    x = ember.tensor([2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_numpy_names_wrapper_still_hands_a_dispatch_point_to_the_modes():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(x.sum(axis=0).numpy(), [4.0, 6.0])
    np.testing.assert_allclose(ember.sum(x, keepdims=True, dim=1).numpy(), [[3.0], [7.0]])
    seen = []

    def handler(op, args, kwargs, below):
        seen.append(op.name)
        return below(op, args, kwargs)
    saved = ACTIVE.modes, ACTIVE.keys
    ACTIVE.modes, ACTIVE.keys = (handler,), ("Autocast",)
    try:
        total = x.sum(axis=1)
    finally:
        ACTIVE.modes, ACTIVE.keys = saved
    assert seen[0] == "sum"  # the public op first, then the dispatched one inside it
    np.testing.assert_allclose(total.numpy(), [3.0, 7.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int8, np.int64])
def test_cpu_relu_keeps_dtype_and_nan(dtype):
    rng = np.random.default_rng(0)
    values = (rng.standard_normal(7) * 50).astype(dtype)
    if values.dtype.kind == "f":
        values[0], values[1], values[2] = np.nan, -np.inf, np.inf
    out = ember.from_numpy(values.copy()).relu()
    assert out.dtype is ember.from_numpy(values).dtype
    ref = np.where(np.isnan(values.astype(np.float64)), np.nan, np.maximum(values.astype(np.float64), 0))
    np.testing.assert_array_equal(out.numpy().astype(np.float64), ref)
    zero_d = ember.tensor(-3, dtype=ember.from_numpy(values).dtype).relu()
    assert zero_d.shape == () and zero_d.item() == 0
