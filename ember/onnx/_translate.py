"""Translating captured graph nodes to ONNX nodes: one function per op-table op or recorded function.

Each translation gets a ``Context`` (the node, its arguments with dynamic integers as ``SymInt``,
the values and dtypes of its inputs) and returns the ONNX value name of the result (a list of
names for ops with several outputs). Ops without a translation raise ``UnsupportedOperatorError``
naming the op and the node.
"""
from __future__ import annotations

import math
import operator

import numpy as np

from ember.core import dtype as dt
from ember.core.call import write_inplace
from ember.core.transfer import create, from_host, to_device
from ember.dispatch.ops import INDEX_SLOT, OpDef
from ember.fx.capture import expect_shape, expect_value
from ember.fx.graph import Node
from ember.onnx._dynamic import SymInt
from ember.onnx._emitter import INT64_MAX, INT64_MIN, onnx_type
from ember.onnx.errors import OnnxExporterError, UnsupportedOperatorError
from ember.ops.creation import _memory_alias
from ember.ops.indexing import _index_put_inplace
from ember.ops.random import _draw


class Context:
    """What a translation sees of one node."""

    def __init__(self, em, node, args, kwargs, env, shapes):
        self.em, self.node, self.args, self.kwargs = em, node, args, kwargs
        self._env, self._shapes = env, shapes
        val = node.meta.get("val")
        self.out_dtype = val[1] if val is not None else None
        self.out_shape = self.shape(node) if val is not None else None

    def v(self, a) -> str:
        """The ONNX value of a node argument."""
        value = self._env[a.name]
        if isinstance(value, list):
            raise OnnxExporterError(f"graph node {a.name} has several outputs; expected one ({self.node.name})")
        return value

    def dtype(self, a):
        return a.meta["val"][1] if isinstance(a, Node) else None

    def shape(self, a) -> tuple:
        """The traced shape of a node's value, with ``SymInt`` where a dimension follows a dynamic one."""
        return self._shapes.get(a.name) or tuple(a.meta["val"][0])

    def operand(self, a, d) -> str:
        """A tensor argument cast to ``d``, or a Python scalar as a constant of ``d``."""
        if isinstance(a, Node):
            return self.em.cast(self.v(a), self.dtype(a), d)
        if isinstance(a, SymInt):   # a number that follows a dynamic size (a mean's count): computed at run time
            return self.em.cast(self.em.int_scalar(a), dt.int64, d)
        return self.em.scalar(a, d)

    def unsupported(self, supported_version=None):
        return UnsupportedOperatorError(op_name(self.node.target), self.em.opset, supported_version, self.node)


def op_name(target) -> str:
    if isinstance(target, OpDef):
        return target.name
    return getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)


TRANSLATIONS = {}   # op-table name or recorded function -> translation


def translates(*keys):
    def register(fn):
        for key in keys:   # recorded functions appear in graphs undecorated
            TRANSLATIONS[getattr(key, "__untraced__", key)] = fn
        return fn
    return register


def translation_of(target):
    key = target.name if isinstance(target, OpDef) else getattr(target, "__untraced__", target)
    return TRANSLATIONS.get(key)


def _untraced(target):
    return getattr(target, "__untraced__", target)


def _axis(d, ndim):
    return d + ndim if d < 0 else d


# ---------------------------------------------------------------- elementwise
_UNARY = {"sqrt": "Sqrt", "exp": "Exp", "log": "Log", "sin": "Sin", "cos": "Cos", "tan": "Tan", "asin": "Asin",
          "acos": "Acos", "atan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "tanh": "Tanh", "asinh": "Asinh",
          "acosh": "Acosh", "atanh": "Atanh", "sigmoid": "Sigmoid", "erf": "Erf", "reciprocal": "Reciprocal",
          "neg": "Neg", "sign": "Sign", "abs": "Abs", "relu": "Relu", "isnan": "IsNaN", "isinf": "IsInf"}


def _unary(op_type):
    def translate(c):
        x = c.args[0]
        d = c.dtype(x) if op_type in ("IsNaN", "IsInf") else c.out_dtype
        return c.em.op(op_type, [c.operand(x, d)])
    return translate


for _name, _op_type in _UNARY.items():
    TRANSLATIONS[_name] = _unary(_op_type)


@translates("rsqrt")
def _rsqrt(c):
    return c.em.op("Reciprocal", [c.em.op("Sqrt", [c.operand(c.args[0], c.out_dtype)])])


@translates("exp2")
def _exp2(c):
    return c.em.op("Pow", [c.em.scalar(2.0, c.out_dtype), c.operand(c.args[0], c.out_dtype)])


@translates("expm1")
def _expm1(c):
    d = c.out_dtype
    return c.em.op("Sub", [c.em.op("Exp", [c.operand(c.args[0], d)]), c.em.scalar(1, d)])


@translates("log1p")
def _log1p(c):
    d = c.out_dtype
    return c.em.op("Log", [c.em.op("Add", [c.operand(c.args[0], d), c.em.scalar(1, d)])])


@translates("log2", "log10")
def _log_base(c):
    d = c.out_dtype
    base = 2.0 if c.node.target.name == "log2" else 10.0
    return c.em.op("Div", [c.em.op("Log", [c.operand(c.args[0], d)]), c.em.scalar(math.log(base), d)])


@translates("erfc")
def _erfc(c):
    d = c.out_dtype
    return c.em.op("Sub", [c.em.scalar(1, d), c.em.op("Erf", [c.operand(c.args[0], d)])])


