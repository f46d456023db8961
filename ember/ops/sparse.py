"""Sparse tensors: the COO layout and the compressed ones (CSR, CSC, BSR, BSC).

A sparse tensor is a ``SparseTensor`` (a ``Tensor`` subclass) that keeps its parts as ordinary
dense tensors on its device: ``indices`` and ``values`` for COO; the compressed and plain index
vectors (``crow_indices``/``col_indices``, ``ccol_indices``/``row_indices``) and ``values`` for
the compressed layouts. Its own native array is a ``SparseData`` placeholder that refuses
every dense kernel; when a dense kernel meets one, ``call`` hands the op to ``sparse_op`` here,
which runs the ops PyTorch defines on sparse tensors through dense ops on the parts (so they
run on every backend and differentiate into ``values``) and raises PyTorch's error otherwise.

Autograd lives in ``values``: a sparse tensor requires grad when its values do, and a leaf's
``.grad`` is a sparse tensor with its own pattern and the values' gradient.
"""
from __future__ import annotations

import builtins
import math
import re

from ember.core import dtype as dt
from ember.core import layout as _layout
from ember.core.call import backend_of
from ember.core.device import as_device
from ember.core.layout import SPARSE_DENSE, SPARSE_OPS, SparseData
from ember.core.tensor import Tensor, Size, wrap_dim
from ember.ops.public import FUNCTIONS, public

COO, CSR, CSC, BSR, BSC = (_layout.sparse_coo, _layout.sparse_csr, _layout.sparse_csc,
                           _layout.sparse_bsr, _layout.sparse_bsc)
COMPRESSED = (CSR, CSC, BSR, BSC)
_ROW_MAJOR = (CSR, BSR)     # compressed over rows (crow/col); CSC and BSC over columns (ccol/row)
_BLOCKED = (BSR, BSC)
_TITLE = {None: "Strided", COO: "Sparse", CSR: "SparseCsr", CSC: "SparseCsc", BSR: "SparseBsr",
          BSC: "SparseBsc"}


class _Functions:
    """``E.name`` is the public ``ember.name``, looked up when used (this module loads first)."""

    def __getattr__(self, name):
        return FUNCTIONS[name]


E = _Functions()


def _title(t) -> str:
    return _TITLE.get(getattr(t, "_layout", None), "Strided")


# ---------------------------------------------------------------- the tensor
class SparseTensor(Tensor):
    """A tensor with a sparse layout (``ember.sparse_coo``, ``sparse_csr``, ``sparse_csc``,
    ``sparse_bsr``, ``sparse_bsc``) whose parts are dense tensors on its device.

    Made by ``ember.sparse_coo_tensor``, ``ember.sparse_csr_tensor`` (and the other
    constructors) or ``Tensor.to_sparse*``; never by calling the class.
    """
    __slots__ = ("_layout", "_ind", "_compressed", "_plain", "_val", "_coalesced", "_blocksize")

    # ---- autograd lives in the values
    @property
    def requires_grad(self) -> bool:
        """Whether the values require grad."""
        return self._val.requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True):
        """Set whether autograd records operations on the values, in place.

        Args:
            requires_grad: the new flag.

        Returns:
            The tensor itself.
        """
        self._val.requires_grad_(requires_grad)
        return self

    @property
    def grad_fn(self):
        """The autograd node that made the values, or ``None`` for a leaf."""
        return self._val.grad_fn

    @property
    def grad(self):
        """The accumulated gradient: a sparse tensor with this one's pattern, or ``None``."""
        g = self._val.grad
        return None if g is None else _like(self, g)

    @grad.setter
    def grad(self, value):
        if value is None:
            self._val.grad = None
        elif not isinstance(value, SparseTensor) or tuple(value._val.shape) != tuple(self._val.shape):
            raise RuntimeError(f"assigned grad has data of a different layout or size: expected a {_title(self)} "
                               f"tensor with this tensor's pattern, got {_title(value)} of size "
                               f"{list(getattr(value, 'shape', ()))}")
        else:
            self._val.grad = value._val

    @property
    def is_leaf(self) -> bool:
        """Whether the values are a leaf of the autograd graph."""
        return self._val.grad_fn is None

    def retain_grad(self):
        """Keep the gradient of these (non-leaf) values after ``backward()``."""
        self._val.retain_grad()

    # ---- what the layout reports
    @property
    def layout(self):
        """The sparse layout (``ember.sparse_coo``, ``ember.sparse_csr``, ...)."""
        return self._layout

    @property
    def is_sparse(self) -> bool:
        """Whether the layout is COO (``ember.sparse_coo``)."""
        return self._layout is COO

    @property
    def is_sparse_csr(self) -> bool:
        """Whether the layout is CSR (``ember.sparse_csr``)."""
        return self._layout is CSR

    @property
    def data(self):
        """A sparse tensor with the same parts, cut off from autograd."""
        return self.detach()

    def stride(self, dim=None):
        """Sparse tensors have no strides (PyTorch reports zeros for COO).

        Raises:
            RuntimeError: for the compressed layouts.
        """
        if self._layout is not COO:
            raise RuntimeError(f"Sparse {_LAYOUT_WORD[self._layout]} tensors do not have strides")
        zeros = (0,) * self.ndim
        return zeros if dim is None else zeros[wrap_dim(dim, self.ndim)]

    def is_contiguous(self, memory_format=None) -> bool:
        """Sparse tensors are never contiguous in PyTorch's sense.

        Returns:
            ``False``.
        """
        return False

    def data_ptr(self):
        """Sparse tensors have no storage of their own.

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")

    def numpy(self, *, force=False):
        """Sparse tensors cannot be viewed as numpy arrays.

        Raises:
            TypeError: always (use ``to_dense()`` first).
        """
        raise TypeError(f"can't convert {_title(self)} layout tensor to numpy. Use Tensor.to_dense() first.")

    def tolist(self):
        """Sparse tensors have no list form.

        Raises:
            RuntimeError: always (use ``to_dense()`` first).
        """
        raise RuntimeError("tolist() is not supported for sparse tensors; use .to_dense().tolist()")

    def item(self):
        """The one value of a one-element sparse tensor.

        Returns:
            A Python number (zero when nothing is stored).

        Raises:
            RuntimeError: if the tensor does not have exactly one element.
        """
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return self.to_dense().item()

    def __bool__(self):
        return bool(self.item())

    def __iter__(self):
        """The slices along the first dim, as sparse COO tensors."""
        if not self.ndim:
            raise TypeError("iteration over a 0-d tensor")
        return (_select(self, 0, i) for i in range(self.shape[0]))

    def _nnz(self) -> int:
        """The number of stored elements (blocks for BSR/BSC), per batch for batched compressed tensors."""
        return _nnz_of(self)

    # ---- copies and moves
    def detach(self):
        """The same pattern with detached values.

        Returns:
            A sparse tensor that does not require grad.
        """
        return _replace(self, self._val.detach())

    def detach_(self):
        """Cut the values off from autograd in place.

        Returns:
            The tensor itself.
        """
        self._val = self._val.detach()
        return self

    def clone(self, *, memory_format=None):
        """A copy with its own parts; gradients flow back to the values.

        Args:
            memory_format: accepted for PyTorch compatibility.

        Returns:
            A sparse tensor of the same layout.
        """
        return _rebuild(self, lambda p: p.clone(), self._val.clone())

    def to(self, *args, **kwargs):
        """The sparse tensor with its parts converted (``dtype``) and/or moved (``device``).

        Args:
            args: a dtype, a device, or a tensor (as ``Tensor.to``).
            kwargs: ``dtype``, ``device``, ``copy``, ``non_blocking``.

        Returns:
            A sparse tensor of the same layout (itself if nothing changes).
        """
        from ember.ops.creation import _parse_to, _resolve_dtype
        dtype, device, copy = _parse_to(args, dict(kwargs))
        out = self
        if dtype is not None and _resolve_dtype(dtype) is not self.dtype:  # first: the target may lack ours
            out = _replace(out, out._val.to(_resolve_dtype(dtype)))
        if device is not None and as_device(device) != self.device:
            out = _rebuild(out, lambda p: p.to(device), out._val.to(device))
        return out.clone() if copy and out is self else out

    def cpu(self):
        """The sparse tensor on the CPU (itself if it is there)."""
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        """The sparse tensor on a CUDA device.

        Args:
            device: the CUDA device index or device.
            non_blocking: accepted for PyTorch compatibility.

        Returns:
            A sparse tensor on the CUDA device.
        """
        return self.to("cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device))

    # ---- in-place ops: the out-of-place result's parts are adopted
    def zero_(self):
        """Drop every stored element, in place (the shape stays).

        Returns:
            The tensor itself.
        """
        return _adopt(self, _empty_like(self), "zero_")

    def copy_(self, src, non_blocking=False):
        """Take ``src``'s pattern and values (cast to this dtype, moved to this device), in place.

        Args:
            src: a sparse tensor of the same layout and shape.
            non_blocking: accepted for PyTorch compatibility.

        Returns:
            The tensor itself.

        Raises:
            RuntimeError: if ``src`` is dense, of another layout or of another shape.
        """
        if not _is_sparse(src) or src._layout is not self._layout:
            raise RuntimeError(f"copy_(): copying a {_title(src)} tensor into a {_title(self)} tensor is not "
                               f"supported")
        if tuple(src.shape) != tuple(self.shape):
            raise RuntimeError(f"copy_(): sizes must match, got {list(self.shape)} and {list(src.shape)}")
        return _adopt(self, src.to(self.device, dtype=self.dtype).clone(), "copy_")

    def select(self, dim, index):
        """The slice at ``index`` along ``dim``, as a sparse COO tensor with one dim fewer.

        Args:
            dim: the dim to index.
            index: the position along it (negative counts from the end).

        Returns:
            A COO tensor.

        Raises:
            IndexError: if ``index`` is out of range.
        """
        return _select(self, dim, index)

    def __getitem__(self, key):
        if isinstance(key, int) or (isinstance(key, tuple) and key and all(isinstance(k, int) for k in key)):
            out = self
            for k in (key,) if isinstance(key, int) else key:
                out = _select(out, 0, k)
            return out
        raise NotImplementedError(f"indexing a {_title(self)} tensor is only supported with integers, got "
                                  f"{key!r}")

    # ---- copying and pickling: through the parts, in PyTorch's form (_rebuild_sparse_tensor)
    def _pickle_parts(self):
        if self._layout is COO:
            return (self._ind, self._val.detach(), Size(self.shape), bool(self._coalesced))
        return (self._compressed, self._plain, self._val.detach(), Size(self.shape))

    def __reduce_ex__(self, protocol):
        return (rebuild_sparse_tensor, (self._layout, self._pickle_parts()))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        values = self._val.detach().clone().requires_grad_(self.requires_grad and self.is_leaf)
        out = memo[id(self)] = _rebuild(self, lambda p: p.clone(), values)
        return out

    def _checkpoint_reduce(self, global_ref):
        """What ``ember.save`` writes: PyTorch's ``torch._utils._rebuild_sparse_tensor(layout, parts)``."""
        layout = _Reduced(global_ref("torch.serialization", "_get_layout"), (f"torch.{self._layout.name}",))
        return (global_ref("torch._utils", "_rebuild_sparse_tensor"), (layout, self._pickle_parts()))

    def __repr__(self):
        from ember.core.printing import tensor_repr
        parts = _parts_named(self)
        pad = " " * len("tensor(")
        lines = []
        for i, (name, part) in enumerate(parts):
            # the parts as PyTorch shows them: no dtype or autograd notes of their own; empty ones with size
            text = re.sub(r", dtype=ember\.\w+\)$", ")", tensor_repr(part.detach()))
            if part.numel() == 0 and "size=" not in text:
                text = text[:-1] + f", size={tuple(part.shape)})"
            text = text.replace("\n", "\n" + " " * (len(name) + 1) + pad)
            lines.append("\n".join(line.rstrip() for line in f"{name}={text}".split("\n")))
        tail = [f"size={tuple(self.shape)}", f"nnz={self._nnz()}"]
        if self.dtype is not dt.get_default_dtype() and self.dtype not in (dt.int64, dt.bool_):
            tail.append(f"dtype={self.dtype!r}")
        if self.device.type != "cpu":
            tail.append(f"device='{self.device}'")
        tail.append(f"layout={self._layout!r}")
        if self._val.grad_fn is not None:
            tail.append(f"grad_fn=<{self._val.grad_fn.name()}>")
        elif self._val.requires_grad:
            tail.append("requires_grad=True")
        return "tensor(" + (",\n" + pad).join(lines) + ",\n" + pad + ", ".join(tail) + ")"

    __str__ = __repr__


