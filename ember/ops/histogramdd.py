"""``ember.histogramdd``: the histogram of points in D dimensions (PyTorch's, numpy's method).

Each dimension is binned as ``ember.histogram`` bins one (equal-width bins over a range, or given
edges), the D bin indices are combined into one flat index, and the counts (or weights) are
added there with ``index_add``: ember ops throughout, so it runs on every device.
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple

from ember.core import dtype as dt
from ember.core.tensor import Tensor
from ember.ops import creation
from ember.ops import elementwise as ew
from ember.ops import reduction as red
from ember.ops.creation import cast
from ember.ops.numeric import _count_into, _data_range, _edge_bin_index, _uniform_bin_index
from ember.ops.out import _title
from ember.ops.public import public

histogramdd_result = namedtuple("histogramdd", ["hist", "bin_edges"])


def _g(v):
    return f"{v:g}"


@public
def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """A D-dimensional histogram of the points in the rows of ``input`` (its last dimension is D).

    Args:
        input: a float32 or float64 tensor of shape ``(..., D)``.
        bins: an int (that many equal bins in every dimension), D ints, or D 1-d tensors of increasing edges.
        range: ``[min_0, max_0, ..., min_{D-1}, max_{D-1}]`` for equal-width bins (default: each
            dimension's data range).
        weight: a tensor of ``input.shape[:-1]``: each point counts its weight instead of 1.
        density: divide so that the histogram integrates to 1 over the bins.

    Returns:
        A namedtuple ``histogramdd(hist, bin_edges)``: ``hist`` of shape (bins_0, ..., bins_{D-1}) in
        ``input``'s dtype, and a tuple of the D edge tensors. A point outside the edges in any dimension is
        not counted; each dimension's last bin includes its right edge.

    Raises:
        NotImplementedError: ``input`` is not float32 or float64.
        RuntimeError: ``bins``, ``range`` or ``weight`` do not fit ``input``.
    """
    if input.dtype not in (dt.float32, dt.float64):
        raise NotImplementedError(f"\"histogramdd\" not implemented for '{_title(input.dtype)}'")
    if input.ndim < 1:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 1 dimension, but got 0")
    d = input.shape[-1]
    points = input.detach().reshape(-1, d)
    if isinstance(bins, int):
        bins = [bins] * d
    bins = list(bins)
    if len(bins) != d:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost dimension of the input.")
    if range is not None and len(range) != 2 * d:
        raise RuntimeError(f"torch.histogramdd: for a {d}-dimensional histogram range should have {2 * d} elements, "
                           f"but got {len(range)}")
    if weight is not None and tuple(weight.shape) != tuple(input.shape[:-1]):
        raise RuntimeError(f"torch.histogramdd: if weight tensor is provided it should have the same shape as the "
                           f"input tensor excluding its innermost dimension, but got input with shape "
                           f"{list(input.shape)} and weight with shape {list(weight.shape)}")
    flat = creation.zeros(points.shape[0], dtype=dt.int64, device=input.device)
    inside_all = creation.ones(points.shape[0], dtype=dt.bool_, device=input.device)
    edges_out, sizes = [], []
    for k, b in enumerate(bins):
        column = points[:, k].contiguous()
        if isinstance(b, Tensor):
            edges = b
            if edges.dtype is not input.dtype:
                raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, "
                                   f"but got input with dtype {input.dtype.name} and bins for dimension {k} with "
                                   f"dtype {edges.dtype.name}")
            index, inside = _edge_bin_index(column, edges)
        else:
            if b <= 0:
                raise RuntimeError(f"torch.histogramdd(): bins must be > 0, but got {b} for dimension {k}")
            if range is not None:
                low, high = float(range[2 * k]), float(range[2 * k + 1])
                if low > high:
                    raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {_g(low)} max "
                                       f"{_g(high)} for dimension {k}")
            else:
                low, high = _data_range(column) if column.numel() else (0.0, 1.0)
            if not (math.isfinite(low) and math.isfinite(high)):
                raise RuntimeError(f"torch.histogramdd: dimension {k}'s range [{_g(low)}, {_g(high)}] is not finite")
            if low == high:
                low, high = low - 0.5, high + 0.5
            edges = creation.linspace(low, high, b + 1, dtype=input.dtype, device=input.device)
            index, inside = _uniform_bin_index(column, low, high, b, edges)
        n = edges.shape[0] - 1
        flat = ew.add(ew.mul(flat, n), index)
        inside_all = ew.logical_and(inside_all, inside)
        edges_out.append(edges.clone() if edges is b else edges)
        sizes.append(n)
    total = 1
    for n in sizes:
        total *= n
    w = None if weight is None else cast(weight.reshape(-1), input.dtype)
    hist = _count_into(total, flat, inside_all, w, input.dtype, input.device).reshape(tuple(sizes))
    if density:
        volume = None
        for k, edges in enumerate(edges_out):  # the outer product of the bin widths
            widths = ew.sub(edges[1:], edges[:-1]).reshape(tuple(sizes[k] if j == k else 1 for j in builtins.range(d)))
            volume = widths if volume is None else ew.mul(volume, widths)
        hist = ew.div(hist, ew.mul(red.sum(hist), volume))
    return histogramdd_result(hist, tuple(edges_out))

