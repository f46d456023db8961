"""One generator of C for fused elementwise programs, shared by the OpenCL and CuPy compilers.

``generate(program, dialect)`` turns a ``FusedProgram`` (``ember.dispatch.fusion``) into C
statements, one per step: ``T s<j> = <expression>;`` over the loaded inputs ``in<i>`` and
the earlier steps, with helper functions (sigmoid, Python-style remainder, integer power...)
in a preamble. The device compilers (``opencl/fusion.py``, ``cupy/fusion.py``) wrap the
statements in a kernel: they load ``in<i>`` from their buffers and store the output steps.

What differs between OpenCL C and CUDA C++ is a ``Dialect``: the C names of the types
(``long`` / ``long long``), of the math functions (OpenCL's overloaded ``exp`` / CUDA's
``expf``), NaN and infinity, and how a value is rounded to a 16-bit float. Everything else
— PyTorch's semantics of each op — is written once, here:

* each step is computed in its compute type (bool, the integer types, float, double;
  float16 and bfloat16 in float, rounded back to their precision after every step, as the
  op-by-op kernels store them), and a Python constant is converted to that type first;
* signed integer add/sub/mul/neg wrap (computed in the unsigned type of the same width);
  integer division by zero gives 0 and floor division / remainder round as Python does,
  as ember's kernels do; shifts past the width give 0 (or the sign for a right shift);
* comparisons and logical ops give bool; ``maximum``/``minimum`` propagate NaN (NaN wins);
  ``sign`` of NaN is 0; ``cast`` from a float to a narrower integer goes through int64 (so
  out-of-range values wrap as numpy's casts do);
* ``gelu`` exact (erf) and its tanh approximation; ``sigmoid`` in the overflow-free form.
"""
from __future__ import annotations

import math

import numpy as np

from ember.core import dtype as dt

# ---------------------------------------------------------------- which ops, for which dtypes
FLOAT_UNARY = {"sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
               "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sigmoid", "erf",
               "erfc", "erfinv", "lgamma", "ndtr", "reciprocal", "gelu"}
ANY_UNARY = {"neg", "abs", "sign", "relu", "floor", "ceil", "trunc", "round"}
TO_BOOL_UNARY = {"isnan", "isinf", "logical_not"}
INT_UNARY = {"bitwise_not"}
ARITHMETIC = {"add", "sub", "mul", "maximum", "minimum", "remainder", "fmod", "div_rounding", "pow"}
FLOAT_BINARY = {"div", "atan2", "hypot", "copysign", "xlogy"}
COMPARISON = {"eq", "ne", "lt", "le", "gt", "ge"}
LOGICAL = {"logical_and", "logical_or", "logical_xor"}
BITWISE = {"bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"}
OTHER = {"where", "cast"}
OPS = FLOAT_UNARY | ANY_UNARY | TO_BOOL_UNARY | INT_UNARY | ARITHMETIC | FLOAT_BINARY | COMPARISON | LOGICAL \
    | BITWISE | OTHER

REAL_DTYPES = frozenset(d.name for d in dt.REAL_DTYPES)
_FLOATS = {"float16", "bfloat16", "float32", "float64"}
_INTS = {"uint8", "int8", "int16", "int32", "int64"}
_BITS = {"bool": 8, "uint8": 8, "int8": 8, "int16": 16, "int32": 32, "int64": 64}


def op_supported(op: str, attrs: dict, dtype, input_dtypes=(), dtypes=REAL_DTYPES) -> bool:
    """Whether ``generate`` can express ``op`` with these attributes and (ember) dtypes.

    Args:
        op: an op-table name.
        attrs: the op's keyword attributes.
        dtype: the ember dtype of the result.
        input_dtypes: the ember dtypes of the tensor operands (anything else is ignored).
        dtypes: the dtype names the dialect has (e.g. no 16-bit floats, no float64).

    Returns:
        True when every dtype involved is in ``dtypes`` and the op is one of ``OPS`` with
        attributes and dtypes the generator knows.
    """
    ins = [d.name for d in input_dtypes if isinstance(d, dt.dtype)]
    name = getattr(dtype, "name", None)
    if op not in OPS or name not in dtypes or any(n not in dtypes for n in ins):
        return False
    floating = name in _FLOATS
    if op in FLOAT_UNARY or op in FLOAT_BINARY:
        if op == "gelu" and attrs.get("approximate", "none") not in ("none", "tanh"):
            return False
        return floating
    if op == "round":
        return isinstance(attrs.get("decimals", 0), int)
    if op == "div_rounding":
        return attrs.get("mode") in ("floor", "trunc") and name != "bool"
    if op in ("sub", "neg", "remainder", "fmod", "pow") and name == "bool":
        return False  # PyTorch refuses these for bool
    if op in INT_UNARY or op in BITWISE:
        return not floating
    if op in ("bitwise_left_shift", "bitwise_right_shift") and name == "bool":
        return False
    if op == "cast":
        return isinstance(attrs.get("dtype"), dt.dtype) and attrs["dtype"].name in dtypes
    return True


