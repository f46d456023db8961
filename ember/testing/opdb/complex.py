"""OpInfos for complex tensors: math on complex64/complex128 and the complex-specific functions
(``real``, ``imag``, ``view_as_real``, ``view_as_complex``, ``conj``, ``angle``, ``polar``,
``complex``, ``sgn``), against numpy's complex128 references.

Entries are named ``complex_<op>`` (the real-dtype entries of the same ops live in the other
files); gradients are checked on complex128 samples by central differences in the real and
imaginary directions, PyTorch's convention (the conjugate Wirtinger derivative).
"""
from __future__ import annotations

import operator as O

import numpy as np

from ember.testing import dtypes as D
from ember.testing.opinfo import STRIDED, TRANSPOSED, OpInfo, SampleInput as S, boolean, promoted, same

OPS = []
C = D.COMPLEX
REAL = ("float32", "float64")


def _add(op):
    OPS.append(op)
    return op


def _real_result(sample, dtype):
    return D.real_of(D.name_of(sample.input.dtype))


def _complex_result(sample, dtype):
    return "complex128" if D.name_of(sample.input.dtype) == "float64" else "complex64"


# ---------------------------------------------------------------- samples
def _unary(mk, low=-2.0, high=2.0, nonzero=False):
    r = dict(low=low, high=high, nonzero=nonzero)
    yield S(mk(**r), desc="0d")
    yield S(mk(5, **r), desc="1d")
    yield S(mk(4, 3, **r), desc="transposed", layout=TRANSPOSED)
    yield S(mk(2, 3, **r), desc="strided", layout=STRIDED)
    yield S(mk(0, 3, **r), desc="empty")


def _binary(mk, nonzero=False, scalars=(2, 1.5 - 0.5j)):
    b = dict(low=-2.0, high=2.0, nonzero=nonzero)
    yield S(mk(2, 3, low=-2, high=2), mk(2, 3, **b), desc="same_shape")
    yield S(mk(2, 1, 3, low=-2, high=2), mk(4, 3, **b), desc="broadcast")
    yield S(mk(3, 2, low=-2, high=2), mk(3, 2, **b), desc="transposed", layout=TRANSPOSED)
    yield S(mk(0, 3, low=-2, high=2), mk(3, **b), desc="empty")
    for value in scalars:
        yield S(mk(2, 3, low=-2, high=2), value, desc=f"scalar_{type(value).__name__}")
    part = D.real_of(mk.dtype)
    # a real tensor with a complex one: complex of the wider precision (float64 + complex64 -> complex128)
    yield S(mk(2, 3, low=-2, high=2), mk(2, 3, dtype="float64", **b), desc="promote_float64")
    yield S(mk(2, 3, low=-2, high=2, dtype=part), mk(2, 3, **b), desc=f"promote_{part}_first")
    # a Python complex scalar is weak: a float32 tensor with 1.5-0.5j gives complex64
    yield S(mk(2, 3, low=-2, high=2, dtype=part), 1.5 - 0.5j, desc=f"{part}_with_complex_scalar")


def _reduction(mk):
    yield S(mk(3, 4), desc="full")
    yield S(mk(), desc="0d_full")
    yield S(mk(2, 3, 4), desc="dim1", kwargs=dict(dim=1))
    yield S(mk(2, 3, 4), desc="keepdim_tuple", kwargs=dict(dim=(0, 2), keepdim=True))
    yield S(mk(4, 3), desc="transposed", kwargs=dict(dim=0), layout=TRANSPOSED)
    yield S(mk(3, 0), desc="empty_kept", kwargs=dict(dim=0))


def _parts(mk):
    """Pairs of real tensors (dtype under test: float32/float64) for complex() and polar()."""
    yield S(mk(2, 3), mk(2, 3), desc="same_shape")
    yield S(mk(2, 1), mk(3), desc="broadcast")
    yield S(mk(), mk(), desc="0d")
    yield S(mk(3, 2), mk(3, 2), desc="transposed", layout=TRANSPOSED)
    yield S(mk(0, 2), mk(0, 2), desc="empty")


def _pairs(mk):
    """Real tensors whose last dim (size 2) holds real and imaginary parts, for view_as_complex."""
    yield S(mk(2), desc="1d")
    yield S(mk(3, 2), desc="2d")
    yield S(mk(2, 3, 2), desc="3d")
    yield S(mk(0, 2), desc="empty")


def _specials(mk):
    values = np.array([complex(np.inf, 0), complex(0, -np.inf), complex(np.nan, 1), complex(1, np.nan),
                       1.5 - 2j, 0j])
    yield S(values.astype(D.NUMPY[mk.dtype]), desc="nonfinite", grad=False)
    yield S(mk(2, 3), desc="2d", grad=False)


# ---------------------------------------------------------------- references
def _sgn(x):
    m = np.abs(x)
    return np.where(m == 0, 0, x / np.where(m == 0, 1, m))


def _axis_ref(fn):
    def ref(x, dim=None, keepdim=False):
        if np.ndim(x) == 0:
            return fn(x)
        return fn(x, axis=dim, keepdims=keepdim)
    return ref


def _complex_unary(name, ref, low=-2.0, high=2.0, nonzero=False, method=True, result_dtype=same, op=...,
                   grad=True, tol=None, inplace=None):
    return _add(OpInfo(f"complex_{name}", op=name if op is ... else op, ref=ref,
                       samples=lambda mk: _unary(mk, low, high, nonzero), dtypes=C, result_dtype=result_dtype,
                       method=name if method else None, supports_grad=grad, tol=tol, inplace=inplace))