_LAYOUT_WORD = {CSR: "CSR", CSC: "CSC", BSR: "BSR", BSC: "BSC"}

# in-place forms PyTorch has for sparse tensors: each runs its out-of-place op on the sparse
# tensor (so the same ones work and the same ones raise) and adopts the result
_INPLACE = ("abs_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "floor_", "round_", "trunc_", "sign_", "sgn_",
            "sin_", "sinh_", "sqrt_", "tan_", "tanh_", "neg_", "relu_", "expm1_", "log1p_", "erf_", "erfinv_",
            "mul_", "div_", "add_", "sub_", "pow_", "square_", "deg2rad_", "rad2deg_", "frac_", "nan_to_num_")


def _inplace_method(name):
    def method(self, *args, **kwargs):
        return _adopt(self, getattr(self, name[:-1])(*args, **kwargs), name)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"""In-place ``{name[:-1]}``: the result's stored values replace this tensor's.

    Returns:
        The tensor itself.
    """
    return method


for _name in _INPLACE:
    setattr(SparseTensor, _name, _inplace_method(_name))
del _name


def _adopt(target, result, name):
    from ember.core.autograd import GRAD_MODE
    from ember.core.tensor import version_counter
    values = target._val
    if GRAD_MODE.enabled and values.requires_grad and values.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if not _is_sparse(result) or result._layout is not target._layout or tuple(result.shape) != tuple(target.shape):
        raise RuntimeError(f"{name}: the result ({_title(result)}, size {list(result.shape)}) cannot be written "
                           f"into a {_title(target)} tensor of size {list(target.shape)}")
    new_values = result._val if result.dtype is target.dtype else result._val.to(target.dtype)
    target._ind, target._compressed, target._plain = result._ind, result._compressed, result._plain
    target._val, target._coalesced, target._blocksize = new_values, result._coalesced, result._blocksize
    version_counter(target).value += 1
    return target


def _empty_like(t):
    dev = t.device
    if t._layout is COO:
        return _new(COO, t.shape, E.zeros((0,) + tuple(t._val.shape[1:]), dtype=t.dtype, device=dev),
                    indices=E.zeros(t._ind.shape[0], 0, dtype=dt.int64, device=dev), coalesced=True)
    nb = _batch_dim(t)
    batch = tuple(t._val.shape[:nb])
    return _new(t._layout, t.shape, E.zeros(batch + (0,) + tuple(t._val.shape[nb + 1:]), dtype=t.dtype,
                                            device=dev),
                compressed=E.zeros_like(t._compressed), plain=E.zeros(batch + (0,), dtype=t._plain.dtype, device=dev),
                blocksize=t._blocksize)


def _select(t, dim, index):
    if t._layout is not COO:
        t = _as_coo(t)
    dim = wrap_dim(dim, t.ndim)
    size = t.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(t.shape)} at "
                         f"dimension {dim}")
    index %= size
    k = _sparse_dim(t)
    shape = tuple(s for d, s in enumerate(t.shape) if d != dim)
    if dim >= k:
        return _new(COO, shape, t._val.select(dim - k + 1, index), indices=t._ind, coalesced=t._coalesced)
    keep = E.nonzero(t._ind[dim] == index).view(-1)
    rows = E.tensor([d for d in range(k) if d != dim], dtype=dt.int64, device=t.device)
    return _new(COO, shape, t._val[keep], indices=t._ind[rows][:, keep], coalesced=t._coalesced)


def _parts_named(t):
    if t._layout is COO:
        return [("indices", t._ind), ("values", t._val)]
    first, second = ("crow_indices", "col_indices") if t._layout in _ROW_MAJOR else ("ccol_indices", "row_indices")
    return [(first, t._compressed), (second, t._plain), ("values", t._val)]


def _new(layout, shape, values, *, indices=None, compressed=None, plain=None, blocksize=None, coalesced=False):
    t = object.__new__(SparseTensor)
    key = backend_of(values.device.type).dispatch_key
    t._data = SparseData(shape, ("Sparse" if layout is COO else "SparseCsr") + key)
    t.dtype = values.dtype
    t.device = values.device
    t._rg = False          # never recorded by call: the graph runs through the values
    t._output_nr = 0
    t._version = None
    t._base = None
    t._view_fn = None
    t._views = None
    t._hooks = None
    t._retains_grad = False
    t._layout = layout
    t._ind = indices
    t._compressed = compressed
    t._plain = plain
    t._val = values
    t._coalesced = coalesced
    t._blocksize = blocksize
    return t


def _replace(t, values):
    """``t``'s pattern with other values (same leading nnz dimension)."""
    return _new(t._layout, t.shape, values, indices=t._ind, compressed=t._compressed, plain=t._plain,
                blocksize=t._blocksize, coalesced=t._coalesced)


def _like(t, values):
    return _replace(t, values)


def _rebuild(t, index_fn, values):
    """``t`` with every index part passed through ``index_fn`` and the given values."""
    return _new(t._layout, t.shape, values,
                indices=None if t._ind is None else index_fn(t._ind),
                compressed=None if t._compressed is None else index_fn(t._compressed),
                plain=None if t._plain is None else index_fn(t._plain),
                blocksize=t._blocksize, coalesced=t._coalesced)


class _Reduced:
    """An argument pickled as ``func(*args)`` (PyTorch writes a layout as ``_get_layout(name)``)."""
    __slots__ = ("func", "args")

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def layout_by_name(name):
    """The layout named ``"torch.sparse_coo"`` (PyTorch's ``torch.serialization._get_layout``)."""
    return getattr(_layout, name.rpartition(".")[2])


def rebuild_sparse_tensor(layout, data):
    """A sparse tensor from its pickled parts (PyTorch's ``torch._utils._rebuild_sparse_tensor``).

    Args:
        layout: the sparse layout.
        data: ``(indices, values, size[, is_coalesced])`` for COO; ``(compressed_indices,
            plain_indices, values, size)`` for the compressed layouts.

    Returns:
        The sparse tensor.
    """
    if layout is COO:
        indices, values, size = data[:3]
        return sparse_coo_tensor(indices, values, size, is_coalesced=data[3] if len(data) > 3 else None)
    compressed, plain, values, size = data
    return sparse_compressed_tensor(compressed, plain, values, size, layout=layout)


def _is_sparse(x) -> bool:
    return isinstance(x, SparseTensor)


def _sparse_dim(t) -> int:
    if t._layout is COO:
        return t._ind.shape[0]
    return 2


def _dense_dim(t) -> int:
    if t._layout is COO:
        return t._val.ndim - 1
    return t._val.ndim - 1 - _batch_dim(t) - (2 if t._layout in _BLOCKED else 0)


def _batch_dim(t) -> int:
    """Leading batch dims of a compressed tensor (its index parts are ``(*batch, ...)``); 0 for COO."""
    return 0 if t._layout is COO else t._compressed.ndim - 1


def _nnz_of(t) -> int:
    return t._val.shape[_batch_dim(t)]


# ---------------------------------------------------------------- index helpers (ember ops, any device)
def _linear(indices, sizes):
    """Row-major linear positions of the columns of ``indices`` (``(len(sizes), nnz)``)."""
    nnz = indices.shape[1]
    if not sizes:
        return E.zeros(nnz, dtype=dt.int64, device=indices.device)
    lin = indices[0]
    for d in range(1, len(sizes)):
        lin = lin * sizes[d] + indices[d]
    return lin


def _unravel(lin, sizes):
    rows = []
    for s in reversed(sizes):
        rows.append(E.remainder(lin, s))
        lin = E.div(lin, s, rounding_mode="floor")
    return E.stack(list(reversed(rows))) if rows else E.zeros(0, lin.shape[0], dtype=dt.int64, device=lin.device)


def _blocks_coo(t):
    """(indices, values) of a compressed ``t`` as COO over (batch dims, rows, cols) of its stored
    elements, or of its blocks for BSR/BSC, in storage order."""
    nb = _batch_dim(t)
    batch = tuple(t.shape[:nb])
    count = math.prod(batch)
    nnz = t._val.shape[nb]
    dev = t._compressed.device
    compressed = t._compressed.reshape(count, -1)
    plain = t._plain.reshape(count, nnz)
    positions = E.arange(nnz, dtype=compressed.dtype, device=dev).view(1, nnz).expand(count, nnz).contiguous()
    major = E.searchsorted(compressed[:, 1:].contiguous(), positions, right=True).to(compressed.dtype)
    rows, cols = (major, plain) if t._layout in _ROW_MAJOR else (plain, major)
    parts = []
    if nb:
        which = E.arange(count, dtype=dt.int64, device=dev).view(count, 1).expand(count, nnz).reshape(-1)
        parts = list(_unravel(which, batch))
    indices = E.stack(parts + [rows.reshape(-1).to(dt.int64), cols.reshape(-1).to(dt.int64)])
    return indices, t._val.reshape((count * nnz,) + tuple(t._val.shape[nb + 1:]))


