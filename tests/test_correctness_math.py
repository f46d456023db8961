"""PyTorch's behaviour for arithmetic, products and reductions at their edges, on every device:
comparisons with None, the dtypes PyTorch has no kernel for, integer powers, square, alpha, isclose
with infinities, dtype= of reductions, inner, the old var(input, unbiased) form and empty reductions.
The expected values, dtypes, exception classes and messages were read off PyTorch 2.13 (CPU)."""
import math
import warnings

import numpy as np
import pytest

import ember

INF, NAN = math.inf, math.nan


def _t(data, device, dtype=None):
    return ember.tensor(data, dtype=dtype, device=device)


def _values(t):
    return t.cpu().tolist()


# ---------------------------------------------------------------- 1. t == None
def test_comparing_with_none_or_a_non_number_falls_back_to_identity(any_device):
    t = _t([1.0, 2.0], any_device)
    assert (t == None) is False  # noqa: E711  (the operator is what is tested)
    assert (t != None) is True  # noqa: E711
    assert (None == t) is False and (None != t) is True  # noqa: E711
    assert (t == "a") is False and (t != [1, 2]) is True
    with pytest.raises(TypeError):
        ember.eq(t, None)
    with pytest.raises(TypeError):
        t.ne(None)
    with pytest.raises(TypeError):
        t < None  # noqa: B015
    assert _values(t == 2.0) == [False, True]  # numbers still compare elementwise


# ---------------------------------------------------------------- 2. no kernel for these dtypes
def test_abs_of_bool_is_not_implemented(any_device):
    b = _t([True, False], any_device)
    for form in (ember.abs, ember.Tensor.abs, abs, ember.absolute):
        with pytest.raises(NotImplementedError, match="\"abs_.*\" not implemented for 'Bool'"):
            form(b)
    if any_device == "cpu":
        with pytest.raises(NotImplementedError, match="^\"abs_cpu\" not implemented for 'Bool'$"):
            ember.abs(b)


@pytest.mark.parametrize("form, shapes, kernel", [
    (ember.mm, ((2, 2), (2, 2)), "addmm_impl_cpu_"),
    (ember.matmul, ((2, 2), (2, 2)), "addmm_impl_cpu_"),
    (ember.bmm, ((2, 2, 2), (2, 2, 2)), "bmm"),
    (ember.matmul, ((2, 2, 2), (2, 2, 2)), "bmm"),
    (ember.matmul, ((2,), (2, 2, 2)), "bmm"),
    (ember.matmul, ((2, 2, 2), (2, 2)), "addmm_impl_cpu_"),
    (ember.mv, ((2, 2), (2,)), "addmv_impl_cpu"),
    (ember.matmul, ((2, 2, 2), (2,)), "addmv_impl_cpu"),
    (ember.dot, ((2,), (2,)), "dot"),
    (ember.vdot, ((2,), (2,)), "dot"),
    (ember.inner, ((2,), (2,)), "dot"),
    (lambda a, b: a @ b, ((2,), (2,)), "dot"),
])
def test_bool_matrix_products_are_not_implemented(any_device, form, shapes, kernel):
    a, b = (ember.ones(*s, dtype=ember.bool, device=any_device) for s in shapes)
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'") as info:
        form(a, b)
    if any_device == "cpu":
        assert str(info.value) == f"\"{kernel}\" not implemented for 'Bool'"


@pytest.mark.parametrize("dtype", [ember.int64, ember.int32, ember.int8, ember.uint8])
def test_integer_matrix_products_compute(any_device, dtype):
    a = np.array([[1, 2, 3], [4, 5, 6]])
    b = np.array([[1, 0], [2, 1], [3, 7]])
    ta, tb = _t(a, any_device, dtype), _t(b, any_device, dtype)
    mm = ember.mm(ta, tb)
    assert mm.dtype is dtype and _values(mm) == (a @ b).tolist() == [[14, 23], [32, 47]]
    assert _values(ember.mv(ta, tb[:, 0])) == [14, 32] and ember.mv(ta, tb[:, 0]).dtype is dtype
    assert _values(ember.dot(ta[0], ta[1])) == 32
    assert _values(ember.bmm(ta.unsqueeze(0), tb.unsqueeze(0))) == [[[14, 23], [32, 47]]]
    wrapped = ember.mm(_t([[100, 100]], any_device, ember.int8), _t([[1], [1]], any_device, ember.int8))
    assert _values(wrapped) == [[-56]]  # int8 products wrap around, as in PyTorch


@pytest.mark.parametrize("mode", ["floor", "trunc"])
def test_rounding_division_of_bools_is_not_implemented(any_device, mode):
    b = _t([True, True], any_device)
    for args in ((b, b), (b, True), (True, b)):
        with pytest.raises(NotImplementedError, match=f"\"div_{mode}_.*\" not implemented for 'Bool'"):
            ember.div(*args, rounding_mode=mode)
    # a bool with an integer promotes to int64 and computes
    r = ember.div(b, 1, rounding_mode=mode)
    assert r.dtype is ember.int64 and _values(r) == [1, 1]


