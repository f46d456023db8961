"""OpInfos for shape ops and views: reshaping, permuting, slicing, joining, repeating."""
from __future__ import annotations

import math

import numpy as np

from ember.testing import dtypes as D
from ember.testing.opinfo import STRIDED, TRANSPOSED, OpInfo, SampleInput as S, int64

OPS = []


def _add(op):
    OPS.append(op)
    return op


def _shape_op(name, ref, samples, *, op=..., method=..., dtypes=D.ALL, **kw):
    return _add(OpInfo(name, op=op, method=name if method is ... else method, ref=ref, samples=samples,
                       dtypes=dtypes, **kw))


# ---------------------------------------------------------------- reshaping
def _as_shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def _reshape_ref(x, *shape):
    return np.reshape(x, _as_shape(shape))


def _view_samples(mk, layouts=False):
    yield S(mk(3, 4), 4, 3, desc="2d")
    yield S(mk(2, 3, 4), -1, desc="flatten_minus1")
    yield S(mk(6), (2, 3), desc="tuple_shape")
    yield S(mk(2, 6), 3, -1, 2, desc="infer_middle")
    yield S(mk(), 1, desc="0d_to_1d")
    yield S(mk(1, 1), (), desc="to_0d")
    yield S(mk(0, 3), 3, 0, desc="empty")
    yield S(mk(0, 3), -1, desc="empty_minus1")
    if layouts:
        yield S(mk(3, 4), 2, 6, desc="transposed_copies", layout=TRANSPOSED)
        yield S(mk(2, 3, 4), 6, 4, desc="strided_copies", layout=STRIDED)


_shape_op("view", _reshape_ref, _view_samples, op=None)
def reshape(x, *shape):
    """``ember.reshape(x, shape)``: the function form takes the shape as one tuple."""
    import ember
    return ember.reshape(x, _as_shape(shape))


_shape_op("reshape", _reshape_ref, lambda mk: _view_samples(mk, layouts=True), op=reshape)


# ---------------------------------------------------------------- view(dtype): the same bytes read as integers
_BITS_OF = {1: "uint8", 2: "int16", 4: "int32", 8: "int64"}


def _view_dtype_ref(x, target, test_dtype):
    return x.astype(D.NUMPY[test_dtype]).view(D.NUMPY[target.name])


def _view_dtype_samples(mk):
    import ember
    size = np.dtype(D.NUMPY[mk.dtype]).itemsize
    same = getattr(ember, _BITS_OF[size])
    yield S(mk(3, 4), same, desc="same_size")
    yield S(mk(2, 4), ember.uint8, desc="bytes")
    if size == 2:
        yield S(mk(3, 4), ember.int32, desc="wider")


def _view_dtype_result(sample, dtype):
    return sample.args[0].name


_shape_op("view_dtype", _view_dtype_ref, _view_dtype_samples, op=None, method="view", supports_grad=False,
          result_dtype=_view_dtype_result, ref_dtype=True, dtypes=D.ALL)


def _flatten_ref(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return x.reshape(1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:])


def _flatten_samples(mk):
    yield S(mk(2, 3, 4), desc="all")
    yield S(mk(2, 3, 4), 1, desc="start1")
    yield S(mk(2, 3, 4, 2), 1, 2, desc="middle")
    yield S(mk(2, 3, 4), -2, -1, desc="negative_dims")
    yield S(mk(), desc="0d")
    yield S(mk(2, 0, 3), desc="empty")
    yield S(mk(3, 4), desc="transposed", layout=TRANSPOSED)
    yield S(mk(2, 3, 4), 1, desc="strided", layout=STRIDED)


_shape_op("flatten", _flatten_ref, _flatten_samples)


def _unflatten_ref(x, dim, sizes):
    dim = dim % x.ndim
    sizes = list(sizes)
    if -1 in sizes:
        known = int(np.prod([s for s in sizes if s != -1]))
        sizes[sizes.index(-1)] = x.shape[dim] // known
    return x.reshape(x.shape[:dim] + tuple(sizes) + x.shape[dim + 1:])


