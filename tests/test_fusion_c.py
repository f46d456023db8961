"""The fused-kernel compilers of OpenCL and CuPy and their shared C generator (ember.plugins.c_fusion).

Programs built by hand (and one traced with ember.fx) run as one generated OpenCL kernel on
the opencl device and are compared with the same ops run one by one through ember on that
device, and with a float64 numpy reference. The CUDA dialect's kernels are checked without
a GPU: the generated source compiles with nvcc where it is installed, runs on the CPU under
the host-compiler emulation of CUDA (tests/_gpu_emulation.py) against the OpenCL results,
and the CuPy wrapper's sources and kernel arguments are checked through a stand-in cupy.
"""
from __future__ import annotations

import ctypes
import hashlib
import math
import os
import shutil
import subprocess
import tempfile
import types

import numpy as np
import pytest
import scipy.special as sp

import ember
from ember.core import dtype as dt
from ember.core.call import call
from ember.dispatch.fusion import FusedProgram, Step
from ember.dispatch.ops import OPS
from ember.ops.reduction import run_composite
from ember.plugins import c_fusion
from ember.plugins.cupy import fusion as cufusion

import _gpu_emulation

try:
    from ember.dispatch.registry import REGISTRY
    _OPENCL = REGISTRY.available_backend("opencl") is not None
except Exception:  # no pyopencl / no driver: the OpenCL tests skip
    _OPENCL = False

needs_opencl = pytest.mark.skipif(not _OPENCL, reason="no OpenCL device")

F32, F64, B = dt.float32, dt.float64, dt.bool_
I, S, C = "input", "step", "const"


def _compiler():
    return REGISTRY.fusion_compiler("opencl")


def _has_fp64():
    return _OPENCL and _compiler().supports("add", {}, F64, (F64, F64))


# ---------------------------------------------------------------- building programs
class Builder:
    """Steps appended one by one; ``out(j)`` marks a step as an output."""

    def __init__(self, *inputs):
        self.inputs, self.steps, self.outputs = list(inputs), [], []

    def add(self, op, *args, dtype, out=True, **attrs):
        refs = tuple(a if isinstance(a, tuple) else (C, a) for a in args)
        if op == "cast":  # its attribute is the target dtype
            attrs["dtype"] = dtype
        self.steps.append(Step(op, refs, attrs, dtype))
        j = len(self.steps) - 1
        if out:
            self.outputs.append(j)
        return (S, j)

    def program(self, shape):
        return FusedProgram(self.inputs, self.steps, self.outputs, shape)


def _on_device(arrays):
    return [ember.tensor(a, device="opencl") for a in arrays]


def run_fused(program, arrays):
    """The fused kernel's outputs (numpy) on opencl."""
    kernel = _compiler().compile(program)
    outs = kernel(*[t._data for t in _on_device(arrays)])
    return [ember.core.transfer.to_numpy(_wrap(o)) for o in outs]


def _wrap(native):
    from ember.core.call import _wrapper
    return _wrapper("opencl")(native, ember.device("opencl:0"))


def run_eager(program, arrays):
    """The program's ops run one by one through ember on opencl (the op-table ops, as ``call`` runs them)."""
    tensors = _on_device(arrays)
    vals = []
    for step in program.steps:
        args = [tensors[v] if k == I else vals[v] if k == S else v for k, v in step.args]
        op = OPS[step.op]
        vals.append(run_composite(op, *args, **step.attrs) if op.kind == "composite" else call(op, *args, **step.attrs))
    return [vals[j].cpu().numpy() for j in program.outputs]


# ---------------------------------------------------------------- the float64 numpy reference
def _sign(x):
    return ((x > 0).astype(np.int64) - (x < 0).astype(np.int64)).astype(x.dtype)


def _shift(a, b, left, bits):
    b64 = b.astype(np.int64)
    inside = (b64 >= 0) & (b64 < bits)
    safe = np.where(inside, b64, 0).astype(a.dtype)
    shifted = np.left_shift(a, safe) if left else np.right_shift(a, safe)
    past = np.zeros_like(a) if left else np.where(a < 0, -1, 0).astype(a.dtype)
    return np.where(inside, shifted, past).astype(a.dtype)


def _idiv(a, b, floor):
    with np.errstate(all="ignore"):
        q = np.floor_divide(a, b)
        if not floor and a.dtype.kind == "i":
            fix = (np.remainder(a, b) != 0) & ((a < 0) != (b < 0))
            q = (q + fix).astype(a.dtype)
    return np.where(b == 0, 0, q).astype(a.dtype)


def _gelu(x, approximate):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + sp.erf(x / math.sqrt(2)))


