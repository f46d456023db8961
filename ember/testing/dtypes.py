"""dtypes as the conformance suite sees them: names, numpy types, groups, PyTorch's
promotion rules (written independently of ``ember.core.dtype``, so the suite checks
ember's promotion rather than repeating it) and per-dtype comparison tolerances.

Dtypes are named by strings ("float32", "bool", ...) throughout ``ember.testing`` so
that an OpInfo never needs a backend to exist.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

NUMPY = {
    "bool": np.dtype(np.bool_), "uint8": np.dtype(np.uint8), "int8": np.dtype(np.int8),
    "int16": np.dtype(np.int16), "int32": np.dtype(np.int32), "int64": np.dtype(np.int64),
    "float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float32": np.dtype(np.float32), "float64": np.dtype(np.float64),
    "complex64": np.dtype(np.complex64), "complex128": np.dtype(np.complex128),
}
_NAME_OF = {v: k for k, v in NUMPY.items()}

FLOATS = ("float32", "float64", "float16", "bfloat16")
SIGNED = ("int64", "int32", "int8")
INTS = SIGNED + ("uint8",)
ALL = FLOATS + INTS + ("bool",)
ALL_BUT_BOOL = FLOATS + INTS
INTS_AND_BOOL = INTS + ("bool",)
COMPLEX = ("complex64", "complex128")

# promotion categories and, within a category, the order of "wider" types
_CATEGORY = {"bool": 0, "uint8": 1, "int8": 1, "int16": 1, "int32": 1, "int64": 1,
             "float16": 2, "bfloat16": 2, "float32": 2, "float64": 2, "complex64": 3, "complex128": 3}
_INT_RANK = {"int8": 1, "int16": 2, "int32": 3, "int64": 4}
_FLOAT_RANK = {"float16": 1, "bfloat16": 1, "float32": 2, "float64": 3}
DEFAULT_FLOAT = "float32"
DEFAULT_COMPLEX = "complex64"  # the complex dtype of the default float


def name_of(np_dtype) -> str:
    """The dtype name of a numpy dtype (bfloat16 comes from ml_dtypes)."""
    return _NAME_OF[np.dtype(np_dtype)]


def is_float(name: str) -> bool:
    return _CATEGORY[name] == 2


def is_float_array(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype in _NAME_OF and is_float(name_of(a.dtype))


def is_complex(name: str) -> bool:
    return _CATEGORY[name] == 3


def is_complex_array(a) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "c"


def is_inexact(name: str) -> bool:
    """Floating or complex: the dtypes compared with a tolerance and differentiated."""
    return _CATEGORY[name] >= 2


def is_inexact_array(a) -> bool:
    return is_float_array(a) or is_complex_array(a)


def real_of(name: str) -> str:
    """The real dtype of a complex one (complex64 -> float32); a real dtype itself."""
    return {"complex64": "float32", "complex128": "float64"}.get(name, name)


def _complex_of(name: str) -> str:
    return "complex128" if name in ("float64", "complex128") else "complex64"


def category(name: str) -> int:
    return _CATEGORY[name]


def promote_types(a: str, b: str) -> str:
    """``torch.promote_types`` for two dtype names."""
    if a == b:
        return a
    ca, cb = _CATEGORY[a], _CATEGORY[b]
    if 3 in (ca, cb):  # complex: of the wider float precision of the two
        return "complex128" if "complex128" in (a, b) or "float64" in (a, b) else "complex64"
    if ca != cb:
        return a if ca > cb else b
    if ca == 2:
        if {a, b} == {"float16", "bfloat16"}:
            return "float32"  # neither holds the other: the smallest type holding both
        return a if _FLOAT_RANK[a] > _FLOAT_RANK[b] else b
    if ca == 1:
        if "uint8" in (a, b):
            other = b if a == "uint8" else a
            # uint8 with a signed type: the smallest signed type holding both
            return "int16" if other == "int8" else other
        return a if _INT_RANK[a] > _INT_RANK[b] else b
    return a


def scalar_category(value) -> int:
    if isinstance(value, (bool, np.bool_)):
        return 0
    if isinstance(value, (int, np.integer)):
        return 1
    if isinstance(value, (float, np.floating)):
        return 2
    if isinstance(value, (complex, np.complexfloating)):
        return 3
    raise TypeError(f"not a Python scalar: {value!r}")


def result_type(*operands) -> str:
    """``torch.result_type`` over numpy arrays (standing for tensors) and Python scalars.

    Three priority groups: tensors with dimensions, 0-d tensors, Python scalars. A
    lower group only matters when its category is higher than the result so far; a
    Python scalar then contributes its default type (bool, int64, the default float).
    """
    dims = zero = None
    scalar_cat = None
    for x in operands:
        if x is None:
            continue
        if isinstance(x, np.ndarray):
            n = name_of(x.dtype)
            if x.ndim:
                dims = n if dims is None else promote_types(dims, n)
            else:
                zero = n if zero is None else promote_types(zero, n)
        else:
            c = scalar_category(x)
            scalar_cat = c if scalar_cat is None else max(scalar_cat, c)
    result = dims
    if zero is not None and (result is None or _CATEGORY[zero] > _CATEGORY[result]):
        result = _joined(result, zero)
    if scalar_cat is not None and (result is None or scalar_cat > _CATEGORY[result]):
        result = _joined(result, ("bool", "int64", DEFAULT_FLOAT, DEFAULT_COMPLEX)[scalar_cat])
    return result


def _joined(result, lower):
    """A lower-priority operand of a higher category: it decides, except that a complex one keeps a
    floating result's precision (float64 tensor + 1j is complex128)."""
    if result is not None and _CATEGORY[lower] == 3 and _CATEGORY[result] == 2:
        return _complex_of(result)
    return lower


def to_float(name: str) -> str:
    """The dtype of an op that always computes in floating point (``sqrt``, ``div``)."""
    return name if is_inexact(name) else DEFAULT_FLOAT


def can_cast(src: str, dst: str) -> bool:
    """Whether an in-place op may write a ``src`` result into a ``dst`` tensor."""
    return _CATEGORY[src] <= _CATEGORY[dst]


# ---------------------------------------------------------------- tolerances
#: (rtol, atol) for comparing a result of this dtype with the float64 reference
TOLERANCES = {
    "float64": (1e-7, 1e-10),
    "float32": (1e-5, 1e-5),
    "float16": (1e-2, 1e-3),
    "bfloat16": (2e-2, 1e-2),
    "complex128": (1e-7, 1e-10),  # complex results: the tolerance of their real parts
    "complex64": (1e-5, 1e-5),
}
EXACT = (0.0, 0.0)


def tolerance(name: str, overrides=None) -> tuple:
    if overrides and name in overrides:
        return overrides[name]
    return TOLERANCES.get(name, EXACT)