def _element_coo(t):
    """(indices, values) of ``t`` as a COO pattern over its sparse (and batch) dims, in storage
    order; blocks of BSR/BSC are spread into their elements."""
    if t._layout is COO:
        return t._ind, t._val
    indices, values = _blocks_coo(t)
    if t._layout not in _BLOCKED:
        return indices, values
    nb = _batch_dim(t)
    r, c = t._blocksize
    n = values.shape[0]
    dev = indices.device
    rr = (indices[nb].view(-1, 1, 1) * r + E.arange(r, device=dev).view(1, r, 1)).expand(n, r, c).reshape(-1)
    cc = (indices[nb + 1].view(-1, 1, 1) * c + E.arange(c, device=dev).view(1, 1, c)).expand(n, r, c).reshape(-1)
    batch = [indices[d].view(-1, 1, 1).expand(n, r, c).reshape(-1) for d in range(nb)]
    return E.stack(batch + [rr, cc]), values.reshape((n * r * c,) + tuple(values.shape[3:]))


def _coo_to_dense(indices, values, shape):
    k = indices.shape[0]
    sizes = tuple(shape[:k])
    dense_shape = tuple(shape[k:])
    flat = E.zeros((math.prod(sizes),) + dense_shape, dtype=values.dtype, device=values.device)
    if values.shape[0]:
        flat = E.index_add(flat, 0, _linear(indices, sizes), values)
    return flat.reshape(tuple(shape))


def _dense_to_coo_parts(x, sparse_dim):
    """(indices, values) of the nonzero entries of dense ``x`` over its first ``sparse_dim`` dims."""
    nonzero = E.ne(x, 0)
    if sparse_dim < x.ndim:
        nonzero = nonzero.any(dim=tuple(range(sparse_dim, x.ndim)))
    if sparse_dim == 0:
        return E.zeros(0, 1, dtype=dt.int64, device=x.device), x.unsqueeze(0)
    indices = E.nonzero(nonzero).t().contiguous()
    values = x[tuple(indices[d] for d in range(sparse_dim))]
    return indices, values


def _coalesce(t):
    if t._coalesced:
        return t
    k = t._ind.shape[0]
    sizes = tuple(t.shape[:k])
    values = t._val
    if values.shape[0] == 0:
        return _new(COO, t.shape, values, indices=t._ind, coalesced=True)
    lin = _linear(t._ind, sizes)
    uniq, inverse = E.unique(lin, sorted=True, return_inverse=True)
    summed = E.index_add(E.zeros((uniq.shape[0],) + tuple(values.shape[1:]), dtype=values.dtype,
                                 device=values.device), 0, inverse, values)
    return _new(COO, t.shape, summed, indices=_unravel(uniq, sizes), coalesced=True)


# ---------------------------------------------------------------- layout conversions
def _block_order(nb, tail):
    """The permutation between (batch, m/r, r, n/c, c, tail) and (batch, m/r, n/c, r, c, tail) (its own inverse)."""
    return (*range(nb), nb, nb + 2, nb + 1, nb + 3, *range(nb + 4, nb + 4 + tail))


def _to_dense(t, dtype=None, masked_grad=None):
    if t._layout in _BLOCKED:
        nb = _batch_dim(t)
        r, c = t._blocksize
        batch, (m, n) = tuple(t.shape[:nb]), (t.shape[nb], t.shape[nb + 1])
        indices, values = _blocks_coo(t)
        dense_tail = tuple(values.shape[3:])
        blocks = _coo_to_dense(indices, values, batch + (m // r, n // c, r, c) + dense_tail)
        out = blocks.permute(*_block_order(nb, len(dense_tail))).reshape(batch + (m, n) + dense_tail)
    else:
        indices, values = _element_coo(t)
        out = _coo_to_dense(indices, values, t.shape)
    return out if dtype is None else out.to(dtype)


def _coo_from_dense(x, sparse_dim=None):
    k = x.ndim if sparse_dim is None else sparse_dim
    if not 0 <= k <= x.ndim:
        raise RuntimeError(f"sparse_dim argument must be in [0,{x.ndim}] range, but {k} is given")
    indices, values = _dense_to_coo_parts(x, k)
    return _new(COO, x.shape, values, indices=indices, coalesced=True)


def _compressed_from_coo(coo, layout):
    """(compressed, plain, values) of a compressed layout from a coalesced COO tensor whose last two
    sparse dims are the matrix and whose leading ones are batch dims (each batch: the same nnz)."""
    indices, values = coo._ind, coo._val
    nb = indices.shape[0] - 2
    batch = tuple(coo.shape[:nb])
    count = math.prod(batch)
    m, n = coo.shape[nb], coo.shape[nb + 1]
    rows, cols = indices[nb], indices[nb + 1]
    which = _linear(indices[:nb], batch)
    if layout not in _ROW_MAJOR:  # column-major within each batch
        order = E.argsort((which * n + cols) * m + rows)
        rows, cols, which, values = rows[order], cols[order], which[order], values[order]
    total = values.shape[0]
    if nb:
        counts = E.bincount(which, minlength=count).tolist()
        if len(set(counts)) > 1:
            raise RuntimeError(f"Expect the same number of specified elements per batch, got {counts}")
    nnz = total // count if count else 0
    major, plain, size = (rows, cols, m) if layout in _ROW_MAJOR else (cols, rows, n)
    bounds = E.arange(size + 1, dtype=dt.int64, device=values.device).view(1, -1).expand(count, size + 1)
    compressed = E.searchsorted(major.reshape(count, nnz).contiguous(), bounds.contiguous())
    return (compressed.reshape(batch + (size + 1,)).to(dt.int64), plain.reshape(batch + (nnz,)),
            values.reshape(batch + (nnz,) + tuple(values.shape[1:])))


def _to_compressed(x, layout, blocksize=None, dense_dim=None):
    """``x`` (dense or sparse) in a compressed layout."""
    name = {CSR: "to_sparse_csr", CSC: "to_sparse_csc", BSR: "to_sparse_bsr", BSC: "to_sparse_bsc"}[layout]
    if _is_sparse(x):
        if x._layout is layout and (layout not in _BLOCKED or blocksize is None
                                    or tuple(blocksize) == x._blocksize):
            return x
        if layout in _BLOCKED or x._layout in _BLOCKED:
            return _to_compressed(x.to_dense(), layout, blocksize, _dense_dim(x))
        coo = _coalesce(_as_coo(x))
        if _sparse_dim(coo) < 2:
            raise RuntimeError(f"{name}: expected a tensor with at least 2 sparse dimensions, got "
                               f"{_sparse_dim(coo)}")
        compressed, plain, values = _compressed_from_coo(coo, layout)
        return _new(layout, x.shape, values, compressed=compressed, plain=plain)
    dense_dim = dense_dim or 0
    nb = x.ndim - 2 - dense_dim
    if nb < 0:
        raise RuntimeError(f"{name}: expected the input to have at least {2 + dense_dim} dimensions (2 sparse and "
                           f"{dense_dim} dense), got {x.ndim}")
    if layout not in _BLOCKED:
        compressed, plain, values = _compressed_from_coo(_coo_from_dense(x, nb + 2), layout)
        return _new(layout, x.shape, values, compressed=compressed, plain=plain)
    if blocksize is None or len(blocksize) != 2:
        raise RuntimeError(f"{name}: blocksize needs to be a tuple of size 2, but got {blocksize}")
    r, c = (int(b) for b in blocksize)
    batch, (m, n) = tuple(x.shape[:nb]), (x.shape[nb], x.shape[nb + 1])
    if m % r or n % c:
        raise RuntimeError(f"Tensor size({m}, {n}) is not divisible by blocksize ({r}, {c})")
    tail = tuple(x.shape[nb + 2:])
    blocks = x.reshape(batch + (m // r, r, n // c, c) + tail).permute(*_block_order(nb, len(tail))).contiguous()
    compressed, plain, values = _compressed_from_coo(_coo_from_dense(blocks, nb + 2), layout)
    return _new(layout, x.shape, values, compressed=compressed, plain=plain, blocksize=(r, c))


def _as_coo(x):
    """``x`` (any sparse layout) in COO; a COO tensor is returned as it is."""
    if x._layout is COO:
        return x
    k = _batch_dim(x) + 2
    if x._layout in _BLOCKED:
        return _coo_from_dense(x.to_dense(), k)
    indices, values = _element_coo(x)
    if x._layout is CSC:
        order = E.argsort(_linear(indices, tuple(x.shape[:k])))
        indices, values = indices[:, order], values[order]
    return _new(COO, x.shape, values, indices=indices, coalesced=True)


# ---------------------------------------------------------------- constructors
def _as_index_tensor(x, device=None):
    if not isinstance(x, Tensor):
        x = E.tensor(x, dtype=dt.int64, device=device)
    elif device is not None:
        x = x.to(device)
    return x


def _as_values(values, dtype, device):
    if not isinstance(values, Tensor):
        values = E.tensor(values, dtype=dtype, device=device)
    else:
        if device is not None:
            values = values.to(device)
        if dtype is not None:
            values = values.to(dtype)
    return values


def _leaf(values, requires_grad):
    # a separate leaf so that requires_grad_ on the sparse tensor leaves the caller's values alone
    if requires_grad:
        return values.detach().requires_grad_(True)
    # values that require grad make a non-leaf (as PyTorch's constructor node): a view records one
    return values.view(tuple(values.shape)) if values.requires_grad else values.detach()


_CHECK_INVARIANTS = [False]


@public
def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """A sparse tensor in COO layout from the coordinates and values of its stored elements.

    Args:
        indices: an int tensor (or nested list) of shape ``(sparse_dim, nnz)``.
        values: the stored values, of shape ``(nnz, *dense_shape)``.
        size: the tensor's shape (default: the smallest that holds the indices).
        dtype: the values' dtype (default: that of ``values``).
        device: the device (default: that of ``values``).
        pin_memory: accepted for PyTorch compatibility.
        requires_grad: make the result a leaf that requires grad.
        check_invariants: check that the indices lie inside ``size`` (default: the
            ``check_sparse_tensor_invariants`` setting).
        is_coalesced: declare that the indices are sorted and unique (``None``: assume not).

    Returns:
        A sparse COO tensor.

    Raises:
        RuntimeError: if the shapes of ``indices``, ``values`` and ``size`` do not agree, or (with
            the check) an index is out of range.
    """
    values = _as_values(values, dtype, device)
    indices = _as_index_tensor(indices, values.device)
    if indices.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(indices.shape)}")
    if indices.dtype is not dt.int64:
        if indices.dtype.is_floating_point or indices.dtype.is_complex:
            raise RuntimeError(f"indices must be an int64 tensor")
        indices = indices.to(dt.int64)
    k, nnz = indices.shape
    if values.ndim == 0 or values.shape[0] != nnz:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {nnz}, "
                           f"nnz from values: {values.shape[0] if values.ndim else 0}")
    if size is None:
        if nnz:
            highest = indices.amax(dim=1).tolist()
            size = [int(h) + 1 for h in highest]
        else:
            size = [0] * k
        size = tuple(size) + tuple(values.shape[1:])
    size = tuple(int(s) for s in size)
    if len(size) != k + values.ndim - 1:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({k}) + dense_dim ({values.ndim - 1}), "
                           f"but got {len(size)}")
    if tuple(values.shape[1:]) != size[k:]:
        raise RuntimeError(f"values has incorrect size, expected {list((nnz,) + size[k:])}, "
                           f"got {list(values.shape)}")
    check = _CHECK_INVARIANTS[0] if check_invariants is None else check_invariants
    if check and nnz:
        _check_coo_indices(indices, size[:k])
    out = _new(COO, size, _leaf(values, requires_grad), indices=indices, coalesced=bool(is_coalesced))
    return out


def _check_coo_indices(indices, sizes):
    low = indices.amin(dim=1).tolist()
    high = indices.amax(dim=1).tolist()
    for d, (lo, hi, s) in enumerate(zip(low, high, sizes)):
        if lo < 0:
            raise RuntimeError(f"found negative index {lo} for dim {d}")
        if hi >= s:
            raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is {s} but found index {hi}")


def _compressed_names(layout):
    return ("crow_indices", "col_indices") if layout in _ROW_MAJOR else ("ccol_indices", "row_indices")


def _build_compressed(layout, compressed, plain, values, size, dtype, device, requires_grad, check_invariants):
    values = _as_values(values, dtype, device)
    compressed = _as_index_tensor(compressed, values.device)
    plain = _as_index_tensor(plain, values.device)
    cname, pname = _compressed_names(layout)
    if compressed.ndim < 1 or compressed.ndim != plain.ndim:
        raise RuntimeError(f"{cname} and {pname} must have the same number of dimensions (at least 1), but got "
                           f"{compressed.ndim} and {plain.ndim}")
    nb = compressed.ndim - 1
    batch = tuple(compressed.shape[:nb])
    if tuple(plain.shape[:nb]) != batch or tuple(values.shape[:nb]) != batch:
        raise RuntimeError(f"batch dimensions of {cname}, {pname} and values must be equal, but got "
                           f"{list(compressed.shape[:nb])}, {list(plain.shape[:nb])} and {list(values.shape[:nb])}")
    if compressed.dtype is not plain.dtype:
        raise RuntimeError(f"{cname} and {pname} must have the same dtype, but got {compressed.dtype} and "
                           f"{plain.dtype}")
    nnz = plain.shape[nb]
    if values.ndim <= nb or values.shape[nb] != nnz:
        raise RuntimeError(f"{pname} and values must have the same number of elements, but got {nnz} and "
                           f"{values.shape[nb] if values.ndim > nb else 0}")
    blocked = layout in _BLOCKED
    if blocked and values.ndim < nb + 3:
        raise RuntimeError(f"values must have at least {nb + 3} dimensions for a blocked layout, got {values.ndim}")
    blocksize = tuple(values.shape[nb + 1:nb + 3]) if blocked else None
    tail = tuple(values.shape[nb + 3:] if blocked else values.shape[nb + 1:])
    n_major = compressed.shape[nb] - 1
    if size is None:
        n_minor = (int(plain.amax().item()) + 1) if plain.numel() else 0
        grid = (n_major, n_minor) if layout in _ROW_MAJOR else (n_minor, n_major)
        size = batch + (grid[0] * (blocksize[0] if blocked else 1), grid[1] * (blocksize[1] if blocked else 1)) + tail
    size = tuple(int(s) for s in size)
    if len(size) != nb + 2 + len(tail) or size[:nb] != batch:
        raise RuntimeError(f"size must be the batch size {list(batch)} followed by 2 sparse and {len(tail)} dense "
                           f"sizes, got {list(size)}")
    m, n = size[nb], size[nb + 1]
    if blocked:
        r, c = blocksize
        if m % r or n % c:
            raise RuntimeError(f"tensor size ({m}, {n}) must be divisible by the blocksize ({r}, {c})")
        m, n = m // r, n // c
    major, minor = (m, n) if layout in _ROW_MAJOR else (n, m)
    if n_major != major:
        raise RuntimeError(f"{cname}.size(-1) must be equal to size[{nb if layout in _ROW_MAJOR else nb + 1}]"
                           f"{' / blocksize' if blocked else ''} + 1 (that is {major + 1}), but got: "
                           f"{n_major + 1}")
    check = _CHECK_INVARIANTS[0] if check_invariants is None else check_invariants
    if check:
        count = math.prod(batch)
        for c_row, p_row in zip(compressed.reshape(count, -1).tolist(), plain.reshape(count, -1).tolist()):
            _check_compressed(c_row, p_row, nnz, minor, cname, pname)
    return _new(layout, size, _leaf(values, requires_grad), compressed=compressed, plain=plain,
                blocksize=blocksize)


def _check_compressed(c, p, nnz, minor, cname, pname):
    """PyTorch's invariants of one (unbatched) compressed index pair, given as lists."""
    if c[0] != 0:
        raise RuntimeError(f"`{cname}[..., 0] == 0` is not satisfied.")
    if c[-1] != nnz:
        raise RuntimeError(f"`{cname}[..., -1] == nnz` is not satisfied.")
    if any(b < a for a, b in zip(c, c[1:])):
        raise RuntimeError(f"`{cname}[..., 1:] >= {cname}[..., :-1]` is not satisfied.")
    if any(not 0 <= x < minor for x in p):
        raise RuntimeError(f"`0 <= {pname} < {'ncols' if cname == 'crow_indices' else 'nrows'}` is not satisfied.")
    for a, b in zip(c, c[1:]):
        seg = p[a:b]
        if any(y <= x for x, y in zip(seg, seg[1:])):
            raise RuntimeError(f"`{pname}[..., {cname}[..., i - 1]:{cname}[..., i]] for all i = 1, ..., "
                               f"nrows are sorted and distinct along the last dimension values` is not satisfied.")


def _compressed_doc(layout):
    cname, pname = _compressed_names(layout)
    unit = "block" if layout in _BLOCKED else "element"
    major, minor = ("row", "column") if layout in _ROW_MAJOR else ("column", "row")
    block = "blockrows, blockcols, " if layout in _BLOCKED else ""
    return f"""A sparse tensor in {layout.name[7:].upper()} layout from its {cname}, {pname} and values.

    Args:
        {cname}: the compressed index vector, ``(*batch, n + 1)``: element ``i`` says where the
            stored {unit}s of {major} ``i`` start.
        {pname}: the {minor} of each stored {unit}, ``(*batch, nnz)``.
        values: the stored values, ``(*batch, nnz, {block}*dense_shape)``.
        size: the tensor's shape (default: the smallest that holds the indices).
        dtype: the values' dtype (default: that of ``values``).
        device: the device (default: that of ``values``).
        pin_memory: accepted for PyTorch compatibility.
        requires_grad: make the result a leaf that requires grad.
        check_invariants: check the index invariants (default: the
            ``check_sparse_tensor_invariants`` setting).

    Returns:
        A sparse {layout.name[7:].upper()} tensor.

    Raises:
        RuntimeError: if the parts' shapes do not agree with each other or with ``size``.
    """


@public
def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None):
    return _build_compressed(CSR, crow_indices, col_indices, values, size, dtype, device, requires_grad,
                             check_invariants)


