"""Forward-mode (JVP) rules, one per differentiable primitive and fused composite, in ember ops.

A rule is ``fn(inputs, tangents, out, attrs) -> tangent of out`` (a tuple for ops with several
outputs, None where an output has no tangent). ``inputs`` are the call's arguments, ``tangents``
one per argument (None: zero), ``out`` the primal result. The dispatcher (``ember.core.dual``)
runs a rule with the dual level off, so its ops are plain (and recorded by reverse mode).

Three kinds, in order of preference:

* hand-written rules (``@jvp``): elementwise basics, linear ops (views, layout, reductions,
  indexing, FFTs: the op applied to the tangent), matmul, einsum, softmax, conv, layer_norm, ...;
* ``elementwise`` ops reuse their backward rule: an elementwise Jacobian is diagonal, so the
  JVP of input i is ``conj(vjp_i(conj(tangent_i)))`` (special functions, pow, maximum, ...);
* every other op with a backward rule gets the double-vjp identity ``J v = d/du <J^T u, v>``
  (linear algebra decompositions, cumprod, frexp).

Importing this module registers the rules (``OpDef.jvp``); ``ember.autograd.forward_ad``
imports it when the first dual level is entered, so ``import ember`` does not pay for it.
"""
from __future__ import annotations

import math
import sys

# the backward rules the fallbacks reuse (every module that registers some)
import ember.ops.decomposition_rules  # noqa: F401
import ember.ops.derivatives  # noqa: F401
import ember.ops.special  # noqa: F401
import ember.ops.spectral  # noqa: F401
from ember.core.autograd import GRAD_MODE, run_backward
from ember.core.call import call, sum_to_shape
from ember.core.tensor import Tensor, make_tensor
from ember.dispatch.ops import OPS
from ember.ops import creation
from ember.ops import elementwise as ew
from ember.ops import reduction as red
import ember.ops.complex  # noqa: F401,E402

cx = sys.modules["ember.ops.complex"]  # (the package attribute ember.ops.complex is the complex() function)


def jvp(*names):
    """Register the decorated function as the forward-mode rule of ops ``names``."""
    def register(fn):
        for name in names:
            OPS[name].jvp = fn
        return fn
    return register


def _zero(like):
    return creation.zeros_like(like)


def _or_zero(t, like):
    return t if t is not None else _zero(like)


def _sum_tangents(parts):
    total = None
    for p in parts:
        if p is not None:
            total = p if total is None else total + p
    return total


# ---------------------------------------------------------------- elementwise, written out
def _unary(derivative_of):
    """A rule ``t * f'(x)`` from ``derivative_of(x, out, attrs)``."""
    def rule(x, t, out, attrs):
        return t[0] * derivative_of(x[0], out, attrs)
    return rule


_LN2, _LN10 = math.log(2.0), math.log(10.0)
_UNARY = {
    "exp": lambda x, y, a: y,
    "exp2": lambda x, y, a: y * _LN2,
    "expm1": lambda x, y, a: y + 1,
    "log": lambda x, y, a: 1 / x,
    "log2": lambda x, y, a: 1 / (x * _LN2),
    "log10": lambda x, y, a: 1 / (x * _LN10),
    "log1p": lambda x, y, a: 1 / (x + 1),
    "sqrt": lambda x, y, a: 0.5 / y,
    "rsqrt": lambda x, y, a: -0.5 * y * y * y,
    "sin": lambda x, y, a: ew.cos(x),
    "cos": lambda x, y, a: -ew.sin(x),
    "tan": lambda x, y, a: 1 + y * y,
    "asin": lambda x, y, a: ew.rsqrt(1 - x * x),
    "acos": lambda x, y, a: -ew.rsqrt(1 - x * x),
    "atan": lambda x, y, a: 1 / (1 + x * x),
    "sinh": lambda x, y, a: ew.cosh(x),
    "cosh": lambda x, y, a: ew.sinh(x),
    "tanh": lambda x, y, a: 1 - y * y,
    "asinh": lambda x, y, a: ew.rsqrt(x * x + 1),
    "acosh": lambda x, y, a: ew.rsqrt(x * x - 1),
    "atanh": lambda x, y, a: 1 / (1 - x * x),
    "sigmoid": lambda x, y, a: y * (1 - y),
    "relu": lambda x, y, a: y > 0,
    "erf": lambda x, y, a: (2.0 / math.sqrt(math.pi)) * ew.exp(-(x * x)),
    "erfinv": lambda x, y, a: (math.sqrt(math.pi) / 2.0) * ew.exp(y * y),
    "reciprocal": lambda x, y, a: -(y * y),
}
for _name, _d in _UNARY.items():
    jvp(_name)(_unary(_d))


