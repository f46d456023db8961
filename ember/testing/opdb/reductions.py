"""OpInfos for reductions, scans and softmax."""
from __future__ import annotations

import numpy as np

from ember.testing import dtypes as D
from ember.testing import samples as smp
from ember.testing.opinfo import (STRIDED, TRANSPOSED, OpInfo, SampleInput as S, floating, int64,
                                  integer_to_int64, same)
from ember.testing.samples import axis

OPS = []


def _add(op):
    OPS.append(op)
    return op


def _with_dtype_kwarg(rule):
    """A result dtype rule honouring a ``dtype=`` keyword argument (sum, cumsum, softmax)."""
    def result(sample, dtype):
        d = sample.kwargs.get("dtype")
        return d.name if d is not None else rule(sample, dtype)
    return result


def _dtype_kwarg_sample(mk, shape=(3, 4), **kw):
    import ember
    target = ember.float64 if mk.is_float else ember.int32
    return S(mk(*shape), desc=f"dtype_{target.name}", kwargs=dict(kw, dtype=target))


def _keep(fn):
    """A numpy reduction with PyTorch's (dim, keepdim) arguments."""
    def ref(x, dim=None, keepdim=False, dtype=None):
        out = fn(x, axis=axis(x, dim), keepdims=keepdim)
        if np.ndim(x) == 0 and keepdim:
            out = np.reshape(out, ())
        return out
    return ref


# ---------------------------------------------------------------- sum, mean, prod
def _sum_samples(mk):
    yield from smp.reduction(mk)
    yield _dtype_kwarg_sample(mk, dim=1)


_add(OpInfo("sum", ref=_keep(np.sum), samples=_sum_samples, dtypes=D.ALL, method="sum",
            result_dtype=_with_dtype_kwarg(integer_to_int64), tol={"float16": (1e-2, 4e-3), "bfloat16": (2e-2, 4e-2)}))


def _mean_samples(mk):
    yield from smp.reduction(mk)


_add(OpInfo("mean", ref=_keep(np.mean), samples=_mean_samples, dtypes=D.FLOATS, method="mean",
            tol={"bfloat16": (2e-2, 2e-2)}))


def _prod_ref(x, dim=None, keepdim=False, dtype=None):
    return _keep(np.prod)(x, dim, keepdim)


def _prod_samples(mk):
    def make(*shape):
        if mk.is_float:
            return (mk(*shape, low=0.5, high=1.5) * np.where(mk.mask(*shape), 1, -1)).astype(mk.np_dtype)
        return mk(*shape, low=-2, high=3)
    yield from smp.reduction(mk, dims=((1,), (-1,)), values=make)
    if mk.is_float:
        x = make(3, 4)
        x[1, 2] = 0
        yield S(x, desc="one_zero", kwargs=dict(dim=1))
        x = make(3, 4)
        x[1, 1:3] = 0
        yield S(x, desc="two_zeros", kwargs=dict(dim=1))


_add(OpInfo("prod", ref=_prod_ref, samples=_prod_samples, dtypes=D.ALL, method="prod", result_dtype=integer_to_int64,
            tol={"bfloat16": (3e-2, 2e-2)}))


# ---------------------------------------------------------------- extremes
def _distinct(mk):
    return lambda *shape: mk.distinct(*shape)


def _extreme_samples(mk, empty="kept"):
    return smp.reduction(mk, values=_distinct(mk), empty=empty)


def _amax_ref(fn):
    def ref(x, dim=(), keepdim=False):
        return _keep(fn)(x, None if dim == () else dim, keepdim)
    return ref


_add(OpInfo("amax", ref=_amax_ref(np.max), samples=_extreme_samples, dtypes=D.ALL, method="amax"))
_add(OpInfo("amin", ref=_amax_ref(np.min), samples=_extreme_samples, dtypes=D.ALL, method="amin"))


def _max_full_samples(mk):
    yield S(mk.distinct(3, 4), desc="full")
    yield S(mk.distinct(), desc="0d")
    yield S(mk.distinct(4, 3), desc="transposed", layout=TRANSPOSED)
    yield S(mk.distinct(2, 5), desc="strided", layout=STRIDED)


_add(OpInfo("max", ref=np.max, samples=_max_full_samples, dtypes=D.ALL, method="max"))
_add(OpInfo("min", ref=np.min, samples=_max_full_samples, dtypes=D.ALL, method="min"))


def _values_indices(fn, arg):
    def ref(x, dim, keepdim=False):
        values = _keep(fn)(x, dim, keepdim)
        indices = _keep(arg)(x, dim, keepdim)
        return values, indices
    return ref