def test_bool_floor_division_and_remainders_are_not_implemented(any_device):
    b = _t([True, True], any_device)
    with pytest.raises(NotImplementedError, match="\"div_floor_.*\" not implemented for 'Bool'"):
        b // b  # noqa: B018
    with pytest.raises(NotImplementedError, match="\"remainder_.*\" not implemented for 'Bool'"):
        ember.remainder(b, b)
    with pytest.raises(NotImplementedError, match="\"fmod_.*\" not implemented for 'Bool'"):
        ember.fmod(b, b)
    assert _values(ember.remainder(b, 1)) == [0, 0]


@pytest.mark.parametrize("dtype, title", [(ember.int64, "Long"), (ember.int32, "Int"), (ember.uint8, "Byte"),
                                          (ember.bool, "Bool")])
def test_frac_of_integers_is_not_implemented(any_device, dtype, title):
    x = _t([1, 0, 1], any_device, dtype)
    with pytest.raises(NotImplementedError, match=f"\"frac_.*\" not implemented for '{title}'"):
        ember.frac(x)
    with pytest.raises(NotImplementedError):
        x.frac()
    assert _values(ember.frac(_t([1.5, -2.25], any_device))) == [0.5, -0.25]


# ---------------------------------------------------------------- 3. integer powers
@pytest.mark.parametrize("dtype", [ember.int64, ember.int32, ember.int16, ember.int8])
def test_integers_to_negative_tensor_exponents(any_device, dtype):
    base = _t([2, 1, -1, -1, 0, 3, -2, 2], any_device, dtype)
    exponent = _t([-1, -3, -3, -2, -1, 0, -1, 3], any_device, dtype)
    r = ember.pow(base, exponent)
    assert r.dtype is dtype and _values(r) == [0, 1, -1, 1, 0, 1, 0, 8]
    assert _values(base ** exponent) == [0, 1, -1, 1, 0, 1, 0, 8]
    assert _values(ember.pow(2, exponent)) == [0, 0, 0, 0, 0, 1, 0, 8]
    assert _values(ember.pow(-1, exponent)) == [-1, -1, -1, 1, -1, 1, -1, -1]
    assert _values(ember.pow(base, _t(-1, any_device, dtype))) == [0, 1, -1, -1, 0, 0, 0, 0]
    assert _values(base.clone().pow_(exponent)) == [0, 1, -1, 1, 0, 1, 0, 8]


def test_integer_powers_wrap_and_negative_python_exponents_raise(any_device):
    r = _t([2, 3], any_device) ** _t([70, 40], any_device)
    assert _values(r) == [0, -6289078614652622815]
    assert _values(_t([2, 3], any_device, ember.uint8) ** _t([7, 5], any_device, ember.uint8)) == [128, 243]
    for dtype in (ember.int64, ember.uint8, ember.bool):
        with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
            ember.pow(_t([1, 2], any_device, dtype), -1)
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        _t([1, 2], any_device) ** -2  # noqa: B018
    assert _values(ember.pow(_t([2, 4], any_device), -1.0)) == [0.5, 0.25]  # a float exponent: float result


# ---------------------------------------------------------------- 4. square
@pytest.mark.parametrize("data, dtype, expected, result_dtype", [
    ([1.5, -2.0], ember.float32, [2.25, 4.0], ember.float32),
    ([1.5, -2.0], ember.bfloat16, [2.25, 4.0], ember.bfloat16),
    ([1, 2, -3], ember.int64, [1, 4, 9], ember.int64),
    ([100, -2], ember.int8, [16, 4], ember.int8),
    ([200, 3], ember.uint8, [64, 9], ember.uint8),
    ([True, False], ember.bool, [1, 0], ember.int64),
])
def test_square_keeps_integers_and_makes_bool_int64(any_device, data, dtype, expected, result_dtype):
    x = _t(data, any_device, dtype)
    for r in (ember.square(x), x.square()):
        assert r.dtype is result_dtype and _values(r) == expected
    out = ember.empty(0, dtype=result_dtype, device=any_device)
    assert ember.square(x, out=out) is out and _values(out) == expected
    if dtype is ember.bool:
        with pytest.raises(RuntimeError, match="can't be cast"):
            x.clone().square_()
    else:
        y = x.clone()
        assert y.square_() is y and _values(y) == expected and y.dtype is dtype


def test_square_is_differentiable(any_device):
    x = _t([1.5, -2.0, 0.5], any_device).requires_grad_()
    x.square().sum().backward()
    assert _values(x.grad) == [3.0, -4.0, 1.0]
    with pytest.raises(TypeError, match=r"square\(\): argument 'input' \(position 1\) must be Tensor, not int"):
        ember.square(3)


# ---------------------------------------------------------------- 5. alpha and the pow shortcuts
def test_add_and_sub_scale_a_python_number_by_alpha(any_device):
    t = _t([1.5, -2.0], any_device)
    i = _t([1, 2, 3], any_device)
    assert _values(ember.add(t, 2, alpha=3)) == [7.5, 4.0]
    assert _values(t.add(2, alpha=3)) == [7.5, 4.0] and _values(t.clone().add_(2, alpha=3)) == [7.5, 4.0]
    assert _values(ember.sub(t, 2, alpha=3)) == [-4.5, -8.0]
    assert _values(ember.add(t, 2, alpha=2.5)) == [6.5, 3.0]
    r = ember.add(i, 2, alpha=3)
    assert r.dtype is ember.int64 and _values(r) == [7, 8, 9]
    assert _values(ember.sub(i, 2, alpha=3)) == [-5, -4, -3]
    r = ember.add(i, 2.5, alpha=2)
    assert r.dtype is ember.float32 and _values(r) == [6.0, 7.0, 8.0]
    r = ember.add(_t([100, -2], any_device, ember.int8), 100, alpha=2)
    assert r.dtype is ember.int8 and _values(r) == [44, -58]
    assert _values(ember.rsub(i, 2, alpha=3)) == [-1, -4, -7]
    assert _values(ember.sub(3, t, alpha=2)) == [0.0, 7.0]