@translates("floor", "ceil", "trunc")
def _rounding(c):
    x, name = c.args[0], c.node.target.name
    if not c.dtype(x).is_floating_point:   # whole numbers already
        return c.em.op("Identity", [c.v(x)])
    if name != "trunc":
        return c.em.op(name.capitalize(), [c.v(x)])
    negative = c.em.op("Less", [c.v(x), c.em.scalar(0, c.dtype(x))])
    return c.em.op("Where", [negative, c.em.op("Ceil", [c.v(x)]), c.em.op("Floor", [c.v(x)])])


@translates("round")
def _round(c):
    x, decimals = c.args[0], c.kwargs.get("decimals", 0)
    if not c.dtype(x).is_floating_point:
        return c.em.op("Identity", [c.v(x)])
    if not decimals:
        return c.em.op("Round", [c.v(x)])
    scale = c.em.scalar(10.0 ** decimals, c.dtype(x))
    return c.em.op("Div", [c.em.op("Round", [c.em.op("Mul", [c.v(x), scale])]), scale])


@translates("logical_not")
def _logical_not(c):
    return c.em.op("Not", [c.operand(c.args[0], dt.bool_)])


@translates("bitwise_not")
def _bitwise_not(c):
    x = c.args[0]
    if c.dtype(x) == dt.bool_:
        return c.em.op("Not", [c.v(x)])
    if c.em.opset < 18:
        raise c.unsupported(18)
    return c.em.op("BitwiseNot", [c.v(x)])


_BINARY = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow", "maximum": "Max",
           "minimum": "Min", "fmod": "Mod"}


def _binary(op_type):
    def translate(c):
        d = c.out_dtype
        x, y = c.args[:2]
        attrs = {"fmod": 1} if op_type == "Mod" else {}
        if op_type == "Div" and not d.is_floating_point:   # integer division is only reached as div_rounding
            raise c.unsupported()
        return c.em.op(op_type, [c.operand(x, d), c.operand(y, d)], **attrs)
    return translate


for _name, _op_type in _BINARY.items():
    TRANSLATIONS[_name] = _binary(_op_type)


@translates("remainder")
def _remainder(c):
    d = c.out_dtype
    x, y = c.operand(c.args[0], d), c.operand(c.args[1], d)
    if not d.is_floating_point:   # Python's sign-of-divisor modulus
        return c.em.op("Mod", [x, y], fmod=0)
    q = c.em.op("Floor", [c.em.op("Div", [x, y])])
    return c.em.op("Sub", [x, c.em.op("Mul", [q, y])])


@translates("atan2")
def _atan2(c):
    d = c.out_dtype
    em = c.em
    y, x = c.operand(c.args[0], d), c.operand(c.args[1], d)
    zero = em.scalar(0, d)
    base = em.op("Atan", [em.op("Div", [y, x])])
    half_turn = em.op("Where", [em.compare("GreaterOrEqual", y, zero), em.scalar(math.pi, d), em.scalar(-math.pi, d)])
    left = em.op("Add", [base, half_turn])
    axis = em.op("Mul", [em.op("Sign", [y]), em.scalar(math.pi / 2, d)])
    on_axis = em.op("Where", [em.op("Equal", [x, zero]), axis, base])
    return em.op("Where", [em.op("Less", [x, zero]), left, on_axis])


@translates("div_rounding")
def _div_rounding(c):
    d = c.out_dtype
    em = c.em
    if d.is_floating_point:
        q = em.op("Div", [c.operand(c.args[0], d), c.operand(c.args[1], d)])
        return _rounded(c, q, d, c.kwargs["mode"])
    # integers: exact through float64 for |values| < 2**53
    q = em.op("Div", [c.operand(c.args[0], dt.float64), c.operand(c.args[1], dt.float64)])
    return em.cast(_rounded(c, q, dt.float64, c.kwargs["mode"]), dt.float64, d)


def _rounded(c, q, d, mode):
    if mode == "floor":
        return c.em.op("Floor", [q])
    negative = c.em.op("Less", [q, c.em.scalar(0, d)])
    return c.em.op("Where", [negative, c.em.op("Ceil", [q]), c.em.op("Floor", [q])])


def _operand_dtype(c):
    """The dtype comparison operands are compared in (a scalar takes the tensor's)."""
    ds = [c.dtype(a) for a in c.args[:2] if isinstance(a, Node)]
    return dt.promote_types(*ds) if len(ds) == 2 and ds[0] != ds[1] else ds[0]


_COMPARE = {"eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater", "ge": "GreaterOrEqual"}


def _compare(op_type):
    def translate(c):
        d = _operand_dtype(c)
        return c.em.compare(op_type, c.operand(c.args[0], d), c.operand(c.args[1], d))
    return translate


for _name, _op_type in _COMPARE.items():
    TRANSLATIONS[_name] = _compare(_op_type)


@translates("ne")
def _ne(c):
    d = _operand_dtype(c)
    return c.em.op("Not", [c.em.op("Equal", [c.operand(c.args[0], d), c.operand(c.args[1], d)])])


@translates("logical_and", "logical_or", "logical_xor")
def _logical(c):
    op_type = {"logical_and": "And", "logical_or": "Or", "logical_xor": "Xor"}[c.node.target.name]
    return c.em.op(op_type, [c.operand(c.args[0], dt.bool_), c.operand(c.args[1], dt.bool_)])