# ---------------------------------------------------------------- dialects
class Dialect:
    """How one C dialect spells types, math functions, special values and 16-bit rounding.

    Subclasses set ``TYPES`` (ember dtype name -> C type a value of it is computed in),
    ``UNSIGNED`` (C type -> the unsigned type its wrapping arithmetic runs in), ``INLINE``
    (the helper functions' prefix) and ``LONG_SUFFIX``, and override the methods below.
    """
    TYPES: dict = {}
    UNSIGNED: dict = {}
    INLINE = "inline"
    LONG_SUFFIX = "L"
    DTYPES = REAL_DTYPES   # the dtype names this dialect computes

    def ctype(self, dtype) -> str:
        """The C type a value of ``dtype`` (ember dtype) is computed in."""
        return self.TYPES[dtype.name]

    def math(self, fn: str, ct: str) -> str:
        """The name of the C math function ``fn`` (a C99 double name) for arguments of type ``ct``."""
        return fn

    def nan(self, ct: str) -> str:
        raise NotImplementedError

    def inf(self, ct: str) -> str:
        raise NotImplementedError

    def round16(self, dtype_name: str, expr: str, source_ct: str) -> tuple[str, str]:
        """(expression rounding ``expr`` (of C type ``source_ct``) to ``dtype_name``'s precision,
        as a float; helper source) for float16 / bfloat16."""
        raise NotImplementedError


# ---------------------------------------------------------------- the generated code
class Generated:
    """The C of one program: ``helpers`` (preamble), ``statements`` (one per step, in order),
    ``input_types`` (C type of each ``in<i>`` the wrapper must declare and load) and
    ``outputs`` (the variable of each output, in order)."""
    __slots__ = ("helpers", "statements", "input_types", "outputs")

    def __init__(self, helpers, statements, input_types, outputs):
        self.helpers, self.statements = helpers, statements
        self.input_types, self.outputs = input_types, outputs

    def body(self, indent: str = "    ") -> str:
        return "\n".join(indent + s for s in self.statements)


def generate(program, dialect: Dialect) -> Generated:
    """The C statements of ``program`` (a ``FusedProgram``) in ``dialect``.

    Args:
        program: the program; every step must pass ``op_supported``.
        dialect: the target's ``Dialect``.

    Returns:
        A ``Generated``: helpers, statements, the inputs' C types and the output variables.

    Raises:
        NotImplementedError: naming the step the generator cannot express.
    """
    gen = _Generator(program, dialect)
    for j, step in enumerate(program.steps):
        gen.step(j, step)
    missing = [j for j in program.outputs if not 0 <= j < len(program.steps)]
    if missing:
        raise ValueError(f"the program's outputs name steps {missing} it does not have")
    # include guards: the sources of several programs may be concatenated into one file
    helpers = "\n".join(f"#ifndef EMBER_FUSION_{name}\n#define EMBER_FUSION_{name}\n{source.strip()}\n#endif"
                         for name, source in gen.helpers.items())
    return Generated(helpers, gen.statements,
                     [dialect.ctype(d) for d in program.inputs], [f"s{j}" for j in program.outputs])


