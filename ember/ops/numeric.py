"""Numerical routines over existing ops: scans (cummax, cummin, logcumsumexp), differences and integrals
(diff, gradient, trapezoid), order statistics (quantile, nanmedian, mode), counting (histc, histogram,
bincount, isin), statistics (cov, corrcoef) and products/distances (kron, addr, cdist, renorm).

Every function here is a composite of ember ops, so it runs and differentiates on every backend. The scans
use a log-step (Hillis-Steele) prefix scan: ``ceil(log2(n))`` rounds of elementwise ops over shifted
slices, instead of a per-element loop or an ``n x n`` comparison.
"""
from __future__ import annotations

import builtins
import math
import numbers
import warnings
from collections import namedtuple

from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.dispatch.meta import normalize_dim
from ember.dispatch.public_op import dispatch_point
from ember.ops import creation, linalg, reduction as red, shape as sh
from ember.ops import elementwise as ew
from ember.ops.creation import cast
from ember.ops.indexing import gather, median, sort
from ember.ops.out import _title
from ember.ops.public import public

# PyTorch's torch.return_types
cummax_result = namedtuple("cummax", ["values", "indices"])
cummin_result = namedtuple("cummin", ["values", "indices"])
mode_result = namedtuple("mode", ["values", "indices"])
nanmedian_result = namedtuple("nanmedian", ["values", "indices"])
histogram_result = namedtuple("histogram", ["hist", "bin_edges"])

_HALF = (dt.float16, dt.bfloat16)


def _g(value) -> str:
    """A number as PyTorch's messages print it (1, 2.5, inf)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _index_range(n, like):
    return creation.arange(n, dtype=dt.int64, device=like.device)


def _prefix_scan(values, combine, dim):
    """Inclusive prefix scan of the tuple of tensors ``values`` along ``dim``: ``combine(earlier, later)``
    merges two tuples elementwise and must be associative."""
    n = values[0]._data.shape[dim]
    step = 1
    while step < n:
        earlier = tuple(v.narrow(dim, 0, n - step) for v in values)
        later = tuple(v.narrow(dim, step, n - step) for v in values)
        merged = combine(earlier, later)
        values = tuple(sh.cat([v.narrow(dim, 0, step), m], dim) for v, m in zip(values, merged))
        step *= 2
    return values


# ---------------------------------------------------------------- cummax, cummin, logcumsumexp
def _cumulative_extreme(input, dim, largest, result, name):
    dim = normalize_dim(dim, input.ndim) if input.ndim else 0
    x = input.reshape(1) if input.ndim == 0 else input
    if x.numel() == 0:
        return result(input.clone(), creation.zeros(tuple(input.shape), dtype=dt.int64, device=input.device))
    floating = x.dtype.is_floating_point
    shape = [1] * x.ndim
    shape[dim] = x._data.shape[dim]
    with no_grad():
        index = _index_range(shape[dim], x).reshape(shape).expand(*x.shape)

        # The later element wins ties (PyTorch's x >= running max) and NaN wins over numbers.
        def combine(earlier, later):
            (v0, i0), (v1, i1) = earlier, later
            take = ew.ge(v1, v0) if largest else ew.le(v1, v0)
            if floating:
                take = ew.logical_or(take, ew.isnan(v1))
            return ew.where(take, v1, v0), ew.where(take, i1, i0)
        _, indices = _prefix_scan((x.detach(), index), combine, dim)
    values = gather(x, dim, indices)  # differentiable: the gradient goes to the chosen elements
    if input.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return result(values, indices)


@public(method=True, out=True)
def cummax(input, dim):
    """The running maximum of ``input`` along ``dim`` and where each running maximum is.

    Args:
        input: the tensor.
        dim: the dim to scan along.

    Returns:
        A namedtuple ``(values, indices)`` of tensors of ``input``'s shape: ``values[i]`` is the largest of
        elements ``0..i`` (NaN once a NaN is seen), ``indices[i]`` its int64 position (the latest on a tie).
    """
    return _cumulative_extreme(input, dim, True, cummax_result, "cummax")


@public(method=True, out=True)
def cummin(input, dim):
    """The running minimum of ``input`` along ``dim`` and where each running minimum is.

    Args:
        input: the tensor.
        dim: the dim to scan along.

    Returns:
        A namedtuple ``(values, indices)`` of tensors of ``input``'s shape: ``values[i]`` is the smallest of
        elements ``0..i`` (NaN once a NaN is seen), ``indices[i]`` its int64 position (the latest on a tie).
    """
    return _cumulative_extreme(input, dim, False, cummin_result, "cummin")


def _logaddexp(a, b):
    """``log(exp(a) + exp(b))`` without overflow; the shift is a constant for autograd."""
    with no_grad():
        shift = ew.maximum(a, b)
        shift = ew.where(ew.isfinite(shift), shift, 0.0)
    return ew.add(ew.log(ew.add(ew.exp(ew.sub(a, shift)), ew.exp(ew.sub(b, shift)))), shift)


@public(method=True, out=True)
def logcumsumexp(input, dim):
    """The logarithm of the running sum of ``exp(input)`` along ``dim``, computed without overflow.

    Args:
        input: a floating-point tensor.
        dim: the dim to scan along.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        NotImplementedError: ``input`` is not floating point, as in PyTorch.
    """
    if not input.dtype.is_floating_point:
        raise ew._not_implemented(f"logcumsumexp_out_{input.device.type}", input.dtype)
    dim = normalize_dim(dim, input.ndim) if input.ndim else 0
    x = input.reshape(1) if input.ndim == 0 else input
    work = cast(x, dt.float32) if x.dtype in _HALF else x
    if work.numel():
        (work,) = _prefix_scan((work,), lambda e, l: (_logaddexp(e[0], l[0]),), dim)
    out = cast(work, input.dtype)
    return out.reshape(()) if input.ndim == 0 else out


# ---------------------------------------------------------------- differences and integrals
@public(method=True, out=True)
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The ``n``-th forward difference of ``input`` along ``dim``: ``out[i] = input[i + 1] - input[i]``, repeated.

    Args:
        input: a tensor of at least one dim (bool tensors take the exclusive or).
        n: how many times to difference (0 gives ``input`` back).
        dim: the dim (default: the last).
        prepend: a tensor put before ``input`` along ``dim`` first (same number of dims, same other sizes).
        append: a tensor put after ``input`` along ``dim`` first.

    Returns:
        A tensor whose ``dim`` is ``n`` shorter than that of the joined input (never below 0).

    Raises:
        RuntimeError: ``input`` is 0-d, ``n`` is negative, or ``prepend``/``append`` do not fit.
    """
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    dim = normalize_dim(dim, input.ndim)
    parts = []
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            continue
        if not isinstance(extra, Tensor):
            raise TypeError(f"diff(): argument '{name}' must be Tensor, not {type(extra).__name__}")
        if extra.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        for d in range(input.ndim):
            if d != dim and extra._data.shape[d] != input._data.shape[d]:
                raise RuntimeError(f"diff expects the shape of tensor to prepend or append to match that of input "
                                   f"except along the differencing dimension; input.size({d}) = "
                                   f"{input._data.shape[d]}, but got tensor.size({d}) = {extra._data.shape[d]}")
    x = input
    if prepend is not None or append is not None:
        x = sh.cat([t for t in (prepend, input, append) if t is not None], dim)
    for _ in range(n):
        size = x._data.shape[dim]
        if size == 0:
            break
        later, earlier = x.narrow(dim, 1, size - 1), x.narrow(dim, 0, size - 1)
        x = ew.logical_xor(later, earlier) if x.dtype is dt.bool_ else ew.sub(later, earlier)
    return x.clone() if x is input else x


