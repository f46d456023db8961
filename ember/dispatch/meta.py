"""Shape and dtype inference, separate from kernels.

Two kinds of function live here. The argument helpers (``broadcast_shapes``,
``normalize_dim(s)``, ``infer_size``) raise the errors PyTorch raises for inputs that do
not fit, and the op layer calls them before it dispatches. The meta functions say what a
primitive's kernel will return for given inputs, without running it: each takes one
``TensorMeta`` (or a Python scalar) per positional input plus the op's attributes, in the
op's calling convention, and returns a ``TensorMeta`` (a tuple of them for ops with
several outputs). A size that depends on the values (``nonzero``, ``unique``) is None.
The op table (``ember.dispatch.ops``) gives each primitive its meta function;
graph capture and the tests use them.
"""
from __future__ import annotations

import math

from ember.core import dtype as dt


class TensorMeta:
    """What a tensor is without its values: a shape (a tuple; None where data-dependent) and a dtype."""
    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = dtype

    def __eq__(self, other):
        return isinstance(other, TensorMeta) and self.shape == other.shape and self.dtype is other.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"TensorMeta({self.shape}, {self.dtype.name})"


# ---------------------------------------------------------------- argument helpers
def broadcast_shapes(*shapes) -> tuple:
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, size in enumerate(s, ndim - len(s)):
            if size == out[i] or size == 1:
                continue
            if out[i] == 1:
                out[i] = size
                continue
            raise RuntimeError(_mismatch_message(shapes, ndim))
    return tuple(out)


def _mismatch_message(shapes, ndim):
    for i in range(ndim - 1, -1, -1):
        sizes = [(k, s[i - (ndim - len(s))]) for k, s in enumerate(shapes) if i - (ndim - len(s)) >= 0]
        distinct = {v for _, v in sizes if v != 1}
        if len(distinct) > 1:
            (ka, a) = next(p for p in sizes if p[1] != 1)
            (kb, b) = next(p for p in sizes if p[1] not in (1, a))
            names = "abcdefgh"
            return (f"The size of tensor {names[ka]} ({a}) must match the size of tensor {names[kb]} ({b}) "
                    f"at non-singleton dimension {i}")
    return f"shapes {shapes} cannot be broadcast together"