def test_alpha_is_checked_against_the_result_dtype(any_device):
    t = _t([1.5, -2.0], any_device)
    i = _t([1, 2, 3], any_device)
    b = _t([True, False], any_device)
    for args in ((i, 2), (i, i), (b, b)):
        with pytest.raises(RuntimeError, match="For integral input tensors, argument alpha must not be a floating "
                                               "point number"):
            ember.add(*args, alpha=1.0)
    with pytest.raises(RuntimeError, match="For integral input tensors"):
        ember.sub(i, 2, alpha=2.5)
    for args in ((t, 1), (i, 2), (t, t)):
        with pytest.raises(RuntimeError, match="Boolean alpha only supported for Boolean results"):
            ember.add(*args, alpha=True)
    with pytest.raises(TypeError, match="alpha"):
        ember.add(t, 2, alpha=None)
    # bool results: alpha is a bool too (2 is True), the sum a logical or
    for alpha in (2, True, 0):
        r = ember.add(b, b, alpha=alpha)
        assert r.dtype is ember.bool and _values(r) == [True, False]
    assert _values(ember.add(b, True, alpha=True)) == [True, True]
    assert _values(ember.add(b, 1, alpha=2)) == [3, 2]


def test_subtraction_refuses_any_bool_operand(any_device):
    b = _t([True, False], any_device)
    i = _t([1, 2], any_device)
    for args in ((b, 1), (i, b), (True, i), (b, 1.5), (1, b)):
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor is not supported"):
            ember.sub(*args)
    for args in ((b, b), (b, True)):
        with pytest.raises(RuntimeError, match="with two bool tensors is not supported"):
            ember.sub(*args)
    with pytest.raises(RuntimeError, match="with a bool tensor"):
        1 - b  # noqa: B018


def test_pow_shortcuts_promote(any_device):
    i = _t([1, 2, 3], any_device)
    b = _t([True, False], any_device)
    cases = [
        (ember.pow(i, 2.0), ember.float32, [1.0, 4.0, 9.0]), (ember.pow(i, 1.0), ember.float32, [1.0, 2.0, 3.0]),
        (ember.pow(i, 0.0), ember.float32, [1.0, 1.0, 1.0]), (ember.pow(i, 2), ember.int64, [1, 4, 9]),
        (ember.pow(_t(2, any_device, ember.int8), 2.0), ember.float32, 4.0),
        (ember.pow(b, 2), ember.int64, [1, 0]), (ember.pow(b, 1), ember.int64, [1, 0]),
        (ember.pow(b, 0), ember.int64, [1, 1]), (ember.pow(b, 3), ember.int64, [1, 0]),
        (ember.pow(b, 2.0), ember.float32, [1.0, 0.0]), (ember.pow(b, True), ember.bool, [True, False]),
        (ember.pow(b, False), ember.bool, [True, True]), (ember.pow(2, b), ember.int64, [2, 1]),
        (b ** _t(2, any_device), ember.int64, [1, 0]),
        (ember.pow(_t([1.5], any_device, ember.float16), 2), ember.float16, [2.25]),
    ]
    for r, dtype, expected in cases:
        assert r.dtype is dtype and _values(r) == expected
    for args in ((b, b), (b, _t(True, any_device)), (True, b)):
        with pytest.raises(NotImplementedError, match="\"pow\" not implemented for 'Bool'"):
            ember.pow(*args)


# ---------------------------------------------------------------- 6. isclose
def test_isclose_with_infinities_and_nan(any_device):
    a = _t([INF, 5.0, INF, -INF, NAN, NAN, INF, 1.0], any_device)
    b = _t([-INF, INF, INF, -INF, NAN, 1.0, 5.0, 1.0 + 1e-6], any_device)
    assert _values(ember.isclose(a, b)) == [False, False, True, True, False, False, False, True]
    assert _values(ember.isclose(a, b, equal_nan=True)) == [False, False, True, True, True, False, False, True]
    for kw in (dict(rtol=INF), dict(atol=INF)):
        assert _values(ember.isclose(a[:3], b[:3], **kw)) == [False, False, True]
    assert not ember.allclose(_t([INF], any_device), _t([-INF], any_device))
    assert not ember.allclose(_t([5.0], any_device), _t([INF], any_device))
    assert ember.allclose(_t([INF], any_device), _t([INF], any_device))
    assert ember.allclose(_t([NAN], any_device), _t([NAN], any_device), equal_nan=True)
    assert not ember.allclose(_t([NAN], any_device), _t([NAN], any_device))
    assert _values(a.isclose(b)) == _values(ember.isclose(a, b))