@jvp("neg")
def _neg(x, t, out, attrs):
    return ew.neg(t[0])


@jvp("abs")
def _abs(x, t, out, attrs):
    if x[0].dtype.is_complex:  # d|z| = Re(conj(sgn z) dz)
        return cx.real(t[0] * cx.conj_physical(cx.sgn(x[0])))
    return t[0] * ew.sign(x[0])


@jvp("sign", "floor", "ceil", "trunc", "round", "div_rounding")
def _zero_tangent(x, t, out, attrs):
    return _zero(out)


@jvp("cast")
def _cast(x, t, out, attrs):
    return call(OPS["cast"], t[0], dtype=out.dtype) if t[0].dtype is not out.dtype else t[0]


@jvp("add")
def _add(x, t, out, attrs):
    return _sum_tangents(t)


@jvp("sub")
def _sub(x, t, out, attrs):
    a, b = t
    if b is None:
        return a
    return ew.neg(b) if a is None else a - b


@jvp("mul")
def _mul(x, t, out, attrs):
    return _sum_tangents((t[0] * x[1] if t[0] is not None else None,
                          x[0] * t[1] if t[1] is not None else None))


@jvp("div")
def _div(x, t, out, attrs):
    a, b = t
    num = a if b is None else (-(out * b) if a is None else a - out * b)
    return num / x[1]


@jvp("where")
def _where(x, t, out, attrs):
    cond = x[0]
    if t[1] is None and t[2] is None:
        return None
    return ew.where(cond, _or_zero(t[1], out), _or_zero(t[2], out))


# ---------------------------------------------------------------- elementwise, from the backward rule
class _FakeNode:
    """What a backward rule reads from its node, made from a call's inputs and outputs."""
    __slots__ = ("attrs", "_inputs", "_outputs", "_needs", "input_meta", "extra_outputs", "n_outputs")

    def __init__(self, inputs, out, attrs, needs):
        self.attrs = attrs
        self._inputs = inputs
        outs = out if type(out) is tuple else (out,)
        self._outputs = outs
        self._needs = needs
        self.input_meta = tuple((t._data.shape, t.dtype, t.device) if isinstance(t, Tensor) else None
                                for t in inputs)
        self.extra_outputs = outs[1:]
        self.n_outputs = len(outs)

    def saved_input(self, i):
        return self._inputs[i]

    def saved_output(self):
        return self._outputs[0]

    def needs_grad(self, i):
        return self._needs[i]

    def input_shape(self, i):
        return self.input_meta[i][0]

    def input_dtype(self, i):
        return self.input_meta[i][1]

    def name(self):
        return "jvp"


def _conj(t):
    return cx.conj_physical(t) if t.dtype.is_complex else t


def _elementwise(x, t, out, attrs, op):
    """JVP of an elementwise op from its backward rule: per input, ``conj(vjp_i(conj(t_i)))``."""
    parts = []
    for i, ti in enumerate(t):
        if ti is None:
            continue
        needs = tuple(j == i for j in range(len(t)))
        g = _conj(ti)
        if g._data.shape != out._data.shape:
            g = g.expand(*out.shape)
        grads = op.rule(_FakeNode(x, out, attrs, needs), g)
        gi = grads[i] if isinstance(grads, (tuple, list)) else grads
        if gi is not None:
            parts.append(_conj(gi))
    total = _sum_tangents(parts)
    if total is not None and not out.dtype.is_complex and total.dtype.is_complex:
        total = cx.real(total)
    return total


