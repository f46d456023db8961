"""vmap's machinery: batched tensors, the Batched dispatch key's handler and the batching rules.

A ``BatchedTensor`` is what a function under ``vmap`` sees: a tensor of the *logical* (per-sample)
shape that holds a *physical* value with the batch dimension in front (``_value``, at ``_level``,
the vmap that made it). Nested vmaps nest wrappers, the highest level outermost; a wrapper's value
may itself be a BatchedTensor of a lower level.

While a vmap runs, the Batched mode key (``ember.dispatch.keys``) sees every dispatched op. For an
op with a BatchedTensor argument it takes the highest level among them, unwraps the arguments of
that level (their batch dimension first) and runs the op's batching rule on the physical values:
one call of the op (or a few) over the whole batch, never a loop. The rule's results, batch
dimension first, are wrapped again at that level. Lower levels are handled the same way when the
rule's own calls dispatch. A composite without a rule runs its decomposition (whose primitives
have rules); a primitive without one loops over the batch and stacks, with a performance warning,
as PyTorch's fallback does.

Autograd sees only physical tensors: the rules' calls record the graph as any call does.
"""
from __future__ import annotations

import warnings

from ember.core.call import call
from ember.core.tensor import Tensor
from ember.dispatch.keys import BATCHED, BATCHED_HOOKS, pop_mode, push_mode
from ember.dispatch.ops import COMPOSITE, INDEX_SLOT, OPS
from ember.dispatch.public_op import PublicOp
from ember.dispatch import meta as M

__all__ = ["BatchedTensor", "is_batched", "debug_unwrap"]


