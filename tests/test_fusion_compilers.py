"""The fused-kernel compilers of the CPU (generated numba loops) and mps (``mx.compile``) backends.

Programs are built by hand (``ember.dispatch.fusion``): every op the compilers fuse at least
once, float32 and float64 (cpu; mps has no float64), integer and bool steps, comparisons,
0-d inputs, several outputs, casts, inf and NaN inputs, and the elementwise chain of issue 16.
Each program's kernel is compared with the same ops run one by one through ember on the
same device and with a float64 numpy reference. Kernels land in the compilers' ordinary disk
caches (numba's beside the generated file in ember's cache directory, named by a hash of the
generated source and its helpers, so never stale; MLX's in its temporary directory), so a rerun
does not compile again; the disk cache itself is tested in a fresh directory.
"""
from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pytest
import scipy.special as sp

import ember
from ember.core import dtype as dt
from ember.core.call import call
from ember.dispatch.fusion import FusedProgram, Step
from ember.dispatch.ops import OPS
from ember.dispatch.registry import REGISTRY
from ember.ops.reduction import run_composite

from conftest import DEVICES

F32, F64, B, I32 = dt.float32, dt.float64, dt.bool_, dt.int32
I, S, C = "input", "step", "const"
FUSING = [d for d in ("cpu", "mps") if d in DEVICES and REGISTRY.fusion_compiler(d) is not None]
pytestmark = pytest.mark.skipif(not FUSING, reason="no fusion compiler (numba / MLX) here")


# ---------------------------------------------------------------- building programs
class Builder:
    """Steps appended one by one; every step is an output unless ``hidden``."""

    def __init__(self, *inputs):
        self.inputs, self.steps, self.outputs = list(inputs), [], []

    def __call__(self, op, *args, dtype, hidden=False, **attrs):
        self.steps.append(Step(op, args, attrs, dtype))
        j = len(self.steps) - 1
        if not hidden:
            self.outputs.append(j)
        return (S, j)

    def cast(self, arg, to):
        """A cast step (its attribute is named ``dtype`` too), an output."""
        self.steps.append(Step("cast", [arg], {"dtype": to}, to))
        self.outputs.append(len(self.steps) - 1)

    def program(self, shape):
        return FusedProgram(self.inputs, self.steps, self.outputs, shape)


def chain(f, n):
    """gelu(x*1.5+0.1).tanh()*x.sigmoid() - x.exp().clamp(max=3)/(1+x*x), as ember.fx traces it."""
    b = Builder(f)
    x = (I, 0)
    a = b("add", b("mul", x, (C, 1.5), dtype=f, hidden=True), (C, 0.1), dtype=f, hidden=True)
    left = b("mul", b("tanh", b("gelu", a, dtype=f, hidden=True, approximate="none"), dtype=f, hidden=True),
             b("sigmoid", x, dtype=f, hidden=True), dtype=f, hidden=True)
    e = b("exp", x, dtype=f, hidden=True)
    clamped = b("where", b("gt", e, (C, 3), dtype=B, hidden=True), (C, 3), e, dtype=f, hidden=True)
    den = b("add", (C, 1), b("mul", x, x, dtype=f, hidden=True), dtype=f, hidden=True)
    b("sub", left, b("div", clamped, den, dtype=f, hidden=True), dtype=f)
    return b.program((n,))


FLOAT_UNARY_ON_X = ["exp", "exp2", "expm1", "sin", "cos", "atan", "sinh", "cosh", "tanh", "sigmoid", "erf",
                    "erfc", "relu", "neg", "abs", "floor", "ceil", "trunc", "sign"]
FLOAT_UNARY_ON_P = ["log", "log1p", "log2", "log10", "sqrt", "rsqrt", "reciprocal"]   # p > 0
FLOAT_UNARY_ON_U = ["tan", "asin", "acos"]                                              # |u| < 1