@translates("bitwise_and", "bitwise_or", "bitwise_xor")
def _bitwise(c):
    d = c.out_dtype
    if d == dt.bool_:
        op_type = {"bitwise_and": "And", "bitwise_or": "Or", "bitwise_xor": "Xor"}[c.node.target.name]
    else:
        if c.em.opset < 18:
            raise c.unsupported(18)
        op_type = {"bitwise_and": "BitwiseAnd", "bitwise_or": "BitwiseOr", "bitwise_xor": "BitwiseXor"}[
            c.node.target.name]
    return c.em.op(op_type, [c.operand(c.args[0], d), c.operand(c.args[1], d)])


@translates("where")
def _where(c):
    cond, x, y = c.args
    return c.em.where(c.operand(cond, dt.bool_), c.operand(x, c.out_dtype), c.operand(y, c.out_dtype),
                      c.out_dtype == dt.bool_)


@translates("cast")
def _cast(c):
    return c.em.op("Cast", [c.v(c.args[0])], to=onnx_type(c.kwargs["dtype"]))


# ---------------------------------------------------------------- reductions and scans
def _dims(c, x):
    dims = tuple(c.kwargs["dims"])
    return None if dims == () else dims


@translates("sum", "prod", "amax", "amin")
def _reduce(c):
    x = c.args[0]
    op_type = {"sum": "ReduceSum", "prod": "ReduceProd", "amax": "ReduceMax", "amin": "ReduceMin"}[
        c.node.target.name]
    return c.em.reduce(op_type, c.operand(x, c.out_dtype), _dims(c, x), c.kwargs["keepdim"])


@translates("all", "any")
def _all_any(c):
    x = c.args[0]
    as_int = c.em.cast(c.operand(x, dt.bool_), dt.bool_, dt.int32)
    op_type = "ReduceMin" if c.node.target.name == "all" else "ReduceMax"
    out = c.em.reduce(op_type, as_int, _dims(c, x), c.kwargs["keepdim"])
    return c.em.cast(out, dt.int32, dt.bool_)


@translates("argmax", "argmin")
def _argmax(c):
    x, dim, keepdim = c.args[0], c.kwargs["dim"], c.kwargs["keepdim"]
    op_type = "ArgMax" if c.node.target.name == "argmax" else "ArgMin"
    value = c.v(x)
    if dim is None:
        value = c.em.op("Reshape", [value, c.em.const(np.array([-1], np.int64))])
        out = c.em.op(op_type, [value], axis=0, keepdims=0)
        return c.em.op("Reshape", [out, c.em.ints(c.out_shape)]) if keepdim else out
    return c.em.op(op_type, [value], axis=int(dim), keepdims=int(keepdim))


@translates("cumsum")
def _cumsum(c):
    x = c.operand(c.args[0], c.out_dtype)
    return c.em.op("CumSum", [x, c.em.const(np.array(int(c.kwargs["dim"]), np.int64))])


# ---------------------------------------------------------------- linear algebra
@translates("matmul")
def _matmul(c):
    x, y = c.args[:2]
    # a Linear layer on a matrix (x @ weight.T, weight a parameter): Gemm with transB reads the weight as stored
    if isinstance(y, Node) and y.op == "call_function" and getattr(y.target, "name", None) == "permute" and \
            isinstance(y.args[0], Node) and y.args[0].op == "get_attr" and len(c.shape(y)) == 2 and \
            len(c.shape(x)) == 2 and c.dtype(x).is_floating_point:
        return c.em.op("Gemm", [c.v(x), c.v(y.args[0])], transB=1)
    return c.em.op("MatMul", [c.v(x), c.v(y)])


@translates("einsum")
def _einsum(c):
    if c.em.opset < 12:
        raise c.unsupported(12)
    return c.em.op("Einsum", [c.v(a) for a in c.args], equation=c.kwargs["equation"])


# ---------------------------------------------------------------- views and layout
def _shape_input(c, shape):
    """A Reshape/Expand target: one dynamic entry becomes -1 (the others fix it), else shape arithmetic."""
    dynamic = [i for i, s in enumerate(shape) if isinstance(s, SymInt)]
    if c.node.target.name == "view" and len(dynamic) == 1:
        shape = [(-1 if i == dynamic[0] else int(s)) for i, s in enumerate(shape)]
    return c.em.ints(shape)


@translates("view")
def _view(c):
    return c.em.op("Reshape", [c.v(c.args[0]), _shape_input(c, c.kwargs["shape"])])


@translates("expand")
def _expand(c):
    return c.em.op("Expand", [c.v(c.args[0]), c.em.ints(c.kwargs["shape"])])


@translates("permute")
def _permute(c):
    x = c.args[0]
    ndim = len(c.shape(x))
    perm = [_axis(int(d), ndim) for d in c.kwargs["dims"]]
    if perm == list(range(ndim)):
        return c.em.op("Identity", [c.v(x)])
    return c.em.op("Transpose", [c.v(x)], perm=perm)