def _check_dx_args(name, x, dx):
    if x is not None and not isinstance(x, Tensor):
        raise TypeError(f"{name}() received an invalid combination of arguments - got (Tensor, "
                        f"{type(x).__name__}): ``x`` must be a Tensor (give a number as dx=)")
    if x is not None and dx is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got (Tensor, Tensor, dx=...): "
                        f"give either the sample points x or the spacing dx, not both")


def _trapezoid_terms(y, x, dx, dim, name):
    """``(y[i + 1] + y[i]) * spacing_i`` along ``dim``, and ``dim`` normalized (twice the trapezoid areas)."""
    if y.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    dim = normalize_dim(dim, y.ndim)
    size = y._data.shape[dim]
    if size == 0:
        return None, dim
    pair_sum = ew.add(y.narrow(dim, 1, size - 1), y.narrow(dim, 0, size - 1))
    if x is None:
        return ew.mul(pair_sum, 1 if dx is None else dx), dim
    if x.ndim == 1:
        if x._data.shape[0] != size:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        shape = [1] * y.ndim
        shape[dim] = size - 1
        return ew.mul(pair_sum, diff(x).reshape(shape)), dim
    return ew.mul(pair_sum, diff(x, dim=dim - y.ndim)), dim


@public(aliases=("trapz",))
def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The integral of ``y`` along ``dim`` by the trapezoidal rule.

    Args:
        y: the sampled values.
        x: the sample points: a 1-d tensor of ``y.shape[dim]`` points, or a tensor broadcasting with ``y``;
            not given, the points are ``dx`` apart.
        dx: the spacing of evenly spaced points (default 1); not with ``x``.
        dim: the dim to integrate along (default: the last).

    Returns:
        A floating-point tensor with ``dim`` removed (0 where ``dim`` has fewer than two points).

    Raises:
        TypeError: both ``x`` and ``dx`` are given, or ``x`` is not a tensor.
        RuntimeError: a 1-d ``x`` does not have one point per sample.
        IndexError: ``y`` is 0-d or ``dim`` is out of range.
    """
    _check_dx_args("trapezoid", x, dx)
    terms, dim = _trapezoid_terms(y, x, dx, dim, "trapezoid")
    if terms is None:
        empty_shape = tuple(s for d, s in enumerate(y.shape) if d != dim)
        dtype = y.dtype if y.dtype.is_floating_point else dt.get_default_dtype()
        return creation.zeros(empty_shape, dtype=dtype, device=y.device)
    return ew.div(red.sum(terms, dim), 2)


@public
def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running integral of ``y`` along ``dim`` by the trapezoidal rule.

    Args:
        y: the sampled values.
        x: the sample points (as for ``trapezoid``); not given, the points are ``dx`` apart.
        dx: the spacing of evenly spaced points (default 1); not with ``x``.
        dim: the dim to integrate along (default: the last).

    Returns:
        A floating-point tensor with ``dim`` one shorter than ``y``'s: element ``i`` integrates points
        ``0..i + 1``.

    Raises:
        TypeError: both ``x`` and ``dx`` are given, or ``x`` is not a tensor.
        RuntimeError: a 1-d ``x`` does not have one point per sample.
        IndexError: ``y`` is 0-d or ``dim`` is out of range.
    """
    _check_dx_args("cumulative_trapezoid", x, dx)
    if y.ndim == 0:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    terms, dim = _trapezoid_terms(y, x, dx, dim, "cumulative_trapezoid")
    if terms is None:
        dtype = y.dtype if y.dtype.is_floating_point else dt.get_default_dtype()
        return creation.zeros(tuple(y.shape), dtype=dtype, device=y.device)
    return ew.div(red.cumsum(terms, dim), 2)


def _gradient_dims(input, dim):
    if dim is None:
        return list(range(input.ndim)), False
    dims = [dim] if isinstance(dim, int) else list(dim)
    return [normalize_dim(d, input.ndim) for d in dims], True


def _is_number(value):
    return isinstance(value, numbers.Number) or (isinstance(value, Tensor) and value.ndim == 0)