@public
def sparse_csc_tensor(ccol_indices, row_indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None):
    return _build_compressed(CSC, ccol_indices, row_indices, values, size, dtype, device, requires_grad,
                             check_invariants)


@public
def sparse_bsr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None):
    return _build_compressed(BSR, crow_indices, col_indices, values, size, dtype, device, requires_grad,
                             check_invariants)


@public
def sparse_bsc_tensor(ccol_indices, row_indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None):
    return _build_compressed(BSC, ccol_indices, row_indices, values, size, dtype, device, requires_grad,
                             check_invariants)


for _fn, _lay in ((sparse_csr_tensor, CSR), (sparse_csc_tensor, CSC), (sparse_bsr_tensor, BSR),
                  (sparse_bsc_tensor, BSC)):
    _fn.__doc__ = _compressed_doc(_lay)
del _fn, _lay


@public
def sparse_compressed_tensor(compressed_indices, plain_indices, values, size=None, *, dtype=None, layout=None,
                             device=None, pin_memory=False, requires_grad=False, check_invariants=None):
    """A sparse tensor in one of the compressed layouts (CSR, CSC, BSR, BSC) from its parts.

    Args:
        compressed_indices: the compressed index vector (``crow_indices`` or ``ccol_indices``).
        plain_indices: the other index of each stored element or block (``col_indices`` or
            ``row_indices``).
        values: the stored values (blocks for BSR/BSC).
        size: the tensor's shape (default: the smallest that holds the indices).
        dtype: the values' dtype.
        layout: ``ember.sparse_csr``, ``sparse_csc``, ``sparse_bsr`` or ``sparse_bsc`` (required).
        device: the device.
        pin_memory: accepted for PyTorch compatibility.
        requires_grad: make the result a leaf that requires grad.
        check_invariants: check the index invariants.

    Returns:
        A sparse tensor of ``layout``.

    Raises:
        TypeError: if ``layout`` is missing.
        RuntimeError: if ``layout`` is not a compressed layout, or the parts do not agree.
    """
    if layout is None:
        raise TypeError("sparse_compressed_tensor() missing required argument 'layout'")
    if layout not in COMPRESSED:
        raise RuntimeError(f"sparse_compressed_tensor expected sparse compressed tensor layout but got {layout}")
    return _build_compressed(layout, compressed_indices, plain_indices, values, size, dtype, device,
                             requires_grad, check_invariants)


def sparse_zeros(shape, layout, dtype, device, requires_grad=False):
    """A sparse tensor of ``layout`` with no stored elements (``ember.zeros(..., layout=...)``).

    Args:
        shape: the shape.
        layout: ``ember.sparse_coo``, ``sparse_csr`` or ``sparse_csc``.
        dtype: the values' dtype (``None``: the default dtype).
        device: the device (``None``: the CPU).
        requires_grad: make the result a leaf that requires grad.

    Returns:
        A sparse tensor with ``nnz == 0``.

    Raises:
        RuntimeError: for a blocked layout (it needs a blocksize) or a compressed one that is not 2-D.
    """
    shape = tuple(int(s) for s in shape)
    dtype = dt.get_default_dtype() if dtype is None else dtype
    device = "cpu" if device is None else device
    if layout is COO:
        values = E.zeros(0, dtype=dtype, device=device)
        return _new(COO, shape, _leaf(values, requires_grad), coalesced=True,
                    indices=E.zeros(len(shape), 0, dtype=dt.int64, device=device))
    if layout not in (CSR, CSC):
        raise RuntimeError(f"zeros: {layout} tensors need a blocksize; make them with ember.sparse_compressed_tensor")
    if len(shape) != 2:
        raise RuntimeError(f"zeros: a {layout} tensor must be 2-dimensional here, got size {list(shape)}")
    major = shape[0] if layout is CSR else shape[1]
    return _new(layout, shape, _leaf(E.zeros(0, dtype=dtype, device=device), requires_grad),
                compressed=E.zeros(major + 1, dtype=dt.int64, device=device),
                plain=E.zeros(0, dtype=dt.int64, device=device))