# ---------------------------------------------------------------- the batched tensor
class _LogicalArray:
    """Stands in for a BatchedTensor's native array: the logical shape, the physical dtype.
    Anything else (reading the values) is refused: a sample's values do not exist apart."""
    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = value

    @property
    def shape(self):
        return self._value._data.shape[1:]

    @property
    def ndim(self):
        return len(self._value._data.shape) - 1

    @property
    def dtype(self):
        return self._value._data.dtype

    @property
    def size(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    def __getattr__(self, name):
        if name == "strides":
            raise AttributeError("vmap: a batched tensor has no per-sample strides")
        # anything else (a host transfer for a check on the values) sees the whole batch's array
        return getattr(debug_unwrap(self._value)._data, name)

    def __array__(self, dtype=None, copy=None):
        # the whole batch's values: what the ops layer's host-side checks (index bounds) read
        from ember.core.transfer import to_numpy
        value = debug_unwrap(self._value)
        array = to_numpy(value)
        return array if dtype is None else array.astype(dtype)


def _no_data(what):
    what = {"item": ".item()", "__bool__": "bool()", "__float__": "float()", "__int__": "int()",
            "__index__": "index()"}.get(what, what)

    def refuse(self, *args, **kwargs):
        raise RuntimeError(f"vmap: It looks like you're calling {what} on a Tensor. We don't support vmap over "
                           f"calling {what} on a Tensor, please try to rewrite what you're doing with other "
                           "operations.")
    refuse.__name__ = what.strip(".()")
    refuse.__doc__ = f"Refused under vmap: {what} needs one sample's values."
    return refuse


def _agreed(what):
    """A host read (``item``, ``bool`` ...) of a batched tensor: the value when every sample has the same one
    (the program then takes the same path for all: the ops layer's checks of indices and LAPACK infos), else
    PyTorch's vmap error."""
    def read(self, *args, **kwargs):
        import numpy as np
        from ember.core.transfer import to_numpy
        physical, levels = self, 0
        while type(physical) is BatchedTensor:
            physical, levels = physical._value, levels + 1
        array = to_numpy(physical)
        rows = array.reshape((int(np.prod(array.shape[:levels])), -1))
        if not (rows == rows[:1]).all():
            _no_data(what)(self)
        sample = call(OPS["basic_index"], physical, key=(0,) * levels)
        return getattr(sample, what)(*args, **kwargs)
    read.__name__ = what
    read.__doc__ = f"``{what}`` of a batched tensor: the value all samples share (else RuntimeError)."
    return read


class BatchedTensor(Tensor):
    """A tensor of a function running under ``vmap``: one sample's view of a batch.

    Attributes:
        _value: the physical tensor, batch dimension first (itself batched for lower levels).
        _level: the vmap level it belongs to.
    """
    __slots__ = ("_value", "_level")

    def __repr__(self):
        return f"BatchedTensor(lvl={self._level}, bdim=0, value=\n    {self._value!r}\n)"

    __str__ = __repr__
    item = _agreed("item")
    __bool__ = _agreed("__bool__")
    __float__ = _agreed("__float__")
    __int__ = _agreed("__int__")
    __index__ = _agreed("__index__")
    tolist = _no_data(".tolist()")
    numpy = _no_data(".numpy()")

    def detach(self):
        """A batched tensor of the same values, cut off from autograd.

        Returns:
            A new BatchedTensor at the same level.
        """
        return wrap(self._value.detach(), self._level)

    def requires_grad_(self, requires_grad: bool = True):
        """Set whether autograd records operations on the physical value.

        Args:
            requires_grad: the new flag.

        Returns:
            This tensor.
        """
        self._value.requires_grad_(requires_grad)
        self._rg = self._value._rg
        return self

    @property
    def requires_grad(self) -> bool:
        """Whether the physical value requires grad."""
        return self._value.requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    @property
    def is_leaf(self) -> bool:
        """Whether the physical value is a leaf."""
        return self._value.is_leaf

    @property
    def data(self):
        """The values without autograd history (a BatchedTensor)."""
        return self.detach()


_new = object.__new__


def wrap(value: Tensor, level: int) -> BatchedTensor:
    """``value`` (batch dimension first) as a BatchedTensor of ``level``."""
    t = _new(BatchedTensor)
    t._value = value
    t._level = level
    t._data = _LogicalArray(value)
    t.dtype = value.dtype
    t.device = value.device
    t._rg = value._rg
    t.grad = None
    t.grad_fn = None
    t._output_nr = 0
    t._version = None
    t._base = None
    t._view_fn = None
    t._views = None
    t._hooks = None
    t._retains_grad = False
    return t


def is_batched(t) -> bool:
    """Whether ``t`` is a BatchedTensor (of any level)."""
    return type(t) is BatchedTensor


def debug_unwrap(tensor, *, recurse=True):
    """The physical tensor under a batched tensor, for debugging (as PyTorch's ``torch.func.debug_unwrap``).

    Args:
        tensor: a tensor, batched (inside ``vmap``) or not.
        recurse: unwrap every level (True) or only the outermost.

    Returns:
        The physical tensor (batch dimensions first); ``tensor`` itself if it is not batched.
    """
    while type(tensor) is BatchedTensor:
        tensor = tensor._value
        if not recurse:
            break
    return tensor


# ---------------------------------------------------------------- the active vmaps
class _Level:
    __slots__ = ("level", "size", "randomness")

    def __init__(self, level, size, randomness):
        self.level, self.size, self.randomness = level, size, randomness


_STACK: list = []      # the active vmaps, innermost last (levels ascending)
_COUNTER = [0]


def active_levels():
    """The levels of the active vmaps, ascending (innermost last)."""
    return [e.level for e in _STACK]


def level_size(level):
    for e in _STACK:
        if e.level == level:
            return e.size
    raise RuntimeError(f"vmap: level {level} is not active (a batched tensor escaped its vmap)")


def enter(size, randomness) -> int:
    """Start a vmap level of batch ``size``; returns the level. The first one installs the mode key."""
    _COUNTER[0] += 1
    level = _COUNTER[0]
    if not _STACK:
        push_mode(BATCHED, _handle)
    _STACK.append(_Level(level, size, randomness))
    return level


def leave(level) -> None:
    """End vmap ``level`` (the innermost); the last one removes the mode key."""
    while _STACK and _STACK[-1].level >= level:
        _STACK.pop()
    if not _STACK:
        pop_mode(BATCHED)


# ---------------------------------------------------------------- helpers on (possibly batched) tensors
def _nd(t) -> int:
    return len(t._data.shape)


def _key_index(t, key):
    return call(OPS["basic_index"], t, key=key)


def _unsqueeze(t, dim):
    """``t`` with a new size-1 dim at ``dim`` (0 <= dim <= ndim): always a view."""
    return _key_index(t, (slice(None),) * dim + (None,))


def _pad_after_batch(t, rank):
    """A physical ``t`` ([B, *l]) as [B, 1, ..., 1, *l] with ``rank`` logical dims."""
    missing = rank - (_nd(t) - 1)
    return _key_index(t, (slice(None),) + (None,) * missing) if missing > 0 else t


def _expand_batch(t, size):
    """An unbatched ``t`` as a physical value: the batch dim in front, expanded to ``size``."""
    shape = tuple(t._data.shape)
    return call(OPS["expand"], _unsqueeze(t, 0), shape=(size,) + shape)


def _movedim(t, source, dest):
    nd = _nd(t)
    if source == dest:
        return t
    order = [d for d in range(nd) if d != source]
    order.insert(dest, source)
    return call(OPS["permute"], t, dims=tuple(order))


def _reshape(t, shape):
    import ember
    return ember.reshape(t, shape)


def _wrap_dim(d, nd):
    n = max(nd, 1)
    return d + n if d < 0 else d


# ---------------------------------------------------------------- the handler
_RULES: dict = {}
_WARNED: set = set()


def _handle(op, inputs, attrs, below):
    """The Batched mode key: batching rules for calls with BatchedTensor arguments."""
    if type(op) is PublicOp:
        return below(op, inputs, attrs)  # the body's dispatched ops come back here
    level = -1
    for t in inputs:
        if type(t) is BatchedTensor and t._level > level:
            level = t._level
    if level < 0:
        return below(op, inputs, attrs)
    values, batched = [], []
    size = None
    for t in inputs:
        if type(t) is BatchedTensor and t._level == level:
            values.append(t._value)
            batched.append(True)
            if size is None:
                size = t._value._data.shape[0]
        else:
            values.append(t)
            batched.append(False)
    rule = _RULES.get(op.name)
    if rule is None:
        if op.kind == COMPOSITE and op.decomposition is not None:
            return op.decomposition(*inputs, **attrs)
        out = _loop(op, values, batched, attrs, size)
    else:
        out = rule(op, values, batched, attrs, size)
        if out is NotImplemented:
            if op.kind == COMPOSITE and op.decomposition is not None:
                return op.decomposition(*inputs, **attrs)
            out = _loop(op, values, batched, attrs, size)
    if type(out) is tuple:
        return tuple(wrap(o, level) for o in out)
    return wrap(out, level)


def _loop(op, values, batched, attrs, size):
    """PyTorch's fallback for an op without a batching rule: one call per sample, then a stack."""
    if op.name not in _WARNED:
        _WARNED.add(op.name)
        warnings.warn(f"There is a performance drop because we have not yet implemented the batching rule for "
                      f"{op.name}. Please file us an issue on GitHub so that we can prioritize its implementation.",
                      UserWarning, stacklevel=4)
    results = []
    for i in range(size):
        args = [_key_index(v, (i,)) if b else v for v, b in zip(values, batched)]
        results.append(call(op, *args, **attrs))
    if type(results[0]) is tuple:
        return tuple(_stack([r[k] for r in results]) for k in range(len(results[0])))
    return _stack(results)


def _stack(ts):
    return call(OPS["cat"], *[_unsqueeze(t, 0) for t in ts], dim=0)


def _rule(*names):
    def register(fn):
        for name in names:
            _RULES[name] = fn
        return fn
    return register


def _logical_nd(values, batched):
    return max((_nd(v) - b for v, b in zip(values, batched) if isinstance(v, Tensor)), default=0)


# ---------------------------------------------------------------- elementwise: align the ranks after the batch dim
def _elementwise(op, values, batched, attrs, size):
    rank = _logical_nd(values, batched)
    args = [_pad_after_batch(v, rank) if b else v for v, b in zip(values, batched)]
    return call(op, *args, **attrs)


_ELEMENTWISE_META = (M.elementwise, M.compare, M.to_bool, M.to_real, M.where, M.cast, M.frexp)
_ELEMENTWISE_SAME = ("(x)", "(x, *, decimals)", "(x, *, n)", "(x, *, approximate)", "(x, y)")
for _op in OPS.values():
    if _op.meta in _ELEMENTWISE_META or (_op.meta is M.same and _op.signature in _ELEMENTWISE_SAME):
        _RULES[_op.name] = _elementwise
for _name in ("tril", "triu", "view_dtype", "relu_backward", "linalg_cholesky", "linalg_qr", "linalg_eigh", "linalg_eig",
              "linalg_svd", "linalg_lu_factor", "linalg_det", "linalg_slogdet", "linalg_ldl_factor", "linalg_geqrf",
              "linalg_pivots_to_permutation"):
    if _name in OPS:  # ops over the last dims, any leading (batch) dims: the physical value as it is
        _RULES[_name] = _elementwise


# ---------------------------------------------------------------- reductions, scans, softmax: shift the dims
@_rule("sum", "prod", "amax", "amin", "all", "any")
def _reduce(op, values, batched, attrs, size):
    x = values[0]
    nd = _nd(x) - 1
    dims = attrs["dims"]
    if nd == 0:
        return call(op, _unsqueeze(x, 1), dims=(1,), keepdim=False)
    dims = tuple(range(nd)) if dims == () else dims
    return call(op, x, dims=tuple(_wrap_dim(d, nd) + 1 for d in dims), keepdim=attrs["keepdim"])


@_rule("argmax", "argmin")
def _arg_reduce(op, values, batched, attrs, size):
    x = values[0]
    nd = _nd(x) - 1
    dim, keepdim = attrs["dim"], attrs["keepdim"]
    if dim is None or nd == 0:
        out = call(op, _reshape(x, (size, -1)), dim=1, keepdim=False)
        return _key_index(out, (slice(None),) + (None,) * nd) if keepdim and dim is None else out
    return call(op, x, dim=_wrap_dim(dim, nd) + 1, keepdim=keepdim)


@_rule("cumsum", "cumprod", "softmax", "log_softmax")
def _along_dim(op, values, batched, attrs, size):
    x = values[0]
    nd = _nd(x) - 1
    if nd == 0:
        return _key_index(call(op, _unsqueeze(x, 1), dim=1), (slice(None), 0))
    return call(op, x, **{**attrs, "dim": _wrap_dim(attrs["dim"], nd) + 1})


@_rule("sort")
def _sort(op, values, batched, attrs, size):
    x = values[0]
    nd = _nd(x) - 1
    if nd == 0:
        v, i = call(op, _unsqueeze(x, 1), **{**attrs, "dim": 1})
        return _key_index(v, (slice(None), 0)), _key_index(i, (slice(None), 0))
    return call(op, x, **{**attrs, "dim": _wrap_dim(attrs["dim"], nd) + 1})


@_rule("flip")
def _flip(op, values, batched, attrs, size):
    nd = _nd(values[0]) - 1
    return call(op, values[0], dims=tuple(_wrap_dim(d, nd) + 1 for d in attrs["dims"]))


@_rule("roll")
def _roll(op, values, batched, attrs, size):
    dims = attrs["dims"]
    if not dims:
        return NotImplemented  # a roll of the flattened tensor: per sample
    nd = _nd(values[0]) - 1
    return call(op, values[0], shifts=attrs["shifts"], dims=tuple(_wrap_dim(d, nd) + 1 for d in dims))


@_rule("fft_c2c", "fft_r2c", "fft_c2r")
def _fft(op, values, batched, attrs, size):
    nd = _nd(values[0]) - 1
    return call(op, values[0], **{**attrs, "dims": tuple(_wrap_dim(d, nd) + 1 for d in attrs["dims"])})


# ---------------------------------------------------------------- linear algebra
def _with_batch(v, b):
    """A physical operand: a batched value as it is, an unbatched one with a size-1 batch dim."""
    return v if b else _unsqueeze(v, 0)


@_rule("matmul")
def _matmul(op, values, batched, attrs, size):
    (x, y), (bx, by) = values, batched
    x, y = _with_batch(x, bx), _with_batch(y, by)
    xl, yl = _nd(x) - 1, _nd(y) - 1
    vector_x, vector_y = xl == 1, yl == 1
    if vector_x:
        x = _unsqueeze(x, 1)   # [B, 1, n]
    if vector_y:
        y = _unsqueeze(y, 2)   # [B, n, 1]
    rank = max(_nd(x), _nd(y)) - 1
    out = call(op, _pad_after_batch(x, rank), _pad_after_batch(y, rank))
    nd = _nd(out)
    if vector_x:  # (the row dim first: it is at -2 while the column dim is there)
        out = _key_index(out, (slice(None),) * (nd - 2) + (0,))
        nd -= 1
    if vector_y:
        out = _key_index(out, (slice(None),) * (nd - 1) + (0,))
    return out


@_rule("linalg_solve_triangular")
def _solve_triangular(op, values, batched, attrs, size):
    (a, b), (ba, bb) = values, batched
    a, b = _with_batch(a, ba), _with_batch(b, bb)
    rank = max(_nd(a), _nd(b)) - 1
    return call(op, _pad_after_batch(a, rank), _pad_after_batch(b, rank), **attrs)


@_rule("einsum")
def _einsum(op, values, batched, attrs, size):
    equation = attrs["equation"].replace(" ", "")
    lhs, out = equation.split("->")
    letter = next(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in equation)
    terms = [letter + term if b else term for term, b in zip(lhs.split(","), batched)]
    return call(op, *values, equation=",".join(terms) + "->" + letter + out)


# ---------------------------------------------------------------- views and layout
@_rule("view")
def _view(op, values, batched, attrs, size):
    return call(op, values[0], shape=(values[0]._data.shape[0],) + tuple(attrs["shape"]))


@_rule("permute")
def _permute(op, values, batched, attrs, size):
    nd = _nd(values[0]) - 1
    return call(op, values[0], dims=(0,) + tuple(_wrap_dim(d, nd) + 1 for d in attrs["dims"]))


@_rule("expand")
def _expand(op, values, batched, attrs, size):
    shape = tuple(attrs["shape"])
    x = _pad_after_batch(values[0], len(shape))
    current = x._data.shape
    target = tuple(current[i + 1] if s == -1 else s for i, s in enumerate(shape))
    return call(op, x, shape=(current[0],) + target)


@_rule("basic_index")
def _basic_index(op, values, batched, attrs, size):
    return call(op, values[0], key=(slice(None),) + tuple(attrs["key"]))


@_rule("diagonal")
def _diagonal(op, values, batched, attrs, size):
    nd = _nd(values[0]) - 1
    return call(op, values[0], offset=attrs["offset"], dim1=_wrap_dim(attrs["dim1"], nd) + 1,
                dim2=_wrap_dim(attrs["dim2"], nd) + 1)


@_rule("cat")
def _cat(op, values, batched, attrs, size):
    nd = max(_nd(v) - b for v, b in zip(values, batched))
    parts = [v if b else _expand_batch(v, size) for v, b in zip(values, batched)
             if b or v._data.shape != (0,)]  # (a legacy empty 1-d operand is skipped, as cat does)
    return call(op, *parts, dim=_wrap_dim(attrs["dim"], nd) + 1)


# ---------------------------------------------------------------- indexing
@_rule("gather")
def _gather(op, values, batched, attrs, size):
    (x, index), (bx, bi) = values, batched
    x = x if bx else _expand_batch(x, size)
    index = index if bi else _expand_batch(index, size)
    nd = _nd(x) - 1
    if nd == 0:
        return _key_index(call(op, _unsqueeze(x, 1), _unsqueeze(index, 1), dim=1), (slice(None), 0))
    return call(op, x, index, dim=_wrap_dim(attrs["dim"], nd) + 1)


@_rule("scatter")
def _scatter(op, values, batched, attrs, size):
    args = [v if b or not isinstance(v, Tensor) else _expand_batch(v, size) for v, b in zip(values, batched)]
    nd = _nd(args[0]) - 1
    if nd == 0:
        return NotImplemented
    return call(op, *args, dim=_wrap_dim(attrs["dim"], nd) + 1, reduce=attrs["reduce"])


def _index_layout(key):
    """(positions of the index tensors in ``key``, whether they are adjacent)."""
    slots = [i for i, k in enumerate(key) if k is INDEX_SLOT]
    return slots, bool(slots) and slots[-1] - slots[0] == len(slots) - 1


@_rule("index")
def _index(op, values, batched, attrs, size):
    x, indices = values[0], values[1:]
    key = tuple(attrs["key"])
    slots, adjacent = _index_layout(key)
    if not any(batched[1:]):
        out = call(op, x, *indices, key=(slice(None),) + key)
        if adjacent:
            return out
        # separated index tensors: numpy puts their broadcast dims first, then the batch dim
        return _movedim(out, max(_nd(i) for i in indices), 0)
    # batched index tensors: the batch dim is indexed too, by an arange that broadcasts against them
    import ember
    x = x if batched[0] else _expand_batch(x, size)
    rank = max(_nd(i) - b for i, b in zip(indices, batched[1:]))
    rows = ember.arange(size, device=x.device).reshape((size,) + (1,) * rank)
    indices = [_pad_after_batch(i, rank) if b else i for i, b in zip(indices, batched[1:])]
    out = call(op, x, rows, *indices, key=(INDEX_SLOT,) + key)   # [B, *broadcast, the other dims]
    before = slots[0]
    if adjacent and before:  # the indexed dims belong after the dims sliced before them
        order = [0] + list(range(1 + rank, 1 + rank + before)) + list(range(1, 1 + rank))
        order += list(range(1 + rank + before, _nd(out)))
        out = call(OPS["permute"], out, dims=tuple(order))
    return out


@_rule("index_put")
def _index_put(op, values, batched, attrs, size):
    x, v, indices = values[0], values[1], values[2:]
    key = tuple(attrs["key"])
    slots, adjacent = _index_layout(key)
    x = x if batched[0] else call(OPS["clone"], _expand_batch(x, size))  # (the kernel may write into it)
    if not any(batched[2:]) and adjacent:
        if batched[1]:
            # the values broadcast against the indexed part, which has the batch dim first
            rank = max(_nd(i) for i in indices) + (_nd(x) - 1) - len(slots) if slots else _nd(x) - 1
            v = _pad_after_batch(v, rank)
        return call(op, x, v, *indices, key=(slice(None),) + key, accumulate=attrs["accumulate"])
    # batched or separated index tensors: the batch dim is indexed by an arange too (as in _index), and
    # the values, made whole, are laid out as that indexing lays out the indexed part
    import ember
    from ember.dispatch.meta import broadcast_shapes
    logical = tuple(x._data.shape[1:])
    index_shape = tuple(broadcast_shapes(*[tuple(i._data.shape[b:]) for i, b in zip(indices, batched[2:])]))
    rank = len(index_shape)
    before = slots[0]
    if adjacent:
        part = logical[:before] + index_shape + logical[before + len(slots):]
    else:
        part = index_shape + tuple(s for d, s in enumerate(logical) if d not in slots)
    if batched[1]:
        v = call(OPS["expand"], _pad_after_batch(v, len(part)), shape=(size,) + part)
    else:
        v = _expand_batch(v if isinstance(v, Tensor) and tuple(v._data.shape) == part
                          else ember.broadcast_to(v, part), size)
    if adjacent and before:   # [B, before, index, after] -> [B, index, before, after]
        order = [0] + list(range(1 + before, 1 + before + rank)) + list(range(1, 1 + before))
        v = call(OPS["permute"], v, dims=tuple(order + list(range(1 + before + rank, 1 + len(part)))))
    rows = ember.arange(size, device=x.device).reshape((size,) + (1,) * rank)
    indices = [_pad_after_batch(i, rank) if b else i for i, b in zip(indices, batched[2:])]
    return call(op, x, v, rows, *indices, key=(INDEX_SLOT,) + key, accumulate=attrs["accumulate"])


@_rule("nonzero", "unique")
def _dynamic(op, values, batched, attrs, size):
    raise RuntimeError(f"vmap: We do not support batching operators that can output dynamic shape. Attempted to "
                       f"vmap over {op.name}.")


# ---------------------------------------------------------------- neural-network composites
@_rule("conv")
def _conv(op, values, batched, attrs, size):
    (x, weight, bias), (bx, bw, bb) = values, batched
    if bb and not bw:
        return NotImplemented
    if not bw:  # the batch joins the samples of the minibatch
        n = x._data.shape[1]
        out = call(op, _reshape(x, (size * n,) + tuple(x._data.shape[2:])), weight, bias, **attrs)
        return _reshape(out, (size, n) + tuple(out._data.shape[1:]))
    # a batch of weights: one grouped convolution, the batch joining the channel groups
    x = x if bx else _expand_batch(x, size)
    n, c = x._data.shape[1], x._data.shape[2]
    spatial = tuple(x._data.shape[3:])
    xs = _reshape(_movedim(x, 0, 1), (n, size * c) + spatial)
    o = weight._data.shape[1]
    ws = _reshape(weight, (size * o,) + tuple(weight._data.shape[2:]))
    if bias is not None:
        bias = _reshape(bias if bb else _expand_batch(bias, size), (size * o,))
    out = call(op, xs, ws, bias, **{**attrs, "groups": attrs["groups"] * size})
    out = _reshape(out, (n, size, o) + tuple(out._data.shape[2:]))
    return _movedim(out, 1, 0)


@_rule("max_pool")
def _max_pool(op, values, batched, attrs, size):
    x = values[0]
    if _nd(x) - 1 <= len(attrs["kernel"]):
        return NotImplemented
    lead = x._data.shape[1]
    vals, idx = call(op, _reshape(x, (size * lead,) + tuple(x._data.shape[2:])), **attrs)
    return (_reshape(vals, (size, lead) + tuple(vals._data.shape[1:])),
            _reshape(idx, (size, lead) + tuple(idx._data.shape[1:])))


@_rule("layer_norm")
def _layer_norm(op, values, batched, attrs, size):
    if any(batched[1:]):
        return NotImplemented  # batched affine parameters: the decomposition
    return call(op, *values, **attrs)  # normalized over the last dims: the batch dim leads


# ---------------------------------------------------------------- writes and random draws (the hooks)
def _write(target, result):
    """An in-place write under vmap: the physical target takes the (physical) result."""
    tb, rb = type(target) is BatchedTensor, type(result) is BatchedTensor
    if not tb and not rb:
        return None
    from ember.core.call import write_inplace
    level = max(target._level if tb else -1, result._level if rb else -1)
    if not (tb and target._level == level):
        raise RuntimeError("vmap: inplace arithmetic(self, *extra_args) is not possible because there exists a "
                           "Tensor `other` in extra_args that has more elements than `self`. This happened due to "
                           "`other` being vmapped over but `self` not being vmapped over in a vmap. Please try to "
                           "use out-of-place operators instead of inplace arithmetic.")
    physical = target._value
    if rb and result._level == level:
        result = _pad_after_batch(result._value, _nd(physical) - 1)
    write_inplace(physical, result)
    return target


def _random(shape, draw):
    """A random draw under vmap: an error, one draw for all samples, or one per sample (``randomness``)."""
    different = []
    for entry in _STACK:
        if entry.randomness == "error":
            raise RuntimeError("vmap: called random operation while in randomness error mode. Please either use "
                               "the 'same' or 'different' randomness flags on vmap or perform the randomness "
                               "operation out of vmap")
        if entry.randomness == "different":
            different.append(entry)
    if not different:
        return draw(tuple(shape))
    out = draw(tuple(e.size for e in different) + tuple(shape))
    for entry in different:   # the leading dims are the levels, ascending: the lowest is dim 0
        out = _nest(out, entry.level)
    return out


def _nest(value, level):
    """``value``'s logical dim 0 as the batch dim of ``level``, keeping higher levels outermost."""
    if type(value) is BatchedTensor and value._level > level:
        return wrap(_nest(_movedim(value._value, 1, 0), level), value._level)
    return wrap(value, level)


def _unnest(t, level, size):
    """``t`` with the batch dim of ``level`` as its logical dim 0 (expanded if ``t`` is not batched there)."""
    if type(t) is BatchedTensor:
        if t._level == level:
            return t._value
        if t._level > level:
            return wrap(_movedim(_unnest(t._value, level, size), 0, 1), t._level)
    return _expand_batch(t, size)


def to_physical(t, levels):
    """``t`` with the batch dims of ``levels`` (ascending) in front, in that order, unwrapped."""
    for level in reversed(levels):
        t = _unnest(t, level, level_size(level))
    return t


def from_physical(t, levels):
    """The inverse of ``to_physical``: leading dims of ``t`` become the batch dims of ``levels``."""
    for level in levels:
        t = _nest(t, level)
    return t


def _batch_like(fresh, like):
    """``fresh`` (a new unbatched tensor) as new zeros batched at every level ``like`` is batched at."""
    levels = []
    while type(like) is BatchedTensor:
        levels.append(like._level)
        like = like._value
    if not levels:
        return fresh
    levels.sort()
    import ember
    shape = tuple(level_size(lv) for lv in levels) + tuple(fresh.shape)
    return from_physical(ember.zeros(shape, dtype=fresh.dtype, device=fresh.device), levels)


BATCHED_HOOKS.batch_like = _batch_like
BATCHED_HOOKS.write = _write
BATCHED_HOOKS.random = _random
