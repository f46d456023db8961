"""Grids, index sets and arrangements: meshgrid, cartesian_prod, combinations, block_diag, tril_indices,
triu_indices, rot90, unravel_index, atleast_3d. Composites of layout ops (views where PyTorch gives views)."""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from ember.core import dtype as dt
from ember.core.tensor import Tensor
from ember.dispatch.meta import normalize_dim
from ember.ops import creation, shape as sh
from ember.ops import elementwise as ew
from ember.ops.creation import _resolve_dtype, cast, from_host
from ember.ops.public import public


def _tensor_list(tensors):
    """``f(a, b)`` and ``f([a, b])`` alike, as PyTorch's variadic tensor functions take both."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return list(tensors[0])
    return list(tensors)


@public
def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-d tensors: output ``i`` repeats ``tensors[i]`` along every other dim.

    Args:
        *tensors: 0-d or 1-d tensors of one dtype and device (or a single list of them).
        indexing: ``"ij"`` (matrix indexing: output shape ``(len(t0), len(t1), ...)``) or ``"xy"``
            (Cartesian: the first two dims swapped). Not given, ``"ij"`` with PyTorch's UserWarning.

    Returns:
        A tuple of views (expanded, not copied), one per input, all of the grid's shape.

    Raises:
        RuntimeError: no tensors, a tensor of more than 1 dim, differing dtypes or devices, or an unknown
            ``indexing``.
    """
    tensors = _tensor_list(tensors)
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument.",
                      UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got a tensor of "
                               f"shape {list(t.shape)}")
        if t.dtype is not tensors[0].dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if t.device != tensors[0].device:
            raise RuntimeError("meshgrid expects all tensors to have the same device")
    positions = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        positions[0], positions[1] = 1, 0
    grid = [0] * len(tensors)
    for t, at in zip(tensors, positions):
        grid[at] = t.numel()
    out = []
    for t, at in zip(tensors, positions):
        shape = [1] * len(tensors)
        shape[at] = t.numel()
        out.append(t.reshape(shape).expand(*grid))
    return tuple(out)


def _check_vector(t):
    if t.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")


@public
def cartesian_prod(*tensors):
    """The Cartesian product of 1-d tensors, as rows: every combination of one element from each.

    Args:
        *tensors: 1-d tensors of one dtype.

    Returns:
        A ``(N, len(tensors))`` tensor, ``N`` the product of the lengths, rows in lexicographic order; a single
        tensor is returned itself.

    Raises:
        RuntimeError: a tensor is not 1-d, or the dtypes differ.
    """
    tensors = _tensor_list(tensors)
    for t in tensors:
        _check_vector(t)
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return sh.stack([g.reshape(-1) for g in grids], 1)