# ---------------------------------------------------------------- Tensor methods (dense and sparse)
def _expect(t, layouts, what, name):
    if getattr(t, "_layout", None) not in layouts:
        raise RuntimeError(f"{name} expected {what} layout but got {_title(t)}")


@public(function=False, method=True)
def to_dense(self, dtype=None, *, masked_grad=None):
    """The tensor as a dense (strided) tensor; gradients flow back to a sparse tensor's values.

    Args:
        dtype: the result's dtype (default: the tensor's).
        masked_grad: accepted for PyTorch compatibility.

    Returns:
        A strided tensor (the tensor itself when it is already dense and ``dtype`` matches).
    """
    if not _is_sparse(self):
        return self if dtype is None else self.to(dtype)
    return _to_dense(self, dtype)


@public(function=False, method=True)
def to_sparse(self, *args, sparse_dim=None, layout=None, blocksize=None, dense_dim=None):
    """The tensor in a sparse layout.

    Args:
        args: ``sparse_dim``, positionally.
        sparse_dim: COO only: how many leading dims are sparse (default: all).
        layout: the target layout (default: ``ember.sparse_coo``).
        blocksize: ``(rows, cols)`` of a block, for BSR and BSC.
        dense_dim: how many trailing dims stay dense (compressed layouts).

    Returns:
        A sparse tensor; explicit zeros of a dense input are not stored.

    Raises:
        RuntimeError: for an invalid combination of arguments.
    """
    if args:
        sparse_dim = args[0]
    if sparse_dim is not None and layout not in (None, COO):
        raise RuntimeError("to_sparse: sparse_dim argument is only supported for the COO layout")
    if layout is None or layout is COO:
        if blocksize is not None:
            raise RuntimeError("to_sparse: blocksize argument is only supported for the BSR and BSC layouts")
        return to_sparse_coo_(self, sparse_dim)
    if layout in _BLOCKED and blocksize is None:
        raise RuntimeError(f"to_sparse for {_TITLE[layout]} conversion requires blocksize")
    if layout not in _BLOCKED and blocksize is not None:
        raise RuntimeError("to_sparse: blocksize argument is only supported for the BSR and BSC layouts")
    if layout is _layout.strided:
        return self.to_dense()
    return _to_compressed(self, layout, blocksize, dense_dim)


def to_sparse_coo_(self, sparse_dim=None):
    if _is_sparse(self):
        if sparse_dim is not None and sparse_dim != _sparse_dim(self):
            raise RuntimeError(f"to_sparse: conversion from {_title(self)} to Sparse with sparse_dim argument "
                               f"!={_sparse_dim(self)} is not supported")
        return _as_coo(self)
    return _coo_from_dense(self, sparse_dim)


@public(function=False, method=True)
def to_sparse_coo(self):
    """The tensor in COO layout (``to_sparse()``).

    Returns:
        A sparse COO tensor.
    """
    return to_sparse_coo_(self)


@public(function=False, method=True)
def to_sparse_csr(self, dense_dim=None):
    """The tensor in CSR layout (2 sparse dims, then ``dense_dim`` dense ones).

    Args:
        dense_dim: trailing dims that stay dense (default 0).

    Returns:
        A sparse CSR tensor.
    """
    return _to_compressed(self, CSR, None, dense_dim)


@public(function=False, method=True)
def to_sparse_csc(self, dense_dim=None):
    """The tensor in CSC layout (2 sparse dims, then ``dense_dim`` dense ones).

    Args:
        dense_dim: trailing dims that stay dense (default 0).

    Returns:
        A sparse CSC tensor.
    """
    return _to_compressed(self, CSC, None, dense_dim)


@public(function=False, method=True)
def to_sparse_bsr(self, blocksize, dense_dim=None):
    """The tensor in BSR layout: nonzero ``blocksize`` blocks stored in compressed rows.

    Args:
        blocksize: ``(rows, cols)`` of a block; the sizes must divide the tensor's.
        dense_dim: trailing dims that stay dense (default 0).

    Returns:
        A sparse BSR tensor.
    """
    return _to_compressed(self, BSR, blocksize, dense_dim)


@public(function=False, method=True)
def to_sparse_bsc(self, blocksize, dense_dim=None):
    """The tensor in BSC layout: nonzero ``blocksize`` blocks stored in compressed columns.

    Args:
        blocksize: ``(rows, cols)`` of a block; the sizes must divide the tensor's.
        dense_dim: trailing dims that stay dense (default 0).

    Returns:
        A sparse BSC tensor.
    """
    return _to_compressed(self, BSC, blocksize, dense_dim)


@public(name="is_sparse", function=False, method=True)
@property
def _is_sparse_property(self):
    """Whether the tensor is in COO layout (``False`` for a dense tensor)."""
    return False


@public(name="is_sparse_csr", function=False, method=True)
@property
def _is_sparse_csr_property(self):
    """Whether the tensor is in CSR layout (``False`` for a dense tensor)."""
    return False


@public(function=False, method=True)
def sparse_dim(self) -> int:
    """How many leading dims are sparse (0 for a dense tensor; 2 for the compressed layouts).

    Returns:
        An int.
    """
    return _sparse_dim(self) if _is_sparse(self) else 0


@public(function=False, method=True)
def dense_dim(self) -> int:
    """How many trailing dims each stored value has (all of them for a dense tensor).

    Returns:
        An int.
    """
    return _dense_dim(self) if _is_sparse(self) else self.ndim


@public(function=False, method=True)
def indices(self):
    """The ``(sparse_dim, nnz)`` indices of a coalesced COO tensor (shared, not copied).

    Returns:
        An int64 tensor.

    Raises:
        RuntimeError: if the tensor is not COO, or not coalesced.
    """
    _expect(self, (COO,), "sparse coordinate tensor", "indices")
    if not self._coalesced:
        raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
    return self._ind


@public(function=False, method=True)
def values(self):
    """The stored values of a sparse tensor (of a coalesced one, for COO); gradients flow to them.

    Returns:
        A dense tensor of shape ``(nnz, *dense_shape)`` (with the block dims for BSR/BSC).

    Raises:
        RuntimeError: if the tensor is dense, or an uncoalesced COO tensor.
    """
    _expect(self, (COO,) + COMPRESSED, "sparse tensor", "values")
    if self._layout is COO and not self._coalesced:
        raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
    return self._val


def _part(name, layouts, what, attr):
    def get(self):
        _expect(self, layouts, what, name)
        return getattr(self, attr)
    get.__name__ = get.__qualname__ = name
    get.__doc__ = f"""The {name.replace('_', ' ')} of a {what.replace(' tensor', '')} tensor (shared, not copied).

    Returns:
        An integer tensor.

    Raises:
        RuntimeError: for any other layout.
    """
    return get


crow_indices = public(function=False, method=True)(
    _part("crow_indices", (CSR, BSR), "sparse row compressed tensor", "_compressed"))
col_indices = public(function=False, method=True)(
    _part("col_indices", (CSR, BSR), "sparse row compressed tensor", "_plain"))
ccol_indices = public(function=False, method=True)(
    _part("ccol_indices", (CSC, BSC), "sparse column compressed tensor", "_compressed"))
row_indices = public(function=False, method=True)(
    _part("row_indices", (CSC, BSC), "sparse column compressed tensor", "_plain"))


def _copy_form(method_name, getter):
    def copy(input, *, out=None):
        result = getter(input).clone()
        if out is not None:
            from ember.ops.out import write_out
            return write_out(out, result)
        return result
    copy.__name__ = copy.__qualname__ = method_name + "_copy"
    copy.__doc__ = f"""A copy of ``input.{method_name}()`` with its own memory.

    Args:
        input: a sparse tensor of a layout that has {method_name}.
        out: an optional tensor to write the result into.

    Returns:
        A dense tensor.
    """
    return copy


def _coo_indices(t):
    _expect(t, (COO,), "sparse coordinate tensor", "indices")
    return t._ind


indices_copy = public(function=True)(_copy_form("indices", _coo_indices))
values_copy = public(function=True)(_copy_form("values", values))
crow_indices_copy = public(function=True)(_copy_form("crow_indices", crow_indices))
col_indices_copy = public(function=True)(_copy_form("col_indices", col_indices))
ccol_indices_copy = public(function=True)(_copy_form("ccol_indices", ccol_indices))
row_indices_copy = public(function=True)(_copy_form("row_indices", row_indices))


@public(function=False, method=True)
def coalesce(self):
    """The COO tensor with sorted, unique indices: the values of repeated indices are summed.

    Returns:
        A coalesced COO tensor (the tensor itself if it already is).

    Raises:
        RuntimeError: if the tensor is not COO.
    """
    _expect(self, (COO,), "sparse coordinate tensor", "coalesce")
    return _coalesce(self)


@public(function=False, method=True)
def is_coalesced(self) -> bool:
    """Whether a COO tensor is known to have sorted, unique indices.

    Returns:
        A bool.

    Raises:
        RuntimeError: if the tensor is not COO.
    """
    _expect(self, (COO,), "sparse coordinate tensor", "is_coalesced")
    return bool(self._coalesced)


@public(function=False, method=True)
def _coalesced_(self, coalesced: bool):
    """Declare a COO tensor coalesced (or not) without checking (PyTorch's ``_coalesced_``).

    Args:
        coalesced: the new flag.

    Returns:
        The tensor itself.
    """
    _expect(self, (COO,), "sparse coordinate tensor", "_coalesced_")
    self._coalesced = bool(coalesced)
    return self


@public(function=False, method=True)
def _indices(self):
    """The indices of a COO tensor, coalesced or not (shared, not copied)."""
    _expect(self, (COO,), "sparse coordinate tensor", "_indices")
    return self._ind


@public(function=False, method=True)
def _values(self):
    """The values of a COO tensor, coalesced or not (shared, not copied)."""
    _expect(self, (COO,), "sparse coordinate tensor", "_values")
    return self._val


@public(function=False, method=True)
def _nnz(self) -> int:
    """The number of stored elements of a sparse tensor.

    Raises:
        RuntimeError: for a dense tensor.
    """
    _expect(self, (COO,) + COMPRESSED, "sparse tensor", "_nnz")
    return _nnz_of(self)


@public(function=False, method=True)
def sparse_mask(self, mask):
    """The values of this dense (or sparse) tensor at the stored positions of ``mask``.

    Args:
        mask: a sparse tensor; the result has its layout and pattern.

    Returns:
        A sparse tensor whose values are taken from ``self`` (differentiably).

    Raises:
        RuntimeError: if ``mask`` is not sparse or the shapes differ.
    """
    if not _is_sparse(mask):
        raise RuntimeError(f"sparse_mask expects mask to be sparse, got {_title(mask)}")
    if tuple(self.shape) != tuple(mask.shape):
        raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has size {list(self.shape)} "
                           f"but mask has size {list(mask.shape)}")
    dense = self.to_dense() if _is_sparse(self) else self
    if mask._layout is COO:
        mask = _coalesce(mask)
    return _replace(mask, _gather_at(dense, mask))


