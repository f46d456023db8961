"""Shape and dtype inference, separate from kernels: what an op's result will be,
and the errors PyTorch raises for inputs that do not fit."""
from __future__ import annotations

from ember.core import dtype as dt
from ember.core.tensor import Tensor


def result_type(*operands) -> dt.dtype:
    """PyTorch's promotion over tensors and Python scalars (``torch.result_type``)."""
    dim_dtype = zero_dtype = None
    scalar_cat = None
    for x in operands:
        if isinstance(x, Tensor):
            if x._data.shape:
                dim_dtype = x.dtype if dim_dtype is None else dt.promote_types(dim_dtype, x.dtype)
            else:
                zero_dtype = x.dtype if zero_dtype is None else dt.promote_types(zero_dtype, x.dtype)
        elif isinstance(x, dt.dtype):
            dim_dtype = x if dim_dtype is None else dt.promote_types(dim_dtype, x)
        else:
            cat = dt.scalar_dtype(x).category
            scalar_cat = cat if scalar_cat is None else max(scalar_cat, cat)
    return dt.result_dtype(dim_dtype, zero_dtype, scalar_cat)


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


def check_broadcast(a, b):
    sa = a._data.shape if isinstance(a, Tensor) else ()
    sb = b._data.shape if isinstance(b, Tensor) else ()
    if sa != sb and sa and sb:
        broadcast_shapes(sa, sb)


def normalize_dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not isinstance(dim, int):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def normalize_dims(dim, ndim: int) -> tuple:
    """``dim`` as a sorted tuple of non-negative axes; None or () means all of them."""
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


def as_shape(size) -> tuple:
    """Accept f(2, 3), f((2, 3)), f([2, 3]) and f(ember.Size)."""
    if len(size) == 1 and not isinstance(size[0], int):
        size = size[0]
        if isinstance(size, Tensor):
            size = size.tolist()
    return tuple(int(s) for s in size)
