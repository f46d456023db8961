"""ember/ops/function_forms.py: torch.<method>(tensor) forms, the split/stack helpers, the
*_scatter and *_copy functions and torch's constants, against numpy (float64 references)."""
import math

import numpy as np
import pytest

import ember
from ember.ops import function_forms

RNG = np.random.default_rng(1234)

# per name: (input array, the method's extra arguments) -- inputs inside each op's domain
_F = lambda *shape, lo=0.1, hi=0.9: RNG.uniform(lo, hi, shape)  # noqa: E731
_ARGS = {
    "acosh_": (_F(5, lo=1.5, hi=3.0), ()), "arccosh_": (_F(5, lo=1.5, hi=3.0), ()),
    "clamp_": (_F(5), (0.3, 0.6)), "clip_": (_F(5), (0.2, 0.5)), "clamp_max_": (_F(5), (0.5,)),
    "clamp_min_": (_F(5), (0.5,)), "fill_": (_F(5), (2.5,)),
    "gcd_": (np.array([12, 18, 7]), (np.array([8, 12, 21]),)), "lcm_": (np.array([4, 6, 5]), (np.array([6, 4, 3]),)),
    "ldexp_": (_F(4), (np.array([1.0, 2.0, 3.0, -1.0]),)), "xlogy_": (_F(4), (_F(4),)),
    "addmv_": (_F(3), (_F(3, 4), _F(4))), "round_": (_F(5, lo=-3, hi=3), ()),
    "nan_to_num_": (np.array([np.nan, np.inf, -np.inf, 1.0]), ()),
    "is_signed": (_F(3), ()), "get_device": (_F(3), ()), "detach": (_F(3), ()), "detach_": (_F(3), ()),
}


def _tensorize(value):
    return ember.tensor(value) if isinstance(value, np.ndarray) else value


@pytest.mark.parametrize("name", function_forms._METHOD_FORMS)
def test_function_form_is_the_method(name):
    base, args = _ARGS.get(name, (_F(2, 3), ()))
    if name == "index_put_":
        args = ((np.array([0, 1]),), np.array([5.0, 6.0]))
        got, want = ember.tensor(_F(3)), ember.tensor(_F(3))
        want.copy_(got)
        out = ember.index_put_(got, (ember.tensor(args[0][0]),), ember.tensor(args[1]))
        ref = want.numpy().copy()
        ref[[0, 1]] = [5.0, 6.0]
        np.testing.assert_array_equal(got.numpy(), ref)
        assert out is got
        return
    fn = getattr(ember, name)
    assert fn.__name__ == name and fn.__doc__
    got_input, want_input = ember.tensor(base), ember.tensor(base)
    got = fn(got_input, *map(_tensorize, args))
    want = getattr(want_input, name)(*map(_tensorize, args))
    if isinstance(want, ember.Tensor):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        if name.endswith("_"):
            assert got is got_input  # written in place, and returned
            np.testing.assert_array_equal(got_input.numpy(), want_input.numpy())
    else:
        assert got == want


def test_in_place_function_forms_compute_the_op():
    x = RNG.uniform(0.1, 0.9, 6)
    for name, ref in (("exp_", np.exp), ("sqrt_", np.sqrt), ("tanh_", np.tanh), ("asin_", np.arcsin),
                      ("reciprocal_", np.reciprocal)):
        t = ember.tensor(x)
        getattr(ember, name)(t)
        np.testing.assert_allclose(t.numpy(), ref(x), rtol=1e-12)


def test_queries():
    assert ember.is_nonzero(ember.tensor([0.5])) is True and ember.is_nonzero(ember.tensor(0)) is False
    with pytest.raises(RuntimeError, match="no values is ambiguous"):
        ember.is_nonzero(ember.tensor([]))
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        ember.tensor([1, 2]).is_nonzero()
    a = ember.zeros(2, 3)
    assert ember.is_same_size(a, ember.ones(2, 3)) and not a.is_same_size(a.t())


@pytest.mark.parametrize("name,shape,arg", [
    ("hsplit", (4, 6), 3), ("hsplit", (4, 6), [1, 4]), ("hsplit", (6,), 2), ("vsplit", (4, 6), 2),
    ("vsplit", (4, 6), [3]), ("dsplit", (2, 3, 4), 2), ("dsplit", (2, 3, 4), [1, 3])])
def test_splits_match_numpy(name, shape, arg):
    x = RNG.standard_normal(shape)
    got = getattr(ember, name)(ember.tensor(x), arg)
    want = getattr(np, name)(x, arg)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w)
    assert [p.shape for p in getattr(ember.tensor(x), name)(arg)] == [p.shape for p in got]