@public
def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimates the derivative of ``input`` along each of ``dim`` by central differences (one-sided at the edges).

    Args:
        input: the sampled values (integers are computed in the default float dtype).
        spacing: a number (the distance between samples, every dim), a list of numbers (one per dim), or a
            list of 1-d tensors (the sample coordinates along each dim).
        dim: an int or list of ints (default: every dim).
        edge_order: 1 or 2, the accuracy of the one-sided differences at the edges.

    Returns:
        A tuple with one tensor of ``input``'s shape per dim.

    Raises:
        RuntimeError: ``edge_order`` is not 1 or 2, a dim has fewer than ``edge_order + 1`` samples, or the
            spacing list does not have one entry per dim.
    """
    dims, given = _gradient_dims(input, dim)
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    if _is_number(spacing):
        spacings = [spacing] * len(dims)
    else:
        spacings = list(spacing)
        if len(spacings) != len(dims):
            what = f"'len(dim) = {len(dims)}', since dim argument was given" if given else \
                f"'self.dim() = {input.ndim}', since dim argument was not given"
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, or a list of length "
                               f"equal to {what}, but got a list of length {len(spacings)}")
    for d in dims:
        if input._data.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    f = input if input.dtype.is_floating_point else cast(input, dt.get_default_dtype())
    return tuple(_gradient_along(f, d, h, edge_order) for d, h in zip(dims, spacings))


def _gradient_along(f, dim, h, edge_order):
    n = f._data.shape[dim]

    def at(start, length=1):
        return f.narrow(dim, start, length)
    if isinstance(h, Tensor) and h.ndim == 1:
        if h._data.shape[0] != n:
            raise RuntimeError(f"torch.gradient expected each tensor to be on the same device and of the size of "
                               f"the dimension it differentiates along: got {h._data.shape[0]} coordinates for a "
                               f"dimension of size {n}")
        return _gradient_coordinates(f, dim, cast(h, f.dtype) if not h.dtype.is_floating_point else h, edge_order)
    if isinstance(h, Tensor):
        h = h.item()
    inner = ew.div(ew.sub(at(2, n - 2), at(0, n - 2)), 2 * h)
    if edge_order == 1:
        first = ew.div(ew.sub(at(1), at(0)), h)
        last = ew.div(ew.sub(at(n - 1), at(n - 2)), h)
    else:
        first = ew.div(ew.add(ew.add(ew.mul(at(0), -1.5), ew.mul(at(1), 2.0)), ew.mul(at(2), -0.5)), h)
        last = ew.div(ew.add(ew.add(ew.mul(at(n - 3), 0.5), ew.mul(at(n - 2), -2.0)), ew.mul(at(n - 1), 1.5)), h)
    return sh.cat([first, inner, last], dim)


def _gradient_coordinates(f, dim, x, edge_order):
    """Second-order accurate differences for samples at the coordinates ``x`` (numpy's formulas)."""
    n = f._data.shape[dim]
    shape = [1] * f.ndim

    def along(t):
        s = list(shape)
        s[dim] = t._data.shape[0]
        return t.reshape(s)

    def at(start, length=1):
        return f.narrow(dim, start, length)
    dx = diff(x)
    d1, d2 = along(dx.narrow(0, 0, n - 2)), along(dx.narrow(0, 1, n - 2))
    a = ew.div(ew.neg(d2), ew.mul(d1, ew.add(d1, d2)))
    b = ew.div(ew.sub(d2, d1), ew.mul(d1, d2))
    c = ew.div(d1, ew.mul(d2, ew.add(d1, d2)))
    inner = ew.add(ew.add(ew.mul(a, at(0, n - 2)), ew.mul(b, at(1, n - 2))), ew.mul(c, at(2, n - 2)))
    if edge_order == 1:
        first = ew.div(ew.sub(at(1), at(0)), along(dx.narrow(0, 0, 1)))
        last = ew.div(ew.sub(at(n - 1), at(n - 2)), along(dx.narrow(0, n - 2, 1)))
    else:
        h1, h2 = along(dx.narrow(0, 0, 1)), along(dx.narrow(0, 1, 1))
        s = ew.add(h1, h2)
        first = ew.add(ew.add(ew.mul(ew.div(ew.neg(ew.add(ew.mul(h1, 2.0), h2)), ew.mul(h1, s)), at(0)),
                              ew.mul(ew.div(s, ew.mul(h1, h2)), at(1))),
                       ew.mul(ew.div(ew.neg(h1), ew.mul(h2, s)), at(2)))
        h1, h2 = along(dx.narrow(0, n - 3, 1)), along(dx.narrow(0, n - 2, 1))
        s = ew.add(h1, h2)
        last = ew.add(ew.add(ew.mul(ew.div(h2, ew.mul(h1, s)), at(n - 3)),
                             ew.mul(ew.div(ew.neg(s), ew.mul(h1, h2)), at(n - 2))),
                      ew.mul(ew.div(ew.add(ew.mul(h2, 2.0), h1), ew.mul(h2, s)), at(n - 1)))
    return sh.cat([first, inner, last], dim)


# ---------------------------------------------------------------- order statistics
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, name):
    if input.dtype not in (dt.float32, dt.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q.dtype is not input.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        if q.numel() and not bool(ew.logical_and(ew.ge(q, 0), ew.le(q, 1)).all()):
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
        q_scalar = q.ndim == 0
        qs = q.reshape(-1)
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {_g(q)}")
        q_scalar = True
        qs = creation.full((1,), float(q), dtype=input.dtype, device=input.device)
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    if dim is None:
        x, out_shape = input.reshape(-1), ((1,) * input.ndim if keepdim else ())
    else:
        d = normalize_dim(dim, input.ndim) if input.ndim else 0
        x = input.reshape(1) if input.ndim == 0 else sh.movedim(input, d, -1)
        out_shape = tuple(1 if i == d else s for i, s in enumerate(input.shape)) if keepdim else \
            tuple(s for i, s in enumerate(input.shape) if i != d)
    x = x.reshape(-1, x._data.shape[-1])                  # (rows, n): NaN sorts last
    n = x._data.shape[-1]
    ordered = sort(x, -1).values
    with no_grad():
        nans = ew.isnan(ordered)
        if ignore_nan:
            count = red.sum(ew.logical_not(nans), -1, keepdim=True)   # (rows, 1)
            last = ew.sub(cast(count, input.dtype), 1)
        else:
            last = creation.full((1, 1), float(n - 1), dtype=input.dtype, device=input.device)
    exact_ranks = ew.clamp(ew.mul(qs.reshape(1, -1), last), min=0)  # differentiable in q
    exact_ranks = exact_ranks.expand(x._data.shape[0], qs._data.shape[0])  # (rows, Q)
    with no_grad():
        ranks = exact_ranks.detach()
        if interpolation == "nearest":
            ranks = ew.round(ranks)  # ties to even, as torch.round
        below, above = ew.floor(ranks), ew.ceil(ranks)
        if interpolation == "lower":
            above = below
        elif interpolation == "higher":
            below = above
        hi = n - 1
        below_i = cast(ew.clamp(below, max=hi), dt.int64)
        above_i = cast(ew.clamp(above, max=hi), dt.int64)
        missing = ew.isnan(ordered.narrow(1, n - 1, 1)) if not ignore_nan else ew.eq(count, 0)
    weights = ew.sub(exact_ranks, below) if interpolation == "linear" else \
        creation.full(tuple(ranks.shape), 0.5, dtype=input.dtype, device=input.device)
    lo_v, hi_v = gather(ordered, 1, below_i), gather(ordered, 1, above_i)
    values = lo_v if interpolation in ("lower", "higher", "nearest") else ew.lerp(lo_v, hi_v, weights)
    values = ew.where(missing, float("nan"), values)      # (rows, Q)
    values = values.reshape(out_shape + (qs._data.shape[0],))
    return values.reshape(out_shape) if q_scalar else sh.movedim(values, -1, 0)


@public(method=True, out=True)
@dispatch_point("quantile")
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-th quantiles of ``input``, over all its elements or along ``dim``.

    Args:
        input: a float32 or float64 tensor.
        q: a number in [0, 1], or a 0-d or 1-d tensor of them in ``input``'s dtype.
        dim: the dim to reduce (default: all elements, flattened).
        keepdim: keep the reduced dim(s) as size 1.
        interpolation: how a quantile between two elements is taken: ``"linear"``, ``"lower"``,
            ``"higher"``, ``"midpoint"`` or ``"nearest"`` (ties to even).

    Returns:
        A tensor of the reduced shape; a 1-d ``q`` adds a leading dim with one entry per quantile. A slice
        holding NaN gives NaN.

    Raises:
        RuntimeError: ``input`` is empty or not float32/float64, ``q`` is out of [0, 1], has another dtype or
            more than one dim, or ``interpolation`` is unknown.
    """
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


@public(method=True, out=True)
@dispatch_point("nanquantile")
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` ignoring NaN: the quantiles of the non-NaN elements of each slice.

    Args:
        input: a float32 or float64 tensor.
        q: a number in [0, 1], or a 0-d or 1-d tensor of them in ``input``'s dtype.
        dim: the dim to reduce (default: all elements, flattened).
        keepdim: keep the reduced dim(s) as size 1.
        interpolation: ``"linear"``, ``"lower"``, ``"higher"``, ``"midpoint"`` or ``"nearest"``.

    Returns:
        A tensor as for ``quantile``; NaN where a slice holds only NaN.

    Raises:
        RuntimeError: as for ``quantile``.
    """
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


@public(method=True, out=True)
def nanmedian(input, dim=None, keepdim=False):
    """The median of the non-NaN elements of ``input``, over all of them or along ``dim``.

    For an even count the lower of the two middle values is taken, as in ``median``.

    Args:
        input: the tensor.
        dim: the dim to reduce; ``None`` (the default) takes all elements.
        keepdim: with ``dim``, keep it as size 1.

    Returns:
        Without ``dim``, a 0-d tensor (NaN when every element is NaN or there are none; the smallest integer for
        an empty integer tensor). With ``dim``, a namedtuple ``nanmedian(values, indices)``; a slice of only
        NaN gives NaN with index 0 (PyTorch gives the index of one of its NaNs, which one depending on its
        selection algorithm).

    Raises:
        IndexError: ``dim`` is out of range or of size 0.
        NotImplementedError: ``input`` is a bool tensor.
    """
    if input.dtype is dt.bool_:
        raise ew._not_implemented(f"median_{input.device.type}", input.dtype)
    if not input.dtype.is_floating_point:
        out = median(input, dim, keepdim)
        return out if dim is None else nanmedian_result(*out)
    if dim is None:
        if input.numel() == 0:
            return creation.full((), float("nan"), dtype=input.dtype, device=input.device)
        flat = input.reshape(-1)
        ordered = sort(flat, 0, stable=True).values          # NaN last
        count = red.sum(ew.logical_not(ew.isnan(flat)), None)
        at = ew.clamp(ew.floor_divide(ew.sub(count, 1), 2), min=0).reshape(1)
        return gather(ordered, 0, at).reshape(())
    d = normalize_dim(dim, input.ndim) if input.ndim else 0
    if input.ndim == 0:
        return nanmedian_result(input.clone(), creation.zeros((), dtype=dt.int64, device=input.device))
    if input._data.shape[d] == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    values, indices = sort(input, d, stable=True)
    count = red.sum(ew.logical_not(ew.isnan(input)), d, keepdim=True)
    at = ew.clamp(ew.floor_divide(ew.sub(count, 1), 2), min=0)
    v, i = gather(values, d, at), gather(indices, d, at)
    if not keepdim:
        v, i = v.squeeze(d), i.squeeze(d)
    return nanmedian_result(v, i)


@public(method=True, out=True)
def mode(input, dim=-1, keepdim=False):
    """The most frequent value of each slice of ``input`` along ``dim``, and where it occurs.

    Among equally frequent values the smallest is taken, and its index is that of its last occurrence, as in
    PyTorch.

    Args:
        input: the tensor.
        dim: the dim to reduce (default: the last).
        keepdim: keep ``dim`` as size 1.

    Returns:
        A namedtuple ``mode(values, indices)``: the modes and their int64 positions along ``dim``.

    Raises:
        IndexError: ``dim`` is out of range or of size 0 in a non-empty tensor.
    """
    d = normalize_dim(dim, input.ndim) if input.ndim else 0
    if input.ndim == 0:
        return mode_result(input.clone(), creation.zeros((), dtype=dt.int64, device=input.device))
    n = input._data.shape[d]
    if n == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    kept = tuple(1 if i == d else s for i, s in enumerate(input.shape))
    if input.numel() == 0:
        shape = kept if keepdim else tuple(s for i, s in enumerate(input.shape) if i != d)
        return mode_result(creation.zeros(shape, dtype=input.dtype, device=input.device),
                           creation.zeros(shape, dtype=dt.int64, device=input.device))
    x = sh.movedim(input, d, -1)
    with no_grad():
        plain = x.detach()
        ordered = sort(plain, -1).values
        same = ew.eq(ordered.narrow(-1, 1, n - 1), ordered.narrow(-1, 0, n - 1))
        if ordered.dtype.is_floating_point:  # NaNs count as one value
            same = ew.logical_or(same, ew.logical_and(ew.isnan(ordered.narrow(-1, 1, n - 1)),
                                                      ew.isnan(ordered.narrow(-1, 0, n - 1))))
        position = _index_range(n, x).expand(*ordered.shape)
        starts = ew.where(sh.cat([creation.zeros(tuple(same.shape[:-1]) + (1,), dtype=dt.bool_,
                                                 device=x.device), same], -1), 0, position)
        (run_start,) = _prefix_scan((starts,), lambda e, l: (ew.maximum(e[0], l[0]),), ordered.ndim - 1)
        run_length = ew.add(ew.sub(position, run_start), 1)
        longest = red.amax(run_length, -1, keepdim=True)
        # the first run (in sorted order) of the longest length is the smallest of the most frequent values
        best = red.argmax(cast(ew.eq(run_length, longest), dt.uint8), -1, keepdim=True)
        value = gather(ordered, -1, best)
        matches = ew.eq(plain, value)
        if plain.dtype.is_floating_point:
            matches = ew.logical_or(matches, ew.logical_and(ew.isnan(plain), ew.isnan(value)))
        index = red.amax(ew.where(matches, position, -1), -1, keepdim=True)
    values = gather(x, -1, index)
    values, index = sh.movedim(values, -1, d), sh.movedim(index, -1, d)
    if not keepdim:
        values, index = values.squeeze(d), index.squeeze(d)
    return mode_result(values, index)


# ---------------------------------------------------------------- counting
def _uniform_bin_index(x, low, high, bins, edges):
    """The bin of each element of ``x`` among ``bins`` equal bins over [low, high] (the last one closed) and
    whether it falls in at all: computed arithmetically, then corrected against ``edges`` where rounding put
    an element next to its bin (PyTorch's and numpy's method)."""
    inside = ew.logical_and(ew.ge(x, low), ew.le(x, high))
    position = ew.floor(ew.mul(ew.sub(x, low), bins / (high - low)))
    position = ew.where(inside, position, 0)
    index = cast(ew.clamp(position, min=0, max=bins - 1), dt.int64)
    index = ew.sub(index, cast(ew.lt(x, gather(edges, 0, index.reshape(-1)).reshape(index.shape)), dt.int64))
    index = ew.clamp(index, min=0)
    above = gather(edges, 0, ew.add(index, 1).reshape(-1)).reshape(index.shape)
    index = ew.add(index, cast(ew.logical_and(ew.ge(x, above), ew.lt(index, bins - 1)), dt.int64))
    return index, inside


def _edge_bin_index(x, edges):
    """The bin of each element of ``x`` between consecutive ``edges`` (the last bin closed) and whether it
    falls in at all."""
    from ember.ops.indexing import searchsorted
    bins = edges._data.shape[0] - 1
    inside = ew.logical_and(ew.ge(x, edges[0]), ew.le(x, edges[-1]))
    index = ew.sub(searchsorted(edges, x, right=True), 1)
    return ew.clamp(index, min=0, max=builtins.max(bins - 1, 0)), inside


def _count_into(bins, index, inside, weight, dtype, device):
    amounts = cast(inside, dtype) if weight is None else ew.where(inside, weight, 0)
    return creation.zeros((bins,), dtype=dtype, device=device).index_add(0, index.reshape(-1),
                                                                         cast(amounts, dtype).reshape(-1))


def _data_range(input):
    if input.numel() == 0:
        return 0.0, 0.0
    with no_grad():
        return float(red.amin(input)), float(red.amax(input))


@public(method=True, out=True)
def histc(input, bins=100, min=0, max=0):
    """A histogram of ``input``: ``bins`` equal-width bins over [min, max], counting the elements in each.

    Elements outside [min, max] are not counted; an element equal to ``max`` goes in the last bin. With
    ``min == max`` the range is that of the data (widened by 1 each side when the data are all equal).

    Args:
        input: a floating-point tensor (any shape, flattened).
        bins: the number of bins.
        min: the lower end of the range.
        max: the upper end of the range.

    Returns:
        A 1-d tensor of ``bins`` counts, in ``input``'s dtype.

    Raises:
        RuntimeError: ``bins`` is not positive, ``min > max`` or the range is not finite.
        NotImplementedError: ``input`` is not floating point.
    """
    if not input.dtype.is_floating_point:
        raise ew._not_implemented(f"histogram_{input.device.type}", input.dtype)
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    low, high = float(min), float(max)
    if low == high and input.numel():
        low, high = _data_range(input)
    if low == high:
        low, high = low - 1, high + 1
    if low > high:
        raise RuntimeError("torch.histc: max must be larger than min")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise RuntimeError(f"torch.histc: range of [{_g(low)}, {_g(high)}] is not finite")
    x = input.detach().reshape(-1)
    work = cast(x, dt.float32) if x.dtype in _HALF else x
    edges = creation.linspace(low, high, bins + 1, dtype=work.dtype, device=input.device)
    index, inside = _uniform_bin_index(work, low, high, bins, edges)
    return cast(_count_into(bins, index, inside, None, work.dtype, input.device), input.dtype)


@public(method=True, out=True)
def histogram(input, bins, *, range=None, weight=None, density=False):
    """A histogram of ``input`` with given or equal-width bins, and the bin edges.

    Args:
        input: a float32 or float64 tensor (any shape, flattened).
        bins: the number of equal-width bins, or a 1-d tensor of increasing bin edges (``input``'s dtype).
        range: ``(min, max)``, the span of equal-width bins (default: the data's; widened by 0.5 each side
            when the data are all equal).
        weight: a tensor of ``input``'s shape and dtype: each element counts its weight instead of 1.
        density: divide the counts so that the histogram integrates to 1 over the bins.

    Returns:
        A namedtuple ``histogram(hist, bin_edges)``: the counts (``input``'s dtype) and the ``bins + 1`` edges.
        Elements outside the edges are not counted; the last bin includes its right edge.

    Raises:
        RuntimeError: ``bins`` is not positive, the range is reversed or not finite, or ``bins``/``weight``
            do not match ``input``.
        NotImplementedError: ``input`` is not float32 or float64.
    """
    if input.dtype not in (dt.float32, dt.float64):
        raise ew._not_implemented("histogramdd", input.dtype)
    if weight is not None and (weight.dtype is not input.dtype or tuple(weight.shape) != tuple(input.shape)):
        raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have the same shape "
                           f"{list(input.shape)} and dtype {input.dtype.name} as the input tensor, but got "
                           f"{list(weight.shape)} and {weight.dtype.name}")
    x = input.detach().reshape(-1)
    w = None if weight is None else weight.reshape(-1)
    if isinstance(bins, Tensor):
        if bins.dtype is not input.dtype:
            raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, but "
                               f"got input with dtype {_title(input.dtype).lower()} and bins for dimension 0 with "
                               f"dtype {_title(bins.dtype).lower()}")
        if bins.ndim != 1 or bins.numel() < 1:
            raise RuntimeError(f"torch.histogramdd: bins tensor should have one dimension and at least 1 element, "
                               f"but got {bins.ndim} dimensions and {bins.numel()} elements for dimension 0")
        edges = bins
        index, inside = _edge_bin_index(x, edges)
    else:
        if bins <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
        if range is not None:
            low, high = float(range[0]), float(range[1])
            if low > high:
                raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {_g(low)} max "
                                   f"{_g(high)} for dimension 0")
        elif x.numel():
            low, high = _data_range(x)
        else:
            low, high = 0.0, 1.0
        if not (math.isfinite(low) and math.isfinite(high)):
            raise RuntimeError(f"torch.histogramdd: dimension 0's range [{_g(low)}, {_g(high)}] is not finite")
        if low == high:
            low, high = low - 0.5, high + 0.5
        edges = creation.linspace(low, high, bins + 1, dtype=input.dtype, device=input.device)
        index, inside = _uniform_bin_index(x, low, high, bins, edges)
    n_bins = edges._data.shape[0] - 1
    hist = _count_into(n_bins, index, inside, w, input.dtype, input.device)
    if density:
        widths = diff(edges)
        hist = ew.div(hist, ew.mul(red.sum(hist), widths))
    return histogram_result(hist, edges.clone() if edges is bins else edges)


