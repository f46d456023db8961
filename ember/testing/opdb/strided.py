"""OpInfos for explicitly strided views: ``as_strided`` and ``Tensor.unfold`` (sliding windows)."""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided as _np_as_strided

from ember.testing.opinfo import TRANSPOSED, OpInfo, SampleInput as S

_DTYPES = ("float32", "float64", "int64", "bool")
OPS = []


def _as_strided_ref(x, size, stride, storage_offset=0):
    flat = np.ascontiguousarray(x).reshape(-1)  # the samples' inputs are contiguous bases: storage = elements
    item = flat.itemsize
    return _np_as_strided(flat[storage_offset:], tuple(size), tuple(s * item for s in stride)).copy()


def _as_strided_samples(mk):
    yield S(mk(9), (3, 4), (1, 1), desc="overlapping_windows")
    yield S(mk(3, 4), (2, 2), (4, 1), 1, desc="offset_block")
    yield S(mk(6), (2, 3), (1, 2), desc="transposed_strides")
    yield S(mk(5), (), (), 4, desc="to_0d")
    yield S(mk(4), (2, 0), (1, 1), desc="empty")


def _unfold_ref(x, dimension, size, step):
    x = np.asarray(x)
    if x.ndim == 0:
        return x.reshape(1)
    d = dimension % x.ndim
    n = (x.shape[d] - size) // step + 1
    windows = [np.take(x, range(i * step, i * step + size), axis=d) for i in range(n)]
    return np.moveaxis(np.stack(windows, axis=d), d + 1, -1) if n else \
        np.zeros(x.shape[:d] + (0,) + x.shape[d + 1:] + (size,), x.dtype)


def _unfold_samples(mk):
    yield S(mk(10), 0, 4, 2, desc="1d_step")
    yield S(mk(3, 7), 1, 3, 1, desc="last_dim")
    yield S(mk(5, 2, 3), -3, 2, 3, desc="first_dim_sparse_steps")
    yield S(mk(4, 6), 0, 2, 1, desc="transposed", layout=TRANSPOSED)
    yield S(mk(), 0, 1, 1, desc="0d")


OPS.append(OpInfo("as_strided", method="as_strided", ref=_as_strided_ref, samples=_as_strided_samples,
                  dtypes=_DTYPES))
OPS.append(OpInfo("unfold", op=None, method="unfold", ref=_unfold_ref, samples=_unfold_samples, dtypes=_DTYPES))
