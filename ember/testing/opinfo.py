"""What the op database holds: ``OpInfo`` (one public op) and ``SampleInput`` (one call).

Samples are made of numpy arrays and Python values, never tensors: the runner builds
the tensors on the device under test, so one database serves every backend. A
``Maker`` hands sample generators seeded random arrays of the dtype under test.
"""
from __future__ import annotations

import math
import zlib

import numpy as np

from ember.testing import dtypes as D

CONTIGUOUS, TRANSPOSED, STRIDED = "contiguous", "transposed", "strided"


class SampleInput:
    """One call of an op: ``op(input, *args, **kwargs)``.

    Arrays anywhere in ``input``/``args``/``kwargs`` (also inside lists and tuples)
    become tensors on the device; everything else is passed as is. ``layout`` asks
    the runner to build every array argument as a non-contiguous view with the same
    values (TRANSPOSED: a transposed tensor; STRIDED: every other element of a
    larger tensor). ``grad=False`` leaves the sample out of gradient checks (points
    where the op is not differentiable); ``inplace=False`` out of in-place checks.
    """
    __slots__ = ("input", "args", "kwargs", "desc", "layout", "grad", "inplace")

    def __init__(self, input, *args, desc, kwargs=None, layout=CONTIGUOUS, grad=True, inplace=True):
        # numpy values are tensors (a numpy scalar is a 0-d one), Python values are scalars
        input, args, kwargs = _zero_dim_arrays((input, args, dict(kwargs or {})))
        self.input = input
        self.args = args
        self.kwargs = kwargs
        self.desc = desc
        self.layout = layout
        self.grad = grad
        self.inplace = inplace
        for a in _arrays((input, args, self.kwargs)):
            a.setflags(write=False)  # samples are shared between checks: never mutate them

    def operands(self):
        """The positional arrays and Python scalars: what takes part in dtype promotion."""
        return [o for o in (self.input, *self.args)
                if isinstance(o, (np.ndarray, bool, int, float, complex)) and o is not None]

    def __repr__(self):
        return f"SampleInput({self.desc})"