def float_program(f, lo, shape, device="cpu"):
    """Every float op once (inputs x, p > 0, |u| < 1), and a long chain; ``lo``: the other float dtype."""
    b = Builder(f, f, f)
    x, p, u = (I, 0), (I, 1), (I, 2)
    for op in FLOAT_UNARY_ON_X:
        if op != "erfc" or device == "cpu":   # mps leaves erfc unfused
            b(op, x, dtype=f)
    for op in FLOAT_UNARY_ON_P:
        b(op, p, dtype=f)
    for op in FLOAT_UNARY_ON_U:
        b(op, u, dtype=f)
    b("gelu", x, dtype=f, approximate="none")
    b("gelu", x, dtype=f, approximate="tanh")
    b("add", x, p, dtype=f)
    b("sub", x, (C, 1.5), dtype=f)
    b("mul", (C, 2), x, dtype=f)
    b("div", x, p, dtype=f)
    b("div", (C, 1), x, dtype=f)          # 1/0 = inf, 1/-0 = -inf
    b("pow", p, u, dtype=f)
    b("pow", x, (C, 2), dtype=f)
    b("pow", p, (C, 0.5), dtype=f)
    b("pow", x, (C, 3), dtype=f)
    b("maximum", x, u, dtype=f)
    b("minimum", x, (C, 0.25), dtype=f)
    b("atan2", x, u, dtype=f)
    b("hypot", x, p, dtype=f)
    b("copysign", p, x, dtype=f)
    for op in ("lt", "le", "gt", "ge", "eq", "ne"):
        b(op, x, u, dtype=B)
    b("ge", x, (C, 0.5), dtype=B)
    b("eq", x, x, dtype=B)                # False exactly at NaN
    neg = b("lt", x, (C, 0), dtype=B)
    small = b("lt", b("abs", x, dtype=f, hidden=True), (C, 1), dtype=B, hidden=True)
    b("logical_and", neg, small, dtype=B)
    b("logical_or", neg, small, dtype=B)
    b("logical_xor", neg, small, dtype=B)
    b("logical_not", neg, dtype=B)
    b("logical_not", x, dtype=B)          # of a float: x == 0
    b("isnan", x, dtype=B)
    b("isinf", x, dtype=B)
    b("where", neg, b("mul", x, (C, 2), dtype=f, hidden=True), p, dtype=f)
    b("where", small, (C, math.inf), u, dtype=f)
    b("where", small, p, (C, -math.inf), dtype=f)
    b.cast(x, lo)
    b.cast(neg, f)
    # a long chain through every kind of step: clamp(-2, 2) as where chains, then more
    v = x
    for k in range(2):
        v = b("where", b("gt", v, (C, 2), dtype=B, hidden=True), (C, 2), v, dtype=f, hidden=True)
        v = b("where", b("lt", v, (C, -2), dtype=B, hidden=True), (C, -2), v, dtype=f, hidden=True)
        v = b("add", b("mul", b("tanh", v, dtype=f, hidden=True), p, dtype=f, hidden=True), (C, 0.5 * k),
              dtype=f, hidden=True)
        v = b("sub", b("sigmoid", v, dtype=f, hidden=True), b("exp", u, dtype=f, hidden=True), dtype=f,
              hidden=True)
    b("mul", v, b("reciprocal", b("add", p, (C, 1), dtype=f, hidden=True), dtype=f, hidden=True), dtype=f)
    return b.program(shape)


def int_program(shape):
    """Integer and bool steps: wrapping arithmetic, integer powers, comparisons, where, casts."""
    b = Builder(I32, I32, B)
    a, c, m = (I, 0), (I, 1), (I, 2)
    for op in ("add", "sub", "mul", "maximum", "minimum"):
        b(op, a, c, dtype=I32)
    b("mul", a, (C, 1 << 20), dtype=I32)      # overflows int32: wraps
    for op in ("neg", "abs", "sign", "relu", "floor", "ceil", "trunc"):
        b(op, a, dtype=I32)
    b("pow", c, (C, 3), dtype=I32)
    b("pow", a, b("sub", c, (C, 2), dtype=I32, hidden=True), dtype=I32)   # negative exponents too
    for op in ("lt", "le", "gt", "ge", "eq", "ne"):
        b(op, a, c, dtype=B)
    b("lt", a, (C, 0.5), dtype=B)             # an int against a float: compared as floats
    b("logical_and", m, b("gt", a, (C, 0), dtype=B, hidden=True), dtype=B)
    b("logical_or", m, a, dtype=B)
    b("logical_xor", m, (C, True), dtype=B)
    b("logical_not", m, dtype=B)
    b("where", m, a, c, dtype=I32)
    b("where", m, (C, 7), a, dtype=I32)
    b("eq", m, (C, True), dtype=B)
    b.cast(a, F32)
    b.cast(m, I32)
    b.cast(a, B)
    return b.program(shape)


