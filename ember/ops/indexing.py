"""Indexing: ``__getitem__``/``__setitem__``, gather/scatter, index_* ops, masks, sort.

Indexing runs in two stages, as PyTorch defines it: ints, slices and None select a
view (``basic_index``); index tensors then gather (``index``). Boolean masks become
int64 indices first, so backends only ever see int64 index tensors, and every key,
index and value is checked here (slice steps, ranges, shapes) before a kernel sees it.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember.core import dtype as dt
from ember.dispatch.public_op import dispatch_point
from ember.core.autograd import GRAD_MODE
from ember.core.call import call, cast, resolve_kernel, write_inplace
from ember.core.tensor import Tensor, version_counter
from ember.core.transfer import to_numpy
from ember.dispatch.meta import broadcast_shapes, normalize_dim
from ember.dispatch.ops import INDEX_SLOT, OPS
from ember.dispatch.keys import ACTIVE, BATCHED
from ember.dispatch.tracing import guarded, recorded
from ember.ops import elementwise as ew
from ember.ops.creation import from_host, to_device, zeros_like
from ember.ops.out import _title
from ember.ops.public import public

sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])
median_result = namedtuple("median", ["values", "indices"])
kthvalue_result = namedtuple("kthvalue", ["values", "indices"])
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
    if t.dtype.category >= dt.FLOAT:
        raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, got {t.dtype}")
    if t.device != device:
        t = to_device(t, device)
    return t


def _as_key_tensor(k, device):
    """An index tensor of a key (or of ``index_put``'s indices): a uint8 tensor (or numpy array) is a mask, as
    in PyTorch."""
    if isinstance(k, np.ndarray) and k.dtype == np.uint8:
        k = from_host(k, device)
    t = _as_index_tensor(k, device)
    if t.dtype is dt.uint8:
        import warnings
        warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool instead.",
                      UserWarning, stacklevel=3)
        t = cast(t, dt.bool_)
    return t


_PLAIN_BOUND = (int, type(None))


def _checked_slice(k: slice) -> slice:
    """``k`` with int bounds (tensors and numpy ints converted), its step checked as PyTorch does."""
    from operator import index as as_int
    start, stop, step = (None if v is None else as_int(v) for v in (k.start, k.stop, k.step))
    if step is not None:
        if step == 0:
            raise ValueError("slice step cannot be zero")
        if step < 0:
            raise ValueError("step must be greater than zero")
    return slice(start, stop, step)


def _parse_key(x: Tensor, key):
    """Split a key into (basic key, [(position, index tensors, checked)]) for the two stages.

    ``checked`` is True for the indices a boolean mask became (in range by construction).
    """
    if not isinstance(key, tuple):
        key = (key,)
    items = []
    used = ellipses = 0  # dims the key consumes; how many ``...``
    unchecked_slices = []  # checked once the key is known to fit: PyTorch reports too many indices first
    for k in key:
        if isinstance(k, slice):
            step = k.step
            if (step is not None and (step.__class__ is not int or step <= 0)) \
                    or k.start.__class__ not in _PLAIN_BOUND or k.stop.__class__ not in _PLAIN_BOUND:
                unchecked_slices.append(len(items))
            items.append(k)
            used += 1
        elif isinstance(k, (list, np.ndarray, Tensor)):
            k = _as_key_tensor(k, x.device)
            items.append(k)
            used += k.ndim if k.dtype is dt.bool_ else 1
        elif isinstance(k, bool):
            items.append(_as_index_tensor(np.array(k), x.device))
        elif isinstance(k, (int, np.integer)):
            items.append(int(k))
            used += 1
        elif k is None:
            items.append(k)
        elif k is Ellipsis:
            items.append(k)
            ellipses += 1
        elif isinstance(k, str):
            raise TypeError(f"new(): invalid data type '{type(k).__name__}'")
        else:
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                             f"are valid indices (got {type(k).__name__})")
    if used > x.ndim:
        raise IndexError(f"too many indices for tensor of dimension {x.ndim}")
    for i in unchecked_slices:
        items[i] = _checked_slice(items[i])
    if ellipses:
        items = _expand_ellipsis(items, ellipses, x.ndim - used)
    basic, advanced, dim = [], [], 0
    for k in items:
        if isinstance(k, Tensor):
            span = k.ndim if k.dtype is dt.bool_ else 1
            if k.dtype is dt.bool_:
                _check_mask(x, k, dim)
                if k.ndim == 0:  # x[True] adds a dim of 1 (x[False] one of 0)
                    basic.append(None)
                    advanced.append((len(basic) - 1, [_mask_as_zero_dim_index(k)], True))
                    continue
            basic.extend([_FULL] * span)
            advanced.append((len(basic) - span, _to_int_indices(k), k.dtype is dt.bool_))
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


def _expand_ellipsis(items, count, fill):
    """``items`` with its ``...`` replaced by ``fill`` full slices.

    PyTorch gives every ``...`` of a key ``fill`` dims. With one ``...`` (or none left to fill) that is the
    usual meaning; with several, it is defined only while nothing but more ``...`` follows the second one
    (they then fill nothing): beyond that PyTorch reads past the tensor's shape, so ember refuses it.
    """
    first = next(i for i, k in enumerate(items) if k is Ellipsis)
    rest = items[first + 1:]
    if count > 1:
        second = next(i for i, k in enumerate(rest) if k is Ellipsis)
        if fill and any(k is not Ellipsis for k in rest[second:]):
            raise IndexError("an index can only have a single ellipsis ('...')")
        rest = [k for k in rest if k is not Ellipsis]
    return items[:first] + [_FULL] * fill + rest


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
    """The stage-two key over the basic view (INDEX_SLOT at each indexed dim), its index tensors, and the
    ``(tensor, size, ordinal)`` of those whose range must be checked (not those a mask became)."""
    # positions in `basic` map to dims of the view: ints removed a dim, None added one
    dim_of = []
    d = 0
    for k in basic:
        dim_of.append(d)
        if not isinstance(k, int):
            d += 1
    key = [_FULL] * view.ndim
    tensors, unchecked = [], []
    for pos, idx, checked in advanced:
        for j, t in enumerate(idx):
            key[dim_of[pos] + j] = INDEX_SLOT
            if not checked:
                unchecked.append((t, view._data.shape[dim_of[pos] + j], len(tensors)))
            tensors.append(t)
    while key and key[-1] is _FULL:
        key.pop()
    return tuple(key), tensors, unchecked


def _checked_indices(view, tensors, key, unchecked):
    """``tensors`` after PyTorch's checks: they broadcast together and each lies in ``[-size, size)`` of its
    dim (the error names its place among the index tensors, as PyTorch's does). Negative positions are
    wrapped here, so backends only see positions in range."""
    if len(tensors) > 1:
        try:
            broadcast_shapes(*(t._data.shape for t in tensors))
        except RuntimeError:
            shapes = ", ".join(str(list(t._data.shape)) for t in tensors)
            raise IndexError(f"shape mismatch: indexing tensors could not be broadcast together with shapes "
                             f"{shapes}") from None
    for t, size, ordinal in unchecked:
        if guarded(_has_negatives_within, t, size, ordinal):
            tensors = [ew.remainder(u, size) if u is t else u for u in tensors]
    return tensors


def _has_negatives_within(t, size, ordinal):
    """Whether index ``t`` holds negative positions; IndexError if one lies outside ``[-size, size)``."""
    bounds = _index_bounds(t)
    if bounds is None:
        return False
    low, high = bounds
    if low < -size or high >= size:
        raise IndexError(f"index {_first_outside(t, -size, size)} is out of bounds for dimension {ordinal} "
                         f"with size {size}")
    return low < 0


def _indexed_shape(view, tensors, key):
    from ember.dispatch.meta import index as index_meta
    return tuple(index_meta(view, *tensors, key=key).shape)


def _check_values_shape(values, shape):
    """PyTorch's check that the values written at ``target[indices]`` broadcast to its ``shape``."""
    have = values._data.shape
    if have == shape:
        return
    try:
        fits = broadcast_shapes(have, shape) == shape
    except RuntimeError:
        fits = False
    if not fits:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(have)} cannot be broadcast to indexing "
                           f"result of shape {list(shape)}")