def _gather_at(dense, mask):
    """The entries (or blocks) of ``dense`` at ``mask``'s stored positions, shaped as its values."""
    nb = _batch_dim(mask)
    if mask._layout in _BLOCKED:
        r, c = mask._blocksize
        batch, (m, n) = tuple(dense.shape[:nb]), (dense.shape[nb], dense.shape[nb + 1])
        tail = tuple(dense.shape[nb + 2:])
        dense = dense.reshape(batch + (m // r, r, n // c, c) + tail).permute(*_block_order(nb, len(tail)))
        indices, _ = _blocks_coo(mask)
    else:
        indices, _ = _element_coo(mask)
    found = dense[tuple(indices[d] for d in range(indices.shape[0]))]
    return found.reshape(tuple(mask._val.shape[:nb + 1]) + tuple(found.shape[1:]))


def _resize(self, size, sparse_dim, dense_dim, clear):
    _expect(self, (COO,), "sparse coordinate tensor", "sparse_resize_")
    size = tuple(int(s) for s in size)
    if sparse_dim + dense_dim != len(size):
        raise RuntimeError(f"number of dimensions must be sparse_dim ({sparse_dim}) + dense_dim ({dense_dim}), "
                           f"but got {len(size)}")
    nnz = self._val.shape[0]
    if clear or nnz == 0:
        indices = E.zeros(sparse_dim, 0, dtype=dt.int64, device=self.device)
        values = E.zeros((0,) + size[sparse_dim:], dtype=self.dtype, device=self.device)
        coalesced = True
    else:
        if sparse_dim != _sparse_dim(self) or dense_dim != _dense_dim(self):
            raise RuntimeError("changing the number of sparse or dense dimensions of a non-empty sparse tensor "
                               "is not supported")
        if size[sparse_dim:] != tuple(self.shape[sparse_dim:]):
            raise RuntimeError(f"resizing dense dimensions of a non-empty sparse tensor is not supported: from "
                               f"{list(self.shape[sparse_dim:])} to {list(size[sparse_dim:])}")
        if any(s < o for s, o in zip(size[:sparse_dim], self.shape[:sparse_dim])):
            raise RuntimeError(f"shrinking the size of sparse dimensions (from {list(self.shape[:sparse_dim])} to "
                               f"{list(size[:sparse_dim])}) on a non-empty sparse tensor is not supported")
        indices, values, coalesced = self._ind, self._val, self._coalesced
    self._data = SparseData(size, self._data.backend)
    self._ind, self._val, self._coalesced = indices, values, coalesced
    return self


@public(function=False, method=True)
def sparse_resize_(self, size, sparse_dim, dense_dim):
    """Resize a COO tensor in place, keeping its stored elements (sparse sizes may only grow).

    Args:
        size: the new shape.
        sparse_dim: the number of sparse dims of the new shape.
        dense_dim: the number of dense dims of the new shape.

    Returns:
        The tensor itself.

    Raises:
        RuntimeError: for a dense tensor, or a change that would lose stored elements.
    """
    return _resize(self, size, sparse_dim, dense_dim, False)


@public(function=False, method=True)
def sparse_resize_and_clear_(self, size, sparse_dim, dense_dim):
    """Resize a COO tensor in place and drop all its stored elements.

    Args:
        size: the new shape.
        sparse_dim: the number of sparse dims of the new shape.
        dense_dim: the number of dense dims of the new shape.

    Returns:
        The tensor itself, now with no stored elements.
    """
    return _resize(self, size, sparse_dim, dense_dim, True)


@public(method=True)
def resize_as_sparse_(input, the_template):
    """Make COO ``input`` an empty tensor with ``the_template``'s shape and sparse/dense dims, in place.

    Args:
        input: the COO tensor to resize.
        the_template: a COO tensor whose shape and dims are taken.

    Returns:
        ``input``.
    """
    _expect(the_template, (COO,), "sparse coordinate tensor", "resize_as_sparse_")
    return _resize(input, the_template.shape, _sparse_dim(the_template), _dense_dim(the_template), True)


@public(function=False, method=True)
def to_mkldnn(self, dtype=None):
    """PyTorch's oneDNN (MKL-DNN) tensor layout, which ember does not have.

    Raises:
        RuntimeError: always: ember has no MKL-DNN backend (as a PyTorch build without it).
    """
    raise RuntimeError("MKL-DNN build is disabled")


# ---------------------------------------------------------------- products
def _check_mm(a, b, name, batched=False):
    if not batched and (a.ndim != 2 or b.ndim != 2):
        raise RuntimeError(f"{name}: expected 2-D matrices, got {a.ndim}-D and {b.ndim}-D tensors")
    if batched and (a.ndim != b.ndim or tuple(a.shape[:-2]) != tuple(b.shape[:-2])):
        raise RuntimeError(f"{name}: expected batched matrices with equal batch sizes, got sizes {list(a.shape)} "
                           f"and {list(b.shape)}")
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[-2]}x{a.shape[-1]} and "
                           f"{b.shape[-2]}x{b.shape[-1]})")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected mat1 and mat2 to have the same dtype, but got: {a.dtype} != {b.dtype}")


def _sparse_times_dense(s, d, reduce="sum"):
    """Sparse ``s`` (``(*batch, m, k)``) times dense ``d`` (``(*batch, k, n)``): each stored value
    scales a row of ``d`` and lands in its row of the result."""
    if _dense_dim(s):
        raise RuntimeError(f"mm: sparse tensors with dense dimensions are not supported, got dense_dim="
                           f"{_dense_dim(s)}")
    nb = s.ndim - 2
    indices, values = _element_coo(s)
    batch = tuple(s.shape[:nb])
    (m, k), n = (s.shape[nb], s.shape[nb + 1]), d.shape[-1]
    which = _linear(indices[:nb], batch)  # the batch of each stored element (0 without batch dims)
    rows, cols = which * m + indices[nb], which * k + indices[nb + 1]
    count = math.prod(batch)
    contributions = values.unsqueeze(1) * d.reshape(count * k, n).index_select(0, cols)
    out = E.zeros(count * m, n, dtype=contributions.dtype, device=d.device)
    if reduce == "sum":
        out = E.index_add(out, 0, rows, contributions) if values.shape[0] else out
    elif reduce == "mean":
        total = E.index_add(out, 0, rows, contributions)
        stored = E.index_add(E.zeros(count * m, dtype=values.dtype, device=d.device), 0, rows, E.ones_like(values))
        out = total / stored.clamp(min=1).unsqueeze(1)
    elif reduce in ("amax", "amin"):
        out = E.scatter_reduce(out, 0, rows.unsqueeze(1).expand(-1, n), contributions, reduce, include_self=False)
    else:
        raise RuntimeError(f"reduce argument must be either sum, mean, amax or amin, got {reduce}")
    return out.reshape(batch + (m, n))


def _transpose2(s):
    """A sparse matrix (or batch of them) transposed: CSR<->CSC, BSR<->BSC; COO (2-D): rows swapped."""
    if s._layout is COO:
        if _sparse_dim(s) != 2:
            raise RuntimeError(f"transpose: expected a COO tensor with 2 sparse dims, got {_sparse_dim(s)}")
        return _new(COO, (s.shape[1], s.shape[0]) + tuple(s.shape[2:]), s._val,
                    indices=E.stack([s._ind[1], s._ind[0]]), coalesced=False)
    nb = _batch_dim(s)
    flip = {CSR: CSC, CSC: CSR, BSR: BSC, BSC: BSR}[s._layout]
    values = s._val.transpose(nb + 1, nb + 2) if s._layout in _BLOCKED else s._val
    block = None if s._blocksize is None else (s._blocksize[1], s._blocksize[0])
    shape = tuple(s.shape[:nb]) + (s.shape[nb + 1], s.shape[nb]) + tuple(s.shape[nb + 2:])
    return _new(flip, shape, values, compressed=s._compressed, plain=s._plain, blocksize=block)


def _mm(a, b, name="mm", reduce="sum", batched=False):
    _check_mm(a, b, name, batched)
    if _is_sparse(a) and _is_sparse(b):
        product = _sparse_times_dense(a, b.to_dense(), reduce)
        out = _coo_from_dense(product, product.ndim)
        return out if a._layout is COO else _to_compressed(out, a._layout, a._blocksize)
    if _is_sparse(a):
        return _sparse_times_dense(a, b, reduce)
    return _sparse_times_dense(_transpose2(b), a.transpose(-2, -1), reduce).transpose(-2, -1)


def sparse_mm(mat1, mat2, reduce=None):
    """Matrix product where either operand may be sparse; gradients flow to the values and the dense side.

    Args:
        mat1: a sparse or dense ``(n, m)`` matrix.
        mat2: a sparse or dense ``(m, p)`` matrix.
        reduce: for a CSR ``mat1`` and dense ``mat2``, how the products of a row are combined:
            ``"sum"``, ``"mean"`` (over the row's stored elements), ``"amax"`` or ``"amin"``
            (default: a plain product).

    Returns:
        Dense ``(n, p)`` unless both are sparse (then sparse, in ``mat1``'s layout).

    Raises:
        RuntimeError: if the shapes or dtypes do not agree, or ``reduce`` is unknown.
        NotImplementedError: for ``reduce`` with a ``mat1`` that is not CSR (as PyTorch).
    """
    if reduce is not None:
        if not _is_sparse(mat1) or mat1._layout is not CSR or _is_sparse(mat2):
            backend = mat1._data.backend if _is_sparse(mat1) else backend_of(mat1.device.type).dispatch_key
            raise NotImplementedError(f"Could not run 'aten::_sparse_mm_reduce_impl' with arguments from the "
                                      f"'{backend}' backend (reduce= needs a sparse CSR mat1 and a dense mat2)")
        if reduce not in ("sum", "mean", "amax", "amin"):
            raise RuntimeError(f"sparse_mm_reduce: reduce type of {reduce} has not been enabled.")
        return _mm(mat1, mat2, "mm", reduce)
    if not (_is_sparse(mat1) or _is_sparse(mat2)):
        return E.mm(mat1, mat2)
    return _mm(mat1, mat2, "mm")


def sparse_addmm(input, mat1, mat2, *, beta=1.0, alpha=1.0):
    """``beta * input + alpha * (mat1 @ mat2)`` with sparse ``mat1``.

    Args:
        input: the dense matrix added.
        mat1: a sparse ``(n, m)`` matrix.
        mat2: a dense ``(m, p)`` matrix.
        beta: the factor of ``input`` (0: ``input`` is ignored, NaNs included).
        alpha: the factor of the product.

    Returns:
        A dense ``(n, p)`` tensor.
    """
    product = _mm(mat1, mat2, "addmm") if (_is_sparse(mat1) or _is_sparse(mat2)) else E.mm(mat1, mat2)
    if _is_sparse(product):
        product = product.to_dense()
    if alpha != 1:
        product = product * alpha
    if beta == 0:  # input is ignored, NaNs included
        return product
    dense_input = input.to_dense() if _is_sparse(input) else input
    return (dense_input * beta if beta != 1 else dense_input) + product