def scalar_program(shape, f64=True):
    """A 0-d input (broadcast), several outputs, an output that is also an intermediate, a cast."""
    b = Builder(F32, F32, B)
    x, s, flag = (I, 0), (I, 1), (I, 2)
    scaled = b("mul", x, s, dtype=F32)
    b("add", scaled, (C, 1), dtype=F32)
    b("maximum", x, s, dtype=F32)
    b("where", b("gt", x, s, dtype=B, hidden=True), x, s, dtype=F32)
    b("where", flag, s, scaled, dtype=F32)
    b("sub", s, s, dtype=F32)                 # a value of 0-d inputs only, still of the full shape
    b.cast(scaled, F64 if f64 else F32)
    return b.program(shape)


# ---------------------------------------------------------------- inputs
def _specials(a):
    a = a.copy()
    a.flat[:7] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-30, -88.0][: a.size]
    return a


def float_inputs(f, shape, rng):
    npf = f.numpy
    x = _specials((rng.standard_normal(shape) * 2.5).astype(npf))
    p = rng.uniform(0.05, 5.0, shape).astype(npf)
    u = rng.uniform(-0.95, 0.95, shape).astype(npf)
    return [x, p, u]


def int_inputs(shape, rng):
    a = rng.integers(-3000, 3000, shape).astype(np.int32)
    c = rng.integers(-3, 6, shape).astype(np.int32)
    a.flat[:4] = [0, 1, -1, 2 ** 31 - 1]
    c.flat[:4] = [0, -2, -3, 1]
    return [a, c, rng.random(shape) < 0.5]


# ---------------------------------------------------------------- the two oracles
def eager(program, arrays, device):
    """The program's ops run one by one through ember on ``device``."""
    ins = [ember.from_numpy(np.asarray(a)).to(device) for a in arrays]
    vals = []
    for step in program.steps:
        args = [ins[v] if k == I else vals[v] if k == S else v for k, v in step.args]
        op = OPS[step.op]
        vals.append(run_composite(op, *args, **step.attrs) if op.kind == "composite" else call(op, *args, **step.attrs))
    return [vals[j].cpu().numpy() for j in program.outputs]


def _sign(x):
    return ((x > 0).astype(np.int64) - (x < 0).astype(np.int64)).astype(x.dtype)


def _gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + sp.erf(x / math.sqrt(2)))


def _ipow(x, y):
    x, y = x.astype(np.int64), np.broadcast_to(np.asarray(y, np.int64), np.shape(x))
    r = np.power(x, np.where(y < 0, 0, y))
    neg = np.where(x == 1, 1, np.where(x == -1, np.where(y & 1, -1, 1), 0))
    return np.where(y < 0, neg, r)


_REF = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "neg": np.negative,
    "abs": np.abs, "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log1p": np.log1p,
    "log2": np.log2, "log10": np.log10, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x),
    "reciprocal": lambda x: 1 / x, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin,
    "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "sigmoid": sp.expit, "relu": lambda x: np.where(x < 0, 0, x).astype(x.dtype), "erf": sp.erf, "erfc": sp.erfc,
    "gelu": _gelu, "pow": np.power, "atan2": np.arctan2, "hypot": np.hypot, "copysign": np.copysign,
    "maximum": np.maximum, "minimum": np.minimum, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc,
    "sign": _sign, "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
    "ge": np.greater_equal, "logical_and": np.logical_and, "logical_or": np.logical_or,
    "logical_xor": np.logical_xor, "logical_not": np.logical_not, "isnan": np.isnan, "isinf": np.isinf,
    "where": np.where,
}


def reference(program, arrays):
    """float64 numpy: float steps in float64, integer and bool steps exactly in their dtype."""
    def wide(d):
        return np.float64 if d.is_floating_point else d.numpy

    ins = [np.asarray(a).astype(wide(d)) for a, d in zip(arrays, program.inputs)]
    vals = []
    with np.errstate(all="ignore"):
        for step in program.steps:
            args = [ins[v] if k == I else vals[v] if k == S else v for k, v in step.args]
            if step.op == "cast":
                r = args[0].astype(wide(step.dtype))
            elif step.op == "pow" and not step.dtype.is_floating_point:
                r = _ipow(*args)
            else:
                r = _REF[step.op](*args, **step.attrs)
            vals.append(np.broadcast_to(np.asarray(r).astype(wide(step.dtype)), program.shape))
    return [vals[j] for j in program.outputs]


_TOL = {"half": dict(rtol=2e-3, atol=1e-3), "single": dict(rtol=2e-5, atol=2e-5),
        "double": dict(rtol=1e-11, atol=1e-12)}