@public
def combinations(input, r=2, with_replacement=False):
    """The length-``r`` combinations of the elements of a 1-d tensor, as rows (``itertools.combinations``).

    Args:
        input: a 1-d tensor.
        r: how many elements per combination.
        with_replacement: allow an element to repeat (``itertools.combinations_with_replacement``).

    Returns:
        A ``(N, r)`` tensor of ``input``'s dtype, in lexicographic order of positions (an empty 1-d tensor for
        ``r == 0``).

    Raises:
        RuntimeError: ``input`` is not 1-d or ``r`` is negative.
    """
    _check_vector(input)
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return creation.zeros((0,), dtype=input.dtype, device=input.device)
    make = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    picks = np.array(list(make(range(input._data.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    index = from_host(picks.reshape(-1), input.device)
    return input.index_select(0, index).reshape(picks.shape)


@public
def block_diag(*tensors):
    """A block-diagonal matrix with the given tensors as its blocks, top left to bottom right.

    Args:
        *tensors: tensors of at most 2 dims (a 0-d tensor is a 1x1 block, a 1-d one a single row).

    Returns:
        A 2-d tensor of the promoted dtype, zero outside the blocks; ``(1, 0)`` for no tensors.

    Raises:
        RuntimeError: a tensor has more than 2 dims.
    """
    blocks = []
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.ndim} dimensions")
        blocks.append(t.reshape(1, -1) if t.ndim == 0 else t.reshape(1, -1) if t.ndim == 1 else t)
    if not blocks:
        return creation.zeros((1, 0))
    from ember.ops.promotion import result_type
    dtype = result_type(*(b.dtype for b in blocks))
    device = blocks[0].device
    width = sum(b._data.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        h, w = b._data.shape
        parts = [creation.zeros((h, left), dtype=dtype, device=device), cast(b, dtype),
                 creation.zeros((h, width - left - w), dtype=dtype, device=device)]
        rows.append(sh.cat(parts, 1))
        left += w
    return sh.cat(rows, 0)


def _triangle_indices(row, col, offset, dtype, device, lower, name):
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    dtype = _resolve_dtype(dtype, dt.int64)
    if dtype.is_floating_point or dtype is dt.bool_:
        raise ew._not_implemented(name, dtype)
    rows, cols = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    return from_host(np.stack([rows, cols]).astype(dtype.numpy).reshape(2, -1), device)


@public
def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The coordinates of the lower triangle of a ``row x col`` matrix, row by row.

    Args:
        row: the number of rows.
        col: the number of columns.
        offset: which diagonal bounds the triangle (0: the main one, positive: above it, negative: below).
        dtype: an integer dtype (default int64).
        device: where the result is made.
        layout: accepted for PyTorch's signature (only the strided layout exists).

    Returns:
        A ``(2, N)`` tensor: the row indices, then the column indices.

    Raises:
        RuntimeError: ``row`` or ``col`` is negative.
        NotImplementedError: ``dtype`` is not an integer dtype.
    """
    return _triangle_indices(row, col, offset, dtype, device, True, "tril_indices")


@public
def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The coordinates of the upper triangle of a ``row x col`` matrix, row by row.

    Args:
        row: the number of rows.
        col: the number of columns.
        offset: which diagonal bounds the triangle (0: the main one, positive: above it, negative: below).
        dtype: an integer dtype (default int64).
        device: where the result is made.
        layout: accepted for PyTorch's signature (only the strided layout exists).

    Returns:
        A ``(2, N)`` tensor: the row indices, then the column indices.

    Raises:
        RuntimeError: ``row`` or ``col`` is negative.
        NotImplementedError: ``dtype`` is not an integer dtype.
    """
    return _triangle_indices(row, col, offset, dtype, device, False, "triu_indices")


@public(method=True)
def rot90(input, k=1, dims=(0, 1)):
    """``input`` rotated by ``k`` quarter turns in the plane of ``dims``, from the first dim towards the second.

    Args:
        input: a tensor of at least 2 dims.
        k: the number of quarter turns (negative: the other way).
        dims: the two dims of the plane.

    Returns:
        A new tensor.

    Raises:
        RuntimeError: ``dims`` does not hold two different dims, or ``input`` has fewer than 2 dims.
        IndexError: a dim is out of range.
    """
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    a, b = normalize_dim(dims[0], input.ndim), normalize_dim(dims[1], input.ndim)  # range first, as PyTorch
    if a == b:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return sh.flip(input, [b]).transpose(a, b)
    if k == 2:
        return sh.flip(input, [a, b])
    if k == 3:
        return sh.flip(input, [a]).transpose(a, b)
    return input.clone()


@public
def unravel_index(indices, shape):
    """The coordinates in a tensor of ``shape`` of flat (row-major) ``indices``.

    Args:
        indices: an integer tensor of flat indices (taken modulo the number of elements, as PyTorch's
            arithmetic gives: -1 is the last element).
        shape: an int or a sequence of non-negative ints.

    Returns:
        A tuple of int64 tensors of ``indices``'s shape, one per dim of ``shape``.

    Raises:
        TypeError: ``indices`` is not a tensor of an integer dtype.
        ValueError: ``shape`` has a negative size.
    """
    if not isinstance(indices, Tensor):
        raise TypeError(f"expected 'indices' to be a Tensor, but got {type(indices).__name__}")
    if indices.dtype.is_floating_point or indices.dtype is dt.bool_ or indices.dtype.is_complex:
        raise TypeError(f"expected 'indices' to be integer dtype, but got ember.{indices.dtype.name}")
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    flat = cast(indices, dt.int64)
    coords = []
    for size in reversed(shape):
        coords.append(ew.remainder(flat, size))
        flat = ew.floor_divide(flat, size)
    return tuple(reversed(coords))


def _atleast_3d_one(t):
    if t.ndim == 0:
        return t.reshape(1, 1, 1)
    if t.ndim == 1:
        return t.reshape(1, -1, 1)
    if t.ndim == 2:
        return t.unsqueeze(-1)
    return t


@public
def atleast_3d(*tensors):
    """Tensors with at least three dims: 0-d becomes ``(1, 1, 1)``, ``(n,)`` becomes ``(1, n, 1)`` and
    ``(m, n)`` becomes ``(m, n, 1)``.

    Args:
        *tensors: one or more tensors (or a single list of them).

    Returns:
        For one tensor, a view of it (the tensor itself when it has 3 or more dims); for several, a tuple.
    """
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return _atleast_3d_one(tensors[0])
    return tuple(_atleast_3d_one(t) for t in _tensor_list(tensors))