def test_isclose_of_integers_and_its_argument_checks(any_device):
    i = _t([1, 2], any_device)
    assert _values(ember.isclose(i, _t([1, 3], any_device))) == [True, False]
    assert _values(ember.isclose(i, _t([1, 3], any_device), atol=1)) == [True, True]
    assert _values(ember.isclose(_t([10, 2], any_device), _t([11, 3], any_device), rtol=0.1, atol=0)) == [True, False]
    # integers are compared in the default float dtype, not in their own (where 127 - -128 would wrap)
    i8 = _t([127], any_device, ember.int8)
    assert _values(ember.isclose(i8, _t([-128], any_device, ember.int8), rtol=0, atol=1)) == [False]
    assert _values(ember.isclose(_t([True], any_device), _t([False], any_device), atol=1)) == [True]
    with pytest.raises(RuntimeError, match="^Long did not match Float$"):
        ember.isclose(i, _t([1.0, 2.0], any_device))
    with pytest.raises(RuntimeError, match="Float did not match Int"):
        ember.allclose(_t([1.0], any_device), _t([1], any_device, ember.int32))
    with pytest.raises(TypeError, match=r"isclose\(\): argument 'other' \(position 2\) must be Tensor, not float"):
        ember.isclose(_t([1.0], any_device), 1.0)
    with pytest.raises(TypeError, match=r"allclose\(\): argument 'other' \(position 2\) must be Tensor"):
        ember.allclose(_t([1.0], any_device), 1.0)
    with pytest.raises(RuntimeError, match="rtol must be greater than or equal to zero, but got -1"):
        ember.isclose(i, i, rtol=-1)
    with pytest.raises(RuntimeError, match="atol must be greater than or equal to zero, but got -1"):
        ember.isclose(i, i, atol=-1)


# ---------------------------------------------------------------- 7. dtype= of reductions and scans
_DTYPES = [ember.bool, ember.uint8, ember.int8, ember.int16, ember.int32, ember.int64, ember.float16,
           ember.bfloat16, ember.float32]


@pytest.mark.parametrize("dtype", _DTYPES, ids=lambda d: d.name)
def test_sum_prod_and_scans_return_the_asked_dtype(any_device, dtype):
    for x in (_t([[1, 2, 3], [4, 5, 6]], any_device), _t([[1.5, 2.0], [3.0, 4.0]], any_device),
              _t([True, False], any_device)):
        assert ember.sum(x, dtype=dtype).dtype is dtype
        assert ember.prod(x, dtype=dtype).dtype is dtype and ember.prod(x, 0, dtype=dtype).dtype is dtype
        assert ember.nansum(x, dtype=dtype).dtype is dtype
        if dtype is ember.bool:
            with pytest.raises(NotImplementedError, match="\"cumsum_out_.*\" not implemented for 'Bool'"):
                ember.cumsum(x, 0, dtype=dtype)
            with pytest.raises(NotImplementedError, match="\"cumprod_out_.*\" not implemented for 'Bool'"):
                ember.cumprod(x, 0, dtype=dtype)
        else:
            assert ember.cumsum(x, 0, dtype=dtype).dtype is dtype and ember.cumprod(x, 0, dtype=dtype).dtype is dtype
        if dtype.is_floating_point:
            assert ember.mean(x, dtype=dtype).dtype is dtype
        else:
            with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype. Optional dtype must "
                                                   "be either a floating point or complex dtype"):
                ember.mean(x, dtype=dtype)


def test_prod_with_dtype_computes_in_that_dtype(any_device):
    i = _t([[1, 2, 3], [4, 5, 6]], any_device)
    r = ember.prod(i, 1, dtype=ember.int32)
    assert r.dtype is ember.int32 and _values(r) == [6, 120]
    r = ember.prod(i, dtype=ember.int8)
    assert r.dtype is ember.int8 and _values(r) == -48  # 720 wraps
    assert _values(ember.prod(_t([100, 100], any_device), dtype=ember.int8)) == 16
    assert _values(ember.sum(_t([100, 100], any_device, ember.int8), dtype=ember.int8)) == -56
    assert _values(ember.prod(i, dtype=ember.bool)) is True and _values(ember.sum(i > 3, dtype=ember.bool)) is True
    r = ember.mean(i > 2, dtype=ember.float16)
    assert r.dtype is ember.float16 and abs(_values(r) - 0.6665) < 1e-3


# ---------------------------------------------------------------- 8. nanmean, where
def test_nanmean_needs_a_floating_point_input(any_device):
    for x, title in ((_t([1, 2], any_device), "int64"), (_t([True], any_device), "bool")):
        for kw in ({}, {"dtype": ember.float32}):
            with pytest.raises(RuntimeError, match=f"nanmean\\(\\): expected input to have floating point or complex "
                                                   f"dtype but got {title}"):
                ember.nanmean(x, **kw)
    with pytest.raises(RuntimeError, match="nanmean\\(\\): could not infer output dtype. Optional dtype must"):
        ember.nanmean(_t([1.0, NAN], any_device), dtype=ember.int32)
    assert _values(ember.nanmean(_t([1.0, NAN, 3.0], any_device))) == 2.0


