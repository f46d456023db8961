"""Sample generators shared by many ops: every shape case the suite promises.

Each covers broadcasting, 0-d, empty (a size-0 dim), non-contiguous inputs
(transposed and strided views), Python scalars and mixed-dtype promotion.
"""
from __future__ import annotations

import numpy as np

from ember.testing import dtypes as D
from ember.testing.opinfo import STRIDED, TRANSPOSED, SampleInput as S


def unary(mk, low=None, high=None, nonzero=False, specials=None, kwargs=None):
    """One-tensor ops: 0-d, 1-d, 2-d, transposed, strided, empty (+ inf/nan for floats)."""
    r = dict(low=low, high=high, nonzero=nonzero)
    kw = dict(kwargs=kwargs)
    yield S(mk(**r), desc="0d", **kw)
    yield S(mk(7, **r), desc="1d", **kw)
    yield S(mk(3, 4, **r), desc="2d", **kw)
    yield S(mk(4, 3, **r), desc="transposed", layout=TRANSPOSED, **kw)
    yield S(mk(2, 3, 4, **r), desc="strided", layout=STRIDED, **kw)
    yield S(mk(0, 3, **r), desc="empty", **kw)
    if specials is not None and mk.is_float:
        yield S(np.array(specials, dtype=mk.np_dtype), desc="nonfinite", grad=False, **kw)


NONFINITE = [np.inf, -np.inf, np.nan, 0.0, -0.0, 1.5, -2.5]


def promotion_partner(dtype: str):
    """(name, dtype) of a second operand that makes promotion do something for ``dtype``."""
    if D.is_float(dtype):
        return "int64"
    if dtype == "bool":
        return "int8"
    return "int8" if dtype == "uint8" else "uint8"


def binary(mk, a=None, b=None, scalars=("int", "float"), promote=True, float_partner=True, scalar_first=True,
           ties=False, post=None, kwargs=None, scalar_first_grad=True):
    """Two-operand elementwise ops.

    ``a``/``b``: Maker keyword arguments for each operand (ranges, nonzero); ``post(a, b)``
    adjusts a pair (e.g. keeps quotients away from integers); ``ties`` adds a sample
    where half the elements are equal.
    """
    a = a or {}
    b = b or {}
    post = post or (lambda x, y: (x, y))
    kw = dict(kwargs=kwargs)

    def pair(sa, sb, desc, **extra):
        x, y = post(mk(*sa, **a), mk(*sb, **b))
        return S(x, y, desc=desc, **kw, **extra)

    yield pair((3, 4), (3, 4), "same_shape")
    yield pair((2, 3, 1), (3, 4), "broadcast")
    yield pair((3, 1), (1, 4), "broadcast_both")
    yield pair((), (), "0d")
    yield pair((3, 4), (), "0d_other")
    yield pair((4, 3), (4, 3), "transposed", layout=TRANSPOSED)
    yield pair((2, 5), (2, 5), "strided", layout=STRIDED)
    yield pair((0, 4), (4,), "empty")
    if ties:
        x, y = post(mk(3, 4, **a), mk(3, 4, **b))
        y = y.copy()
        y[:, ::2] = x[:, ::2].astype(y.dtype)
        yield S(x, y, desc="ties", grad=False, **kw)
    for kind in scalars:
        if kind == "float" and not float_partner and not mk.is_float:
            continue
        value = mk.scalar(kind)
        x, value = post(mk(3, 4, **a), value)
        yield S(x, value, desc=f"scalar_{kind}", **kw)
    if promote:
        partner = promotion_partner(mk.dtype)
        x, y = post(mk(3, 4, **a), mk(3, 4, dtype=partner, **b))
        yield S(x, y, desc=f"promote_{partner}", **kw)
        if float_partner or mk.is_float:
            other = "float64" if mk.is_float else "float32"
            x, y = post(mk(2, 3, **a), mk(dtype=other, **b))
            yield S(x, y, desc=f"promote_0d_{other}", **kw)
    if scalar_first and scalars:
        value = mk.scalar(scalars[0])
        value, y = post(value, mk(3, 4, **b))
        yield S(value, y, desc="scalar_first", inplace=False, grad=scalar_first_grad, **kw)


def power_of_two_divisor(x, y):
    """Round floating-point divisors to signed powers of two (0.5 ... 4).

    x / y is then exact in every dtype, so floor, trunc and remainder (discontinuous
    where the quotient is an integer) give the same answer in float16 as in the float64
    reference.
    """
    def snap(v):
        exponent = np.clip(np.round(np.log2(np.abs(np.asarray(v, dtype=np.float64)))), -1, 2)
        return np.where(np.asarray(v) < 0, -1.0, 1.0) * 2.0 ** exponent
    if isinstance(y, float):
        y = float(snap(y))
    elif D.is_float_array(y):
        y = np.asarray(snap(y), dtype=y.dtype)
    if D.is_float_array(x) and not isinstance(y, (int, np.ndarray)) or D.is_float_array(y) and D.is_float_array(x):
        # quotients exactly whole are where floor/remainder jump: move x a quarter divisor off them
        q = np.asarray(x, dtype=np.float64) / np.asarray(y, dtype=np.float64)
        whole = np.abs(q - np.round(q)) < 0.1
        if whole.any() and np.shape(q) == np.shape(x):
            x = np.asarray(np.where(whole, np.asarray(x, dtype=np.float64) + 0.25 * np.asarray(y, dtype=np.float64),
                                    x), dtype=x.dtype)
    return x, y


def reduction(mk, dims=((1,), (-1,), (0, 2)), keepdim=True, full=True, empty=True, values=None, kwargs=None,
              zero_dim=True):
    """Reductions: full, over an int dim, a negative dim, a tuple of dims, keepdim,
    0-d input, empty inputs, and non-contiguous inputs.

    ``empty``: True (reduce over a size-0 dim and keep one), "kept" (only the kept
    one: ops such as max have no value over nothing), or False.
    """
    make = values or (lambda *shape: mk(*shape))
    kw = dict(kwargs or {})
    if full:
        yield S(make(3, 4), desc="full", kwargs=kw)
        if zero_dim:
            yield S(make(), desc="0d_full", kwargs=kw)
    for d in dims:
        dim = d[0] if len(d) == 1 else d
        name = "_".join(str(v).replace("-", "neg") for v in d)
        yield S(make(2, 3, 4), desc=f"dim{name}", kwargs=dict(kw, dim=dim))
    if keepdim:
        yield S(make(3, 4), desc="keepdim", kwargs=dict(kw, dim=1, keepdim=True))
        if any(len(d) > 1 for d in dims):
            yield S(make(2, 3, 4), desc="keepdim_tuple", kwargs=dict(kw, dim=(0, 2), keepdim=True))
    if zero_dim:
        yield S(make(), desc="0d_dim0", kwargs=dict(kw, dim=0))
    yield S(make(4, 3), desc="transposed", kwargs=dict(kw, dim=0), layout=TRANSPOSED)
    yield S(make(3, 5), desc="strided", kwargs=dict(kw, dim=1), layout=STRIDED)
    if empty is True:
        yield S(make(0, 3), desc="empty_reduced", kwargs=dict(kw, dim=0))
    if empty:
        yield S(make(3, 0), desc="empty_kept", kwargs=dict(kw, dim=0))


def axis(x, dim):
    """numpy's axis for PyTorch's dim (a 0-d tensor accepts dim 0 and -1)."""
    if dim is None or np.ndim(x) == 0:
        return None
    return dim