@translates("basic_index")
def _basic_index(c):
    x, key = c.args[0], tuple(c.kwargs["key"])
    em = c.em
    shape = c.shape(x)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    d = out = 0
    for k in key:
        if k is None:
            unsqueeze.append(out)
            out += 1
        elif isinstance(k, slice):
            step = 1 if k.step is None else k.step
            start = k.start if k.start is not None else (0 if step > 0 else INT64_MAX)
            stop = k.stop if k.stop is not None else (INT64_MAX if step > 0 else INT64_MIN)
            full = step == 1 and start == 0 and (stop == INT64_MAX or (
                not isinstance(stop, SymInt) and not isinstance(shape[d], SymInt) and stop >= shape[d]))
            if not full:
                starts.append(start), ends.append(stop), axes.append(d), steps.append(step)
            d += 1
            out += 1
        elif k is Ellipsis:
            raise c.unsupported()
        else:
            i = int(k)
            if isinstance(k, SymInt):   # x[:, n - 1]: the end follows the size too
                if k.form[0] != "lin":
                    raise DynamicValueError(f"the index {i} at graph node {c.node.name} follows dynamic axes as a "
                                            f"product, which the export cannot slice by")
                end = SymInt(i + 1, k.form[:3] + (k.form[3] + 1,))
            else:
                end = INT64_MAX if i == -1 else i + 1
            starts.append(k), ends.append(end), axes.append(d), steps.append(1)
            squeeze.append(d)
            d += 1
    value = c.v(x)
    if axes:
        value = em.op("Slice", [value, em.ints(starts, "starts"), em.ints(ends, "ends"),
                                em.const(np.array(axes, np.int64), "axes"),
                                em.const(np.array(steps, np.int64), "steps")])
    if squeeze:
        value = em.squeeze(value, squeeze)
    if unsqueeze:
        value = em.unsqueeze(value, unsqueeze)
    return value if value != c.v(x) else em.op("Identity", [value])


@translates("clone")
def _clone(c):
    return c.em.op("Identity", [c.v(c.args[0])])


@translates("flip")
def _flip(c):
    x = c.args[0]
    dims = [int(d) for d in c.kwargs["dims"]]
    if not dims:
        return c.em.op("Identity", [c.v(x)])
    n = len(dims)
    return c.em.op("Slice", [c.v(x), c.em.const(np.full(n, -1, np.int64)), c.em.const(np.full(n, INT64_MIN, np.int64)),
                             c.em.const(np.array(dims, np.int64)), c.em.const(np.full(n, -1, np.int64))])


@translates("roll")
def _roll(c):
    x, shifts, dims = c.args[0], tuple(c.kwargs["shifts"]), tuple(c.kwargs["dims"])
    em = c.em
    shape = c.shape(x)
    value = c.v(x)
    if not dims:   # over the flattened tensor
        if any(isinstance(s, SymInt) for s in shape):
            raise OnnxExporterError(f"roll of a tensor with a dynamic axis cannot be exported (graph node {c.node.name})")
        flat = em.op("Reshape", [value, em.const(np.array([-1], np.int64))])
        n = math.prod(int(s) for s in shape)
        rolled = _roll_axis(em, flat, int(shifts[0]), 0, n)
        return em.op("Reshape", [rolled, em.ints(shape)])
    for shift, dim in zip(shifts, dims):
        size = shape[_axis(int(dim), len(shape))]
        if isinstance(size, SymInt):
            raise OnnxExporterError(f"roll along a dynamic axis cannot be exported (graph node {c.node.name})")
        value = _roll_axis(em, value, int(shift), int(dim), int(size))
    return value


def _roll_axis(em, value, shift, axis, size):
    shift %= size if size else 1
    if shift == 0:
        return value
    cut = size - shift
    ax = em.const(np.array([axis], np.int64))
    tail = em.op("Slice", [value, em.const(np.array([cut], np.int64)), em.const(np.array([size], np.int64)), ax])
    head = em.op("Slice", [value, em.const(np.array([0], np.int64)), em.const(np.array([cut], np.int64)), ax])
    return em.op("Concat", [tail, head], axis=axis)


@translates("cat")
def _cat(c):
    # PyTorch lets 1-d empty tensors join a cat of any rank: they contribute nothing
    rank = len(c.out_shape)
    tensors = [a for a in c.args if not (isinstance(a, Node) and rank > 1 and tuple(c.shape(a)) == (0,))]
    return c.em.op("Concat", [c.operand(a, c.out_dtype) for a in tensors], axis=int(c.kwargs["dim"]))


@translates("tril", "triu")
def _trilu(c):
    upper = c.node.target.name == "triu"
    if c.em.opset < 14:   # before Trilu: a mask of the (fixed) last two dims
        em = c.em
        shape = c.shape(c.args[0])
        diagonal = int(c.kwargs["diagonal"])
        x = c.v(c.args[0])
        if any(isinstance(s, SymInt) for s in shape[-2:]):   # the column - row offsets at run time
            zero, one = em.const(np.array(0, np.int64)), em.const(np.array(1, np.int64))
            rows, cols = (em.op("Range", [zero, em.int_scalar(s), one]) for s in shape[-2:])
            offset = em.op("Sub", [em.unsqueeze(cols, [0]), em.unsqueeze(rows, [1])])
            bound = em.const(np.array(diagonal, np.int64))
            keep = em.compare("GreaterOrEqual" if upper else "LessOrEqual", offset, bound)
        else:
            rows, cols = int(shape[-2]), int(shape[-1])
            offset = np.arange(cols)[None, :] - np.arange(rows)[:, None]
            keep = em.const(offset >= diagonal if upper else offset <= diagonal, "mask")
        return em.where(keep, x, em.scalar(0, c.dtype(c.args[0])), c.dtype(c.args[0]) == dt.bool_)
    k = c.em.const(np.array(int(c.kwargs["diagonal"]), np.int64))
    return c.em.op("Trilu", [c.v(c.args[0]), k], upper=int(upper))