def test_where_needs_both_or_neither_of_input_and_other(any_device):
    cond = _t([True, False], any_device)
    x = _t([1.0, 2.0], any_device)
    for args, kwargs in (((cond, x), {}), ((cond, 1), {}), ((cond,), {"other": x}), ((cond, None, x), {}),
                         ((cond, x, None), {}), ((cond,), {"input": x})):
        with pytest.raises(TypeError, match="where\\(\\) received an invalid combination of arguments"):
            ember.where(*args, **kwargs)
    assert [_values(t) for t in ember.where(cond)] == [[0]]
    assert _values(ember.where(cond, x, 0.0)) == [1.0, 0.0]


# ---------------------------------------------------------------- 9. inner
def test_inner_joins_the_leading_dims_of_both(any_device):
    a = ember.arange(6.0, device=any_device).reshape(2, 3)
    c = ember.arange(24.0, device=any_device).reshape(2, 4, 3)
    expected = [[[5.0, 14.0, 23.0, 32.0], [41.0, 50.0, 59.0, 68.0]],
                [[14.0, 50.0, 86.0, 122.0], [158.0, 194.0, 230.0, 266.0]]]
    r = ember.inner(a, c)
    assert tuple(r.shape) == (2, 2, 4) and _values(r) == expected
    assert _values(a.inner(c)) == expected
    assert _values(ember.inner(a.int(), c.int())) == [[[int(v) for v in row] for row in m] for m in expected]
    assert tuple(ember.inner(c, c).shape) == (2, 4, 2, 4) and tuple(ember.inner(c, a).shape) == (2, 4, 2)
    assert tuple(ember.inner(ember.ones(0, 3, device=any_device), ember.ones(2, 0, 3, device=any_device)).shape) \
        == (0, 2, 0)
    np.testing.assert_allclose(_values(ember.inner(c, c)), np.inner(np.arange(24.0).reshape(2, 4, 3),
                                                                     np.arange(24.0).reshape(2, 4, 3)))
    with pytest.raises(RuntimeError, match=r"inner\(\) the last dimension must match on both input tensors but got "
                                           r"shapes \[2, 3\] and \[2, 2, 4\]"):
        ember.inner(a, ember.ones(2, 2, 4, device=any_device))


def test_inner_is_differentiable_with_many_dims(any_device):
    a = ember.arange(6.0, device=any_device).reshape(2, 3).requires_grad_()
    c = ember.arange(24.0, device=any_device).reshape(2, 4, 3).requires_grad_()
    ember.inner(a, c).sum().backward()
    assert _values(a.grad) == [[84.0, 92.0, 100.0]] * 2  # the sums of c's columns
    assert _values(c.grad) == [[[3.0, 5.0, 7.0]] * 4] * 2


# ---------------------------------------------------------------- 10. var(input, unbiased)
def test_the_old_positional_unbiased_form(any_device):
    x = _t([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]], any_device)

    def close(t, expected):
        return abs(_values(t) - expected) < 1e-4
    v, m = ember.var_mean(x, True)
    assert close(v, 8.0) and close(m, 4.0) and m.ndim == 0
    v, m = ember.var_mean(x, False)
    assert close(v, 6.666667) and close(m, 4.0) and m.ndim == 0
    s, m = ember.std_mean(x, False)
    assert close(s, 2.5819889) and close(m, 4.0) and m.ndim == 0
    assert close(ember.var(x, False), 6.666667) and close(ember.std(x, False), 2.5819889)
    assert close(x.var(False), 6.666667) and close(x.std(True), math.sqrt(8.0))
    v, m = ember.var_mean(x, 1, False, True)
    assert tuple(v.shape) == (2, 1) and tuple(m.shape) == (2, 1)
    np.testing.assert_allclose(_values(v), [[1.5555556], [6.2222223]], rtol=1e-5)
    np.testing.assert_allclose(_values(m), [[2.3333333], [5.6666665]], rtol=1e-5)
    for fn in (ember.var, ember.var_mean, ember.std, ember.std_mean):
        with pytest.raises(TypeError, match="invalid combination of arguments"):
            fn(x, True, keepdim=True)
        with pytest.raises(TypeError, match="invalid combination of arguments"):
            fn(x, True, correction=1)


def test_too_few_degrees_of_freedom_warn(any_device):
    x = ember.ones(1, device=any_device)
    for fn, name in ((ember.var, "var"), (ember.std, "std"), (ember.var_mean, "var_mean"),
                     (ember.std_mean, "std_mean")):
        with pytest.warns(UserWarning, match=f"^{name}\\(\\): degrees of freedom is <= 0"):
            out = fn(x)
        assert math.isnan(_values(out[0] if isinstance(out, tuple) else out))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _values(ember.var(x, correction=0)) == 0.0


# ---------------------------------------------------------------- 11. empty reductions
_NO_DIM = "Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the " \
          "'dim' argument."


@pytest.mark.parametrize("call, name", [
    (lambda e: e.max(), "max"), (lambda e: e.min(), "min"), (lambda e: e.amax(), "amax"),
    (lambda e: e.amin(), "amin"), (lambda e: ember.max(e), "max"), (lambda e: ember.amax(e, dim=()), "amax"),
    (lambda e: ember.amin(e, dim=[]), "amin"),
])
@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0)])
def test_extrema_of_an_empty_tensor_need_a_dim(any_device, call, name, shape):
    e = ember.empty(*shape, device=any_device)
    with pytest.raises(RuntimeError, match=f"^{name}\\(\\): " + _NO_DIM.replace("(", "\\(").replace(")", "\\)")):
        call(e)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_extrema_of_an_empty_tensor_raise_index_error(any_device, name):
    e = ember.empty(0, 3, device=any_device)
    with pytest.raises(IndexError, match=f"^{name}\\(\\): Expected reduction dim to be specified for "
                                         f"input.numel\\(\\) == 0.$"):
        getattr(e, name)()
    with pytest.raises(IndexError, match=f"^{name}\\(\\): Expected reduction dim 0 to have non-zero size."):
        getattr(ember, name)(e, 0)
    r = getattr(e, name)(1)
    assert tuple(r.shape) == (0,) and r.dtype is ember.int64


