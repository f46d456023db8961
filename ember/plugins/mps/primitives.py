"""The primitives of the ``mps`` backend over MLX: ``MlxKernels``, one method (or ufunc
attribute) per primitive of ``ember.dispatch.ops``, and the dtype and transfer helpers
``backend.py`` uses. ``kernels.py`` puts them in the kernel table.

Each method has its op's calling convention (native arrays and Python scalars
positionally, attributes as keywords) and returns ``mlx.core.array``s. The numpy
kernels in ``ember/plugins/xp.py`` are the reference for every op's semantics; where
MLX differs from numpy (the dtype of integer reductions, argmax's index type, no
integer matmul, no fmod, no descending sort), the fix is written here in MLX ops.

MLX arrays are immutable values and cannot alias memory: view kernels return new
arrays and the in-place kernels (``copy_``, ``index_put``) return the new value of
their destination; the core writes views back into their base
(``Backend.aliasing_views = False``).

The host takes part in three kernels only: ``nonzero`` and ``unique`` read one number
back (how many results there are: their output *shape* depends on the data; the rest
runs in MLX), and ``philox_*`` generate ember's random stream on the host, where it is
defined, and copy it over (see ``random_array``).
"""
from __future__ import annotations

import math

import ml_dtypes
import mlx.core as mx
import numpy as np

from ember.core import dtype as dt
from ember.dispatch.ops import INDEX_SLOT
from ember.dispatch import philox as host
from ember.plugins.mps.kernels import BINARY, UNARY
from ember.plugins.mps.special import MlxSpecialKernels

# ---------------------------------------------------------------- dtypes
FLOAT64_ERROR = ("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64. "
                 "Please use float32 instead.")

#: ember dtype -> MLX dtype, for every dtype the backend supports (Apple GPUs have no float64)
MX_DTYPE = {
    dt.bool_: mx.bool_, dt.uint8: mx.uint8, dt.int8: mx.int8, dt.int16: mx.int16, dt.int32: mx.int32,
    dt.int64: mx.int64, dt.float16: mx.float16, dt.bfloat16: mx.bfloat16, dt.float32: mx.float32,
    dt.complex64: mx.complex64,  # MLX has no complex128, as it has no float64
    dt.uint16: mx.uint16, dt.uint32: mx.uint32, dt.uint64: mx.uint64,  # (no float8: TypeError, see mx_dtype)
}
EMBER_DTYPE = {v: k for k, v in MX_DTYPE.items()}
SUPPORTED_DTYPES = tuple(d for d in dt.ALL_DTYPES + dt.LIMITED_DTYPES if d in MX_DTYPE)
_LOW_PRECISION = frozenset({mx.float16, mx.bfloat16})
_INTEGRAL = frozenset({mx.bool_, mx.uint8, mx.int8, mx.int16, mx.int32, mx.int64, mx.uint16, mx.uint32, mx.uint64})
_SIGNED = frozenset({mx.int8, mx.int16, mx.int32, mx.int64})
_BFLOAT16_NP = np.dtype(ml_dtypes.bfloat16)


def mx_dtype(dtype: dt.dtype):
    """The MLX dtype of an ember dtype; PyTorch's TypeError for float64."""
    found = MX_DTYPE.get(dtype)
    if found is None:
        if dtype is dt.float64:
            raise TypeError(FLOAT64_ERROR)
        if dtype is dt.complex128:
            raise TypeError("Trying to convert ComplexDouble to the MPS backend but it does not have support "
                            "for that dtype.")
        raise TypeError(f"mps tensors do not support dtype {dtype}")
    return found


def from_host(array: np.ndarray):
    """An MLX array holding a copy of a numpy array (float64: PyTorch's TypeError)."""
    found = dt._BY_NUMPY.get(array.dtype)
    if found is None:
        dt.from_numpy_dtype(array.dtype)  # raises the TypeError naming the numpy dtype
    return mx.array(array, dtype=mx_dtype(found))


def to_host(native) -> np.ndarray:
    """A numpy copy of an MLX array (evaluates it)."""
    if native.dtype == mx.bfloat16:  # no buffer-protocol format for bfloat16: widen exactly, then narrow
        return np.array(native.astype(mx.float32)).astype(_BFLOAT16_NP)
    return np.array(native, copy=True)


