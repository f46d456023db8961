"""Kernels written once over an array module ``xp`` (numpy or cupy).

The CPU plugin uses ``XpKernels(numpy, scipy.special)``; the CUDA and ROCm plugins use
the same class with cupy (``ember.plugins.cupy``). Each method implements one primitive of
``ember.dispatch.ops`` with that op's calling convention. ``XpKernels.kernel_names()``
lists the ops the class implements without an array module, so a backend whose library
is missing can still say what its kernel table holds.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from ember.dispatch.ops import INDEX_SLOT, OPS
from ember.dispatch.philox import SIGNIFICAND_BITS, philox_normal, philox_words
from ember.plugins.xp_special import SpecialKernels
from ember.plugins.xp_spectral import SpectralKernels
from ember.plugins.xp_linalg import XpLinalg
from ember.core.dtype import _CPP_NAMES, FLOAT4_NUMPY, FLOAT8_NUMPY, limited_cast

_UNARY = {  # primitive -> xp function name
    "neg": "negative", "abs": "abs", "sqrt": "sqrt", "exp": "exp",
    "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2", "log10": "log10",
    "log1p": "log1p", "sin": "sin", "cos": "cos", "tan": "tan", "asin": "arcsin",
    "acos": "arccos", "atan": "arctan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "arcsinh",
    "acosh": "arccosh", "atanh": "arctanh",
    "floor": "floor", "ceil": "ceil", "trunc": "trunc", "isnan": "isnan", "isinf": "isinf",
    "logical_not": "logical_not", "bitwise_not": "invert",
}
_BINARY = {
    "add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide",
    "atan2": "arctan2", "remainder": "remainder", "fmod": "fmod", "maximum": "maximum",
    "minimum": "minimum", "eq": "equal", "ne": "not_equal", "lt": "less", "le": "less_equal",
    "gt": "greater", "ge": "greater_equal", "logical_and": "logical_and",
    "logical_or": "logical_or", "logical_xor": "logical_xor", "bitwise_and": "bitwise_and",
    "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor",
    "bitwise_left_shift": "left_shift", "bitwise_right_shift": "right_shift",
}
# numpy computes these poorly or not at all in half precision: go through float32
_LOW_PRECISION = frozenset({np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)})
_LIMITED_NUMPY = FLOAT8_NUMPY | {FLOAT4_NUMPY}  # numpy-only dtypes whose casts round as PyTorch's
_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
_ZEROS = {}  # numpy dtype -> its 0-d zero (relu)
_FLOAT16 = np.dtype(np.float16)
_HALF_TO_FLOAT32 = None  # every float16 bit pattern's float32 value: a gather beats numpy's float16 cast 3x


def _no_random_limited(dtype):
    if dtype._ops is not None:  # float8/float4: PyTorch 2.13 draws no random numbers in them
        raise NotImplementedError(f"\"check_uniform_bounds\" not implemented for '{_CPP_NAMES[dtype]}'")


def _to_float32(xp, x):
    global _HALF_TO_FLOAT32
    if xp is np and x.dtype == np.float16:
        if _HALF_TO_FLOAT32 is None:
            _HALF_TO_FLOAT32 = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
        return np.take(_HALF_TO_FLOAT32, x.view(np.uint16))  # same item size: any strides view
    return x.astype(xp.float32)


class XpKernels(SpecialKernels, XpLinalg, SpectralKernels):  # special functions: xp_special.py; decompositions:
    # xp_linalg.py; FFTs: xp_spectral.py
    def __init__(self, xp, special):
        self.xp = xp
        self.special = special
        for name, fn_name in _UNARY.items():
            setattr(self, name, self._unary(getattr(xp, fn_name)))
        for name, fn_name in _BINARY.items():
            setattr(self, name, self._binary(getattr(xp, fn_name)) if xp is np else getattr(xp, fn_name))

    @classmethod
    def kernel_names(cls) -> tuple:
        """The op names ``kernels()`` gives kernels for, in table order, computed from the class
        alone (no array module needed): the unary and binary ufuncs set up in ``__init__``
        and every method named after an op."""
        return tuple(name for name in OPS if name in _UNARY or name in _BINARY or hasattr(cls, name))

    def kernels(self) -> dict:
        """{op name: kernel} for every op this class implements (``kernel_names()``)."""
        return {name: getattr(self, name) for name in self.kernel_names()}

    def _unary(self, fn):
        xp = self.xp
        if fn is xp.negative or fn is xp.abs:
            return fn  # exact in any precision: numpy's own loop
        # numpy's half loops are slow: float32 inside, rounded once (cupy's float16 is native)
        slow = (_BFLOAT16, _FLOAT16) if xp is np else (_BFLOAT16, _BFLOAT16)

        def kernel(x):
            # `is`: dtype objects are singletons, and an identity test keeps the float32 path cheap
            if x.dtype is slow[0] or x.dtype is slow[1]:
                r = fn(_to_float32(xp, x))
                return r.astype(x.dtype) if r.dtype.kind == "f" else r  # isnan & co. stay bool
            return fn(x)

        def into(out, x):  # core/into.py: the result written into ``out``, no new array
            if x.dtype is slow[0] or x.dtype is slow[1]:
                xp.copyto(out, kernel(x), casting="same_kind")
            else:
                fn(x, out=out)
        kernel.into = into
        return kernel

    @staticmethod
    def _binary(fn):
        def kernel(x, y):
            # ml_dtypes' bfloat16 loops are 5-50x slower than numpy's float32 ones: compute in float32 and
            # round once (what they do inside, and PyTorch's CPU too); numpy's own float16 loops are faster
            # than the two conversions
            if getattr(x, "dtype", None) is _BFLOAT16 or getattr(y, "dtype", None) is _BFLOAT16:  # `is`: cheap
                r = fn(x.astype(np.float32) if isinstance(x, np.ndarray) else x,
                       y.astype(np.float32) if isinstance(y, np.ndarray) else y)
                return r.astype(_BFLOAT16) if r.dtype.kind == "f" else r
            return fn(x, y)

        def into(out, x, y):  # core/into.py: the result written into ``out``, no new array
            if out.dtype is _BFLOAT16:
                np.copyto(out, kernel(x, y), casting="same_kind")
            else:
                fn(x, y, out=out)
        kernel.into = into
        return kernel

    # ---------------------------------------------------------------- elementwise
    def sign(self, x):
        if x.dtype.kind == "b":
            return x.copy()  # the sign of a bool is itself (numpy has no bool loop)
        if x.dtype.kind in "iu":
            return self.xp.sign(x)
        # (x > 0) - (x < 0), as PyTorch computes it: NaN gives 0 (numpy's sign gives NaN), -0.0 gives 0
        return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)

    def rsqrt(self, x):
        return self.xp.reciprocal(self.xp.sqrt(x))

    def reciprocal(self, x):
        return self.xp.reciprocal(x)

    def sigmoid(self, x):
        xp = self.xp
        work = x.astype(xp.float32) if x.dtype in _LOW_PRECISION else x
        # exp of a non-positive number only: no overflow for large |x|
        e = xp.exp(-xp.abs(work))
        r = xp.where(work >= 0, 1 / (1 + e), e / (1 + e))
        return r.astype(x.dtype, copy=False)

    def relu(self, x):
        if self.xp is np:
            # against a read-only 0-d zero of x's dtype: no Python-scalar conversion, no cast after
            zero = _ZEROS.get(x.dtype)
            if zero is None:
                zero = _ZEROS[x.dtype] = np.zeros((), x.dtype)
                zero.flags.writeable = False
            return np.maximum(x, zero)
        return self.xp.maximum(x, 0).astype(x.dtype, copy=False)

    def erf(self, x):
        return self._special(self.special.erf, x)

    def erfinv(self, x):
        return self._special(self.special.erfinv, x)

    def _special(self, fn, x):
        if x.dtype in _LOW_PRECISION:
            return fn(x.astype(self.xp.float32)).astype(x.dtype)
        return fn(x)

    def round(self, x, *, decimals):
        return self.xp.round(x, decimals)

    def pow(self, x, y):
        xp = self.xp
        integer_base = x.dtype.kind in "iu" if isinstance(x, xp.ndarray) else isinstance(x, (int, np.integer))
        if not integer_base:
            return xp.power(x, y)
        if isinstance(y, xp.ndarray):
            if y.dtype.kind != "i":
                return xp.power(x, y)
            negative = y < 0
            r = xp.power(x, xp.where(negative, 0, y).astype(y.dtype, copy=False))
        elif isinstance(y, (int, np.integer)) and y < 0:
            negative, r = True, xp.power(x, 0)
        else:
            return xp.power(x, y)
        # integers to negative integer powers (numpy raises): 1 ** -n is 1, (-1) ** -n is +-1, others 0 (PyTorch)
        odd = (y & 1) != 0
        reciprocal = xp.where(x == 1, 1, xp.where(x == -1, xp.where(odd, -1, 1), 0)).astype(r.dtype)
        return xp.where(negative, reciprocal, r)

    def div_rounding(self, x, y, *, mode):
        xp = self.xp
        if mode == "floor":
            return xp.floor_divide(x, y)
        dtype = getattr(x, "dtype", None) or getattr(y, "dtype")
        if dtype.kind in "iu":
            q = xp.floor_divide(x, y)
            # floor and trunc differ where the signs differ and the division is inexact
            fix = (xp.remainder(x, y) != 0) & ((x < 0) != (y < 0))
            return (q + fix).astype(q.dtype, copy=False)
        return xp.trunc(xp.true_divide(x, y))

    def where(self, cond, x, y):
        return self.xp.where(cond, x, y)

    def cast(self, x, *, dtype):
        if dtype._ops is not None or (x.dtype.itemsize == 1 and x.dtype in _LIMITED_NUMPY):  # float8, float4
            return limited_cast(x, dtype.numpy, dtype.name)
        if x.dtype.kind == "c" and not dtype.is_complex:  # PyTorch keeps the real part (bool: either part)
            return (x != 0) if dtype.numpy.kind == "b" else x.real.astype(dtype.numpy)
        return x.astype(dtype.numpy)

    # ---------------------------------------------------------------- reductions
    def _axes(self, x, dims):
        return tuple(dims) if dims else None

    # Reductions call the array methods: numpy's module-level wrappers cost microseconds.
    def sum(self, x, *, dims, keepdim):
        axes = self._axes(x, dims)
        if x.dtype.kind in "biu":  # integers and bool sum to int64, as in PyTorch
            return x.sum(axis=axes, keepdims=keepdim, dtype=self.xp.int64)
        if x.dtype in _LOW_PRECISION:
            return x.sum(axis=axes, keepdims=keepdim, dtype=self.xp.float32).astype(x.dtype)
        if self.xp is np:  # the ufunc itself: numpy's ndarray.sum is a Python wrapper around it
            return np.add.reduce(x, axis=axes, keepdims=keepdim)
        return x.sum(axis=axes, keepdims=keepdim)

    def prod(self, x, *, dims, keepdim):
        if x.dtype.kind in "biu":
            return x.prod(axis=self._axes(x, dims), keepdims=keepdim, dtype=self.xp.int64)
        return x.prod(axis=self._axes(x, dims), keepdims=keepdim)

    def amax(self, x, *, dims, keepdim):
        return x.max(axis=self._axes(x, dims), keepdims=keepdim)

    def amin(self, x, *, dims, keepdim):
        return x.min(axis=self._axes(x, dims), keepdims=keepdim)

    def all(self, x, *, dims, keepdim):
        return x.all(axis=self._axes(x, dims), keepdims=keepdim)

    def any(self, x, *, dims, keepdim):
        return x.any(axis=self._axes(x, dims), keepdims=keepdim)

    def argmax(self, x, *, dim, keepdim):
        return self._arg(self.xp.argmax, x, dim, keepdim)

    def argmin(self, x, *, dim, keepdim):
        return self._arg(self.xp.argmin, x, dim, keepdim)

    def _arg(self, fn, x, dim, keepdim):
        if dim is None:
            r = fn(x)
            return r.reshape((1,) * x.ndim) if keepdim else r
        return fn(x, axis=dim, keepdims=keepdim)

    def cumsum(self, x, *, dim):
        return self._scan(self.xp.cumsum, x, dim)

    def cumprod(self, x, *, dim):
        return self._scan(self.xp.cumprod, x, dim)

    def _scan(self, fn, x, dim):
        if x.dtype.kind in "biu":  # integers and bool accumulate in int64, as in PyTorch
            return fn(x, axis=dim, dtype=self.xp.int64).reshape(x.shape)  # 0-d stays 0-d
        if x.dtype in _LOW_PRECISION:  # half precision accumulates in float32, as in PyTorch
            return fn(x, axis=dim, dtype=self.xp.float32).astype(x.dtype).reshape(x.shape)
        return fn(x, axis=dim).reshape(x.shape)

    # ---------------------------------------------------------------- linear algebra
    def matmul(self, x, y):
        if x.dtype in _LOW_PRECISION and (self.xp is np or x.dtype != np.float16):
            # no half BLAS in numpy (nor bfloat16 in CuPy): accumulate in float32 and round once, as
            # PyTorch's CPU does; CuPy's float16 matmul is cuBLAS's, already accumulating in float32
            return self.xp.matmul(_to_float32(self.xp, x), _to_float32(self.xp, y)).astype(x.dtype)
        return self.xp.matmul(x, y)

    def einsum(self, *operands, equation):
        if operands[0].dtype in _LOW_PRECISION:  # numpy's einsum has no bfloat16 loop
            f32 = self.xp.float32
            out = self.xp.einsum(equation, *(o.astype(f32) for o in operands), optimize=len(operands) > 2)
            return out.astype(operands[0].dtype)
        return self.xp.einsum(equation, *operands, optimize=len(operands) > 2)

    # ---------------------------------------------------------------- views
    def view(self, x, *, shape):
        try:
            return self.xp.reshape(x, shape, copy=False)
        except ValueError:
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (at least one dimension "
                f"spans across two contiguous subspaces): cannot view shape {tuple(x.shape)} as "
                f"{tuple(shape)}. Use .reshape(...) instead.") from None

    def permute(self, x, *, dims):
        return self.xp.transpose(x, dims)

    def expand(self, x, *, shape):
        return self.xp.broadcast_to(x, shape)

    def basic_index(self, x, *, key):
        # a trailing Ellipsis keeps all-integer keys returning a 0-d view, not a scalar copy
        return x[key + (Ellipsis,)]

    def view_dtype(self, x, *, dtype):
        return x.view(dtype.numpy)

    def diagonal(self, x, *, offset, dim1, dim2):
        view = self.xp.diagonal(x, offset, dim1, dim2)
        if self.xp is np and x.flags.writeable:
            view.flags.writeable = True  # numpy hands out read-only diagonals; PyTorch's are writable
        return view

    def as_strided(self, x, *, size, stride, storage_offset, base_stride):
        # x is a base: its memory from its first element is the storage the strides count in
        tricks, item = self.xp.lib.stride_tricks, x.itemsize
        if any(s < 0 for s in x.strides):
            x = self.xp.ascontiguousarray(x)
        extent = 1 + sum((n - 1) * s // item for n, s in zip(x.shape, x.strides)) if x.size else 0
        raw = tricks.as_strided(x, shape=(extent,), strides=(item,))[storage_offset:]
        return tricks.as_strided(raw, shape=tuple(size), strides=tuple(s * item for s in stride))

    # ---------------------------------------------------------------- copies
    def clone(self, x):
        return self.xp.array(x, copy=True, order="C")

    def flip(self, x, *, dims):
        return self.xp.flip(x, dims).copy()

    def roll(self, x, *, shifts, dims):
        return self.xp.roll(x, shifts, dims)

    def cat(self, *xs, dim):
        return self.xp.concatenate(xs, axis=dim)

    def tril(self, x, *, diagonal):
        return self.xp.tril(x, diagonal)

    def triu(self, x, *, diagonal):
        return self.xp.triu(x, diagonal)

    # ---------------------------------------------------------------- indexing
    @staticmethod
    def _fill_key(key, indices):
        it = iter(indices)
        return tuple(next(it) if k == INDEX_SLOT else k for k in key)

    def index(self, x, *indices, key):
        return x[self._fill_key(key, indices)]

    def gather(self, x, index, *, dim):
        if x.ndim == 0:
            return self.xp.broadcast_to(x, index.shape).copy()  # a 0-d index (value 0) reads x
        # PyTorch allows an index smaller than x in the other dims: only that corner is read
        corner = tuple(slice(None) if d == dim else slice(0, s) for d, s in enumerate(index.shape))
        return self.xp.take_along_axis(x[corner], index, axis=dim)

    def scatter(self, x, index, src, *, dim, reduce):
        xp = self.xp
        if x.ndim == 0:  # a 0-d x is addressed by a 0-d index (value 0): scatter into its one element
            src = src.reshape(-1) if isinstance(src, xp.ndarray) else src
            return self.scatter(x.reshape(1), index.reshape(-1), src, dim=0, reduce=reduce).reshape(())
        out = x.copy()
        if not isinstance(src, xp.ndarray):
            src = xp.full(index.shape, src, dtype=x.dtype)
        # open index grids (numpy's indices(sparse=True), which CuPy lacks)
        grid = [xp.arange(s).reshape((1,) * i + (s,) + (1,) * (index.ndim - i - 1))
                for i, s in enumerate(index.shape)]
        grid[dim] = index
        grid = tuple(grid)
        src = src[tuple(slice(0, s) for s in index.shape)]
        if reduce is None:
            out[grid] = src
        elif reduce == "add":
            xp.add.at(out, grid, src)
        elif reduce == "multiply":
            xp.multiply.at(out, grid, src)
        elif reduce == "amax":
            xp.maximum.at(out, grid, src)
        elif reduce == "amin":
            xp.minimum.at(out, grid, src)
        else:
            raise ValueError(f"unknown scatter reduction '{reduce}'")
        return out

    def nonzero(self, x):
        return self.xp.stack(self.xp.nonzero(x), axis=-1).astype(self.xp.int64).reshape(-1, x.ndim)

    def sort(self, x, *, dim, descending, stable):
        xp = self.xp
        if descending:
            # a stable descending order: sort the reversed axis ascending, then reverse back
            idx = xp.flip(xp.argsort(xp.flip(x, dim), axis=dim, kind="stable"), dim)
            idx = x.shape[dim] - 1 - idx if x.ndim else idx
        else:
            idx = xp.argsort(x, axis=dim, kind="stable")
        if x.ndim == 0:
            return x.copy(), xp.zeros((), dtype=xp.int64)
        return xp.take_along_axis(x, idx, axis=dim), idx.astype(xp.int64)

    def unique(self, x, *, return_inverse, return_counts):
        xp = self.xp
        values, inverse, counts = xp.unique(x.reshape(-1), return_inverse=True, return_counts=True)
        return values, inverse.reshape(x.shape).astype(xp.int64), counts.astype(xp.int64)

    # ---------------------------------------------------------------- in place
    def copy_(self, dst, src):
        dst[...] = src
        return dst

    def index_put(self, dst, values, *indices, key, accumulate):
        full_key = self._fill_key(key, indices)
        if accumulate:
            self.xp.add.at(dst, full_key, values)
        else:
            dst[full_key] = values
        return dst

    # ---------------------------------------------------------------- fused optimizer updates
    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps,
                  weight_decay, step, decoupled_weight_decay, amsgrad, maximize):
        """ember.optim.Adam's update, written into the arrays: a few passes instead of ~15
        separate ops with temporaries."""
        xp = self.xp
        if maximize:
            grad = -grad
        if weight_decay:
            if decoupled_weight_decay:
                xp.multiply(param, 1 - lr * weight_decay, out=param)
            else:
                grad = grad + weight_decay * param
        # exp_avg += (1 - beta1) * (grad - exp_avg)  (lerp); exp_avg_sq = beta2 * v + (1 - beta2) * g^2
        exp_avg += (1 - beta1) * (grad - exp_avg)
        xp.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
        exp_avg_sq += (1 - beta2) * (grad * grad)
        second = exp_avg_sq
        if amsgrad:
            xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            second = max_exp_avg_sq
        denom = xp.sqrt(second)
        denom /= (1 - beta2 ** step) ** 0.5
        denom += eps
        denom = xp.divide(exp_avg, denom, out=denom)
        denom *= lr / (1 - beta1 ** step)
        param -= denom
        return None

    # ---------------------------------------------------------------- creation and random
    def full(self, *, shape, value, dtype, index):
        if dtype._ops is not None:  # float8: PyTorch's rounding; float4: zeros only (its one fill)
            if dtype.numpy == FLOAT4_NUMPY and value == 0:
                return np.zeros(shape, FLOAT4_NUMPY)
            return limited_cast(np.full(shape, value, dtype=np.float64), dtype.numpy, dtype.name)
        return self.xp.full(shape, value, dtype=dtype.numpy)

    def arange(self, *, start, end, step, dtype, index):
        r = self.xp.arange(start, end, step, dtype=np.float64 if dtype.is_floating_point else np.int64)
        return limited_cast(r, dtype.numpy, dtype.name) if dtype._ops is not None else r.astype(dtype.numpy)

    def philox_uniform(self, *, shape, dtype, seed, offset, index):
        _no_random_limited(dtype)
        # the same numbers as unit_uniform_for(philox_uniform(...)), in place: the top
        # `bits` bits of each word times 2**-bits, exact in float32 for float32 and smaller
        # dtypes (3x faster than the float64 detour; dropout masks draw these)
        bits = SIGNIFICAND_BITS.get(dtype.name, 53)
        words = philox_words(int(np.prod(shape, dtype=np.int64)), seed, offset)
        np.right_shift(words, np.uint64(64 - bits), out=words)
        work = np.float64 if bits > 24 else np.float32
        u = words.view(np.int64).astype(work)
        u *= work(2.0 ** -bits)
        return self.xp.asarray(u.reshape(shape)).astype(dtype.numpy, copy=False)

    def philox_normal(self, *, shape, dtype, seed, offset, index):
        _no_random_limited(dtype)
        return self.xp.asarray(philox_normal(shape, seed, offset)).astype(dtype.numpy)