def normalize_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def normalize_dims(dim, ndim: int) -> tuple:
    """``dim`` as a sorted tuple of non-negative axes; None or () means all of them."""
    if type(dim) is int and -ndim <= dim < ndim:  # one valid dim: the common case, without the checks below
        return (dim % ndim,)
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    dims = tuple(normalize_dim(d, ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {list(dim)} appears multiple times in the list of dims")
    if ndim == 0:
        return ()
    return tuple(sorted(dims)) if dims else tuple(range(ndim))


def infer_size(shape, numel: int) -> tuple:
    """Resolve one -1 in a requested shape (``view``/``reshape``)."""
    shape = tuple(shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = shape[:unknown[0]] + (numel // known,) + shape[unknown[0] + 1:]
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


# ---------------------------------------------------------------- meta functions
def _tensors(inputs):
    return [x for x in inputs if isinstance(x, TensorMeta)]


def _integral(d: dt.dtype) -> bool:
    return d.category < dt.FLOAT


def same(x, *others, **attrs) -> TensorMeta:
    """The first input's shape and dtype (unary elementwise ops, copies, writes into ``x``)."""
    return TensorMeta(x.shape, x.dtype)


def frexp(x) -> tuple:
    """frexp: a mantissa of ``x``'s dtype and an int32 exponent."""
    return TensorMeta(x.shape, x.dtype), TensorMeta(x.shape, dt.int32)


def to_real(x, **attrs) -> TensorMeta:
    """The input's shape in its real dtype (a complex input's magnitude: ``abs``)."""
    return TensorMeta(x.shape, x.dtype.to_real())


def to_bool(x, **attrs) -> TensorMeta:
    return TensorMeta(x.shape, dt.bool_)


def cast(x, *, dtype) -> TensorMeta:
    return TensorMeta(x.shape, dtype)


def elementwise(*inputs, **attrs) -> TensorMeta:
    """Broadcast over the tensor inputs; the dtype they were promoted to (the scalars join it)."""
    tensors = _tensors(inputs)
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = dt.promote_types(dtype, t.dtype)
    return TensorMeta(broadcast_shapes(*(t.shape for t in tensors)), dtype)


def compare(*inputs, **attrs) -> TensorMeta:
    return TensorMeta(elementwise(*inputs).shape, dt.bool_)


def where(cond, x, y) -> TensorMeta:
    values = elementwise(*(v for v in (x, y) if isinstance(v, TensorMeta)))
    return TensorMeta(broadcast_shapes(cond.shape, values.shape), values.dtype)


def _reduced(shape, dims, keepdim):
    dims = set(dims) if dims else set(range(len(shape)))
    return tuple(1 if i in dims else s for i, s in enumerate(shape) if keepdim or i not in dims)


def reduction(x, *, dims, keepdim) -> TensorMeta:
    """sum and prod: integers and bool accumulate in int64, as PyTorch's do."""
    return TensorMeta(_reduced(x.shape, dims, keepdim), dt.int64 if _integral(x.dtype) else x.dtype)


def extremum(x, *, dims, keepdim) -> TensorMeta:
    return TensorMeta(_reduced(x.shape, dims, keepdim), x.dtype)


def logical_reduction(x, *, dims, keepdim) -> TensorMeta:
    return TensorMeta(_reduced(x.shape, dims, keepdim), dt.bool_)


def arg_reduction(x, *, dim, keepdim) -> TensorMeta:
    if dim is None:
        shape = (1,) * len(x.shape) if keepdim else ()
    else:
        shape = _reduced(x.shape, (dim,), keepdim)
    return TensorMeta(shape, dt.int64)


def scan(x, *, dim) -> TensorMeta:
    return TensorMeta(x.shape, dt.int64 if _integral(x.dtype) else x.dtype)


def matmul(x, y) -> TensorMeta:
    a, b = x.shape, y.shape
    if len(a) == 1 and len(b) == 1:
        shape = ()
    elif len(b) == 1:
        shape = a[:-1]
    elif len(a) == 1:
        shape = b[:-2] + b[-1:]
    else:
        shape = broadcast_shapes(a[:-2], b[:-2]) + (a[-2], b[-1])
    return TensorMeta(shape, x.dtype)


def einsum(*operands, equation) -> TensorMeta:
    """``equation`` is explicit (the op layer spells out ellipses and the output)."""
    inputs, output = equation.replace(" ", "").split("->")
    sizes = {}
    for letters, op in zip(inputs.split(","), operands):
        for letter, size in zip(letters, op.shape):
            if sizes.get(letter, 1) == 1:
                sizes[letter] = size
    return TensorMeta(tuple(sizes[c] for c in output), operands[0].dtype)


def view(x, *, shape) -> TensorMeta:
    return TensorMeta(shape, x.dtype)


def permute(x, *, dims) -> TensorMeta:
    return TensorMeta(tuple(x.shape[d] for d in dims), x.dtype)


def basic_index(x, *, key) -> TensorMeta:
    """``key``: a tuple of ints, slices and None (new axes)."""
    shape, dim = [], 0
    for k in key:
        if k is None:
            shape.append(1)
        elif isinstance(k, slice):
            shape.append(len(range(*k.indices(x.shape[dim]))))
            dim += 1
        else:
            dim += 1
    return TensorMeta(tuple(shape) + x.shape[dim:], x.dtype)


def as_strided(x, *, size, stride, storage_offset, base_stride) -> TensorMeta:
    return TensorMeta(tuple(size), x.dtype)


def view_dtype(x, *, dtype) -> TensorMeta:
    if dtype.itemsize == x.dtype.itemsize:
        return TensorMeta(x.shape, dtype)
    return TensorMeta(x.shape[:-1] + (x.shape[-1] * x.dtype.itemsize // dtype.itemsize,), dtype)


def diagonal(x, *, offset, dim1, dim2) -> TensorMeta:
    n1, n2 = x.shape[dim1], x.shape[dim2]
    length = max(min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2), 0)
    rest = tuple(s for i, s in enumerate(x.shape) if i not in (dim1, dim2))
    return TensorMeta(rest + (length,), x.dtype)


def cat(*xs, dim) -> TensorMeta:
    first = xs[0].shape
    return TensorMeta(first[:dim] + (sum(x.shape[dim] for x in xs),) + first[dim + 1:], xs[0].dtype)


def index(x, *indices, key) -> TensorMeta:
    """numpy's advanced indexing: the index tensors broadcast together; their dims replace
    the indexed ones in place when the indexed dims are adjacent, else go first."""
    from ember.dispatch.ops import INDEX_SLOT
    slots = [i for i, k in enumerate(key) if k == INDEX_SLOT]
    indexed = broadcast_shapes(*(t.shape for t in indices))
    kept = [s for k, s in zip(key, x.shape) if k != INDEX_SLOT] + list(x.shape[len(key):])
    if slots == list(range(slots[0], slots[0] + len(slots))):
        before = sum(1 for k in key[:slots[0]] if k != INDEX_SLOT)
        return TensorMeta(tuple(kept[:before]) + indexed + tuple(kept[before:]), x.dtype)
    return TensorMeta(indexed + tuple(kept), x.dtype)


def gather(x, index, *, dim) -> TensorMeta:
    return TensorMeta(index.shape, x.dtype)


def nonzero(x) -> TensorMeta:
    return TensorMeta((None, len(x.shape)), dt.int64)


def sort(x, *, dim, descending, stable) -> tuple:
    return TensorMeta(x.shape, x.dtype), TensorMeta(x.shape, dt.int64)


def unique(x, *, return_inverse, return_counts) -> tuple:
    return TensorMeta((None,), x.dtype), TensorMeta(x.shape, dt.int64), TensorMeta((None,), dt.int64)


def full(*, shape, value, dtype, index) -> TensorMeta:
    return TensorMeta(shape, dtype)


def arange(*, start, end, step, dtype, index) -> TensorMeta:
    return TensorMeta((max(math.ceil((end - start) / step), 0),), dtype)


def random(*, shape, dtype, seed, offset, index) -> TensorMeta:
    return TensorMeta(shape, dtype)


def layer_norm(x, weight, bias, *, normalized_ndim, eps) -> tuple:
    """mean and rstd are kept in float32 for half-precision inputs (the accumulation type)."""
    lead = x.shape[:len(x.shape) - normalized_ndim]
    acc = dt.float32 if x.dtype in (dt.float16, dt.bfloat16) else x.dtype
    return TensorMeta(x.shape, x.dtype), TensorMeta(lead, acc), TensorMeta(lead, acc)


def layer_norm_backward(g, x, weight, mean, rstd, *, normalized_ndim) -> tuple:
    shape = x.shape[len(x.shape) - normalized_ndim:]
    param = weight.dtype if weight is not None else x.dtype
    return TensorMeta(x.shape, x.dtype), TensorMeta(shape, param), TensorMeta(shape, param)


def sgd_step(param, grad, momentum_buffer, **attrs) -> tuple:
    return tuple(None if t is None else TensorMeta(t.shape, t.dtype) for t in (param, momentum_buffer))


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, **attrs) -> tuple:
    return tuple(None if t is None else TensorMeta(t.shape, t.dtype) for t in (param, exp_avg, exp_avg_sq,
                                                                              max_exp_avg_sq))


def _conv_sizes(spatial, kernel, stride, padding, dilation):
    return tuple((spatial[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                 for i in range(len(kernel)))


def conv(x, weight, bias, *, stride, padding, dilation, groups) -> TensorMeta:
    out = _conv_sizes(x.shape[2:], weight.shape[2:], stride, padding, dilation)
    return TensorMeta((x.shape[0], weight.shape[0]) + out, x.dtype)


def conv_transpose(x, weight, bias, *, stride, padding, output_padding, dilation, groups) -> TensorMeta:
    kernel = weight.shape[2:]
    out = tuple((x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + 1
                + output_padding[i] for i in range(len(kernel)))
    return TensorMeta((x.shape[0], weight.shape[1] * groups) + out, x.dtype)


def max_pool(x, *, kernel, stride, padding, dilation, output_size) -> tuple:
    shape = x.shape[:2] + tuple(output_size)
    return TensorMeta(shape, x.dtype), TensorMeta(shape, dt.int64)


def max_pool_backward(g, indices, *, input_shape, kernel, stride, dilation) -> TensorMeta:
    return TensorMeta(tuple(input_shape), g.dtype)