def _is_array(x) -> bool:
    return type(x) is mx.array


def _is_float(x, y) -> bool:
    dtype = x.dtype if _is_array(x) else y.dtype
    return dtype in (mx.float16, mx.bfloat16, mx.float32)


def _as_array(x, like):
    return x if _is_array(x) else mx.array(x, dtype=like.dtype)


def _half_of(x, y):
    """The half-precision dtype of the operands, or None."""
    dtype = x.dtype if _is_array(x) else y.dtype
    return dtype if dtype in _LOW_PRECISION else None


def _widened(x):
    return x.astype(mx.float32) if _is_array(x) else x


class MlxKernels(MlxSpecialKernels):  # the special functions: special.py
    """One method (or attribute) per primitive, named after its op (``kernels.PRIMITIVES``
    lists them for the kernel table)."""

    def __init__(self):
        # the elementwise primitives that are one MLX function each (named in kernels.py), unless a
        # method below adds what MLX lacks
        for name, mlx_name in (*UNARY.items(), *BINARY.items()):
            if not hasattr(type(self), name):
                setattr(self, name, getattr(mx, mlx_name))

    # ---------------------------------------------------------------- elementwise
    def sign(self, x):
        return mx.array(x) if x.dtype == mx.bool_ else mx.sign(x)  # the sign of a bool is itself

    def exp2(self, x):
        return mx.power(2.0, x)

    def expm1(self, x):
        return mx.exp(x) - 1 if x.dtype == mx.complex64 else mx.expm1(x)  # MLX has no complex expm1

    def relu(self, x):
        return mx.maximum(x, 0).astype(x.dtype)

    def round(self, x, *, decimals):
        return mx.round(x, decimals)

    def pow(self, x, y):
        integer_base = x.dtype in _INTEGRAL if _is_array(x) else isinstance(x, int)
        if not integer_base or not (_is_array(y) and y.dtype in _SIGNED):
            return mx.power(x, y)
        # integers to negative integer powers (MLX answers 0 for all): 1 ** -n is 1, (-1) ** -n is +-1,
        # others 0, as in PyTorch
        negative = y < 0
        r = mx.power(x, mx.where(negative, 0, y))
        odd = (y & 1) != 0
        reciprocal = mx.where(x == 1, 1, mx.where(x == -1, mx.where(odd, -1, 1), 0)).astype(r.dtype)
        return mx.where(negative, reciprocal, r)

    def fmod(self, x, y):
        half = _half_of(x, y)
        if half is not None:  # computed in float32, as PyTorch does for half precision
            return self.fmod(_widened(x), _widened(y)).astype(half)
        if _is_float(x, y):
            # fmod takes the dividend's sign: the remainder of the magnitudes (exact, in [0, |y|)), signed
            r = mx.remainder(mx.abs(_as_array(x, y)), mx.abs(_as_array(y, x)))
            r = mx.where(mx.less(x, 0), -r, r)
            # C's fmod(x, +-inf) is x for a finite x (MLX's remainder gives NaN)
            return mx.where(mx.logical_and(mx.isinf(_as_array(y, r)), mx.isfinite(_as_array(x, r))), x, r)
        # MLX's remainder takes the divisor's sign; fmod takes the dividend's
        r = mx.remainder(x, y)
        wrong_sign = mx.logical_and(r != 0, mx.less(r, 0) != mx.less(x, 0))
        return mx.where(wrong_sign, r - y, r)

    def div_rounding(self, x, y, *, mode):
        half = _half_of(x, y)
        if half is not None:  # the quotient in float32 (in half precision a tiny one rounds to -0, not -1)
            return self.div_rounding(_widened(x), _widened(y), mode=mode).astype(half)
        if mode == "floor":
            return self._floor_divide_floats(x, y) if _is_float(x, y) else mx.floor_divide(x, y)
        dtype = x.dtype if _is_array(x) else y.dtype
        if dtype in _INTEGRAL:
            q = mx.floor_divide(x, y)
            # floor and trunc differ where the signs differ and the division is inexact
            fix = mx.logical_and(mx.remainder(x, y) != 0, mx.less(x, 0) != mx.less(y, 0))
            return q + fix.astype(q.dtype)
        return mx.trunc(mx.divide(x, y))

    def _floor_divide_floats(self, x, y):
        """Python's (numpy's) floor division of floats, which MLX's floor_divide departs from at the edges
        (-1 // inf is -1): the quotient from the fmod remainder, corrected toward negative infinity."""
        mod = self.fmod(x, y)
        div = (x - mod) / y
        div = mx.where(mx.logical_and(mod != 0, mx.less(y, 0) != mx.less(mod, 0)), div - 1, div)
        floor = mx.floor(div)
        floor = mx.where(div - floor > 0.5, floor + 1, floor)
        quotient = x / y
        negative = mx.logical_or(quotient < 0, mx.logical_and(quotient == 0, (1 / quotient) < 0))
        signed_zero = mx.where(negative, -0.0, 0.0).astype(quotient.dtype)
        out = mx.where(div != 0, floor, signed_zero)
        return mx.where(_as_array(y, out) == 0, quotient, out)

    def where(self, cond, x, y):
        return mx.where(cond, x, y)

    def cast(self, x, *, dtype):
        return x.astype(mx_dtype(dtype))

    # ---------------------------------------------------------------- reductions and scans
    @staticmethod
    def _axes(dims):
        return tuple(dims) if dims else None

    # An empty input is answered without MLX: its CPU reduction over a zero-size axis
    # can hang (MLX 0.32), and the result is known (the identity, or an empty array).
    def sum(self, x, *, dims, keepdim):
        axes = self._axes(dims)
        if x.size == 0:
            return _empty_result(x, dims, keepdim, mx.int64 if x.dtype in _INTEGRAL else x.dtype, 0)
        if x.dtype in _INTEGRAL:  # integers and bool sum to int64, as in PyTorch
            return mx.sum(x.astype(mx.int64), axis=axes, keepdims=keepdim)
        if x.dtype in _LOW_PRECISION:  # accumulate in float32
            return mx.sum(x.astype(mx.float32), axis=axes, keepdims=keepdim).astype(x.dtype)
        return mx.sum(x, axis=axes, keepdims=keepdim)

    def prod(self, x, *, dims, keepdim):
        if x.size == 0:
            return _empty_result(x, dims, keepdim, mx.int64 if x.dtype in _INTEGRAL else x.dtype, 1)
        if x.dtype in _INTEGRAL:
            return mx.prod(x.astype(mx.int64), axis=self._axes(dims), keepdims=keepdim)
        return mx.prod(x, axis=self._axes(dims), keepdims=keepdim)

    def amax(self, x, *, dims, keepdim):
        if x.size == 0:  # an empty result (the core rejects reducing a zero-size dim)
            return _empty_result(x, dims, keepdim, x.dtype)
        return mx.max(x, axis=self._axes(dims), keepdims=keepdim)

    def amin(self, x, *, dims, keepdim):
        if x.size == 0:
            return _empty_result(x, dims, keepdim, x.dtype)
        return mx.min(x, axis=self._axes(dims), keepdims=keepdim)

    def all(self, x, *, dims, keepdim):
        if x.size == 0:
            return _empty_result(x, dims, keepdim, mx.bool_, True)
        return mx.all(x, axis=self._axes(dims), keepdims=keepdim)

    def any(self, x, *, dims, keepdim):
        if x.size == 0:
            return _empty_result(x, dims, keepdim, mx.bool_, False)
        return mx.any(x, axis=self._axes(dims), keepdims=keepdim)

    def argmax(self, x, *, dim, keepdim):
        return self._arg(mx.argmax, x, dim, keepdim)

    def argmin(self, x, *, dim, keepdim):
        return self._arg(mx.argmin, x, dim, keepdim)

    @staticmethod
    def _arg(fn, x, dim, keepdim):
        if x.size == 0:
            return _empty_result(x, () if dim is None else (dim,), keepdim, mx.int64)
        if dim is None:
            r = fn(x.reshape(-1)) if x.ndim else mx.array(0)
            r = r.reshape((1,) * x.ndim) if keepdim else r
        else:
            r = fn(x, axis=dim, keepdims=keepdim) if x.ndim else mx.array(0)
        return r.astype(mx.int64)  # MLX answers uint32 indices

    def cumsum(self, x, *, dim):
        return self._scan(mx.cumsum, x, dim)

    def cumprod(self, x, *, dim):
        return self._scan(mx.cumprod, x, dim)

    @staticmethod
    def _scan(fn, x, dim):
        back = None
        if x.dtype in _INTEGRAL:
            x = x.astype(mx.int64)
        elif x.dtype in _LOW_PRECISION:  # half precision accumulates in float32, as in PyTorch
            back, x = x.dtype, x.astype(mx.float32)
        out = fn(x.reshape(1), axis=0).reshape(()) if x.ndim == 0 else fn(x, axis=dim)
        return out if back is None else out.astype(back)

    # ---------------------------------------------------------------- linear algebra
    def matmul(self, x, y):
        if x.dtype not in _INTEGRAL:
            return mx.matmul(x, y)
        # MLX multiplies floating-point matrices only: integers as an exact broadcast product and sum
        squeeze = []
        if x.ndim == 1:
            x = x.reshape(1, -1)
            squeeze.append(-2)
        if y.ndim == 1:
            y = y.reshape(-1, 1)
            squeeze.append(-1)
        # (MLX sums small integers in int32 / uint32: back to the operands' dtype, wrapping as PyTorch does)
        out = mx.sum(mx.expand_dims(x, -1) * mx.expand_dims(y, -3), axis=-2).astype(x.dtype)
        return mx.squeeze(out, axis=tuple(squeeze)) if squeeze else out

    def einsum(self, *operands, equation):
        if operands[0].dtype not in _INTEGRAL:
            return mx.einsum(equation, *operands)
        return exact_einsum(equation, operands)

    # ---------------------------------------------------------------- views (copies: MLX cannot alias)
    def view_dtype(self, x, *, dtype):
        return mx.view(x, mx_dtype(dtype))

    def view(self, x, *, shape):
        return mx.reshape(x, shape)

    def permute(self, x, *, dims):
        return mx.transpose(x, dims)

    def expand(self, x, *, shape):
        return mx.broadcast_to(x, shape)

    def basic_index(self, x, *, key):
        return x[key + (Ellipsis,)] if key else mx.array(x)

    def diagonal(self, x, *, offset, dim1, dim2):
        return mx.diagonal(x, offset, dim1, dim2)

    def as_strided(self, x, *, size, stride, storage_offset, base_stride):
        # x is a base, laid out row-major (MLX cannot alias): gather the elements the strides pick
        picks = np.full(tuple(size), storage_offset, dtype=np.int64)
        for dim, (n, s) in enumerate(zip(size, stride)):
            picks += (np.arange(n, dtype=np.int64) * s).reshape((n,) + (1,) * (len(size) - dim - 1))
        return mx.take(mx.reshape(x, (-1,)), mx.array(picks.astype(np.int32 if x.size < 2**31 else np.int64)))

    # ---------------------------------------------------------------- copies and layout
    def clone(self, x):
        return mx.array(x)

    def flip(self, x, *, dims):
        return mx.flip(x, axis=tuple(dims)) if dims else mx.array(x)

    def roll(self, x, *, shifts, dims):
        return mx.roll(x, shifts, dims)

    def cat(self, *xs, dim):
        return mx.concatenate(xs, axis=dim)

    def tril(self, x, *, diagonal):
        return mx.tril(x, diagonal)

    def triu(self, x, *, diagonal):
        return mx.triu(x, diagonal)

    # ---------------------------------------------------------------- indexing
    @staticmethod
    def _fill_key(key, indices):
        it = iter(indices)
        return tuple(next(it) if k == INDEX_SLOT else k for k in key)

    def index(self, x, *indices, key):
        return x[self._fill_key(key, indices)]

    def gather(self, x, index, *, dim):
        if x.ndim == 0:
            return mx.broadcast_to(x, index.shape)  # a 0-d index (value 0) reads x
        # PyTorch allows an index smaller than x in the other dims: only that corner is read
        corner = tuple(slice(None) if d == dim else slice(0, s) for d, s in enumerate(index.shape))
        return mx.take_along_axis(x[corner], index, axis=dim)

    def scatter(self, x, index, src, *, dim, reduce):
        if index.size == 0:  # nothing to write (MLX refuses empty updates)
            return mx.array(x)
        if x.ndim == 0:  # a 0-d x is addressed by a 0-d index (value 0): scatter into its one element
            src = src.reshape(-1) if _is_array(src) else src
            return self.scatter(x.reshape(1), index.reshape(-1), src, dim=0, reduce=reduce).reshape(())
        if _is_array(src):
            src = src[tuple(slice(0, s) for s in index.shape)].astype(x.dtype)
        else:
            src = mx.full(index.shape, src, dtype=x.dtype)
        grid = [mx.arange(s).reshape((1,) * i + (s,) + (1,) * (index.ndim - i - 1))
                for i, s in enumerate(index.shape)]
        grid[dim] = index
        grid = tuple(grid)
        if reduce is None:
            out = mx.array(x)
            out[grid] = src
            return out
        at = x.at[grid]
        if reduce == "add":
            return at.add(src)
        if reduce == "multiply":
            return at.multiply(src)
        if reduce == "amax":
            return at.maximum(src)
        if reduce == "amin":
            return at.minimum(src)
        raise ValueError(f"unknown scatter reduction '{reduce}'")

    def nonzero(self, x):
        flat = x.reshape(-1)
        n = flat.size
        if n == 0:
            return mx.zeros((0, x.ndim), dtype=mx.int64)
        hit = flat != 0
        count = int(mx.sum(hit).item())  # the output's shape depends on the data: read it back
        # sorting position + n * (element is zero) puts the hits first, in order
        positions = mx.arange(n, dtype=mx.int64)
        order = mx.argsort(mx.where(hit, positions, positions + n))[:count].astype(mx.int64)
        coords = []
        for size in reversed(x.shape):
            coords.append(mx.remainder(order, size))
            order = mx.floor_divide(order, size)
        coords.reverse()
        return mx.stack(coords, axis=-1) if coords else mx.zeros((count, 0), dtype=mx.int64)

    def sort(self, x, *, dim, descending, stable):
        if x.ndim == 0:
            return mx.array(x), mx.zeros((), dtype=mx.int64)
        if descending:
            # a stable descending order: sort the reversed axis ascending, then reverse back
            idx = mx.flip(mx.argsort(mx.flip(x, axis=dim), axis=dim), axis=dim).astype(mx.int64)
            idx = (x.shape[dim] - 1) - idx
        else:
            idx = mx.argsort(x, axis=dim).astype(mx.int64)
        return mx.take_along_axis(x, idx, axis=dim), idx

    def unique(self, x, *, return_inverse, return_counts):
        flat = x.reshape(-1)
        n = flat.size
        if n == 0:
            empty = mx.zeros((0,), dtype=mx.int64)
            return flat, empty.reshape(x.shape), empty
        values, inverse, counts = mx.unique(flat, size=n, return_inverse=True, return_counts=True)
        found = int(mx.sum(counts > 0).item())  # the output's shape depends on the data: read it back
        return (values[:found], inverse.reshape(x.shape).astype(mx.int64),
                counts[:found].astype(mx.int64))

    # ---------------------------------------------------------------- writes (new arrays: MLX cannot alias)
    def copy_(self, dst, src):
        if _is_array(src):
            if src.dtype != dst.dtype:
                src = src.astype(dst.dtype)
            return mx.broadcast_to(src, dst.shape) if src.shape != dst.shape else mx.array(src)
        return mx.full(dst.shape, _scalar_as(src, EMBER_DTYPE[dst.dtype]), dtype=dst.dtype)

    def index_put(self, dst, values, *indices, key, accumulate):
        if dst.size == 0 or any(i.size == 0 for i in indices):  # nothing to write (MLX refuses empty updates)
            return mx.array(dst)
        full_key = self._fill_key(key, indices)
        if _is_array(values) and values.dtype != dst.dtype:
            values = values.astype(dst.dtype)
        if accumulate:
            return dst.at[full_key].add(values)
        out = mx.array(dst)
        out[full_key] = values
        return out

    # ---------------------------------------------------------------- creation and random
    def full(self, *, shape, value, dtype, index):
        return mx.full(shape, _scalar_as(value, dtype), dtype=mx_dtype(dtype))

    def arange(self, *, start, end, step, dtype, index):
        target = mx_dtype(dtype)
        n = max(0, math.ceil((end - start) / step))
        if dtype.is_floating_point:
            return (mx.arange(n, dtype=mx.float32) * step + start).astype(target)
        return (mx.arange(n, dtype=mx.int64) * int(step) + int(start)).astype(target)

    def philox_uniform(self, *, shape, dtype, seed, offset, index):
        u = host.unit_uniform_for(host.philox_uniform(shape, seed, offset), dtype.name)
        return random_array(u, dtype)

    def philox_normal(self, *, shape, dtype, seed, offset, index):
        return random_array(host.philox_normal(shape, seed, offset), dtype)