def test_reducing_over_an_empty_dim_names_the_function_called(any_device):
    e2 = ember.empty(0, 3, device=any_device)
    e3 = ember.empty(3, 0, device=any_device)
    cases = [(lambda: e2.max(0), "max(): Expected reduction dim 0"),
             (lambda: ember.max(e2, 0), "max(): Expected reduction dim 0"),
             (lambda: e2.max(dim=0), "max(): Expected reduction dim 0"),
             (lambda: ember.min(e2, 0, keepdim=True), "min(): Expected reduction dim 0"),
             (lambda: e3.max(1), "max(): Expected reduction dim 1"),
             (lambda: e3.min(dim=-1), "min(): Expected reduction dim 1"),
             (lambda: e2.amax(0), "amax(): Expected reduction dim 0"),
             (lambda: e3.amax((0, 1)), "amax(): Expected reduction dim 1"),
             (lambda: e2.amin(0), "amin(): Expected reduction dim 0"),
             (lambda: ember.aminmax(e2, dim=0), "aminmax: Expected reduction dim 0")]
    for fn, message in cases:
        with pytest.raises(IndexError, match="^" + message.replace("(", "\\(").replace(")", "\\)")
                           + " to have non-zero size.$"):
            fn()
    with pytest.raises(RuntimeError, match="aminmax\\(\\): cannot compute aminmax over an empty dimension as the "
                                           "operation has no identity."):
        ember.aminmax(ember.empty(0, device=any_device))
    values, indices = e2.max(1)
    assert tuple(values.shape) == (0,) and tuple(indices.shape) == (0,) and indices.dtype is ember.int64
    assert tuple(e2.amax(1).shape) == (0,) and tuple(ember.aminmax(e2, dim=1).min.shape) == (0,)


def test_reductions_with_an_identity_of_empty_tensors(any_device):
    e = ember.empty(0, device=any_device)
    e2 = ember.empty(0, 3, device=any_device)
    assert _values(e.sum()) == 0.0 and _values(e.prod()) == 1.0 and math.isnan(_values(e.mean()))
    assert _values(e.all()) is True and _values(e.any()) is False
    assert _values(e.int().sum()) == 0 and e.int().sum().dtype is ember.int64
    assert _values(e.int().prod()) == 1 and e.int().prod().dtype is ember.int64
    assert _values(e.bool().all()) is True
    assert _values(e2.sum(0)) == [0.0, 0.0, 0.0] and _values(e2.sum(1)) == []
    assert _values(e2.prod(0)) == [1.0, 1.0, 1.0] and _values(e2.prod(1)) == []
    assert all(math.isnan(v) for v in _values(e2.mean(0))) and _values(e2.mean(1)) == []
    assert _values(e2.all(0)) == [True] * 3 and _values(e2.any(0)) == [False] * 3 and _values(e2.all(1)) == []
    assert _values(e.nansum()) == 0.0 and _values(e.count_nonzero()) == 0


@pytest.mark.parametrize("fn", [ember.softmax, ember.log_softmax])
def test_softmax_over_an_empty_dim_is_empty(any_device, fn):
    for shape, dim in (((0,), 0), ((0,), -1), ((0, 3), 0), ((0, 3), 1), ((3, 0), 1), ((3, 0), 0)):
        r = fn(ember.empty(*shape, device=any_device), dim)
        assert tuple(r.shape) == shape and r.dtype is ember.float32
    r = fn(ember.empty(3, 0, dtype=ember.int64, device=any_device), 1)
    assert r.dtype is ember.int64 and tuple(r.shape) == (3, 0)  # no kernel runs: the dtype is kept
    import ember.nn.functional as F
    assert tuple(F.softmax(ember.empty(2, 0, device=any_device), dim=1).shape) == (2, 0)


# ---------------------------------------------------------------- einsum, which the products above go through
def test_einsum_contracting_bools_is_not_implemented(any_device):
    b = ember.ones(2, 2, dtype=ember.bool, device=any_device)
    i8 = ember.full((2, 2), 100, dtype=ember.int8, device=any_device)
    r = ember.einsum("ij,j->i", i8, i8[0])
    assert r.dtype is ember.int8 and _values(r) == [32, 32]  # a product stays in int8 (and wraps)
    assert ember.einsum("ii->i", b).dtype is ember.bool and ember.einsum("ij->ji", b).dtype is ember.bool
    assert _values(ember.einsum("i,j->ij", b[0], b[1])) == [[True, True], [True, True]]
    for equation in ("ij,ij->", "ij,jk->ik", "i,i->"):
        operands = (b, b) if equation != "i,i->" else (b[0], b[1])
        with pytest.raises(NotImplementedError, match="\"bmm\" not implemented for 'Bool'"):
            ember.einsum(equation, *operands)