_ELEMENTWISE = ("erfc lgamma digamma i0 sinc erfcx i0e i1 i1e ndtr ndtri log_ndtr entr polygamma "
                "pow atan2 remainder fmod maximum minimum xlogy xlog1py zeta igamma igammac hypot copysign "
                "nextafter gelu").split()


def _elementwise_rule(op):
    def rule(x, t, out, attrs):
        return _elementwise(x, t, out, attrs, op)
    return rule


for _name in _ELEMENTWISE:
    jvp(_name)(_elementwise_rule(OPS[_name]))


# ---------------------------------------------------------------- linear ops: the op applied to the tangent
def _linear(x, t, out, attrs, op):
    return call(op, t[0], *x[1:], **attrs)


def _linear_rule(op):
    def rule(x, t, out, attrs):
        return _linear(x, t, out, attrs, op)
    return rule


for _name in ("permute expand basic_index diagonal clone flip roll tril triu sum cumsum "
              "fft_c2c fft_r2c fft_c2r gather").split():
    jvp(_name)(_linear_rule(OPS[_name]))


@jvp("view")
def _view(x, t, out, attrs):
    return t[0].reshape(attrs["shape"])  # a view of the tangent where its strides allow one


@jvp("view_dtype")
def _view_dtype(x, t, out, attrs):
    if x[0].dtype.is_complex == out.dtype.is_complex:
        return None  # (as its backward: differentiable between complex and pairs of reals only)
    return call(OPS["view_dtype"], t[0].contiguous(), dtype=out.dtype).reshape(tuple(out.shape))


@jvp("cat")
def _cat(x, t, out, attrs):
    return call(OPS["cat"], *[_or_zero(ti, xi) for xi, ti in zip(x, t)], **attrs)


@jvp("index")
def _index(x, t, out, attrs):
    if t[0] is None:
        return None
    return call(OPS["index"], t[0], *x[1:], **attrs)


@jvp("index_put")
def _index_put(x, t, out, attrs):
    if t[0] is None and t[1] is None:
        return None
    values = t[1] if t[1] is not None else _zero(x[1])
    return call(OPS["index_put"], _or_zero(t[0], x[0]).clone(), values, *x[2:], **attrs)


@jvp("scatter")
def _scatter(x, t, out, attrs):
    reduce = attrs["reduce"]
    if reduce not in (None, "add"):
        return _double_vjp(x, t, out, attrs, OPS["scatter"])
    src = x[2]
    if isinstance(src, Tensor):
        src_t = _or_zero(t[2], src)
    else:
        src_t = 0.0
    return call(OPS["scatter"], _or_zero(t[0], x[0]), x[1], src_t, **attrs)


# ---------------------------------------------------------------- reductions (sum, cumsum: linear above)
def _keep(reduced, x, attrs):
    """``reduced`` with the reduced dims back as size 1 (for broadcasting against ``x``)."""
    if attrs["keepdim"]:
        return reduced
    dims = attrs["dims"] or tuple(range(x.ndim))
    shape = list(reduced.shape)
    for d in sorted(d % max(x.ndim, 1) for d in dims):
        shape.insert(d, 1)
    return reduced.reshape(tuple(shape)) if x.ndim else reduced


@jvp("amax", "amin")
def _extreme(x, t, out, attrs):
    dims = attrs["dims"] or tuple(range(x[0].ndim))
    hits = x[0] == _keep(out, x[0], attrs)
    count = call(OPS["sum"], hits.to(t[0].dtype), dims=dims, keepdim=attrs["keepdim"])
    return call(OPS["sum"], ew.where(hits, t[0], 0.0), dims=dims, keepdim=attrs["keepdim"]) / count


@jvp("prod")
def _prod(x, t, out, attrs):
    # d prod / d x_i from the backward rule with a unit gradient (it handles zeros)
    share = OPS["prod"].rule(_FakeNode(x, out, attrs, (True,)), creation.ones_like(out))[0]
    dims = attrs["dims"] or tuple(range(x[0].ndim))
    return call(OPS["sum"], t[0] * _conj(share), dims=dims, keepdim=attrs["keepdim"])


@jvp("sort")
def _sort(x, t, out, attrs):
    values, indices = out
    if x[0].ndim == 0:
        return t[0], None
    return call(OPS["gather"], t[0], indices, dim=attrs["dim"]), None


