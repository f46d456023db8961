"""OpInfos for indexing: __getitem__/__setitem__, gather/scatter, index_*, masks, sorting."""
from __future__ import annotations

import operator as O

import numpy as np

from ember.testing import dtypes as D
from ember.testing.opinfo import STRIDED, TRANSPOSED, OpInfo, SampleInput as S, int64

OPS = []


def _add(op):
    OPS.append(op)
    return op


def _i(*values):
    return np.array(values, dtype=np.int64)


# ---------------------------------------------------------------- __getitem__ / __setitem__
def _keys(mk):
    """(key, description) pairs over a (4, 5, 3) tensor: basic, advanced, boolean, mixed."""
    mask = mk.mask(4, 5)
    mask[0, 0] = True
    row_mask = np.array([True, False, True, True])
    return [
        (1, "int"),
        (-1, "negative_int"),
        (slice(1, 3), "slice"),
        ((slice(None), 2), "slice_int"),
        ((slice(None, None, 2), slice(1, None, 3)), "steps"),
        ((Ellipsis, 1), "ellipsis_int"),
        ((None, slice(1, 3)), "none"),
        ((1, None, slice(None), -1), "int_none_slice"),
        ((), "empty_tuple"),
        (_i(0, 2, 1), "index_tensor"),
        (_i(3, -1, 0, 3), "negative_and_duplicate_indices"),
        ([0, 2], "list"),
        ((_i(0, 2), _i(1, 4)), "two_index_tensors"),
        ((slice(None), _i(4, 0)), "slice_then_index"),
        ((_i(0, 1), slice(None), _i(2, 0)), "separated_indices_go_first"),
        ((_i(0, 3)[:, None], _i(1, 2, 4)), "broadcast_indices"),
        ((Ellipsis, np.array([2, 0], dtype=np.int32)), "int32_index"),
        (mask, "bool_mask"),
        (row_mask, "bool_rows"),
        ((slice(None), np.array([True, False, False, True, True])), "slice_bool"),
        ((1, _i(0, 2), slice(None)), "int_and_index"),
        (np.array(True), "bool_0d_true"),
        (np.array(False), "bool_0d_false"),
        (_i(), "empty_index"),
    ]


def _getitem(x, key):
    return x[key]


def _getitem_samples(mk):
    for key, desc in _keys(mk):
        yield S(mk(4, 5, 3), key, desc=desc)
    yield S(mk(4, 5, 3), (slice(1, 3), _i(2, 0)), desc="transposed", layout=TRANSPOSED)
    yield S(mk(4, 5, 3), (_i(1, 1, 0), slice(None)), desc="strided", layout=STRIDED)
    yield S(mk(), (), desc="0d")
    yield S(mk(), None, desc="0d_none")
    yield S(mk(0, 3), (slice(None), 1), desc="empty_input")


_add(OpInfo("getitem", op=_getitem, operator=O.getitem, ref=_getitem, samples=_getitem_samples, dtypes=D.ALL))


def _setitem(x, key, value):
    out = x.clone()
    out[key] = value
    return out


def _setitem_ref(x, key, value):
    out = x.copy()
    out[key] = value
    return out


def _setitem_samples(mk):
    scalar = mk.scalar("float") if mk.is_float else True if mk.is_bool else 7
    no_duplicates = [(k, d) for k, d in _keys(mk) if "duplicate" not in d]
    for n, (key, desc) in enumerate(no_duplicates):
        x = mk(4, 5, 3)
        target = np.empty((4, 5, 3))[key]
        if n % 3 == 0:
            value = scalar
        elif n % 3 == 1:
            value = mk(*target.shape[-1:]) if target.ndim else mk()  # broadcast over the leading dims
        else:
            value = mk(*target.shape)
        yield S(x, key, value, desc=desc)
    yield S(mk(4, 5, 3), (slice(1, 3), 0), mk(1, 3), desc="broadcast_value")
    yield S(mk(4, 5, 3), 1, mk(dtype="int64" if mk.is_float else "bool"), desc="other_dtype_value")
    yield S(mk(4, 5, 3), (slice(None), _i(4, 1)), mk(4, 2, 3), desc="transposed", layout=TRANSPOSED)
    yield S(mk(4, 5, 3), (slice(1, None), 2), mk(3, 3), desc="strided", layout=STRIDED)
    yield S(mk(), (), mk(), desc="0d")
    yield S(mk(0, 3), (slice(None), 1), scalar, desc="empty")


_add(OpInfo("setitem", op=_setitem, ref=_setitem_ref, samples=_setitem_samples, dtypes=D.ALL))


