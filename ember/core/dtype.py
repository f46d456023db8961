"""dtype objects and PyTorch's type-promotion rules.

A dtype names an element type independently of any backend; each backend maps it
to its own native type. Promotion follows PyTorch: categories bool < integer <
floating < complex, and operands take part by priority (tensors with dimensions, then 0-d
tensors, then Python scalars), a lower-priority operand only mattering when it is
of a higher category.
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
    ``ember.cfloat`` (``complex64``) and ``ember.cdouble`` (``complex128``).

    Attributes:
        name: the dtype's name, e.g. ``"float32"``.
        itemsize: the size of one element in bytes.
        is_signed: whether the type can hold negative values.
        numpy: the matching ``numpy.dtype``.
    """
    __slots__ = ("name", "itemsize", "category", "is_signed", "numpy", "_rank")

    def __init__(self, name, itemsize, category, is_signed, numpy_type, rank):
        self.name = name
        self.itemsize = itemsize
        self.category = category
        self.is_signed = is_signed
        self.numpy = np.dtype(numpy_type)
        self._rank = rank

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

_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NUMPY = {d.numpy: d for d in ALL_DTYPES}


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The ember dtype of a numpy dtype; TypeError for types ember lacks."""
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(f"numpy dtype {np.dtype(np_dtype)} has no ember equivalent; "
                        f"supported: {', '.join(d.name for d in ALL_DTYPES)}") from None


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
    """
    return _PROMOTE[(a, b)]


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