_UNARY = {"neg": np.negative, "abs": np.abs, "sign": _sign, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x),
          "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log2": np.log2, "log10": np.log10,
          "log1p": np.log1p, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
          "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh,
          "acosh": np.arccosh, "atanh": np.arctanh, "sigmoid": sp.expit, "erf": sp.erf, "erfc": sp.erfc,
          "erfinv": sp.erfinv, "ndtr": sp.ndtr,
          "lgamma": lambda x: np.where(np.isneginf(x), np.inf, sp.gammaln(x)),  # C's lgamma(-inf) is +inf
          "reciprocal": lambda x: 1 / x, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc,
          "relu": lambda x: np.where(x < 0, np.zeros_like(x), x), "isnan": np.isnan, "isinf": np.isinf,
          "logical_not": np.logical_not, "bitwise_not": np.invert}
_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "pow": np.power,
           "atan2": np.arctan2, "maximum": np.maximum, "minimum": np.minimum, "hypot": np.hypot,
           "copysign": np.copysign, "xlogy": sp.xlogy, "eq": np.equal, "ne": np.not_equal, "lt": np.less,
           "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal, "logical_and": np.logical_and,
           "logical_or": np.logical_or, "logical_xor": np.logical_xor, "bitwise_and": np.bitwise_and,
           "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor}


def reference(program, arrays):
    """The program in numpy: float steps in float64, integer and bool steps exactly in their dtype."""
    vals = []

    def work(dtype):
        return np.float64 if dtype.is_floating_point else dtype.numpy

    for step in program.steps:
        ins = []
        for k, v in step.args:
            if k == C:
                ins.append(v)
            else:
                d = program.inputs[v] if k == I else program.steps[v].dtype
                ins.append(arrays[v] if k == I else vals[v])
                ins[-1] = np.asarray(ins[-1]).astype(work(d))
        op, w = step.op, work(step.dtype)
        compute = w
        if op in c_fusion.COMPARISON:
            known = [x.dtype for x in ins if isinstance(x, np.ndarray)]
            compute = known[0]
        ins = [np.asarray(x, dtype=compute) if not isinstance(x, np.ndarray) and op not in ("where", "cast")
               else x for x in ins]
        with np.errstate(all="ignore"):
            if op == "cast":
                x, target = ins[0], step.attrs["dtype"]
                if x.dtype.kind == "f" and target.name in ("int8", "uint8", "int16", "int32"):
                    x = x.astype(np.int64)
                r = x.astype(work(target)) if target.name != "bool" else x != 0
            elif op == "where":
                cond, a, b = (np.asarray(x) for x in ins)
                r = np.where(cond.astype(bool), a.astype(w), b.astype(w))
            elif op == "gelu":
                r = _gelu(ins[0], step.attrs.get("approximate", "none"))
            elif op == "round":
                r = np.round(ins[0], step.attrs.get("decimals", 0))
            elif op in ("bitwise_left_shift", "bitwise_right_shift"):
                r = _shift(ins[0], ins[1], op == "bitwise_left_shift", np.dtype(w).itemsize * 8)
            elif op == "div_rounding":
                a, b = ins
                if step.dtype.is_floating_point:
                    r = np.floor_divide(a, b) if step.attrs["mode"] == "floor" else np.trunc(a / b)
                else:
                    r = _idiv(a, b, step.attrs["mode"] == "floor")
            elif op in ("remainder", "fmod"):
                a, b = ins
                fn = np.remainder if op == "remainder" else np.fmod
                r = fn(a, b) if step.dtype.is_floating_point else np.where(b == 0, 0, fn(a, b)).astype(w)
            elif op in ("floor", "ceil", "trunc") and not step.dtype.is_floating_point:
                r = ins[0]   # integers are already whole
            elif op in _UNARY:
                r = _UNARY[op](ins[0])
            else:
                r = _BINARY[op](*ins)
        vals.append(np.asarray(r).astype(w) if op not in c_fusion.COMPARISON | c_fusion.LOGICAL
                    | c_fusion.TO_BOOL_UNARY else np.asarray(r))
    return [vals[j] for j in program.outputs]