# ---------------------------------------------------------------- gather / scatter
def _grid(index, dim):
    grid = list(np.indices(index.shape, sparse=True))
    grid[dim] = index
    return tuple(grid)


def _gather_ref(x, dim, index):
    if x.ndim == 0:
        return x.copy() if index.ndim == 0 else np.broadcast_to(x, index.shape).copy()
    return x[_grid(index, dim % x.ndim)]


def _gather_samples(mk):
    yield S(mk(4, 5), 0, mk.index(3, 5, high=4), desc="dim0")
    yield S(mk(4, 5), 1, mk.index(4, 7, high=5), desc="dim1_longer")
    yield S(mk(4, 5), -1, mk.index(2, 3, high=5), desc="smaller_index")
    yield S(mk(2, 3, 4), 1, mk.index(2, 2, 4, high=3), desc="3d")
    yield S(mk(), 0, np.zeros((), dtype=np.int64), desc="0d")
    yield S(mk(4, 5), 0, mk.index(0, 5, high=4), desc="empty_index")
    yield S(mk(5, 4), 1, mk.index(5, 4, high=4), desc="transposed", layout=TRANSPOSED)
    yield S(mk(4, 5), 0, mk.index(4, 5, high=4), desc="strided", layout=STRIDED)


_add(OpInfo("gather", ref=_gather_ref, samples=_gather_samples, dtypes=D.ALL, method="gather"))


def _unique_rows_index(mk, shape, dim, size):
    """An index of ``shape`` whose entries along ``dim`` are distinct (scatter without collisions)."""
    index = np.empty(shape, dtype=np.int64)
    moved = np.moveaxis(index, dim, -1)
    for pos in np.ndindex(moved.shape[:-1]):
        moved[pos] = mk.perm_index(size, moved.shape[-1])
    return index


def _scatter_ref(x, dim, index, src=None, value=None, reduce=None):
    out = x.copy()
    if out.ndim == 0:
        return out if index.size == 0 else (np.asarray(src).reshape(()) if src is not None else np.asarray(value))
    dim = dim % out.ndim
    if src is None:
        src = np.full(index.shape, value)
    src = np.asarray(src)[tuple(slice(0, s) for s in index.shape)] if np.ndim(src) else np.full(index.shape, src)
    if reduce == "add":
        np.add.at(out, _grid(index, dim), src)
    else:
        out[_grid(index, dim)] = src
    return out


def _scatter_samples(mk, add=False):
    index = (lambda shape, dim, size: mk.index(*shape, high=size)) if add else \
        (lambda shape, dim, size: _unique_rows_index(mk, shape, dim, size))
    yield S(mk(4, 5), 0, index((2, 5), 0, 4), mk(2, 5), desc="dim0")
    # PyTorch has no gradient for a src larger than the index (its shape would not match)
    yield S(mk(4, 5), 1, index((4, 3), 1, 5), mk(4, 5), desc="dim1_src_larger", grad=False)
    yield S(mk(4, 5), -1, index((2, 2), 1, 5), mk(3, 3), desc="smaller_index", grad=False)
    yield S(mk(4, 5), -1, index((2, 2), 1, 5), mk(2, 2), desc="smaller_index_and_src")
    yield S(mk(2, 3, 4), 2, index((2, 3, 2), 2, 4), mk(2, 3, 2), desc="3d")
    yield S(mk(4, 5), 0, index((0, 5), 0, 4), mk(0, 5), desc="empty_index")
    yield S(mk(5, 4), 1, index((5, 3), 1, 4), mk(5, 3), desc="transposed", layout=TRANSPOSED)
    yield S(mk(4, 6), 0, index((3, 6), 0, 4), mk(3, 6), desc="strided", layout=STRIDED)
    if not add:
        value = mk.scalar("float") if mk.is_float else True if mk.is_bool else 3
        yield S(mk(4, 5), 0, index((2, 5), 0, 4), desc="value", kwargs=dict(value=value))
        yield S(mk(4, 5), 1, index((4, 2), 1, 5), value, desc="value_positional")


_add(OpInfo("scatter", ref=_scatter_ref, samples=_scatter_samples, dtypes=D.ALL, method="scatter", inplace="scatter_"))
_add(OpInfo("scatter_add", ref=lambda x, dim, index, src: _scatter_ref(x, dim, index, src, reduce="add"),
            samples=lambda mk: _scatter_samples(mk, add=True), dtypes=D.ALL_BUT_BOOL, method="scatter_add",
            inplace="scatter_add_"))


# ---------------------------------------------------------------- index_*
def _index_select_ref(x, dim, index):
    return np.take(x, index.reshape(-1), axis=dim)