@public(method=True)
def bincount(input, weights=None, minlength=0):
    """How often each non-negative integer occurs in ``input`` (or the sum of ``weights`` at its positions).

    Args:
        input: a 1-d tensor of non-negative integers.
        weights: a 1-d tensor of ``input``'s length: each occurrence adds its weight instead of 1.
        minlength: the least length of the result.

    Returns:
        A 1-d tensor of length ``max(max(input) + 1, minlength)``: int64 counts, or sums in float32 for float32
        weights and float64 for weights of any other dtype (float32 on a device without float64).

    Raises:
        RuntimeError: ``input`` is not 1-d or holds a negative value, ``minlength`` is negative, or ``weights``
            do not match ``input``.
        NotImplementedError: ``input`` is not of an integer dtype.
    """
    if input.dtype.is_floating_point or input.dtype is dt.bool_:
        raise ew._not_implemented(f"bincount_{input.device.type}", input.dtype)
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if input.ndim != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.ndim != 1 or weights._data.shape[0] != input._data.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    largest = int(red.amax(input)) if input.numel() else -1
    if input.numel() and int(red.amin(input)) < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    length = builtins.max(largest + 1, minlength)
    if weights is None:
        dtype, amounts = dt.int64, creation.ones(input._data.shape, dtype=dt.int64, device=input.device)
    else:
        dtype = dt.float32 if weights.dtype is dt.float32 else creation._widest_float(input.device)
        amounts = cast(weights, dtype)
    return creation.zeros((length,), dtype=dtype, device=input.device).index_add(0, cast(input, dt.int64), amounts)