# ---------------------------------------------------------------- indexing
def _stacked_indices(c, indices):
    """The index tensors broadcast together and stacked on a last axis (GatherND/ScatterND coordinates)."""
    em = c.em
    shapes = [c.shape(i) for i in indices]
    ndim = max(len(s) for s in shapes)
    bshape = []
    for axis in range(ndim):
        sizes = [s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0]
        bshape.append(max(sizes, key=lambda v: (int(v) != 1, isinstance(v, SymInt))))
    target = em.ints(bshape)
    parts = [em.unsqueeze(em.op("Expand", [em.cast(c.v(i), c.dtype(i), dt.int64), target]), [-1]) for i in indices]
    return (parts[0] if len(parts) == 1 else em.op("Concat", parts, axis=-1)), bshape


def _index_layout(c, x, key):
    """(positions of the index slots, the permutation that brings them first, whether numpy puts the indexed
    dims at the first slot's place)."""
    ndim = len(c.shape(x))
    slots = [i for i, k in enumerate(key) if k == INDEX_SLOT]
    rest = [d for d in range(ndim) if d not in slots]
    adjacent = slots == list(range(slots[0], slots[0] + len(slots)))
    return slots, slots + rest, adjacent


@translates("index")
def _index(c):
    x, indices, key = c.args[0], list(c.args[1:]), tuple(c.kwargs["key"])
    em = c.em
    slots, perm, adjacent = _index_layout(c, x, key)
    if len(slots) == 1:   # Gather puts the index's dims where the indexed dim was, as numpy does
        idx = indices[0]
        value = c.v(idx) if c.dtype(idx) in (dt.int64, dt.int32) else em.cast(c.v(idx), c.dtype(idx), dt.int64)
        return em.op("Gather", [c.v(x), value], axis=slots[0])
    coords, bshape = _stacked_indices(c, indices)
    value = c.v(x)
    if perm != list(range(len(perm))):
        value = em.op("Transpose", [value], perm=perm)
    out = em.op("GatherND", [value, coords])   # (*bshape, *rest dims)
    nb, first = len(bshape), slots[0]
    if adjacent and first > 0:
        rank = nb + len(perm) - len(slots)
        order = list(range(nb, nb + first)) + list(range(nb)) + list(range(nb + first, rank))
        out = em.op("Transpose", [out], perm=order)
    return out


def _index_put_value(c, x, values, indices, key, accumulate):
    em = c.em
    slots, perm, adjacent = _index_layout(c, x, key)
    xshape = c.shape(x)
    coords, bshape = _stacked_indices(c, indices)
    rest = [xshape[d] for d in perm[len(slots):]]
    nb, first = len(bshape), slots[0]
    # values broadcast to the indexing result's shape (numpy's layout), then brought to (*bshape, *rest)
    numpy_layout = (rest[:first] + bshape + rest[first:]) if adjacent and first > 0 else bshape + rest
    d = c.dtype(x)
    vals = em.op("Expand", [c.operand(values, d), em.ints(numpy_layout)])
    if adjacent and first > 0:
        order = list(range(first, first + nb)) + list(range(first)) + list(range(first + nb, len(numpy_layout)))
        vals = em.op("Transpose", [vals], perm=order)
    data = c.v(x)
    identity = perm == list(range(len(perm)))
    if not identity:
        data = em.op("Transpose", [data], perm=perm)
    if accumulate and em.opset < 16:
        raise c.unsupported(16)
    out = em.op("ScatterND", [data, coords, vals], reduction="add" if accumulate else None)
    if not identity:
        inverse = [perm.index(i) for i in range(len(perm))]
        out = em.op("Transpose", [out], perm=inverse)
    return out


@translates("index_put")
def _index_put(c):
    x, values, indices = c.args[0], c.args[1], list(c.args[2:])
    return _index_put_value(c, x, values, indices, tuple(c.kwargs["key"]), c.kwargs["accumulate"])


@translates(_index_put_inplace)
def _index_put_inplace_node(c):
    target, values, tensors, key, accumulate = (list(c.args) + [None] * 5)[:5]
    kw = c.kwargs
    target, values = kw.get("target", target), kw.get("values", values)
    tensors, key = kw.get("tensors", tensors), kw.get("key", key)
    accumulate = kw.get("accumulate", accumulate)
    return _index_put_value(c, target, values, list(tensors), tuple(key), accumulate)


@translates("gather")
def _gather(c):
    x, index = c.args
    return c.em.op("GatherElements", [c.v(x), c.em.cast(c.v(index), c.dtype(index), dt.int64)],
                   axis=int(c.kwargs["dim"]))


@translates("scatter")
def _scatter(c):
    x, index, src = c.args
    em = c.em
    reduce = c.kwargs.get("reduce")
    reduction = {None: None, "add": "add", "multiply": "mul", "amax": "max", "amin": "min"}[reduce]
    if reduction in ("max", "min") and em.opset < 18 or reduction in ("add", "mul") and em.opset < 16:
        raise c.unsupported(18 if reduction in ("max", "min") else 16)
    idx = em.cast(c.v(index), c.dtype(index), dt.int64)
    if isinstance(src, Node):
        updates = em.cast(c.v(src), c.dtype(src), c.out_dtype)
        if tuple(c.shape(src)) != tuple(c.shape(index)):   # only the index's extent of src is used
            zeros = [0] * len(c.shape(index))
            updates = em.op("Slice", [updates, em.ints(zeros), em.op("Shape", [idx])])
    else:
        updates = em.op("Expand", [em.scalar(src, c.out_dtype), em.op("Shape", [idx])])
    return em.op("ScatterElements", [c.v(x), idx, updates], axis=int(c.kwargs["dim"]), reduction=reduction)