def random_array(values: np.ndarray, dtype: dt.dtype):
    """ember's Philox stream is defined by numpy's Philox4x64 words: they are drawn on the
    host and rounded to ``dtype`` exactly as the CPU backend rounds them, then copied over,
    so the same seed gives the same numbers on every device."""
    target = mx_dtype(dtype)
    return mx.array(np.asarray(values).astype(dtype.numpy), dtype=target)


def _empty_result(x, dims, keepdim, dtype, identity=0):
    """The result of reducing an empty ``x`` over ``dims`` (() = all): ``identity`` everywhere."""
    axes = {d % x.ndim for d in dims} if dims else set(range(x.ndim))
    shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape) if keepdim or i not in axes)
    return mx.full(shape, bool(identity) if dtype == mx.bool_ else identity, dtype=dtype)


def _scalar_as(value, dtype):
    """A Python scalar converted to ``dtype`` as numpy converts it (int wraparound, float truncation)."""
    if dtype.is_floating_point:
        return float(value)
    if dtype.is_complex:
        return complex(value)
    if dtype is dt.bool_:
        return bool(value)
    if type(value) is int and np.iinfo(dtype.numpy).min <= value <= np.iinfo(dtype.numpy).max:
        return value
    return np.array(value).astype(dtype.numpy).item()


