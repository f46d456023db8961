"""OpInfos for the numerical routines of ``ember.ops.numeric`` and ``ember.ops.grids``: scans, differences and
integrals, order statistics, histograms, statistics, products, distances and grids.

The references are numpy's (``histogram``, ``bincount``, ``quantile``, ``diff``, ``trapezoid``, ``kron``,
``rot90``, ``isin``, ``cov``, ``corrcoef``, ``gradient``, ...) in float64, or short loops where numpy has no
such function or makes another choice (PyTorch's median is the lower middle value, its mode the smallest of
the most frequent values at its last occurrence). Dtype lists are lean: these are composites, so one float
and one integer dtype exercise every path.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ember.testing import dtypes as D
from ember.testing.opinfo import STRIDED, TRANSPOSED, OpInfo, SampleInput as S, floating

OPS = []
F = ("float32", "float64")
FI = ("float32", "float64", "int64")


def _add(op):
    OPS.append(op)
    return op


def _int64_second(sample, dtype):
    return (D.name_of(sample.input.dtype), "int64")


# ---------------------------------------------------------------- cummax, cummin, logcumsumexp
def _cumulative_extreme_ref(larger):
    def ref(x, dim):
        x = np.asarray(x)
        if x.ndim == 0:
            return x.copy(), np.zeros((), np.int64)
        moved = np.moveaxis(x, dim, -1)
        values, indices = np.empty_like(moved), np.zeros(moved.shape, np.int64)
        for row in np.ndindex(moved.shape[:-1]):
            best, at = None, 0
            for i, v in enumerate(moved[row]):
                floating = np.issubdtype(moved.dtype, np.floating)
                if best is None or (floating and np.isnan(v)) or \
                        (not (floating and np.isnan(best)) and (v >= best if larger else v <= best)):
                    best, at = v, i
                values[row + (i,)], indices[row + (i,)] = best, at
        return np.moveaxis(values, -1, dim), np.moveaxis(indices, -1, dim)
    return ref


def _cumulative_extreme_samples(mk):
    yield S(mk.distinct(3, 5), 1, desc="rows")
    yield S(mk.distinct(2, 3, 4), -1, desc="strided", layout=STRIDED)
    yield S(mk.distinct(), 0, desc="0d")
    yield S(mk(0, 3), 1, desc="empty")
    ties = mk(3, 9, low=-2, high=2)
    yield S(ties, 1, desc="ties", grad=False)
    if mk.is_float:
        x = mk.distinct(2, 6)
        x[0, 2] = x[1, 4] = x[1, 1] = np.nan
        yield S(x, 1, desc="nan", grad=False)


for _name, _larger in (("cummax", True), ("cummin", False)):
    _add(OpInfo(_name, ref=_cumulative_extreme_ref(_larger), samples=_cumulative_extreme_samples,
                dtypes=("float32", "float64", "bool") if _larger else F, method=_name, result_dtype=_int64_second))


def _logcumsumexp_ref(x, dim):
    return np.logaddexp.accumulate(x, axis=dim) if np.ndim(x) else np.asarray(x)


def _logcumsumexp_samples(mk):
    yield S(mk(3, 6), 1, desc="rows")
    yield S(mk(4, 3), 0, desc="transposed", layout=TRANSPOSED)
    yield S(mk(0, 2), 0, desc="empty")
    wide = mk(2, 5) * 60  # exp overflows in float32: the scan must not
    yield S(wide.astype(mk.np_dtype), 1, desc="wide_range")
    yield S(np.array([-np.inf, -np.inf, 1.0, 2.0, np.inf], dtype=mk.np_dtype), 0, desc="infinities", grad=False)


_add(OpInfo("logcumsumexp", ref=_logcumsumexp_ref, samples=_logcumsumexp_samples, dtypes=F, method="logcumsumexp"))


# ---------------------------------------------------------------- diff, trapezoid, cumulative_trapezoid, gradient
def _diff_ref(x, n=1, dim=-1, prepend=None, append=None):
    kw = {k: v for k, v in (("prepend", prepend), ("append", append)) if v is not None}
    return np.diff(x, n=n, axis=dim, **kw)


def _diff_samples(mk):
    yield S(mk(7), desc="1d")
    yield S(mk(3, 5), 2, 0, desc="n2_dim0")
    yield S(mk(4, 3), 1, 1, desc="transposed", layout=TRANSPOSED)
    yield S(mk(3, 4), 1, -1, mk(3, 2), mk(3, 1), desc="prepend_append")
    yield S(mk(3), 5, desc="n_past_length")


_add(OpInfo("diff", ref=_diff_ref, samples=_diff_samples, dtypes=F + ("bool",), method="diff"))


def _trapezoid_ref(y, x=None, *, dx=None, dim=-1):
    if x is not None:
        return np.trapezoid(y, x, axis=dim)
    return np.trapezoid(y, dx=1 if dx is None else dx, axis=dim)


def _cumulative_trapezoid_ref(y, x=None, *, dx=None, dim=-1):
    y = np.moveaxis(y, dim, -1)
    pair = y[..., 1:] + y[..., :-1]
    if x is not None:
        x = np.moveaxis(x, dim, -1) if np.ndim(x) > 1 else x
        pair = pair * np.diff(x, axis=-1)
    else:
        pair = pair * (1 if dx is None else dx)
    return np.moveaxis(np.cumsum(pair / 2, axis=-1), -1, dim)


def _trapezoid_samples(mk):
    points = np.sort(mk(5)) if mk.is_float else np.arange(5, dtype=np.int64) * 2
    yield S(mk(3, 5), desc="rows")
    yield S(mk(3, 5), kwargs=dict(dx=0.5), desc="dx")
    yield S(mk(4, 3), kwargs=dict(dim=0), desc="dim0_transposed", layout=TRANSPOSED)
    yield S(mk(3, 5), points, desc="x_1d")
    yield S(mk(2, 4), mk(2, 4), desc="x_like_y")


_add(OpInfo("trapezoid", ref=_trapezoid_ref, samples=_trapezoid_samples, dtypes=FI, aliases=("trapz",),
            result_dtype=floating))


def _cumulative_trapezoid_samples(mk):
    yield from (s for s in _trapezoid_samples(mk) if s.desc != "dx")
    yield S(mk(3, 5), kwargs=dict(dx=2), desc="dx_int")


_add(OpInfo("cumulative_trapezoid", ref=_cumulative_trapezoid_ref, samples=_cumulative_trapezoid_samples,
            dtypes=F, result_dtype=floating))


def _gradient_ref(x, *, spacing=1, dim=None, edge_order=1):
    axes = list(range(x.ndim)) if dim is None else ([dim] if isinstance(dim, int) else list(dim))
    if isinstance(spacing, (list, tuple)):
        steps = list(spacing)
    else:
        steps = [spacing] * len(axes)
    out = np.gradient(x.astype(np.float64), *steps, axis=tuple(axes), edge_order=edge_order)
    return tuple(out) if isinstance(out, (list, tuple)) else (out,)


def _gradient_samples(mk):
    yield S(mk(6), desc="1d")
    yield S(mk(3, 5), kwargs=dict(spacing=2.0), desc="2d_spacing")
    yield S(mk(4, 5), kwargs=dict(dim=1, edge_order=2), desc="edge_order2")
    yield S(mk(3, 4), kwargs=dict(spacing=[0.5, 2.0], edge_order=2), desc="spacing_list", layout=TRANSPOSED)
    coords = np.cumsum(mk(5, low=0.5, high=1.5, dtype="float64")).astype(mk.np_dtype if mk.is_float else np.float32)
    yield S(mk(3, 5), kwargs=dict(spacing=[coords], dim=1), desc="coordinates")
    yield S(mk(3, 5), kwargs=dict(spacing=[coords], dim=1, edge_order=2), desc="coordinates_order2")


_add(OpInfo("gradient", ref=_gradient_ref, samples=_gradient_samples, dtypes=F,
            result_dtype=lambda s, d: D.to_float(d), tol={"float32": (1e-4, 1e-4)}))


# ---------------------------------------------------------------- quantile, nanquantile, nanmedian, mode
def _quantile_ref(fn):
    def ref(x, q, dim=None, keepdim=False, *, interpolation="linear"):
        return fn(x, q, axis=dim if np.ndim(x) else None, keepdims=keepdim and np.ndim(x) > 0, method=interpolation)
    return ref


def _quantile_samples(mk, nan=False):
    for s in _all_quantile_samples(mk, nan):
        if not nan or s.desc in ("all", "dim", "q_tensor_keepdim", "midpoint", "nan_rows"):
            yield s


def _all_quantile_samples(mk, nan):
    qs = np.array([0.05, 0.3, 0.5, 0.75, 0.95], dtype=mk.np_dtype)  # inside (0, 1): q is differentiated too
    yield S(mk.distinct(4, 5), np.array([0.0, 0.5, 1.0], dtype=mk.np_dtype), 1, desc="q_ends", grad=False)
    yield S(mk.distinct(13), 0.3, desc="all")
    yield S(mk.distinct(4, 6), 0.4, 1, desc="dim")
    yield S(mk.distinct(4, 6), qs, 0, True, desc="q_tensor_keepdim")
    yield S(mk.distinct(5, 4), qs[1:4], 1, desc="transposed", layout=TRANSPOSED)
    yield S(mk.distinct(6), np.asarray(0.25, dtype=mk.np_dtype), desc="q_0d")
    for how in ("lower", "higher", "midpoint", "nearest"):
        yield S(mk.distinct(3, 8), qs, 1, kwargs=dict(interpolation=how), desc=how,
                grad=how != "nearest")  # (q = 0.5 puts a rank on a rounding tie: a jump)
    if nan:
        x = mk.distinct(3, 6)
        x[0, 1] = x[2, :] = np.nan
        yield S(x, qs, 1, desc="nan_rows", grad=False)


_add(OpInfo("quantile", ref=_quantile_ref(np.quantile), samples=_quantile_samples, dtypes=F, method="quantile"))
_add(OpInfo("nanquantile", ref=_quantile_ref(np.nanquantile), samples=lambda mk: _quantile_samples(mk, True),
            dtypes=F, method="nanquantile"))


def _nanmedian_ref(x, dim=None, keepdim=False):
    def lower_middle(row):
        keep = [i for i in np.argsort(row, kind="stable") if not (np.issubdtype(row.dtype, np.floating)
                                                                    and np.isnan(row[i]))]
        at = keep[(len(keep) - 1) // 2] if keep else 0
        return (row[at] if keep else np.nan), at
    if dim is None:
        return np.asarray(lower_middle(np.ravel(x))[0])
    moved = np.moveaxis(x, dim, -1)
    values, indices = np.empty(moved.shape[:-1], x.dtype), np.empty(moved.shape[:-1], np.int64)
    for row in np.ndindex(moved.shape[:-1]):
        values[row], indices[row] = lower_middle(moved[row])
    if keepdim:
        values, indices = np.expand_dims(values, dim), np.expand_dims(indices, dim)
    return values, indices


def _nanmedian_samples(mk):
    x = mk.distinct(3, 7)
    if mk.is_float:
        x[0, 1] = x[1, :] = x[2, 5] = np.nan
    yield S(x, 1, desc="dim", grad=not mk.is_float)
    yield S(mk.distinct(4, 6), 0, True, desc="dim0_keepdim")
    yield S(mk.distinct(5, 4), -1, desc="transposed", layout=TRANSPOSED)


def _nanmedian_all_samples(mk):
    x = mk.distinct(4, 5)
    if mk.is_float:
        x[1, 2] = x[3, 0] = np.nan
    yield S(x, desc="all", grad=not mk.is_float)
    yield S(mk.distinct(6), desc="even_count")


_add(OpInfo("nanmedian", ref=_nanmedian_ref, samples=_nanmedian_samples, dtypes=FI, method="nanmedian",
            result_dtype=_int64_second))
_add(OpInfo("nanmedian_all", op="nanmedian", ref=_nanmedian_ref, samples=_nanmedian_all_samples, dtypes=FI,
            method="nanmedian"))


def _mode_ref(x, dim=-1, keepdim=False):
    if np.ndim(x) == 0:
        return x.copy(), np.zeros((), np.int64)
    moved = np.moveaxis(x, dim, -1)
    values, indices = np.empty(moved.shape[:-1], x.dtype), np.empty(moved.shape[:-1], np.int64)
    for row in np.ndindex(moved.shape[:-1]):
        distinct, counts = np.unique(moved[row], return_counts=True)
        best = distinct[np.argmax(counts)]           # the smallest of the most frequent
        values[row] = best
        indices[row] = np.nonzero(moved[row] == best)[0][-1]  # its last occurrence
    if keepdim:
        values, indices = np.expand_dims(values, dim), np.expand_dims(indices, dim)
    return values, indices


def _mode_samples(mk):
    def repeat(*shape):  # few distinct values, so that counts differ and tie
        return mk(*shape) if mk.is_bool else np.round(mk(*shape, low=-2, high=3)).astype(mk.np_dtype)
    yield S(repeat(4, 9), desc="rows", grad=False)
    yield S(repeat(9, 3), 0, True, desc="dim0_keepdim", grad=False)
    yield S(repeat(5, 7), desc="transposed", layout=TRANSPOSED, grad=False)
    yield S(mk.distinct(3, 4), 1, desc="all_distinct")
    yield S(repeat(), desc="0d", grad=False)


_add(OpInfo("mode", ref=_mode_ref, samples=_mode_samples, dtypes=FI, method="mode",
            result_dtype=_int64_second))


# ---------------------------------------------------------------- histc, histogram, bincount, isin
def _histc_ref(x, bins=100, min=0, max=0):
    low, high = float(min), float(max)
    if low == high and x.size:
        low, high = float(x.min()), float(x.max())
    if low == high:
        low, high = low - 1, high + 1
    return np.histogram(x, bins, range=(low, high))[0]


def _histc_samples(mk):
    yield S(mk(40), desc="data_range")
    yield S(mk(5, 8), 7, -2.0, 3.0, desc="given_range")
    yield S(mk(6, 5), 4, -4.0, 4.0, desc="transposed", layout=TRANSPOSED)
    yield S(np.full(5, 2.0, dtype=mk.np_dtype), 4, desc="all_equal")
    yield S(mk(0), 3, desc="empty")


_add(OpInfo("histc", ref=_histc_ref, samples=_histc_samples, dtypes=F, method="histc", supports_grad=False))


def _histogram_ref(x, bins, *, range=None, weight=None, density=False):
    if range is None and not isinstance(bins, np.ndarray):
        range = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
        if range[0] == range[1]:
            range = (range[0] - 0.5, range[1] + 0.5)
    hist, edges = np.histogram(x, bins, range=range, weights=None if weight is None else np.ravel(weight),
                               density=density)
    return hist, edges


def _histogram_samples(mk):
    yield S(mk(30), 6, desc="int_bins")
    yield S(mk(4, 5), 5, kwargs=dict(range=(-3.0, 2.0)), desc="range")
    edges = np.array([-4.0, -1.0, 0.0, 0.5, 3.0], dtype=mk.np_dtype)
    yield S(mk(20), edges, desc="tensor_bins")
    yield S(mk(20), 4, kwargs=dict(weight=mk(20, low=0, high=2), density=True), desc="weight_density")
    yield S(mk(4, 6), edges, kwargs=dict(density=True), desc="tensor_bins_density", layout=TRANSPOSED)


_add(OpInfo("histogram", ref=_histogram_ref, samples=_histogram_samples, dtypes=F, method="histogram",
            supports_grad=False))


def _bincount_ref(x, weights=None, minlength=0):
    return np.bincount(x, weights, minlength)


def _bincount_dtype(sample, dtype):
    weights = sample.args[0] if sample.args else sample.kwargs.get("weights")
    if weights is None:
        return "int64"
    return "float32" if weights.dtype == np.float32 else "float64"


def _bincount_samples(mk):
    yield S(mk(20, low=0, high=7), desc="counts")
    yield S(mk(12, low=0, high=4), kwargs=dict(minlength=9), desc="minlength")
    yield S(mk(10, low=0, high=5), mk(10, dtype="float32"), desc="float32_weights")
    yield S(mk(10, low=0, high=5), mk(10, dtype="float64"), desc="float64_weights")
    yield S(np.zeros(0, mk.np_dtype), kwargs=dict(minlength=3), desc="empty")


_add(OpInfo("bincount", ref=_bincount_ref, samples=_bincount_samples, dtypes=("int64", "uint8"), method="bincount",
            result_dtype=_bincount_dtype, supports_grad=False))


def _isin_ref(elements, test_elements, *, assume_unique=False, invert=False):
    return np.isin(elements, test_elements, invert=invert)


def _isin_samples(mk):
    e = mk(4, 5, low=-6, high=6)
    yield S(e, mk(7, low=-6, high=6), desc="1d_test")
    yield S(e, mk(2, 3, low=-6, high=6), kwargs=dict(invert=True), desc="2d_test_invert")
    yield S(mk(5, 4, low=-6, high=6), mk(3, low=-6, high=6), desc="transposed", layout=TRANSPOSED)
    yield S(e, int(e[0, 0]), desc="scalar_test")
    yield S(e, mk(5, low=-6, high=6, dtype="float64"), desc="promoted")
    yield S(e, mk(0), desc="empty_test")
    if mk.is_float:
        x = e.copy()
        x[0, :2] = np.nan
        yield S(x, np.array([np.nan, x[1, 1]], dtype=mk.np_dtype), desc="nan")


_add(OpInfo("isin", ref=_isin_ref, samples=_isin_samples, dtypes=("float32", "int64"),
            result_dtype="bool", supports_grad=False))


# ---------------------------------------------------------------- cov, corrcoef
def _cov_ref(x, *, correction=1, fweights=None, aweights=None):
    return np.cov(x, ddof=correction, fweights=fweights, aweights=aweights)


def _cov_samples(mk):
    yield S(mk(3, 8), desc="rows")
    yield S(mk(9), desc="one_variable")
    yield S(mk(3, 6), kwargs=dict(correction=0), desc="correction0")
    yield S(mk(4, 7), kwargs=dict(fweights=mk.index(7, high=4), aweights=mk(7, low=0.1, high=2, dtype="float64")
                                  .astype(mk.np_dtype if mk.is_float else np.float32)), desc="weights")
    yield S(mk(6, 3), desc="transposed", layout=TRANSPOSED, grad=False)


_add(OpInfo("cov", ref=_cov_ref, samples=_cov_samples, dtypes=FI, method="cov", result_dtype=floating,
            tol={"float32": (1e-4, 1e-4)}))
_add(OpInfo("corrcoef", ref=np.corrcoef, samples=lambda mk: (s for s in _cov_samples(mk) if not s.kwargs),
            dtypes=FI, method="corrcoef", result_dtype=floating, tol={"float32": (1e-4, 1e-4)}))


# ---------------------------------------------------------------- kron, addr, cdist, renorm
def _kron_samples(mk):
    yield S(mk(2, 3), mk(3, 2), desc="2d")
    yield S(mk(2, 2), mk(3), desc="ranks_differ")
    yield S(mk(), mk(2, 2), desc="0d")
    yield S(mk(3, 2), mk(2, 2), desc="transposed", layout=TRANSPOSED)


_add(OpInfo("kron", ref=np.kron, samples=_kron_samples, dtypes=FI, method="kron"))


def _addr_ref(input, vec1, vec2, *, beta=1, alpha=1):
    product = alpha * np.outer(vec1, vec2)
    return product if beta == 0 else beta * input + product


def _addr_samples(mk):
    yield S(mk(3, 4), mk(3), mk(4), desc="2d")
    yield S(mk(4), mk(3), mk(4), desc="broadcast_input")
    scales = dict(beta=0.5, alpha=2.0) if mk.is_float else dict(beta=2, alpha=3)
    yield S(mk(3, 4), mk(3), mk(4), kwargs=scales, desc="beta_alpha")
    if mk.is_float:
        x = mk(2, 2)
        x[0, 0] = np.nan
        yield S(x, mk(2), mk(2), kwargs=dict(beta=0), desc="beta0_ignores_nan", grad=False)


_add(OpInfo("addr", ref=_addr_ref, samples=_addr_samples, dtypes=FI, method="addr", inplace="addr_",
            inplace_dtypes=("float32", "int64")))


def _cdist_ref(x1, x2, p=2.0, compute_mode=None):
    delta = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == 0:
        return np.sum(delta != 0, -1).astype(np.float64)
    if p == math.inf:
        return delta.max(-1, initial=0.0)
    return np.sum(delta ** p, -1) ** (1.0 / p)


def _cdist_samples(mk):
    v = lambda *shape: mk(*shape, low=-2, high=2)  # noqa: E731
    yield S(v(4, 3), v(5, 3), desc="p2")
    for p in (0.0, 1.0, 1.5, math.inf):
        yield S(v(3, 2), v(4, 2), p, desc=f"p{p:g}", grad=p != 0)
    yield S(v(2, 3, 4), v(1, 5, 4), desc="batched")
    yield S(v(27, 3), v(4, 3), desc="matmul_path")
    yield S(v(3, 3), v(2, 3), 2.0, "use_mm_for_euclid_dist", desc="matmul_forced")


_add(OpInfo("cdist", ref=_cdist_ref, samples=_cdist_samples, dtypes=F, tol={"float32": (1e-4, 1e-4)}))


def _renorm_ref(x, p, dim, maxnorm):
    moved = np.moveaxis(x, dim, 0)
    flat = moved.reshape(moved.shape[0], -1)
    norm = np.abs(flat).max(1) if p == math.inf else (np.abs(flat) ** p).sum(1) ** (1.0 / p)
    factor = np.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)
    return np.moveaxis((flat * factor[:, None]).reshape(moved.shape), 0, dim)


def _renorm_samples(mk):
    yield S(mk(4, 3), 2, 0, 4.0, desc="p2_rows")
    yield S(mk(3, 4, 2), 1, 1, 5.0, desc="p1_dim1")
    yield S(mk(4, 3), math.inf, -1, 4.0, desc="inf_transposed", layout=TRANSPOSED)


_add(OpInfo("renorm", ref=_renorm_ref, samples=_renorm_samples, dtypes=F, method="renorm", inplace="renorm_"))


# ---------------------------------------------------------------- grids and arrangements
def meshgrid(*tensors, indexing):
    import ember
    return ember.meshgrid(*tensors, indexing=indexing)


def _meshgrid_ref(*arrays, indexing):
    return tuple(np.meshgrid(*arrays, indexing=indexing))


def _meshgrid_samples(mk):
    yield S(mk(3), mk(4), desc="ij", kwargs=dict(indexing="ij"))
    yield S(mk(3), mk(4), mk(2), desc="xy", kwargs=dict(indexing="xy"))
    yield S(mk(), mk(4), desc="0d", kwargs=dict(indexing="ij"))


_add(OpInfo("meshgrid", op=meshgrid, ref=_meshgrid_ref, samples=_meshgrid_samples, dtypes=F))


def cartesian_prod(*tensors):
    import ember
    return ember.cartesian_prod(*tensors)


def _cartesian_prod_ref(*arrays):
    if len(arrays) == 1:
        return arrays[0]
    return np.stack([g.ravel() for g in np.meshgrid(*arrays, indexing="ij")], 1)


def _cartesian_prod_samples(mk):
    yield S(mk(3), mk(2), desc="two")
    yield S(mk(2), mk(3), mk(2), desc="three")
    yield S(mk(4), desc="one")


_add(OpInfo("cartesian_prod", op=cartesian_prod, ref=_cartesian_prod_ref, samples=_cartesian_prod_samples,
            dtypes=F))


def _combinations_ref(x, r=2, with_replacement=False):
    if r == 0:
        return np.zeros(0, x.dtype)
    make = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    picks = np.array(list(make(range(x.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return x[picks]


def _combinations_samples(mk):
    yield S(mk(5), desc="pairs")
    yield S(mk(4), 3, desc="triples")
    yield S(mk(3), 2, True, desc="with_replacement")
    yield S(mk(2), 3, desc="none")


_add(OpInfo("combinations", ref=_combinations_ref, samples=_combinations_samples, dtypes=F))


def block_diag(*tensors):
    import ember
    return ember.block_diag(*tensors)


def _block_diag_ref(*arrays):
    blocks = [np.reshape(a, (1, -1)) if np.ndim(a) < 2 else a for a in arrays]
    out = np.zeros((sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)),
                   np.result_type(*[b.dtype for b in blocks]))
    r = c = 0
    for b in blocks:
        out[r:r + b.shape[0], c:c + b.shape[1]] = b
        r, c = r + b.shape[0], c + b.shape[1]
    return out


def _block_diag_samples(mk):
    yield S(mk(2, 3), mk(3), mk(), desc="mixed_ranks")
    yield S(mk(2, 2), mk(0, 2), mk(1, 3), desc="empty_block")
    yield S(mk(3, 2), mk(2, 2), desc="transposed", layout=TRANSPOSED)


_add(OpInfo("block_diag", op=block_diag, ref=_block_diag_ref, samples=_block_diag_samples, dtypes=F))


def _rot90_samples(mk):
    yield S(mk(2, 3), desc="k1")
    yield S(mk(2, 3, 4), 2, (1, 2), desc="k2")
    yield S(mk(3, 4), -1, desc="k_minus1")
    yield S(mk(2, 3, 2), 7, (2, 0), desc="k7_dims20", layout=STRIDED)


_add(OpInfo("rot90", ref=lambda x, k=1, dims=(0, 1): np.rot90(x, k, axes=dims), samples=_rot90_samples,
            dtypes=F, method="rot90"))


def atleast_3d(*tensors):
    import ember
    return ember.atleast_3d(*tensors)


def _atleast_3d_ref(*arrays):
    out = tuple(np.atleast_3d(a) for a in arrays)
    return out[0] if len(out) == 1 else out


_add(OpInfo("atleast_3d", op=atleast_3d, ref=_atleast_3d_ref, dtypes=("float32", "float64"),
            samples=lambda mk: [S(mk(3), desc="1d"), S(mk(2, 3, 2), desc="3d"),
                                S(mk(), mk(2), mk(3, 2), desc="several")]))


def _unravel_ref(indices, shape):
    total = int(np.prod(shape))
    return tuple(np.asarray(c, dtype=np.int64) for c in np.unravel_index(np.mod(indices, total), shape))


def _unravel_samples(mk):
    yield S(mk.index(5, high=24), (2, 3, 4), desc="3d")
    yield S(mk.index(2, 3, high=6), (6,), desc="1d_shape")
    yield S(np.array([-1, -7, 5], dtype=np.int64), (3, 4), desc="negative")
    yield S(np.asarray(7, dtype=np.int64), 10, desc="int_shape")


_add(OpInfo("unravel_index", ref=_unravel_ref, samples=_unravel_samples, dtypes=("int64",), result_dtype="int64",
            supports_grad=False))
