"""dtype objects and PyTorch's type-promotion rules.

A dtype names an element type independently of any backend; each backend maps it
to its own native type. Promotion follows PyTorch: categories bool < integer <
floating < complex, and operands take part by priority (tensors with dimensions, then 0-d
tensors, then Python scalars), a lower-priority operand only mattering when it is
of a higher category.

PyTorch's limited dtypes (uint16/32/64, the five float8 types, float4_e2m1fn_x2) are here too,
outside ``ALL_DTYPES``: the "limited dtypes" section below says what runs on them and where.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

BOOL, INT, FLOAT, COMPLEX = 0, 1, 2, 3  # promotion categories


class dtype:
    """An element type, such as ``ember.float32`` or ``ember.int64``.

    The dtypes are fixed objects of the ``ember`` module (compare them with ``is`` or ``==``);
    this class is not meant to be instantiated by users. PyTorch's other names are there too:
    ``ember.float``, ``ember.double``, ``ember.half``, ``ember.int``, ``ember.long``, ``ember.short``,
    ``ember.cfloat`` (``complex64``) and ``ember.cdouble`` (``complex128``). PyTorch's limited dtypes
    ``ember.uint16``, ``uint32``, ``uint64``, ``float8_e4m3fn``, ``float8_e4m3fnuz``, ``float8_e5m2``,
    ``float8_e5m2fnuz``, ``float8_e8m0fnu`` and ``float4_e2m1fn_x2`` run only some ops (see below).

    Attributes:
        name: the dtype's name, e.g. ``"float32"``.
        itemsize: the size of one element in bytes.
        is_signed: whether the type can hold negative values.
        numpy: the matching ``numpy.dtype``.
    """
    __slots__ = ("name", "itemsize", "category", "is_signed", "numpy", "_rank", "_ops")

    def __init__(self, name, itemsize, category, is_signed, numpy_type, rank, ops=None):
        self.name = name
        self.itemsize = itemsize
        self.category = category
        self.is_signed = is_signed
        self.numpy = np.dtype(numpy_type)
        self._rank = rank
        self._ops = ops  # None: every op; else the primitives that run on it (the limited dtypes below)

    @property
    def is_floating_point(self) -> bool:
        """Whether this is a floating-point type (``float16``, ``bfloat16``, ``float32``, ``float64``)."""
        return self.category == FLOAT

    @property
    def is_complex(self) -> bool:
        """Whether this is a complex type (``complex64``, ``complex128``)."""
        return self.category == COMPLEX

    def to_real(self):
        """The real counterpart of a complex type (``complex64`` -> ``float32``); a real dtype itself.

        Returns:
            An ``ember.dtype``.
        """
        return _TO_REAL.get(self, self)

    def to_complex(self):
        """The complex counterpart of a floating type (``float32`` -> ``complex64``); a complex dtype itself.

        Returns:
            An ``ember.dtype``.

        Raises:
            RuntimeError: for ``bool`` and integer dtypes, which have none.
        """
        if self.category == COMPLEX:
            return self
        if self in LIMITED_DTYPES:
            raise RuntimeError(f"Unknown Complex ScalarType for {_CPP_NAMES[self]}")
        if self.category != FLOAT:
            raise RuntimeError(f"to_complex is only supported for floating point dtypes, got {self}")
        return complex128 if self is float64 else complex64

    def __repr__(self):
        return f"ember.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))


bool_ = dtype("bool", 1, BOOL, False, np.bool_, 0)
uint8 = dtype("uint8", 1, INT, False, np.uint8, 1)
int8 = dtype("int8", 1, INT, True, np.int8, 2)
int16 = dtype("int16", 2, INT, True, np.int16, 3)
int32 = dtype("int32", 4, INT, True, np.int32, 4)
int64 = dtype("int64", 8, INT, True, np.int64, 5)
float16 = dtype("float16", 2, FLOAT, True, np.float16, 6)
bfloat16 = dtype("bfloat16", 2, FLOAT, True, ml_dtypes.bfloat16, 7)
float32 = dtype("float32", 4, FLOAT, True, np.float32, 8)
float64 = dtype("float64", 8, FLOAT, True, np.float64, 9)
complex64 = dtype("complex64", 8, COMPLEX, True, np.complex64, 10)
complex128 = dtype("complex128", 16, COMPLEX, True, np.complex128, 11)

ALL_DTYPES = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64, complex128)
REAL_DTYPES = ALL_DTYPES[:-2]
FLOATING_DTYPES = (float16, bfloat16, float32, float64)
COMPLEX_DTYPES = (complex64, complex128)
INTEGER_DTYPES = (uint8, int8, int16, int32, int64)
_TO_REAL = {complex64: float32, complex128: float64}

# PyTorch's aliases
half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
cfloat, cdouble = complex64, complex128

# ---------------------------------------------------------------- limited dtypes
# PyTorch's dtypes that few of its CPU kernels take. They stay out of the tuples above (those drive the
# conformance sweeps and generic code) and behave as in PyTorch 2.13 on the CPU:
#
# - uint16/32/64 (numpy-native): every op runs, in numpy's unsigned arithmetic (wrapping like uint8);
#   PyTorch computes only a subset (mul, div, eq, &|^, sum -> int64, cat, indexing, sort, ...) and
#   raises NotImplementedError for the rest (add, lt, max, neg, matmul, ...), where ember gives the
#   exact unsigned result instead. Promotion with any integer, bool or complex type raises PyTorch's
#   RuntimeError; with a floating type it gives that type.
# - the five float8 types (ml_dtypes' arrays on the CPU): only the primitives PyTorch runs on them
#   (``_ops`` below: casts, eq/ne, layout and indexing, where, cat; abs and tensor*tensor mul, which
#   round once from float32, and matmul, which accumulates in float32 and rounds once, except for
#   e8m0fnu); any other primitive raises NotImplementedError naming the op and dtype, as PyTorch's
#   kernels do. Conversions round and saturate bit for bit as PyTorch's (e4m3fn saturates to +-448,
#   the fnuz types give nan, e8m0fnu takes the magnitude). Promotion with any other dtype raises.
# - float4_e2m1fn_x2: two fp4 values packed in one byte (numpy storage: one opaque byte, ``V1``);
#   only creation of zeros/empty, views, reshapes, indexing, clone/copy between float4 tensors.
# Devices: cpu has them all; cuda/rocm (CuPy) and mps (MLX) have uint16/32/64 and raise TypeError
# for float8/float4 naming the dtype and device; opencl keeps uint16/32/64 natively.
_LAYOUT_OPS = frozenset({"view", "permute", "expand", "basic_index", "diagonal", "as_strided", "view_dtype",
                         "clone", "copy_", "cat", "index", "full"})
_FLOAT8_OPS = _LAYOUT_OPS | {"cast", "eq", "ne", "where", "roll", "index_put", "any", "all", "isnan", "abs",
                             }  # (mul and matmul: the op layer computes them in float32, see ember/ops/limited.py)
_E8M0_OPS = _FLOAT8_OPS - {"abs", "matmul", "index_put"}
uint16 = dtype("uint16", 2, INT, False, np.uint16, 12)
uint32 = dtype("uint32", 4, INT, False, np.uint32, 13)
uint64 = dtype("uint64", 8, INT, False, np.uint64, 14)
float8_e4m3fn = dtype("float8_e4m3fn", 1, FLOAT, True, ml_dtypes.float8_e4m3fn, 15, _FLOAT8_OPS)
float8_e4m3fnuz = dtype("float8_e4m3fnuz", 1, FLOAT, True, ml_dtypes.float8_e4m3fnuz, 16, _FLOAT8_OPS)
float8_e5m2 = dtype("float8_e5m2", 1, FLOAT, True, ml_dtypes.float8_e5m2, 17, _FLOAT8_OPS | {"isinf"})
float8_e5m2fnuz = dtype("float8_e5m2fnuz", 1, FLOAT, True, ml_dtypes.float8_e5m2fnuz, 18, _FLOAT8_OPS)
float8_e8m0fnu = dtype("float8_e8m0fnu", 1, FLOAT, False, ml_dtypes.float8_e8m0fnu, 19, _E8M0_OPS)
float4_e2m1fn_x2 = dtype("float4_e2m1fn_x2", 1, FLOAT, True, np.dtype("V1"), 20, _LAYOUT_OPS)
UNSIGNED_DTYPES = (uint16, uint32, uint64)
FLOAT8_DTYPES = (float8_e4m3fn, float8_e4m3fnuz, float8_e5m2, float8_e5m2fnuz, float8_e8m0fnu)
LIMITED_DTYPES = UNSIGNED_DTYPES + FLOAT8_DTYPES + (float4_e2m1fn_x2,)

_BY_NAME = {d.name: d for d in ALL_DTYPES + LIMITED_DTYPES}
_BY_NUMPY = {d.numpy: d for d in ALL_DTYPES + LIMITED_DTYPES}
# PyTorch's C++ scalar-type names, as its messages spell them
_CPP_NAMES = dict(zip(ALL_DTYPES + LIMITED_DTYPES, (
    "Bool", "Byte", "Char", "Short", "Int", "Long", "Half", "BFloat16", "Float", "Double", "ComplexFloat",
    "ComplexDouble", "UInt16", "UInt32", "UInt64", "Float8_e4m3fn", "Float8_e4m3fnuz", "Float8_e5m2",
    "Float8_e5m2fnuz", "Float8_e8m0fnu", "Float4_e2m1fn_x2")))


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The ember dtype of a numpy dtype; TypeError for types ember lacks."""
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(f"numpy dtype {np.dtype(np_dtype)} has no ember equivalent; "
                        f"supported: {', '.join(d.name for d in ALL_DTYPES + LIMITED_DTYPES)}") from None