def _dim_extreme_samples(mk):
    for s in smp.reduction(mk, dims=((1,), (-1,)), values=_distinct(mk), empty="kept", full=False):
        if "dim" in s.kwargs:
            yield S(s.input, s.kwargs.pop("dim"), desc=s.desc, kwargs=s.kwargs, layout=s.layout)


def _values_and_int64(sample, dtype):
    return same(sample, dtype), "int64"


_add(OpInfo("max_dim", op="max", method="max", ref=_values_indices(np.max, np.argmax), samples=_dim_extreme_samples,
            dtypes=D.ALL_BUT_BOOL, result_dtype=_values_and_int64))
_add(OpInfo("min_dim", op="min", method="min", ref=_values_indices(np.min, np.argmin), samples=_dim_extreme_samples,
            dtypes=D.ALL_BUT_BOOL, result_dtype=_values_and_int64))


def _arg_ref(fn):
    def ref(x, dim=None, keepdim=False):
        if dim is None:
            return np.asarray(fn(x))
        return _keep(fn)(x, dim, keepdim)
    return ref


def _arg_samples(mk):
    yield S(mk.distinct(3, 4), desc="full")
    yield S(mk.distinct(), desc="0d")
    yield S(mk.distinct(2, 3, 4), desc="dim1", kwargs=dict(dim=1))
    yield S(mk.distinct(2, 3, 4), desc="dimneg1_keepdim", kwargs=dict(dim=-1, keepdim=True))
    yield S(mk.distinct(4, 3), desc="transposed", kwargs=dict(dim=0), layout=TRANSPOSED)
    yield S(mk.distinct(3, 5), desc="strided", kwargs=dict(dim=1), layout=STRIDED)
    yield S(mk.distinct(3, 0), desc="empty_kept", kwargs=dict(dim=0))
    ties = np.array([[1, 3, 3, 0], [2, 2, 2, 2], [0, 1, 1, 1]]).astype(mk.np_dtype)
    yield S(ties, desc="ties_first_index", kwargs=dict(dim=1))


_add(OpInfo("argmax", ref=_arg_ref(np.argmax), samples=_arg_samples, dtypes=D.ALL_BUT_BOOL, method="argmax",
            result_dtype=int64, supports_grad=False))
_add(OpInfo("argmin", ref=_arg_ref(np.argmin), samples=_arg_samples, dtypes=D.ALL_BUT_BOOL, method="argmin",
            result_dtype=int64, supports_grad=False))


# ---------------------------------------------------------------- all / any
def _all_any_dtype(sample, dtype):
    # PyTorch keeps uint8 for uint8 inputs (backward compatibility); bool otherwise
    return "uint8" if sample.input.dtype == np.uint8 else "bool"


def _all_any_samples(mk):
    def make(*shape):
        a = mk(*shape, low=0, high=3) if not mk.is_bool else mk(*shape)
        if not mk.is_bool and a.size:  # mostly nonzero: make some rows all-true
            a = np.where(mk.mask(*shape, p=0.75), a if mk.is_float else np.where(a == 0, 1, a), 0).astype(a.dtype)
        return a
    yield from smp.reduction(mk, values=make)
    if mk.is_float:
        yield S(np.array([np.nan, 1.0, -0.0], dtype=mk.np_dtype), desc="nan_is_true", grad=False)


_add(OpInfo("all", ref=_keep(np.all), samples=_all_any_samples, dtypes=D.ALL, method="all",
            result_dtype=_all_any_dtype, supports_grad=False))
_add(OpInfo("any", ref=_keep(np.any), samples=_all_any_samples, dtypes=D.ALL, method="any",
            result_dtype=_all_any_dtype, supports_grad=False))


# ---------------------------------------------------------------- var / std / norm
def _var_ref(x, dim=None, unbiased=None, keepdim=False, correction=None, sqrt=False):
    c = correction if correction is not None else (0 if unbiased is False else 1)
    a = axis(x, dim)
    n = x.size if a is None else int(np.prod([x.shape[d] for d in np.atleast_1d(a)]))
    mean = np.mean(x, axis=a, keepdims=True) if x.size else np.full([1] * x.ndim, np.nan)
    out = np.sum((x - mean) ** 2, axis=a, keepdims=keepdim) / max(n - c, 0)
    out = np.reshape(out, ()) if np.ndim(x) == 0 else out
    return np.sqrt(out) if sqrt else out