def _without_leading_ones(value):
    """``value`` without its leading dims of size 1, as PyTorch's ``tensor[key] = value`` reads it."""
    shape = value._data.shape
    n = 0
    while n < len(shape) and shape[n] == 1:
        n += 1
    return call(OPS["view"], value, shape=shape[n:]) if n else value


def _basic_view(x, basic):
    if all(k is _FULL or (isinstance(k, slice) and k == _FULL) for k in basic):
        return x
    return call(OPS["basic_index"], x, key=basic)


@public(name="__getitem__", function=False, method=True)
def getitem(self, key):
    """``tensor[key]``: select elements by ints, slices, ``None``, ``...``, index tensors and boolean masks.

    Ints, slices (with a positive step), ``None`` (a new dimension of size 1) and ``...`` (as many full slices
    as needed) select a view. Integer index tensors (or lists/arrays of ints) pick positions along their
    dimensions, broadcasting together as in NumPy; a boolean mask (or, deprecated, a uint8 tensor) selects
    the positions where it is ``True`` over as many dimensions as it has. As in PyTorch, a key may hold more
    than one ``...`` when the first already covers every dimension left or only more ``...`` follow the
    second one.

    Args:
        key: one of the above, or a tuple of them.

    Returns:
        A view sharing the tensor's memory when ``key`` holds only ints, slices, ``None`` and ``...``;
        a new tensor as soon as it holds an index tensor, a list or a mask.

    Raises:
        IndexError: for an int or an index tensor's value out of range, index tensors that do not broadcast
            together, more indices than dimensions, a ``...`` after a second ``...`` that PyTorch does not
            define (see above), a mask whose shape does not match the indexed dimensions, or an index of
            another type (floats included).
        ValueError: for a slice step of zero or less.
    """
    basic, advanced = _parse_key(self, key)
    view = _basic_view(self, basic)
    if not advanced:
        return view if view is not self else call(OPS["view"], self, shape=self._data.shape)
    adv_key, tensors, unchecked = _advanced_key(view, basic, advanced)
    tensors = _checked_indices(view, tensors, adv_key, unchecked)
    return call(OPS["index"], view, *tensors, key=adv_key)


@public(name="__setitem__", function=False, method=True)
def setitem(self, key, value):
    """``tensor[key] = value``: write ``value`` into the selected elements, in place.

    ``key`` takes the same forms as in ``tensor[key]``. Where an index tensor names the same position
    more than once, which of the written values ends up there is unspecified.

    Args:
        key: ints, slices, ``None``, ``...``, index tensors, lists or boolean masks, or a tuple of them.
        value: a Python number, or a tensor broadcastable to the selected shape once its leading dimensions
            of size 1 are dropped (cast to the tensor's dtype and moved to its device).

    Raises:
        IndexError: for an invalid ``key`` (see ``tensor[key]``).
        ValueError: for a slice step of zero or less.
        RuntimeError: if ``value`` does not broadcast to the selected shape.
    """
    basic, advanced = _parse_key(self, key)
    view = _basic_view(self, basic)
    if not isinstance(value, Tensor):
        from ember.ops.creation import fill_scalar
        value = fill_scalar(value, self.dtype)  # a value the dtype cannot hold raises, as in PyTorch
    if isinstance(value, Tensor) and value._data.shape != view._data.shape and value.ndim:
        value = _without_leading_ones(value)
    if not advanced:
        if isinstance(value, Tensor) and value._data.shape != view._data.shape:
            from ember.ops.shape import check_expand
            check_expand(value, view._data.shape)
        write_inplace(view, value)
        return
    adv_key, tensors, unchecked = _advanced_key(view, basic, advanced)
    tensors = _checked_indices(view, tensors, adv_key, unchecked)
    # a 0-d value set through masks is a masked fill, which casts, as in PyTorch
    values = _values_for(view, value, casts=all(checked for _, _, checked in advanced))
    _check_values_shape(values, _indexed_shape(view, tensors, adv_key))
    _index_put_inplace(view, values, tensors, adv_key, accumulate=False)