# holomorphic functions: the gradient is g * conj(f'(z))
_complex_unary("exp", np.exp)
_complex_unary("log", np.log, nonzero=True)
_complex_unary("sqrt", np.sqrt, nonzero=True)
_complex_unary("sin", np.sin)
_complex_unary("cos", np.cos)
_complex_unary("tanh", np.tanh, low=-1.0, high=1.0)
_complex_unary("reciprocal", lambda x: 1 / x, nonzero=True)
_complex_unary("neg", np.negative, inplace="neg_")
# not holomorphic: |z|, arg z, z / |z|, conj z, Re z, Im z
_complex_unary("abs", np.abs, nonzero=True, result_dtype=_real_result)
_complex_unary("angle", np.angle, nonzero=True, result_dtype=_real_result)
_complex_unary("sgn", _sgn, nonzero=True)
_complex_unary("conj", np.conj)
_complex_unary("conj_physical", np.conj)
_complex_unary("real", np.real, method=False, result_dtype=_real_result)
_complex_unary("imag", np.imag, method=False, result_dtype=_real_result)
_complex_unary("view_as_real", lambda x: np.stack([x.real, x.imag], axis=-1), method=False,
               result_dtype=_real_result)

_add(OpInfo("complex_view_as_complex", op="view_as_complex", ref=lambda x: x[..., 0] + 1j * x[..., 1],
            samples=_pairs, dtypes=REAL, result_dtype=_complex_result))
_add(OpInfo("complex_complex", op="complex", ref=lambda re, im: re + 1j * im, samples=_parts, dtypes=REAL,
            result_dtype=_complex_result))
_add(OpInfo("complex_polar", op="polar", ref=lambda r, theta: r * np.exp(1j * theta), samples=_parts,
            dtypes=REAL, result_dtype=_complex_result))


# ---------------------------------------------------------------- arithmetic and comparisons
def _complex_binary(name, ref, operator=None, nonzero=False, result_dtype=promoted, grad=True, scalars=None,
                    inplace=None):
    samples = (lambda mk: _binary(mk, nonzero)) if scalars is None else (lambda mk: _binary(mk, nonzero, scalars))
    return _add(OpInfo(f"complex_{name}", op=name, ref=ref, samples=samples, dtypes=C, result_dtype=result_dtype,
                       method=name, operator=operator, supports_grad=grad, inplace=inplace))


_complex_binary("add", np.add, O.add, inplace="add_")
_complex_binary("sub", np.subtract, O.sub)
_complex_binary("mul", np.multiply, O.mul, inplace="mul_")
_complex_binary("div", np.true_divide, O.truediv, nonzero=True)
_complex_binary("pow", np.power, O.pow, nonzero=True, scalars=(2, 0.5, 1.5 - 0.5j))
_complex_binary("eq", np.equal, O.eq, result_dtype=boolean, grad=False)
_complex_binary("ne", np.not_equal, O.ne, result_dtype=boolean, grad=False)


def _logaddexp_ref(a, b):
    # PyTorch's branch: the operand with the larger real part factored out (not the principal log)
    a, b = np.broadcast_arrays(np.asarray(a, np.complex128), np.asarray(b, np.complex128))
    hi, lo = np.where(a.real >= b.real, a, b), np.where(a.real >= b.real, b, a)
    return hi + np.log1p(np.exp(lo - hi))


def _logaddexp_samples(mk):
    yield S(mk(2, 3, low=-3, high=3), mk(2, 3, low=-3, high=3), desc="same_shape")
    yield S(mk(2, 1, 3, low=-3, high=3), mk(4, 3, low=-3, high=3), desc="broadcast")
    yield S(mk(3, 2), mk(3, 2), desc="transposed", layout=TRANSPOSED)
    yield S(mk(0, 3), mk(3), desc="empty")
    yield S(mk(2, 3), mk(2, 3, dtype=D.real_of(mk.dtype)), desc="with_real")


_add(OpInfo("complex_logaddexp", op="logaddexp", ref=_logaddexp_ref, samples=_logaddexp_samples, dtypes=C,
            method="logaddexp"))


def _matmul_samples(mk):
    yield S(mk(4), mk(4), desc="1d_1d")
    yield S(mk(3, 4), mk(4, 2), desc="2d_2d")
    yield S(mk(2, 3, 4), mk(4), desc="3d_1d")
    yield S(mk(3, 4), mk(4, 2), desc="transposed", layout=TRANSPOSED)
    yield S(mk(3, 0), mk(0, 2), desc="empty_inner")


_add(OpInfo("complex_matmul", op="matmul", ref=np.matmul, samples=_matmul_samples, dtypes=C, method="matmul",
            operator=O.matmul))

# ---------------------------------------------------------------- reductions and tests
_add(OpInfo("complex_sum", op="sum", ref=_axis_ref(np.sum), samples=_reduction, dtypes=C, method="sum"))
_add(OpInfo("complex_mean", op="mean", ref=_axis_ref(np.mean), samples=_reduction, dtypes=C, method="mean"))


def _prod_samples(mk):
    yield S(mk(3, 4, low=-1.5, high=1.5, nonzero=True), desc="full")
    yield S(mk(2, 3, low=-1.5, high=1.5, nonzero=True), desc="dim1", kwargs=dict(dim=1))
    yield S(mk(4, 3, low=-1.5, high=1.5, nonzero=True), desc="transposed", kwargs=dict(dim=0), layout=TRANSPOSED)


_add(OpInfo("complex_prod", op="prod", ref=_axis_ref(np.prod), samples=_prod_samples, dtypes=C, method="prod"))
_add(OpInfo("complex_isnan", op="isnan", ref=np.isnan, samples=_specials, dtypes=C, method="isnan",
            result_dtype=boolean, supports_grad=False))
_add(OpInfo("complex_isfinite", op="isfinite", ref=np.isfinite, samples=_specials, dtypes=C, method="isfinite",
            result_dtype=boolean, supports_grad=False))
