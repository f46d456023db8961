"""One backward rule per differentiable primitive (and fused composite), written in ember ops.

A rule receives the graph node (saved inputs/output, attributes, input shapes) and
the gradient of the output, and returns one gradient per input (None where there is
none). Because rules are ember ops they run on any backend and are themselves
differentiable, which gives double backward. Broadcast inputs are handled by the
engine: a gradient is summed back to its input's shape after the rule returns.
"""
from __future__ import annotations

import math

from ember.core import dtype
from ember.core.autograd import GRAD_MODE, Rule
from ember.core.call import call, sum_to_shape, write_inplace
from ember.dispatch.keys import ACTIVE, BATCHED, BATCHED_HOOKS
from ember.core.tensor import Tensor
from ember.dispatch.ops import INDEX_SLOT, OPS
from ember.dispatch.table import DECOMPOSE, resolve
from ember.ops import convolution, creation, indexing, linalg, pooling, shape
from ember.ops import complex as cx
from ember.ops import elementwise as ew
from ember.ops import reduction as red


def derivative(*names, inputs=(), output=False):
    """Register the decorated function as the backward rule of ops ``names``.

    Args:
        names: op names of ``ember.dispatch.ops.OPS``.
        inputs: positions of the inputs the rule reads (saved at forward time).
        output: whether the rule reads the op's output (saved too).
    """
    def register(fn):
        for name in names:
            camel = "".join(part.capitalize() for part in name.split("_"))
            OPS[name].rule = Rule(fn, f"{camel}Backward0", frozenset(inputs), output)
        return fn
    return register


def _x(node, i=0):
    return node.saved_input(i)


def _out(node):
    return node.saved_output()


def _conj(t):
    """``t``'s complex conjugate; a real tensor (or number) itself. For holomorphic ops PyTorch's
    gradient is ``g * conj(f'(z))`` (the conjugate Wirtinger derivative), which is ``g * f'(x)`` on reals."""
    if isinstance(t, Tensor):
        return cx.conj_physical(t) if t.dtype.is_complex else t
    return t.conjugate() if isinstance(t, complex) else t


# ---------------------------------------------------------------- unary
@derivative("neg")
def _neg(node, g):
    return (ew.neg(g),)


@derivative("abs", inputs=(0,))
def _abs(node, g):
    return (g * cx.sgn(_x(node)),)  # complex: g * z / |z|


@derivative("sign", "floor", "ceil", "trunc", "round")
def _zero_grad(node, g):
    return (creation.zeros_like(g),)


@derivative("sqrt", output=True)
def _sqrt(node, g):
    return (g / (2 * _conj(_out(node))),)


@derivative("rsqrt", output=True)
def _rsqrt(node, g):
    out = _out(node)
    return (-0.5 * g * _conj(out * out * out),)


@derivative("exp", output=True)
def _exp(node, g):
    return (g * _conj(_out(node)),)


@derivative("exp2", output=True)
def _exp2(node, g):
    return (g * _conj(_out(node)) * math.log(2.0),)


@derivative("expm1", output=True)
def _expm1(node, g):
    return (g * _conj(_out(node) + 1),)


@derivative("log", inputs=(0,))
def _log(node, g):
    return (g / _conj(_x(node)),)


@derivative("log2", inputs=(0,))
def _log2(node, g):
    return (g / (_conj(_x(node)) * math.log(2.0)),)


@derivative("log10", inputs=(0,))
def _log10(node, g):
    return (g / (_conj(_x(node)) * math.log(10.0)),)


@derivative("log1p", inputs=(0,))
def _log1p(node, g):
    return (g / _conj(_x(node) + 1),)


@derivative("sin", inputs=(0,))
def _sin(node, g):
    return (g * _conj(ew.cos(_x(node))),)


@derivative("cos", inputs=(0,))
def _cos(node, g):
    return (-g * _conj(ew.sin(_x(node))),)


@derivative("tan", output=True)
def _tan(node, g):
    out = _out(node)
    return (g * _conj(1 + out * out),)