def _values_for(target, value, casts=False):
    if isinstance(value, Tensor):
        if value.dtype is not target.dtype and not (casts and value.ndim == 0):
            from ember.ops.out import _title
            raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                               f"{_title(target.dtype)} for the destination and {_title(value.dtype)} for the source.")
        if value.device != target.device:
            value = to_device(value, target.device)
        return cast(value, target.dtype)
    from ember.ops.creation import full
    return full((), value, dtype=target.dtype, device=target.device)


@recorded
def _index_put_inplace(target, values, tensors, key, accumulate):
    grad_flows = GRAD_MODE.enabled and (target._rg or values._rg)
    if grad_flows or (ACTIVE.modes and BATCHED in ACTIVE.keys):  # (vmap: through the batching rules)
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


def _put_indices(target, indices):
    """``index_put``'s indices as int64 tensors, one per leading dim of ``target``, checked as in PyTorch."""
    tensors, unchecked = [], []
    for i in indices:
        t = _as_key_tensor(i, target.device)
        if t.dtype is dt.bool_:
            if len(tensors) + t.ndim <= target.ndim:
                _check_mask(target, t, len(tensors))
            tensors.extend(_to_int_indices(t))
        else:
            if len(tensors) < target.ndim:
                unchecked.append((t, target._data.shape[len(tensors)], len(tensors)))
            tensors.append(cast(t, dt.int64) if t.dtype is not dt.int64 else t)
    if len(tensors) > target.ndim:
        raise IndexError(f"too many indices for tensor of dimension {target.ndim} (got {len(tensors)})")
    key = (INDEX_SLOT,) * len(tensors)
    tensors = _checked_indices(target, tensors, key, unchecked)
    return tensors, key


@public(method=True)
@dispatch_point("index_put")
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

    Raises:
        IndexError: for more indices than dimensions, an index out of range, or indices that do not broadcast.
        RuntimeError: if ``values`` does not broadcast to the indexed shape.
    """
    tensors, key = _put_indices(input, indices)
    values = _values_for(input, values)
    _check_values_shape(values, _indexed_shape(input, tensors, key))
    return call(OPS["index_put"], call(OPS["clone"], input), values, *tensors, key=key, accumulate=accumulate)


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

    Raises:
        IndexError: for more indices than dimensions, an index out of range, or indices that do not broadcast.
        RuntimeError: if ``values`` does not broadcast to the indexed shape.
    """
    tensors, key = _put_indices(self, indices)
    values = _values_for(self, values)
    _check_values_shape(values, _indexed_shape(self, tensors, key))
    return _index_put_inplace(self, values, tensors, key, accumulate)


# ---------------------------------------------------------------- index ranges
# Every index is checked here, before a kernel sees it: backends differ on what an out-of-range index does
# (numpy raises its own error, MLX reads or writes past the array), and PyTorch raises for it.
def _index_bounds(index):
    """The smallest and largest value of an integer tensor as Python ints, or None when it is empty.

    Read on the host: one transfer of the index, which costs less on the backends here than two device
    reductions and their synchronisations.
    """
    if index.numel() == 0:
        return None
    values = to_numpy(index)
    return int(np.minimum.reduce(values, axis=None)), int(np.maximum.reduce(values, axis=None))


def _first_outside(index, low, high, last=False):
    """The first (or ``last``) value of ``index``, in row-major order, outside ``[low, high)`` (read on the host)."""
    flat = to_numpy(index).reshape(-1)
    outside = np.flatnonzero((flat < low) | (flat >= high))
    return int(flat[outside[-1] if last else outside[0]])


def _check_range(index, low, high, error, message):
    """Raise ``error(message)`` if a value of ``index`` lies outside ``[low, high)``; ``message`` names the first
    such value as ``{index}``. Returns whether ``index`` holds negative values (for ops that wrap them)."""
    return guarded(_range_check, index, low, high, error, message)


def _range_check(index, low, high, error, message):
    bounds = _index_bounds(index)
    if bounds is None:
        return False
    if bounds[0] < low or bounds[1] >= high:
        raise error(message.format(index=_first_outside(index, low, high)))
    return bounds[0] < 0


def _dim_size(input, dim):
    return input._data.shape[dim] if input.ndim else 1


# ---------------------------------------------------------------- gather / scatter
def _check_gather_index(input, dim, index, name, src=None):
    """PyTorch's checks of gather's and scatter's index (dtype, rank, sizes, range): the index as int64."""
    if index.dtype not in (dt.int64, dt.int32):
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    if index.ndim != input.ndim and not (index.ndim <= 1 and input.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input tensor "
                           f"({index.ndim} vs {input.ndim}) in {name}")
    idx_shape, in_shape = index._data.shape, input._data.shape
    for d in range(index.ndim if input.ndim else 0):
        if name == "gather":
            if d != dim and idx_shape[d] > in_shape[d]:
                raise RuntimeError(f"Size does not match at dimension {d} expected index {list(idx_shape)} to be "
                                   f"no larger than self {list(in_shape)} apart from dimension {dim}")
        elif (d != dim and idx_shape[d] > in_shape[d]) or (src is not None and idx_shape[d] > src._data.shape[d]):
            extra = f" and to be no larger size than src {list(src._data.shape)}" if src is not None else ""
            raise RuntimeError(f"Expected index {list(idx_shape)} to be no larger than self {list(in_shape)} "
                               f"apart from dimension {dim}{extra}")
    size = _dim_size(input, dim)
    _check_range(index, 0, size, RuntimeError, f"index {{index}} is out of bounds for dimension {dim} with size {size}")
    return index if index.dtype is dt.int64 else cast(index, dt.int64)