def test_split_errors_name_the_values():
    with pytest.raises(RuntimeError, match="size of the dimension 5 is not divisible by the split_size 2"):
        ember.hsplit(ember.zeros(2, 5), 2)
    with pytest.raises(RuntimeError, match="vsplit requires a tensor with at least 2 dimension, but got a tensor with 1"):
        ember.vsplit(ember.zeros(4), 2)
    with pytest.raises(RuntimeError, match="dsplit requires a tensor with at least 3"):
        ember.dsplit(ember.zeros(2, 2), 2)
    with pytest.raises(RuntimeError, match=r"sum exactly to 5 .* split_sizes=\[1, 2\]"):
        ember.split_with_sizes(ember.zeros(2, 5), [1, 2], 1)


def test_split_with_sizes_and_unsafe_forms():
    x = RNG.standard_normal((3, 7))
    t = ember.tensor(x)
    for got in (ember.split_with_sizes(t, [2, 5], 1), t.split_with_sizes([2, 5], dim=-1),
                ember.unsafe_split_with_sizes(t, [2, 5], 1)):
        np.testing.assert_array_equal(got[1].numpy(), x[:, 2:])
    np.testing.assert_array_equal(ember.unsafe_split(t, 3, 1)[2].numpy(), x[:, 6:])
    np.testing.assert_array_equal(t.unsafe_chunk(3, 0)[1].numpy(), x[1:2])
    with pytest.raises(TypeError, match="must be int, not list"):
        ember.unsafe_split(t, [2, 5], 1)


def test_stacks_match_numpy():
    a, b, c = RNG.standard_normal(3), RNG.standard_normal((3, 2)), RNG.standard_normal(3)
    np.testing.assert_array_equal(ember.column_stack([ember.tensor(a), ember.tensor(b)]).numpy(), np.column_stack([a, b]))
    np.testing.assert_array_equal(ember.dstack([ember.tensor(a), ember.tensor(c)]).numpy(), np.dstack([a, c]))
    np.testing.assert_array_equal(ember.row_stack([ember.tensor(a), ember.tensor(c)]).numpy(), np.vstack([a, c]))
    out = ember.empty(0, dtype=ember.float64)
    ember.column_stack([ember.tensor(a), ember.tensor(c)], out=out)
    np.testing.assert_array_equal(out.numpy(), np.column_stack([a, c]))


@pytest.mark.parametrize("offset", [0, 2, -1])
def test_diagflat(offset):
    x = RNG.standard_normal((2, 2))
    np.testing.assert_array_equal(ember.diagflat(ember.tensor(x), offset).numpy(), np.diagflat(x, offset))
    np.testing.assert_array_equal(ember.tensor(x).diagflat(offset=offset).numpy(), np.diagflat(x, offset))


# per name: (src shape, arguments after src, the numpy view of the replaced part)
_SCATTERS = {
    "select_scatter": ((4,), (1, 2), lambda a: a[:, 2]),
    "slice_scatter": ((4, 2), (1, 1, 5, 2), lambda a: a[:, 1:5:2]),
    "diagonal_scatter": ((4,), (1,), lambda a: a[np.arange(4), np.arange(4) + 1]),
}


@pytest.mark.parametrize("name", sorted(_SCATTERS))
def test_scatters_match_numpy_and_differentiate(name):
    src_shape, args, view = _SCATTERS[name]
    x, src = RNG.standard_normal((4, 5)), RNG.standard_normal(src_shape)
    ref = x.copy()
    replaced = np.zeros(x.shape, bool)
    if name == "diagonal_scatter":
        ref[np.arange(4), np.arange(4) + 1] = src
        replaced[np.arange(4), np.arange(4) + 1] = True
    else:
        index = (slice(None), 2) if name == "select_scatter" else (slice(None), slice(1, 5, 2))
        ref[index] = src
        replaced[index] = True
    a = ember.tensor(x, requires_grad=True)
    s = ember.tensor(src, requires_grad=True)
    out = getattr(ember, name)(a, s, *args)
    np.testing.assert_array_equal(out.detach().numpy(), ref)
    np.testing.assert_array_equal(a.detach().numpy(), x)  # the input is unchanged
    weights = RNG.standard_normal(x.shape)
    (out * ember.tensor(weights)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.where(replaced, 0.0, weights), rtol=1e-12)
    np.testing.assert_allclose(s.grad.numpy(), view(weights), rtol=1e-12)
    np.testing.assert_array_equal(getattr(a.detach(), name)(s.detach(), *args).numpy(), ref)