# ---------------------------------------------------------------- integer einsum
def exact_einsum(equation: str, operands):
    """einsum as a broadcast product and sum: exact for the integer dtypes MLX's einsum refuses."""
    lhs, arrow, out = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum(): {len(terms)} operand subscripts for {len(operands)} operands")
    used = set(equation)
    spare = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used)
    ellipsis_rank = max((op.ndim - (len(t) - 3) for t, op in zip(terms, operands) if "..." in t), default=0)
    ellipsis = "".join(next(spare) for _ in range(ellipsis_rank))
    subscripts = []
    for term, op in zip(terms, operands):
        if "..." in term:
            rank = op.ndim - (len(term) - 3)
            term = term.replace("...", ellipsis[ellipsis_rank - rank:])
        subscripts.append(term)
    if not arrow:
        counts = {}
        for term in subscripts:
            for c in term:
                counts[c] = counts.get(c, 0) + 1
        out = ellipsis + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ellipsis))
    elif "..." in out:
        out = out.replace("...", ellipsis)
    prepared = []
    for term, op in zip(subscripts, operands):
        while len(set(term)) < len(term):  # a repeated subscript: take that diagonal (it moves last)
            c = next(c for c in term if term.count(c) > 1)
            i = term.index(c)
            j = term.index(c, i + 1)
            op = mx.diagonal(op, 0, i, j)
            term = term[:i] + term[i + 1:j] + term[j + 1:] + c
        prepared.append((term, op))
    letters = list(out) + sorted({c for term, _ in prepared for c in term} - set(out))
    product = None
    for term, op in prepared:
        order = [term.index(c) for c in letters if c in term]
        op = mx.transpose(op, order) if order != list(range(op.ndim)) else op
        shape = []
        it = iter(op.shape)
        for c in letters:
            shape.append(next(it) if c in term else 1)
        op = op.reshape(shape)
        product = op if product is None else product * op
    reduced = tuple(range(len(out), len(letters)))
    if reduced:
        product = mx.sum(product, axis=reduced)
    return product.astype(operands[0].dtype)