@public
def spmm(input, mat2):
    """Sparse times dense matrix product (``mm`` with a sparse first operand).

    Args:
        input: a sparse ``(n, m)`` matrix.
        mat2: a dense ``(m, p)`` matrix.

    Returns:
        A dense ``(n, p)`` tensor.
    """
    return sparse_mm(input, mat2)


@public
def dsmm(input, mat2):
    """Sparse times dense matrix product with a dense result (the same as ``spmm``).

    Args:
        input: a sparse ``(n, m)`` matrix.
        mat2: a dense ``(m, p)`` matrix.

    Returns:
        A dense ``(n, p)`` tensor.
    """
    return sparse_mm(input, mat2)


@public(method=True)
def smm(input, mat2):
    """Sparse times dense matrix product with a sparse (COO) result.

    Args:
        input: a sparse ``(n, m)`` matrix.
        mat2: a dense ``(m, p)`` matrix.

    Returns:
        A sparse COO ``(n, p)`` tensor.
    """
    _expect(input, (COO,) + COMPRESSED, "sparse tensor", "smm")
    return _coo_from_dense(sparse_mm(input, mat2), 2)


@public
def hsmm(mat1, mat2):
    """Sparse times dense product as a hybrid COO tensor: one sparse dim (rows), dense rows.

    Args:
        mat1: a sparse ``(n, m)`` matrix.
        mat2: a dense ``(m, p)`` matrix.

    Returns:
        A COO tensor with ``sparse_dim() == 1`` holding the product's nonzero rows.
    """
    return hspmm(mat1, mat2)


@public
def hspmm(mat1, mat2, *, out=None):
    """Sparse COO times dense product as a hybrid COO tensor (nonzero rows stored densely).

    Args:
        mat1: a sparse COO ``(n, m)`` matrix.
        mat2: a dense ``(m, p)`` matrix.
        out: accepted for PyTorch compatibility only as ``None``.

    Returns:
        A COO tensor with ``sparse_dim() == 1``: the rows of ``mat1`` with stored elements.
    """
    _expect(mat1, (COO,), "sparse coordinate tensor", "hspmm")
    product = sparse_mm(mat1, mat2)
    rows = E.unique(_coalesce(mat1)._ind[0], sorted=True) if mat1._val.shape[0] else \
        E.zeros(0, dtype=dt.int64, device=mat1.device)
    result = _new(COO, product.shape, product.index_select(0, rows), indices=rows.unsqueeze(0), coalesced=True)
    if out is not None:
        raise RuntimeError("hspmm: out= is not supported for sparse results")
    return result