@public(method=True, out=True)
def gather(input, dim, index, *, sparse_grad=False):
    """Values of ``input`` picked along ``dim`` at the positions ``index`` gives.

    For a 3-d tensor and ``dim=1``: ``result[i][j][k] = input[i][index[i][j][k]][k]``.

    Args:
        input: the tensor.
        dim: the dimension to pick along.
        index: an int64 (or int32) tensor with as many dimensions as ``input``, no larger than ``input`` in any
            dimension other than ``dim``, with values in ``[0, input.shape[dim])``.
        sparse_grad: accepted for PyTorch compatibility; the gradient is always dense.

    Returns:
        A new tensor of ``index``'s shape and ``input``'s dtype.

    Raises:
        RuntimeError: if ``index`` is not int64 or int32, has a different number of dimensions, is larger than
            ``input`` in a dimension other than ``dim``, or holds a value out of range.
    """
    dim = normalize_dim(dim, input.ndim)
    index = _check_gather_index(input, dim, index, "gather")
    return call(OPS["gather"], input, index, dim=dim)


def _scatter(input, dim, index, src, value, reduce):
    dim = normalize_dim(dim, input.ndim)
    if src is None:
        src = value
    if isinstance(src, Tensor):
        if src.dtype is not input.dtype:
            raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
        index = _check_gather_index(input, dim, index, "scatter", src)
    else:
        index = _check_gather_index(input, dim, index, "scatter")
        from ember.ops.creation import full
        src = full(index.shape, src, dtype=input.dtype, device=input.device)
    return call(OPS["scatter"], input, index, src, dim=dim, reduce=reduce)