# ---------------------------------------------------------------- linear algebra
@jvp("matmul")
def _matmul(x, t, out, attrs):
    a, b = x
    return _sum_tangents((call(OPS["matmul"], t[0], b) if t[0] is not None else None,
                          call(OPS["matmul"], a, t[1]) if t[1] is not None else None))


@jvp("einsum")
def _einsum(x, t, out, attrs):
    parts = []
    for i, ti in enumerate(t):
        if ti is not None:
            operands = list(x)
            operands[i] = ti
            parts.append(call(OPS["einsum"], *operands, **attrs))
    return _sum_tangents(parts)


def _mH(t):
    t = t.transpose(-2, -1)
    return cx.conj_physical(t) if t.dtype.is_complex else t


def _diag_real(t):
    d = t.diagonal(0, -2, -1)
    return cx.real(d) if d.dtype.is_complex else d


@jvp("linalg_eigh")
def _eigh(x, t, out, attrs):
    if attrs["eigenvectors"]:
        return _double_vjp(x, t, out, attrs, OPS["linalg_eigh"])
    # eigenvalues only (eigvalsh): d w_i = v_i^H dA v_i, with the eigenvectors recomputed; dA is
    # the Hermitian matrix LAPACK reads from the chosen triangle
    w, V = call(OPS["linalg_eigh"], x[0], upper=attrs["upper"], eigenvectors=True)
    tri = t[0].triu(1) if attrs["upper"] else t[0].tril(-1)
    dA = tri + _mH(tri) + t[0].diagonal(0, -2, -1).diag_embed()
    return _diag_real(_mH(V) @ dA @ V).to(out[0].dtype), None


@jvp("linalg_svd")
def _svd(x, t, out, attrs):
    if attrs["compute_uv"]:
        return _double_vjp(x, t, out, attrs, OPS["linalg_svd"])
    # singular values only (svdvals): d s_i = Re(u_i^H dA v_i), with U and V recomputed
    U, S, Vh = call(OPS["linalg_svd"], x[0], full_matrices=False, compute_uv=True)
    return None, _diag_real(_mH(U) @ t[0] @ _mH(Vh)).to(out[1].dtype), None


# ---------------------------------------------------------------- fused composites
@jvp("softmax")
def _softmax(x, t, out, attrs):
    dim = attrs["dim"]
    return out * (t[0] - red.sum(t[0] * out, dim, keepdim=True))


@jvp("log_softmax")
def _log_softmax(x, t, out, attrs):
    dim = attrs["dim"]
    return t[0] - red.sum(ew.exp(out) * t[0], dim, keepdim=True)


def _conv_like(op):
    def rule(x, t, out, attrs):
        inp, w, bias = x
        parts = []
        if t[0] is not None:
            parts.append(red.run_composite(op, t[0], w, None, **attrs))
        if t[1] is not None:
            parts.append(red.run_composite(op, inp, t[1], None, **attrs))
        if len(t) > 2 and t[2] is not None:
            spatial = out.ndim - (2 if out.ndim == w.ndim else 1)
            parts.append(t[2].reshape((t[2].shape[0],) + (1,) * spatial))
        return _sum_tangents(parts)
    return rule


jvp("conv")(_conv_like(OPS["conv"]))
jvp("conv_transpose")(_conv_like(OPS["conv_transpose"]))


@jvp("max_pool")
def _max_pool(x, t, out, attrs):
    values, indices = out
    k = len(attrs["kernel"])
    lead = tuple(x[0].shape[:x[0].ndim - k])
    flat = t[0].reshape(lead + (-1,))
    picked = call(OPS["gather"], flat, indices.reshape(lead + (-1,)), dim=len(lead))
    return picked.reshape(tuple(values.shape)), None