@public(method=True)
def sspaddmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat1 @ mat2)`` for sparse COO ``input`` and ``mat1``, as a sparse tensor.

    Args:
        input: a sparse COO ``(n, p)`` tensor.
        mat1: a sparse ``(n, m)`` matrix.
        mat2: a dense ``(m, p)`` matrix.
        beta: the factor of ``input``.
        alpha: the factor of the product.
        out: accepted for PyTorch compatibility only as ``None``.

    Returns:
        An uncoalesced COO tensor: ``input``'s entries followed by the product's.
    """
    _expect(input, (COO,), "sparse coordinate tensor", "sspaddmm")
    product = smm(mat1, mat2)
    if tuple(product.shape) != tuple(input.shape):
        raise RuntimeError(f"sspaddmm: input has size {list(input.shape)} but the product has size "
                           f"{list(product.shape)}")
    if out is not None:
        raise RuntimeError("sspaddmm: out= is not supported for sparse results")
    return _new(COO, input.shape, E.cat([input._val * beta, product._val * alpha]),
                indices=E.cat([input._ind, product._ind], dim=1), coalesced=False)


@public
def saddmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """The same as ``sspaddmm``: ``beta * input + alpha * (mat1 @ mat2)`` as a sparse COO tensor.

    Args:
        input: a sparse COO tensor.
        mat1: a sparse matrix.
        mat2: a dense matrix.
        beta: the factor of ``input``.
        alpha: the factor of the product.
        out: accepted for PyTorch compatibility only as ``None``.

    Returns:
        An uncoalesced COO tensor.
    """
    return sspaddmm(input, mat1, mat2, beta=beta, alpha=alpha, out=out)


# ---------------------------------------------------------------- reductions and softmax
def sparse_sum(input, dim=None, dtype=None, *, keepdim=False):
    """Sum of a COO tensor's values, over all dims or the given ones.

    Args:
        input: a sparse COO tensor.
        dim: a dim or list of dims (default: all).
        dtype: the result's dtype (default: the input's; integers sum to int64).
        keepdim: keep the summed dims with size 1 (the result is then a COO tensor).

    Returns:
        A dense tensor when every sparse dim is summed, else a coalesced COO tensor.

    Raises:
        RuntimeError: if ``input`` is not COO.
    """
    _expect(input, (COO,), "sparse coordinate tensor", "coalesce")
    values = input._val if dtype is None else input._val.to(dtype)
    if dim is None:
        return values.sum() if dtype is not None or values.dtype.is_floating_point or values.dtype.is_complex \
            else values.sum()
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    dims = sorted({wrap_dim(d, input.ndim) for d in dims})
    k = _sparse_dim(input)
    sparse_dims = [d for d in dims if d < k]
    dense_dims = [d - k + 1 for d in dims if d >= k]
    if dense_dims:
        values = values.sum(dim=tuple(dense_dims), keepdim=keepdim)
    if keepdim:  # the summed sparse dims stay, of size 1, every entry at index 0
        shape = tuple(1 if d in dims else s for d, s in enumerate(input.shape))
        rows = E.tensor([d in sparse_dims for d in range(k)], device=input.device).view(k, 1)
        indices = E.where(rows, E.zeros_like(input._ind), input._ind)
        return _coalesce(_new(COO, shape, values, indices=indices, coalesced=not sparse_dims and input._coalesced))
    if len(sparse_dims) == k:
        return values.sum(0)
    keep = [d for d in range(k) if d not in sparse_dims]
    shape = tuple(s for d, s in enumerate(input.shape) if d not in dims)
    if not sparse_dims:
        return _new(COO, shape, values, indices=input._ind, coalesced=input._coalesced)
    indices = input._ind[E.tensor(keep, dtype=dt.int64, device=input.device)]
    return _coalesce(_new(COO, shape, values, indices=indices, coalesced=False))


def _softmax(input, dim, dtype, log):
    if getattr(input, "_layout", None) is not COO:  # PyTorch has the kernel for COO only
        backend = input._data.backend if _is_sparse(input) else backend_of(input.device.type).dispatch_key
        raise NotImplementedError(f"Could not run 'aten::_sparse_{'log_' if log else ''}softmax' with arguments "
                                  f"from the '{backend}' backend (ember.sparse.softmax takes a COO tensor)")
    if dtype is not None:
        input = _replace(input, input._val.to(dtype))
    dim = wrap_dim(dim, input.ndim)
    coo = _coalesce(input)
    k = _sparse_dim(coo)
    values = coo._val
    if dim >= k:  # along a dense dim: a dense softmax of each stored value
        fn = E.log_softmax if log else E.softmax
        return _replace(coo, fn(values, dim - k + 1))
    if values.shape[0] == 0:
        return coo
    others = [d for d in range(k) if d != dim]
    sizes = tuple(coo.shape[d] for d in others)
    key = _linear(coo._ind[E.tensor(others, dtype=dt.int64, device=coo.device)], sizes) if others else \
        E.zeros(values.shape[0], dtype=dt.int64, device=coo.device)
    _, group = E.unique(key, sorted=True, return_inverse=True)
    n_groups = int(group.amax().item()) + 1
    tail = tuple(values.shape[1:])
    spread = group.view((-1,) + (1,) * len(tail)).expand(values.shape)
    # the group's maximum keeps exp in range; softmax does not depend on it, so it is not differentiated
    highest = E.full((n_groups,) + tail, -math.inf, dtype=values.dtype, device=values.device).scatter_reduce(
        0, spread, values.detach(), "amax", include_self=True)
    shifted = values - highest.index_select(0, group)
    exps = shifted.exp()
    totals = E.index_add(E.zeros((n_groups,) + tail, dtype=values.dtype, device=values.device), 0, group, exps)
    out = shifted - totals.log().index_select(0, group) if log else exps / totals.index_select(0, group)
    return _replace(coo, out)


def sparse_softmax(input, dim, dtype=None):
    """Softmax over the stored elements of a COO tensor along ``dim`` (unstored ones count as -inf).

    Args:
        input: a sparse COO tensor.
        dim: the dim along which the stored values are normalised.
        dtype: cast the values to this dtype first.

    Returns:
        A coalesced COO tensor with ``input``'s pattern.
    """
    return _softmax(input, dim, dtype, False)


def sparse_log_softmax(input, dim, dtype=None):
    """Log-softmax over the stored elements of a COO tensor along ``dim`` (unstored ones count as -inf).

    Args:
        input: a sparse COO tensor.
        dim: the dim along which the stored values are normalised.
        dtype: cast the values to this dtype first.

    Returns:
        A coalesced COO tensor with ``input``'s pattern.
    """
    return _softmax(input, dim, dtype, True)


# ---------------------------------------------------------------- dense ops met with sparse operands
# ops f with f(0) == 0, which PyTorch applies to the stored values (its sparse unary kernels)
_ZERO_PRESERVING = {"abs", "asin", "asinh", "atan", "atanh", "ceil", "erf", "erfinv", "expm1", "floor", "log1p",
                    "neg", "relu", "round", "sign", "sin", "sinh", "sqrt", "tan", "tanh", "trunc", "cast",
                    "clone", "isnan", "isinf", "sgn", "conj_physical", "deg2rad", "rad2deg", "frac",
                    "signbit", "nan_to_num", "square", "angle"}


def _is_number(x) -> bool:
    return isinstance(x, (int, float, complex)) or (isinstance(x, Tensor) and not _is_sparse(x) and x.ndim == 0)


def _sparse_op(op, inputs, attrs):
    """Run ``op`` on inputs of which at least one is sparse, as PyTorch does, or raise its error."""
    for x in inputs:
        hook = getattr(type(x), "_sparse_dispatch", None)  # other sparse kinds (semi-structured) run their own
        if hook is not None:
            return hook(op, inputs, attrs)
    name = op.name
    first = inputs[0]
    if name in _ZERO_PRESERVING and len(inputs) == 1:
        from ember.core.call import call
        return _replace(first, call(op, first._val, **attrs))
    if name in ("mul", "div", "div_rounding") and len(inputs) == 2:
        result = _sparse_mul_div(op, inputs, attrs)
        if result is not None:
            return result
    if name in ("add", "sub") and len(inputs) == 2:
        return _sparse_add(op, inputs, attrs)
    if name == "pow" and len(inputs) == 2 and _is_sparse(first) and _is_number(inputs[1]):
        exponent = inputs[1].item() if isinstance(inputs[1], Tensor) else inputs[1]
        if exponent == 0:
            raise RuntimeError("pow: cannot raise to zeroth power on sparse tensor; it would make the result "
                               "tensor dense")
        from ember.core.call import call
        return _replace(first, call(op, first._val, inputs[1], **attrs))
    if name == "sum" and len(inputs) == 1:
        return _sum_op(first, attrs)
    if name == "matmul" and len(inputs) == 2:
        return _matmul(*inputs)
    if name == "cat":
        return _cat(inputs, attrs["dim"])
    if name == "view" and len(inputs) == 1 and first._layout is COO:
        return _view_ones(first, tuple(attrs["shape"]))
    if name == "permute" and len(inputs) == 1:
        return _permute(first, tuple(attrs["dims"]))
    backend = next(x._data.backend for x in inputs if _is_sparse(x))
    raise NotImplementedError(f"Could not run 'aten::{name}' with arguments from the '{backend}' backend. "
                              f"The operator is not defined for sparse tensors (layout "
                              f"{next(x._layout for x in inputs if _is_sparse(x))}); use .to_dense() first.")


def _sparse_mul_div(op, inputs, attrs):
    from ember.core.call import call
    a, b = inputs
    if _is_sparse(a) and _is_number(b):
        return _replace(a, call(op, a._val, b, **attrs))
    if op.name != "mul":
        if _is_sparse(a):
            raise RuntimeError(f"Sparse division requires a scalar or zero-dim dense tensor divisor (got shape "
                               f"{list(b.shape)} for divisor)")
        return None
    if _is_number(a) and _is_sparse(b):
        return _replace(b, call(op, a, b._val, **attrs))
    if _is_sparse(a) and _is_sparse(b):
        return _intersect_mul(a, b)
    sparse, dense = (a, b) if _is_sparse(a) else (b, a)
    if tuple(dense.shape) != tuple(sparse.shape):  # the dense side broadcasts to the sparse shape, not beyond
        try:
            dense = dense.expand(tuple(sparse.shape))
        except RuntimeError:
            raise RuntimeError(f"mul(sparse, dense): the dense operand of size {list(dense.shape)} does not "
                               f"broadcast to the sparse size {list(sparse.shape)}") from None
    mask = _coalesce(sparse) if sparse._layout is COO else sparse
    return _replace(mask, mask._val * _gather_at(dense, mask))


def _intersect_mul(a, b):
    if a._layout is not COO or b._layout is not COO:
        a_d = a.to_dense() * b.to_dense()
        return _to_compressed(a_d, a._layout, a._blocksize, _dense_dim(a)) if a._layout is not COO else \
            _coo_from_dense(a_d, _sparse_dim(a))
    if tuple(a.shape) != tuple(b.shape):
        raise RuntimeError(f"mul: sparse operands must have the same size, got {list(a.shape)} and {list(b.shape)}")
    a, b = _coalesce(a), _coalesce(b)
    k = _sparse_dim(a)
    sizes = tuple(a.shape[:k])
    la, lb = _linear(a._ind, sizes), _linear(b._ind, sizes)
    if lb.shape[0] == 0 or la.shape[0] == 0:
        keep = E.zeros(0, dtype=dt.int64, device=a.device)
        pos = keep
    else:
        pos = E.searchsorted(lb, la).clamp(max=lb.shape[0] - 1)
        keep = E.nonzero(lb[pos] == la).view(-1)
        pos = pos[keep]
    return _new(COO, a.shape, a._val[keep] * b._val[pos], indices=a._ind[:, keep], coalesced=True)


def _sparse_add(op, inputs, attrs):
    a, b = inputs
    sign = -1 if op.name == "sub" else 1
    if _is_sparse(a) and _is_sparse(b):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"{op.name}: expected 'self' and 'other' to have same size, but self has size "
                               f"{list(a.shape)} while other has size {list(b.shape)}")
        if a._layout is not b._layout:
            raise RuntimeError(f"{op.name}: expected both operands in one layout, got {a._layout} and {b._layout}")
        if a._layout is not COO:
            total = a.to_dense() + sign * b.to_dense()
            return _to_compressed(total, a._layout, a._blocksize, _dense_dim(a))
        both = _new(COO, a.shape, E.cat([a._val, b._val * sign if sign < 0 else b._val]),
                    indices=E.cat([a._ind, b._ind], dim=1), coalesced=False)
        return _coalesce(both) if a._coalesced and b._coalesced else both
    if _is_sparse(a):
        if a._layout is COO:
            raise RuntimeError(f"{op.name}(sparse, dense) is not supported. Use {op.name}(dense, sparse) instead.")
        if tuple(a.shape) != tuple(getattr(b, "shape", ())):
            raise RuntimeError(f"{op.name}: expected 'self' and 'other' to have same size, but self has size "
                               f"{list(a.shape)} while other has size {list(getattr(b, 'shape', ()))}")
        return _dense_binary(op, a.to_dense(), b)
    return _dense_binary(op, a, b.to_dense())


def _dense_binary(op, a, b):
    return (E.sub if op.name == "sub" else E.add)(a, b)


def _sum_op(t, attrs):
    dims = attrs.get("dims")
    keepdim = attrs.get("keepdim", False)
    if (dims is None or len(dims) == t.ndim or not dims) and not keepdim:
        return t._val.sum()
    if t._layout is CSR and keepdim and t.ndim == 2:  # PyTorch's CSR reduction keeps the layout
        return _to_compressed(sparse_sum(_as_coo(t), tuple(range(t.ndim)) if not dims else tuple(dims),
                                         keepdim=True), CSR)
    if t._layout is not COO:
        raise RuntimeError(f"reduction operations on {_title(t)} tensors with keepdim=False is unsupported")
    return sparse_sum(t, tuple(range(t.ndim)) if not dims else tuple(dims), keepdim=keepdim)


def _cat(tensors, dim):
    if not all(_is_sparse(t) and t._layout is COO for t in tensors):
        raise RuntimeError(f"cat: expected all tensors to be sparse COO, got layouts "
                           f"{[str(getattr(t, 'layout', None)) for t in tensors]}")
    first = tensors[0]
    k, ndim = _sparse_dim(first), first.ndim
    if any(_sparse_dim(t) != k or t.ndim != ndim for t in tensors):
        raise RuntimeError("cat: all sparse tensors must have the same sparse_dim and dense_dim")
    dim = wrap_dim(dim, ndim)
    for t in tensors:
        if any(t.shape[d] != first.shape[d] for d in range(ndim) if d != dim):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. Expected "
                               f"{list(first.shape)} but got {list(t.shape)}")
    total = builtins.sum(t.shape[dim] for t in tensors)
    shape = tuple(total if d == dim else s for d, s in enumerate(first.shape))
    indices, values, offset = [], [], 0
    for t in tensors:
        if dim < k:  # along a sparse dim: shift the indices
            shift = E.zeros(k, 1, dtype=dt.int64, device=t.device)
            shift[dim] = offset
            indices.append(t._ind + shift)
            values.append(t._val)
        else:        # along a dense dim: each entry's values padded with zeros around its own part
            vd = dim - k + 1
            before = list(t._val.shape)
            before[vd] = offset
            after = list(t._val.shape)
            after[vd] = total - offset - t.shape[dim]
            values.append(E.cat([E.zeros(before, dtype=t.dtype, device=t.device), t._val,
                                 E.zeros(after, dtype=t.dtype, device=t.device)], dim=vd))
            indices.append(t._ind)
        offset += t.shape[dim]
    return _new(COO, shape, E.cat(values), indices=E.cat(indices, dim=1), coalesced=False)


def _matmul(a, b):
    if b.ndim == 1 and not _is_sparse(b):
        return _mm(a, b.unsqueeze(1), "matmul").squeeze(1)
    if a.ndim == 1 and not _is_sparse(a):
        return _mm(a.unsqueeze(0), b, "matmul").squeeze(0)
    return _mm(a, b, "matmul", batched=a.ndim > 2 or b.ndim > 2)  # batched: compressed layouts with batch dims


def _view_ones(t, shape):
    """``unsqueeze``/``squeeze`` of a COO tensor (a view that only adds or drops size-1 dims): an
    added dim is sparse when no dense dim of size > 1 comes before it, as PyTorch places it."""
    old = tuple(t.shape)
    if [s for s in old if s != 1] != [s for s in shape if s != 1]:
        raise NotImplementedError(f"Could not run 'aten::view' with arguments from the '{t._data.backend}' "
                                  f"backend: sparse tensors cannot be viewed as size {list(shape)} (only size-1 "
                                  f"dims can be added or removed; use .to_dense() first)")
    k = _sparse_dim(t)
    kept = [d for d, s in enumerate(old) if s != 1]           # old dims of size > 1, in order
    first_dense = next((i for i, d in enumerate(kept) if d >= k), len(kept))
    rows, dense_shape, seen = [], [], 0
    zeros = None
    for s in shape:
        if s != 1:
            d = kept[seen]
            seen += 1
            if d < k:
                rows.append(t._ind[d])
            else:
                dense_shape.append(s)
        elif seen <= first_dense:  # no dense dim before it: sparse (PyTorch's unsqueeze(d), d <= sparse_dim)
            zeros = E.zeros(t._ind.shape[1], dtype=dt.int64, device=t.device) if zeros is None else zeros
            rows.append(zeros)
        else:
            dense_shape.append(1)
    indices = E.stack(rows) if rows else E.zeros(0, t._ind.shape[1], dtype=dt.int64, device=t.device)
    values = t._val.reshape((t._val.shape[0],) + tuple(dense_shape))
    return _new(COO, shape, values, indices=indices, coalesced=t._coalesced)


def _permute(t, dims):
    dims = tuple(wrap_dim(d, t.ndim) for d in dims)
    if dims == tuple(range(t.ndim)):
        return t
    if t._layout is not COO:
        nb = _batch_dim(t)
        if dims == (*range(nb), nb + 1, nb, *range(nb + 2, t.ndim)):
            return _transpose2(t)
        raise RuntimeError(f"transpose(): {_title(t)} tensors can only swap their two sparse dims")
    k = _sparse_dim(t)
    if any((d < k) != (i < k) for i, d in enumerate(dims)):
        raise RuntimeError("permute(sparse_coo): transpositions between sparse and dense dimensions are "
                           "not allowed. Only transpositions within sparse and within dense dimensions are allowed.")
    indices = t._ind[E.tensor(list(dims[:k]), dtype=dt.int64, device=t.device)]
    values = t._val.permute(0, *(d - k + 1 for d in dims[k:])) if t.ndim > k else t._val
    return _new(COO, tuple(t.shape[d] for d in dims), values, indices=indices, coalesced=False)


SPARSE_OPS[0] = _sparse_op
SPARSE_DENSE[0] = _to_dense
