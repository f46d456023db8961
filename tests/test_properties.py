"""Property tests (hypothesis): random shapes, broadcasts, dims and index keys for the
arithmetic, reduction, indexing and shape families, on every device, against a float64
numpy reference (float32 where the device has no float64)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import ember
from conftest import DEVICES, FLOAT64_DEVICES

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FINITE = st.floats(-50, 50, allow_nan=False, allow_infinity=False, width=32)


def _dtype(device):
    return np.float64 if device in FLOAT64_DEVICES else np.float32


def _tensor(array, device):
    return ember.tensor(array, device=device)


def _close(got, expected, dtype):
    rtol, atol = (1e-9, 1e-9) if dtype == np.float64 else (2e-5, 2e-4)
    got = got.cpu().numpy()
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(expected, dtype=np.float64), rtol=rtol, atol=atol)


def _pair(dtype):
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4).flatmap(
        lambda shapes: st.tuples(hnp.arrays(dtype, shapes.input_shapes[0], elements=FINITE),
                                 hnp.arrays(dtype, shapes.input_shapes[1], elements=FINITE)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "atan2"])
def test_binary_arithmetic_broadcasts_as_numpy(device, op):
    dtype = _dtype(device)
    reference = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "maximum": np.maximum,
                 "minimum": np.minimum, "atan2": np.arctan2}[op]

    @SETTINGS
    @given(_pair(dtype))
    def check(pair):
        a, b = pair
        if op == "div":
            b = np.where(np.abs(b) < 1e-3, 1.0, b).astype(dtype)
        got = getattr(ember, op)(_tensor(a, device), _tensor(b, device))
        assert got.dtype.name == np.dtype(dtype).name
        _close(got, reference(a.astype(np.float64), b.astype(np.float64)), dtype)
    check()


@pytest.mark.parametrize("device", DEVICES)
def test_integer_arithmetic_is_exact(device):
    ints = st.integers(-1000, 1000)

    @SETTINGS
    @given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4).flatmap(
        lambda s: st.tuples(hnp.arrays(np.int64, s.input_shapes[0], elements=ints),
                            hnp.arrays(np.int64, s.input_shapes[1], elements=ints.filter(lambda v: v != 0)))))
    def check(pair):
        a, b = pair
        ta, tb = _tensor(a, device), _tensor(b, device)
        for got, expected in ((ta + tb, a + b), (ta * tb, a * b), (ta - tb, a - b),
                              (ember.div(ta, tb, rounding_mode="floor"), np.floor_divide(a, b)),
                              (ember.remainder(ta, tb), np.remainder(a, b)), (ember.fmod(ta, tb), np.fmod(a, b))):
            assert got.dtype is ember.int64
            np.testing.assert_array_equal(got.cpu().numpy(), expected)
    check()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "prod", "var"])
def test_reductions_over_random_dims(device, op):
    dtype = _dtype(device)

    @SETTINGS
    @given(hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4),
                      elements=st.floats(-3, 3, allow_nan=False, width=32)), st.data())
    def check(array, data):
        dims = data.draw(st.lists(st.integers(0, array.ndim - 1), unique=True, min_size=1, max_size=array.ndim))
        keepdim = data.draw(st.booleans())
        x = _tensor(array, device)
        wide = array.astype(np.float64)
        if op == "prod":  # one dim at a time, as PyTorch's prod takes
            got, expected = x.prod(dims[0], keepdim=keepdim), wide.prod(axis=dims[0], keepdims=keepdim)
        elif op == "var":
            if np.prod([array.shape[d] for d in dims]) < 2:
                return  # a one-element sample has no unbiased variance (NaN in both)
            got, expected = x.var(dims, keepdim=keepdim), wide.var(axis=tuple(dims), ddof=1, keepdims=keepdim)
        else:
            got = getattr(x, op)(tuple(dims), keepdim=keepdim)
            expected = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min}[op](
                wide, axis=tuple(dims), keepdims=keepdim)
        _close(got, expected, dtype)
    check()


def _basic_key(shape):
    """A random basic index for ``shape``: ints, slices with positive steps, None, one Ellipsis."""
    def entry(size):
        return st.one_of(st.integers(-size, size - 1),
                         st.builds(slice, st.none() | st.integers(-size - 1, size + 1),
                                   st.none() | st.integers(-size - 1, size + 1), st.none() | st.integers(1, 3)))
    parts = [entry(s) for s in shape]
    return st.tuples(*parts).flatmap(lambda key: st.tuples(st.just(key), st.integers(0, len(key)),
                                                           st.booleans(), st.booleans()))


@pytest.mark.parametrize("device", DEVICES)
def test_basic_indexing_reads_and_writes_as_numpy(device):
    dtype = _dtype(device)

    @SETTINGS
    @given(hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5), elements=FINITE)
           .flatmap(lambda a: st.tuples(st.just(a), _basic_key(a.shape))))
    def check(case):
        array, (key, cut, new_axis, ellipsis) = case
        key = list(key)
        if ellipsis:  # the Ellipsis stands for the entries after the cut
            key = key[:cut] + [Ellipsis]
        if new_axis:
            key.insert(cut, None)
        key = tuple(key)
        x = _tensor(array, device)
        np.testing.assert_array_equal(x[key].cpu().numpy(), array[key])
        expected = array.copy()
        expected[key] = -7.0
        x[key] = -7.0
        np.testing.assert_array_equal(x.cpu().numpy(), expected)
    check()


@pytest.mark.parametrize("device", DEVICES)
def test_index_tensors_and_masks_gather_as_numpy(device):
    @SETTINGS
    @given(hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5),
                      elements=st.integers(-99, 99)), st.data())
    def check(array, data):
        dim0 = array.shape[0]
        rows = data.draw(hnp.arrays(np.int64, st.integers(0, 6), elements=st.integers(-dim0, dim0 - 1)))
        mask = data.draw(hnp.arrays(np.bool_, array.shape))
        x = _tensor(array, device)
        np.testing.assert_array_equal(x[_tensor(rows, device)].cpu().numpy(), array[rows])
        np.testing.assert_array_equal(x[_tensor(mask, device)].cpu().numpy(), array[mask])
    check()


@pytest.mark.parametrize("device", DEVICES)
def test_shape_ops_move_elements_as_numpy(device):
    @SETTINGS
    @given(hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4),
                      elements=st.integers(-99, 99)), st.data())
    def check(array, data):
        x = _tensor(array, device)
        order = data.draw(st.permutations(range(array.ndim)))
        np.testing.assert_array_equal(x.permute(*order).cpu().numpy(), array.transpose(order))
        a, b = data.draw(st.integers(0, array.ndim - 1)), data.draw(st.integers(0, array.ndim - 1))
        np.testing.assert_array_equal(x.transpose(a, b).cpu().numpy(), np.swapaxes(array, a, b))
        np.testing.assert_array_equal(x.flatten().cpu().numpy(), array.reshape(-1))
        np.testing.assert_array_equal(x.reshape(-1, array.shape[-1]).cpu().numpy(), array.reshape(-1, array.shape[-1]))
        where = data.draw(st.integers(-array.ndim - 1, array.ndim))
        np.testing.assert_array_equal(x.unsqueeze(where).cpu().numpy(), np.expand_dims(array, where))
        dim = data.draw(st.integers(0, array.ndim - 1))
        np.testing.assert_array_equal(ember.cat([x, x], dim).cpu().numpy(), np.concatenate([array, array], dim))
        np.testing.assert_array_equal(ember.stack([x, x], dim).cpu().numpy(), np.stack([array, array], dim))
        np.testing.assert_array_equal(x.flip(dim).cpu().numpy(), np.flip(array, dim))
    check()