@derivative("asin", inputs=(0,))
def _asin(node, g):
    x = _x(node)
    return (g * _conj(ew.rsqrt(1 - x * x)),)


@derivative("acos", inputs=(0,))
def _acos(node, g):
    x = _x(node)
    return (-g * _conj(ew.rsqrt(1 - x * x)),)


@derivative("atan", inputs=(0,))
def _atan(node, g):
    x = _x(node)
    return (g / _conj(1 + x * x),)


@derivative("sinh", inputs=(0,))
def _sinh(node, g):
    return (g * _conj(ew.cosh(_x(node))),)


@derivative("cosh", inputs=(0,))
def _cosh(node, g):
    return (g * _conj(ew.sinh(_x(node))),)


@derivative("asinh", inputs=(0,))
def _asinh(node, g):
    x = _x(node)
    return (g * _conj(ew.rsqrt(x * x + 1)),)


@derivative("acosh", inputs=(0,))
def _acosh(node, g):
    x = _x(node)
    return (g * _conj(ew.rsqrt(x * x - 1)),)


@derivative("atanh", inputs=(0,))
def _atanh(node, g):
    x = _x(node)
    return (g / _conj(1 - x * x),)


@derivative("tanh", output=True)
def _tanh(node, g):
    out = _out(node)
    return (g * _conj(1 - out * out),)


@derivative("sigmoid", output=True)
def _sigmoid(node, g):
    out = _out(node)
    return (g * _conj(out * (1 - out)),)


@derivative("relu", output=True)
def _relu(node, g):
    y = _out(node)
    if not GRAD_MODE.enabled:  # no create_graph: the device's one-pass kernel, if any
        fused = OPS["relu_backward"]
        if resolve(fused, g.device.type) is not DECOMPOSE:
            return (call(fused, g, y),)
    return (_relu_backward_reference(g, y),)


def _relu_backward_reference(g, y):
    """The ``relu_backward`` composite in ember ops: 0 where ``y <= 0``, else ``g``."""
    return ew.where(y <= 0, creation.zeros_like(g), g)


OPS["relu_backward"].decomposition = _relu_backward_reference


@derivative("erf", inputs=(0,))
def _erf(node, g):
    x = _x(node)
    return (g * (2.0 / math.sqrt(math.pi)) * ew.exp(-(x * x)),)


@derivative("erfinv", output=True)
def _erfinv(node, g):
    out = _out(node)
    return (g * (math.sqrt(math.pi) / 2.0) * ew.exp(out * out),)


@derivative("reciprocal", output=True)
def _reciprocal(node, g):
    out = _out(node)
    return (-g * _conj(out * out),)


@derivative("cast")
def _cast(node, g):
    return (g,)  # the engine casts it back to the input's dtype


# ---------------------------------------------------------------- binary
def _is_tensor(v):
    return isinstance(v, Tensor)


@derivative("add")
def _add(node, g):
    return g, g


@derivative("sub")
def _sub(node, g):
    return g, ew.neg(g)


@derivative("mul", inputs=(0, 1))
def _mul(node, g):
    a, b = _x(node, 0), _x(node, 1)
    return (g * _conj(b) if node.needs_grad(0) else None), (g * _conj(a) if node.needs_grad(1) else None)


@derivative("div", inputs=(1,), output=True)
def _div(node, g):
    b = _x(node, 1)
    grad_a = g / _conj(b)
    return grad_a, (-grad_a * _conj(_out(node)) if node.needs_grad(1) else None)


@derivative("div_rounding")
def _div_rounding(node, g):
    return creation.zeros_like(g), creation.zeros_like(g)