# ---------------------------------------------------------------- more of PyTorch's edges in the same ops
def test_empty_bool_products_give_zeros(any_device):
    def b(*shape):
        return ember.ones(*shape, dtype=ember.bool, device=any_device)
    for sa, sb, shape in (((2, 0), (0, 3), (2, 3)), ((0, 3), (3, 2), (0, 2)), ((2, 0), (0,), (2,)),
                          ((2, 2, 0), (2, 0, 3), (2, 2, 3))):
        r = b(*sa) @ b(*sb)
        assert r.dtype is ember.bool and tuple(r.shape) == shape and not _values(r.any())
    assert not _values(ember.einsum("ij,jk->ik", b(2, 0), b(0, 3)).any())
    with pytest.raises(NotImplementedError, match="\"dot\" not implemented for 'Bool'"):
        ember.dot(b(0), b(0))  # dot checks first
    r = ember.cumsum(ember.ones(0, device=any_device), 0, dtype=ember.bool)  # an empty scan runs no kernel
    assert r.dtype is ember.bool and tuple(r.shape) == (0,)


def test_softmax_of_integers_needs_a_dtype(any_device):
    i = _t([[1, 2], [3, 4]], any_device)
    for fn, name in ((ember.softmax, "softmax"), (ember.log_softmax, "log_softmax")):
        with pytest.raises(NotImplementedError, match=f"^\"{name}_lastdim_kernel_impl\" not implemented for 'Long'$"):
            fn(i, -1)
        with pytest.raises(NotImplementedError, match=f"^\"{name}_kernel_impl\" not implemented for 'Long'$"):
            fn(i, 0)
        with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
            fn(i > 2, 1)
        r = fn(i, 1, dtype=ember.float32)
        assert r.dtype is ember.float32 and tuple(r.shape) == (2, 2)
        empty = fn(ember.empty(2, 0, dtype=ember.int64, device=any_device), 0)
        assert empty.dtype is ember.int64 and tuple(empty.shape) == (2, 0)  # nothing to compute: dtype kept
    assert _values(ember.softmax(i, 1, dtype=ember.float32)) == _values(ember.softmax(i.float(), 1))


def test_softmax_with_infinite_maxima_is_nan_as_in_pytorch(any_device):
    from ember.dispatch.ops import OPS
    from ember.dispatch.table import DECOMPOSE, resolve
    for dtype in (ember.float32, ember.float16):
        x = _t([[-INF, -INF, -INF], [-INF, 1.0, 1.0], [INF, -INF, -INF]], any_device, dtype)
        for fn in (ember.softmax, ember.log_softmax):
            r = _values(fn(x, 1))
            assert all(math.isnan(v) for v in r[0])
            if fn is ember.softmax:
                assert r[1] == [0.0, 0.5, 0.5]
            else:
                assert r[1][0] == -INF and abs(r[1][1] + math.log(2)) < 1e-3 and r[1][1] == r[1][2]
            # the decomposition subtracts the maximum as PyTorch does, +inf included (fused kernels are their own)
            if resolve(OPS[fn.__name__], any_device) is DECOMPOSE:
                assert all(math.isnan(v) for v in r[2])


def test_bool_inputs_some_kernels_lack(any_device):
    b = _t([True, False], any_device)
    for fn in (ember.floor, ember.ceil, ember.trunc, ember.round, ember.Tensor.floor_):
        with pytest.raises(NotImplementedError, match="_vml_.*\" not implemented for 'Bool'"):
            fn(b.clone())
    with pytest.raises(NotImplementedError, match="\"round_.*\" not implemented for 'Long'"):
        ember.round(_t([1, 2], any_device), decimals=1)
    assert _values(ember.floor(_t([1, 2], any_device))) == [1, 2]  # integers are already whole
    with pytest.raises(RuntimeError, match="^Boolean inputs not supported for relu$"):
        b.relu()
    for name in ("argmax", "argmin"):
        with pytest.raises(RuntimeError, match=f"^{name}\\(\\): does not support bool input$"):
            getattr(b, name)()
        with pytest.raises(RuntimeError, match="does not support bool input"):
            getattr(ember, name)(ember.empty(0, dtype=ember.bool, device=any_device), 0)
    for fn, kernel in ((ember.bitwise_left_shift, "lshift"), (ember.bitwise_right_shift, "rshift")):
        with pytest.raises(NotImplementedError, match=f"\"{kernel}_.*\" not implemented for 'Bool'"):
            fn(b, b)
        with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
            fn(True, b)
    r = b << 1
    assert r.dtype is ember.int64 and _values(r) == [2, 0]


def test_sign_of_nan_and_negative_zero_is_zero(any_device):
    for dtype in (ember.float32, ember.float16, ember.bfloat16):
        r = ember.sign(_t([NAN, -0.0, 0.0, 2.5, -3.0, INF, -INF], any_device, dtype))
        assert r.dtype is dtype and _values(r) == [0.0, 0.0, 0.0, 1.0, -1.0, 1.0, -1.0]
        assert math.copysign(1.0, _values(r)[1]) == 1.0