def _unflatten_samples(mk):
    yield S(mk(2, 12), 1, (3, 4), desc="last")
    yield S(mk(6, 2), 0, (2, -1), desc="infer")
    yield S(mk(2, 6, 2), -2, (3, 2), desc="negative_dim")
    yield S(mk(0, 6), 1, (2, 3), desc="empty")


_shape_op("unflatten", _unflatten_ref, _unflatten_samples)


def _squeeze_ref(x, dim=None):
    if dim is None:
        return np.squeeze(x)
    dims = (dim,) if isinstance(dim, int) else dim
    dims = tuple(d % max(x.ndim, 1) for d in dims) if x.ndim else ()
    return np.squeeze(x, axis=tuple(d for d in dims if x.shape[d] == 1))


def _squeeze_samples(mk):
    yield S(mk(1, 3, 1, 4), desc="all")
    yield S(mk(1, 3, 1, 4), 2, desc="dim")
    yield S(mk(1, 3, 1, 4), -4, desc="negative_dim")
    yield S(mk(3, 4), 1, desc="not_size_one")
    yield S(mk(1, 3, 1), (0, 2), desc="dim_tuple")
    yield S(mk(), desc="0d")
    yield S(mk(), 0, desc="0d_dim")
    yield S(mk(0, 1), desc="empty")
    yield S(mk(4, 1), 1, desc="transposed", layout=TRANSPOSED)


_shape_op("squeeze", _squeeze_ref, _squeeze_samples)


def _unsqueeze_ref(x, dim):
    return np.expand_dims(x, dim % (x.ndim + 1))


def _unsqueeze_samples(mk):
    yield S(mk(3, 4), 0, desc="front")
    yield S(mk(3, 4), -1, desc="back")
    yield S(mk(3, 4), 1, desc="middle")
    yield S(mk(), 0, desc="0d")
    yield S(mk(0, 3), 1, desc="empty")
    yield S(mk(4, 3), 1, desc="transposed", layout=TRANSPOSED)


_shape_op("unsqueeze", _unsqueeze_ref, _unsqueeze_samples)


# ---------------------------------------------------------------- permuting
def _permute_ref(x, *dims):
    return np.transpose(x, _as_shape(dims))


def _permute_samples(mk):
    yield S(mk(2, 3, 4), (2, 0, 1), desc="3d")
    yield S(mk(2, 3, 4), (-1, 0, -2), desc="negative_dims")
    yield S(mk(3, 4), (1, 0), desc="2d")
    yield S(mk(), (), desc="0d")
    yield S(mk(2, 0, 3), (1, 2, 0), desc="empty")
    yield S(mk(2, 3, 4), (1, 0, 2), desc="strided", layout=STRIDED)


_shape_op("permute", _permute_ref, _permute_samples)


def _transpose_samples(mk):
    yield S(mk(3, 4), 0, 1, desc="2d")
    yield S(mk(2, 3, 4), -1, 0, desc="negative_dim")
    yield S(mk(2, 3, 4), 1, 1, desc="same_dim")
    yield S(mk(0, 3), 0, 1, desc="empty")
    yield S(mk(4, 3), 0, 1, desc="transposed", layout=TRANSPOSED)


_shape_op("transpose", lambda x, a, b: np.swapaxes(x, a, b), _transpose_samples, aliases=("swapaxes", "swapdims"))


def _t_samples(mk):
    yield S(mk(3, 4), desc="2d")
    yield S(mk(4), desc="1d")
    yield S(mk(), desc="0d")
    yield S(mk(0, 3), desc="empty")
    yield S(mk(3, 4), desc="strided", layout=STRIDED)


_shape_op("t", lambda x: x.T, _t_samples)