@translates("sort")
def _sort(c):
    x = c.args[0]
    em = c.em
    ndim = len(c.shape(x))
    dim = _axis(int(c.kwargs["dim"]), ndim)
    k = em.op("Gather", [em.op("Shape", [c.v(x)]), em.const(np.array([dim], np.int64))], axis=0)
    values, indices = em.op("TopK", [c.v(x), k], n_out=2, axis=dim, largest=int(bool(c.kwargs["descending"])),
                            sorted=1)
    return [values, indices]


@translates("nonzero")
def _nonzero(c):
    return c.em.op("Transpose", [c.em.op("NonZero", [c.v(c.args[0])])], perm=[1, 0])


@translates(expect_shape)
def _expect_shape(c):
    # a data-dependent size (nonzero): the ONNX graph computes it at run time, so the guard has no role
    return c.v(c.args[0])


@translates("copy_")
def _copy(c):
    dst, src = c.args
    em = c.em
    return em.op("Expand", [c.operand(src, c.dtype(dst)), em.op("Shape", [c.v(dst)])])


# ---------------------------------------------------------------- composites
@translates("softmax", "log_softmax")
def _softmax(c):
    op_type = "Softmax" if c.node.target.name == "softmax" else "LogSoftmax"
    x = c.operand(c.args[0], c.out_dtype)
    ndim = len(c.out_shape)
    axis = _axis(int(c.kwargs["dim"]), max(ndim, 1))
    if c.em.opset >= 13 or axis == ndim - 1 or ndim == 0:
        return c.em.op(op_type, [x], axis=axis if c.em.opset >= 13 else max(ndim - 1, 0))
    # before opset 13 the op normalizes over all dims from its axis on: bring the dim last first
    perm = list(range(ndim))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    out = c.em.op(op_type, [c.em.op("Transpose", [x], perm=perm)], axis=ndim - 1)
    return c.em.op("Transpose", [out], perm=perm)


@translates("gelu")
def _gelu(c):
    em, d = c.em, c.out_dtype
    x = c.operand(c.args[0], d)
    approximate = c.kwargs.get("approximate", "none")
    if em.opset >= 20:
        return em.op("Gelu", [x], approximate=approximate)
    half = em.op("Mul", [x, em.scalar(0.5, d)])
    if approximate == "tanh":
        cube = em.op("Mul", [em.op("Mul", [x, x]), x])
        inner = em.op("Mul", [em.op("Add", [x, em.op("Mul", [cube, em.scalar(0.044715, d)])]),
                              em.scalar(math.sqrt(2 / math.pi), d)])
        return em.op("Mul", [half, em.op("Add", [em.op("Tanh", [inner]), em.scalar(1, d)])])
    erf = em.op("Erf", [em.op("Mul", [x, em.scalar(1 / math.sqrt(2), d)])])
    return em.op("Mul", [half, em.op("Add", [erf, em.scalar(1, d)])])


@translates("layer_norm")
def _layer_norm(c):
    x, weight, bias = c.args
    em = c.em
    nd, eps = int(c.kwargs["normalized_ndim"]), float(c.kwargs["eps"])
    shape = c.shape(x)
    d = c.dtype(x)
    normalized = [int(s) for s in shape[len(shape) - nd:]]
    stat = dt.float32 if d in (dt.float16,) or d.name == "bfloat16" else d
    scale = c.v(weight) if isinstance(weight, Node) else em.const(np.ones(normalized, d.numpy), "ones")
    shift = c.v(bias) if isinstance(bias, Node) else None
    axes = list(range(len(shape) - nd, len(shape)))
    if em.opset >= 17:
        y, mean, rstd = em.op("LayerNormalization", [c.v(x), scale, shift], n_out=3, axis=-nd, epsilon=eps,
                              stash_type=1)
    else:
        xs = em.cast(c.v(x), d, stat)
        mean = em.reduce("ReduceMean", xs, axes, True) if em.opset >= 18 else \
            em.op("ReduceMean", [xs], axes=axes, keepdims=1)
        centered = em.op("Sub", [xs, mean])
        square = em.op("Mul", [centered, centered])
        var = em.op("ReduceMean", [square], axes=axes, keepdims=1)
        rstd = em.op("Reciprocal", [em.op("Sqrt", [em.op("Add", [var, em.scalar(eps, stat)])])])
        y = em.cast(em.op("Mul", [centered, rstd]), stat, d)
        y = em.op("Mul", [y, scale])
        if shift is not None:
            y = em.op("Add", [y, shift])
    # ember's mean and rstd drop the normalized dims (ONNX keeps them as 1)
    return [y, em.squeeze(mean, axes), em.squeeze(rstd, axes)]


def _conv_attrs(c):
    k = c.kwargs
    pads = [int(p) for p in k["padding"]]
    return dict(strides=[int(s) for s in k["stride"]], pads=pads + pads, dilations=[int(s) for s in k["dilation"]],
                group=int(k["groups"]))


@translates("conv")
def _conv(c):
    x, weight, bias = c.args
    inputs = [c.v(x), c.v(weight)] + ([c.v(bias)] if isinstance(bias, Node) else [])
    kernel = [int(s) for s in c.shape(weight)[2:]]
    return c.em.op("Conv", inputs, kernel_shape=kernel, **_conv_attrs(c))


@translates("conv_transpose")
def _conv_transpose(c):
    x, weight, bias = c.args
    inputs = [c.v(x), c.v(weight)] + ([c.v(bias)] if isinstance(bias, Node) else [])
    kernel = [int(s) for s in c.shape(weight)[2:]]
    return c.em.op("ConvTranspose", inputs, kernel_shape=kernel,
                   output_padding=[int(p) for p in c.kwargs["output_padding"]], **_conv_attrs(c))