def check(program, arrays, rtol=None, ref_rtol=None, eager=True):
    """The fused result equals the op-by-op one (to rounding; skipped with ``eager=False``, where
    the op-by-op kernels' builds would cost more suite time than they add) and the float64 reference."""
    fused = run_fused(program, arrays)
    ref = reference(program, arrays)
    eager = run_eager(program, arrays) if eager else fused
    for k, (f, e, r) in enumerate(zip(fused, eager, ref)):
        step = program.steps[program.outputs[k]]
        what = f"output {k}: {step!r}"
        assert f.dtype == step.dtype.numpy and f.shape == program.shape, what
        if step.dtype.is_floating_point:
            eps = float(np.finfo(f.dtype).eps) if f.dtype.itemsize > 2 else (2 ** -10 if f.dtype == np.float16
                                                                              else 2 ** -7)
            np.testing.assert_allclose(f.astype(np.float64), e.astype(np.float64), rtol=rtol or 8 * eps,
                                       atol=8 * eps, equal_nan=True, err_msg=what)
            keep = np.ones(f.shape, bool)
            if step.op == "gelu" and step.attrs.get("approximate") == "tanh":
                # OpenCL allows tanh 5 ulp: PoCL's tanh(-inf) is not quite -1, so gelu(-inf) is -inf, not NaN
                # (the same op by op); the reference is held to the finite inputs
                keep = np.isfinite(np.broadcast_to(arrays[0], f.shape))
            np.testing.assert_allclose(f.astype(np.float64)[keep], r[keep], rtol=ref_rtol or 64 * eps,
                                       atol=64 * eps, equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(f, e, err_msg=what)
            np.testing.assert_array_equal(f, r.astype(f.dtype), err_msg=what)
    return fused


def _floats(dtype, n=67, seed=0):
    rng = np.random.default_rng(seed)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -2.5])
    x = np.concatenate([special, rng.standard_normal(n - len(special)) * 2])
    return rng.permutation(x).astype(dtype)


# ---------------------------------------------------------------- the programs
FLOAT_UNARY_OPS = ["neg", "abs", "sign", "sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p",
                   "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
                   "sigmoid", "erf", "erfc", "erfinv", "lgamma", "ndtr", "reciprocal", "floor", "ceil", "trunc", "relu", "isnan", "isinf",
                   "logical_not"]
FLOAT_BINARY_OPS = ["add", "sub", "mul", "div", "pow", "atan2", "maximum", "minimum", "hypot", "copysign", "xlogy",
                    "remainder", "fmod", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
                    "logical_xor"]


def float_program(dtype, n):
    b = Builder(dtype, dtype)
    x, y = (I, 0), (I, 1)
    for op in FLOAT_UNARY_OPS:
        b.add(op, x, dtype=B if op in c_fusion.TO_BOOL_UNARY else dtype)
    for approximate in ("none", "tanh"):
        b.add("gelu", x, dtype=dtype, approximate=approximate)
    for decimals in (0, 2, -1):
        b.add("round", x, dtype=dtype, decimals=decimals)
    for op in FLOAT_BINARY_OPS:
        b.add(op, x, y, dtype=B if op in c_fusion.COMPARISON | c_fusion.LOGICAL else dtype)
    for mode in ("floor", "trunc"):
        b.add("div_rounding", x, y, dtype=dtype, mode=mode)
    # constants on either side, converted to the step's type
    b.add("mul", x, 1.5, dtype=dtype)
    b.add("sub", 1, x, dtype=dtype)
    b.add("pow", x, 2, dtype=dtype)
    b.add("maximum", x, float("nan"), dtype=dtype)
    b.add("minimum", x, float("-inf"), dtype=dtype)
    b.add("gt", x, 0.1, dtype=B)
    # a chain: where(x > y, exp(x) * 0.5, -y), NaN in either side propagating through
    gt = b.add("gt", x, y, dtype=B, out=False)
    half = b.add("mul", b.add("exp", x, dtype=dtype, out=False), 0.5, dtype=dtype, out=False)
    b.add("where", gt, half, b.add("neg", y, dtype=dtype, out=False), dtype=dtype)
    return b.program((n,))


@needs_opencl
def test_every_float_op_float32():
    x, y = _floats(np.float32, seed=1), _floats(np.float32, seed=2)
    check(float_program(F32, x.size), [x, y])


@needs_opencl
def test_every_float_op_float64():
    if not _has_fp64():
        pytest.skip("the OpenCL device has no float64")
    x, y = _floats(np.float64, seed=3), _floats(np.float64, seed=4)
    check(float_program(F64, x.size), [x, y], ref_rtol=1e-12, eager=False)