@public(method=True, inplace=True, out=True)
def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of ``input`` with values from ``src`` written along ``dim`` at the positions ``index`` gives.

    The reverse of ``gather``. For a 3-d tensor and ``dim=1``: ``result[i][index[i][j][k]][k] = src[i][j][k]``.
    ``Tensor.scatter_`` does the same in place.

    Args:
        input: the tensor written into.
        dim: the dimension along which ``index`` gives positions.
        index: an int64 (or int32) tensor with as many dimensions as ``input``, no larger than it in any
            dimension other than ``dim``, with values in ``[0, input.shape[dim])``.
        src: the values: a tensor of ``input``'s dtype at least as large as ``index`` in every dimension (only
            its first ``index.shape`` elements are used), or a Python number.
        value: a Python number written everywhere ``index`` points, used when ``src`` is not given.
        reduce: ``None`` (the default) replaces the values; ``"add"`` or ``"multiply"`` combine them with
            what is there.

    Returns:
        A new tensor of ``input``'s shape and dtype. Without ``reduce``, if ``index`` names the same position
        twice, which value ends up there is unspecified.

    Raises:
        RuntimeError: if ``index`` is not int64 or int32, has a different number of dimensions, is larger than
            ``input`` (or ``src``) where it must not be, or holds a value out of range; if ``src`` has another
            dtype; or if ``reduce`` is not ``"add"`` or ``"multiply"``.
    """
    if reduce not in (None, "add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    return _scatter(input, dim, index, src, value, reduce)


@public(method=True, inplace=True, out=True)
@dispatch_point("scatter_add")
def scatter_add(input, dim, index, src):
    """A copy of ``input`` with the values of ``src`` added along ``dim`` at the positions ``index`` gives.

    Same as ``scatter(input, dim, index, src, reduce="add")``: values sent to the same position add up.
    ``Tensor.scatter_add_`` does the same in place.

    Args:
        input: the tensor added to.
        dim: the dimension along which ``index`` gives positions.
        index: an int64 tensor with as many dimensions as ``input`` (see ``scatter``).
        src: the values added, a tensor of ``input``'s dtype at least as large as ``index`` in every dimension.

    Returns:
        A new tensor of ``input``'s shape and dtype.

    Raises:
        RuntimeError: as ``scatter`` does.
    """
    return _scatter(input, dim, index, src, None, "add")


@public(method=True, inplace=True)
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """A copy of ``input`` where the values of ``src`` sent along ``dim`` to each position (by ``index``) are reduced.

    Positions that ``index`` never points at keep ``input``'s value. ``Tensor.scatter_reduce_`` does the
    same in place.

    Args:
        input: the tensor written into.
        dim: the dimension along which ``index`` gives positions.
        index: an int64 tensor with as many dimensions as ``input`` (see ``scatter``).
        src: the values, a tensor of ``input``'s dtype at least as large as ``index`` in every dimension.
        reduce: ``"sum"``, ``"prod"``, ``"mean"``, ``"amax"`` or ``"amin"``. ``"mean"`` of an integer tensor is
            rounded down.
        include_self: whether ``input``'s value at a position takes part in the reduction (default ``True``),
            or only the values sent there.

    Returns:
        A new tensor of ``input``'s shape and dtype.

    Raises:
        RuntimeError: if ``reduce`` is not one of the names above, or as ``scatter`` does.
    """
    names = {"sum": "add", "prod": "multiply", "amax": "amax", "amin": "amin"}
    if reduce not in names and reduce != "mean":
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    if reduce == "mean":
        total = scatter_reduce(input, dim, index, src, "sum", include_self=include_self)
        count = _scatter(zeros_like(input) + (1 if include_self else 0), dim, index,
                         ew.add(zeros_like(src, dtype=input.dtype), 1), None, "add")
        out = ew.div(total, ew.clamp(count, min=1))
        return out if input.dtype.is_floating_point else cast(ew.floor(out), input.dtype)
    if not include_self:
        identity = {"sum": 0, "prod": 1, "amax": -float("inf"), "amin": float("inf")}[reduce]
        if not input.dtype.is_floating_point and reduce in ("amax", "amin"):
            info = np.iinfo(input.dtype.numpy)
            identity = info.min if reduce == "amax" else info.max
        base = _scatter(input, dim, index, None, identity, None)
        touched = _scatter(zeros_like(input, dtype=dt.bool_), dim, index, None, True, None)
        reduced = _scatter(base, dim, index, src, None, names[reduce])
        return ew.where(touched, reduced, input)
    return _scatter(input, dim, index, src, None, names[reduce])


# ---------------------------------------------------------------- index_* along a dimension
def _dim_index(input, dim, index):
    """``dim`` normalized (a 0-d ``input`` has one dim of size 1 here), and ``index`` as a tensor."""
    index = _as_index_tensor(index, input.device) if not isinstance(index, Tensor) else index
    if index.device != input.device:
        index = to_device(index, input.device)
    return normalize_dim(dim, input.ndim), index


@public(method=True, out=True)
def index_select(input, dim, index):
    """The slices of ``input`` along ``dim`` at the positions in ``index``, in that order.

    Args:
        input: the tensor.
        dim: the dimension to select along.
        index: a 1-d (or 0-d) int64 or int32 tensor of positions in ``[0, input.shape[dim])``; they may repeat.

    Returns:
        A new tensor with ``index.numel()`` entries along ``dim`` and ``input``'s other sizes.

    Raises:
        IndexError: if ``index`` has more than one dimension, or holds a position out of range (PyTorch's
            CPU kernels raise a RuntimeError instead when ``dim`` is 1 or ``input`` is empty, and so does ember).
        RuntimeError: if ``index`` is not int64 or int32.
    """
    dim, index = _dim_index(input, dim, index)
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if index.dtype not in (dt.int64, dt.int32):
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    size = _dim_size(input, dim)
    if size == 0 and index.numel():
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    # PyTorch's CPU kernels word this error in two ways, by the path they take
    if (input.ndim >= 2 and dim == 1) or input.numel() == 0:
        _check_range(index, 0, size, RuntimeError, f"INDICES element is out of DATA bounds, id={{index}} "
                                                   f"axis_dim={size}")
    else:
        _check_range(index, 0, size, IndexError, "index out of range in self")
    index = cast(index if index.ndim == 1 else index.reshape(-1), dt.int64)
    if input.ndim == 0:
        return call(OPS["index"], input.view(1), index, key=(INDEX_SLOT,)).view(())
    key = (_FULL,) * dim + (INDEX_SLOT,)
    return call(OPS["index"], input, index, key=key)


def _dim_key(input, dim):
    return (_FULL,) * dim + (INDEX_SLOT,)


def _check_source(input, dim, index, source, name):
    """``index_add``'s and ``index_copy``'s checks of ``source`` against ``input`` and ``index``."""
    n = index.numel()
    src_shape, in_shape = source._data.shape, input._data.shape
    src_n = src_shape[dim] if source.ndim else 1
    if name == "index_add":
        if source.ndim != input.ndim and not (source.ndim <= 1 and input.ndim <= 1) or any(
                a != b for d, (a, b) in enumerate(zip(src_shape, in_shape)) if d != dim):
            raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the specified "
                               f"dimension. Got self.shape = {list(in_shape)} source.shape = {list(src_shape)}")
        if n != src_n:
            raise RuntimeError(f"index_add_(): Number of indices ({n}) should be equal to source.size(dim): "
                               f"({src_n}), for dim: {dim}")
    else:
        for d, (a, b) in enumerate(zip(src_shape, in_shape)):
            if d != dim and a != b:
                raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice shapes. "
                                   f"Destination slice shape: {b} at dimension {d} and source slice shape: "
                                   f"{a} at dimension {d}.")
        if source.ndim != input.ndim and not (source.ndim <= 1 and input.ndim <= 1):
            raise RuntimeError(f"index_copy_(): When source and destination are not scalars, their "
                               f"dimensionality must match. Source dimensionality ({source.ndim}), destination "
                               f"dimensionality ({input.ndim})")
        if n != src_n:
            raise IndexError(f"index_copy_(): Number of indices ({n}) should be equal to source.size(dim) "
                             f"({src_n})")


@public(method=True, inplace=True, out=True)
def index_add(input, dim, index, source, *, alpha=1):
    """A copy of ``input`` with ``alpha * source`` added to the slices along ``dim`` that ``index`` names.

    Slice ``i`` of ``source`` along ``dim`` is added to slice ``index[i]`` of ``input``; repeated indices
    add up. ``Tensor.index_add_`` does the same in place.

    Args:
        input: the tensor added to.
        dim: the dimension the indices refer to.
        index: a 1-d int64 or int32 tensor of positions in ``[0, input.shape[dim])``.
        source: the values, of ``input``'s dtype: ``index.numel()`` entries along ``dim``, ``input``'s sizes
            elsewhere.
        alpha: a factor applied to ``source`` first (default 1).

    Returns:
        A new tensor of ``input``'s shape and dtype.

    Raises:
        IndexError: if ``index`` has more than one dimension, or (for a 1-d ``input``, or a middle ``dim``)
            holds a position out of range, as PyTorch's CPU kernels word it.
        RuntimeError: for a position out of range otherwise, an ``index`` that is not int64/int32, or a
            ``source`` of another dtype or shape.
    """
    dim, index = _dim_index(input, dim, index)
    if index.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: {index.ndim} with type: "
                         f"{_title(index.dtype)} and size: {list(index._data.shape)}")
    if index.dtype not in (dt.int64, dt.int32):
        raise RuntimeError(f"index_add_(): Expected dtype int32/int64 for index but got: {_title(index.dtype)}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_add_(): self ({_title(input.dtype)}) and source ({_title(source.dtype)}) must "
                           f"have the same scalar type")
    _check_source(input, dim, index, source, "index_add")
    if input.numel() == 0:  # nothing to add to (PyTorch does not look at the index then)
        return call(OPS["clone"], input)
    size = _dim_size(input, dim)
    if input.ndim <= 1 or 0 < dim < input.ndim - 1:  # PyTorch's CPU kernels word it by the path they take
        _check_range(index, 0, size, IndexError, "index out of range in self")
    else:
        _check_range(index, 0, size, RuntimeError, f"index {{index}} is out of bounds for dimension {dim} with "
                                                   f"size {size}")
    values = ew.mul(source, alpha) if alpha != 1 else source
    target, values = (input, values) if input.ndim else (input.view(1), values.reshape(1))
    out = call(OPS["index_put"], call(OPS["clone"], target), values, cast(index.reshape(-1), dt.int64),
               key=_dim_key(target, dim), accumulate=True)
    return out if input.ndim else out.view(())


@public(method=True, inplace=True, out=True)
@dispatch_point("index_copy")
def index_copy(input, dim, index, source):
    """A copy of ``input`` with slice ``index[i]`` along ``dim`` replaced by slice ``i`` of ``source``.

    ``Tensor.index_copy_`` does the same in place. If ``index`` repeats a position, which slice ends up
    there is unspecified.

    Args:
        input: the tensor written into.
        dim: the dimension the indices refer to.
        index: a 1-d (or 0-d) int64 tensor of positions in ``[0, input.shape[dim])``.
        source: the values, of ``input``'s dtype: ``index.numel()`` entries along ``dim``, ``input``'s sizes
            elsewhere.

    Returns:
        A new tensor of ``input``'s shape and dtype.

    Raises:
        IndexError: if ``index`` has more than one dimension, its length differs from ``source``'s along
            ``dim``, or it holds a position out of range.
        RuntimeError: if ``index`` is not int64, or ``source`` has another dtype or shape.
    """
    dim, index = _dim_index(input, dim, index)
    if index.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {index.ndim})")
    if index.dtype is not dt.int64:
        raise RuntimeError(f"index_copy_(): Expected a long tensor for index, but got {_title(index.dtype)}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{_title(input.dtype)} and (source) {_title(source.dtype)}")
    _check_source(input, dim, index, source, "index_copy")
    size = _dim_size(input, dim)
    _check_range(index, 0, size, IndexError, f"index_copy_(): index {{index}} is out of bounds for dimension {dim} "
                                             f"with size {size}")
    target, source = (input, source) if input.ndim else (input.view(1), source.reshape(1))
    out = call(OPS["index_put"], call(OPS["clone"], target), source, index.reshape(-1),
               key=_dim_key(target, dim), accumulate=False)
    return out if input.ndim else out.view(())


@public(method=True, inplace=True)
def index_fill(input, dim, index, value):
    """A copy of ``input`` with the slices along ``dim`` that ``index`` names filled with ``value``.

    ``Tensor.index_fill_`` does the same in place.

    Args:
        input: the tensor.
        dim: the dimension the indices refer to.
        index: a 1-d (or 0-d) int64 tensor of positions in ``[-input.shape[dim], input.shape[dim])`` (negative
            ones count from the end).
        value: a Python number or a 0-d tensor (cast to ``input``'s dtype).

    Returns:
        A new tensor of ``input``'s shape and dtype.

    Raises:
        IndexError: if ``index`` is not int64 or holds a position out of range.
        RuntimeError: if ``index`` has more than one dimension.
    """
    dim, index = _dim_index(input, dim, index)
    if index.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    if index.dtype is not dt.int64:
        raise IndexError("index_fill_(): Expected dtype int64 for index.")
    size = _dim_size(input, dim)
    if _check_range(index, -size, size, IndexError, f"index {{index}} is out of bounds for dimension {dim} with "
                                                    f"size {size}"):
        index = ew.remainder(index, size)
    target = input if input.ndim else input.view(1)
    out = call(OPS["index_put"], call(OPS["clone"], target), _values_for(input, value, casts=True), index.reshape(-1),
               key=_dim_key(target, dim), accumulate=False)
    return out if input.ndim else out.view(())


# ---------------------------------------------------------------- masks
# PyTorch names a mask's dtype in its C++ spelling in masked_fill's error
_CPP_TYPE = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
             "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
             "uint8": "unsigned char", "bool": "bool"}


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
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_CPP_TYPE.get(mask.dtype.name, mask.dtype.name)}")
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

    Raises:
        RuntimeError: if ``mask`` is not boolean, or does not broadcast with ``input``.
    """
    if mask.dtype is not dt.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    from ember.ops.shape import broadcast_tensors
    mask, input = broadcast_tensors(mask, input)
    return getitem(input, mask)


@public(method=True, inplace=True)
def masked_scatter(input, mask, source):
    """A copy of ``input`` where the positions in which ``mask`` is ``True`` take consecutive elements of ``source``.

    The positions are visited in row-major order and filled from ``source`` read as a flat sequence.
    ``Tensor.masked_scatter_`` does the same in place.

    Args:
        input: the tensor.
        mask: a boolean tensor broadcastable with ``input``.
        source: a tensor of ``input``'s dtype with at least as many elements as ``mask`` has ``True`` values;
            the rest are unused.

    Returns:
        A new tensor of the broadcast shape of ``input`` and ``mask``, with ``input``'s dtype.

    Raises:
        RuntimeError: if ``mask`` is not boolean, ``source`` has another dtype or too few elements.
    """
    if mask.dtype is not dt.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{_title(mask.dtype)}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got"
                           f"{_title(input.dtype)} and {_title(source.dtype)}")
    from ember.ops.shape import broadcast_tensors
    target, mask = broadcast_tensors(input, mask)
    idx = _to_int_indices(mask)
    n = idx[0].numel() if idx else int(mask.item())
    if n > source.numel():
        raise RuntimeError("Number of elements of source < number of ones in mask")
    values = source.reshape(-1)[:n]
    return call(OPS["index_put"], call(OPS["clone"], target), values, *idx,
                key=(INDEX_SLOT,) * len(idx), accumulate=False)


