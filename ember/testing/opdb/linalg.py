"""OpInfos for matrix products: matmul and its spelled-out forms, einsum, addmm/baddbmm."""
from __future__ import annotations

import operator as O

import numpy as np

from ember.testing import dtypes as D
from ember.testing.opinfo import STRIDED, TRANSPOSED, OpInfo, SampleInput as S

OPS = []
#: PyTorch's CPU matmul covers the integer types too (cuBLAS does not: backends may differ)
DTYPES = D.FLOATS + ("int64", "int32")
TOL = {"float16": (1e-2, 1e-2), "bfloat16": (2e-2, 5e-2), "float32": (1e-5, 1e-5)}


def _add(op):
    OPS.append(op)
    return op


def _m(mk, *shape):
    return mk(*shape, low=-2, high=2) if mk.is_float else mk(*shape, low=-3, high=4)


def _matmul_samples(mk):
    cases = [((4,), (4,), "1d_1d"), ((3, 4), (4,), "2d_1d"), ((4,), (4, 5), "1d_2d"), ((3, 4), (4, 5), "2d_2d"),
             ((2, 3, 4), (2, 4, 5), "batched"), ((2, 1, 3, 4), (5, 4, 2), "broadcast_batch"),
             ((2, 3, 4), (4, 5), "3d_2d"), ((4,), (2, 4, 5), "1d_3d"), ((2, 3, 4), (4,), "3d_1d"),
             ((3, 0), (0, 4), "empty_inner"), ((0, 3, 4), (4, 2), "empty_batch")]
    for sa, sb, desc in cases:
        yield S(_m(mk, *sa), _m(mk, *sb), desc=desc)
    yield S(_m(mk, 3, 4), _m(mk, 4, 5), desc="transposed", layout=TRANSPOSED)
    yield S(_m(mk, 2, 3, 4), _m(mk, 4, 2), desc="strided", layout=STRIDED)


_add(OpInfo("matmul", ref=np.matmul, samples=_matmul_samples, dtypes=DTYPES, method="matmul", operator=O.matmul,
            tol=TOL))


def _mm_samples(mk):
    yield S(_m(mk, 3, 4), _m(mk, 4, 5), desc="2d")
    yield S(_m(mk, 1, 4), _m(mk, 4, 1), desc="row_col")
    yield S(_m(mk, 3, 0), _m(mk, 0, 2), desc="empty_inner")
    yield S(_m(mk, 0, 4), _m(mk, 4, 2), desc="empty_rows")
    yield S(_m(mk, 3, 4), _m(mk, 4, 5), desc="transposed", layout=TRANSPOSED)
    yield S(_m(mk, 3, 4), _m(mk, 4, 3), desc="strided", layout=STRIDED)


def _bmm_samples(mk):
    yield S(_m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="3d")
    yield S(_m(mk, 0, 3, 4), _m(mk, 0, 4, 5), desc="empty_batch")
    yield S(_m(mk, 2, 3, 0), _m(mk, 2, 0, 5), desc="empty_inner")
    yield S(_m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="transposed", layout=TRANSPOSED)
    yield S(_m(mk, 2, 3, 4), _m(mk, 2, 4, 3), desc="strided", layout=STRIDED)


def _mv_samples(mk):
    yield S(_m(mk, 3, 4), _m(mk, 4), desc="2d_1d")
    yield S(_m(mk, 3, 0), _m(mk, 0), desc="empty_inner")
    yield S(_m(mk, 3, 4), _m(mk, 4), desc="transposed", layout=TRANSPOSED)
    yield S(_m(mk, 3, 4), _m(mk, 4), desc="strided", layout=STRIDED)


def _dot_samples(mk):
    yield S(_m(mk, 5), _m(mk, 5), desc="1d")
    yield S(_m(mk, 0), _m(mk, 0), desc="empty")
    yield S(_m(mk, 4), _m(mk, 4), desc="strided", layout=STRIDED)


def _outer_samples(mk):
    yield S(_m(mk, 3), _m(mk, 4), desc="1d")
    yield S(_m(mk, 0), _m(mk, 4), desc="empty")
    yield S(_m(mk, 3), _m(mk, 2), desc="strided", layout=STRIDED)


_add(OpInfo("mm", ref=np.matmul, samples=_mm_samples, dtypes=DTYPES, method="mm", tol=TOL))
_add(OpInfo("bmm", ref=np.matmul, samples=_bmm_samples, dtypes=DTYPES, method="bmm", tol=TOL))
_add(OpInfo("mv", ref=np.matmul, samples=_mv_samples, dtypes=DTYPES, method="mv", tol=TOL))
_add(OpInfo("dot", ref=np.dot, samples=_dot_samples, dtypes=DTYPES, method="dot", tol=TOL))
_add(OpInfo("outer", ref=np.outer, samples=_outer_samples, dtypes=D.ALL_BUT_BOOL, method="outer", aliases=("ger",),
            tol=TOL))