def int_program(dtype, n):
    b = Builder(dtype, dtype)
    x, y = (I, 0), (I, 1)
    for op in ("neg", "abs", "sign", "relu", "bitwise_not"):
        b.add(op, x, dtype=dtype)
    for op in ("add", "sub", "mul", "maximum", "minimum", "remainder", "fmod", "bitwise_and", "bitwise_or",
               "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"):
        b.add(op, x, y, dtype=dtype)
    for mode in ("floor", "trunc"):
        b.add("div_rounding", x, y, dtype=dtype, mode=mode)
    for op in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
        b.add(op, x, y, dtype=B)
    b.add("logical_not", x, dtype=B)
    b.add("isnan", x, dtype=B)
    b.add("pow", x, b.add("bitwise_and", y, 3, dtype=dtype, out=False), dtype=dtype)
    b.add("add", x, 7, dtype=dtype)
    b.add("mul", 3, x, dtype=dtype)
    for target in (F32, dt.int64, B, dt.int8):
        b.add("cast", x, dtype=target)
    b.add("where", b.add("gt", x, 0, dtype=B, out=False), x, -1, dtype=dtype)
    return b.program((n,))


def _ints(dtype, n, seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    edge = [info.min, info.max, 0, 1, -1, 2, -7, 9] if info.min < 0 else [0, 255, 1, 2, 9, 128]
    values = np.concatenate([edge, rng.integers(max(info.min, -100), min(info.max, 100), n - len(edge))])
    return rng.permutation(values).astype(dtype)


@needs_opencl
@pytest.mark.parametrize("dtype", [dt.int32, dt.int64, dt.int8, dt.uint8])
def test_integer_ops(dtype):
    n = 61
    x, y = _ints(dtype.numpy, n, 5), _ints(dtype.numpy, n, 6)
    # shift amounts inside and past the width, and negative
    y[:6] = np.array([0, 3, 7, 8, 40, 255] if dtype is dt.uint8 else [0, 3, -1, 8, 40, -100], dtype=dtype.numpy)
    # the int-min / -1 division is undefined in C and in numpy: keep it out of the reference
    both = (x == np.iinfo(dtype.numpy).min) & (y == -1)
    x[both] = 0
    check(int_program(dtype, n), [x, y], eager=dtype is dt.int32)   # the reference is exact for integers


@needs_opencl
def test_bool_steps():
    b = Builder(B, B, F32)
    p, q, x = (I, 0), (I, 1), (I, 2)
    for op in ("logical_and", "logical_or", "logical_xor", "eq", "ne", "lt"):
        b.add(op, p, q, dtype=B)
    for op in ("bitwise_and", "bitwise_or", "bitwise_xor", "add", "mul", "maximum", "minimum"):
        b.add(op, p, q, dtype=B)
    b.add("bitwise_not", p, dtype=B)
    b.add("logical_not", q, dtype=B)
    b.add("abs", p, dtype=B)
    for target in (F32, dt.int32, dt.uint8):
        b.add("cast", p, dtype=target)
    b.add("where", p, x, 2.5, dtype=F32)
    b.add("where", b.add("logical_and", p, (I, 2), dtype=B, out=False), 1, x, dtype=F32)
    rng = np.random.default_rng(7)
    n = 40
    arrays = [rng.random(n) < 0.5, rng.random(n) < 0.5, _floats(np.float32, n, 8)]
    check(b.program((n,)), arrays)


@needs_opencl
def test_casts_between_floats_and_integers():
    has64 = _has_fp64()
    b = Builder(F32, dt.int32)
    x, k = (I, 0), (I, 1)
    targets = [dt.int32, dt.int8, dt.uint8, dt.int64, B, dt.float16, dt.bfloat16] + ([F64] if has64 else [])
    for target in targets:
        b.add("cast", x, dtype=target)
    for target in (F32, dt.int8, dt.int16, B, dt.float16) + ((F64,) if has64 else ()):
        b.add("cast", k, dtype=target)
    if has64:  # float64 rounded once to float16 and float32
        wide = b.add("mul", b.add("cast", x, dtype=F64, out=False), 1.0000001, dtype=F64, out=False)
        b.add("cast", wide, dtype=dt.float16)
        b.add("cast", wide, dtype=F32)
    rng = np.random.default_rng(9)
    n = 50
    x_np = (rng.standard_normal(n) * 150).astype(np.float32)   # past int8 and uint8: wraps through int64
    x_np[:4] = [0.0, -0.0, 127.9, -128.5]
    k_np = rng.integers(-30000, 30000, n).astype(np.int32)   # float16 holds them (to rounding)
    fused = check(b.program((n,)), [x_np, k_np])
    np.testing.assert_array_equal(fused[0], x_np.astype(np.int64).astype(np.int32))


@needs_opencl
@pytest.mark.parametrize("dtype", [dt.float16, dt.bfloat16])
def test_half_precision_steps_round_like_op_by_op(dtype):
    b = Builder(dtype, dtype)
    x, y = (I, 0), (I, 1)
    t = b.add("add", b.add("mul", x, 1.1, dtype=dtype, out=False), y, dtype=dtype)
    b.add("exp", t, dtype=dtype)
    b.add("sigmoid", x, dtype=dtype)
    b.add("gelu", y, dtype=dtype, approximate="none")
    b.add("gt", t, x, dtype=B)
    b.add("cast", t, dtype=F32)
    b.add("cast", b.add("cast", x, dtype=F32, out=False), dtype=dtype)
    n = 64
    arrays = [_floats(np.float32, n, 10).astype(dtype.numpy), _floats(np.float32, n, 11).astype(dtype.numpy)]
    check(b.program((n,)), arrays, rtol=2 ** -7, ref_rtol=2 ** -5)


@needs_opencl
def test_zero_d_and_one_element_inputs_broadcast():
    b = Builder(F32, F32, F32)
    x, s, t = (I, 0), (I, 1), (I, 2)
    b.add("mul", x, s, dtype=F32)
    b.add("where", b.add("gt", x, t, dtype=B, out=False), x, s, dtype=F32)
    b.add("add", s, t, dtype=F32)
    x_np = _floats(np.float32, 30, 12).reshape(5, 6)
    program = FusedProgram(b.inputs, b.steps, b.outputs, (5, 6))
    s_np, t_np = np.array(1.5, dtype=np.float32), np.array([[0.25]], dtype=np.float32)
    fused = run_fused(program, [x_np, s_np, t_np])
    np.testing.assert_allclose(fused[0], x_np * 1.5, rtol=1e-6)
    np.testing.assert_array_equal(fused[1], np.where(x_np > 0.25, x_np, 1.5))
    np.testing.assert_array_equal(fused[2], np.full((5, 6), 1.75, np.float32))
    # an all-0-d program gives 0-d outputs
    zero_d = FusedProgram([F32, F32], [Step("mul", ((I, 0), (I, 1)), {}, F32)], [0], ())
    out = run_fused(zero_d, [np.array(3.0, np.float32), np.array(-2.0, np.float32)])
    assert out[0].shape == () and out[0] == -6.0


@needs_opencl
def test_non_contiguous_inputs_empty_shapes_and_errors():
    program = FusedProgram([F32], [Step("mul", ((I, 0), (C, 2)), {}, F32)], [0], (3, 4))
    base = ember.arange(12.0, device="opencl").reshape(4, 3)
    kernel = _compiler().compile(program)
    (out,) = kernel(base.t()._data)
    np.testing.assert_array_equal(_wrap(out).cpu().numpy(), np.arange(12.0).reshape(4, 3).T * 2)
    empty = FusedProgram([F32], [Step("exp", ((I, 0),), {}, F32)], [0], (0, 3))
    (out,) = _compiler().compile(empty)(ember.zeros(0, 3, device="opencl")._data)
    assert out.shape == (0, 3)
    with pytest.raises(TypeError, match="dtype"):
        kernel(ember.zeros(3, 4, dtype=ember.int32, device="opencl")._data)
    with pytest.raises(ValueError, match="shape"):
        kernel(ember.zeros(4, 4, device="opencl")._data)
    with pytest.raises(NotImplementedError, match="step 0"):
        _compiler().compile(FusedProgram([F32], [Step("cumsum", ((I, 0),), {"dim": 0}, F32)], [0], (3,)))


def test_supports_says_which_ops_and_dtypes():
    d = c_fusion.Dialect
    assert c_fusion.op_supported("mul", {}, F32, (F32, F32))
    assert c_fusion.op_supported("gelu", {"approximate": "tanh"}, F32, (F32,))
    assert not c_fusion.op_supported("gelu", {"approximate": "fast"}, F32, (F32,))
    assert not c_fusion.op_supported("exp", {}, dt.int32, (dt.int32,))   # the op layer casts integers first
    assert not c_fusion.op_supported("sub", {}, B, (B, B))
    assert not c_fusion.op_supported("bitwise_and", {}, F32, (F32, F32))
    assert not c_fusion.op_supported("add", {}, dt.complex64, (dt.complex64,))
    assert not c_fusion.op_supported("sum", {"dims": (), "keepdim": False}, F32, (F32,))
    assert not c_fusion.op_supported("mul", {}, F64, (F64, F64), d.DTYPES - {"float64"})
    cuda = cufusion.CupyFusionCompiler(types.SimpleNamespace())
    assert cuda.supports("where", {}, F64, (B, F64, F64))
    assert not cuda.supports("mul", {}, dt.float16, (dt.float16, dt.float16))


# ---------------------------------------------------------------- the issue's chain, traced
def _chain(x):
    return ember.nn.functional.gelu(x * 1.5 + 0.1).tanh() * x.sigmoid() - x.exp().clamp(max=3) / (1 + x * x)


def program_from_graph(graph, shape):
    """A FusedProgram of a traced graph of elementwise op-table ops (every node one step)."""
    refs, inputs, steps = {}, [], []
    outputs = []
    for node in graph.nodes:
        if node.op == "placeholder":
            refs[node] = (I, len(inputs))
            inputs.append(node.meta["val"][1])
        elif node.op == "call_function":
            args = tuple(refs[a] if a in refs else (C, a) for a in node.args)
            steps.append(Step(node.target.name, args, dict(node.kwargs), node.meta["val"][1]))
            refs[node] = (S, len(steps) - 1)
        elif node.op == "output":
            result = node.args[0]
            while isinstance(result, (tuple, list)) and len(result) == 1:
                result = result[0]
            outputs.append(refs[result][1])
    return FusedProgram(inputs, steps, outputs, shape)


@needs_opencl
def test_the_issue_chain_traced_and_fused():
    import ember.fx as fx
    x_np = _floats(np.float32, 1000, 13)
    x = ember.tensor(x_np, device="opencl")
    traced = fx.symbolic_trace(_chain, example_inputs=(x,))
    program = program_from_graph(traced.graph, x_np.shape)
    assert len(program.steps) >= 15 and {"erf", "tanh", "sigmoid", "where"} <= {s.op for s in program.steps}
    compiler = _compiler()
    assert all(compiler.supports(s.op, s.attrs, s.dtype, ()) for s in program.steps)
    (fused,) = run_fused(program, [x_np])
    eager = _chain(x).cpu().numpy()
    np.testing.assert_allclose(fused, eager, rtol=1e-5, atol=1e-6, equal_nan=True)
    x64 = x_np.astype(np.float64)
    with np.errstate(all="ignore"):
        ref = np.tanh(_gelu(x64 * 1.5 + 0.1, "none")) * sp.expit(x64) - np.minimum(np.exp(x64), 3) / (1 + x64 * x64)
    np.testing.assert_allclose(fused, ref, rtol=1e-5, atol=1e-6, equal_nan=True)
    assert compiler.compile(program) is compiler.compile(program_from_graph(traced.graph, x_np.shape))


# ---------------------------------------------------------------- CUDA: the same statements as a RawKernel
def _cuda_programs():
    """(name, program, arrays) for every float32/float64/int/bool program above, run through the CUDA source."""
    out = []
    for dtype in (F32, F64):
        x, y = _floats(dtype.numpy, seed=1), _floats(dtype.numpy, seed=2)
        out.append((f"float_{dtype.name}", float_program(dtype, x.size), [x, y]))
    for dtype in (dt.int32, dt.int64, dt.int8, dt.uint8):
        x, y = _ints(dtype.numpy, 61, 5), _ints(dtype.numpy, 61, 6)
        x[(x == np.iinfo(dtype.numpy).min) & (y == -1)] = 0
        out.append((f"int_{dtype.name}", int_program(dtype, 61), [x, y]))
    return out


_HOST_TYPES = {"float": ctypes.c_float, "double": ctypes.c_double, "long long": ctypes.c_longlong}


def _emulate(sources):
    """The CUDA sources compiled by the host compiler under the emulation header, as one library:
    {kernel name: ``run(grid, block, *numpy arguments)``}."""
    parts = [_gpu_emulation._HEADER]
    for source in sources:
        params = ", ".join(f"{ct} {name}" for ct, name in source.params)
        names = ", ".join(name for _, name in source.params)
        parts.append(source.code + f'\nextern "C" void run_{source.name}(unsigned grid, unsigned block, {params}) '
                     f"{{\n    ember_launch(grid, block, [&] {{ {source.name}({names}); }});\n}}\n")
    code = "".join(parts)
    digest = hashlib.sha1(code.encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), "ember-fusion-emulation")
    os.makedirs(folder, exist_ok=True)
    library = os.path.join(folder, f"{digest}.so")
    if not os.path.exists(library):
        cpp = library[:-3] + ".cpp"
        with open(cpp, "w") as f:
            f.write(code)
        tmp = f"{library}.{os.getpid()}"
        done = subprocess.run([_gpu_emulation.host_compiler(), "-std=c++20", "-O0", "-pthread", "-shared", "-fPIC",
                               cpp, "-o", tmp], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        os.replace(tmp, library)
    lib = ctypes.CDLL(library)
    return {source.name: _runner(lib, source) for source in sources}


def _runner(lib, source):
    fn = getattr(lib, f"run_{source.name}")
    fn.restype = None
    fn.argtypes = [ctypes.c_uint, ctypes.c_uint] + [ctypes.c_void_p if ct.endswith("*") else _HOST_TYPES[ct]
                                                    for ct, _ in source.params]

    def run(grid, block, *args):
        assert len(args) == len(source.params)
        converted = [a.ctypes.data if isinstance(a, np.ndarray) else a for a in args]
        for a, (ct, _) in zip(args, source.params):
            assert isinstance(a, np.ndarray) == ct.endswith("*"), ct
        fn(grid, block, *converted)
    return run


class _FakeRawKernel:
    launches = []

    def __init__(self, code, name):
        self.code, self.name = code, name
        source = next(s for s in _FakeRawKernel.sources if s.name == name)
        assert source.code == code
        self.run = _FakeRawKernel.library[name]

    def __call__(self, grid, block, args):
        _FakeRawKernel.launches.append((grid, block, args))
        self.run(int(grid[0]), int(block[0]), *[int(a) if isinstance(a, np.integer) else a for a in args])


def _fake_cupy(sources):
    _FakeRawKernel.sources = sources
    _FakeRawKernel.library = _emulate(sources)
    return types.SimpleNamespace(RawKernel=_FakeRawKernel, empty=np.empty, ascontiguousarray=np.ascontiguousarray)


def test_cuda_sources_are_self_contained_kernels():
    for name, program, arrays in _cuda_programs():
        source = cufusion.kernel_source(program)
        assert "#include" not in source.code and "__kernel" not in source.code
        assert source.code.count('extern "C" __global__ void') == 1
        head = source.code.split('extern "C" __global__ void ', 1)[1].split(")", 1)[0]
        assert head == source.name + "(" + ", ".join(f"{ct} {n}" for ct, n in source.params)
        assert [n for _, n in source.params] == ["n"] + [f"p{i}" for i in range(len(program.inputs))] + \
            [f"q{k}" for k in range(len(program.outputs))]
        assert "long " not in source.code.replace("long long", "")   # 32-bit long on Windows: never plain long
        if "float32" in name:
            assert "expf(" in source.code and "erff(" in source.code and "exp(" not in source.code.replace(
                "expf(", "").replace("ember_", "")


@pytest.fixture(scope="module")
def emulated_cuda():
    if _gpu_emulation.host_compiler() is None:
        pytest.skip("no C++20 compiler to emulate CUDA with")
    return _cuda_programs()


@needs_opencl
def test_cuda_kernels_emulated_equal_opencl_and_reference(emulated_cuda):
    sources = []
    compilers = {}
    for name, program, arrays in emulated_cuda:
        compilers[name] = cufusion.CupyFusionCompiler(None)
        sources.append(compilers[name].source(program))
    fake = _fake_cupy(sources)
    for name, program, arrays in emulated_cuda:
        if program.inputs[0] is F64 and not _has_fp64():
            continue
        compiler = compilers[name]
        compiler.cp = fake
        _FakeRawKernel.launches.clear()
        outs = compiler.compile(program)(*arrays)
        (grid, block, args), = _FakeRawKernel.launches
        assert block == (cufusion.THREADS,) and grid == (1,) and args[0] == program.shape[0]
        assert type(args[0]) is np.int64 and len(args) == 1 + len(program.inputs) + len(program.outputs)
        opencl = run_fused(program, arrays)
        ref = reference(program, arrays)
        for k, (o, c, r) in enumerate(zip(outs, opencl, ref)):
            step = program.steps[program.outputs[k]]
            assert o.dtype == step.dtype.numpy, (name, k)
            if step.dtype.is_floating_point:
                eps = float(np.finfo(o.dtype).eps)
                keep = np.ones(o.shape, bool)
                if step.op == "gelu" and step.attrs.get("approximate") == "tanh":
                    keep = np.isfinite(arrays[0])   # PoCL's gelu(-inf) is -inf (see check())
                np.testing.assert_allclose(o[keep], c[keep], rtol=64 * eps, atol=64 * eps, equal_nan=True,
                                           err_msg=f"{name} {step!r}")
                np.testing.assert_allclose(o, r, rtol=64 * eps, atol=64 * eps, equal_nan=True,
                                           err_msg=f"{name} {step!r}")
            else:
                np.testing.assert_array_equal(o, c, err_msg=f"{name} {step!r}")


def test_cuda_wrapper_maps_arguments_and_caches():
    launched = []

    class Raw:
        made = []

        def __init__(self, code, name):
            Raw.made.append(name)

        def __call__(self, grid, block, args):
            launched.append((grid, block, args))

    fake = types.SimpleNamespace(RawKernel=Raw, empty=np.empty, ascontiguousarray=np.ascontiguousarray)
    compiler = cufusion.CupyFusionCompiler(fake)
    program = FusedProgram([F32, F32], [Step("mul", ((I, 0), (I, 1)), {}, F32),
                                        Step("gt", ((S, 0), (C, 0)), {}, B)], [1, 0], (300, 1000))
    kernel = compiler.compile(program)
    x = np.ones((1000, 300), np.float32).T          # non-contiguous: copied
    s = np.array(2.0, np.float32)                   # 0-d: read at 0
    mask, product = kernel(x, s)
    (grid, block, args), = launched
    assert grid == (min(cufusion.MAX_GRID, -(-300000 // 256)),) and block == (256,)
    assert args[0] == 300000 and args[1].flags.c_contiguous and args[2].size == 1 and args[2][()] == 2.0
    assert args[3] is mask and args[4] is product and mask.dtype == np.bool_ and product.shape == (300, 1000)
    assert compiler.source(program, (False, True)).code.count("p1[0]") == 1
    assert compiler.source(program, (False, False)).code.count("p1[i]") == 1
    kernel(x, s)
    assert len(Raw.made) == 1 and compiler.compile(program) is kernel     # one RawKernel per source
    with pytest.raises(TypeError, match="dtype"):
        kernel(x.astype(np.float64), s)
    launched.clear()
    empty = compiler.compile(FusedProgram([F32], [Step("exp", ((I, 0),), {}, F32)], [0], (0,)))
    assert empty(np.zeros(0, np.float32))[0].shape == (0,) and not launched


def _nvcc():
    return shutil.which("nvcc")


def test_cuda_sources_compile_with_nvcc(tmp_path):
    if _nvcc() is None:
        pytest.skip("nvcc is not installed")
    # the float32, float64, int8 and int64 programs (every helper, every C type); PTX: the front end
    # and NVVM, the part that reads our C (ptxas adds seconds and nothing about the source)
    programs = [p for name, p, _ in _cuda_programs() if name in ("float_float32", "float_float64", "int_int8",
                                                                 "int_int64")]
    sources = [cufusion.kernel_source(p) for p in programs] + [cufusion.kernel_source(programs[0], (False, True))]
    path = tmp_path / "fused.cu"
    path.write_text("".join(s.code for s in sources))
    done = subprocess.run([_nvcc(), "--ptx", "-arch=sm_75", "-Wno-deprecated-gpu-targets", str(path), "-o",
                           str(tmp_path / "fused.ptx")], capture_output=True, text=True)
    if done.returncode != 0 and "arch" in done.stderr:
        pytest.skip(f"nvcc cannot target sm_75: {done.stderr[:200]}")
    assert done.returncode == 0, done.stderr
    binary = (tmp_path / "fused.ptx").read_bytes()
    assert all(s.name.encode() in binary for s in sources)


def test_the_plugins_hooks_return_their_compilers():
    from ember.plugins import cuda, rocm
    fake = types.SimpleNamespace(RawKernel=None, empty=np.empty, ascontiguousarray=np.ascontiguousarray)
    for plugin in (cuda, rocm):
        compiler = plugin.ember_fusion_compiler(backend=types.SimpleNamespace(cupy=fake))
        assert isinstance(compiler, cufusion.CupyFusionCompiler) and compiler.cp is fake
    if _OPENCL:
        from ember.plugins.opencl.fusion import OpenCLFusionCompiler
        assert isinstance(_compiler(), OpenCLFusionCompiler) and _compiler() is REGISTRY.fusion_compiler("opencl")


def test_constants_are_converted_to_the_steps_type():
    from ember.plugins.c_fusion import _Generator
    gen = _Generator(None, cufusion.DIALECT)
    assert gen.const(0.1, F32) == "0.10000000149011612f"         # the float32 nearest 0.1, exactly
    assert gen.const(0.1, F64) == "0.1"
    assert gen.const(1e300, F32) == "__int_as_float(0x7f800000)"  # past float32: an infinity
    assert gen.const(float("-inf"), F64) == "-__longlong_as_double(0x7ff0000000000000LL)"
    assert gen.const(300, dt.int8) == "((signed char)44)"          # wraps, as a C cast of the scalar
    assert gen.const(-2 ** 63, dt.int64) == "(-9223372036854775807LL - 1)"
    assert gen.const(2.9, dt.int32) == "((int)2)" and gen.const(True, F32) == "1.0f"