# ---------------------------------------------------------------- flat and broadcast picks
@public(method=True, out=True)
def take(input, index):
    """The elements of ``input``, read as a flat row-major sequence, at the positions in ``index``.

    Args:
        input: the tensor.
        index: an int64 tensor of positions in ``[-input.numel(), input.numel())`` (negative ones count from
            the end).

    Returns:
        A new tensor of ``index``'s shape.

    Raises:
        RuntimeError: if ``index`` is not int64.
        IndexError: if a position is out of range (or ``input`` is empty).
    """
    if index.dtype is not dt.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {_title(index.dtype)}")
    n = input.numel()
    if n == 0 and index.numel():
        raise IndexError("take(): tried to take from an empty tensor")
    flat_index = index.reshape(-1)
    if _check_range(index, -n, n, IndexError, f"out of range: tried to access index {{index}} on a tensor of {n} "
                                              f"elements."):
        flat_index = ew.remainder(flat_index, n)
    flat = input.reshape(-1) if input.ndim else input.view(1)
    return call(OPS["index"], flat, flat_index, key=(INDEX_SLOT,)).view(index.shape)


@public(method=True, out=True)
def take_along_dim(input, indices, dim=None):
    """Values of ``input`` picked along ``dim`` at ``indices``, with the other dimensions broadcast.

    Like ``gather``, except that ``input`` and ``indices`` broadcast in the dimensions other than ``dim``;
    it pairs with the indices ``argsort``, ``argmax`` (with ``keepdim=True``) and the like return. As in
    PyTorch, with ``dim`` each index is taken modulo the size of ``dim`` (so negative ones count from the end).

    Args:
        input: the tensor.
        indices: an int64 tensor with as many dimensions as ``input``.
        dim: the dimension to pick along; ``None`` (the default) treats ``input`` as flat: ``gather`` of the
            flattened tensors, positions in ``[0, input.numel())``.

    Returns:
        A new tensor: ``indices``'s size along ``dim``, the broadcast sizes elsewhere.

    Raises:
        RuntimeError: if ``indices`` is not int64, has another number of dimensions than ``input`` (with
            ``dim``), or (without ``dim``) holds a position out of range.
    """
    if indices.dtype is not dt.int64:
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{_title(indices.dtype)}")
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    if input.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of "
                           f"dimensions, but got {input.ndim} dimensions for input, and {indices.ndim} "
                           f"dimensions for indices")
    dim = normalize_dim(dim, input.ndim)
    shape_in = list(input.shape)
    shape_idx = list(indices.shape)
    shape_in[dim] = shape_idx[dim] = 1
    common = list(broadcast_shapes(tuple(shape_in), tuple(shape_idx)))
    want_in, want_idx = list(common), list(common)
    want_in[dim], want_idx[dim] = input.shape[dim], indices.shape[dim]
    size = _dim_size(input, dim)
    if guarded(_wraps_along, indices, size):
        indices = ew.remainder(indices, size)
    return gather(input.expand(want_in), dim, indices.expand(want_idx))


