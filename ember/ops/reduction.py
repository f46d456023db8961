"""Reductions and scans over dims, plus softmax/log_softmax (composites a backend may fuse)."""
from __future__ import annotations

import builtins
import math
from collections import namedtuple

from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.call import call
from ember.core.tensor import Tensor
from ember.dispatch.meta import normalize_dim, normalize_dims
from ember.dispatch.ops import OPS
from ember.dispatch.table import DECOMPOSE, resolve
from ember.ops.creation import _resolve_dtype, cast
from ember.ops import elementwise as ew
from ember.ops.public import public

# PyTorch's torch.return_types: named pairs
values_indices = namedtuple("values_indices", ["values", "indices"])
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])
aminmax_result = namedtuple("aminmax", ["min", "max"])


def _dims(input, dim):
    return normalize_dims(dim, input.ndim)


def _check_nonempty(input, dims, name):
    for d in dims or range(input.ndim):
        if input._data.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    if not input.ndim and input.numel() == 0:
        raise IndexError(f"{name}(): Expected reduction over a non-empty tensor.")


@public(method=True)
def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    out = call(OPS["sum"], input, dims=_dims(input, dim), keepdim=keepdim)
    return out if dtype is None else cast(out, _resolve_dtype(dtype))  # integers: keep the asked dtype


@public(method=True)
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    return sum(ew.where(ew.isnan(input), 0, input), dim, keepdim, dtype=dtype)


@public(method=True)
def prod(input, dim=None, keepdim=False, *, dtype=None, out=None):
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    dims = () if dim is None else (normalize_dim(dim, input.ndim),)
    if input.ndim == 0:
        dims = ()
    return call(OPS["prod"], input, dims=dims, keepdim=keepdim)


@public(method=True)
def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    if input.dtype.category != dt.FLOAT:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating "
                           f"point or complex dtype. Got: {input.dtype.name}")
    dims = _dims(input, dim)
    count = 1
    for d in dims:
        count *= input._data.shape[d]
    total = call(OPS["sum"], input, dims=dims, keepdim=keepdim)
    return ew.div(total, count) if count else ew.mul(total, float("nan"))


@public(method=True)
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    keep = ew.logical_not(ew.isnan(input))
    return ew.div(nansum(input, dim, keepdim, dtype=dtype), sum(keep, dim, keepdim))


@public(method=True)
def amax(input, dim=(), keepdim=False, *, out=None):
    dims = _dims(input, dim if dim != () else None)
    _check_nonempty(input, dims, "amax")
    return call(OPS["amax"], input, dims=dims, keepdim=keepdim)


@public(method=True)
def amin(input, dim=(), keepdim=False, *, out=None):
    dims = _dims(input, dim if dim != () else None)
    _check_nonempty(input, dims, "amin")
    return call(OPS["amin"], input, dims=dims, keepdim=keepdim)


@public(method=True)
def argmax(input, dim=None, keepdim=False):
    if dim is not None:
        dim = normalize_dim(dim, input.ndim)
        if input.ndim == 0:
            dim = None
    _check_nonempty(input, () if dim is None else (dim,), "argmax")
    return call(OPS["argmax"], input, dim=dim, keepdim=keepdim)


@public(method=True)
def argmin(input, dim=None, keepdim=False):
    if dim is not None:
        dim = normalize_dim(dim, input.ndim)
        if input.ndim == 0:
            dim = None
    _check_nonempty(input, () if dim is None else (dim,), "argmin")
    return call(OPS["argmin"], input, dim=dim, keepdim=keepdim)


def _extreme(input, dim, keepdim, other, name):
    if isinstance(dim, Tensor):  # max(input, other)
        other, dim = dim, None
    if other is not None:
        return ew.maximum(input, other) if name == "max" else ew.minimum(input, other)
    if dim is None:
        return (amax if name == "max" else amin)(input)
    values = (amax if name == "max" else amin)(input, dim, keepdim)
    indices = (argmax if name == "max" else argmin)(input, dim, keepdim)
    return (max_result if name == "max" else min_result)(values, indices)


@public(method=True)
def max(input, dim=None, keepdim=False, *, other=None, out=None):
    return _extreme(input, dim, keepdim, other, "max")


@public(method=True)
def min(input, dim=None, keepdim=False, *, other=None, out=None):
    return _extreme(input, dim, keepdim, other, "min")


@public(method=True)
def aminmax(input, *, dim=None, keepdim=False):
    return aminmax_result(amin(input, () if dim is None else dim, keepdim),
                          amax(input, () if dim is None else dim, keepdim))


@public(method=True)
def all(input, dim=None, keepdim=False, *, out=None):
    result = call(OPS["all"], input, dims=_dims(input, dim), keepdim=keepdim)
    return cast(result, dt.uint8) if input.dtype is dt.uint8 else result  # PyTorch keeps uint8


@public(method=True)
def any(input, dim=None, keepdim=False, *, out=None):
    result = call(OPS["any"], input, dims=_dims(input, dim), keepdim=keepdim)
    return cast(result, dt.uint8) if input.dtype is dt.uint8 else result  # PyTorch keeps uint8


@public(method=True)
def count_nonzero(input, dim=None):
    return sum(ew.ne(input, 0), dim)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


@public(method=True)
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    if isinstance(dim, bool):  # legacy var(input, unbiased)
        unbiased, dim = dim, None
    if input.dtype.category != dt.FLOAT:
        raise RuntimeError(f"std and var only support floating point and complex dtypes, got {input.dtype.name}")
    dims = _dims(input, dim)
    n = 1
    for d in dims:
        n *= input._data.shape[d]
    centered = ew.sub(input, mean(input, dims, keepdim=True))
    squares = sum(ew.mul(centered, centered), dims, keepdim)
    return ew.div(squares, builtins.max(n - _correction(unbiased, correction), 0))