# ---------------------------------------------------------------- einsum
EQUATIONS = [
    ("ij,jk->ik", [(3, 4), (4, 5)], "matmul"),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)], "batched"),
    ("ii->i", [(4, 4)], "diagonal"),
    ("bii->b", [(2, 3, 3)], "batched_trace"),
    ("ij->ji", [(3, 4)], "transpose"),
    ("ij->", [(3, 4)], "sum_all"),
    ("i,i->", [(5,), (5,)], "dot"),
    ("i,j->ij", [(3,), (4,)], "outer"),
    ("ij,kj->ik", [(3, 4), (2, 4)], "contract_last"),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 2)], "ellipsis"),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)], "three_operands"),
    ("ij,jk", [(3, 4), (4, 2)], "implicit_output"),
    ("ij,jk->ik", [(3, 0), (0, 2)], "empty_inner"),
]


def einsum(*operands, equation):
    import ember
    return ember.einsum(equation, *operands)


def _einsum_list(*operands, equation):
    import ember
    return ember.einsum(equation, list(operands))


def _einsum_ref(*operands, equation):
    return np.einsum(equation, *operands)


def _einsum_samples(mk):
    for eq, shapes, desc in EQUATIONS:
        arrays = [_m(mk, *s) for s in shapes]
        yield S(arrays[0], *arrays[1:], desc=desc, kwargs=dict(equation=eq))
    yield S(_m(mk, 3, 4), _m(mk, 4, 5), desc="transposed", kwargs=dict(equation="ij,jk->ik"), layout=TRANSPOSED)
    yield S(_m(mk, 3, 4), _m(mk, 4, 5), desc="operand_list", kwargs=dict(equation="ij,jk->ik"))


_add(OpInfo("einsum", op=einsum, ref=_einsum_ref, samples=_einsum_samples, dtypes=DTYPES, tol=TOL))
_add(OpInfo("einsum_list", op=_einsum_list, ref=_einsum_ref, supports_grad=False, dtypes=("float32", "int64"),
            samples=lambda mk: (s for s in _einsum_samples(mk) if s.desc == "operand_list"), tol=TOL))


# ---------------------------------------------------------------- add + product
def _addmm_ref(input, a, b, beta=1, alpha=1):
    product = alpha * np.matmul(a, b)
    return product if beta == 0 else beta * input + product


def _scales(mk):
    return dict(beta=0.5, alpha=2.0) if mk.is_float else dict(beta=2, alpha=3)


def _addmm_samples(mk):
    yield S(_m(mk, 3, 5), _m(mk, 3, 4), _m(mk, 4, 5), desc="2d")
    yield S(_m(mk, 5), _m(mk, 3, 4), _m(mk, 4, 5), desc="broadcast_bias")
    yield S(_m(mk, 3, 5), _m(mk, 3, 4), _m(mk, 4, 5), desc="beta_alpha", kwargs=_scales(mk))
    yield S(_m(mk, 3, 5), _m(mk, 3, 4), _m(mk, 4, 5), desc="transposed", layout=TRANSPOSED)
    yield S(_m(mk, 3, 2), _m(mk, 3, 0), _m(mk, 0, 2), desc="empty_inner")
    if mk.is_float:
        bias = _m(mk, 3, 5)
        bias[0, 0] = np.nan
        yield S(bias, _m(mk, 3, 4), _m(mk, 4, 5), desc="beta0_ignores_nan", kwargs=dict(beta=0), grad=False)


def _baddbmm_samples(mk):
    yield S(_m(mk, 2, 3, 5), _m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="3d")
    yield S(_m(mk, 3, 5), _m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="broadcast_input")
    yield S(_m(mk, 2, 3, 5), _m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="beta_alpha", kwargs=_scales(mk))
    yield S(_m(mk, 2, 3, 5), _m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="transposed", layout=TRANSPOSED)
    if mk.is_float:
        bias = _m(mk, 2, 3, 5)
        bias[1, 0, 0] = np.nan
        yield S(bias, _m(mk, 2, 3, 4), _m(mk, 2, 4, 5), desc="beta0_ignores_nan", kwargs=dict(beta=0), grad=False)


_add(OpInfo("addmm", ref=_addmm_ref, samples=_addmm_samples, dtypes=DTYPES, method="addmm", tol=TOL))
_add(OpInfo("baddbmm", ref=_addmm_ref, samples=_baddbmm_samples, dtypes=DTYPES, method="baddbmm", tol=TOL))