def _wraps_along(indices, size):
    """Whether take_along_dim's indices need wrapping into ``[0, size)`` (an error for a size-0 dim)."""
    bounds = _index_bounds(indices)
    if bounds is not None and (bounds[0] < 0 or bounds[1] >= size):
        if size == 0:
            raise RuntimeError("ZeroDivisionError")
        return True
    return False


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
    if input.dtype.is_complex:  # no ordering of complex numbers
        raise RuntimeError(f"Sort does not support complex dtypes on {input.device.type.upper()}")
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
    if input.dtype.is_complex:
        raise RuntimeError(f"topk does not support complex dtypes on {input.device.type.upper()}")
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
        k: the rank, counted from 1 (``k=1`` is the smallest), at most the size of ``dim``.
        dim: the dimension to search along (default -1, the last one).
        keepdim: keep ``dim`` in the result with size 1 (default ``False``: it is removed).

    Returns:
        A namedtuple ``kthvalue(values, indices)``: the values and their int64 positions along ``dim`` (equal
        elements are ranked in their original order).

    Raises:
        IndexError: if ``dim`` is out of range or of size 0.
        RuntimeError: if ``k`` is not in ``[1, input.shape[dim]]``.
    """
    return kthvalue_result(*_kth(input, k, dim, keepdim, "kthvalue"))


def _complex_title(t) -> str:
    return "ComplexDouble" if t.dtype is dt.complex128 else "ComplexFloat"


def _kth(input, k, dim, keepdim, name):
    """The ``k``-th smallest values along ``dim`` and their positions (kthvalue's and median's work)."""
    if input.dtype.is_complex:
        raise NotImplementedError(f"\"{name}_{input.device.type}\" not implemented for '{_complex_title(input)}'")
    dim = normalize_dim(dim, input.ndim)
    size = _dim_size(input, dim)
    if size == 0:
        raise IndexError(f"{name}(): Expected reduction dim {dim} to have non-zero size.")
    if not 1 <= k <= size:
        raise RuntimeError(f"{name}(): selected number k out of range for dimension {dim}")
    if input.ndim == 0:
        from ember.ops.creation import zeros
        return input.clone(), zeros((), dtype=dt.int64, device=input.device)
    values, indices = sort(input, dim, stable=True)
    from ember.ops.shape import select
    v, i = select(values, dim, k - 1), select(indices, dim, k - 1)
    if keepdim:
        v, i = v.unsqueeze(dim), i.unsqueeze(dim)
    return v, i


@public(method=True, out=True)
def median(input, dim=None, keepdim=False):
    """The median of ``input``, over all its elements or along ``dim``.

    For an even number of elements this is the lower of the two middle values (no average is taken).

    Args:
        input: the tensor.
        dim: the dimension to reduce; ``None`` (the default) takes the median of all elements.
        keepdim: with ``dim``, keep it in the result with size 1 (default ``False``: it is removed).

    Returns:
        Without ``dim``, a 0-d tensor. With ``dim``, a namedtuple ``median(values, indices)``: the medians and
        their int64 positions along ``dim``.

    NaN propagates: a row holding NaN has NaN as its median. The median of no elements is NaN
    (the smallest integer for integer dtypes), as in PyTorch.

    Raises:
        IndexError: if ``dim`` is out of range or of size 0.
        NotImplementedError: for a bool tensor.
    """
    if input.dtype.is_complex:
        raise NotImplementedError(f"\"median_{input.device.type}\" not implemented for '{_complex_title(input)}'")
    if input.dtype is dt.bool_:
        if dim is None and not input.numel():  # PyTorch answers this one without its bool kernel
            from ember.ops.creation import full
            return full((), True, dtype=dt.bool_, device=input.device)
        raise NotImplementedError("\"median\" not implemented for 'Bool'")
    floating = input.dtype.is_floating_point
    if dim is None:
        flat = input.reshape(-1)
        if not flat.numel():  # PyTorch's answer for nothing: NaN, or the smallest integer
            from ember.ops.creation import full
            empty_value = float("nan") if floating else int(np.iinfo(input.dtype.numpy).min)
            return full((), empty_value, dtype=input.dtype, device=input.device)
        middle = sort(flat, 0, stable=True).values[(flat.numel() - 1) // 2]  # NaN sorts last
        return ew.where(ew.isnan(flat).any(), float("nan"), middle) if floating else middle
    size = _dim_size(input, normalize_dim(dim, input.ndim))
    values, indices = _kth(input, (size + 1) // 2, dim, keepdim, "median")
    if floating and input.numel():  # a row holding NaN has NaN as its median, at its first NaN
        nans = ew.isnan(input)
        has_nan = nans.any(dim, keepdim=keepdim)
        values = ew.where(has_nan, float("nan"), values)
        indices = ew.where(has_nan, nans.to(dt.uint8).argmax(dim, keepdim=keepdim), indices)
    return median_result(values, indices)


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
    if input.dtype.is_complex:
        kernel = "unique" if dim is None else "unique_dim"
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{_complex_title(input)}'")
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
    """The values of ``input`` with each run of equal consecutive elements (or slices) reduced to one, in order.

    Args:
        input: the tensor.
        return_inverse: also return, for each element of ``input`` (each slice along ``dim``), the position of
            its run in the result.
        return_counts: also return the length of each run.
        dim: ``None`` (the default) reads ``input`` flat, in row-major order; an int compares whole slices
            along that dimension instead.

    Returns:
        The run values: without ``dim`` a new 1-d tensor, with ``dim`` ``input`` keeping one slice per run
        along ``dim``. With ``return_inverse`` and/or ``return_counts``, a tuple ``(values, inverse, counts)``
        holding those asked for: ``inverse`` is int64 of ``input``'s shape (with ``dim``: 1-d, of
        ``input.shape[dim]`` entries), ``counts`` is 1-d int64.

    Raises:
        IndexError: if ``dim`` is out of range (any ``dim`` for a 0-d ``input``).
        RuntimeError: if ``dim`` is given and another dimension has size 0.
    """
    from ember.ops.creation import zeros
    from ember.ops.shape import cat
    if dim is None:
        rows = input.reshape(-1)
        if rows.numel() == 0:
            return unique(input, return_inverse=return_inverse, return_counts=return_counts)
        change = ew.ne(rows[1:], rows[:-1])
    else:
        if input.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        dim = normalize_dim(dim, input.ndim)
        if any(s == 0 for d, s in enumerate(input._data.shape) if d != dim):
            raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so unique cannot be applied")
        n = input._data.shape[dim]
        if n == 0:
            empty = zeros(0, dtype=dt.int64, device=input.device)
            out = (input.clone(),) + ((empty,) if return_inverse else ()) + ((empty,) if return_counts else ())
            return out[0] if len(out) == 1 else out
        rows = input.movedim(dim, 0).reshape(n, -1)
        change = ew.ne(rows[1:], rows[:-1]).any(1)
    starts = cat([from_host(np.ones(1, dtype=np.bool_), input.device), change])
    values = rows[starts] if dim is None else index_select(input, dim, nonzero(starts).reshape(-1))
    out = (values,)
    group = starts.long().cumsum(0) - 1
    if return_inverse:
        out += (group.view(input.shape) if dim is None else group,)
    if return_counts:
        n_runs = values.numel() if dim is None else values._data.shape[dim]
        out += (zeros(n_runs, dtype=dt.int64, device=input.device).index_add(0, group, ew.add(
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
    if isinstance(value, complex) and not self.dtype.is_complex:
        if value.imag:  # PyTorch's error for a complex value a real dtype cannot hold
            raise RuntimeError(f"value cannot be converted to type {self.dtype.name} without overflow")
        value = value.real
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