@derivative("pow", inputs=(0, 1), output=True)
def _pow(node, g):
    base, exponent = _x(node, 0), _x(node, 1)
    grad_base = None
    if node.needs_grad(0):
        # x ** 0 has derivative 0 everywhere, including at x == 0
        grad_base = g * _conj(exponent * ew.pow(base, exponent - 1))
        if _is_tensor(exponent):
            grad_base = ew.where(exponent == 0, 0.0, grad_base)
        elif exponent == 0:
            grad_base = creation.zeros_like(g)
    grad_exp = None
    if node.needs_grad(1) and _is_tensor(base) and base.dtype.is_complex:
        grad_exp = g * _conj(_out(node) * ew.log(base))
    elif node.needs_grad(1):
        out = _out(node)
        safe_log = ew.log(ew.where(base > 0, base, 1.0)) if _is_tensor(base) else math.log(base) if base > 0 else 0.0
        term = g * _conj(out * safe_log)
        grad_exp = ew.where((base == 0) & (cx.real(exponent) >= 0), 0.0, term) if _is_tensor(base) else term
    return grad_base, grad_exp


@derivative("atan2", inputs=(0, 1))
def _atan2(node, g):
    y, x = _x(node, 0), _x(node, 1)
    denom = x * x + y * y
    return g * x / denom, -g * y / denom


@derivative("remainder", inputs=(0, 1))
def _remainder(node, g):
    a, b = _x(node, 0), _x(node, 1)
    return g, (-g * ew.floor(a / b) if node.input_meta[1] is not None else None)


@derivative("fmod", inputs=(0, 1))
def _fmod(node, g):
    a, b = _x(node, 0), _x(node, 1)
    return g, (-g * ew.trunc(a / b) if node.input_meta[1] is not None else None)


def _select_extreme(node, g, pick_first):
    a, b = _x(node, 0), _x(node, 1)
    # ties split the gradient evenly, as PyTorch does
    share = ew.where(pick_first, 1.0, ew.where(a == b, 0.5, 0.0))
    return g * share, g * (1 - share)


@derivative("maximum", inputs=(0, 1))
def _maximum(node, g):
    return _select_extreme(node, g, _x(node, 0) > _x(node, 1))


@derivative("minimum", inputs=(0, 1))
def _minimum(node, g):
    return _select_extreme(node, g, _x(node, 0) < _x(node, 1))


@derivative("where", inputs=(0,))
def _where(node, g):
    cond = _x(node, 0)
    return (None, ew.where(cond, g, 0.0) if node.needs_grad(1) else None,
            ew.where(cond, 0.0, g) if node.needs_grad(2) else None)


