"""Indexing: ``__getitem__``/``__setitem__``, gather/scatter, index_* ops, masks, sort.

Indexing runs in two stages, as PyTorch defines it: ints, slices and None select a
view (``basic_index``); index tensors then gather (``index``). Boolean masks become
int64 indices first, so backends only ever see int64 index tensors.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember.core import dtype as dt
from ember.core.autograd import GRAD_MODE
from ember.core.call import call, cast, resolve_kernel, write_inplace
from ember.core.tensor import Tensor, version_counter
from ember.dispatch.meta import broadcast_shapes, normalize_dim
from ember.dispatch.ops import INDEX_SLOT, OPS
from ember.ops import elementwise as ew
from ember.ops.creation import from_host, to_device, zeros_like
from ember.ops.public import public

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])
median_result = namedtuple("median", ["values", "indices"])
_FULL = slice(None)


# ---------------------------------------------------------------- key parsing
def _as_index_tensor(k, device):
    if isinstance(k, Tensor):
        t = k
    else:
        arr = np.asarray(k)
        if arr.dtype.kind not in "biu":
            raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got {arr.dtype}")
        t = from_host(arr.astype(np.bool_ if arr.dtype.kind == "b" else np.int64), device)
    if t.dtype.category == dt.FLOAT:
        raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got {t.dtype}")
    if t.device != device:
        t = to_device(t, device)
    return t


def _parse_key(x: Tensor, key):
    """Split a key into (basic key, [(position, index tensors)]) for the two stages."""
    if not isinstance(key, tuple):
        key = (key,)
    items = []
    for k in key:
        if isinstance(k, (list, np.ndarray)) or (isinstance(k, Tensor)):
            items.append(_as_index_tensor(k, x.device))
        elif isinstance(k, bool):
            items.append(_as_index_tensor(np.array(k), x.device))
        elif isinstance(k, (int, np.integer)):
            items.append(int(k))
        elif k is None or k is Ellipsis or isinstance(k, slice):
            items.append(k)
        else:
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                             f"are valid indices (got {type(k).__name__})")
    used = sum(k.ndim if isinstance(k, Tensor) and k.dtype is dt.bool_ else 0 if k is None or k is Ellipsis
               else 1 for k in items)
    if sum(k is Ellipsis for k in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if used > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    if any(k is Ellipsis for k in items):
        i = next(i for i, k in enumerate(items) if k is Ellipsis)
        items[i:i + 1] = [_FULL] * (x.ndim - used)
    basic, advanced, dim = [], [], 0
    for k in items:
        if isinstance(k, Tensor):
            span = k.ndim if k.dtype is dt.bool_ else 1
            if k.dtype is dt.bool_:
                _check_mask(x, k, dim)
                if k.ndim == 0:  # x[True] adds a dim of 1 (x[False] one of 0)
                    basic.append(None)
                    advanced.append((len(basic) - 1, [_mask_as_zero_dim_index(k)]))
                    continue
            basic.extend([_FULL] * span)
            advanced.append((len(basic) - span, _to_int_indices(k)))
            dim += span
        elif isinstance(k, int):
            size = x._data.shape[dim]
            if not -size <= k < size:
                raise IndexError(f"index {k} is out of bounds for dimension {dim} with size {size}")
            basic.append(k % size)
            dim += 1
        else:
            basic.append(k)
            dim += k is not None
    return tuple(basic), advanced


def _check_mask(x, mask, start):
    for i, s in enumerate(mask._data.shape):
        if x._data.shape[start + i] != s:
            raise IndexError(f"The shape of the mask {list(mask._data.shape)} at index {i} does not match "
                             f"the shape of the indexed tensor {list(x._data.shape)} at index {start + i}")


def _mask_as_zero_dim_index(mask):
    from ember.ops.creation import zeros
    n = 1 if mask.item() else 0
    return zeros(n, dtype=dt.int64, device=mask.device)


def _to_int_indices(k: Tensor):
    if k.dtype is not dt.bool_:
        return [k if k.dtype is dt.int64 else cast(k, dt.int64)]
    rows = call(OPS["nonzero"], k)
    return [call(OPS["basic_index"], rows, key=(_FULL, i)) for i in range(k.ndim)]


def _advanced_key(view: Tensor, basic, advanced):
    """The stage-two key over the basic view: INDEX_SLOT at each indexed dim."""
    # positions in `basic` map to dims of the view: ints removed a dim, None added one
    dim_of = []
    d = 0
    for k in basic:
        dim_of.append(d)
        if not isinstance(k, int):
            d += 1
    key = [_FULL] * view.ndim
    tensors = []
    for pos, idx in advanced:
        for j, t in enumerate(idx):
            key[dim_of[pos] + j] = INDEX_SLOT
            tensors.append(t)
    while key and key[-1] is _FULL:
        key.pop()
    return tuple(key), tensors


def _basic_view(x, basic):
    if all(k is _FULL or (isinstance(k, slice) and k == _FULL) for k in basic):
        return x
    return call(OPS["basic_index"], x, key=basic)


@public(name="__getitem__", function=False, method=True)
def getitem(self, key):
    """``tensor[key]``: select elements by ints, slices, ``None``, ``...``, index tensors and boolean masks.

    Ints, slices, ``None`` (a new dimension of size 1) and ``...`` (as many full slices as needed) select a
    view. Integer index tensors (or lists/arrays of ints) pick positions along their dimensions, broadcasting
    together as in NumPy; a boolean mask selects the positions where it is ``True`` over as many dimensions
    as it has.

    Args:
        key: one of the above, or a tuple of them.

    Returns:
        A view sharing the tensor's memory when ``key`` holds only ints, slices, ``None`` and ``...``;
        a new tensor as soon as it holds an index tensor, a list or a mask.

    Raises:
        IndexError: for an int out of range, more indices than dimensions, more than one ``...``, a mask
            whose shape does not match the indexed dimensions, or an index of another type (floats included).
    """
    basic, advanced = _parse_key(self, key)
    view = _basic_view(self, basic)
    if not advanced:
        return view if view is not self else call(OPS["view"], self, shape=self._data.shape)
    adv_key, tensors = _advanced_key(view, basic, advanced)
    return call(OPS["index"], view, *tensors, key=adv_key)


@public(name="__setitem__", function=False, method=True)
def setitem(self, key, value):
    """``tensor[key] = value``: write ``value`` into the selected elements, in place.

    ``key`` takes the same forms as in ``tensor[key]``. Where an index tensor names the same position
    more than once, which of the written values ends up there is unspecified.

    Args:
        key: ints, slices, ``None``, ``...``, index tensors, lists or boolean masks, or a tuple of them.
        value: a Python number, or a tensor broadcastable to the selected shape (cast to the tensor's dtype
            and moved to its device).

    Raises:
        IndexError: for an invalid ``key`` (see ``tensor[key]``).
    """
    basic, advanced = _parse_key(self, key)
    view = _basic_view(self, basic)
    if not advanced:
        write_inplace(view, value)
        return
    adv_key, tensors = _advanced_key(view, basic, advanced)
    values = _values_for(view, value)
    _index_put_inplace(view, values, tensors, adv_key, accumulate=False)


def _values_for(target, value):
    if isinstance(value, Tensor):
        if value.device != target.device:
            value = to_device(value, target.device)
        return cast(value, target.dtype)
    from ember.ops.creation import full
    return full((), value, dtype=target.dtype, device=target.device)


def _index_put_inplace(target, values, tensors, key, accumulate):
    grad_flows = GRAD_MODE.enabled and (target._rg or values._rg)
    if grad_flows:
        write_inplace(target, call(OPS["index_put"], call(OPS["clone"], target), values, *tensors,
                                   key=key, accumulate=accumulate))
        return target
    kernel = resolve_kernel("index_put", target.device.type)
    new = kernel(target._data, values._data, *[t._data for t in tensors], key=key, accumulate=accumulate)
    if new is not target._data:
        from ember.core.call import _rebind
        _rebind(target, new)
    version_counter(target).value += 1
    return target


@public(method=True)
def index_put(input, indices, values, accumulate=False):
    """A copy of ``input`` with ``values`` put at the positions ``input[indices]``.

    The out-of-place form of ``Tensor.index_put_``.

    Args:
        input: the tensor.
        indices: a tuple of index tensors (integer or boolean, or lists), one for each leading dimension
            indexed; they broadcast together.
        values: a Python number or a tensor broadcastable to the indexed shape (cast to ``input``'s dtype).
        accumulate: if ``True``, the values are added to what is there, and repeated positions add up; if
            ``False`` (the default) they replace it, and for repeated positions which one wins is unspecified.

    Returns:
        A new tensor of ``input``'s shape and dtype.
    """
    key, tensors = (INDEX_SLOT,) * len(indices), [_as_index_tensor(i, input.device) for i in indices]
    tensors = [t2 for t in tensors for t2 in _to_int_indices(t)]
    key = (INDEX_SLOT,) * len(tensors)
    return call(OPS["index_put"], call(OPS["clone"], input), _values_for(input, values), *tensors,
                key=key, accumulate=accumulate)


@public(function=False, method=True)
def index_put_(self, indices, values, accumulate=False):
    """Put ``values`` at the positions ``self[indices]``, in place.

    Args:
        indices: a tuple of index tensors (integer or boolean, or lists), one for each leading dimension
            indexed; they broadcast together.
        values: a Python number or a tensor broadcastable to the indexed shape (cast to this tensor's dtype).
        accumulate: if ``True``, add to what is there (repeated positions add up); if ``False`` (the default)
            replace it (for repeated positions which value wins is unspecified).

    Returns:
        This tensor.
    """
    tensors = [t2 for i in indices for t2 in _to_int_indices(_as_index_tensor(i, self.device))]
    return _index_put_inplace(self, _values_for(self, values), tensors, (INDEX_SLOT,) * len(tensors), accumulate)


# ---------------------------------------------------------------- gather / scatter
def _check_gather_shapes(input, dim, index, name, src=None):
    if index.dtype is not dt.int64:
        raise RuntimeError(f"{name}(): Expected dtype int64 for index, got {index.dtype}")
    if index.ndim != input.ndim and not (index.ndim <= 1 and input.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input tensor "
                           f"({index.ndim} vs {input.ndim}) in {name}")
    for d in range(index.ndim):
        if d != dim and index._data.shape[d] > input._data.shape[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index.shape)} to be "
                               f"smaller than self {list(input.shape)} apart from dimension {dim}")


@public(method=True, out=True)
def gather(input, dim, index, *, sparse_grad=False):
    """Values of ``input`` picked along ``dim`` at the positions ``index`` gives.

    For a 3-d tensor and ``dim=1``: ``result[i][j][k] = input[i][index[i][j][k]][k]``.

    Args:
        input: the tensor.
        dim: the dimension to pick along.
        index: an int64 tensor with as many dimensions as ``input`` and no larger than ``input`` in any
            dimension other than ``dim``.
        sparse_grad: accepted for PyTorch compatibility; the gradient is always dense.

    Returns:
        A new tensor of ``index``'s shape and ``input``'s dtype.

    Raises:
        RuntimeError: if ``index`` is not int64, has a different number of dimensions, or is larger than
            ``input`` in a dimension other than ``dim``.
    """
    dim = normalize_dim(dim, input.ndim)
    _check_gather_shapes(input, dim, index, "gather")
    return call(OPS["gather"], input, index, dim=dim)


@public(method=True, inplace=True, out=True)
def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of ``input`` with values from ``src`` written along ``dim`` at the positions ``index`` gives.

    The reverse of ``gather``. For a 3-d tensor and ``dim=1``: ``result[i][index[i][j][k]][k] = src[i][j][k]``.
    ``Tensor.scatter_`` does the same in place.

    Args:
        input: the tensor written into.
        dim: the dimension along which ``index`` gives positions.
        index: an int64 tensor with as many dimensions as ``input``, and no larger than it in any dimension
            other than ``dim``.
        src: the values: a tensor at least as large as ``index`` in every dimension (only its first
            ``index.shape`` elements are used; cast to ``input``'s dtype), or a Python number.
        value: a Python number written everywhere ``index`` points, used when ``src`` is not given.
        reduce: ``None`` (the default) replaces the values; ``"add"`` or ``"multiply"`` combine them with
            what is there.

    Returns:
        A new tensor of ``input``'s shape and dtype. Without ``reduce``, if ``index`` names the same position
        twice, which value ends up there is unspecified.

    Raises:
        RuntimeError: if ``index`` is not int64, has a different number of dimensions, or is larger than
            ``input`` in a dimension other than ``dim``.
    """
    dim = normalize_dim(dim, input.ndim)
    _check_gather_shapes(input, dim, index, "scatter")
    if src is None:
        src = value
    if isinstance(src, Tensor):
        src = cast(src, input.dtype)
    else:
        from ember.ops.creation import full
        src = full(index.shape, src, dtype=input.dtype, device=input.device)
    reduce = {"add": "add", "multiply": "multiply", None: None}.get(reduce, reduce)
    return call(OPS["scatter"], input, index, src, dim=dim, reduce=reduce)


@public(method=True, inplace=True, out=True)
def scatter_add(input, dim, index, src):
    """A copy of ``input`` with the values of ``src`` added along ``dim`` at the positions ``index`` gives.

    Same as ``scatter(input, dim, index, src, reduce="add")``: values sent to the same position add up.
    ``Tensor.scatter_add_`` does the same in place.

    Args:
        input: the tensor added to.
        dim: the dimension along which ``index`` gives positions.
        index: an int64 tensor with as many dimensions as ``input`` (see ``scatter``).
        src: the values added, a tensor at least as large as ``index`` in every dimension.

    Returns:
        A new tensor of ``input``'s shape and dtype.
    """
    return scatter(input, dim, index, src, reduce="add")


@public(method=True, inplace=True)
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """A copy of ``input`` where the values of ``src`` sent along ``dim`` to each position (by ``index``) are reduced.

    Positions that ``index`` never points at keep ``input``'s value. ``Tensor.scatter_reduce_`` does the
    same in place.

    Args:
        input: the tensor written into.
        dim: the dimension along which ``index`` gives positions.
        index: an int64 tensor with as many dimensions as ``input`` (see ``scatter``).
        src: the values, a tensor at least as large as ``index`` in every dimension.
        reduce: ``"sum"``, ``"prod"``, ``"mean"``, ``"amax"`` or ``"amin"``. ``"mean"`` of an integer tensor is
            rounded down.
        include_self: whether ``input``'s value at a position takes part in the reduction (default ``True``),
            or only the values sent there.

    Returns:
        A new tensor of ``input``'s shape and dtype.

    Raises:
        RuntimeError: if ``reduce`` is not one of the names above.
    """
    names = {"sum": "add", "prod": "multiply", "amax": "amax", "amin": "amin"}
    if reduce == "mean":
        total = scatter_reduce(input, dim, index, src, "sum", include_self=include_self)
        count = scatter(zeros_like(input) + (1 if include_self else 0), dim, index,
                        ew.add(zeros_like(src), 1), reduce="add")
        out = ew.div(total, ew.clamp(count, min=1))
        return out if input.dtype.is_floating_point else cast(ew.floor(out), input.dtype)
    if reduce not in names:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if not include_self:
        identity = {"sum": 0, "prod": 1, "amax": -float("inf"), "amin": float("inf")}[reduce]
        if not input.dtype.is_floating_point and reduce in ("amax", "amin"):
            info = np.iinfo(input.dtype.numpy)
            identity = info.min if reduce == "amax" else info.max
        base = scatter(input, dim, index, value=identity)
        touched = scatter(zeros_like(input, dtype=dt.bool_), dim, index, value=True)
        reduced = scatter(base, dim, index, src, reduce=names[reduce])
        return ew.where(touched, reduced, input)
    return scatter(input, dim, index, src, reduce=names[reduce])


@public(method=True, out=True)
def index_select(input, dim, index):
    """The slices of ``input`` along ``dim`` at the positions in ``index``, in that order.

    Args:
        input: the tensor.
        dim: the dimension to select along.
        index: a 1-d (or 0-d) integer tensor of positions; they may repeat.

    Returns:
        A new tensor with ``index.numel()`` entries along ``dim`` and ``input``'s other sizes.

    Raises:
        IndexError: if ``index`` has more than one dimension.
    """
    dim = normalize_dim(dim, input.ndim) if input.ndim else 0
    if index.ndim > 1:
        raise IndexError(f"index_select(): Index is supposed to be a vector, got {index.ndim}-d")
    index = _as_index_tensor(index, input.device)
    if input.ndim == 0:
        return call(OPS["index"], input.view(1), cast(index.reshape(-1), dt.int64), key=(INDEX_SLOT,)).view(())
    key = (_FULL,) * dim + (INDEX_SLOT,)
    return call(OPS["index"], input, cast(index.reshape(-1), dt.int64), key=key)


def _dim_key(input, dim):
    return (_FULL,) * normalize_dim(dim, input.ndim) + (INDEX_SLOT,)


@public(method=True, inplace=True, out=True)
def index_add(input, dim, index, source, *, alpha=1):
    """A copy of ``input`` with ``alpha * source`` added to the slices along ``dim`` that ``index`` names.

    Slice ``i`` of ``source`` along ``dim`` is added to slice ``index[i]`` of ``input``; repeated indices
    add up. ``Tensor.index_add_`` does the same in place.

    Args:
        input: the tensor added to.
        dim: the dimension the indices refer to.
        index: a 1-d integer tensor of positions along ``dim``.
        source: the values: ``index.numel()`` entries along ``dim``, ``input``'s sizes elsewhere (cast to
            ``input``'s dtype).
        alpha: a factor applied to ``source`` first (default 1).

    Returns:
        A new tensor of ``input``'s shape and dtype.
    """
    values = ew.mul(source, alpha) if alpha != 1 else source
    return call(OPS["index_put"], call(OPS["clone"], input), cast(values, input.dtype),
                cast(index, dt.int64), key=_dim_key(input, dim), accumulate=True)


@public(method=True, inplace=True, out=True)
def index_copy(input, dim, index, source):
    """A copy of ``input`` with slice ``index[i]`` along ``dim`` replaced by slice ``i`` of ``source``.

    ``Tensor.index_copy_`` does the same in place. If ``index`` repeats a position, which slice ends up
    there is unspecified.

    Args:
        input: the tensor written into.
        dim: the dimension the indices refer to.
        index: a 1-d integer tensor of positions along ``dim``.
        source: the values: ``index.numel()`` entries along ``dim``, ``input``'s sizes elsewhere (cast to
            ``input``'s dtype).

    Returns:
        A new tensor of ``input``'s shape and dtype.
    """
    return call(OPS["index_put"], call(OPS["clone"], input), cast(source, input.dtype),
                cast(index, dt.int64), key=_dim_key(input, dim), accumulate=False)


@public(method=True, inplace=True)
def index_fill(input, dim, index, value):
    """A copy of ``input`` with the slices along ``dim`` that ``index`` names filled with ``value``.

    ``Tensor.index_fill_`` does the same in place.

    Args:
        input: the tensor.
        dim: the dimension the indices refer to.
        index: a 1-d integer tensor of positions along ``dim``.
        value: a Python number or a 0-d tensor (cast to ``input``'s dtype).

    Returns:
        A new tensor of ``input``'s shape and dtype.
    """
    return call(OPS["index_put"], call(OPS["clone"], input), _values_for(input, value),
                cast(index, dt.int64), key=_dim_key(input, dim), accumulate=False)


@public(method=True, inplace=True)
def masked_fill(input, mask, value):
    """A copy of ``input`` with ``value`` wherever ``mask`` is ``True``.

    ``Tensor.masked_fill_`` does the same in place.

    Args:
        input: the tensor.
        mask: a boolean tensor broadcastable with ``input``.
        value: a Python number or a 0-d tensor (cast to ``input``'s dtype).

    Returns:
        A new tensor of the broadcast shape of ``input`` and ``mask``.

    Raises:
        RuntimeError: if ``mask`` is not boolean, or ``value`` is a tensor with dimensions.
    """
    if mask.dtype is not dt.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        value = cast(value, input.dtype)
    return ew.where(mask, value, input) if isinstance(value, Tensor) else \
        ew.where(mask, _values_for(input, value), input)


@public(method=True, out=True)
def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` is ``True``, as a 1-d tensor in row-major order.

    Args:
        input: the tensor.
        mask: a boolean tensor; ``input`` and ``mask`` are broadcast together first.

    Returns:
        A new 1-d tensor with one element per ``True`` of the (broadcast) mask.
    """
    from ember.ops.shape import broadcast_tensors
    input, mask = broadcast_tensors(input, mask)
    return getitem(input, mask)


@public(method=True, inplace=True)
def masked_scatter(input, mask, source):
    """A copy of ``input`` where the positions in which ``mask`` is ``True`` take consecutive elements of ``source``.

    The positions are visited in row-major order and filled from ``source`` read as a flat sequence.
    ``Tensor.masked_scatter_`` does the same in place.

    Args:
        input: the tensor.
        mask: a boolean tensor broadcastable with ``input``.
        source: a tensor with at least as many elements as ``mask`` has ``True`` values; the rest are unused.

    Returns:
        A new tensor of the broadcast shape of ``input`` and ``mask``, with ``input``'s dtype.
    """
    from ember.ops.shape import broadcast_tensors
    target, mask = broadcast_tensors(input, mask)
    idx = _to_int_indices(mask)
    n = idx[0].numel()
    values = source.reshape(-1)[:n]
    return call(OPS["index_put"], call(OPS["clone"], target), cast(values, input.dtype), *idx,
                key=(INDEX_SLOT,) * len(idx), accumulate=False)


@public(method=True, out=True)
def take(input, index):
    """The elements of ``input``, read as a flat row-major sequence, at the positions in ``index``.

    Args:
        input: the tensor.
        index: an integer tensor of positions in ``[-input.numel(), input.numel())``.

    Returns:
        A new tensor of ``index``'s shape.
    """
    return index_select(input.reshape(-1), 0, index.reshape(-1)).view(index.shape)


@public(method=True, out=True)
def take_along_dim(input, indices, dim=None):
    """Values of ``input`` picked along ``dim`` at ``indices``, with the other dimensions broadcast.

    Like ``gather``, except that ``input`` and ``indices`` broadcast in the dimensions other than ``dim``;
    it pairs with the indices ``argsort``, ``argmax`` (with ``keepdim=True``) and the like return.

    Args:
        input: the tensor.
        indices: an int64 tensor with as many dimensions as ``input``.
        dim: the dimension to pick along; ``None`` (the default) treats ``input`` as flat, like ``take``.

    Returns:
        A new tensor: ``indices``'s size along ``dim``, the broadcast sizes elsewhere.
    """
    if dim is None:
        return take(input, indices)
    from ember.dispatch.meta import broadcast_shapes
    dim = normalize_dim(dim, input.ndim)
    shape_in = list(input.shape)
    shape_idx = list(indices.shape)
    shape_in[dim] = shape_idx[dim] = 1
    common = list(broadcast_shapes(tuple(shape_in), tuple(shape_idx)))
    want_in, want_idx = list(common), list(common)
    want_in[dim], want_idx[dim] = input.shape[dim], indices.shape[dim]
    return gather(input.expand(want_in), dim, indices.expand(want_idx))


@public(method=True, out="exact")
def nonzero(input, *, as_tuple=False):
    """The positions of the non-zero elements of ``input``, in row-major order.

    Args:
        input: the tensor.
        as_tuple: if ``False`` (the default), return one matrix of positions; if ``True``, one 1-d tensor per
            dimension, usable as an index (``input[nonzero(input, as_tuple=True)]``).

    Returns:
        An int64 tensor of shape ``(n, input.ndim)`` for ``n`` non-zero elements, or with ``as_tuple`` a tuple
        of ``input.ndim`` int64 tensors of ``n`` elements (one tensor for a 0-d ``input``).
    """
    rows = call(OPS["nonzero"], input if input.ndim else input.reshape(1))
    if as_tuple:
        if input.ndim == 0:
            return (call(OPS["basic_index"], rows, key=(_FULL, 0)),)
        return tuple(call(OPS["basic_index"], rows, key=(_FULL, i)) for i in range(input.ndim))
    return rows if input.ndim else call(OPS["basic_index"], rows, key=(_FULL, slice(0, 0)))  # (n, 0)


@public(method=True)
def argwhere(input):
    """The positions of the non-zero elements of ``input``, in row-major order; same as ``nonzero(input)``.

    Args:
        input: the tensor.

    Returns:
        An int64 tensor of shape ``(n, input.ndim)`` for ``n`` non-zero elements.
    """
    return nonzero(input)


# ---------------------------------------------------------------- sorting
@public(method=True, out=True)
def sort(input, dim=-1, descending=False, stable=False):
    """The elements of ``input`` sorted along ``dim``, and where each came from.

    Args:
        input: the tensor.
        dim: the dimension to sort along (default -1, the last one).
        descending: sort from largest to smallest (default ``False``: smallest first).
        stable: keep equal elements in their original order.

    Returns:
        A namedtuple ``(values, indices)`` of new tensors of ``input``'s shape: the sorted values, and the
        int64 positions along ``dim`` they were taken from.
    """
    if input.ndim == 0:
        from ember.ops.creation import zeros
        return sort_result(input.clone(), zeros((), dtype=dt.int64, device=input.device))
    values, indices = call(OPS["sort"], input, dim=normalize_dim(dim, input.ndim),
                           descending=descending, stable=stable)
    return sort_result(values, indices)


@public(method=True)
def argsort(input, dim=-1, descending=False, stable=False):
    """The positions along ``dim`` that would sort ``input``; the ``indices`` of ``sort``.

    Args:
        input: the tensor.
        dim: the dimension to sort along (default -1, the last one).
        descending: sort from largest to smallest (default ``False``: smallest first).
        stable: keep equal elements in their original order.

    Returns:
        A new int64 tensor of ``input``'s shape.
    """
    return sort(input, dim, descending, stable).indices


@public(method=True, out=True)
def msort(input):
    """``input`` sorted along its first dimension, smallest first; the ``values`` of ``sort(input, 0)``.

    Args:
        input: the tensor.

    Returns:
        A new tensor of ``input``'s shape.
    """
    return sort(input, 0).values


@public(method=True, out=True)
def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) elements of ``input`` along ``dim``, and their positions.

    Args:
        input: the tensor.
        k: how many elements, in ``[0, input.shape[dim]]``.
        dim: the dimension to search along (default -1, the last one).
        largest: ``True`` (the default) for the largest elements, ``False`` for the smallest.
        sorted: accepted for PyTorch compatibility: the results always come sorted, largest first (smallest
            first with ``largest=False``), equal elements in their original order.

    Returns:
        A namedtuple ``(values, indices)``: tensors with ``k`` entries along ``dim`` and ``input``'s other
        sizes, holding the values and their int64 positions along ``dim``.

    Raises:
        RuntimeError: if ``k`` is out of range.
    """
    dim = normalize_dim(dim, input.ndim) if input.ndim else 0
    size = input._data.shape[dim] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"selected index k out of range: k={k} for a dimension of size {size}")
    values, indices = sort(input, dim, descending=largest, stable=True)
    from ember.ops.shape import narrow
    if input.ndim == 0:
        return topk_result(values, indices)
    return topk_result(narrow(values, dim, 0, k), narrow(indices, dim, 0, k))


@public(method=True, out=True)
def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest element of ``input`` along ``dim``, and its position.

    Args:
        input: the tensor.
        k: the rank, counted from 1 (``k=1`` is the smallest).
        dim: the dimension to search along (default -1, the last one).
        keepdim: keep ``dim`` in the result with size 1 (default ``False``: it is removed).

    Returns:
        A namedtuple ``(values, indices)``: the values and their int64 positions along ``dim`` (equal elements
        are ranked in their original order).

    Raises:
        IndexError: if ``k`` is larger than the size of ``dim``.
    """
    dim = normalize_dim(dim, input.ndim)
    values, indices = sort(input, dim, stable=True)
    from ember.ops.shape import select
    v, i = select(values, dim, k - 1), select(indices, dim, k - 1)
    if keepdim:
        v, i = v.unsqueeze(dim), i.unsqueeze(dim)
    return median_result(v, i)


@public(method=True, out=True)
def median(input, dim=None, keepdim=False):
    """The median of ``input``, over all its elements or along ``dim``.

    For an even number of elements this is the lower of the two middle values (no average is taken).

    Args:
        input: the tensor.
        dim: the dimension to reduce; ``None`` (the default) takes the median of all elements.
        keepdim: with ``dim``, keep it in the result with size 1 (default ``False``: it is removed).

    Returns:
        Without ``dim``, a 0-d tensor. With ``dim``, a namedtuple ``(values, indices)``: the medians and their
        int64 positions along ``dim``.
    """
    if dim is None:
        flat = input.reshape(-1)
        return sort(flat, 0, stable=True).values[(flat.numel() - 1) // 2]
    dim = normalize_dim(dim, input.ndim)
    return kthvalue(input, (input._data.shape[dim] + 1) // 2, dim, keepdim)


@public(method=True)
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of ``input``, sorted, and optionally where each element went and how often each occurs.

    Args:
        input: the tensor.
        sorted: accepted for PyTorch compatibility: the values always come sorted, smallest first.
        return_inverse: also return, for each element of ``input``, the position of its value in the result.
        return_counts: also return how many times each distinct value occurs.
        dim: ``None`` (the default) works on the flattened tensor; an int finds the distinct slices along
            that dimension instead (compared on the host, so the tensor is copied there).

    Returns:
        The distinct values as a new 1-d tensor (with ``dim``: ``input`` with only the distinct slices along
        ``dim``, in sorted order). With ``return_inverse`` and/or ``return_counts``, a tuple
        ``(values, inverse, counts)`` holding those asked for: ``inverse`` is int64 of ``input``'s shape (with
        ``dim``: 1-d, of ``input.shape[dim]`` entries), ``counts`` is 1-d int64.
    """
    if dim is not None:
        return _unique_dim(input, dim, return_inverse, return_counts)
    values, inverse, counts = call(OPS["unique"], input, return_inverse=return_inverse,
                                   return_counts=return_counts)
    out = (values,)
    if return_inverse:
        out += (inverse,)
    if return_counts:
        out += (counts,)
    return out[0] if len(out) == 1 else out


def _unique_dim(input, dim, return_inverse, return_counts):
    """Unique slices along ``dim``: rows compared lexicographically on the host."""
    dim = normalize_dim(dim, input.ndim)
    moved = input.movedim(dim, 0)
    rows = moved.reshape(moved.shape[0], -1)
    host = rows.cpu().numpy() if not rows._rg else rows.detach().cpu().numpy()
    _, first, inverse, counts = np.unique(host, axis=0, return_index=True, return_inverse=True,
                                          return_counts=True)
    values = index_select(input, dim, from_host(first.astype(np.int64), input.device))
    out = (values,)
    if return_inverse:
        out += (from_host(inverse.reshape(-1).astype(np.int64), input.device),)
    if return_counts:
        out += (from_host(counts.astype(np.int64), input.device),)
    return out[0] if len(out) == 1 else out


@public(method=True)
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """The values of ``input`` with each run of equal consecutive elements reduced to one, in order.

    ``input`` is read flat in row-major order; ``dim`` is accepted but currently ignored (runs of equal
    slices along a dimension are not supported).

    Args:
        input: the tensor.
        return_inverse: also return, for each element of ``input``, the position of its run in the result.
        return_counts: also return the length of each run.
        dim: ignored (see above).

    Returns:
        A new 1-d tensor of the run values; with ``return_inverse`` and/or ``return_counts``, a tuple
        ``(values, inverse, counts)`` holding those asked for (``inverse`` int64 of ``input``'s shape,
        ``counts`` 1-d int64).
    """
    flat = input.reshape(-1)
    if flat.numel() == 0:
        return unique(input, return_inverse=return_inverse, return_counts=return_counts)
    from ember.ops.shape import cat
    change = ew.ne(flat[1:], flat[:-1])
    starts = cat([from_host(np.ones(1, dtype=np.bool_), input.device), change])
    values = flat[starts]
    out = (values,)
    group = starts.long().cumsum(0) - 1
    if return_inverse:
        out += (group.view(input.shape),)
    if return_counts:
        from ember.ops.creation import zeros
        out += (zeros(values.numel(), dtype=dt.int64, device=input.device).index_add(0, group, ew.add(
            zeros_like(group), 1)),)
    return out[0] if len(out) == 1 else out


@public(out="exact")
def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None, sorter=None):
    """Indices where values would be inserted to keep each row of sorted_sequence sorted.

    For each value this is the number of elements of the row that are smaller than it (``right=False``) or
    smaller than or equal to it (``right=True``).

    Args:
        sorted_sequence: a tensor sorted ascending along its last dimension: either 1-d (used for every
            value) or with the same leading dimensions as ``values`` (one row per row of values).
        values: a tensor, a Python number or a sequence of numbers.
        out_int32: return int32 instead of int64.
        right: with ties, give the position after the equal elements instead of before them.
        side: ``"left"`` or ``"right"``; when given it overrides ``right``.
        sorter: int64 indices that sort ``sorted_sequence`` along its last dimension, when it is not sorted
            itself (as ``argsort`` gives).

    Returns:
        A new int64 (or int32) tensor of ``values``'s shape (0-d for a single number).
    """
    if side is not None:
        right = side == "right"
    seq = sorted_sequence
    if sorter is not None:
        seq = gather(seq, -1, sorter)
    v = values if isinstance(values, Tensor) else from_host(np.asarray(values), seq.device)
    if seq.ndim == 1:
        cmp = ew.le(seq, v.unsqueeze(-1)) if right else ew.lt(seq, v.unsqueeze(-1))
    else:
        cmp = ew.le(seq.unsqueeze(-2), v.unsqueeze(-1)) if right else ew.lt(seq.unsqueeze(-2), v.unsqueeze(-1))
    out = cmp.sum(-1)
    return cast(out, dt.int32 if out_int32 else dt.int64)


@public(out="exact")
def bucketize(input, boundaries, *, out_int32=False, right=False):
    """For each element of ``input``, the index of the bucket it falls in, given sorted bucket boundaries.

    With ``right=False``, ``i`` is the index for which ``boundaries[i - 1] < x <= boundaries[i]``; with
    ``right=True``, ``boundaries[i - 1] <= x < boundaries[i]``. Values below all boundaries get 0, above all
    of them ``len(boundaries)``.

    Args:
        input: the tensor of values (or a Python number).
        boundaries: a 1-d tensor sorted ascending.
        out_int32: return int32 instead of int64.
        right: which side of a bucket includes its boundary (see above).

    Returns:
        A new int64 (or int32) tensor of ``input``'s shape.
    """
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


# ---------------------------------------------------------------- whole-tensor writes
@public(function=False, method=True)
def zero_(self):
    """Fill this tensor with zeros, in place.

    Returns:
        This tensor.
    """
    return write_inplace(self, 0)


@public(function=False, method=True)
def fill_(self, value):
    """Fill this tensor with ``value``, in place.

    Args:
        value: a Python number or a 0-d tensor.

    Returns:
        This tensor.
    """
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")
    return write_inplace(self, value)


@public(function=False, method=True)
def copy_(self, src, non_blocking=False):
    """Copy ``src``'s values into this tensor, in place (cast to its dtype, moved to its device).

    Args:
        src: a tensor broadcastable to this one's shape, or a Python number.
        non_blocking: accepted for PyTorch compatibility; copies here complete before returning.

    Returns:
        This tensor.
    """
    if isinstance(src, Tensor):
        if broadcast_shapes(self._data.shape, src._data.shape) != self._data.shape:
            raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
                               f"{list(broadcast_shapes(self._data.shape, src._data.shape))}")
        if src.device != self.device:
            src = to_device(src, self.device)
    return write_inplace(self, src)

