"""finfo / iinfo / can_cast: numeric facts about dtypes."""
import ml_dtypes
import numpy as np

from ember.core import dtype as dt


class finfo:
    """Numeric limits of a floating-point dtype.

    Args:
        type: a floating-point or complex ``ember.dtype`` (default: ``ember.get_default_dtype()``); a
            complex dtype has the limits of its real part, as in PyTorch.

    Raises:
        TypeError: if ``type`` is not a floating-point dtype.

    Attributes:
        dtype: the dtype's name, e.g. ``"float32"``.
        bits: the number of bits of one value.
        eps: the difference between ``1.0`` and the next larger representable value.
        max: the largest finite value.
        min: the most negative finite value (``-max``).
        tiny: the smallest positive normal value; ``smallest_normal`` is the same.
        resolution: the approximate decimal resolution, ``10 ** -precision``.
    """

    def __init__(self, type=None):
        type = (type or dt.get_default_dtype()).to_real()
        if not type.is_floating_point or type is dt.float4_e2m1fn_x2:  # (packed pairs: no limits in PyTorch)
            raise TypeError(f"finfo() requires a floating point dtype, got {type}")
        info = ml_dtypes.finfo(type.numpy)  # numpy's finfo does not know bfloat16
        self.dtype = type.name
        self.bits = info.bits
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # exactly a power of ten, as PyTorch reports it
        if type in dt.FLOAT8_DTYPES:  # PyTorch's float8 facts: resolution 10 ** -floor(-log10(eps)) ...
            self.resolution = float(10.0 ** -np.floor(-np.log10(self.eps)))
            if type is dt.float8_e5m2fnuz:  # ... and an e5m2fnuz eps of 2**-3 (ml_dtypes: 2**-2)
                self.eps = 0.125

    def __repr__(self):
        return f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, eps={self.eps}, " \
               f"smallest_normal={self.smallest_normal}, tiny={self.tiny}, dtype={self.dtype})"


class iinfo:
    """Numeric limits of an integer dtype.

    Args:
        type: an integer ``ember.dtype``.

    Raises:
        TypeError: if ``type`` is a floating-point dtype or ``ember.bool``, as in PyTorch.

    Attributes:
        dtype: the dtype's name, e.g. ``"int32"``.
        bits: the number of bits of one value.
        max: the largest value.
        min: the smallest value.
    """

    def __init__(self, type):
        if type.is_floating_point or type.is_complex:
            raise TypeError(f"iinfo() requires an integer dtype, got {type}")
        if type is dt.bool_:
            raise TypeError(f"{type} is not supported by ember.iinfo")
        info = np.iinfo(type.numpy)
        self.dtype = type.name
        self.bits = type.itemsize * 8
        self.max = int(info.max)
        self.min = int(info.min)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def can_cast(from_: dt.dtype, to: dt.dtype) -> bool:
    """Whether PyTorch's casting rule allows converting ``from_`` to ``to``.

    A cast is allowed unless it goes to a lower kind: floating to integer or ``bool``, or
    integer to ``bool``. Casts within a kind are allowed, even narrowing ones.

    Args:
        from_: the source dtype.
        to: the target dtype.

    Returns:
        ``True`` if the cast is allowed.
    """
    return from_.category <= to.category