def test_scatter_shape_error_and_dtype():
    with pytest.raises(RuntimeError, match=r"src size = \[3\], slice size = \[2\]"):
        ember.select_scatter(ember.zeros(2, 5), ember.zeros(3), 1, 0)
    got = ember.select_scatter(ember.arange(10).reshape(2, 5).int(), ember.zeros(2), 1, 0)
    assert got.dtype is ember.int32 and got[:, 0].tolist() == [0, 0]


_COPY_CASES = [
    ("alias_copy", (), lambda x: x), ("detach_copy", (), lambda x: x),
    ("diagonal_copy", (1,), lambda x: np.diagonal(x, 1)), ("expand_copy", ((2, 3, 4),), lambda x: np.broadcast_to(x, (2, 3, 4))),
    ("narrow_copy", (1, 1, 2), lambda x: x[:, 1:3]), ("permute_copy", ((1, 0),), lambda x: x.T),
    ("select_copy", (0, 2), lambda x: x[2]), ("slice_copy", (1, 0, 4, 2), lambda x: x[:, 0:4:2]),
    ("squeeze_copy", (), lambda x: x), ("t_copy", (), lambda x: x.T), ("transpose_copy", (0, 1), lambda x: x.T),
    ("unsqueeze_copy", (1,), lambda x: x[:, None]), ("view_copy", ((12,),), lambda x: x.reshape(12)),
]


@pytest.mark.parametrize("name,args,ref", _COPY_CASES, ids=[c[0] for c in _COPY_CASES])
def test_copies_are_new_tensors(name, args, ref):
    x = RNG.standard_normal((3, 4))
    t = ember.tensor(x)
    got = getattr(ember, name)(t, *args)
    np.testing.assert_array_equal(got.numpy(), ref(x))
    t.fill_(7.0)  # the copy does not see a later write to the input
    np.testing.assert_array_equal(got.numpy(), ref(x))


def test_split_and_complex_copies():
    x = RNG.standard_normal((4, 3))
    t = ember.tensor(x)
    parts = ember.split_copy(t, 3)
    units = ember.unbind_copy(t, 1)
    sized = ember.split_with_sizes_copy(t, [1, 3])
    t.zero_()
    np.testing.assert_array_equal(parts[1].numpy(), x[3:])
    np.testing.assert_array_equal(units[2].numpy(), x[:, 2])
    np.testing.assert_array_equal(sized[1].numpy(), x[1:])
    z = RNG.standard_normal((3, 2))
    np.testing.assert_array_equal(ember.view_as_real_copy(ember.view_as_complex_copy(ember.tensor(z))).numpy(), z)
    np.testing.assert_array_equal(ember.tensor(x).narrow_copy(0, 1, 2).numpy(), x[1:3])
    assert ember.view_copy(ember.zeros(2, 2), ember.int32).dtype is ember.int32


def test_constants():
    assert ember.e == math.e and ember.pi == math.pi and ember.inf == math.inf and math.isnan(ember.nan)
    assert ember.newaxis is None and ember.zeros(3)[:, ember.newaxis].shape == (3, 1)


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_channel_shuffle_matches_reference(groups):
    x = RNG.standard_normal((2, 6, 3, 2))
    n, c = x.shape[:2]
    want = x.reshape(n, groups, c // groups, 3, 2).transpose(0, 2, 1, 3, 4).reshape(x.shape)
    for fn in (ember.channel_shuffle, ember.native_channel_shuffle, ember.nn.functional.channel_shuffle,
               ember.nn.ChannelShuffle(groups)):
        got = fn(ember.tensor(x), groups) if not isinstance(fn, ember.nn.Module) else fn(ember.tensor(x))
        np.testing.assert_array_equal(got.numpy(), want)


def test_channel_shuffle_errors():
    with pytest.raises(RuntimeError, match="Got 5 channels and 2 groups"):
        ember.channel_shuffle(ember.zeros(1, 5, 2), 2)
    with pytest.raises(RuntimeError, match=r"> 2 dims, but got input with sizes \[5\]"):
        ember.channel_shuffle(ember.zeros(5), 1)
    with pytest.raises(RuntimeError, match="must be positive. Value of groups:0"):
        ember.channel_shuffle(ember.zeros(1, 4, 2), 0)


def test_distance_modules_match_numpy():
    a, b = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    cos = ember.nn.modules.distance.CosineSimilarity(dim=1)(ember.tensor(a), ember.tensor(b)).numpy()
    want = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(cos, want, rtol=1e-10)
    dist = ember.nn.PairwiseDistance(p=3.0, keepdim=True)(ember.tensor(a), ember.tensor(b)).numpy()
    np.testing.assert_allclose(dist, (np.abs(a - b + 1e-6) ** 3).sum(1, keepdims=True) ** (1 / 3), rtol=1e-10)
    assert ember.nn.PairwiseDistance is ember.nn.modules.distance.PairwiseDistance