# ---------------------------------------------------------------- reductions and scans
def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _unreduce(g, node, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dims."""
    shape = node.input_shape(0)
    if g._data.shape == shape:
        return g
    if g.numel() == _numel(shape):  # only size-1 dims were reduced: a reshape restores them
        return g.reshape(shape)
    if not keepdim:
        kept = list(g.shape)
        for d in sorted(dims or range(len(shape))):
            kept.insert(d, 1)
        g = g.reshape(tuple(kept))
    return g.expand(shape)


@derivative("sum")
def _sum(node, g):
    return (_unreduce(g, node, node.attrs["dims"], node.attrs["keepdim"]),)


@derivative("prod", inputs=(0,))
def _prod(node, g):
    x = _x(node)
    dims, keepdim = node.attrs["dims"], node.attrs["keepdim"]
    all_dims = dims or tuple(range(x.ndim))
    is_zero = x == 0
    nonzero = ew.where(is_zero, 1.0, x)
    prod_nonzero = call(OPS["prod"], nonzero, dims=all_dims, keepdim=True)
    zeros = red.sum(is_zero, all_dims, keepdim=True)
    # no zero: prod/x; one zero: the product of the others at the zero; more: nothing
    share = ew.where(zeros == 0, prod_nonzero / nonzero, ew.where((zeros == 1) & is_zero, prod_nonzero, 0.0))
    return (_unreduce(g, node, dims, keepdim) * _conj(share),)


def _extreme_rule(node, g):
    x, out = _x(node), _out(node)
    dims, keepdim = node.attrs["dims"], node.attrs["keepdim"]
    out = _unreduce(out, node, dims, keepdim)
    hits = x == out
    count = red.sum(hits, dims or tuple(range(x.ndim)), keepdim=True)
    return (_unreduce(g, node, dims, keepdim) * hits / count,)


derivative("amax", "amin", inputs=(0,), output=True)(_extreme_rule)


@derivative("cumsum")
def _cumsum(node, g):
    dim = node.attrs["dim"]
    if g.ndim == 0:
        return (g,)
    return (shape.flip(red.cumsum(shape.flip(g, (dim,)), dim), (dim,)),)


@derivative("cumprod", inputs=(0,), output=True)
def _cumprod(node, g):
    x, out = _x(node), _out(node)
    dim = node.attrs["dim"]
    if g.ndim == 0:
        return (g,)
    if not bool(red.any(x == 0)):
        # d out_j / d x_i = out_j / x_i for j >= i (inputs without zeros)
        tail = shape.flip(red.cumsum(shape.flip(g * _conj(out), (dim,)), dim), (dim,))
        return (tail / _conj(x),)
    # with zeros out_j / x_i is 0/0: form each product leaving one x_i out, prod_{k<=j, k!=i} x_k
    n = x.shape[dim]
    xs, gs = x.movedim(dim, -1), g.movedim(dim, -1)
    eye = creation.eye(n, dtype=x.dtype, device=x.device) == 1
    left_out = red.cumprod(ew.where(eye, 1.0, xs.unsqueeze(-2)), -1)    # [..., i, j]
    later = shape.triu(creation.ones(n, n, dtype=x.dtype, device=x.device))      # j >= i
    return (red.sum(_conj(left_out) * later * gs.unsqueeze(-2), -1).movedim(-1, dim),)


# ---------------------------------------------------------------- linear algebra
@derivative("matmul", inputs=(0, 1))
def _matmul(node, g):
    a, b = _x(node, 0), _x(node, 1)
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    g2 = g
    if b.ndim == 1:  # first: when both are 1-d, g is 0-d and becomes (1, 1)
        g2 = g2.unsqueeze(-1)
    if a.ndim == 1:
        g2 = g2.unsqueeze(-2)
    grad_a = grad_b = None
    if node.needs_grad(0):
        grad_a = sum_to_shape(linalg.matmul(g2, _conj(b2.mT)), a2.shape).reshape(a.shape)
    if node.needs_grad(1):
        strides = getattr(b._data, "strides", None)  # (arrays that have strides: numpy, cupy)
        if a2.ndim == 2 and b.ndim == 2 and strides is not None and strides[0] == b.dtype.itemsize != strides[1]:
            # a column-major b (linear's weight.t()): its gradient in its own layout, as PyTorch's
            # mm backward gives it, so that the weight's .grad comes out row-major, with no copy
            grad_b = linalg.matmul(g2.mT, _conj(a2)).mT
        else:
            grad_b = sum_to_shape(linalg.matmul(_conj(a2.mT), g2), b2.shape).reshape(b.shape)
    return grad_a, grad_b


@derivative("einsum", inputs=(0, 1, 2, 3, 4, 5, 6, 7))
def _einsum(node, g):
    lhs, out_subs = node.attrs["equation"].split("->")
    terms = lhs.split(",")
    operands = [_x(node, i) for i in range(len(terms))]
    grads = []
    for i, term in enumerate(terms):
        others = [(t, o) for j, (t, o) in enumerate(zip(terms, operands)) if j != i]
        grads.append(_einsum_operand_grad(g, out_subs, others, term, operands[i].shape))
    return tuple(grads)


def _einsum_operand_grad(g, out_subs, others, term, shape):
    import string
    size = dict(zip(term, shape))
    present = set(out_subs).union(*(set(t) for t, _ in others))
    unique = "".join(dict.fromkeys(term))
    reachable = "".join(c for c in unique if c in present)
    inputs = [out_subs] + [t for t, _ in others]
    grad = linalg.einsum(",".join(inputs) + "->" + reachable, g, *[_conj(o) for _, o in others])
    # letters only this operand sums over: the gradient is constant along them
    for pos, c in enumerate(unique):
        if c not in present:
            grad = grad.unsqueeze(pos).expand(*grad.shape[:pos], size[c], *grad.shape[pos + 1:])
    if unique == term:
        return grad
    # repeated letters (a diagonal): spread with identity matrices on fresh letters
    spare = iter(c for c in string.ascii_letters if c not in term)
    seen, renamed, eyes = set(), [], []
    for c in term:
        if c in seen:
            fresh = next(spare)
            renamed.append(fresh)
            eyes.append((c + fresh, creation.eye(size[c], dtype=g.dtype, device=g.device)))
        else:
            seen.add(c)
            renamed.append(c)
    equation = ",".join([unique] + [e for e, _ in eyes]) + "->" + "".join(renamed)
    return linalg.einsum(equation, grad, *[m for _, m in eyes])


# ---------------------------------------------------------------- views
@derivative("view")
def _view(node, g):
    return (g.reshape(node.input_shape(0)),)


@derivative("permute")
def _permute(node, g):
    dims = node.attrs["dims"]
    inverse = [0] * len(dims)
    for i, d in enumerate(dims):
        inverse[d] = i
    return (shape.permute(g, tuple(inverse)),)


@derivative("expand")
def _expand(node, g):
    return (g,)  # the engine sums it back to the input's shape


def _scatter_into_zeros(node, g, view_op, **attrs):
    z = creation.zeros(node.input_shape(0), dtype=g.dtype, device=g.device)
    if ACTIVE.modes and BATCHED in ACTIVE.keys:  # a batched g (ember.func.vmap) needs batched zeros
        z = BATCHED_HOOKS.batch_like(z, g)
    write_inplace(call(view_op, z, **attrs), g)
    return (z,)


@derivative("view_dtype")
def _view_dtype(node, g):
    # differentiable only between a complex tensor and its pairs of reals (view_as_real, .real, .imag,
    # view_as_complex): the same bytes read back the other way
    source = node.input_dtype(0)
    if source.is_complex == g.dtype.is_complex:
        return (None,)
    shape = node.input_shape(0)
    if source.is_complex:  # g: (*shape[:-1], 2 * shape[-1]) reals
        return (call(OPS["view_dtype"], g.contiguous(), dtype=source),)
    pairs = call(OPS["view_dtype"], g.contiguous(), dtype=source)
    return (pairs.reshape(shape),)


@derivative("basic_index")
def _basic_index(node, g):
    return _scatter_into_zeros(node, g, OPS["basic_index"], key=node.attrs["key"])


@derivative("diagonal")
def _diagonal(node, g):
    return _scatter_into_zeros(node, g, OPS["diagonal"], **node.attrs)


@derivative("as_strided")
def _as_strided(node, g):
    from ember.ops.strided import as_strided_backward
    return (as_strided_backward(g, node.input_shape(0), **node.attrs),)


# ---------------------------------------------------------------- copies and layout
@derivative("clone")
def _clone(node, g):
    return (g,)


@derivative("flip")
def _flip(node, g):
    return (shape.flip(g, node.attrs["dims"]),)


@derivative("roll")
def _roll(node, g):
    return (shape.roll(g, tuple(-s for s in node.attrs["shifts"]), node.attrs["dims"]),)


@derivative("cat")
def _cat(node, g):
    dim = node.attrs["dim"]
    sizes = [meta[0][dim] for meta in node.input_meta]
    return shape.split(g, sizes, dim)


@derivative("tril")
def _tril(node, g):
    return (shape.tril(g, node.attrs["diagonal"]),)


@derivative("triu")
def _triu(node, g):
    return (shape.triu(g, node.attrs["diagonal"]),)


# ---------------------------------------------------------------- indexing
@derivative("index", inputs=tuple(range(1, 33)))
def _index(node, g):
    indices = [_x(node, i) for i in range(1, len(node.input_meta))]
    z = creation.zeros(node.input_shape(0), dtype=g.dtype, device=g.device)
    grad = call(OPS["index_put"], z, g, *indices, key=node.attrs["key"], accumulate=True)
    return (grad,) + (None,) * len(indices)


@derivative("index_put", inputs=tuple(range(2, 34)))
def _index_put(node, g):
    indices = [_x(node, i) for i in range(2, len(node.input_meta))]
    key = node.attrs["key"]
    grad_values = call(OPS["index"], g, *indices, key=key)
    if node.attrs["accumulate"]:
        grad_x = g
    else:
        grad_x = call(OPS["index_put"], creation.clone(g), creation.zeros((), dtype=g.dtype, device=g.device), *indices,
                      key=key, accumulate=False)
    return (grad_x, grad_values) + (None,) * len(indices)


@derivative("gather", inputs=(1,))
def _gather(node, g):
    index = _x(node, 1)
    z = creation.zeros(node.input_shape(0), dtype=g.dtype, device=g.device)
    return indexing.scatter(z, node.attrs["dim"], index, g, reduce="add"), None


@derivative("scatter", inputs=(1,))
def _scatter(node, g):
    index = _x(node, 1)
    dim, reduce = node.attrs["dim"], node.attrs["reduce"]
    if reduce is None:
        return indexing.scatter(g, dim, index, value=0.0), None, indexing.gather(g, dim, index)
    if reduce == "add":
        return g, None, indexing.gather(g, dim, index)
    raise NotImplementedError(f"the derivative of scatter with reduce='{reduce}' is not implemented in ember; "
                              f"use reduce='add' or None")


@derivative("sort")
def _sort(node, g):
    indices = node.extra_outputs[0]
    z = creation.zeros(node.input_shape(0), dtype=g.dtype, device=g.device)
    return (indexing.scatter(z, node.attrs["dim"], indices, g),)


# ---------------------------------------------------------------- fused composites
@derivative("softmax", output=True)
def _softmax(node, g):
    out = _out(node)
    dim = node.attrs["dim"]
    return (out * (g - red.sum(g * out, dim, keepdim=True)),)


@derivative("log_softmax", output=True)
def _log_softmax(node, g):
    out = _out(node)
    dim = node.attrs["dim"]
    return (g - ew.exp(out) * red.sum(g, dim, keepdim=True),)


# The conv rules are conv / conv_transpose calls again (built by ember.ops.convolution), so a
# backend's fused kernels also run the backward pass, and the rules differentiate in turn.
@derivative("conv", inputs=(0, 1))
def _conv(node, g):
    C = convolution
    x, w = _x(node, 0), _x(node, 1)
    a = node.attrs
    geometry = dict(stride=a["stride"], padding=a["padding"], dilation=a["dilation"], groups=a["groups"])
    grad_x = C.conv_input_grad(g, w, x.shape, **geometry) if node.needs_grad(0) else None
    grad_w = C.conv_weight_grad(x, g, w.shape[2:], **geometry) if node.needs_grad(1) else None
    grad_b = C.bias_grad(g) if node.needs_grad(2) else None
    return grad_x, grad_w, grad_b


@derivative("conv_transpose", inputs=(0, 1))
def _conv_transpose(node, g):
    C = convolution
    x, w = _x(node, 0), _x(node, 1)
    a = node.attrs
    geometry = dict(stride=a["stride"], padding=a["padding"], dilation=a["dilation"], groups=a["groups"])
    grad_x = C.conv_transpose_input_grad(g, w, x.shape, **geometry) if node.needs_grad(0) else None
    grad_w = C.conv_weight_grad(g, x, w.shape[2:], **geometry) if node.needs_grad(1) else None
    grad_b = C.bias_grad(g) if node.needs_grad(2) else None
    return grad_x, grad_w, grad_b


@derivative("max_pool")
def _max_pool(node, g):
    a = node.attrs
    if not GRAD_MODE.enabled:  # no create_graph: the device's fused backward, if any
        fused = OPS["max_pool_backward"]
        if resolve(fused, g.device.type) is not DECOMPOSE:
            return (call(fused, g, node.extra_outputs[0], input_shape=tuple(node.input_shape(0)),
                         kernel=a["kernel"], stride=a["stride"], dilation=a["dilation"]),)
    return (pooling.max_pool_input_grad(g, node.extra_outputs[0], node.input_shape(0), kernel=a["kernel"],
                                stride=a["stride"], dilation=a["dilation"]),)


del INDEX_SLOT


# The rules of the fused gelu and layer_norm recompute what they need from the saved input
# in ember ops, so that they differentiate again (double backward) like the decompositions.
@derivative("gelu", inputs=(0,))
def _gelu(node, g):
    x = _x(node)
    if node.attrs["approximate"] == "tanh":
        k = math.sqrt(2.0 / math.pi)
        t = ew.tanh((x + x * x * x * 0.044715) * k)
        slope = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3 * 0.044715 * x * x)
    else:
        cdf = 0.5 * (ew.erf(x * (1.0 / math.sqrt(2.0))) + 1.0)
        slope = cdf + x * ew.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
    return (g * slope,)


@derivative("layer_norm", inputs=(0, 1))
def _layer_norm(node, g):
    x, w = _x(node, 0), _x(node, 1)
    k = node.attrs["normalized_ndim"]
    if not GRAD_MODE.enabled and node.extra_outputs:  # no create_graph: the device's fused backward, if any
        fused = OPS["layer_norm_backward"]
        if resolve(fused, x.device.type) is not DECOMPOSE:
            grad_x, grad_w, grad_b = call(fused, g, x, w, *node.extra_outputs, normalized_ndim=k)
            return (grad_x if node.needs_grad(0) else None,
                    grad_w if w is not None and node.needs_grad(1) else None,
                    grad_b if node.needs_grad(2) else None)
    half = x.dtype in (dtype.float16, dtype.bfloat16)
    work, gy = (x.float(), g.float()) if half else (x, g)
    dims = tuple(range(x.ndim - k, x.ndim))
    centered = work - red.mean(work, dims, keepdim=True)
    rstd = ew.rsqrt(red.mean(centered * centered, dims, keepdim=True) + node.attrs["eps"])
    xhat = centered * rstd
    gxhat = gy if w is None else gy * w
    grad_x = rstd * (gxhat - red.mean(gxhat, dims, keepdim=True)
                     - xhat * red.mean(gxhat * xhat, dims, keepdim=True)) if node.needs_grad(0) else None
    # the engine sums these over the leading dims back to the shapes of weight and bias
    grad_w = gy * xhat if w is not None and node.needs_grad(1) else None
    grad_b = gy if node.needs_grad(2) else None
    return grad_x, grad_w, grad_b


def _layer_norm_backward_reference(g, x, weight, mean, rstd, *, normalized_ndim):
    """The ``layer_norm_backward`` composite: the gradients from the saved statistics, in ember ops."""
    half = x.dtype in (dtype.float16, dtype.bfloat16)
    work, gy = (x.float(), g.float()) if half else (x, g)
    dims = tuple(range(x.ndim - normalized_ndim, x.ndim))
    lead = tuple(range(x.ndim - normalized_ndim))
    keep = tuple(mean.shape) + (1,) * normalized_ndim
    rstd = rstd.reshape(keep)
    xhat = (work - mean.reshape(keep)) * rstd
    gxhat = gy if weight is None else gy * weight
    grad_x = rstd * (gxhat - red.mean(gxhat, dims, keepdim=True) - xhat * red.mean(gxhat * xhat, dims, keepdim=True))
    param = x.dtype if weight is None else weight.dtype
    grad_w = red.sum(gy * xhat, lead) if lead else gy * xhat
    grad_b = red.sum(gy, lead) if lead else gy
    return grad_x.to(x.dtype), grad_w.to(param), grad_b.to(param)


OPS["layer_norm_backward"].decomposition = _layer_norm_backward_reference