def _var_samples(mk):
    yield S(mk(3, 4), desc="full")
    yield S(mk(2, 3, 4), desc="dim1", kwargs=dict(dim=1))
    yield S(mk(2, 3, 4), desc="dim_tuple_keepdim", kwargs=dict(dim=(0, 2), keepdim=True))
    yield S(mk(3, 4), desc="correction0", kwargs=dict(dim=-1, correction=0))
    yield S(mk(3, 5), desc="correction2", kwargs=dict(dim=1, correction=2))
    yield S(mk(3, 4), desc="unbiased_false", kwargs=dict(dim=0, unbiased=False))
    yield S(mk(4, 3), desc="transposed", kwargs=dict(dim=0), layout=TRANSPOSED)
    yield S(mk(3, 5), desc="strided", kwargs=dict(dim=1), layout=STRIDED)
    yield S(mk(1, 3), desc="single_element_nan", kwargs=dict(dim=0), grad=False)
    yield S(mk(), desc="0d_correction0", kwargs=dict(correction=0), grad=False)
    yield S(mk(3, 0), desc="empty_kept", kwargs=dict(dim=0))


_add(OpInfo("var", ref=_var_ref, samples=_var_samples, dtypes=D.FLOATS, method="var",
            tol={"float16": (1e-2, 1e-2), "bfloat16": (4e-2, 4e-2)}))
_add(OpInfo("std", ref=lambda *a, **k: _var_ref(*a, sqrt=True, **k), samples=_var_samples, dtypes=D.FLOATS,
            method="std", tol={"float16": (1e-2, 1e-2), "bfloat16": (4e-2, 4e-2)}))


def _norm_ref(x, p="fro", dim=None, keepdim=False):
    a = axis(x, dim)
    ax = a if a is None or isinstance(a, tuple) else (a,)
    v = np.abs(x)
    if p in ("fro", 2, 2.0):
        out = np.sqrt(np.sum(v * v, axis=ax, keepdims=keepdim))
    elif p == np.inf:
        out = np.max(v, axis=ax, keepdims=keepdim)
    elif p == -np.inf:
        out = np.min(v, axis=ax, keepdims=keepdim)
    elif p == 0:
        out = np.sum(v != 0, axis=ax, keepdims=keepdim).astype(np.float64)
    else:
        out = np.sum(v ** p, axis=ax, keepdims=keepdim) ** (1.0 / p)
    return np.reshape(out, ()) if np.ndim(x) == 0 else out


def _norm_samples(mk):
    def m(*shape):  # away from 0 (|x| is not differentiable there), distinct magnitudes for inf-norms
        n = int(np.prod(shape, dtype=np.int64))
        magnitudes = (mk.rng.permutation(n) + 1) * 0.25
        return (magnitudes * np.where(mk.mask(n), 1, -1)).reshape(shape).astype(mk.np_dtype)
    yield S(m(3, 4), desc="fro_full")
    yield S(m(), desc="0d")
    yield S(m(2, 3, 4), 2, desc="p2_dim1", kwargs=dict(dim=1))
    yield S(m(2, 3, 4), 1, desc="p1_dim_tuple", kwargs=dict(dim=(0, 2)))
    yield S(m(3, 4), float("inf"), desc="pinf_dim_keepdim", kwargs=dict(dim=1, keepdim=True))
    yield S(m(3, 4), float("-inf"), desc="pneginf_dim", kwargs=dict(dim=0))
    yield S(m(3, 4), 3, desc="p3_full")
    yield S(m(3, 4), 0, desc="p0_dim", kwargs=dict(dim=1))
    yield S(m(4, 3), desc="transposed", kwargs=dict(dim=0), layout=TRANSPOSED)
    yield S(m(3, 5), 1, desc="strided", kwargs=dict(dim=1), layout=STRIDED)
    yield S(m(0, 3), desc="empty", kwargs=dict(dim=0))


_add(OpInfo("norm", ref=_norm_ref, samples=_norm_samples, dtypes=D.FLOATS, method="norm",
            tol={"float16": (1e-2, 1e-2), "bfloat16": (3e-2, 3e-2)}))


# ---------------------------------------------------------------- logsumexp
def _logsumexp_ref(x, dim, keepdim=False):
    a = axis(x, dim)
    with np.errstate(all="ignore"):
        m = np.max(x, axis=a, keepdims=True) if x.size else np.zeros([1] * x.ndim)
        m = np.where(np.isinf(m), 0.0, m)
        out = np.log(np.sum(np.exp(x - m), axis=a, keepdims=True)) + m
    if not keepdim:
        out = np.squeeze(out, axis=a) if a is not None else np.reshape(out, ())
    return out


def _logsumexp_samples(mk):
    yield from smp.reduction(mk, full=False, kwargs={})
    if mk.is_float:
        yield S((mk(3, 4, low=-2, high=2).astype(np.float64) + 80).astype(mk.np_dtype), desc="large_values",
                kwargs=dict(dim=1))
        x = mk(3, 4)
        x[1, :] = -np.inf
        yield S(x, desc="neginf_row", kwargs=dict(dim=1), grad=False)