@public(method=True)
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    return ew.sqrt(var(input, dim, unbiased, keepdim, correction=correction))


@public
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


@public
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


@public(method=True)
def norm(input, p="fro", dim=None, keepdim=False, dtype=None, out=None):
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    if input.dtype.category != dt.FLOAT:
        raise RuntimeError(f"norm(): input dtype should be a floating point type, got {input.dtype.name}")
    if p in ("fro", 2, 2.0, None):
        return ew.sqrt(sum(ew.mul(input, input), dim, keepdim))
    if p == "nuc":
        raise RuntimeError("nuclear norm needs a singular value decomposition, which ember does not provide")
    a = ew.abs(input)
    if p == math.inf:
        return amax(a, () if dim is None else dim, keepdim)
    if p == -math.inf:
        return amin(a, () if dim is None else dim, keepdim)
    if p == 0:
        return cast(sum(ew.ne(input, 0), dim, keepdim), input.dtype)
    if p == 1:
        return sum(a, dim, keepdim)
    return ew.pow(sum(ew.pow(a, p), dim, keepdim), 1.0 / p)


@public(method=True)
def dist(input, other, p=2):
    return norm(ew.sub(input, other), p)


@public(method=True)
def logsumexp(input, dim, keepdim=False, *, out=None):
    input = ew._float_input(input)
    dims = _dims(input, dim)
    if input.numel() == 0:
        return ew.log(sum(ew.exp(input), dims, keepdim))
    with no_grad():
        shift = amax(input, dims, keepdim=True)
        shift = ew.where(ew.isinf(shift), 0.0, shift)
    total = sum(ew.exp(ew.sub(input, shift)), dims, keepdim=True)
    out = ew.add(ew.log(total), shift)
    return out if keepdim else _squeeze_dims(out, dims)


def _squeeze_dims(t, dims):
    shape = [s for i, s in enumerate(t._data.shape) if i not in dims]
    return t.view(tuple(shape))


@public(method=True, inplace=True)
def cumsum(input, dim, *, dtype=None, out=None):
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    out = call(OPS["cumsum"], input, dim=normalize_dim(dim, input.ndim) if input.ndim else 0)
    return out if dtype is None else cast(out, _resolve_dtype(dtype))


@public(method=True, inplace=True)
def cumprod(input, dim, *, dtype=None, out=None):
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    out = call(OPS["cumprod"], input, dim=normalize_dim(dim, input.ndim) if input.ndim else 0)
    return out if dtype is None else cast(out, _resolve_dtype(dtype))


# ---------------------------------------------------------------- softmax family
def run_composite(op, input, *others, **attrs):
    """Run a backend's fused override of the composite ``op`` if it has one, else its decomposition.

    ``input`` (a Tensor) picks the device; ``others`` are further arguments (Tensors or None).
    """
    kernel = op.resolved.get(input.device.type) or resolve(op, input.device.type)
    if kernel is DECOMPOSE:
        return op.decomposition(input, *others, **attrs)
    return call(op, input, *others, **attrs)


def _softmax_reference(input, *, dim):
    with no_grad():
        shift = amax(input, dim, keepdim=True)
        shift = ew.where(ew.isinf(shift), 0.0, shift)
    e = ew.exp(ew.sub(input, shift))
    return ew.div(e, sum(e, dim, keepdim=True))


def _log_softmax_reference(input, *, dim):
    with no_grad():
        shift = amax(input, dim, keepdim=True)
        shift = ew.where(ew.isinf(shift), 0.0, shift)
    shifted = ew.sub(input, shift)
    return ew.sub(shifted, ew.log(sum(ew.exp(shifted), dim, keepdim=True)))


def _layer_norm_reference(x, weight, bias, *, normalized_ndim, eps):
    """The ``layer_norm`` composite: ``(y, mean, rstd)``, the statistics over the last
    ``normalized_ndim`` dims, computed in float32 for half-precision inputs."""
    work = cast(x, dt.float32) if x.dtype in (dt.float16, dt.bfloat16) else x
    dims = tuple(range(x.ndim - normalized_ndim, x.ndim))
    average = mean(work, dims, keepdim=True)
    centered = ew.sub(work, average)
    rstd = ew.rsqrt(ew.add(mean(ew.mul(centered, centered), dims, keepdim=True), eps))
    y = ew.mul(centered, rstd)
    if weight is not None:
        y = ew.mul(y, weight)
    if bias is not None:
        y = ew.add(y, bias)
    lead = tuple(x.shape[:x.ndim - normalized_ndim])
    return cast(y, x.dtype), average.reshape(lead), rstd.reshape(lead)


OPS["softmax"].decomposition = _softmax_reference
OPS["layer_norm"].decomposition = _layer_norm_reference
OPS["log_softmax"].decomposition = _log_softmax_reference


def _softmax_args(input, dim, dtype, name):
    if dim is None:
        raise TypeError(f"{name}() requires an explicit dim (PyTorch's implicit choice is deprecated)")
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    return ew._float_input(input), normalize_dim(dim, input.ndim) if input.ndim else 0


@public(method=True)
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _softmax_args(input, dim, dtype, "softmax")
    return run_composite(OPS["softmax"], input, dim=dim)


@public(method=True)
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _softmax_args(input, dim, dtype, "log_softmax")
    return run_composite(OPS["log_softmax"], input, dim=dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return softmax(ew.neg(input), dim, dtype=dtype)