# ---------------------------------------------------------------- promotion
_default_dtype = float32


def get_default_dtype() -> dtype:
    """The floating-point dtype that floats get when no dtype is given (initially ``ember.float32``).

    It is used, for example, by ``ember.tensor([1.5])``, ``ember.zeros(3)`` and ``ember.rand(2)``.

    Returns:
        The current default dtype.
    """
    return _default_dtype


def set_default_dtype(d: dtype) -> None:
    """Set the floating-point dtype that floats get when no dtype is given.

    Args:
        d: the new default; a floating-point ``ember.dtype``.

    Raises:
        TypeError: if ``d`` is not an ``ember.dtype`` or is not floating point.
    """
    global _default_dtype
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d


def _promote_pair(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if COMPLEX in (a.category, b.category):
        # complex with anything: complex of the wider float precision among the two
        return complex128 if float64 in (a, b) or complex128 in (a, b) else complex64
    if a.category != b.category:
        return a if a.category > b.category else b
    if a.category == FLOAT:
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if a._rank > b._rank else b
    if a.category == INT:
        if a is uint8 or b is uint8:
            other = b if a is uint8 else a
            # uint8 with a signed type: the smallest signed type holding both
            return int16 if other is int8 else other
        return a if a._rank > b._rank else b
    return a


_PROMOTE = {(a, b): _promote_pair(a, b) for a in ALL_DTYPES for b in ALL_DTYPES}


def _promote_limited(a: dtype, b: dtype) -> dtype:
    """PyTorch's rule for a pair with a limited dtype: the result, or its RuntimeError."""
    if a is b:
        return a
    if a in FLOAT8_DTYPES or b in FLOAT8_DTYPES:
        raise RuntimeError(f"Promotion for Float8 Types is not supported, attempted to promote "
                           f"{_CPP_NAMES[a]} and {_CPP_NAMES[b]}")
    if float4_e2m1fn_x2 in (a, b):
        other = b if a is float4_e2m1fn_x2 else a
        if other in UNSIGNED_DTYPES:  # (PyTorch's table lets the unsigned types through)
            return float4_e2m1fn_x2
        raise RuntimeError(f"Promotion for {_CPP_NAMES[a]} and {_CPP_NAMES[b]} is not supported")
    other = b if a in UNSIGNED_DTYPES else a
    if other.category == FLOAT:  # uint16/32/64 with a floating type: that type
        return other
    raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                       f"{_CPP_NAMES[a]} and {_CPP_NAMES[b]}")