_add(OpInfo("logsumexp", ref=_logsumexp_ref, samples=_logsumexp_samples, dtypes=D.ALL_BUT_BOOL, method="logsumexp",
            result_dtype=floating, tol={"float16": (1e-2, 1e-2), "bfloat16": (2e-2, 4e-2)}))


# ---------------------------------------------------------------- scans
def _scan_samples(mk, values=None):
    make = values or (lambda *shape: mk(*shape))
    yield S(make(3, 4), 1, desc="dim1")
    yield S(make(2, 3, 4), -1, desc="dimneg1")
    yield S(make(2, 3, 4), desc="dim0_kwarg", kwargs=dict(dim=0))
    yield S(make(), 0, desc="0d")
    yield S(make(4, 3), 0, desc="transposed", layout=TRANSPOSED)
    yield S(make(3, 5), 1, desc="strided", layout=STRIDED)
    yield S(make(0, 3), 0, desc="empty")
    yield _dtype_kwarg_sample(mk, dim=1)


def _scan_ref(fn):
    def ref(x, dim, dtype=None):
        if np.ndim(x) == 0:
            return x.copy()
        return fn(x, axis=dim)
    return ref


_add(OpInfo("cumsum", ref=_scan_ref(np.cumsum), samples=_scan_samples, dtypes=D.ALL, method="cumsum",
            inplace="cumsum_", inplace_dtypes=D.ALL_BUT_BOOL, result_dtype=_with_dtype_kwarg(integer_to_int64),
            tol={"float16": (1e-2, 4e-3), "bfloat16": (2e-2, 4e-2)}))


def _cumprod_samples(mk):
    def make(*shape):
        if mk.is_float:
            return (mk(*shape, low=0.5, high=1.5) * np.where(mk.mask(*shape), 1, -1)).astype(mk.np_dtype)
        return mk(*shape, low=-2, high=3)
    yield from _scan_samples(mk, make)
    if mk.is_float:
        x = make(3, 4)
        x[1, 1] = 0
        yield S(x, 1, desc="with_zero")


_add(OpInfo("cumprod", ref=_scan_ref(np.cumprod), samples=_cumprod_samples, dtypes=D.ALL, method="cumprod",
            inplace="cumprod_", inplace_dtypes=D.ALL_BUT_BOOL, result_dtype=_with_dtype_kwarg(integer_to_int64),
            tol={"bfloat16": (3e-2, 2e-2)}))


# ---------------------------------------------------------------- softmax family
def _softmax_ref(x, dim, dtype=None, log=False):
    with np.errstate(all="ignore"):
        if np.ndim(x) == 0:
            return np.asarray(0.0 if log else 1.0)
        m = np.max(x, axis=dim, keepdims=True) if x.size else 0.0
        m = np.where(np.isinf(m), 0.0, m)
        shifted = x - m
        total = np.sum(np.exp(shifted), axis=dim, keepdims=True)
        return shifted - np.log(total) if log else np.exp(shifted) / total


def _softmax_samples(mk):
    yield S(mk(3, 4), 1, desc="dim1")
    yield S(mk(2, 3, 4), -1, desc="dimneg1")
    yield S(mk(2, 3, 4), 0, desc="dim0")
    yield S(mk(), 0, desc="0d")
    yield S(mk(4, 3), 0, desc="transposed", layout=TRANSPOSED)
    yield S(mk(3, 5), 1, desc="strided", layout=STRIDED)
    yield S(mk(0, 3), 1, desc="empty")
    yield S((mk(3, 4, low=-2, high=2).astype(np.float64) + 80).astype(mk.np_dtype), 1, desc="large_values")
    x = mk(3, 4)
    x[:, 1] = -np.inf
    yield S(x, 1, desc="masked_neginf", grad=False)
    if mk.dtype in ("float16", "bfloat16"):
        import ember
        yield S(mk(3, 4), 1, desc="dtype_float32", kwargs=dict(dtype=ember.float32))


_add(OpInfo("softmax", ref=_softmax_ref, samples=_softmax_samples, dtypes=D.FLOATS, method="softmax",
            result_dtype=_with_dtype_kwarg(same)))
_add(OpInfo("log_softmax", ref=lambda x, dim, dtype=None: _softmax_ref(x, dim, log=True), samples=_softmax_samples,
            dtypes=D.FLOATS, method="log_softmax", result_dtype=_with_dtype_kwarg(same),
            tol={"float16": (1e-2, 1e-2), "bfloat16": (2e-2, 4e-2)}))