def _index_select_samples(mk):
    yield S(mk(4, 5), 0, _i(3, 0, 3), desc="dim0_duplicates")
    yield S(mk(4, 5), 1, _i(4, 1), desc="dim1")
    yield S(mk(2, 3, 4), -1, _i(2), desc="negative_dim")
    yield S(mk(4, 5), 0, np.array([1, 2], dtype=np.int32), desc="int32_index")
    yield S(mk(4, 5), 0, np.array(2, dtype=np.int64), desc="0d_index")
    yield S(mk(4, 5), 1, _i(), desc="empty_index")
    yield S(mk(5, 4), 1, _i(0, 3, 1), desc="transposed", layout=TRANSPOSED)
    yield S(mk(4, 6), 1, _i(5, 0), desc="strided", layout=STRIDED)


_add(OpInfo("index_select", ref=_index_select_ref, samples=_index_select_samples, dtypes=D.ALL,
            method="index_select"))


def _index_add_ref(x, dim, index, source, alpha=1):
    out = x.copy()
    np.add.at(np.moveaxis(out, dim, 0), index, np.moveaxis(source, dim, 0) * alpha)
    return out


def _index_add_samples(mk):
    yield S(mk(4, 5), 0, _i(3, 0, 3), mk(3, 5), desc="dim0_duplicates")
    yield S(mk(4, 5), 1, _i(4, 1), mk(4, 2), desc="dim1")
    yield S(mk(2, 3, 4), -1, _i(2, 0), mk(2, 3, 2), desc="negative_dim")
    yield S(mk(4, 5), 0, _i(1, 2), mk(2, 5), desc="alpha", kwargs=dict(alpha=0.5 if mk.is_float else 2))
    yield S(mk(4, 5), 1, _i(), mk(4, 0), desc="empty_index")
    yield S(mk(5, 4), 1, _i(0, 3, 1), mk(5, 3), desc="transposed", layout=TRANSPOSED)
    yield S(mk(4, 6), 1, _i(5, 0), mk(4, 2), desc="strided", layout=STRIDED)


_add(OpInfo("index_add", ref=_index_add_ref, samples=_index_add_samples, dtypes=D.ALL_BUT_BOOL, method="index_add",
            inplace="index_add_"))


def _index_copy_ref(x, dim, index, source):
    out = x.copy()
    np.moveaxis(out, dim, 0)[index] = np.moveaxis(source, dim, 0)
    return out


def _index_copy_samples(mk):
    yield S(mk(4, 5), 0, _i(3, 0), mk(2, 5), desc="dim0")
    yield S(mk(4, 5), 1, _i(4, 1, 2), mk(4, 3), desc="dim1")
    yield S(mk(2, 3, 4), -1, _i(2), mk(2, 3, 1), desc="negative_dim")
    yield S(mk(4, 5), 1, _i(), mk(4, 0), desc="empty_index")
    yield S(mk(5, 4), 1, _i(0, 3, 1), mk(5, 3), desc="transposed", layout=TRANSPOSED)
    yield S(mk(4, 6), 1, _i(5, 0), mk(4, 2), desc="strided", layout=STRIDED)


_add(OpInfo("index_copy", ref=_index_copy_ref, samples=_index_copy_samples, dtypes=D.ALL, method="index_copy",
            inplace="index_copy_"))


# ---------------------------------------------------------------- masks
def _masked_fill_ref(x, mask, value):
    return np.where(mask, value, x)


def _masked_fill_samples(mk):
    value = mk.scalar("float") if mk.is_float else False if mk.is_bool else 5
    yield S(mk(3, 4), mk.mask(3, 4), value, desc="scalar")
    yield S(mk(3, 4), mk.mask(4), value, desc="broadcast_mask")
    yield S(mk(3, 4), mk.mask(3, 1), mk(), desc="0d_tensor_value")
    yield S(mk(), np.array(True), value, desc="0d")
    yield S(mk(0, 4), mk.mask(0, 4), value, desc="empty")
    yield S(mk(4, 3), mk.mask(4, 3), value, desc="transposed", layout=TRANSPOSED)
    yield S(mk(3, 4), mk.mask(3, 4), value, desc="strided", layout=STRIDED)
    if mk.dtype != "int64":
        yield S(mk(3, 4), mk.mask(3, 4), np.array(2, dtype=np.int64 if mk.is_float else np.int32),
                desc="0d_value_other_dtype")


_add(OpInfo("masked_fill", ref=_masked_fill_ref, samples=_masked_fill_samples, dtypes=D.ALL, method="masked_fill",
            inplace="masked_fill_"))