def _close(got, want, single, what):
    """Equal dtype-class, NaN where ``want`` is NaN, values within float32 or float64 tolerance."""
    if want.dtype.kind in "biu":
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    tol = _TOL[single]
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), equal_nan=True, err_msg=what,
                               **tol)


def check(program, arrays, device, *, single):
    compiler = REGISTRY.fusion_compiler(device)
    kernel = compiler.compile(program)
    native = [ember.from_numpy(np.asarray(a)).to(device)._data for a in arrays]
    outs = [np.array(o) for o in kernel(*native)]
    assert len(outs) == len(program.outputs)
    ref, eag = reference(program, arrays), eager(program, arrays, device)
    for k, (got, r, e) in enumerate(zip(outs, ref, eag)):
        step = program.steps[program.outputs[k]]
        what = f"output {k} (step {program.outputs[k]}: {step!r}) on {device}"
        assert got.shape == tuple(program.shape), what
        assert got.dtype == e.dtype, what
        low = "half" if step.dtype == dt.float16 else "single" if single or step.dtype == F32 else "double"
        _close(got, r, low, what + " vs float64 reference")
        _close(got, e, low, what + " vs eager")
    return outs


# ---------------------------------------------------------------- the tests
SHAPE = (9, 47)
RNG_SEED = 1234


@pytest.mark.parametrize("device", FUSING)
def test_every_float_op_float32(device):
    rng = np.random.default_rng(RNG_SEED)
    lo = F64 if device == "cpu" else dt.float16
    check(float_program(F32, lo, SHAPE, device), float_inputs(F32, SHAPE, rng), device, single=True)


@pytest.mark.skipif("cpu" not in FUSING, reason="no numba")
def test_every_float_op_float64_cpu():
    rng = np.random.default_rng(RNG_SEED + 1)
    check(float_program(F64, F32, SHAPE), float_inputs(F64, SHAPE, rng), "cpu", single=False)


@pytest.mark.parametrize("device", FUSING)
def test_integer_and_bool_steps(device):
    rng = np.random.default_rng(RNG_SEED + 2)
    check(int_program(SHAPE), int_inputs(SHAPE, rng), device, single=True)


@pytest.mark.parametrize("device", FUSING)
def test_zero_dim_inputs_and_several_outputs(device):
    rng = np.random.default_rng(RNG_SEED + 3)
    x = _specials(rng.standard_normal(SHAPE).astype(np.float32))
    program = scalar_program(SHAPE, f64=device == "cpu")
    for s in (np.float32(0.75), np.float32(np.nan), np.float32(-np.inf)):
        outs = check(program, [x, np.asarray(s), np.asarray(True)], device, single=True)
        assert outs[-1].dtype == (np.float64 if device == "cpu" else np.float32)


@pytest.mark.parametrize("device", FUSING)
def test_issue_chain_large(device):
    # big enough that the CPU runs its parallel loop; inf and NaN inputs propagate as in eager
    n = 1 << 15
    rng = np.random.default_rng(RNG_SEED + 4)
    x = _specials(rng.standard_normal(n).astype(np.float32) * 3)
    program = chain(F32, n)
    (out,) = check(program, [x], device, single=True)
    assert np.isnan(out[0]) and np.isfinite(out[7:]).all()
    if device == "cpu":
        import numba
        from ember.plugins.cpu import compiled
        kernel = REGISTRY.fusion_compiler("cpu").compile(program)
        threads = ember.get_num_threads()
        try:
            ember.set_num_threads(1)             # the parallel loop follows ember's thread count
            np.testing.assert_array_equal(kernel(x)[0], out)
            assert numba.get_num_threads() == 1
        finally:
            ember.set_num_threads(threads)
        with compiled._BUSY:                     # another thread inside numba's threading layer:
            np.testing.assert_allclose(kernel(x)[0], out, rtol=1e-6, atol=1e-7)   # the serial loop


@pytest.mark.skipif("cpu" not in FUSING, reason="no numba")
def test_cpu_non_contiguous_input_and_empty_shape():
    rng = np.random.default_rng(RNG_SEED + 5)
    program = chain(F32, 40)
    kernel = REGISTRY.fusion_compiler("cpu").compile(program)
    base = rng.standard_normal((40, 2)).astype(np.float32)
    (out,) = kernel(base[:, 0])                       # a strided view: copied to C order first
    (want,) = kernel(np.ascontiguousarray(base[:, 0]))
    np.testing.assert_array_equal(out, want)
    assert out.flags.c_contiguous
    (empty,) = REGISTRY.fusion_compiler("cpu").compile(chain(F32, 0))(np.empty(0, np.float32))
    assert empty.shape == (0,) and empty.dtype == np.float32
    with pytest.raises(ValueError, match=r"input 0 has shape \(3,\)"):
        kernel(np.zeros(3, np.float32))