def _zero_dim_arrays(obj):
    if isinstance(obj, np.generic):
        return np.asarray(obj)
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_zero_dim_arrays(o) for o in obj)
    if isinstance(obj, list):
        return [_zero_dim_arrays(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _zero_dim_arrays(v) for k, v in obj.items()}
    return obj


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _arrays(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _arrays(o)


def map_arrays(obj, fn):
    """``obj`` with every numpy array ``a`` replaced by ``fn(a)`` (lists, tuples, dicts kept)."""
    if isinstance(obj, np.ndarray):
        return fn(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(map_arrays(o, fn) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_arrays(o, fn) for o in obj)
    if isinstance(obj, dict):
        return {k: map_arrays(v, fn) for k, v in obj.items()}
    return obj


# ---------------------------------------------------------------- result dtype rules
def same(sample, dtype):
    """The result has the dtype of the input (shape ops, neg, abs ...)."""
    return D.name_of(sample.input.dtype) if isinstance(sample.input, np.ndarray) else dtype


def promoted(sample, dtype):
    """PyTorch's promotion over every array and scalar operand (add, maximum ...)."""
    return D.result_type(*sample.operands())


def floating(sample, dtype):
    """Promotion, then integers and bool go to the default float (div, sqrt ...)."""
    return D.to_float(promoted(sample, dtype))


def boolean(sample, dtype):
    return "bool"


def int64(sample, dtype):
    return "int64"


def integer_to_int64(sample, dtype):
    """sum/prod/cumsum: integer and bool inputs accumulate in int64."""
    name = same(sample, dtype)
    return name if D.is_inexact(name) else "int64"


# ---------------------------------------------------------------- the op entry
class OpInfo:
    """Everything the runner needs to check one public op on any device.

    name        the id used in test names ("add", "sum_dim" ...)
    op          name of an ``ember`` function (default: ``name``), or a callable taking
                tensors; None when PyTorch has only the method (``Tensor.view``) or only
                the in-place form (``zero_``)
    method      name of the Tensor method, called as ``input.method(*args, **kwargs)``
    operator    a Python operator function (``operator.add``) called on the operands
                when the sample has no keyword arguments
    inplace     name of the in-place method (``"add_"``); ``inplace_operator`` likewise;
                ``inplace_dtypes`` where the in-place form differs (default: ``dtypes``)
    aliases     other ``ember`` function names that must give the same result
    ref         float64 numpy reference with the op's signature (arrays upcast: floats
                to float64, integers to int64, bool kept)
    samples     ``samples(maker) -> [SampleInput]``, ``maker.dtype`` is the dtype under test
    dtypes      the dtypes PyTorch supports for the op
    result_dtype  ``rule(sample, dtype) -> name`` (or a tuple of names, one per output)
    supports_grad  whether the op is differentiable (checked in float64)
    tol         {dtype: (rtol, atol)} where the op's error legitimately exceeds the default
    scalar_input  whether the function form accepts a Python scalar as its first operand
    ref_dtype   the reference also gets ``test_dtype=<name>`` (for results that depend on it)
    """

    def __init__(self, name, *, ref, samples, dtypes, result_dtype=same, op=..., method=None, operator=None,
                 inplace=None, inplace_operator=None, aliases=(), supports_grad=True, tol=None,
                 grad_tol=None, scalar_input=False, ref_dtype=False, inplace_dtypes=None, notes=""):
        self.name = name
        self.op = name if op is ... else op
        self.method = method
        self.operator = operator
        self.inplace = inplace
        self.inplace_operator = inplace_operator
        self.aliases = tuple(aliases)
        self.ref = ref
        self.sample_fn = samples
        self.dtypes = tuple(dtypes)
        self.result_dtype = result_dtype
        self.supports_grad = supports_grad
        self.tol = tol or {}
        self.grad_tol = grad_tol
        self.scalar_input = scalar_input
        self.ref_dtype = ref_dtype
        self.inplace_dtypes = tuple(inplace_dtypes) if inplace_dtypes is not None else self.dtypes
        self.notes = notes

    def __repr__(self):
        return f"OpInfo({self.name})"

    def samples(self, dtype: str) -> list:
        """The samples for ``dtype``: the same arrays every time (seeded by op and dtype)."""
        maker = Maker(dtype, seed=zlib.crc32(f"{self.name}/{dtype}".encode()))
        samples = list(self.sample_fn(maker))
        seen = {}
        for s in samples:  # make descriptions unique: they are test ids
            n = seen.get(s.desc, 0)
            seen[s.desc] = n + 1
            if n:
                s.desc = f"{s.desc}{n + 1}"
        return samples

    def expected_dtypes(self, sample, dtype):
        r = self.result_dtype(sample, dtype) if callable(self.result_dtype) else self.result_dtype
        return r


# ---------------------------------------------------------------- random inputs
_DEFAULT_RANGE = {"float": (-5.0, 5.0), "uint8": (0, 12), "int": (-9, 10)}


class Maker:
    """Seeded random numpy arrays in the dtype under test, with ranges suited to ops."""

    def __init__(self, dtype: str, seed: int = 0):
        self.dtype = dtype
        self.np_dtype = D.NUMPY[dtype]
        self.rng = np.random.default_rng(seed)
        self.is_float = D.is_float(dtype)
        self.is_complex = D.is_complex(dtype)
        self.is_bool = dtype == "bool"

    def __call__(self, *shape, low=None, high=None, dtype=None, nonzero=False):
        """Uniform values in [low, high) in ``dtype`` (integers: [ceil(low), ceil(high))).

        ``nonzero`` keeps values away from zero (divisors)."""
        dtype = dtype or self.dtype
        np_dtype = D.NUMPY[dtype]
        if dtype == "bool":
            return np.asarray(self.rng.random(shape) < 0.5)
        if D.is_complex(dtype):  # real and imaginary parts each uniform in [low, high)
            part = D.real_of(dtype)
            re = self(*shape, low=low, high=high, dtype=part)
            im = self(*shape, low=low, high=high, dtype=part)
            a = re.astype(np.float64) + 1j * im.astype(np.float64)
            if nonzero:  # keep |a| away from 0
                small = np.abs(a) < 0.5
                a = np.where(small, a + 0.5 * np.exp(1j * np.angle(a)), a)
            return np.asarray(a, dtype=np_dtype)
        if D.is_float(dtype):
            lo, hi = _DEFAULT_RANGE["float"]
            lo = lo if low is None else low
            hi = hi if high is None else high
            a = np.asarray(self.rng.uniform(lo, hi, size=shape))
            if nonzero:
                a = np.where(np.abs(a) < 0.25 * (hi - lo) / 10, np.copysign(0.25 * (hi - lo) / 10, a) + a, a)
            return np.asarray(a, dtype=np_dtype)
        info = np.iinfo(np_dtype)
        lo, hi = _DEFAULT_RANGE["uint8" if dtype == "uint8" else "int"]
        # integers in [ceil(low), ceil(high)): a float domain such as (0.1, 5) gives 1..4
        lo = max(math.ceil(lo if low is None else low), int(info.min))
        hi = min(math.ceil(hi if high is None else high), int(info.max) + 1)
        hi = max(hi, lo + 1)
        a = np.asarray(self.rng.integers(lo, hi, size=shape))
        if nonzero:
            a = np.where(a == 0, 1 if hi > 1 else -1, a)
        return np.asarray(a, dtype=np_dtype)

    def distinct(self, *shape, dtype=None, step=None):
        """Pairwise different values (no ties): for max/sort/topk and their gradients."""
        dtype = dtype or self.dtype
        n = int(np.prod(shape, dtype=np.int64))
        perm = self.rng.permutation(n)
        if dtype == "uint8":
            return perm.reshape(shape).astype(np.uint8)
        if D.is_float(dtype):
            values = (perm - n // 2) * (0.25 if step is None else step)
        else:
            values = perm - n // 2
        return values.reshape(shape).astype(D.NUMPY[dtype])

    def index(self, *shape, high):
        """int64 indices in [0, high)."""
        return np.asarray(self.rng.integers(0, high, size=shape), dtype=np.int64)

    def perm_index(self, n, k=None):
        """k distinct int64 indices in [0, n)."""
        return self.rng.permutation(n)[: n if k is None else k].astype(np.int64)

    def mask(self, *shape, p=0.5):
        return np.asarray(self.rng.random(shape) < p)

    def like(self, array, dtype):
        return np.asarray(array).astype(D.NUMPY[dtype])

    def scalar(self, kind):
        """A Python scalar exactly representable in every dtype (no rounding in the comparison)."""
        if kind == "int":
            return int(self.rng.integers(2, 4))
        if kind == "float":
            return float(self.rng.choice([-1.5, 0.75, 1.25, 2.5]))
        if kind == "bool":
            return True
        if kind == "complex":
            return complex(self.rng.choice([1.5 - 0.5j, 0.75 + 1.25j, -2.0 + 0.25j]))
        raise ValueError(kind)