@translates("max_pool")
def _max_pool(c):
    x = c.args[0]
    em = c.em
    k = c.kwargs
    kernel, stride = [int(v) for v in k["kernel"]], [int(v) for v in k["stride"]]
    padding, dilation = [int(v) for v in k["padding"]], [int(v) for v in k["dilation"]]
    shape = c.shape(x)
    spatial = [int(s) for s in shape[len(shape) - len(kernel):]]
    ceil_mode = 0
    # ceil mode shows where the output is larger than the floor formula's, at the traced size or another
    for node in [c.node] + c.em.variants.get(c.node.name, []):
        sizes = node.args[0].meta["val"][0][-len(kernel):]
        for size, kk, s, p, dd, out in zip(sizes, kernel, stride, padding, dilation, node.kwargs["output_size"]):
            if (size + 2 * p - dd * (kk - 1) - 1) // s + 1 != int(out):
                ceil_mode = 1
    values, flat = em.op("MaxPool", [c.v(x)], n_out=2, kernel_shape=kernel, strides=stride, pads=padding + padding,
                         dilations=dilation, ceil_mode=ceil_mode)
    # ONNX numbers positions over the whole tensor; ember within each input plane
    plane = em.const(np.array(math.prod(spatial), np.int64))
    return [values, em.op("Mod", [flat, plane])]


# ---------------------------------------------------------------- recorded functions
@translates(operator.getitem)
def _getitem(c):
    source, i = c.args
    outs = c._env[source.name]
    if not isinstance(outs, list):
        raise OnnxExporterError(f"graph node {c.node.name} takes item {i} of {source.name}, which has one output")
    return outs[i]


@translates(create)
def _create(c):
    args = list(c.args)
    op = args[0] if args else c.kwargs["op_name"]
    attrs = {k: v for k, v in c.kwargs.items() if k not in ("op_name", "device", "requires_grad")}
    em = c.em
    d = attrs.get("dtype") or c.out_dtype
    if op == "full":
        shape = tuple(attrs["shape"])
        if not any(isinstance(s, SymInt) for s in shape) and math.prod(shape) <= 64:
            return em.op("Identity", [em.const(np.full(shape, attrs["value"], dtype=d.numpy))])
        from onnx import numpy_helper
        value = numpy_helper.from_array(np.array([attrs["value"]], dtype=d.numpy), "value")
        return em.op("ConstantOfShape", [em.ints(shape)], value=value)
    if op == "arange":
        start, end, step = attrs["start"], attrs["end"], attrs["step"]
        if not any(isinstance(v, SymInt) for v in (start, end, step)):
            return em.op("Identity", [em.const(np.arange(start, end, step, dtype=d.numpy))])
        pieces = [em.int_scalar(v) if isinstance(v, (int, SymInt)) and not isinstance(v, bool) else
                  em.const(np.array(v, np.float64)) for v in (start, end, step)]
        all_int = all(isinstance(v, int) for v in (start, end, step))
        if not all_int:
            pieces = [em.cast(p, dt.int64, dt.float64) if isinstance(v, int) else p
                      for p, v in zip(pieces, (start, end, step))]
        out = em.op("Range", pieces)
        return em.cast(out, dt.int64 if all_int else dt.float64, d)
    raise UnsupportedOperatorError(f"create('{op}')", em.opset, None, c.node)


@translates(from_host)
def _from_host(c):
    array = c.args[0] if c.args else c.kwargs["array"]
    return c.em.op("Identity", [c.em.const(np.asarray(array), "host_constant")])


@translates(to_device, _memory_alias)
def _alias(c):
    return c.v(c.args[0])


@translates(write_inplace)
def _write_inplace(c):
    target, result = c.args
    d = c.dtype(target)
    if isinstance(result, Node) and tuple(c.shape(result)) == tuple(c.shape(target)):
        return c.operand(result, d)
    return c.em.op("Expand", [c.operand(result, d), c.em.op("Shape", [c.v(target)])])


@translates(expect_value)
def _expect_value(c):
    raise OnnxExporterError(f"graph node {c.node.name} guards a value read into Python; an ONNX graph cannot "
                            f"hold data-dependent Python control flow")


@translates(_draw)
def _random(c):
    # a draw is made anew on every run, as the captured program's is (ONNX's random ops, seeded by the runtime)
    names = ("kind", "shape", "dtype", "device", "generator")
    bound = dict(zip(names, c.args), **{k: v for k, v in c.kwargs.items() if k in names})
    kind, shape, d = bound["kind"], tuple(bound["shape"]), bound["dtype"]
    if kind not in ("philox_uniform", "philox_normal") or not d.is_floating_point:
        raise UnsupportedOperatorError(f"random draw '{kind}'", c.em.opset, None, c.node)
    em = c.em
    draw_dtype = d if d in (dt.float16, dt.float32, dt.float64) else dt.float32
    like = "RandomUniformLike" if kind == "philox_uniform" else "RandomNormalLike"
    if any(isinstance(s, SymInt) for s in shape):
        from onnx import numpy_helper
        zeros = em.op("ConstantOfShape", [em.ints(shape)],
                      value=numpy_helper.from_array(np.zeros(1, draw_dtype.numpy), "value"))
        out = em.op(like, [zeros], dtype=onnx_type(draw_dtype))
    else:
        out = em.op(like[:-4], [], dtype=onnx_type(draw_dtype), shape=[int(s) for s in shape])
    return em.cast(out, draw_dtype, d)