class _Generator:
    def __init__(self, program, dialect):
        self.p, self.d = program, dialect
        self.helpers = {}      # name -> source, in first-use order
        self.statements = []

    # ---- operands
    def dtype_of(self, ref):
        kind, value = ref
        if kind == "input":
            return self.p.inputs[value]
        if kind == "step":
            if not 0 <= value < len(self.statements):
                raise ValueError(f"a step refers to step {value}, which is not an earlier one")
            return self.p.steps[value].dtype
        if kind == "const":
            return None
        raise ValueError(f"unknown operand reference {ref!r}")

    def operand(self, ref, dtype):
        """``ref`` as a C expression of ``dtype``'s compute type."""
        kind, value = ref
        if kind == "const":
            return self.const(value, dtype)
        name = f"in{value}" if kind == "input" else f"s{value}"
        src = self.dtype_of(ref)
        return name if src is dtype else self.convert(name, src, dtype)

    def const(self, value, dtype) -> str:
        ct = self.d.ctype(dtype)
        if isinstance(value, (bool, np.bool_)):
            value = int(bool(value))
        if dtype.name == "bool":
            return f"(({ct}){int(value != 0)})"
        if dtype.name in _FLOATS:
            v = float(value)
            if ct == "float":
                with np.errstate(over="ignore"):
                    v = float(np.float32(v))   # past float32's range: an infinity, as the conversion gives
            if math.isnan(v):
                return self.d.nan(ct)
            if math.isinf(v):
                return ("-" if v < 0 else "") + self.d.inf(ct)
            if ct == "float":  # the float32 nearest the value, written so that it reads back exactly
                return f"{v!r}f"
            return f"{v!r}"
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError(f"the constant {value} cannot be converted to {dtype.name}")
            value = int(value)
        bits = _BITS[dtype.name]
        value = int(value) & ((1 << bits) - 1)
        if dtype.name != "uint8" and value >= 1 << (bits - 1):
            value -= 1 << bits  # a C cast wraps the same way
        if dtype.name == "int64":
            if value == -(1 << 63):
                return f"(-9223372036854775807{self.d.LONG_SUFFIX} - 1)"
            return f"(({ct}){value}{self.d.LONG_SUFFIX})"
        return f"(({ct}){value})"

    def convert(self, expr, src, dst) -> str:
        """``expr`` (a value of dtype ``src``) as ``dst`` (``cast``'s semantics)."""
        sct, dct = self.d.ctype(src), self.d.ctype(dst)
        if src is dst:
            return expr
        if dst.name == "bool":
            return f"(({dct})({expr} != 0))"
        if dst.name in ("float16", "bfloat16"):
            return self.round16(dst.name, expr, sct)
        if src.name in _FLOATS and dst.name in _INTS and dst.name != "int64":
            # through int64: out-of-range values wrap as numpy's casts do
            return f"(({dct})({self.d.ctype(dt.int64)})({expr}))"
        return f"(({dct})({expr}))"

    def round16(self, name, expr, source_ct):
        if source_ct not in ("float", "double"):  # an integer or bool goes through float, as the stores do
            expr, source_ct = f"((float)({expr}))", "float"
        code, helper = self.d.round16(name, expr, source_ct)
        if helper:
            self.helpers.setdefault(f"round16_{name}_{source_ct}", helper)
        return code

    def helper(self, name, ct, source):
        function = f"ember_{name}_{ct.replace(' ', '_')}"   # "long long" -> ember_ipow_long_long
        if function not in self.helpers:
            self.helpers[function] = source.replace(f"ember_{name}_CT", function) \
                .replace("INLINE", self.d.INLINE).replace("CT", ct).replace("UT", self.d.UNSIGNED.get(ct, ct))
        return function

    def m(self, fn, ct):
        return self.d.math(fn, ct)

    # ---- one step
    def step(self, j, step):
        op, dtype = step.op, step.dtype
        ins = [self.dtype_of(a) for a in step.args]
        if not op_supported(op, step.attrs, dtype, [d for d in ins if d is not None], self.d.DTYPES):
            raise NotImplementedError(f"the C fusion generator cannot express step {j}: {step!r}")
        ct = self.d.ctype(dtype)
        if op == "cast":
            src = ins[0] if ins[0] is not None else dtype
            expr = self.convert(self.operand(step.args[0], src), src, dtype)
            self.statements.append(f"{ct} s{j} = {expr};")
            return
        if op in COMPARISON or op in TO_BOOL_UNARY or op in LOGICAL:
            expr = self.boolean(op, step.args, ins)
        elif op == "where":
            cond = self.operand(step.args[0], dt.bool_) if ins[0] is not None else self.const(step.args[0][1], dt.bool_)
            a, b = (self.operand(r, dtype) for r in step.args[1:])
            expr = f"({cond} ? {a} : {b})"
        else:
            args = [self.operand(r, dtype) for r in step.args]
            expr = self.value(op, step.attrs, dtype, ct, args)
        if dtype.name in ("float16", "bfloat16") and op != "where":
            expr = self.round16(dtype.name, expr, ct)
        self.statements.append(f"{ct} s{j} = {expr};")

    def boolean(self, op, refs, ins):
        known = [d for d in ins if d is not None]
        if op in LOGICAL or op == "logical_not":
            parts = []
            for r, d in zip(refs, ins):
                parts.append(f"({self.operand(r, d)} != 0)" if d is not None else f"{int(r[1] != 0)}")
            if op == "logical_not":
                return f"(!{parts[0]})"
            sym = {"logical_and": "&&", "logical_or": "||", "logical_xor": "!="}[op]
            return f"({parts[0]} {sym} {parts[1]})"
        ctype_dtype = known[0]
        for d in known[1:]:
            ctype_dtype = dt.promote_types(ctype_dtype, d)
        ct = self.d.ctype(ctype_dtype)
        args = [self.operand(r, ctype_dtype) for r in refs]
        if op in ("isnan", "isinf"):
            if ctype_dtype.name not in _FLOATS:
                return "0"
            a = args[0]
            return f"({a} != {a})" if op == "isnan" else f"({self.m('fabs', ct)}({a}) == {self.d.inf(ct)})"
        sym = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[op]
        return f"({args[0]} {sym} {args[1]})"

    def value(self, op, attrs, dtype, ct, args):
        name = dtype.name
        f = name in _FLOATS
        u = name in ("uint8", "bool")
        a = args[0]
        b = args[1] if len(args) > 1 else None
        m = self.m
        ut = self.d.UNSIGNED.get(ct, ct)
        wraps = not f and not u    # signed integers: wrapping arithmetic in the unsigned type
        if op in ("add", "sub", "mul"):
            sym = {"add": "+", "sub": "-", "mul": "*"}[op]
            if wraps:
                return f"(({ct})(({ut}){a} {sym} ({ut}){b}))"
            return f"(({ct})({a} {sym} {b}))"
        if op == "neg":
            return f"(({ct})(({ut})0 - ({ut}){a}))" if wraps else f"(({ct})(-{a}))"
        if op == "abs":
            if f:
                return f"{m('fabs', ct)}({a})"
            return a if u else f"(({ct})({a} < 0 ? ({ut})0 - ({ut}){a} : ({ut}){a}))"
        if op == "sign":
            if name == "bool":
                return a
            return f"(({ct})(({a} > 0) - ({a} < 0)))"   # NaN gives 0, as PyTorch
        if op == "relu":
            return a if u else f"({a} < 0 ? ({ct})0 : {a})"   # NaN is not < 0: it passes
        if op in ("floor", "ceil", "trunc"):
            return f"{m(op, ct)}({a})" if f else a
        if op == "round":
            if not f:
                return a
            decimals = attrs.get("decimals", 0)
            if decimals == 0:
                return f"{m('rint', ct)}({a})"
            s = self.const(10.0 ** abs(decimals), dtype)
            return f"({m('rint', ct)}({a} * {s}) / {s})" if decimals > 0 else f"({m('rint', ct)}({a} / {s}) * {s})"
        if op == "bitwise_not":
            return f"(!{a})" if name == "bool" else f"(({ct})(~{a}))"
        if op in ("bitwise_and", "bitwise_or", "bitwise_xor"):
            sym = {"bitwise_and": "&", "bitwise_or": "|", "bitwise_xor": "^"}[op]
            return f"(({ct})({a} {sym} {b}))"
        if op == "bitwise_left_shift":
            bits = _BITS[name]
            return f"(({b} < 0 || {b} >= {bits}) ? ({ct})0 : ({ct})(({ut}){a} << {b}))"
        if op == "bitwise_right_shift":
            bits = _BITS[name]
            return f"(({b} < 0 || {b} >= {bits}) ? ({ct})({a} < 0 ? -1 : 0) : ({ct})({a} >> {b}))"
        if op == "maximum" or op == "minimum":
            sym = ">" if op == "maximum" else "<"
            if f:  # NaN wins: a NaN a is kept, and a NaN b fails the comparison
                return f"((({a} {sym} {b}) || ({a} != {a})) ? {a} : {b})"
            return f"({a} {sym} {b} ? {a} : {b})"
        if op == "div":
            return f"({a} / {b})"
        if op == "reciprocal":
            return f"(({ct})1 / {a})"
        if op == "rsqrt":
            return f"(({ct})1 / {m('sqrt', ct)}({a}))"
        if op in ("sqrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin",
                  "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "erf", "erfc"):
            return f"{m(op, ct)}({a})"
        if op == "lgamma":
            return f"{m('lgamma', ct)}({a})"
        if op == "ndtr":   # the normal CDF: erfc of -x / sqrt(2), accurate in the lower tail
            return f"(({ct})0.5 * {m('erfc', ct)}(-{a} * {self.const(math.sqrt(0.5), dtype)}))"
        if op == "erfinv":
            src = erfinv_source(self.d.nan(ct), self.d.inf(ct), lambda fn: m(fn, ct))
            return f"{self.helper('erfinv', ct, src)}({a})"
        if op in ("atan2", "hypot", "copysign", "fmod") and f:
            return f"{m(op, ct)}({a}, {b})"
        if op == "sigmoid":
            return f"{self.helper('sigmoid', ct, _SIGMOID.replace('EXP', m('exp', ct)).replace('FABS', m('fabs', ct)))}({a})"
        if op == "gelu":
            if attrs.get("approximate", "none") == "tanh":
                return (f"(({ct})0.5 * {a} * (({ct})1 + {m('tanh', ct)}({self.const(math.sqrt(2 / math.pi), dtype)}"
                        f" * ({a} + {self.const(0.044715, dtype)} * {a} * {a} * {a}))))")
            return f"({a} * ({ct})0.5 * (({ct})1 + {m('erf', ct)}({a} * {self.const(math.sqrt(0.5), dtype)})))"
        if op == "xlogy":
            return f"(({b} != {b}) ? {b} : ({a} == 0 ? ({ct})0 : {a} * {m('log', ct)}({b})))"
        if op == "pow":
            if f:
                return f"{m('pow', ct)}({a}, {b})"
            return f"{self.helper('ipow', ct, _IPOW)}({a}, {b})"
        if op == "remainder":
            if f:
                src = _PYMOD.replace("FMOD", m("fmod", ct)).replace("COPYSIGN", m("copysign", ct))
                return f"{self.helper('pymod', ct, src)}({a}, {b})"
            if u:
                return f"({b} == 0 ? ({ct})0 : ({ct})({a} % {b}))"
            return f"{self.helper('imod', ct, _IMOD)}({a}, {b})"
        if op == "fmod":  # integers: the sign of the dividend, 0 for a zero divisor
            if u:
                return f"({b} == 0 ? ({ct})0 : ({ct})({a} % {b}))"
            return f"(({b} == 0 || {b} == ({ct})-1) ? ({ct})0 : ({ct})({a} % {b}))"
        if op == "div_rounding":
            mode = attrs["mode"]
            if f:
                if mode == "trunc":
                    return f"{m('trunc', ct)}({a} / {b})"
                src = _FLOORDIV.replace("FMOD", m("fmod", ct)).replace("COPYSIGN", m("copysign", ct)) \
                    .replace("FLOOR", m("floor", ct))
                return f"{self.helper('floordiv', ct, src)}({a}, {b})"
            if u:
                return f"({b} == 0 ? ({ct})0 : ({ct})({a} / {b}))"
            return f"{self.helper('idiv_' + mode, ct, _IFLOORDIV if mode == 'floor' else _ITRUNCDIV)}({a}, {b})"
        raise NotImplementedError(f"the C fusion generator has no expression for {op} ({name})")


# ---------------------------------------------------------------- helpers (CT: the type; UT: its unsigned type)
_SIGMOID = """
INLINE CT ember_sigmoid_CT(CT x) {
    CT e = EXP(-FABS(x));   /* exp of a non-positive number: no overflow */
    return x >= 0 ? (CT)1 / ((CT)1 + e) : e / ((CT)1 + e);
}"""

_IPOW = """
INLINE CT ember_ipow_CT(CT a, CT b) {
    if (b < 0) return a == 1 ? (CT)1 : (a == (CT)-1 ? ((b & 1) ? (CT)-1 : (CT)1) : (CT)0);
    UT base = (UT)a, r = 1;
    while (b) { if (b & 1) r *= base; base *= base; b >>= 1; }
    return (CT)r;
}"""

_PYMOD = """
INLINE CT ember_pymod_CT(CT a, CT b) {
    CT mod = FMOD(a, b);
    if (b == (CT)0) return mod;
    if (mod != (CT)0) { if ((b < (CT)0) != (mod < (CT)0)) mod += b; }
    else mod = COPYSIGN((CT)0, b);
    return mod;
}"""

_FLOORDIV = """
INLINE CT ember_floordiv_CT(CT a, CT b) {
    if (b == (CT)0) return a / b;
    CT mod = FMOD(a, b);
    CT div = (a - mod) / b;
    if (mod != (CT)0 && ((b < (CT)0) != (mod < (CT)0))) div -= (CT)1;
    CT fl;
    if (div != (CT)0) { fl = FLOOR(div); if (div - fl > (CT)0.5) fl += (CT)1; }
    else fl = COPYSIGN((CT)0, a / b);
    return fl;
}"""

_IMOD = """
INLINE CT ember_imod_CT(CT a, CT b) {
    if (b == 0 || b == (CT)-1) return 0;
    CT r = (CT)(a % b);
    if (r != 0 && ((r < 0) != (b < 0))) r = (CT)(r + b);
    return r;
}"""

_IFLOORDIV = """
INLINE CT ember_idiv_floor_CT(CT a, CT b) {
    if (b == 0) return 0;
    if (b == (CT)-1) return (CT)((UT)0 - (UT)a);
    CT q = (CT)(a / b);
    if ((a % b != 0) && ((a < 0) != (b < 0))) q = (CT)(q - 1);
    return q;
}"""

_ITRUNCDIV = """
INLINE CT ember_idiv_trunc_CT(CT a, CT b) {
    if (b == 0) return 0;
    if (b == (CT)-1) return (CT)((UT)0 - (UT)a);
    return (CT)(a / b);
}"""

# Giles' single-precision approximation ("Approximating the erfinv function", 2010), then two Newton
# steps on erf(x) = y, which bring it to the type's precision (float64 included)
def erfinv_source(nan: str, inf: str, math) -> str:
    """C source of ``ember_erfinv_CT`` (``CT`` the type placeholder): ``nan``/``inf`` spell the special
    values, ``math(fn)`` names a math function; shared by the fused and the OpenCL elementwise kernels."""
    src = _ERFINV.replace("ISNAN_Y", "(y != y)").replace("NAN_", nan).replace("INF_", inf)
    for fn in ("log", "sqrt", "erf", "exp"):
        src = src.replace(f"{fn.upper()}_(", f"{math(fn)}(")
    return src


_ERFINV = """
INLINE CT ember_erfinv_CT(CT y) {
    if (ISNAN_Y || y < (CT)-1 || y > (CT)1) return NAN_;
    if (y == (CT)1) return INF_;
    if (y == (CT)-1) return -INF_;
    CT w = -LOG_(((CT)1 - y) * ((CT)1 + y));
    CT p;
    if (w < (CT)5) {
        w = w - (CT)2.5;
        p = (CT)2.81022636e-08;
        p = (CT)3.43273939e-07 + p * w;
        p = (CT)-3.5233877e-06 + p * w;
        p = (CT)-4.39150654e-06 + p * w;
        p = (CT)0.00021858087 + p * w;
        p = (CT)-0.00125372503 + p * w;
        p = (CT)-0.00417768164 + p * w;
        p = (CT)0.246640727 + p * w;
        p = (CT)1.50140941 + p * w;
    } else {
        w = SQRT_(w) - (CT)3;
        p = (CT)-0.000200214257;
        p = (CT)0.000100950558 + p * w;
        p = (CT)0.00134934322 + p * w;
        p = (CT)-0.00367342844 + p * w;
        p = (CT)0.00573950773 + p * w;
        p = (CT)-0.0076224613 + p * w;
        p = (CT)0.00943887047 + p * w;
        p = (CT)1.00167406 + p * w;
        p = (CT)2.83297682 + p * w;
    }
    CT x = p * y;
    for (int i = 0; i < 2; ++i) {
        CT err = ERF_(x) - y;
        x -= err / ((CT)1.1283791670955126 * EXP_(-x * x));
    }
    return x;
}"""