def _limited_pairs():
    pairs = {}
    for a in ALL_DTYPES + LIMITED_DTYPES:
        for b in LIMITED_DTYPES:
            for x, y in ((a, b), (b, a)):
                try:
                    pairs[(x, y)] = _promote_limited(x, y)
                except RuntimeError:
                    pass  # left out: promote_types' KeyError path raises it
    return pairs


_PROMOTE.update(_limited_pairs())  # the allowed pairs stay one dict lookup


def promote_types(a: dtype, b: dtype) -> dtype:
    """The dtype an operation combining ``a`` and ``b`` produces, by PyTorch's promotion rules.

    A complex type wins over every real one (with a float type: the complex type of the wider
    precision, ``float64`` with ``complex64`` gives ``complex128``), a floating type over an
    integer one, and an integer one over ``bool``; within a kind the wider type wins. ``uint8``
    with a signed integer gives ``int16`` (with ``int8``) or the signed type, and ``float16``
    with ``bfloat16`` gives ``float32``.

    Args:
        a: a dtype.
        b: another dtype.

    Returns:
        The promoted dtype; the order of ``a`` and ``b`` does not matter.

    Raises:
        RuntimeError: for the pairs PyTorch refuses: a float8 type with any other dtype, uint16/32/64
            with any non-floating dtype, float4_e2m1fn_x2 with anything but itself and the unsigned types.
    """
    try:
        return _PROMOTE[(a, b)]
    except KeyError:
        if not (isinstance(a, dtype) and isinstance(b, dtype)):
            raise TypeError(f"promote_types(): expected two dtypes, got {type(a).__name__} and "
                            f"{type(b).__name__}") from None
        return _promote_limited(a, b)