def _masked_select_samples(mk):
    yield S(mk(3, 4), mk.mask(3, 4), desc="same_shape")
    yield S(mk(3, 4), mk.mask(4), desc="broadcast_mask")
    yield S(mk(4), mk.mask(3, 4), desc="broadcast_input")
    yield S(mk(), np.array(True), desc="0d")
    yield S(mk(3, 4), np.zeros((3, 4), dtype=bool), desc="none_selected")
    yield S(mk(4, 3), mk.mask(4, 3), desc="transposed", layout=TRANSPOSED)
    yield S(mk(3, 4), mk.mask(3, 4), desc="strided", layout=STRIDED)


def _masked_select_ref(x, mask):
    x, mask = np.broadcast_arrays(x, mask)
    return x[mask]


_add(OpInfo("masked_select", ref=_masked_select_ref, samples=_masked_select_samples, dtypes=D.ALL,
            method="masked_select"))


def _take_along_dim_ref(x, indices, dim=None):
    if dim is None:
        return x.reshape(-1)[indices.reshape(-1)].reshape(indices.shape)
    shape_x, shape_i = list(x.shape), list(indices.shape)
    shape_x[dim] = shape_i[dim] = 1
    common = list(np.broadcast_shapes(tuple(shape_x), tuple(shape_i)))
    want_x, want_i = list(common), list(common)
    want_x[dim], want_i[dim] = x.shape[dim], indices.shape[dim]
    return np.take_along_axis(np.broadcast_to(x, want_x), np.broadcast_to(indices, want_i), axis=dim)


def _take_along_dim_samples(mk):
    x = mk.distinct(3, 4)
    yield S(x, np.argsort(x, axis=1).astype(np.int64), 1, desc="argsort_dim1")
    yield S(mk(3, 4), mk.index(2, 4, high=3), 0, desc="dim0")
    yield S(mk(3, 4), mk.index(5, high=12), desc="flattened")
    yield S(mk(3, 4), mk.index(1, 2, high=4), -1, desc="broadcast_index")
    yield S(mk(1, 4), mk.index(3, 2, high=4), 1, desc="broadcast_input")
    yield S(mk(4, 3), mk.index(4, 3, high=4), 0, desc="transposed", layout=TRANSPOSED)


_add(OpInfo("take_along_dim", ref=_take_along_dim_ref, samples=_take_along_dim_samples, dtypes=D.ALL,
            method="take_along_dim"))


def _nonzero_ref(x, as_tuple=False):
    found = np.argwhere(x)
    if as_tuple:
        return tuple(found[:, i] for i in range(found.shape[1]))
    return found


def _nonzero_samples(mk):
    def sparse(*shape):
        return np.where(mk.mask(*shape), mk(*shape, low=1, high=5), 0).astype(mk.np_dtype)
    yield S(sparse(3, 4), desc="2d")
    yield S(sparse(7), desc="1d")
    yield S(sparse(2, 3, 2), desc="3d")
    yield S(np.ones((), dtype=mk.np_dtype), desc="0d")
    yield S(np.zeros((3, 2), dtype=mk.np_dtype), desc="all_zero")
    yield S(sparse(0, 3), desc="empty")
    yield S(sparse(3, 4), desc="as_tuple", kwargs=dict(as_tuple=True))
    yield S(sparse(4, 3), desc="transposed", layout=TRANSPOSED)
    yield S(sparse(2, 5), desc="strided", layout=STRIDED)
    if mk.is_float:
        yield S(np.array([0.0, np.nan, -0.0, np.inf]).astype(mk.np_dtype), desc="nan_is_nonzero")


_add(OpInfo("nonzero", ref=_nonzero_ref, samples=_nonzero_samples, dtypes=D.ALL, method="nonzero",
            result_dtype=int64, supports_grad=False))


# ---------------------------------------------------------------- sorting
def _sort_ref(x, dim=-1, descending=False, stable=False):
    if np.ndim(x) == 0:
        return x.copy(), np.zeros((), dtype=np.int64)
    key = x.astype(np.int64) if x.dtype == np.bool_ else x
    if descending:  # stable descending: equal elements keep their order
        key = -key.astype(np.float64) if key.dtype.kind == "f" else -key
    idx = np.argsort(key, axis=dim, kind="stable")
    return np.take_along_axis(x, idx, axis=dim), idx