# ---------------------------------------------------------------- broadcasting views
def _expand_ref(x, *sizes):
    sizes = _as_shape(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return np.broadcast_to(x, shape)


def _expand_samples(mk):
    yield S(mk(3, 1), 3, 4, desc="2d")
    yield S(mk(3, 1), -1, 4, desc="minus1")
    yield S(mk(4), 2, 3, 4, desc="new_dims")
    yield S(mk(1, 4), (3, 4), desc="tuple_size")
    yield S(mk(), 2, 3, desc="0d")
    yield S(mk(1, 3), 0, 3, desc="empty")
    yield S(mk(1, 4), 3, 4, desc="strided", layout=STRIDED)


_shape_op("expand", _expand_ref, _expand_samples, op=None)


def _expand_as_samples(mk):
    yield S(mk(3, 1), mk(3, 4, dtype="float32"), desc="2d")
    yield S(mk(4), mk(2, 3, 4, dtype="int64"), desc="new_dims")
    yield S(mk(), mk(2, 2), desc="0d")


_shape_op("expand_as", lambda x, other: np.broadcast_to(x, other.shape), _expand_as_samples, op=None)


def _broadcast_to_samples(mk):
    yield S(mk(3, 1), (3, 4), desc="2d")
    yield S(mk(4), (2, 3, 4), desc="new_dims")
    yield S(mk(), (2,), desc="0d")
    yield S(mk(1, 3), (0, 3), desc="empty")
    yield S(mk(3, 1), (2, 3, 4), desc="transposed", layout=TRANSPOSED)


_shape_op("broadcast_to", lambda x, shape: np.broadcast_to(x, shape), _broadcast_to_samples)


# ---------------------------------------------------------------- slicing
def _narrow_ref(x, dim, start, length):
    start = start + x.shape[dim] if start < 0 else start
    return np.take(x, np.arange(start, start + length), axis=dim)


def _narrow_samples(mk):
    yield S(mk(5, 4), 0, 1, 3, desc="dim0")
    yield S(mk(3, 6), -1, 2, 3, desc="negative_dim")
    yield S(mk(5, 4), 0, -3, 2, desc="negative_start")
    yield S(mk(5, 4), 1, 2, 0, desc="length0")
    yield S(mk(4, 5), 1, 1, 2, desc="transposed", layout=TRANSPOSED)
    yield S(mk(3, 6), 1, 1, 3, desc="strided", layout=STRIDED)


_shape_op("narrow", _narrow_ref, _narrow_samples)


def _pieces(x, sizes, dim):
    out, start = [], 0
    for n in sizes:
        out.append(np.take(x, np.arange(start, start + n), axis=dim))
        start += n
    return tuple(out)


def _chunk_ref(x, chunks, dim=0):
    size = x.shape[dim]
    step = math.ceil(size / chunks) if size else 1
    sizes = [min(step, size - i) for i in range(0, size, step)] if size else [0]
    return _pieces(x, sizes, dim)


def _chunk_samples(mk):
    yield S(mk(6, 2), 3, desc="even")
    yield S(mk(7, 2), 3, desc="uneven")
    yield S(mk(2, 5), 2, 1, desc="dim1")
    yield S(mk(2, 3), 5, -1, desc="more_chunks_than_size")
    yield S(mk(0, 2), 2, desc="empty")
    yield S(mk(4, 6), 2, 1, desc="transposed", layout=TRANSPOSED)


_shape_op("chunk", _chunk_ref, _chunk_samples)


def _split_ref(x, split, dim=0):
    size = x.shape[dim]
    if isinstance(split, int):
        sizes = [min(split, size - i) for i in range(0, size, split)] if size else [0]
    else:
        sizes = list(split)
    return _pieces(x, sizes, dim)


def _split_samples(mk):
    yield S(mk(6, 2), 2, desc="size_even")
    yield S(mk(7, 2), 3, desc="size_uneven")
    yield S(mk(2, 6), [1, 3, 2], 1, desc="sections")
    yield S(mk(2, 6), (4, 2), -1, desc="sections_tuple")
    yield S(mk(3, 2), [0, 3], desc="zero_section")
    yield S(mk(0, 2), 2, desc="empty")
    yield S(mk(4, 6), 4, 1, desc="strided", layout=STRIDED)


_shape_op("split", _split_ref, _split_samples)


def _unbind_ref(x, dim=0):
    return tuple(np.take(x, i, axis=dim) for i in range(x.shape[dim]))


def _unbind_samples(mk):
    yield S(mk(3, 2), desc="dim0")
    yield S(mk(2, 4), 1, desc="dim1")
    yield S(mk(2, 3, 2), -1, desc="negative_dim")
    yield S(mk(3, 4), 1, desc="transposed", layout=TRANSPOSED)


_shape_op("unbind", _unbind_ref, _unbind_samples)


# ---------------------------------------------------------------- joining
def _cat_dtype(sample, dtype):
    return D.result_type(*sample.input)


def _cat_samples(mk):
    yield S([mk(2, 3), mk(4, 3)], desc="dim0")
    yield S([mk(2, 3), mk(2, 1), mk(2, 2)], 1, desc="dim1_three")
    yield S([mk(2, 3), mk(2, 2)], -1, desc="negative_dim")
    yield S([mk(2, 3)], desc="single")
    yield S([mk(0, 3), mk(2, 3)], desc="empty_part")
    yield S([mk(2, 3), mk(2, 3, dtype=_partner(mk.dtype))], desc="promote")
    yield S([mk(3, 2), mk(3, 4)], 1, desc="transposed", layout=TRANSPOSED)
    yield S([mk(2, 3), mk(1, 3)], desc="strided", layout=STRIDED)


def _partner(dtype):
    return "int64" if D.is_float(dtype) else "float32" if dtype != "bool" else "int8"


def _cat_ref(tensors, dim=0):
    return np.concatenate(tensors, axis=dim)


_shape_op("cat", _cat_ref, _cat_samples, method=None, result_dtype=_cat_dtype, aliases=("concat", "concatenate"))


def _stack_samples(mk):
    yield S([mk(2, 3), mk(2, 3)], desc="dim0")
    yield S([mk(2, 3), mk(2, 3), mk(2, 3)], 2, desc="last")
    yield S([mk(2, 3), mk(2, 3)], -2, desc="negative_dim")
    yield S([mk(), mk()], desc="0d")
    yield S([mk(0, 3), mk(0, 3)], 1, desc="empty")
    yield S([mk(3, 2), mk(3, 2)], 1, desc="transposed", layout=TRANSPOSED)


_shape_op("stack", lambda ts, dim=0: np.stack(ts, axis=dim), _stack_samples, method=None)


# ---------------------------------------------------------------- copies of rearranged elements
def _flip_samples(mk):
    yield S(mk(3, 4), (0,), desc="dim0")
    yield S(mk(2, 3, 4), (0, 2), desc="two_dims")
    yield S(mk(3, 4), (-1,), desc="negative_dim")
    yield S(mk(3, 4), 1, desc="int_dim")
    yield S(mk(), (), desc="0d")
    yield S(mk(0, 3), (0, 1), desc="empty")
    yield S(mk(4, 3), (1,), desc="transposed", layout=TRANSPOSED)
    yield S(mk(2, 5), (1,), desc="strided", layout=STRIDED)


_shape_op("flip", lambda x, dims: np.flip(x, dims) if np.ndim(x) else x.copy(), _flip_samples)


def _roll_ref(x, shifts, dims=None):
    return np.roll(x, shifts, dims)


def _roll_samples(mk):
    yield S(mk(3, 4), 1, 0, desc="dim0")
    yield S(mk(3, 4), -2, 1, desc="negative_shift")
    yield S(mk(3, 4), 5, desc="flattened")
    yield S(mk(2, 3, 4), (1, -1), (0, 2), desc="two_dims")
    yield S(mk(0, 3), 1, 1, desc="empty")
    yield S(mk(4, 3), 1, 1, desc="transposed", layout=TRANSPOSED)
    yield S(mk(2, 5), 2, 1, desc="strided", layout=STRIDED)


_shape_op("roll", _roll_ref, _roll_samples)


def _repeat_ref(x, *sizes):
    sizes = _as_shape(sizes)
    x = x.reshape((1,) * (len(sizes) - x.ndim) + x.shape)
    return np.tile(x, sizes)


def _repeat_samples(mk):
    yield S(mk(2, 3), 2, 3, desc="2d")
    yield S(mk(3), 2, 2, desc="new_dim")
    yield S(mk(2, 3), (1, 2), desc="tuple")
    yield S(mk(), 3, desc="0d")
    yield S(mk(2, 3), 0, 1, desc="zero_repeats")
    yield S(mk(3, 2), 2, 1, desc="transposed", layout=TRANSPOSED)


_shape_op("repeat", _repeat_ref, _repeat_samples, op=None)


def _repeat_interleave_ref(x, repeats=None, dim=None):
    if dim is None:
        x = x.reshape(-1)
        dim = 0
    return np.repeat(x, repeats, axis=dim)


def _repeat_interleave_samples(mk):
    yield S(mk(2, 3), 2, desc="int_flattened")
    yield S(mk(2, 3), 3, 1, desc="int_dim")
    yield S(mk(3, 2), np.array([1, 0, 2]), 0, desc="tensor_repeats")
    yield S(mk(2, 3), np.array([2]), -1, desc="one_element_tensor")
    yield S(mk(0, 2), 2, 0, desc="empty")
    yield S(mk(3, 2), 2, 1, desc="transposed", layout=TRANSPOSED)


_shape_op("repeat_interleave", _repeat_interleave_ref, _repeat_interleave_samples)


def _counts_samples(mk):
    yield S(np.array([2, 0, 3, 1]), desc="counts")
    yield S(np.array([], dtype=np.int64), desc="empty")


_add(OpInfo("repeat_interleave_counts", op="repeat_interleave", ref=lambda c: np.repeat(np.arange(c.size), c),
            samples=_counts_samples, dtypes=("int64",), result_dtype=int64, supports_grad=False))


def _tri_samples(mk):
    yield S(mk(4, 4), desc="square")
    yield S(mk(3, 5), 1, desc="diagonal_above")
    yield S(mk(5, 3), -1, desc="diagonal_below")
    yield S(mk(2, 3, 3), desc="batched")
    yield S(mk(3, 4), 10, desc="beyond")
    yield S(mk(0, 3), desc="empty")
    yield S(mk(4, 3), desc="transposed", layout=TRANSPOSED)
    yield S(mk(3, 4), desc="strided", layout=STRIDED)


_shape_op("tril", lambda x, k=0: np.tril(x, k), _tri_samples, inplace="tril_")
_shape_op("triu", lambda x, k=0: np.triu(x, k), _tri_samples, inplace="triu_")


def _diagonal_samples(mk):
    yield S(mk(4, 4), desc="square")
    yield S(mk(3, 5), 1, desc="offset")
    yield S(mk(5, 3), -2, desc="negative_offset")
    yield S(mk(2, 3, 3), 0, 1, 2, desc="batched")
    yield S(mk(3, 4, 2), 0, -1, 0, desc="negative_dims")
    yield S(mk(3, 3), 5, desc="offset_beyond")
    yield S(mk(4, 3), desc="transposed", layout=TRANSPOSED)


_shape_op("diagonal", lambda x, offset=0, dim1=0, dim2=1: np.diagonal(x, offset, dim1, dim2), _diagonal_samples)