def test_half_precision_means_and_scans_accumulate_in_float32(any_device):
    x = ember.full((4,), 60000.0, dtype=ember.float16, device=any_device)
    assert _values(x.mean()) == 60000.0 and x.mean().dtype is ember.float16  # the sum alone overflows
    assert _values(x.sum()) == INF
    tenths = ember.full((4,), 0.1, dtype=ember.float16, device=any_device)
    assert _values(ember.cumsum(tenths, 0)) == [0.0999755859375, 0.199951171875, 0.2998046875, 0.39990234375]


def test_where_needs_a_bool_condition(any_device):
    x = _t([1.0, 2.0], any_device)
    for cond, title in ((_t([1.0, 0.0], any_device), "Float"), (_t([1, 0], any_device), "Long")):
        with pytest.raises(RuntimeError, match=f"^where expected condition to be a boolean tensor, but got a tensor "
                                               f"with dtype {title}$"):
            ember.where(cond, x, 0.0)
    with pytest.warns(UserWarning, match="where received a uint8 condition tensor"):
        r = ember.where(_t([1, 0], any_device, ember.uint8), x, 0.0)
    assert _values(r) == [1.0, 0.0]
    with pytest.raises(RuntimeError, match="boolean tensor"):
        x.where(_t([1, 0], any_device), 0.0)


def test_clamp_edges(any_device):
    b = _t([True, False], any_device)
    for kwargs, kernel in (({"min": True, "max": True}, "clamp_scalar"), ({"min": True}, "clamp_min_scalar"),
                           ({"min": b, "max": b}, "clamp")):
        with pytest.raises(NotImplementedError, match=f"\"{kernel}_.*\" not implemented for 'Bool'"):
            ember.clamp(b, **kwargs)
    assert _values(ember.clamp(b, min=b)) == [True, False] and _values(ember.clamp(b, 0, 1)) == [1, 0]
    r = ember.clamp(_t([1, 5], any_device), min=NAN)
    assert r.dtype is ember.float32 and all(math.isnan(v) for v in _values(r))
    assert all(math.isnan(v) for v in _values(ember.clamp(_t([1.0, 5.0], any_device), max=NAN)))
    r = _values(ember.clamp(_t([1.0, 5.0], any_device), min=_t([NAN, 0.0], any_device)))
    assert math.isnan(r[0]) and r[1] == 5.0
    u8, i8 = _t([1, 5], any_device, ember.uint8), _t([1, 5], any_device, ember.int8)
    for x, lo, hi, ctype in ((u8, 0, 300, "uint8_t"), (u8, -256, 3, "uint8_t"), (i8, -129, 3, "int8_t"),
                             (i8, 0, 255, "int8_t"), (_t([1, 2], any_device), 2 ** 63, None, "int64_t")):
        with pytest.raises(RuntimeError, match=f"value cannot be converted to type {ctype} without overflow"):
            ember.clamp(x, lo, hi)
    assert _values(ember.clamp(u8, -255, 3)) == [1, 3]  # an unsigned bound down to -255 wraps, as in PyTorch
    assert _values(ember.clamp(i8, -128, 3)) == [1, 3] and _values(ember.clamp(u8, 0, 255)) == [1, 5]
    assert _values(ember.clamp(u8, 0.5, 300.5)) == [1.0, 5.0]


def test_lerp_needs_floats_of_one_dtype(any_device):
    i = _t([1, 2], any_device)
    with pytest.raises(NotImplementedError, match="\"lerp_kernel_scalar\" not implemented for 'Long'"):
        ember.lerp(i, _t([3, 4], any_device), 0.5)
    with pytest.raises(NotImplementedError, match="\"lerp_kernel_tensor\" not implemented for 'Long'"):
        ember.lerp(i, _t([3, 4], any_device), _t([1, 1], any_device))
    x = _t([1.0, 2.0], any_device)
    with pytest.raises(RuntimeError, match="expected dtype float32 for `end` but got dtype int64"):
        ember.lerp(x, i, 0.5)
    assert _values(ember.lerp(x, _t([3.0, 4.0], any_device), 0.5)) == [2.0, 3.0]
    assert _values(ember.lerp(x, _t([3.0, 4.0], any_device), 2)) == [5.0, 6.0]
    assert _values(ember.lerp(x, _t([3.0, 4.0], any_device), _t([0.25, 0.75], any_device))) == [1.5, 3.5]
    # PyTorch's two forms: input + w * (end - input) below w = 0.5, end - (end - input) * (1 - w) from there
    for dtype in (ember.float32, ember.float16):
        a, b = _t([1.0, INF, 2.0], any_device, dtype), _t([3.0, 1.0, INF], any_device, dtype)
        r = _values(ember.lerp(a, b, 1.0))
        assert r[0] == 3.0 and math.isnan(r[1]) and math.isnan(r[2])
        r = _values(ember.lerp(a, b, 0.25))
        assert r[0] == 1.5 and math.isnan(r[1]) and r[2] == INF


def test_numpy_scalars_take_part_as_python_numbers(any_device):
    r = _t([1.5], any_device) * np.float64(2.0)
    assert r.dtype is ember.float32 and _values(r) == [3.0]
    r = _t([1], any_device, ember.int32) + np.int64(3)
    assert r.dtype is ember.int32 and _values(r) == [4]
    r = _t([1], any_device, ember.int8) + np.float32(3)
    assert r.dtype is ember.float32 and _values(r) == [4.0]