def _sort_samples(mk):
    yield S(mk.distinct(3, 5), desc="last_dim")
    yield S(mk.distinct(3, 5), 0, desc="dim0")
    yield S(mk.distinct(2, 3, 4), 1, True, desc="descending")
    yield S(mk.distinct(2, 4), desc="descending_kwarg", kwargs=dict(descending=True, dim=-1))
    yield S(mk.distinct(), desc="0d")
    yield S(mk.distinct(0, 3), desc="empty")
    yield S(mk.distinct(4, 3), 0, desc="transposed", layout=TRANSPOSED)
    yield S(mk.distinct(3, 4), desc="strided", layout=STRIDED)
    ties = mk.like(mk.index(3, 6, high=3), mk.dtype)
    yield S(ties, desc="ties_stable", kwargs=dict(stable=True), grad=False)
    yield S(ties, desc="ties_stable_descending", kwargs=dict(stable=True, descending=True), grad=False)


def _values_int64(sample, dtype):
    return dtype, "int64"


def _sort_dtypes_ok(mk):
    for s in _sort_samples(mk):
        if mk.is_bool and "ties" not in s.desc:
            continue  # bool values always tie: only the stable sort is defined
        yield s


_add(OpInfo("sort", ref=_sort_ref, samples=_sort_dtypes_ok, dtypes=D.ALL, method="sort",
            result_dtype=_values_int64))
_add(OpInfo("argsort", ref=lambda *a, **k: _sort_ref(*a, **k)[1], samples=_sort_dtypes_ok, dtypes=D.ALL,
            method="argsort", result_dtype=int64, supports_grad=False))


def _topk_ref(x, k, dim=-1, largest=True, sorted=True):
    values, idx = _sort_ref(x, dim, descending=largest)
    if np.ndim(x) == 0:
        return values, idx
    sl = [slice(None)] * x.ndim
    sl[dim] = slice(0, k)
    return values[tuple(sl)], idx[tuple(sl)]


def _topk_samples(mk):
    yield S(mk.distinct(3, 6), 2, desc="last_dim")
    yield S(mk.distinct(4, 3), 3, 0, desc="dim0_all")
    yield S(mk.distinct(2, 5), 2, desc="smallest", kwargs=dict(largest=False))
    yield S(mk.distinct(2, 3, 4), 1, 1, desc="3d_k1")
    yield S(mk.distinct(3, 4), 0, desc="k0")
    yield S(mk.distinct(), 1, desc="0d")
    yield S(mk.distinct(4, 3), 2, 0, desc="transposed", layout=TRANSPOSED)
    yield S(mk.distinct(3, 4), 2, desc="strided", layout=STRIDED)


_add(OpInfo("topk", ref=_topk_ref, samples=_topk_samples, dtypes=D.ALL_BUT_BOOL, method="topk",
            result_dtype=_values_int64))


def _unique_ref(x, sorted=True, return_inverse=False, return_counts=False, dim=None):
    if dim is None:
        values, inverse, counts = np.unique(x.reshape(-1), return_inverse=True, return_counts=True)
        inverse = inverse.reshape(x.shape)
    else:
        values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True, axis=dim)
        inverse = inverse.reshape(-1)
    out = (values,)
    if return_inverse:
        out += (inverse,)
    if return_counts:
        out += (counts,)
    return out[0] if len(out) == 1 else out


def _unique_dtypes(sample, dtype):
    n = 1 + bool(sample.kwargs.get("return_inverse")) + bool(sample.kwargs.get("return_counts"))
    return (dtype,) + ("int64",) * (n - 1) if n > 1 else dtype


def _unique_samples(mk):
    def few(*shape):
        if mk.is_bool:
            return mk(*shape)
        pool = np.array([-1.5, 0.0, 2.25, 3.0] if mk.is_float else [0, 2, 5, 9])
        return pool[mk.index(*shape, high=4)].astype(mk.np_dtype)
    yield S(few(3, 4), desc="2d")
    yield S(few(7), desc="inverse", kwargs=dict(return_inverse=True))
    yield S(few(2, 5), desc="counts", kwargs=dict(return_counts=True))
    yield S(few(3, 4), desc="inverse_and_counts", kwargs=dict(return_inverse=True, return_counts=True))
    yield S(few(), desc="0d", kwargs=dict(return_inverse=True))
    yield S(few(0, 3), desc="empty", kwargs=dict(return_counts=True))
    yield S(few(4, 3), desc="transposed", layout=TRANSPOSED, kwargs=dict(return_inverse=True))
    rows = few(3, 2)[[0, 1, 0, 2]]
    yield S(rows, desc="rows_dim0", kwargs=dict(dim=0, return_inverse=True, return_counts=True))


_add(OpInfo("unique", ref=_unique_ref, samples=_unique_samples, dtypes=D.ALL, method="unique",
            result_dtype=_unique_dtypes, supports_grad=False))
