"""finfo / iinfo / can_cast: numeric facts about dtypes."""
import ml_dtypes
import numpy as np

from ember.core import dtype as dt


class finfo:
    def __init__(self, type=None):
        type = type or dt.get_default_dtype()
        if not type.is_floating_point:
            raise TypeError(f"finfo() requires a floating point dtype, got {type}")
        info = ml_dtypes.finfo(type.numpy)  # numpy's finfo does not know bfloat16
        self.dtype = type.name
        self.bits = info.bits
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = float(info.resolution)

    def __repr__(self):
        return f"finfo(resolution={self.resolution}, min={self.min}, max={self.max}, eps={self.eps}, " \
               f"smallest_normal={self.smallest_normal}, tiny={self.tiny}, dtype={self.dtype})"


class iinfo:
    def __init__(self, type):
        if type.is_floating_point:
            raise TypeError(f"iinfo() requires an integer dtype, got {type}")
        info = np.iinfo(type.numpy) if type is not dt.bool_ else None
        self.dtype = type.name
        self.bits = type.itemsize * 8
        self.max = 1 if info is None else int(info.max)
        self.min = 0 if info is None else int(info.min)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def can_cast(from_: dt.dtype, to: dt.dtype) -> bool:
    """PyTorch's rule: no cast to a lower category (float -> int, int -> bool)."""
    return from_.category <= to.category