_ISIN_BLOCK = 1 << 22  # elements x test elements compared at once


@public(out=True)
def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` is among ``test_elements``.

    Args:
        elements: a tensor, or a number (then ``test_elements`` must be a tensor).
        test_elements: a tensor (any shape) or a number.
        assume_unique: accepted for PyTorch's signature (both inputs holding distinct values changes nothing
            in the result).
        invert: give whether each element is *not* among them.

    Returns:
        A bool tensor of ``elements``'s shape (0-d for a number). The values are compared in their promoted
        dtype; NaN is in nothing.

    Raises:
        TypeError: neither argument is a tensor.
        RuntimeError: an argument is a bool tensor.
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError(f"isin() received an invalid combination of arguments - got "
                        f"({type(elements).__name__}, {type(test_elements).__name__}): one of elements and "
                        f"test_elements must be a Tensor")
    for t in (elements, test_elements):
        if isinstance(t, Tensor) and t.dtype is dt.bool_ or isinstance(t, bool):
            raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    from ember.ops.promotion import result_type
    common = result_type(elements, test_elements)
    device = (elements if isinstance(elements, Tensor) else test_elements).device
    as_tensor = lambda v: cast(v, common) if isinstance(v, Tensor) else \
        creation.full((), v, dtype=common, device=device)  # noqa: E731
    e, t = as_tensor(elements), as_tensor(test_elements).reshape(-1)
    found = creation.zeros(tuple(e.shape), dtype=dt.bool_, device=device)
    m = t._data.shape[0]
    block = builtins.max(1, _ISIN_BLOCK // builtins.max(e.numel(), 1))
    for start in builtins.range(0, m, block):  # bounded memory for large inputs
        part = t.narrow(0, start, builtins.min(block, m - start))
        found = ew.logical_or(found, red.any(ew.eq(e.unsqueeze(-1), part), -1))
    return ew.logical_not(found) if invert else found


# ---------------------------------------------------------------- statistics
@public(method=True)
def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``input`` (observations in the columns).

    Args:
        input: a 0-d, 1-d (one variable) or 2-d tensor; integers are computed in the default float dtype.
        correction: subtracted from the number of observations in the divisor (1: the unbiased estimate).
        fweights: a 1-d integer tensor of how many times each observation occurs.
        aweights: a 1-d floating-point tensor of weights of the observations.

    Returns:
        The ``(n, n)`` covariances of ``n`` variables, squeezed (a 0-d tensor for one variable).
        Where the degrees of freedom are not positive a UserWarning is given and the result is inf or NaN.

    Raises:
        RuntimeError: ``input`` has more than 2 dims or is bool, or the weights have the wrong dtype, shape
            or a negative value.
    """
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.ndim} dimensions")
    if input.dtype is dt.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    if isinstance(correction, float) or isinstance(correction, bool):
        raise TypeError(f"cov(): argument 'correction' must be int, not {type(correction).__name__}")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if not x.dtype.is_floating_point:
        x = cast(x, dt.get_default_dtype())
    observations = x._data.shape[1]
    w = None
    for name, weights, integral in (("fweights", fweights, True), ("aweights", aweights, False)):
        if weights is None:
            continue
        if weights.ndim > 1:
            raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
                               f"{weights.ndim} dimensions")
        if integral and weights.dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                               f"{_title(weights.dtype)} dtype")
        if not integral and not weights.dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                               f"{_title(weights.dtype)} dtype")
        if weights.numel() != observations:
            raise RuntimeError(f"cov(): expected {name} to have the same numel as there are observations in the "
                               f"input but got {weights.numel()} != {observations}")
        if weights.numel() and bool(red.any(ew.lt(weights, 0))):
            raise RuntimeError(f"cov(): {name} cannot be negative")
        w = weights if w is None else ew.mul(w, weights)
    if w is None:
        w_sum = observations
        average = red.mean(x, 1, keepdim=True)
        factor = observations - correction
    else:
        w_sum = red.sum(w)
        average = ew.div(red.sum(ew.mul(x, w), 1, keepdim=True), w_sum)
        if correction == 0:
            factor = w_sum
        elif aweights is None:
            factor = ew.sub(w_sum, correction)
        else:
            factor = ew.sub(w_sum, ew.div(ew.mul(red.sum(ew.mul(w, aweights)), correction), w_sum))
    if float(factor) <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                      "observations.", UserWarning, stacklevel=2)
        factor = ew.clamp(factor, min=0) if isinstance(factor, Tensor) else 0
    centered = ew.sub(x, average)
    weighted = centered if w is None else ew.mul(centered, w)
    return ew.div(linalg.matmul(centered, weighted.mT), factor).squeeze()


@public(method=True)
def corrcoef(input):
    """The Pearson correlation coefficients of the variables in the rows of ``input``.

    Args:
        input: a 0-d, 1-d or 2-d tensor, as for ``cov``.

    Returns:
        ``cov(input)`` divided by the products of the standard deviations, clipped to [-1, 1] (a 0-d tensor
        for one variable); NaN where a variable is constant.
    """
    c = cov(input)
    if c.ndim == 0:
        return ew.div(c, c)
    stddev = ew.sqrt(c.diagonal())
    c = ew.div(ew.div(c, stddev.unsqueeze(1)), stddev.unsqueeze(0))
    return ew.clamp(c, min=-1, max=1)


# ---------------------------------------------------------------- products and distances
@public(method=True, out=True)
def kron(input, other):
    """The Kronecker product of two tensors: every element of ``input`` times the whole of ``other``.

    Args:
        input: a tensor.
        other: a tensor (the one with fewer dims is taken with leading dims of size 1).

    Returns:
        A tensor of the promoted dtype and shape ``input.shape[i] * other.shape[i]`` in each dim.
    """
    nd = builtins.max(input.ndim, other.ndim)
    a_shape = (1,) * (nd - input.ndim) + tuple(input.shape)
    b_shape = (1,) * (nd - other.ndim) + tuple(other.shape)
    a = input.reshape(tuple(s for size in a_shape for s in (size, 1)))
    b = other.reshape(tuple(s for size in b_shape for s in (1, size)))
    return ew.mul(a, b).reshape(tuple(x * y for x, y in zip(a_shape, b_shape)))


@public(method=True, inplace=True, out=True)
@dispatch_point("addr")
def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``: an outer product added to a matrix.

    Args:
        input: the tensor added, broadcast to ``(len(vec1), len(vec2))``; with ``beta=0`` it is not read (NaN
            in it does not reach the result).
        vec1: a 1-d tensor.
        vec2: a 1-d tensor.
        beta: the factor for ``input``.
        alpha: the factor for the outer product.

    Returns:
        A ``(len(vec1), len(vec2))`` tensor of the promoted dtype (for bool, ``beta and input or alpha and
        vec1 and vec2``).

    Raises:
        RuntimeError: a vector is not 1-d, ``input`` does not broadcast, or ``beta``/``alpha`` is a float for
            integer tensors.
    """
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.ndim}-D")
    from ember.ops.promotion import result_type
    dtype = result_type(input, vec1, vec2)
    if not dtype.is_floating_point and dtype is not dt.bool_:
        for name, value in (("beta", beta), ("alpha", alpha)):
            if isinstance(value, float):
                raise RuntimeError(f"For integral input tensors, argument {name} must not be a floating point "
                                   f"number.")
    shape = (vec1._data.shape[0], vec2._data.shape[0])
    base = input.expand(*shape)  # PyTorch's expand error when input does not fit
    if dtype is dt.bool_:
        product = ew.logical_and(vec1.unsqueeze(1), vec2.unsqueeze(0))
        product = ew.logical_and(product, bool(alpha))
        return ew.logical_or(product, ew.logical_and(base, bool(beta))) if beta else product.clone()
    product = linalg._scaled(linalg.outer(vec1, vec2), alpha)
    if beta == 0:
        return cast(product, dtype) if product.dtype is not dtype else product
    return ew.add(linalg._scaled(base, beta), product)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")


def _safe_root(total, p):
    """``total ** (1 / p)`` with a zero gradient where ``total`` is 0 (PyTorch's cdist/renorm at zero)."""
    zero = ew.eq(total, 0)
    root = ew.sqrt(ew.where(zero, 1.0, total)) if p == 2 else ew.pow(ew.where(zero, 1.0, total), 1.0 / p)
    return ew.where(zero, 0.0, root)


def _safe_abs_pow(a, p):
    """``|a| ** p`` with a zero gradient at 0 (where PyTorch's rules give 0)."""
    zero = ew.eq(a, 0)
    return ew.where(zero, 0.0, ew.pow(ew.where(zero, 1.0, ew.abs(a)), p))


@public
@dispatch_point("cdist")
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The ``p``-norm distance between each row of ``x1`` and each row of ``x2`` (batched over leading dims).

    Args:
        x1: a ``(..., P, M)`` floating-point tensor.
        x2: a ``(..., R, M)`` tensor of ``x1``'s dtype; the batch dims broadcast.
        p: the order of the norm, ``>= 0`` (``inf`` allowed).
        compute_mode: for ``p == 2``: ``"use_mm_for_euclid_dist_if_necessary"`` (the matrix-product
            expansion when P or R exceeds 25), ``"use_mm_for_euclid_dist"`` (always) or
            ``"donot_use_mm_for_euclid_dist"`` (never: exact differences).

    Returns:
        A ``(..., P, R)`` tensor; gradients are 0 where a distance is 0.

    Raises:
        RuntimeError: an input has fewer than 2 dims, is not floating point, the dtypes or column counts
            differ, or ``p`` is negative.
        ValueError: ``compute_mode`` is not one of the three.
        NotImplementedError: half-precision inputs, as in PyTorch.
    """
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    for name, x in (("X1", x1), ("X2", x2)):
        if x.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {x.ndim}D")
        if not x.dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {_title(x.dtype)}")
    if x1._data.shape[-1] != x2._data.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1._data.shape[-1]} "
                           f"X2: {x2._data.shape[-1]}")
    if x1.dtype is not x2.dtype:
        raise RuntimeError(f"expected scalar type {_title(x1.dtype)} but found {_title(x2.dtype)}")
    if x1.dtype in _HALF:
        raise ew._not_implemented("cdist", x1.dtype)
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    rows1, rows2 = x1._data.shape[-2], x2._data.shape[-2]
    if p == 2 and (compute_mode == "use_mm_for_euclid_dist" or
                   (compute_mode == _CDIST_MODES[0] and (rows1 > 25 or rows2 > 25))):
        # |a|^2 + |b|^2 - 2 a.b; clamped so that the square root (and its gradient) stays finite at 0
        n1 = red.sum(ew.mul(x1, x1), -1, keepdim=True)
        n2 = red.sum(ew.mul(x2, x2), -1, keepdim=True)
        squares = ew.add(ew.sub(n1, ew.mul(linalg.matmul(x1, x2.mT), 2)), n2.mT)
        return ew.sqrt(ew.clamp(squares, min=1e-30))
    delta = ew.sub(x1.unsqueeze(-2), x2.unsqueeze(-3))    # (..., P, R, M)
    if p == 0:
        count = cast(red.sum(ew.ne(delta, 0), -1), x1.dtype)
        return ew.add(count, ew.mul(red.sum(delta, -1), 0))  # constant, with a (zero) gradient as in PyTorch
    if p == 1:
        return red.sum(ew.abs(delta), -1)
    if p == math.inf:
        if delta._data.shape[-1] == 0:
            return red.sum(delta, -1)
        size = ew.abs(delta)
        with no_grad():
            largest = red.amax(size, -1, keepdim=True)
            ties = cast(ew.eq(size, largest), size.dtype)
        # the value is the largest |difference|; every element reaching it gets the whole gradient, as in PyTorch
        return ew.add(largest.squeeze(-1), red.sum(ew.mul(ties, ew.sub(size, size.detach())), -1))
    if p == 2:
        return _safe_root(red.sum(ew.mul(delta, delta), -1), 2)
    return _safe_root(red.sum(_safe_abs_pow(delta, p), -1), p)


@public(method=True, inplace=True, out=True)
@dispatch_point("renorm")
def renorm(input, p, dim, maxnorm):
    """``input`` with each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to norm ``maxnorm``.

    Args:
        input: a floating-point tensor of at least 2 dims.
        p: the order of the norm, ``> 0`` (``inf`` allowed).
        dim: the dim whose slices (``input.select(dim, i)``) are normalized.
        maxnorm: the largest norm a slice keeps, ``>= 0``.

    Returns:
        A tensor of ``input``'s shape and dtype; a slice is multiplied by ``maxnorm / (norm + 1e-7)``.

    Raises:
        RuntimeError: ``input`` is not floating point or has fewer than 2 dims, ``p <= 0`` or ``maxnorm < 0``.
    """
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
                           f"{_title(input.dtype)}")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {_g(maxnorm)}")
    if input.ndim < 2:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions")
    dim = normalize_dim(dim, input.ndim)
    others = tuple(d for d in builtins.range(input.ndim) if d != dim)
    x = cast(input, dt.float32) if input.dtype in _HALF else input
    if p == math.inf:
        norm = red.amax(ew.abs(x), others, keepdim=True)
    else:
        total = red.sum(ew.mul(x, x) if p == 2 else _safe_abs_pow(x, p), others, keepdim=True)
        norm = _safe_root(total, p)
    factor = ew.where(ew.gt(norm, maxnorm), ew.div(maxnorm, ew.add(norm, 1e-7)), 1.0)
    return cast(ew.mul(x, factor), input.dtype)