def scalar_dtype(value) -> dtype:
    """The dtype a Python scalar would get as a tensor by itself."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (builtins_int, np.integer)):
        return int64
    if isinstance(value, (builtins_float, np.floating)):
        return _default_dtype
    if isinstance(value, (builtins_complex, np.complexfloating)):
        return default_complex_dtype()
    raise TypeError(f"expected a number, got {type(value).__name__}")


import builtins as _builtins  # noqa: E402  (int/float are shadowed by the aliases above)

builtins_int, builtins_float, builtins_complex = _builtins.int, _builtins.float, _builtins.complex


def default_complex_dtype() -> dtype:
    """The complex dtype matching the default float dtype (``complex128`` when it is ``float64``)."""
    return complex128 if _default_dtype is float64 else complex64


def _combine(higher: dtype, lower: dtype) -> dtype:
    # a lower-priority complex operand keeps a floating result's precision (float64 + 1j -> complex128)
    if lower.category == COMPLEX and higher.category == FLOAT:
        return higher.to_complex()
    return lower


def result_dtype(dim_dtype, zero_dim_dtype, scalar_cat):
    """Combine the three priority groups; any may be None (scalar_cat is a category)."""
    result = dim_dtype
    if zero_dim_dtype is not None and (result is None or zero_dim_dtype.category > result.category):
        result = zero_dim_dtype if result is None else _combine(result, zero_dim_dtype)
    if scalar_cat is not None and (result is None or scalar_cat > result.category):
        scalar = (bool_, int64, _default_dtype, default_complex_dtype())[scalar_cat]
        result = scalar if result is None else _combine(result, scalar)
    return result


# ---------------------------------------------------------------- numpy casts for float8 / float4
# Casts to and from the float8 and float4 dtypes on numpy arrays, rounding as PyTorch 2.13 does.
#
# ml_dtypes supplies the float8 numpy types and their round-to-nearest-even conversions; PyTorch's
# differ in three places, fixed up here: float8_e4m3fn saturates finite overflow and infinities to
# +-448 (ml_dtypes gives nan), float8_e5m2's nan is the bit pattern 0x7f (ml_dtypes: 0x7e), and
# float8_e8m0fnu takes the magnitude (the sign is ignored) and maps zero to its smallest value 2**-127.
# Values reach a float8 type through float32 (float64 directly), as PyTorch's conversions do, and
# leave it through float32, so the float32 cast rules (e.g. nan -> int64 minimum) apply after.
# float4_e2m1fn_x2 is opaque bytes: PyTorch 2.13 casts nothing to or from it.


_E4M3FN = np.dtype(ml_dtypes.float8_e4m3fn)
_E5M2 = np.dtype(ml_dtypes.float8_e5m2)
_E8M0 = np.dtype(ml_dtypes.float8_e8m0fnu)
FLOAT8_NUMPY = frozenset(np.dtype(getattr(ml_dtypes, n)) for n in (
    "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu"))
FLOAT4_NUMPY = np.dtype("V1")
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def to_float8(x: np.ndarray, target: np.dtype) -> np.ndarray:
    """``x`` (any real or complex numpy array) converted to the float8 numpy dtype ``target``."""
    if x.dtype.kind == "c":
        x = x.real
    if x.dtype != _F64 and x.dtype != _F32:
        x = x.astype(_F32)  # ints, bool, half, bfloat16 and other float8 types: exactly, or rounded once
    if target == _E8M0:
        out = np.abs(x).astype(target)
        return np.where(x == 0, np.zeros((), np.uint8).view(target), out)
    out = x.astype(target)
    if target == _E4M3FN:
        overflow = np.isnan(out) & ~np.isnan(x)
        if overflow.any():
            out = np.where(overflow, np.copysign(np.float32(448.0), x).astype(target), out)
    elif target == _E5M2:
        nan = np.isnan(x)
        if nan.any():
            out = np.where(nan, (np.signbit(x).astype(np.uint8) << 7 | 0x7F).view(target), out)
    return out


def limited_cast(x: np.ndarray, target_numpy: np.dtype, target_name: str) -> np.ndarray:
    """The cast kernel for a source or target that is float8 or float4 (numpy arrays only)."""
    if target_numpy == FLOAT4_NUMPY or x.dtype == FLOAT4_NUMPY:
        if x.dtype == target_numpy:
            return x.copy()
        raise NotImplementedError(f"\"copy_kernel\" not implemented for 'Float4_e2m1fn_x2' (cast to {target_name})")
    if target_numpy in FLOAT8_NUMPY:
        if x.dtype == target_numpy:
            return x.copy()
        return to_float8(x, target_numpy)
    # from float8: exactly to float32, then the ordinary float32 cast
    wide = x.astype(_F32)
    if target_numpy.kind == "b":
        return wide != 0
    return wide.astype(target_numpy)
