"""``CLArray``: the OpenCL backend's native array — a buffer, an element offset, a shape,
strides in elements and a numpy dtype.

Views (view, permute, expand, basic_index, diagonal, flip's reversal) are new
``CLArray`` objects over the same ``Storage``: pure metadata, so an in-place write
through a view reaches its base with no copy. Kernels read any strides (negative and
zero included) by index arithmetic.
"""
from __future__ import annotations

import numpy as np


class Storage:
    """One device allocation, shared by an array and all its views; frees itself on GC."""
    __slots__ = ("buf", "nbytes", "state", "__weakref__")

    def __init__(self, state, nbytes: int):
        self.state = state
        self.nbytes = int(nbytes)
        self.buf = state.allocate(self.nbytes)

    def __del__(self):
        try:
            self.state.release(self.nbytes)
        except Exception:
            pass


class _Flags:
    __slots__ = ("c_contiguous", "f_contiguous", "writeable")

    def __init__(self, c, f):
        self.c_contiguous, self.f_contiguous, self.writeable = c, f, True


def contiguous_strides(shape) -> tuple:
    strides, step = [], 1
    for s in reversed(shape):
        strides.append(step)
        step *= max(s, 1)
    return tuple(reversed(strides))


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


class CLArray:
    __slots__ = ("storage", "offset", "shape", "estrides", "dtype", "__weakref__")

    def __init__(self, storage: Storage, offset: int, shape, estrides, dtype):
        self.storage = storage
        self.offset = int(offset)
        self.shape = tuple(int(s) for s in shape)
        self.estrides = tuple(int(s) for s in estrides)
        self.dtype = np.dtype(dtype)

    @classmethod
    def empty(cls, state, shape, dtype):
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in shape)
        return cls(Storage(state, _numel(shape) * dtype.itemsize), 0, shape, contiguous_strides(shape), dtype)

    # ---- numpy-like description
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return _numel(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def strides(self) -> tuple:
        """Strides in bytes, as numpy gives them (``Tensor.stride()`` divides by the itemsize)."""
        return tuple(s * self.dtype.itemsize for s in self.estrides)

    @property
    def flags(self):
        return _Flags(self.is_contiguous(), self.is_f_contiguous())

    @property
    def state(self):
        return self.storage.state

    @property
    def device_index(self) -> int:
        return self.storage.state.index

    def is_contiguous(self) -> bool:
        step = 1
        for s, st in zip(reversed(self.shape), reversed(self.estrides)):
            if s == 0:
                return True
            if s != 1 and st != step:
                return False
            step *= s
        return True

    def is_f_contiguous(self) -> bool:
        step = 1
        for s, st in zip(self.shape, self.estrides):
            if s == 0:
                return True
            if s != 1 and st != step:
                return False
            step *= s
        return True

    def with_layout(self, shape, estrides, offset=None) -> "CLArray":
        """A view of the same storage."""
        return CLArray(self.storage, self.offset if offset is None else offset, shape, estrides, self.dtype)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __repr__(self):
        return (f"CLArray(shape={self.shape}, dtype={self.dtype}, strides={self.estrides}, offset={self.offset}, "
                f"device=opencl:{self.device_index})")


# ---------------------------------------------------------------- layout helpers
def broadcast_strides(a: CLArray, shape) -> tuple:
    """``a``'s strides for a broadcast to ``shape`` (zero where it is broadcast)."""
    nd = len(shape)
    pad = nd - a.ndim
    out = []
    for i, s in enumerate(shape):
        j = i - pad
        if j < 0 or a.shape[j] == 1 and s != 1:
            out.append(0)
        else:
            out.append(a.estrides[j])
    return tuple(out)


def merge_dims(shape, strides_list):
    """Drop size-1 dims and merge adjacent dims every operand walks contiguously.

    Returns (shape, [strides per operand]); an empty shape means a single element.
    """
    dims = [i for i, s in enumerate(shape) if s != 1]
    new_shape, new_strides = [], [[] for _ in strides_list]
    for i in dims:
        if new_shape and all(st[i] * shape[i] == ns[-1] for st, ns in zip(strides_list, new_strides)):
            new_shape[-1] *= shape[i]
            for st, ns in zip(strides_list, new_strides):
                ns[-1] = st[i]
        else:
            new_shape.append(shape[i])
            for st, ns in zip(strides_list, new_strides):
                ns.append(st[i])
    return tuple(new_shape), [tuple(ns) for ns in new_strides]


def reshape_strides(shape, estrides, new_shape):
    """Strides viewing (shape, estrides) as ``new_shape`` without a copy, or None (numpy's rule)."""
    if _numel(shape) == 0 or _numel(new_shape) == 0:
        return contiguous_strides(new_shape)
    old = [(s, st) for s, st in zip(shape, estrides) if s != 1]
    new_strides = []
    oi = 0
    ni = 0
    new = list(new_shape)
    result = [0] * len(new)
    # walk groups of old dims and new dims with equal products
    old_dims = [s for s, _ in old]
    old_st = [st for _, st in old]
    nn = len(new)
    no = len(old_dims)
    while ni < nn and oi < no:
        np_ = new[ni]
        op_ = old_dims[oi]
        nj, oj = ni + 1, oi + 1
        while np_ != op_:
            if np_ < op_:
                np_ *= new[nj]
                nj += 1
            else:
                op_ *= old_dims[oj]
                oj += 1
        for k in range(oi, oj - 1):  # the old group must be contiguous in itself
            if old_st[k] != old_st[k + 1] * old_dims[k + 1]:
                return None
        result[nj - 1] = old_st[oj - 1]
        for k in range(nj - 1, ni, -1):
            result[k - 1] = result[k] * new[k]
        ni, oi = nj, oj
    # trailing size-1 dims of the new shape
    for k in range(ni, nn):
        result[k] = 1
    del new_strides
    return tuple(result)