@pytest.mark.skipif("cpu" not in FUSING, reason="no numba")
def test_cpu_kernel_is_cached_in_memory_and_on_disk(tmp_path, monkeypatch):
    from ember.plugins.cpu import fusion
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path / "cache"))
    compiler = fusion.CPUFusionCompiler()
    b = Builder(F32)
    b("mul", b("exp", (I, 0), dtype=F32, hidden=True), (C, 2), dtype=F32)
    program = b.program((40,))
    kernel = compiler.compile(program)
    assert compiler.compile(FusedProgram(program.inputs, program.steps, program.outputs, (40,))) is kernel
    x = np.linspace(-3, 3, 40, dtype=np.float32)
    (want,) = kernel(x)
    np.testing.assert_allclose(want, 2 * np.exp(x.astype(np.float64)), rtol=1e-6)
    path = kernel.module((False,)).__file__
    assert path.startswith(str(tmp_path / "cache" / "fused")) and "prange" in open(path).read()
    assert not [p for p in (tmp_path / "cache" / "fused").iterdir() if p.suffix == ".tmp"]
    # a second process imports the same file: numba finds the compiled loop in its disk cache
    spec = importlib.util.spec_from_file_location("ember_fused_second_process", path)
    again = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(again)
    out = np.empty_like(x)
    again.fused_serial(x.size, x, out)
    np.testing.assert_array_equal(out, want)
    assert again.fused_serial.stats.cache_hits and not again.fused_serial.stats.cache_misses
    # an unwritable cache directory: it still compiles, in a private temporary directory
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("EMBER_CACHE_DIR", str(blocked))
    b = Builder(F32)
    b("add", b("mul", (I, 0), (C, 3), dtype=F32, hidden=True), (C, 1), dtype=F32)
    np.testing.assert_allclose(fusion.CPUFusionCompiler().compile(b.program((40,)))(x)[0], x * 3 + 1, rtol=1e-6)


@pytest.mark.parametrize("device", FUSING)
def test_supports_turns_down_what_it_cannot_generate(device):
    compiler = REGISTRY.fusion_compiler(device)
    assert compiler.supports("mul", {}, F32, (F32, float))
    assert compiler.supports("gt", {}, B, (F32, int))
    assert compiler.supports("cast", {"dtype": I32}, I32, (F32,))
    assert not compiler.supports("sum", {"dims": (), "keepdim": False}, F32, (F32,))
    assert not compiler.supports("matmul", {}, F32, (F32, F32))
    assert not compiler.supports("gelu", {"approximate": "erf"}, F32, (F32,))
    assert not compiler.supports("exp", {}, I32, (I32,))        # float ops have float results
    assert not compiler.supports("add", {}, B, (B, B))
    assert not compiler.supports("add", {}, dt.complex64, (dt.complex64, dt.complex64))
    assert not compiler.supports("round", {"decimals": 0}, F32, (F32,))
    bad = FusedProgram([F32], [Step("exp", [(I, 0)], {}, F32), Step("sum", [(S, 0)], {"dims": (), "keepdim": False},
                                                                    F32)], [1], (4,))
    with pytest.raises(NotImplementedError, match="step 1"):
        compiler.compile(bad)


@pytest.mark.skipif("cpu" not in FUSING, reason="no numba")
def test_cpu_hook_without_numba_runs_unfused(monkeypatch):
    from ember.plugins.cpu import fusion
    monkeypatch.setitem(sys.modules, "numba", None)   # `import numba` raises ImportError
    assert fusion.fusion_compiler() is None


@pytest.mark.parametrize("device", FUSING)
def test_the_programs_cover_every_fused_op(device):
    # what supports() accepts is what these tests run (mps: less erfc, which it leaves unfused)
    module = __import__(f"ember.plugins.{device}.fusion", fromlist=["SUPPORTED"])
    programs = [float_program(F32, F64, SHAPE, device), int_program(SHAPE), scalar_program(SHAPE), chain(F32, 8)]
    tested = {s.op for p in programs for s in p.steps}
    assert set(module.SUPPORTED) <= tested, sorted(set(module.SUPPORTED) - tested)