# ---------------------------------------------------------------- running nodes, and in-place writes through views
# where a translation computes a traced integer that follows a dynamic size at run time: positional
# arguments taken as operands (Context.operand), or the named attributes
_OPERAND_OPS = ("add sub mul div pow maximum minimum fmod remainder atan2 div_rounding eq ne lt le gt ge logical_and "
                "logical_or logical_xor bitwise_and bitwise_or bitwise_xor where copy_ index_put").split()
_DYNAMIC = {**{name: {"args"} for name in _OPERAND_OPS},
            "view": {"kwargs.shape"}, "expand": {"kwargs.shape"}, "basic_index": {"kwargs.key"},
            _untraced(create): {"kwargs.shape", "kwargs.start", "kwargs.end", "kwargs.step"},
            _untraced(_draw): {"args", "kwargs.shape"}, _untraced(write_inplace): {"args"},
            _untraced(_index_put_inplace): {"args.1", "kwargs.values"}}


class DynamicValueError(OnnxExporterError):
    """A traced integer that follows a dynamic size reached a place where the translation would bake it."""


def run_node(em, node, env, shapes, node_syms, check=True):
    """Translate one ``call_function`` node with the values in ``env``; returns its ONNX value(s).

    Raises ``DynamicValueError`` (when ``check``) if a dynamic integer sits where the translation reads
    it as a constant.
    """
    from ember.onnx._dynamic import substitute
    fn = translation_of(node.target)
    if fn is None:
        raise UnsupportedOperatorError(op_name(node.target), em.opset, None, node)
    syms = node_syms.get(node.name)
    if syms and check:
        target = node.target.name if isinstance(node.target, OpDef) else _untraced(node.target)
        allowed = _DYNAMIC.get(target, ())
        for path, value in syms.items():
            if not ({path[0], f"{path[0]}.{path[1]}"} & set(allowed)):
                raise DynamicValueError(
                    f"the integer {int(value)} at graph node {node.name} ({node.format_node()}) follows a dynamic "
                    f"axis, and ONNX's {op_name(node.target)} takes it as a constant: the model would be wrong "
                    f"at other sizes")
    args = substitute(node.args, syms, ("args",)) if syms else node.args
    kwargs = substitute(node.kwargs, syms, ("kwargs",)) if syms else node.kwargs
    return fn(Context(em, node, args, kwargs, env, shapes))


_WRITES = tuple(_untraced(f) for f in (write_inplace, _index_put_inplace))
_SAME_TENSOR = _WRITES + (_untraced(_memory_alias),)


class Aliasing:
    """Which captured values are views of (or the same tensor as) which, so that an in-place write reaches
    every later reader.

    The graph names a tensor by the node that last produced it; ONNX values are immutable. A write
    to a view (``y[:, 0] += 1``) therefore makes a new value of the view's root tensor (the write
    scattered into it through the chain of views) and re-derives every alias of that root from it.
    """

    def __init__(self, em, env, shapes, node_syms):
        self.em, self.env, self.shapes, self.node_syms = em, env, shapes, node_syms
        self.parent = {}    # node name -> (parent node, whether a view op derives it)
        self.members = {}   # root node name -> aliases of the root in program order

    def record(self, node):
        target = node.target
        if isinstance(target, OpDef) and target.view and node.args and isinstance(node.args[0], Node):
            self.parent[node.name] = (node.args[0], True)
        elif _untraced(target) in _SAME_TENSOR and node.args and isinstance(node.args[0], Node):
            self.parent[node.name] = (node.args[0], False)
        else:
            return
        self.members.setdefault(self._root(node).name, []).append(node)

    def _root(self, node):
        while node.name in self.parent:
            node = self.parent[node.name][0]
        return node

    def is_write(self, node) -> bool:
        return _untraced(node.target) in _WRITES

    def write(self, node, value):
        """``node`` (an in-place write) gave its target the new value ``value``: update the target's root and
        every alias of it."""
        em, env = self.em, self.env
        target = node.args[0]
        chain, cur = [], target
        while cur.name in self.parent:
            parent, is_view = self.parent[cur.name]
            if is_view:
                chain.append(cur)
            cur = parent
        root = cur
        if not chain:
            new_root = value
        else:   # positions of the view's elements in the root: the view chain applied to an index map
            base = env[root.name]
            count = em.op("Size", [base])
            index_map = em.op("Reshape", [em.op("Range", [em.const(np.array(0, np.int64)), count,
                                                            em.const(np.array(1, np.int64))]),
                                          em.op("Shape", [base])])
            from collections import ChainMap
            override = {}
            positions = index_map
            for view in reversed(chain):
                override[self.parent[view.name][0].name] = positions
                positions = run_node(em, view, ChainMap(override, env), self.shapes, self.node_syms)
            flat = em.const(np.array([-1], np.int64))
            scattered = em.op("ScatterElements", [em.op("Reshape", [base, flat]), em.op("Reshape", [positions, flat]),
                                                  em.op("Reshape", [value, flat])], axis=0)
            new_root = em.op("Reshape", [scattered, em.op("Shape", [base])])
        env[root.name] = new_root
        for member in self.members.get(root.name, ()):
            parent, is_view = self.parent[member.name]
            env[member.name] = run_node(em, member, env, self.shapes, self.node_syms) if is_view else \
                env[parent.name]
        env[node.name] = env[target.name]


def _register_module_nodes():
    from ember.onnx import _modules, _rnn
    TRANSLATIONS[_untraced(_rnn.rnn_sequence)] = _rnn.translate
    TRANSLATIONS[_untraced(_modules.global_average_pool)] = _modules.translate_global_average_pool


_register_module_nodes()