@jvp("layer_norm")
def _layer_norm(x, t, out, attrs):
    inp, w, b = x
    tx, tw, tb = t
    y, mean, rstd = out
    k = attrs["normalized_ndim"]
    dims = tuple(range(inp.ndim - k, inp.ndim))
    keep = tuple(mean.shape) + (1,) * k
    work = inp.to(mean.dtype) if inp.dtype is not mean.dtype else inp
    mu, r = mean.reshape(keep), rstd.reshape(keep)
    centered = work - mu
    xhat = centered * r
    tangent_y, tangent_mean, tangent_rstd = None, None, None
    if tx is not None:
        tx = tx.to(mean.dtype) if tx.dtype is not mean.dtype else tx
        tmu = red.mean(tx, dims, keepdim=True)
        dc = tx - tmu
        tr = -(r * r * r) * red.mean(centered * dc, dims, keepdim=True)
        dxhat = dc * r + centered * tr
        tangent_y = dxhat if w is None else dxhat * w
        tangent_mean, tangent_rstd = tmu.reshape(tuple(mean.shape)), tr.reshape(tuple(rstd.shape))
    if tw is not None:
        tangent_y = _sum_tangents((tangent_y, xhat * tw))
    if tb is not None:
        tangent_y = _sum_tangents((tangent_y, tb.expand(*y.shape)))
    if tangent_y is not None and tangent_y.dtype is not y.dtype:
        tangent_y = tangent_y.to(y.dtype)
    return tangent_y, tangent_mean, tangent_rstd


# ---------------------------------------------------------------- the double-vjp fallback
def _inner(a: Tensor, b: Tensor):
    """The real inner product <a, b> = Re(sum(conj(a) b))."""
    if a.dtype.is_complex or b.dtype.is_complex:
        return red.sum(cx.real(cx.conj_physical(a) * b))
    return red.sum(a * b)


def _double_vjp(x, t, out, attrs, op):
    """``J v = d/du <J^T u, v>``: the backward rule applied to a cotangent ``u`` that requires grad,
    paired with the tangents, differentiated with respect to ``u``. The saved inputs are the call's
    own, so the result is differentiable again when reverse mode records it."""
    outs = out if type(out) is tuple else (out,)
    several = type(out) is tuple and getattr(op.rule, "all_outputs", False)
    us = []
    for o in (outs if several else outs[:1]):
        if o.dtype.is_floating_point or o.dtype.is_complex:
            us.append(make_tensor(creation.zeros_like(o)._data, o.dtype, o.device, True))
        else:
            us.append(None)
    needs = tuple(ti is not None for ti in t)
    keep_graph = GRAD_MODE.enabled and any(isinstance(v, Tensor) and v._rg for v in (*x, *t))
    prev = GRAD_MODE.enabled
    GRAD_MODE.enabled = True
    try:
        node = _FakeNode(x, out, attrs, needs)
        grads = op.rule(node, tuple(us) if several else us[0])
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        total = None
        for g, ti, xi in zip(grads, t, x):
            if g is None or ti is None:
                continue
            if g._data.shape != xi._data.shape:
                g = sum_to_shape(g, xi._data.shape)
            term = _inner(g, ti)
            total = term if total is None else total + term
        wrt = [u for u in us if u is not None]
        if total is None or not total._rg:
            return tuple(_zero(o) if u is not None else None for o, u in zip(outs, us)) if several else _zero(outs[0])
        found = run_backward([total], [creation.ones_like(total)], inputs=wrt, allow_unused=True,
                             create_graph=keep_graph, accumulate=False)
    finally:
        GRAD_MODE.enabled = prev
    found = iter(found)
    results = []
    for o, u in zip(outs if several else outs[:1], us):
        if u is None:
            results.append(None)
            continue
        g = next(found)
        results.append(g if g is not None else _zero(o))
    if several:
        return tuple(results)
    if type(out) is tuple:
        return (results[0],) + (None,) * (len(outs) - 1)
    return results[0]


def _double_vjp_rule(op):
    def rule(x, t, out, attrs):
        return _double_vjp(x, t, out, attrs, op)
    return rule


#: the ops whose JVP is the double-vjp fallback (for reports and tests)
DOUBLE_VJP = tuple(sorted(n for n, o in OPS.items() if o.rule is not None and o.jvp is None))
for _name in DOUBLE_VJP:
    OPS[_name].jvp = _double_vjp_rule(OPS[_name])
del _name, _d
