"""The cases of the differential suite: Python code over a module named ``torch``.

Each case is a short piece of code (usually one expression; statements may come first,
separated by ``;``, and the last expression is the result) over a module bound to the
name ``torch``, numpy as ``np``, the device under test as ``device`` and named inputs
given as numpy arrays with a target dtype. ``record_pytorch.py`` runs every case with
``torch`` = PyTorch and stores the outcomes; ``replay.py`` runs them with ``torch`` =
ember and compares. This module imports numpy only, so both sides build the very same
list, and it also holds the two helpers both sides share (``execute`` and ``describe``).

Changing anything here changes case digests; regenerate the fixture afterwards (the
replay reports every case whose digest no longer matches as stale):

    python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch==2.13.0 numpy
    cd <repository root> && /tmp/torch-venv/bin/python -m tests.differential.record_pytorch

Values come from a small linear congruential generator written here rather than from
numpy's random module, so the two interpreters (different numpy versions) agree on
every input bit; the digest check catches it if they ever do not.
"""
import ast
import hashlib
import math
from dataclasses import dataclass

import numpy as np

DTYPES = ("bool", "uint8", "int32", "int64", "float16", "bfloat16", "float32", "float64")
FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("uint8", "int32", "int64")

# Spellings in case code that create a tensor of the dtype; a device lacking the dtype
# (mps: float64) skips every on-device case that mentions one of them.
DTYPE_SPELLINGS = {
    "float64": ("float64", "double"),
    "float16": ("float16", "half"),
    "bfloat16": ("bfloat16",),
}

# numpy carries each input; bfloat16 travels as float32 holding bfloat16 values exactly.
CARRIER = {"bool": np.bool_, "uint8": np.uint8, "int32": np.int32, "int64": np.int64,
           "float16": np.float16, "bfloat16": np.float32, "float32": np.float32,
           "float64": np.float64}

HUGE = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38,
        "float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}
TINY = {"float16": 6.103515625e-05, "bfloat16": 1.1754943508222875e-38,
        "float32": 1.1754943508222875e-38, "float64": 2.2250738585072014e-308}
SUBNORMAL = {"float16": 5.960464477539063e-08, "bfloat16": 9.183549615799121e-41,
             "float32": 1.401298464324817e-45, "float64": 5e-324}
INT_MIN = {"uint8": 0, "int32": -2**31, "int64": -2**63}
INT_MAX = {"uint8": 255, "int32": 2**31 - 1, "int64": 2**63 - 1}
INF, NAN = math.inf, math.nan


# --------------------------------------------------------------------------- the case
@dataclass(frozen=True)
class Case:
    id: str
    family: str
    code: str
    inputs: tuple  # ((name, numpy carrier array, dtype name), ...)

    @property
    def input_dtypes(self):
        return tuple(dtype for _, _, dtype in self.inputs)

    @property
    def on_device(self):
        """Whether the result should live on the device under test: the case has tensor
        inputs (moved there) or creates its tensors with ``device=device``."""
        return bool(self.inputs) or "device" in _names(self.code)

    def mentioned_dtypes(self):
        """Dtypes the code itself creates (by name); see DTYPE_SPELLINGS."""
        return {d for d, spellings in DTYPE_SPELLINGS.items()
                if any(s in self.code for s in spellings)}

    def digest(self):
        """A fingerprint of everything that determines the outcome, so the replay can
        tell a fixture recorded from other cases."""
        h = hashlib.sha1(self.code.encode())
        for name, array, dtype in self.inputs:
            h.update(f"|{name}:{dtype}:{array.shape}:{array.dtype.str}|".encode())
            h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:16]


def _names(code):
    return {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}


# --------------------------------------------------------------- shared by both sides
class InputConstructionFailed(Exception):
    """The framework could not even build a case's inputs. Deliberately not a subclass
    of any builtin error class PyTorch raises, so it never passes for an expected one."""


def execute(case, torch, device):
    """Build the case's inputs with ``torch.tensor(array, dtype=...).to(device)`` and run
    its code; returns the value of the last expression (or raises what the code raises)."""
    namespace = {"torch": torch, "np": np, "device": device}
    try:
        for name, array, dtype in case.inputs:
            namespace[name] = torch.tensor(array, dtype=getattr(torch, dtype)).to(device)
    except Exception as e:  # noqa: BLE001 - reported as the case's outcome
        raise InputConstructionFailed(f"building inputs: {type(e).__name__}: {e}") from e
    tree = ast.parse(case.code, mode="exec")
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        exec(compile(ast.Module(tree.body[:-1], type_ignores=[]), case.id, "exec"), namespace)
        return eval(compile(ast.Expression(last.value), case.id, "eval"), namespace)
    exec(compile(tree, case.id, "exec"), namespace)
    return None


# builtin exception classes, most specific first: an exception's recorded base is the
# first of these it is an instance of (PyTorch raises subclasses such as
# torch.AcceleratorError or NotImplementedError-derived "not implemented for" errors).
EXCEPTION_BASES = ("NotImplementedError", "ZeroDivisionError", "OverflowError", "IndexError",
                   "KeyError", "ValueError", "TypeError", "AttributeError", "RuntimeError",
                   "ArithmeticError", "LookupError", "Exception")

DTYPE_NAMES = DTYPES + ("int8", "int16", "uint16", "uint32", "uint64", "complex64",
                        "complex128")


def dtype_name(torch, dtype):
    """The canonical name of a framework dtype (``float32``), found by identity so that
    it does not depend on how the framework prints it."""
    for name in DTYPE_NAMES:
        if getattr(torch, name, None) is dtype:
            return name
    for name in DTYPE_NAMES:
        if getattr(torch, name, None) == dtype:
            return name
    return f"?{dtype}"


def describe(torch, value):
    """A framework-neutral description of a result, as nested tuples:

    ("tensor", dtype name, shape, device type, numpy values)
    ("seq", "tuple" | "list", [descriptions])
    ("py", kind, value)   kind: bool int float complex ([re, im]) str None dtype device Size
    ("other", type name, repr)
    """
    if isinstance(value, torch.Tensor):
        name = dtype_name(torch, value.dtype)
        host = value.detach().cpu()
        try:
            values = np.asarray(host.numpy())
        except (TypeError, RuntimeError):  # PyTorch's numpy() refuses bfloat16
            values = np.asarray(host.to(torch.float32).numpy())
        if name == "bfloat16":
            values = values.astype(np.float32)
        return ("tensor", name, tuple(int(s) for s in value.shape), value.device.type, values)
    # getattr: a framework lacking one of these classes must still get its results described
    if isinstance(value, getattr(torch, "Size", ())):
        return ("py", "Size", [int(s) for s in value])
    if isinstance(value, getattr(torch, "dtype", ())):
        return ("py", "dtype", dtype_name(torch, value))
    if isinstance(value, getattr(torch, "device", ())):
        return ("py", "device", str(value))
    if isinstance(value, (tuple, list)):
        kind = "list" if isinstance(value, list) else "tuple"
        return ("seq", kind, [describe(torch, v) for v in value])
    if value is None:
        return ("py", "None", None)
    if isinstance(value, complex):
        return ("py", "complex", [value.real, value.imag])
    for kind in (bool, int, float, str):  # bool before int: bool is an int
        if isinstance(value, kind) and not isinstance(value, np.generic):
            return ("py", kind.__name__, value)
    return ("other", type(value).__name__, repr(value)[:200])


def describe_exception(exc):
    """("exception", exact class name, nearest builtin base, message, every base it is an
    instance of): the replay accepts any exception that is an instance of the recorded base."""
    import builtins
    bases = tuple(b for b in EXCEPTION_BASES if isinstance(exc, getattr(builtins, b)))
    message = str(exc).splitlines()[0][:200] if str(exc) else ""
    return ("exception", type(exc).__name__, bases[0], message, bases)


# ------------------------------------------------------------------ deterministic values
class Stream:
    """A 64-bit linear congruential generator (Knuth's MMIX constants)."""

    def __init__(self, seed):
        self.state = (seed * 2654435761 + 1) % 2**64

    def _next(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % 2**64
        return self.state >> 11  # the high 53 bits are the good ones

    def floats(self, n, lo, hi, decimals=2):
        return [round(lo + (hi - lo) * self._next() / 2**53, decimals) for _ in range(n)]

    def ints(self, n, lo, hi):
        return [lo + self._next() % (hi - lo + 1) for _ in range(n)]

    def bools(self, n):
        return [bool(self._next() & 1024) for _ in range(n)]


def to_bfloat16(values):
    """float32 values rounded to the nearest bfloat16 (ties to even), kept as float32."""
    x = np.asarray(values, dtype=np.float32)
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16 << 16).astype(np.uint32)
    return np.where(np.isnan(x), np.float32(np.nan), rounded.view(np.float32))


def carrier(values, dtype, shape=None):
    """The numpy array that carries an input of ``dtype`` (values already in range)."""
    with np.errstate(over="ignore"):
        if dtype == "bfloat16":
            array = to_bfloat16(np.asarray(values, dtype=np.float64).astype(np.float32))
        elif dtype in INTS:
            # through Python ints, so that extremes such as -2**63 arrive exactly
            array = np.array(values, dtype=object).astype(CARRIER[dtype])
        else:
            array = np.asarray(values, dtype=np.float64 if dtype != "bool" else np.bool_)
            array = array.astype(CARRIER[dtype])
    return array.reshape(shape) if shape is not None else array


KIND_RANGES = {
    # kind: (float range, signed int range, uint8 range)
    "any": ((-3.0, 3.0), (-9, 9), (0, 20)),
    "pos": ((0.1, 4.0), (1, 9), (1, 20)),
    "nonzero": ((0.5, 3.0), (1, 9), (1, 20)),  # signs are drawn separately, see below
    "unit": ((-0.95, 0.95), (-1, 1), (0, 1)),
    "exp": ((-2.0, 2.0), (0, 3), (0, 3)),  # exponents that keep integer pow in range
    "base": ((-2.5, 2.5), (-3, 3), (0, 4)),
    "idx": ((0.0, 9.0), (0, 9), (0, 9)),
}


def regular(stream, dtype, shape, kind="any"):
    """Random ordinary values of ``dtype`` with ``shape``; ``kind`` narrows the domain."""
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == "bool":
        values = [True] * n if kind in ("pos", "nonzero") else stream.bools(n)
    elif dtype == "uint8":
        values = stream.ints(n, *KIND_RANGES[kind][2])
    elif dtype in INTS:
        values = stream.ints(n, *KIND_RANGES[kind][1])
        if kind == "nonzero":
            values = [v if s else -v for v, s in zip(values, stream.bools(n))]
    else:
        values = stream.floats(n, *KIND_RANGES[kind][0])
        if kind == "nonzero":
            values = [v if s else -v for v, s in zip(values, stream.bools(n))]
    return carrier(values, dtype, shape)


def float_edges(dtype):
    return [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -2.5, INF, -INF, NAN, HUGE[dtype], -HUGE[dtype],
            TINY[dtype], -TINY[dtype], SUBNORMAL[dtype]]


def int_edges(dtype):
    if dtype == "uint8":
        return [0, 1, 2, 7, 128, 254, 255]
    return [0, 1, -1, 7, -7, INT_MAX[dtype], INT_MIN[dtype]]


def edges(dtype):
    if dtype == "bool":
        return [False, True]
    return float_edges(dtype) if dtype in FLOATS else int_edges(dtype)


# ------------------------------------------------------------------------ the builder
class Builder:
    def __init__(self):
        self.cases = []
        self.counts = {}

    def add(self, family, code, **inputs):
        """``inputs``: name -> (carrier array, dtype name)."""
        n = self.counts.get(family, 0)
        self.counts[family] = n + 1
        packed = tuple((name, np.asarray(array), dtype) for name, (array, dtype) in inputs.items())
        self.cases.append(Case(f"{family}-{n:04d}", family, code, packed))


def _t(stream, dtype, shape, kind="any"):
    return (regular(stream, dtype, shape, kind), dtype)


def _v(values, dtype, shape=None):
    return (carrier(values, dtype, shape), dtype)


# ------------------------------------------------------------------------ arithmetic
ARITH = [  # (name, template, divisor-like: the second operand must be nonzero for ints)
    ("add", "torch.add({a}, {b})", False),
    ("add_alpha", "torch.add({a}, {b}, alpha=2)", False),
    ("sub", "torch.sub({a}, {b})", False),
    ("mul", "torch.mul({a}, {b})", False),
    ("div", "torch.div({a}, {b})", True),
    ("div_trunc", "torch.div({a}, {b}, rounding_mode='trunc')", True),
    ("div_floor", "torch.div({a}, {b}, rounding_mode='floor')", True),
    ("floor_divide", "torch.floor_divide({a}, {b})", True),
    ("remainder", "torch.remainder({a}, {b})", True),
    ("fmod", "torch.fmod({a}, {b})", True),
    ("pow", "torch.pow({a}, {b})", False),
    ("maximum", "torch.maximum({a}, {b})", False),
    ("minimum", "torch.minimum({a}, {b})", False),
    ("atan2", "torch.atan2({a}, {b})", False),
]
OPERATORS = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / {b}", "{a} // {b}", "{a} % {b}",
             "{a} ** {b}"]


def _operands(stream, name, divisor, dtype_a, dtype_b, shape_a, shape_b):
    if name == "pow":
        return _t(stream, dtype_a, shape_a, "base"), _t(stream, dtype_b, shape_b, "exp")
    return (_t(stream, dtype_a, shape_a),
            _t(stream, dtype_b, shape_b, "nonzero" if divisor else "any"))


def arithmetic(b):
    s = Stream(1)
    # every op on every dtype, same dtype on both sides
    for name, tmpl, divisor in ARITH:
        for dt in DTYPES:
            x, y = _operands(s, name, divisor, dt, dt, (2, 3), (2, 3))
            b.add("arith", tmpl.format(a="a", b="b"), a=x, b=y)
    for tmpl in OPERATORS:
        divisor = "/" in tmpl or "%" in tmpl
        for dt in DTYPES:
            x, y = _operands(s, "pow" if "**" in tmpl else "", divisor, dt, dt, (3,), (3,))
            b.add("arith", tmpl.format(a="a", b="b"), a=x, b=y)
    # shapes: broadcasting, 0-d, empty, non-contiguous views, a mismatch
    layouts = [((2, 1), (3,), "a", "b"), ((), (2, 3), "a", "b"), ((2, 3), (), "a", "b"),
               ((0,), (1,), "a", "b"), ((2, 0), (2, 1), "a", "b"), ((3,), (2,), "a", "b"),
               ((3, 2), (2, 3), "a.t()", "b"), ((2, 6), (2, 3), "a[:, ::2]", "b"),
               ((4, 3), (3,), "a[1::2]", "b.flip(0)")]
    for name, tmpl, divisor in ARITH:
        for dt in ("float32", "int64", "float16", "uint8"):
            for shape_a, shape_b, ea, eb in layouts:
                x, y = _operands(s, name, divisor, dt, dt, shape_a, shape_b)
                b.add("arith", tmpl.format(a=ea, b=eb), a=x, b=y)
    # type promotion: every ordered pair of distinct dtypes
    for name, tmpl, divisor in ARITH:
        if name in ("add_alpha", "atan2", "fmod", "minimum"):
            continue
        for da in DTYPES:
            for db in DTYPES:
                if da != db:
                    x, y = _operands(s, name, divisor, da, db, (3,), (3,))
                    b.add("arith_promotion", tmpl.format(a="a", b="b"), a=x, b=y)
    # 0-d tensors take part in promotion only within their category
    for da in DTYPES:
        for db in DTYPES:
            b.add("arith_promotion", "a + b", a=_t(s, da, (3,)), b=_t(s, db, ()))
            if da != db:
                b.add("arith_promotion", "a * b", a=_t(s, da, ()), b=_t(s, db, (2,)))
    # Python scalars
    # Python scalars: (code, value kind of ``a``)
    scalars = [("a + 1", "any"), ("a + 1.5", "any"), ("a + True", "any"), ("1 - a", "any"),
               ("a - 2.5", "any"), ("a * 3", "any"), ("a * 0.5", "any"), ("2 / a", "nonzero"),
               ("a / 2", "any"), ("a // 2", "any"), ("a // 0.5", "any"), ("a % 3", "any"),
               ("a % -2.5", "any"), ("-7 % a", "nonzero"), ("a ** 2", "base"), ("a ** 0.5", "base"),
               ("2 ** a", "exp"), ("a ** -1", "nonzero"), ("torch.pow(a, -2)", "nonzero"),
               ("a ** 0", "base"), ("torch.add(a, 1, alpha=2)", "any"), ("torch.add(a, b, alpha=0.5)", "any"),
               ("torch.sub(a, 1.5)", "any"), ("torch.mul(a, True)", "any"),
               ("torch.div(a, 3, rounding_mode='floor')", "any"),
               ("torch.div(-7, a, rounding_mode='trunc')", "nonzero"), ("torch.remainder(5, a)", "nonzero"),
               ("torch.fmod(a, -3)", "any"), ("a // 0", "any"), ("a % 0", "any"), ("a / 0", "any")]
    for code, kind in scalars:
        for dt in DTYPES:
            inputs = {"a": _t(s, dt, (4,), kind)}
            if "b" in _names(code):
                inputs["b"] = _t(s, dt, (4,))
            b.add("arith_scalar", code, **inputs)
    # edge values: a column of specials against a row of specials
    for dt in FLOATS:
        e = float_edges(dt)
        cols = [(e[:10], [0.0, -0.0, 2.0, -INF, NAN]),
                ([e[10], e[11], e[12], e[13], e[14], 3.0, -3.0, 0.5], [2.0, -3.0, 0.5, INF, HUGE[dt]])]
        for name, tmpl, _ in ARITH:
            for n, (left, right) in enumerate(cols):
                if name == "add_alpha" and n == 1:
                    continue  # -huge + 2 * huge: finite only where the platform fuses a multiply-add
                b.add("arith_edge", tmpl.format(a="a", b="b"),
                      a=_v(left, dt, (len(left), 1)), b=_v(right, dt, (1, len(right))))
    for dt in INTS:
        left = int_edges(dt)
        for name, tmpl, divisor in ARITH:
            # keep away from MIN / -1 (a hardware trap on x86) and from huge exponents
            right = [3, 2, 7] if dt == "uint8" else [3, -3, 2, 7]
            if name == "pow":
                right = [0, 1, 2]
            b.add("arith_edge", tmpl.format(a="a", b="b"),
                  a=_v(left, dt, (len(left), 1)), b=_v(right, dt, (1, len(right))))
            if divisor:  # integer division by zero
                b.add("arith_edge", tmpl.format(a="a", b="b"), a=_v([5, 0, 1], dt), b=_v([1, 0, 2], dt))
        # integer wrap-around
        b.add("arith_edge", "a + b", a=_v([INT_MAX[dt]], dt), b=_v([1], dt))
        b.add("arith_edge", "a - b", a=_v([INT_MIN[dt]], dt), b=_v([1], dt))
        b.add("arith_edge", "a * b", a=_v([INT_MAX[dt], 16], dt), b=_v([2, 16], dt))
    for dt in ("int32", "int64", "uint8"):
        # integers to negative integer powers: tensor exponents are computed, scalars refused
        if dt != "uint8":
            b.add("arith_edge", "torch.pow(a, b)", a=_v([2, -1, 1, 0, -2, 3], dt), b=_v([-1, -3, -2, -1, -2, 0], dt))
        b.add("arith_edge", "a ** -2", a=_v([2, 1, 3], dt))
        b.add("arith_edge", "a ** -2.0", a=_v([2, 1, 3], dt))
    # in-place ops whose result type does not fit the destination
    for code, da, db in [("a.add_(b)", "int64", "float32"), ("a.add_(b)", "float32", "int64"),
                         ("a.mul_(b)", "int32", "float16"), ("a.div_(b)", "int64", "int64"),
                         ("a.div_(b, rounding_mode='floor')", "int64", "int64"),
                         ("a.add_(b)", "bool", "bool"), ("a.add_(b)", "bool", "int32"),
                         ("a.add_(b)", "float16", "float32"), ("a.sub_(1.5)", "int32", "int32"),
                         ("a += b; a", "float32", "float64"), ("a += b; a", "int32", "int64"),
                         ("a.add_(b)", "float32", "float32")]:
        inputs = {"a": _t(s, da, (3,)), "b": _t(s, db, (3,), "nonzero")}
        if "b" not in _names(code):
            del inputs["b"]
        b.add("arith_inplace", code, **inputs)
    # broadcasting into an in-place destination that is too small
    b.add("arith_inplace", "a.add_(b)", a=_t(s, "float32", (3,)), b=_t(s, "float32", (2, 3)))
    b.add("arith_inplace", "a.add_(b)", a=_t(s, "float32", (2, 3)), b=_t(s, "float32", (3,)))


def bool_and_sign(b):
    """neg and abs of bool, bool subtraction, sign-like unary ops over every dtype."""
    s = Stream(2)
    for code in ["-a", "torch.neg(a)", "torch.abs(a)", "a.abs()", "torch.sign(a)",
                 "torch.square(a)", "a.square()", "torch.positive(a)", "abs(a)", "+a",
                 "torch.sgn(a)", "torch.negative(a)"]:
        for dt in DTYPES:
            b.add("neg_abs", code, a=_t(s, dt, (5,)))
    for code in ["a - b", "torch.sub(a, b)", "a + b", "a * b", "a / b", "torch.rsub(a, b)",
                 "a - 1", "a - True", "1 - a", "torch.add(a, b, alpha=2)"]:
        b.add("neg_abs", code, a=_t(s, "bool", (4,)), b=_t(s, "bool", (4,)))
    for dt in DTYPES:
        b.add("neg_abs", "torch.abs(a)", a=_v(edges(dt), dt))
        b.add("neg_abs", "-a", a=_v(edges(dt), dt))
        b.add("neg_abs", "torch.square(a)", a=_v(edges(dt)[:7], dt))


# ------------------------------------------------------------------------ comparisons
COMPARE = ["{a} == {b}", "{a} != {b}", "{a} < {b}", "{a} <= {b}", "{a} > {b}", "{a} >= {b}",
           "torch.eq({a}, {b})", "torch.ne({a}, {b})", "torch.lt({a}, {b})", "torch.ge({a}, {b})"]


def comparisons(b):
    s = Stream(3)
    for tmpl in COMPARE:
        for dt in DTYPES:
            b.add("compare", tmpl.format(a="a", b="b"), a=_t(s, dt, (2, 3), "unit"), b=_t(s, dt, (2, 3), "unit"))
        b.add("compare", tmpl.format(a="a", b="b"), a=_t(s, "float32", (2, 1)), b=_t(s, "float32", (3,)))
        b.add("compare", tmpl.format(a="a.t()", b="b"), a=_t(s, "int64", (3, 2), "unit"), b=_t(s, "int64", (2, 3), "unit"))
        b.add("compare", tmpl.format(a="a", b="b"), a=_t(s, "float32", (0,)), b=_t(s, "float32", (1,)))
        b.add("compare", tmpl.format(a="a", b="b"), a=_t(s, "float32", (2,)), b=_t(s, "float32", (3,)))
    for da, db in [("int32", "float32"), ("uint8", "int64"), ("bool", "float16"), ("bool", "int32"),
                   ("float16", "bfloat16"), ("int64", "float64"), ("float32", "float64"),
                   ("uint8", "bool"), ("bfloat16", "int64")]:
        for tmpl in COMPARE[:6]:
            b.add("compare", tmpl.format(a="a", b="b"), a=_t(s, da, (4,), "unit"), b=_t(s, db, (4,), "unit"))
    scalars = ["a == 1", "a != 0", "a < 0.5", "a >= True", "1 < a", "a == 1.0", "a > -1",
               "a == None", "a != None", "None == a", "a <= 2.5", "a == -1", "a < 300",
               "a == 1.5", "torch.eq(a, 1)", "torch.gt(a, 0.5)"]
    for code in scalars:
        for dt in DTYPES:
            b.add("compare_scalar", code, a=_t(s, dt, (4,), "unit"))
    for dt in FLOATS:
        e = float_edges(dt)
        for tmpl in COMPARE[:6]:
            b.add("compare_edge", tmpl.format(a="a", b="b"), a=_v(e[:10], dt, (10, 1)),
                  b=_v([NAN, INF, -0.0, 1.0], dt, (1, 4)))
    funcs = ["torch.isnan(a)", "torch.isinf(a)", "torch.isfinite(a)", "torch.isposinf(a)",
             "torch.isneginf(a)", "torch.signbit(a)", "torch.isreal(a)", "torch.nan_to_num(a)",
             "torch.nan_to_num(a, nan=0.5, posinf=2.0, neginf=-2.0)"]
    for code in funcs:
        for dt in DTYPES:
            values = edges(dt)
            if code == "torch.signbit(a)":  # the sign of a NaN made by a float->half conversion is
                values = [v for v in values if v == v]  # the converter's choice, not signbit's
            b.add("compare_edge", code, a=_v(values, dt))
    for code in ["torch.isclose(a, b)", "torch.isclose(a, b, equal_nan=True)",
                 "torch.isclose(a, b, rtol=0, atol=0.1)", "torch.equal(a, b)", "torch.equal(a, a)",
                 "torch.allclose(a, b)", "torch.allclose(a, a, equal_nan=True)",
                 "torch.fmax(a, b)", "torch.fmin(a, b)", "torch.maximum(a, b)", "torch.minimum(a, b)",
                 "torch.eq(a, b).all()", "a.eq(b).any()"]:
        for dt in ("float32", "float64", "float16", "int64", "bool"):
            if dt in FLOATS:
                x = _v([1.0, NAN, INF, -0.0, 2.0, NAN], dt)
                y = _v([1.0 + 1e-6, NAN, INF, 0.0, 2.5, 1.0], dt)
            else:
                x, y = _t(s, dt, (6,), "unit"), _t(s, dt, (6,), "unit")
            b.add("compare_misc", code, a=x, b=y)
    # comparing with a scalar out of the dtype's range
    b.add("compare_scalar", "a == -1", a=_v([255, 0], "uint8"))
    b.add("compare_scalar", "a < 256", a=_v([255, 0], "uint8"))
    b.add("compare_scalar", "a == 2**40", a=_v([1, 2], "int32"))
    b.add("compare_scalar", "a > 1e10", a=_v([1, 2], "int32"))
    b.add("compare_scalar", "torch.equal(a, b)", a=_t(s, "float32", (3,)), b=_t(s, "float32", (2,)))
    b.add("compare_scalar", "torch.equal(a, b)", a=_v([1, 2], "int64"), b=_v([1.0, 2.0], "float32"))


# --------------------------------------------------------------------- logical/bitwise
def logical_bitwise(b):
    s = Stream(4)
    for code in ["torch.logical_and(a, b)", "torch.logical_or(a, b)", "torch.logical_xor(a, b)",
                 "torch.logical_not(a)", "a & b", "a | b", "a ^ b", "~a",
                 "torch.bitwise_and(a, b)", "torch.bitwise_or(a, b)", "torch.bitwise_xor(a, b)",
                 "torch.bitwise_not(a)", "a & True", "a | 1", "a ^ 3", "a << 1", "a >> 1",
                 "torch.bitwise_left_shift(a, b)", "a.logical_not()", "a & 1.5"]:
        for dt in DTYPES:
            inputs = {"a": _t(s, dt, (2, 3), "unit" if dt != "uint8" else "any")}
            if "b" in _names(code):
                inputs["b"] = _t(s, dt, (2, 3), "exp" if "shift" in code else "unit")
            b.add("logical", code, **inputs)
    for da, db in [("bool", "int32"), ("uint8", "int64"), ("int32", "int64"), ("bool", "float32"),
                   ("float32", "float64"), ("bool", "uint8")]:
        for code in ["a & b", "a | b", "torch.logical_and(a, b)", "torch.logical_xor(a, b)"]:
            b.add("logical", code, a=_t(s, da, (4,), "unit"), b=_t(s, db, (4,), "unit"))
    for dt in DTYPES:
        b.add("logical", "torch.logical_not(a)", a=_v(edges(dt), dt))
        b.add("logical", "torch.logical_and(a, b)", a=_v(edges(dt), dt), b=_v(edges(dt)[::-1], dt))
    for dt in INTS:
        b.add("logical", "~a", a=_v(int_edges(dt), dt))
        b.add("logical", "a ^ b", a=_v(int_edges(dt), dt), b=_v(int_edges(dt)[::-1], dt))
    b.add("logical", "a & b", a=_t(s, "int32", (2, 1)), b=_t(s, "int32", (3,)))
    b.add("logical", "a.t() | b", a=_t(s, "int64", (3, 2)), b=_t(s, "int64", (2, 3)))
    b.add("logical", "a & b", a=_t(s, "bool", (0,)), b=_t(s, "bool", (1,)))


# ---------------------------------------------------------------------------- unary
UNARY = [  # (op, value kind for ordinary inputs)
    ("exp", "any"), ("exp2", "any"), ("expm1", "any"), ("log", "pos"), ("log2", "pos"),
    ("log10", "pos"), ("log1p", "pos"), ("sqrt", "pos"), ("rsqrt", "pos"), ("sin", "any"),
    ("cos", "any"), ("tan", "unit"), ("asin", "unit"), ("acos", "unit"), ("atan", "any"),
    ("sinh", "any"), ("cosh", "any"), ("tanh", "any"), ("asinh", "any"), ("acosh", "pos"),
    ("atanh", "unit"), ("sigmoid", "any"), ("erf", "any"), ("erfinv", "unit"),
    ("floor", "any"), ("ceil", "any"), ("round", "any"), ("trunc", "any"), ("frac", "any"),
    ("reciprocal", "nonzero"), ("relu", "any"), ("square", "any"), ("sign", "any"),
    ("deg2rad", "any"), ("logit", "unit"),
    # erfc, lgamma, digamma and the other special functions join with ember.special (issue 12)
]
TRIG = {"sin", "cos", "tan"}  # huge arguments: argument reduction is libm-specific


def unary(b):
    s = Stream(5)
    for op, kind in UNARY:
        for dt in DTYPES:
            b.add("unary", f"torch.{op}(a)", a=_t(s, dt, (2, 3), kind))
        for dt in FLOATS:
            e = float_edges(dt)
            if op in TRIG:
                e = [v for v in e if abs(v) != HUGE[dt]]
            b.add("unary_edge", f"torch.{op}(a)", a=_v(e, dt))
        b.add("unary", f"torch.{op}(a.t())", a=_t(s, "float32", (3, 2), kind))
        b.add("unary", f"a[:, ::2].{op}()", a=_t(s, "float32", (2, 6), kind))
        b.add("unary", f"torch.{op}(a)", a=_t(s, "float32", (), kind))
        b.add("unary", f"torch.{op}(a)", a=_t(s, "float32", (2, 0), kind))
    for dt in INTS + ("bool",):
        for op in ("floor", "ceil", "round", "trunc", "sign", "abs"):
            b.add("unary_edge", f"torch.{op}(a)", a=_v(edges(dt), dt))
    # rounding ties and decimals
    for dt in FLOATS:
        ties = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.49, -0.51]
        for code in ["torch.round(a)", "torch.round(a, decimals=1)", "torch.round(a, decimals=-1)",
                     "torch.floor(a)", "torch.ceil(a)", "torch.trunc(a)", "torch.frac(a)"]:
            b.add("unary_edge", code, a=_v(ties + [15.0, 25.0, -35.0], dt))
    # in place on an integer tensor whose result is floating: refused
    for code in ["a.exp_()", "a.sqrt_()", "a.sigmoid_()", "a.neg_()", "a.abs_()", "a.floor_()",
                 "a.clone().exp_()"]:
        for dt in ("int64", "float32", "bool"):
            b.add("unary_inplace", code, a=_t(s, dt, (3,), "pos"))
    b.add("unary", "torch.exp(a)", a=_v([88.0, 89.0, -104.0, 709.0, 710.0], "float32"))
    b.add("unary", "torch.exp(a)", a=_v([11.0, 12.0, -17.0], "float16"))
    b.add("unary", "torch.sigmoid(a)", a=_v([-100.0, 100.0, -800.0, 800.0], "float64"))
    b.add("unary", "torch.sigmoid(a)", a=_v([-100.0, 100.0, -20.0, 20.0], "float32"))
    b.add("unary", "torch.nn.functional.softplus(a)", a=_v([-100.0, 100.0, 0.0, 20.0, 21.0], "float32"))


# ----------------------------------------------------------------------- reductions
REDUCTIONS = ["sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "all",
              "any", "var", "std", "logsumexp", "cumsum", "cumprod", "softmax", "log_softmax",
              "nansum", "median", "norm"]
# ops that need a dim argument
NEEDS_DIM = {"logsumexp", "cumsum", "cumprod", "softmax", "log_softmax"}


def _reduction_forms(op):
    if op in NEEDS_DIM:
        forms = [f"a.{op}(dim=1)", f"a.{op}(-1)", f"torch.{op}(a, 0)"]
        if op == "logsumexp":
            forms += ["a.logsumexp(dim=(0, 2))", "a.logsumexp(dim=1, keepdim=True)"]
        return forms
    forms = [f"a.{op}()", f"a.{op}(dim=1)", f"a.{op}(dim=-1, keepdim=True)"]
    if op == "median":  # which of tied medians' indices is returned is unspecified
        return [f"a.{op}()", f"a.{op}(dim=1).values", f"torch.{op}(a, dim=-1, keepdim=True).values"]
    if op in ("max", "min"):
        forms += [f"torch.{op}(a, 0)", f"torch.{op}(a, dim=2).values",
                  f"torch.{op}(a, 1, keepdim=True).indices"]
    elif op in ("argmax", "argmin"):
        forms += [f"torch.{op}(a, 0)"]
    else:
        forms += [f"a.{op}(dim=(0, 2))"] if op not in ("all", "any") else [f"torch.{op}(a, 0)"]
    return forms


def reductions(b):
    s = Stream(6)
    for op in REDUCTIONS:
        for code in _reduction_forms(op):
            for dt in DTYPES:
                b.add("reduce", code, a=_t(s, dt, (2, 3, 4), "unit" if op in ("prod", "cumprod") else "any"))
    # dtype= and correction= arguments
    for code in ["a.sum(dtype=torch.float32)", "a.sum(dim=0, dtype=torch.int32)",
                 "a.cumsum(0, dtype=torch.float32)", "a.mean(dtype=torch.float32)",
                 "torch.softmax(a, -1, dtype=torch.float32)", "a.var(correction=0)",
                 "a.std(dim=0, correction=2)", "a.var(dim=1, unbiased=False)", "a.prod(dtype=torch.int64)",
                 "torch.var_mean(a, dim=0)", "torch.std_mean(a)", "torch.aminmax(a)",
                 "torch.count_nonzero(a)", "torch.count_nonzero(a, dim=0)", "a.norm(p=1)",
                 "a.sum(0).sum(0)"]:  # torch.linalg.vector_norm joins with ember.linalg (issue 12)
        for dt in ("bool", "uint8", "int32", "float16", "bfloat16", "float32", "float64"):
            b.add("reduce", code, a=_t(s, dt, (3, 4), "unit"))
    # empty tensors and empty dims
    empty_forms = ["a.sum()", "a.sum(dim=1)", "a.sum(dim=0)", "a.prod(dim=1)", "a.prod()",
                   "a.max()", "a.max(dim=1)", "a.max(dim=0)", "a.min(dim=1)", "a.amax(dim=1)",
                   "a.amax(dim=0)", "a.amax()", "a.argmax()", "a.argmax(dim=1)", "a.argmin(dim=0)",
                   "a.mean()", "a.mean(dim=1)", "a.all()", "a.any(dim=1)", "a.var()", "a.std(dim=1)",
                   "a.logsumexp(dim=1)", "a.cumsum(dim=1)", "a.cumprod(dim=0)", "a.softmax(dim=1)",
                   "a.log_softmax(dim=0)", "a.median()", "a.nansum()", "a.norm()"]
    for code in empty_forms:
        for dt in ("float32", "int64", "bool"):
            b.add("reduce_empty", code, a=_t(s, dt, (2, 0)))
        b.add("reduce_empty", code.replace("dim=1", "dim=0"), a=_t(s, "float32", (0,)))
    # 0-d tensors accept dim 0 and -1 only
    for code in ["a.sum()", "a.sum(dim=0)", "a.sum(dim=-1, keepdim=True)", "a.max(dim=0)",
                 "a.argmax(dim=0)", "a.cumsum(0)", "a.softmax(0)", "a.sum(dim=1)", "a.mean(0)",
                 "a.var()", "a.std(dim=0)", "a.logsumexp(0)", "a.prod(0)", "a.all(0)", "a.amax(-1)"]:
        for dt in ("float32", "int64"):
            b.add("reduce_0d", code, a=_t(s, dt, ()))
    # dims out of range
    for code in ["a.sum(dim=2)", "a.sum(dim=-3)", "a.max(dim=2)", "a.argmax(dim=5)", "a.mean(dim=(0, 0))",
                 "a.cumsum(2)", "a.softmax(dim=2)", "a.var(dim=3)", "a.amax(dim=(0, 2))",
                 "a.logsumexp(dim=-3)", "a.sum(dim=(0, -2))"]:
        b.add("reduce_dims", code, a=_t(s, "float32", (2, 3)))
    # special values
    for dt in FLOATS:
        e = [1.0, NAN, -1.0, 2.0]
        for code in ["a.sum()", "a.max()", "a.min()", "a.argmax()", "a.argmin()", "a.amax()",
                     "torch.max(a, 0)", "a.mean()", "a.prod()", "a.logsumexp(0)", "a.softmax(0)",
                     "a.cumsum(0)", "a.nansum()", "a.var()", "a.median()", "a.nanmean()"]:
            b.add("reduce_edge", code, a=_v(e, dt))
        for vals in ([INF, -INF, 1.0], [-INF, -INF], [INF, INF, 1.0], [INF, 1.0, 2.0]):
            for code in ["a.sum()", "a.logsumexp(0)", "a.softmax(0)", "a.log_softmax(0)",
                         "a.max()", "a.argmin()", "a.mean()", "a.cumprod(0)"]:
                b.add("reduce_edge", code, a=_v(vals, dt))
        # sums that leave the range of the dtype
        b.add("reduce_edge", "a.sum()", a=_v([HUGE[dt], HUGE[dt]], dt))
        b.add("reduce_edge", "a.mean()", a=_v([HUGE[dt], HUGE[dt]], dt))
        b.add("reduce_edge", "a.softmax(0)", a=_v([HUGE[dt], 0.0, -HUGE[dt]], dt))
        b.add("reduce_edge", "a.logsumexp(0)", a=_v([HUGE[dt], HUGE[dt]], dt))
    for dt in INTS:
        b.add("reduce_edge", "a.sum()", a=_v([INT_MAX[dt], 1], dt))
        b.add("reduce_edge", "a.prod()", a=_v([INT_MAX[dt], 3], dt))
        b.add("reduce_edge", "a.cumsum(0)", a=_v([INT_MAX[dt], 1, 1], dt))
        b.add("reduce_edge", "a.max()", a=_v(int_edges(dt), dt))
        b.add("reduce_edge", "a.argmin()", a=_v(int_edges(dt), dt))
    # ties: the first index wins (documented for argmax/argmin and max/min with dim)
    for dt in ("float32", "int64", "uint8", "float16"):
        for code in ["a.argmax()", "a.argmin()", "a.argmax(dim=1)", "torch.max(a, 1)", "torch.min(a, 0)"]:
            b.add("reduce_ties", code, a=_v([[1, 3, 3, 0], [2, 2, 1, 1], [0, 0, 0, 0]], dt))
    # non-contiguous inputs
    for code in ["a.t().sum(dim=0)", "a.t().cumsum(1)", "a[:, ::2].max(dim=1)", "a.t().softmax(-1)",
                 "a.t().argmax(dim=1)", "a[::2].mean(0)", "a.t().var(dim=0)", "a.t().prod(1)"]:
        for dt in ("float32", "int32", "float16"):
            b.add("reduce", code, a=_t(s, dt, (4, 3), "unit"))


# --------------------------------------------------------------------------- matmul
def matmul(b):
    s = Stream(7)
    forms = [("a @ b", (2, 3), (3, 4)), ("torch.matmul(a, b)", (3,), (3,)),
             ("torch.matmul(a, b)", (2, 3), (3,)), ("torch.matmul(a, b)", (3,), (3, 2)),
             ("torch.mm(a, b)", (2, 3), (3, 2)), ("torch.mv(a, b)", (2, 3), (3,)),
             ("torch.dot(a, b)", (4,), (4,)), ("torch.bmm(a, b)", (2, 2, 3), (2, 3, 2)),
             ("a @ b", (2, 2, 3), (3, 4)), ("a @ b", (2, 1, 2, 3), (3, 3, 2)),
             ("a.t() @ b", (3, 2), (3, 2)), ("a @ b.t()", (2, 3), (4, 3)),
             ("a @ b", (2, 0), (0, 3)), ("a @ b", (0, 3), (3, 2)), ("torch.vdot(a, b)", (3,), (3,)),
             ("torch.inner(a, b)", (2, 3), (4, 3)), ("torch.outer(a, b)", (3,), (2,)),
             ("a.matmul(b)", (1, 3), (3, 1))]
    for code, sa, sb in forms:
        for dt in DTYPES:
            b.add("matmul", code, a=_t(s, dt, sa), b=_t(s, dt, sb))
    errors = [("a @ b", (2, 3), (2, 3)), ("torch.mm(a, b)", (3,), (3, 2)), ("torch.mm(a, b)", (2, 3, 1), (1, 2)),
              ("torch.dot(a, b)", (2, 2), (2, 2)), ("torch.dot(a, b)", (3,), (4,)),
              ("torch.mv(a, b)", (2, 3), (2,)), ("torch.bmm(a, b)", (2, 3), (3, 2)),
              ("a @ b", (), (3,)), ("torch.matmul(a, b)", (2, 2, 3), (3, 3, 2))]
    for code, sa, sb in errors:
        b.add("matmul_error", code, a=_t(s, "float32", sa), b=_t(s, "float32", sb))
    for da, db in [("float32", "float64"), ("int64", "float32"), ("int32", "int64"), ("float16", "float32"),
                   ("bool", "int64"), ("bfloat16", "float32")]:
        for code in ["a @ b", "torch.mm(a, b)", "torch.dot(a[0], b[:, 0])"]:
            b.add("matmul_error", code, a=_t(s, da, (2, 3)), b=_t(s, db, (3, 2)))
    for dt in FLOATS:
        b.add("matmul", "a @ b", a=_v([[INF, 1.0], [NAN, 0.0]], dt), b=_v([[1.0, 0.0], [0.0, 1.0]], dt))
    for dt in ("int32", "int64"):
        b.add("matmul", "a @ b", a=_v([[INT_MAX[dt], 1]], dt), b=_v([[2], [1]], dt))


# ------------------------------------------------------------------------ shape ops
def shapes(b):
    s = Stream(8)
    forms = [
        ("a.reshape(4, 3)", (3, 4)), ("a.reshape(-1)", (3, 4)), ("a.reshape(2, -1, 2)", (3, 4)),
        ("a.reshape(5, -1)", (3, 4)), ("a.reshape(-1, -1)", (3, 4)), ("a.reshape(())", (1,)),
        ("a.reshape(0, 3)", (0, 3)), ("a.reshape(-1, 0)", (0, 3)), ("a.view(12)", (3, 4)),
        ("a.view(2, 6)", (3, 4)), ("a.t().view(12)", (3, 4)), ("a.t().reshape(12)", (3, 4)),
        ("a.view(-1, 5)", (3, 4)), ("a.view(torch.int32)", (3, 4)), ("a.transpose(0, 1)", (3, 4)),
        ("a.transpose(-1, -2)", (2, 3, 4)), ("a.transpose(0, 2)", (3, 4)), ("a.t()", (3,)),
        ("a.t()", (2, 3, 4)), ("a.T", (2, 3)), ("a.mT", (2, 3, 4)),
        ("a.movedim(0, -1)", (2, 3, 4)), ("a.movedim((0, 1), (2, 0))", (2, 3, 4)),
        ("a.movedim(0, 3)", (2, 3, 4)), ("a.permute(2, 0, 1)", (2, 3, 4)), ("a.permute(0, 0, 1)", (2, 3, 4)),
        ("a.permute(1, 0)", (2, 3, 4)), ("a.permute(-1, 0, 1)", (2, 3, 4)),
        ("a.squeeze()", (1, 3, 1)), ("a.squeeze(0)", (1, 3, 1)), ("a.squeeze(1)", (1, 3, 1)),
        ("a.squeeze((0, 2))", (1, 3, 1)), ("a.squeeze(3)", (1, 3, 1)), ("a.squeeze()", ()),
        ("a.squeeze(0)", ()), ("a.unsqueeze(0)", (2, 3)), ("a.unsqueeze(-1)", (2, 3)),
        ("a.unsqueeze(2)", (2, 3)), ("a.unsqueeze(3)", (2, 3)), ("a.unsqueeze(-4)", (2, 3)),
        ("a.unsqueeze(0)", ()), ("a.flatten()", (2, 3, 4)), ("a.flatten()", ()),
        ("a.flatten(1)", (2, 3, 4)), ("a.flatten(0, 1)", (2, 3, 4)), ("a.flatten(2, 1)", (2, 3, 4)),
        ("a.flatten(0, 5)", (2, 3, 4)), ("torch.flatten(a.t())", (3, 4)),
        ("a.expand(3, 2, 4)", (2, 1)), ("a.expand(-1, 4)", (2, 1)), ("a.expand(3, 3)", (2, 1)),
        ("a.expand_as(torch.zeros(2, 2, device=device))", (2, 1)), ("a.contiguous()", (2, 3)),
        ("a.flip(0)", (2, 3)), ("a.flip((0, 1))", (2, 3)), ("torch.roll(a, 1)", (2, 3)),
        ("torch.roll(a, -1, 1)", (2, 3)), ("a.repeat(2, 1)", (2, 3)), ("a.repeat(2)", (2, 3)),
        ("a.split(2)", (5,)), ("a.split([1, 2], dim=1)", (2, 3)), ("a.chunk(2, 1)", (2, 3)),
        ("a.unbind(1)", (2, 3)), ("a.narrow(1, 1, 2)", (2, 3)), ("a.narrow(1, 2, 2)", (2, 3)),
        ("a.swapaxes(0, 1)", (2, 3)), ("torch.tile(a, (2,))", (2, 3)), ("a.unflatten(1, (2, 2))", (3, 4)),
        ("a.view(2, 2, 3)[1].t()", (3, 4)), ("torch.atleast_2d(a)", (3,)), ("a.ravel()", (2, 3)),
        ("a.select(1, -1)", (2, 3)), ("a.select(1, 3)", (2, 3)), ("a.diagonal()", (3, 4)),
        ("torch.tril(a)", (3, 4)), ("torch.triu(a, 1)", (3, 4)), ("a.t().contiguous().view(-1)", (3, 4)),
    ]
    for code, shape in forms:
        for dt in ("float32", "int64", "bool", "float16", "bfloat16", "uint8"):
            b.add("shape", code, a=_t(s, dt, shape))
    cat = [
        ("torch.cat([a, b])", (2, 3), (1, 3)), ("torch.cat([a, b], dim=1)", (2, 3), (2, 1)),
        ("torch.cat([a, b], dim=-1)", (2, 3), (2, 2)), ("torch.cat([a, b])", (2, 3), (2, 2)),
        ("torch.cat([a, b])", (2, 3), (3,)), ("torch.cat([a, b])", (2, 3), (0,)),
        ("torch.cat([a, b], dim=2)", (2, 3), (2, 3)), ("torch.cat([a, b])", (), ()),
        ("torch.cat([a, b])", (0,), (3,)), ("torch.cat([a, b], 1)", (2, 0), (2, 3)),
        ("torch.cat([])", (1,), (1,)), ("torch.cat((a, b, a))", (1, 2), (2, 2)),
        ("torch.cat([a.t(), b])", (3, 2), (1, 3)), ("torch.cat([a, b], dim=-3)", (2, 3), (2, 3)),
        ("torch.stack([a, b])", (2, 3), (2, 3)), ("torch.stack([a, b], dim=1)", (2, 3), (2, 3)),
        ("torch.stack([a, b], dim=2)", (2, 3), (2, 3)), ("torch.stack([a, b], dim=-1)", (2, 3), (2, 3)),
        ("torch.stack([a, b], dim=3)", (2, 3), (2, 3)), ("torch.stack([a, b], dim=-4)", (2, 3), (2, 3)),
        ("torch.stack([a, b])", (2, 3), (3, 2)), ("torch.stack([a, b])", (), ()),
        ("torch.stack([a, b])", (3,), (3, 1)), ("torch.stack([])", (1,), (1,)),
        ("torch.stack([a.t(), b])", (3, 2), (2, 3)), ("torch.hstack([a, b])", (2, 3), (2, 1)),
        ("torch.vstack([a, b])", (3,), (3,)), ("torch.concatenate([a, b], axis=1)", (2, 1), (2, 2)),
    ]
    for code, sa, sb in cat:
        for dt in ("float32", "int64", "bool", "float16"):
            b.add("cat_stack", code, a=_t(s, dt, sa), b=_t(s, dt, sb))
    for da, db in [("int64", "float32"), ("bool", "int32"), ("uint8", "float16"), ("float16", "bfloat16"),
                   ("float32", "float64"), ("int32", "bool")]:
        for code in ["torch.cat([a, b])", "torch.stack([a, b])"]:
            b.add("cat_stack", code, a=_t(s, da, (2, 2)), b=_t(s, db, (2, 2)))


# ------------------------------------------------------------------------- indexing
def indexing(b):
    s = Stream(9)
    getitems = [
        "a[1]", "a[-1]", "a[3]", "a[-4]", "a[1, 2]", "a[1][2]", "a[1:3]", "a[:, 1:]", "a[::2]",
        "a[:, ::3]", "a[::-1]", "a[::0]", "a[:, ::-2]", "a[..., 1]", "a[..., ...]", "a[1, ..., 2]",
        "a[...]", "a[None]", "a[:, None, 1]", "a[None, ..., None]", "a[1:1]", "a[10:]", "a[-10:2]",
        "a[2:1]", "a[:, -1:]", "a[0, 4]", "a[1, -5]", "a[[0, 2]]", "a[[0, 2], [1, 3]]",
        "a[[0, 2]][:, [1, 1]]", "a[[[0], [2]], [1, 3]]", "a[[True, False, True]]", "a[[3]]",
        "a[:, [0, -1]]", "a[1, [0, 1]]", "a[0:2, [3, 0]]", "a[(0, 1)]", "a[[0, 1]]",
        "a[True]", "a[False]", "a[None, 1]", "a[1.0]", "a['x']", "a[0, 0, 0]", "a[:, :, None]",
        "a.t()[1]", "a.t()[::2, 1:]", "a[1:, 1:][0]", "a[:, 1][1:]", "a[-1, -1]",
        "a[np.int64(1)]", "a[torch.tensor(1)]", "a[torch.tensor([2, 0])]",
        "a[torch.tensor([[0], [1]])]", "a[torch.tensor([0, 3])]", "a[torch.tensor([-1, -3])]",
        "a[torch.tensor([1.0])]", "a[torch.tensor([], dtype=torch.int64)]",
        "a[torch.tensor(1), torch.tensor(2)]", "a[torch.tensor([0, 1], dtype=torch.int32)]",
        "a[:, torch.tensor([1, 2])]", "a[torch.tensor([0, 2]), 1:3]",
    ]
    for code in getitems:
        for dt in ("float32", "int64", "bool", "float16"):
            b.add("getitem", code, a=_t(s, dt, (3, 4)))
        b.add("getitem", code, a=_t(s, "float32", (3,)))
    masks = [("a[m]", (3, 4), (3, 4)), ("a[m]", (3, 4), (3,)), ("a[m]", (3, 4), (2,)),
             ("a[m]", (3, 4), (4,)), ("a[m]", (3, 4), (3, 5)), ("a[m, 1]", (3, 4), (3,)),
             ("a[:, m]", (3, 4), (4,)), ("a[m]", (3,), ()), ("a[m]", (), ()), ("a[m]", (0,), (0,)),
             ("a[m.t()]", (4, 3), (3, 4)), ("a.t()[m]", (4, 3), (3, 4)), ("a[m, m]", (3, 3), (3,)),
             ("a[m][m[m]]", (4,), (4,)), ("a[m]", (2, 3), (2, 3, 1))]
    for code, sa, sm in masks:
        for dt in ("float32", "int64", "bool"):
            b.add("getitem_mask", code, a=_t(s, dt, sa), m=_t(s, "bool", sm))
    for code in ["a[i]", "a[i, j]", "a[i, :]", "a[:, i]", "a[i][:, j]", "a[i, 1]", "a[j, i]"]:
        for si, sj, lo, hi in [((2,), (2,), 0, 2), ((2, 1), (3,), 0, 2), ((3,), (3,), -3, 2),
                               ((2,), (2,), 0, 3), ((), (), 0, 2), ((0,), (0,), 0, 0), ((2,), (3,), 0, 2),
                               ((2,), (2,), -4, -4)]:
            i = (carrier(s.ints(int(np.prod(si)), lo, hi), "int64", si), "int64")
            j = (carrier(s.ints(int(np.prod(sj)), lo, hi), "int64", sj), "int64")
            b.add("getitem_index", code, a=_t(s, "float32", (3, 4)), i=i, j=j)
    setitems = [
        ("a[0] = 5; a", None), ("a[0] = b; a", (4,)), ("a[0] = b; a", (3,)), ("a[:, 1] = b; a", (3,)),
        ("a[:, 1] = b; a", (3, 1)), ("a[1:3] = b; a", (1, 4)), ("a[1:3] = b; a", (2, 4)),
        ("a[1:3] = b; a", (3, 4)), ("a[...] = 1.5; a", None), ("a[:] = b; a", ()), ("a[5] = 1; a", None),
        ("a[:, ::2] = b; a", (3, 2)), ("a[::2, 1:] = 0; a", None), ("a.t()[0] = b; a", (4,)),
        ("a[1][2] = 9; a", None), ("a[-1, -1] = b; a", ()), ("a[[0, 2]] = b; a", (2, 4)),
        ("a[[0, 2]] = b; a", (4,)), ("a[[0, 2], [1, 3]] = b; a", (2,)), ("a[[0, 0]] = 3; a", None),
        ("a[None] = b; a", (3, 4)), ("a[0] = b; a", (1, 1, 4)), ("a[0, 0] = b; a", (2,)),
        ("a[0:0] = b; a", (1,)), ("a[:, [0, 3]] = b; a", (3, 1)), ("a[1] = float('inf'); a", None),
        ("a[0] = True; a", None), ("a[2] = -2.7; a", None), ("v = a[1]; v[0] = 7; a", None),
        ("v = a[:, 1:3]; v += 1; a", None), ("a[0] = 300; a", None),
    ]
    for code, sb in setitems:
        for da, db in [("float32", "float32"), ("int64", "float32"), ("float16", "int64"), ("bool", "bool"),
                       ("uint8", "int32")]:
            if "inf" in code and da not in FLOATS:
                continue  # float inf into an integer tensor: an undefined conversion
            if "-2.7" in code and da == "uint8":
                continue  # a negative float into uint8: an undefined conversion
            inputs = {"a": _t(s, da, (3, 4), "unit" if da == "uint8" else "any")}
            if sb is not None:
                inputs["b"] = _t(s, db, sb, "unit" if db == "uint8" or da == "uint8" else "any")
            b.add("setitem", code, **inputs)
    for code, sm, sb in [("a[m] = 0; a", (3, 4), None), ("a[m] = b; a", (3, 4), (1,)),
                         ("a[m] = b; a", (3,), (4,)), ("a[m] = b; a", (3, 4), (2,)),
                         ("a[m] = b; a", (3,), (5,)), ("a[m, 0] = 1; a", (3,), None),
                         ("a[m] = b; a", (3, 4), ()), ("a[a > 0] = 0; a", None, None),
                         ("a[m] = float('nan'); a", (3, 4), None)]:
        for da in ("float32", "int64"):
            if "nan" in code and da not in FLOATS:
                continue
            inputs = {"a": _t(s, da, (3, 4))}
            if sm is not None:
                inputs["m"] = _t(s, "bool", sm)
            if sb is not None:
                inputs["b"] = _t(s, da, sb)
            b.add("setitem_mask", code, **inputs)
    for code, ival in [("a[i] = 1; a", [0, 2]), ("a[i] = 1; a", [0, 3]), ("a[i] = b; a", [1, -1]),
                       ("a[i, i] = 2; a", [0, 1]), ("a[i] = 1; a", [-4]),
                       ("a[:, i] = 5; a", [3, 0]), ("a[:, i] = 5; a", [4])]:
        inputs = {"a": _t(s, "float32", (3, 4)), "i": _v(ival, "int64")}
        if "b" in code:
            inputs["b"] = _t(s, "float32", (4,))
        b.add("setitem_index", code, **inputs)


# --------------------------------------------------------------- gather and scatter
def gather_scatter(b):
    s = Stream(10)
    rows3 = [[0, 2], [1, 0], [3, 2]]  # no index repeats within a row: scatter is then deterministic
    idx_cases = [  # (code, index values (None: no index), index dtype, shape of b (None: no b))
        ("torch.gather(a, 1, i)", [[0, 2], [1, 0], [3, 3]], "int64", None),
        ("torch.gather(a, 0, i)", [[0, 2, 1, 0]], "int64", None),
        ("torch.gather(a, 1, i)", [[0, 4], [1, 0], [3, 3]], "int64", None),
        ("torch.gather(a, 1, i)", [[0, -1], [1, 0], [3, 3]], "int64", None),
        ("torch.gather(a, 1, i)", [[0, 1], [1, 0], [3, 3]], "int32", None),
        ("torch.gather(a, 1, i)", [[0], [1]], "int64", None),
        ("torch.gather(a, 1, i)", [[0, 1, 2, 3, 0]], "int64", None),
        ("torch.gather(a, 2, i)", [[0]], "int64", None),
        ("torch.gather(a.t(), 0, i)", [[0, 2, 1]], "int64", None),
        ("a.gather(-1, i)", [[1], [2], [0]], "int64", None),
        ("torch.index_select(a, 0, i)", [2, 0, 2], "int64", None),
        ("torch.index_select(a, 1, i)", [3, 1], "int32", None),
        ("torch.index_select(a, 0, i)", [3], "int64", None),
        ("torch.index_select(a, 1, i)", [-1], "int64", None),
        ("torch.index_select(a, 0, i)", [[0, 1]], "int64", None),
        ("torch.index_select(a, 0, i)", [], "int64", None),
        ("a.index_select(-1, i)", [0, 0], "int64", None),
        ("torch.take(a, i)", [0, 11, 5], "int64", None),
        ("torch.take(a, i)", [12], "int64", None),
        ("torch.take(a, i)", [-1, -12], "int64", None),
        ("torch.take_along_dim(a, i, dim=1)", [[0], [3], [1]], "int64", None),
        ("a.scatter(1, i, b)", rows3, "int64", (3, 2)),
        ("a.scatter(0, i, b)", [[0, 1, 2, 0]], "int64", (1, 4)),
        ("a.scatter(1, i, b)", [[0, 4], [1, 0], [3, 2]], "int64", (3, 2)),
        ("a.scatter(1, i, b)", [[0, -1], [1, 0], [3, 2]], "int64", (3, 2)),
        ("a.scatter(1, i, b)", [[0, 1], [1, 0], [3, 2]], "int32", (3, 2)),
        ("a.scatter(1, i, b)", rows3, "int64", (2, 2)),
        ("a.scatter(1, i, 5.0)", rows3, "int64", None),
        ("a.scatter(1, i, 7)", [[1], [2], [0]], "int64", None),
        ("a.scatter_(1, i, b); a", rows3, "int64", (3, 2)),
        ("a.scatter_add(1, i, b)", [[0, 0], [1, 1], [3, 2]], "int64", (3, 2)),
        ("a.scatter_add(1, i, b)", [[0, 5], [1, 1], [3, 2]], "int64", (3, 2)),
        ("a.scatter_add(0, i, b)", [[0, 0, 0, 0], [2, 2, 2, 2]], "int64", (2, 4)),
        ("a.scatter_reduce(1, i, b, reduce='amax')", [[0, 0], [1, 1], [3, 2]], "int64", (3, 2)),
        ("a.scatter_reduce(1, i, b, reduce='sum', include_self=False)", [[0, 0], [1, 1], [3, 2]], "int64", (3, 2)),
        ("a.index_add(0, i, b)", [0, 2], "int64", (2, 4)),
        ("a.index_add(1, i, b)", [0, 0], "int64", (3, 2)),
        ("a.index_add(0, i, b)", [0, 3], "int64", (2, 4)),
        ("a.index_fill(1, i, -1)", [0, 3], "int64", None),
        ("a.index_fill(1, i, -1)", [4], "int64", None),
        ("a.clone().index_copy_(0, i, a[:2])", [2, 0], "int64", None),
        ("a.masked_fill(a > 0, 0)", None, None, None),
        ("a.masked_fill(a > 0, 1.5)", None, None, None),
        ("torch.masked_select(a, a > 0)", None, None, None),
    ]
    for code, ival, idt, shape_b in idx_cases:
        for dt in ("float32", "int64", "float16", "bool"):
            if dt == "float16" and any(len(set(row)) < len(row) for row in np.atleast_2d(ival or [0]).tolist()) \
                    and ("add" in code or "reduce='sum'" in code):
                continue  # repeated indices: float16 sums then depend on the order and width of accumulation
            inputs = {"a": _t(s, dt, (3, 4))}
            if ival is not None:
                inputs["i"] = _v(ival, idt) if ival else (np.zeros(0, np.int64), idt)
            if shape_b is not None:
                inputs["b"] = _t(s, dt, shape_b)
            b.add("gather_scatter", code, **inputs)
    for da, db in [("float32", "float64"), ("int64", "float32"), ("float32", "int64")]:
        b.add("gather_scatter", "a.scatter(1, i, b)", a=_t(s, da, (3, 4)), i=_v([[0], [1], [2]], "int64"),
              b=_t(s, db, (3, 1)))
        b.add("gather_scatter", "a.index_add(0, i, b)", a=_t(s, da, (3, 4)), i=_v([1], "int64"),
              b=_t(s, db, (1, 4)))


# ---------------------------------------------------------------- where/clamp/lerp
def where_clamp_lerp(b):
    s = Stream(11)
    for da, db in [(d, d) for d in DTYPES] + [("int64", "float32"), ("bool", "int32"), ("float16", "float32"),
                                              ("uint8", "int64"), ("float16", "bfloat16"), ("int32", "float64")]:
        b.add("where", "torch.where(m, a, b)", m=_t(s, "bool", (2, 3)), a=_t(s, da, (2, 3)), b=_t(s, db, (2, 3)))
        b.add("where", "torch.where(m, a, b)", m=_t(s, "bool", (2, 1)), a=_t(s, da, (3,)), b=_t(s, db, ()))
    for code in ["torch.where(m, a, 0.0)", "torch.where(m, a, 0)", "torch.where(m, 1, 0)",
                 "torch.where(m, 1.5, a)", "torch.where(m, True, False)", "torch.where(m)",
                 "torch.where(a > 0, a, -a)", "torch.where(a, a, a)", "torch.where(m.t(), a.t(), 2)",
                 "a.where(m, -1)", "torch.where(m, a, b)", "torch.nonzero(m)", "torch.nonzero(a)",
                 "torch.argwhere(m)", "torch.where(m, a, torch.tensor(1.0))", "m.nonzero(as_tuple=True)"]:
        for dt in ("float32", "int64", "uint8", "bool", "float16"):
            inputs = {"m": _t(s, "bool", (2, 3)), "a": _t(s, dt, (2, 3), "unit")}
            if "b" in _names(code):
                inputs["b"] = _t(s, dt, (3, 3))  # not broadcastable with (2, 3)
            b.add("where", code, **inputs)
    clamps = ["torch.clamp(a, -1, 1)", "torch.clamp(a, min=0)", "torch.clamp(a, max=0.5)",
              "torch.clamp(a, min=2, max=-2)", "torch.clamp(a)", "torch.clamp(a, min=0.5)",
              "torch.clamp(a, lo, hi)", "torch.clamp(a, min=lo)", "torch.clamp(a, max=hi)",
              "a.clamp(-1.5, 2)", "torch.clip(a, 0, 1)", "a.clamp_min(0)", "a.clamp_max(1)",
              "torch.clamp(a, min=float('nan'))", "a[::2].clamp(lo[::2], hi[::2])", "torch.clamp(a, 0, 300)",
              "a.clamp_(0, 1); a", "torch.clamp(a, True, True)", "torch.clamp(a, -1.0, float('inf'))"]
    for code in clamps:
        for dt in DTYPES:
            inputs = {"a": _v(edges(dt), dt) if dt in FLOATS else _t(s, dt, (6,))}
            n = len(edges(dt)) if dt in FLOATS else 6
            if "lo" in _names(code):
                inputs["lo"] = _t(s, dt, (n,), "unit")
            if "hi" in _names(code):
                inputs["hi"] = _t(s, dt, (n,), "pos")
            b.add("clamp", code, **inputs)
    lerps = [("torch.lerp(a, b, 0.5)", None), ("torch.lerp(a, b, w)", "same"), ("a.lerp(b, 2)", None),
             ("torch.lerp(a, b, w)", "bcast"), ("torch.lerp(a, b, 0.25)", None), ("torch.lerp(a, b, w)", "other")]
    for code, wkind in lerps:
        for dt in DTYPES:
            inputs = {"a": _t(s, dt, (2, 3)), "b": _t(s, dt, (2, 3))}
            if wkind == "same":
                inputs["w"] = _t(s, dt, (2, 3), "unit")
            elif wkind == "bcast":
                inputs["w"] = _t(s, dt, (3,), "unit")
            elif wkind == "other":
                inputs["w"] = _t(s, "float64" if dt != "float64" else "float32", (2, 3), "unit")
            b.add("lerp", code, **inputs)
    for dt in FLOATS:
        b.add("lerp", "torch.lerp(a, b, 0.5)", a=_v([INF, -INF, NAN, 1.0, HUGE[dt]], dt),
              b=_v([1.0, INF, 0.0, NAN, HUGE[dt]], dt))
        b.add("lerp", "torch.lerp(a, b, 1.0)", a=_v([1.0, 0.0, -3.0], dt), b=_v([2.0, INF, 5.0], dt))
    b.add("lerp", "torch.lerp(a, b, 0.5)", a=_t(s, "float32", (2, 3)), b=_t(s, "float16", (2, 3)))


# ---------------------------------------------------------------------------- casts
def casts(b):
    s = Stream(12)
    for src in DTYPES:
        for dst in DTYPES:
            # values every destination represents, then fractions (truncation toward zero)
            if src == "bool":
                values = [True, False, True]
            elif src == "uint8":
                values = [0, 1, 2, 100, 255]
            elif src in INTS:
                values = [0, 1, -1, 100, 255, -128]
            else:
                values = [0.0, 1.0, -1.0, 100.0, 0.25, 1.75, -1.75, 2.5, 255.0]
            if dst == "uint8" and src not in ("bool", "uint8"):
                values = [v for v in values if v >= 0]  # float to uint8 of a negative: undefined
            b.add("cast", f"a.to(torch.{dst})", a=_v(values, src))
            if src in FLOATS and dst in FLOATS:
                b.add("cast", f"a.to(torch.{dst})", a=_v(float_edges(src), src))
            if src in FLOATS and dst == "bool":
                b.add("cast", f"a.to(torch.{dst})", a=_v(float_edges(src), src))
            if src in INTS and dst in INTS:
                b.add("cast", f"a.to(torch.{dst})", a=_v(int_edges(src), src))
            if src in INTS and dst in FLOATS + ("bool",):
                b.add("cast", f"a.to(torch.{dst})", a=_v(int_edges(src), src))
    for code in ["a.float()", "a.double()", "a.half()", "a.bfloat16()", "a.long()", "a.int()",
                 "a.bool()", "a.byte()", "a.type(torch.int32)", "a.to(device, torch.float16)",
                 "a.to(b)", "a.type_as(b)", "a.to(dtype=torch.int64)", "a.to(torch.float32, copy=True)",
                 "a.t().to(torch.int32)", "a[::2].to(torch.float16)", "a.to(torch.float32).dtype",
                 "a.to(torch.float32) is a", "a.to(a.dtype) is a", "a.to('foo')", "a.to(torch.int32).t()"]:
        for dt in ("float32", "int64", "bool", "float16"):
            inputs = {"a": _t(s, dt, (2, 3), "pos")}
            if "b" in _names(code):
                inputs["b"] = _t(s, "int32" if dt != "int32" else "float32", (1,))
            b.add("cast", code, **inputs)
    # rounding on the way down
    b.add("cast", "a.to(torch.float32)", a=_v([16777217, 2**40 + 1, -(2**62) - 1], "int64"))
    b.add("cast", "a.to(torch.float16)", a=_v([65520.0, 65519.0, 1e5, 1e-8, 2049.0, -1e6], "float32"))
    b.add("cast", "a.to(torch.bfloat16)", a=_v([1.00390625, 1.01171875, 3.4e38, 257.0, -259.0], "float32"))
    b.add("cast", "a.to(torch.float32)", a=_v([1e39, -1e39, 1e-46, 0.1, 16777217.0], "float64"))
    b.add("cast", "a.to(torch.int32)", a=_v([2**31, 2**32 + 5, -(2**31) - 1], "int64"))
    b.add("cast", "a.to(torch.uint8)", a=_v([-1, 256, 257, -129], "int64"))
    b.add("cast", "a.to(torch.uint8)", a=_v([-1, 300, -2**31], "int32"))


# ------------------------------------------------------------------------- creation
def creation(b):
    codes = [
        "torch.arange(5, device=device)", "torch.arange(5.0, device=device)",
        "torch.arange(0, 1, 0.25, device=device)", "torch.arange(1, 0, -0.25, device=device)",
        "torch.arange(0, 5, 0, device=device)", "torch.arange(5, 0, device=device)",
        "torch.arange(0, device=device)", "torch.arange(-3, 3, 2, device=device)",
        "torch.arange(0, 10, 3, dtype=torch.float16, device=device)",
        "torch.arange(0, 2, 0.5, dtype=torch.int64, device=device)",
        "torch.arange(2, 7, dtype=torch.uint8, device=device)", "torch.arange(1, 4, 0.5, device=device).dtype",
        "torch.arange(3, dtype=torch.bool, device=device)", "torch.arange(0.5, 3, device=device)",
        "torch.arange(10, dtype=torch.bfloat16, device=device)", "torch.arange(float('inf'), device=device)",
        "torch.arange(4, dtype=torch.float64, device=device)",
        "torch.linspace(0, 1, 5, device=device)", "torch.linspace(0, 1, 1, device=device)",
        "torch.linspace(0, 1, 0, device=device)", "torch.linspace(0, 10, 5, dtype=torch.int64, device=device)",
        "torch.linspace(-1, 1, steps=4, dtype=torch.float64, device=device)",
        "torch.linspace(1, 0, 3, device=device)", "torch.linspace(0, 1, -1, device=device)",
        "torch.linspace(0, 7, 4, dtype=torch.uint8, device=device)",
        "torch.linspace(0, 1, 5, dtype=torch.float16, device=device)", "torch.logspace(0, 2, 3, device=device)",
        "torch.zeros(2, 3, device=device)", "torch.zeros((2, 3), dtype=torch.int32, device=device)",
        "torch.zeros(0, device=device)", "torch.zeros(2, 0, device=device)", "torch.zeros((), device=device)",
        "torch.zeros(-1, device=device)", "torch.zeros([2, 2], dtype=torch.bool, device=device)",
        "torch.ones(3, dtype=torch.float16, device=device)", "torch.ones((), dtype=torch.int64, device=device)",
        "torch.ones(2, 1, dtype=torch.bfloat16, device=device)", "torch.ones(2, dtype=torch.uint8, device=device)",
        "torch.full((2, 2), 3, device=device)", "torch.full((2,), 1.5, device=device)",
        "torch.full((2,), True, device=device)", "torch.full((2,), 7, dtype=torch.float16, device=device)",
        "torch.full((3,), 2.7, dtype=torch.int32, device=device)", "torch.full((), -1, device=device)",
        "torch.full((2,), float('nan'), device=device)", "torch.full((2,), 300, dtype=torch.uint8, device=device)",
        "torch.full((2, 0), 5, device=device)", "torch.full(2, 5, device=device)",
        "torch.eye(3, device=device)", "torch.eye(2, 3, device=device)", "torch.eye(3, 2, dtype=torch.int64, device=device)",
        "torch.eye(3, dtype=torch.bool, device=device)", "torch.eye(0, device=device)", "torch.eye(-1, device=device)",
        "torch.eye(1, dtype=torch.float16, device=device)", "torch.zeros(3, device=device).dtype",
        "torch.empty(2, 3, device=device).shape", "torch.empty(2, 3, device=device).dtype",
        "torch.empty(0, dtype=torch.int32, device=device)", "torch.ones(2, 3, device=device).sum()",
        "torch.tensor([1.5, 2], device=device)", "torch.tensor(3, device=device)",
        "torch.tensor([[1, 2], [3, 4]], dtype=torch.float16, device=device)",
        "torch.tensor([], device=device)", "torch.tensor([True, False], device=device)",
        "torch.tensor(np.arange(4), device=device)", "torch.as_tensor([1, 2], dtype=torch.float32, device=device)",
        "torch.zeros(2, device=device) + torch.tensor(1.5)", "torch.ones(3, device=device) * torch.tensor(2)",
        "torch.tril(torch.ones(3, 3, device=device))", "torch.arange(6, device=device).reshape(2, 3)",
    ]
    for code in codes:
        b.add("creation", code)
    s = Stream(13)
    for code in ["torch.zeros_like(a)", "torch.ones_like(a)", "torch.full_like(a, 2.7)", "torch.full_like(a, -1)",
                 "torch.ones_like(a, dtype=torch.float32)", "torch.zeros_like(a.t())", "torch.empty_like(a).shape",
                 "torch.full_like(a, True)", "a.new_zeros(2)", "a.new_ones((1, 2))", "a.new_full((2,), 3)",
                 "a.new_tensor([1, 2])", "torch.zeros(a.shape, dtype=a.dtype, device=device)"]:
        for dt in DTYPES:
            b.add("creation", code, a=_t(s, dt, (2, 3)))


# --------------------------------------------------- Python scalars from tensors
def python_scalars(b):
    s = Stream(14)
    for code in ["float(a)", "int(a)", "bool(a)", "a.item()", "a.tolist()", "complex(a)",
                 "[10, 20, 30][a]", "list(range(a))", "abs(a).item()", "round(float(a), 3)", "a.__index__()"]:
        for dt in DTYPES:
            for shape in [(), (1,), (1, 1), (2,), (0,)]:
                kind = "idx" if "[" in code or "range" in code else "any"
                b.add("python_scalar", code, a=_t(s, dt, shape, kind if dt not in FLOATS or kind == "any" else "pos"))
    for dt in FLOATS:
        for v in [NAN, INF, -INF, -0.0, 2.7, -2.7, HUGE[dt], SUBNORMAL[dt]]:
            for code in ["int(a)", "float(a)", "bool(a)", "a.item()"]:
                b.add("python_scalar", code, a=_v(v, dt))
    for dt in INTS:
        for v in [INT_MAX[dt], INT_MIN[dt]]:
            for code in ["int(a)", "float(a)", "a.item()", "a.tolist()"]:
                b.add("python_scalar", code, a=_v(v, dt))
    for code in ["a.tolist()", "len(a)", "a.numel()", "a.dim()", "a.ndim", "a.shape", "a.size()",
                 "a.size(1)", "a.size(-1)", "a.size(2)", "a.shape[0]", "a.dtype", "a.element_size()",
                 "a.is_floating_point()", "a.stride()", "a.t().stride()", "a.is_contiguous()",
                 "a.t().is_contiguous()", "a[:, ::2].stride()", "a.t().contiguous().stride()",
                 "a.nelement()", "a.dtype.is_floating_point", "a.itemsize", "a.nbytes",
                 "a.is_signed()", "len(a.t())", "a.requires_grad", "a.is_leaf", "a.grad is None",
                 "torch.is_tensor(a)", "torch.is_floating_point(a)", "torch.numel(a)",
                 "a.dtype == torch.float32", "a.shape == (2, 3)", "list(a.shape)", "a.storage_offset()",
                 "a[1:].storage_offset()", "a.is_complex()", "tuple(a.shape)", "a.data.dtype"]:
        for dt in DTYPES:
            b.add("tensor_attr", code, a=_t(s, dt, (2, 3)))
    for code in ["len(a)", "a.size(0)", "a.dim()", "a.tolist()", "a.shape", "iter(a)", "a.stride()"]:
        b.add("tensor_attr", code, a=_t(s, "float32", ()))
    for code in ["[t.tolist() for t in a]", "[t.shape for t in a]", "len(list(a))", "next(iter(a)).tolist()"]:
        b.add("tensor_attr", code, a=_t(s, "int64", (3, 2)))


# ----------------------------------------------------------------------- formatting
def formatting(b):
    s = Stream(15)
    for code in ["format(a, '.4f')", "f'{a:.2f}'", "f'{a:>8.3f}'", "'{:.3e}'.format(a)", "format(a, 'd')",
                 "format(a, '.0%')", "f'{a:g}'", "format(a, '5')", "f'{a.item():.3f}'", "format(a, 'x')",
                 "'%.2f' % a", "'%d' % a", "format(float(a), '.6g')"]:
        for dt in DTYPES:
            for shape in [(), (1,), (2,)]:
                b.add("format", code, a=_t(s, dt, shape, "pos" if dt in FLOATS else "any"))
    for dt in FLOATS:
        for v in [NAN, INF, -0.0, 1 / 3, 1e-8, 12345.678]:
            b.add("format", "format(a, '.4f')", a=_v(v, dt))
            b.add("format", "f'{a:.3g}'", a=_v(v, dt))


# ---------------------------------------------------------------------- construction
def construction(b):
    codes = [
        "torch.tensor([np.int32(1)]).dtype", "torch.tensor(np.int32(1)).dtype", "torch.tensor(np.int32(1))",
        "torch.tensor([np.float32(1.5), 2]).dtype", "torch.tensor(np.float64(2.5))",
        "torch.tensor(np.float64(2.5)).dtype", "torch.tensor([np.float16(1.5)])",
        "torch.tensor([np.bool_(True), np.bool_(False)])", "torch.tensor(np.bool_(True))",
        "torch.tensor([np.int64(2**40)])", "torch.tensor([np.uint8(200), np.uint8(3)]).dtype",
        "torch.tensor([np.int32(1), 2.5]).dtype", "torch.tensor([np.float32(0.1), np.float64(0.2)]).dtype",
        "torch.tensor([[np.int32(1)], [np.int32(2)]])", "torch.tensor(np.array(5))", "torch.tensor(np.array(5)).dtype",
        "torch.tensor(np.array([1, 2], dtype=np.int32))", "torch.tensor(np.array([1.5], dtype=np.float16))",
        "torch.tensor(np.array([[1, 2], [3, 4]]).T)", "torch.tensor(np.arange(6.0).reshape(2, 3)[:, ::2])",
        "torch.tensor(np.array([True, False]))", "torch.tensor(np.array([], dtype=np.float32))",
        "torch.tensor(np.array([1.5, 2.5]), dtype=torch.float32)", "torch.tensor(np.array([1, 2]), dtype=torch.bool)",
        "torch.tensor([[1, 2], [3, 4]])", "torch.tensor([[1, 2], [3]])", "torch.tensor([1, 2.5])",
        "torch.tensor([True, 2])", "torch.tensor([True, 2.5])", "torch.tensor([])", "torch.tensor([[]])",
        "torch.tensor([[], []])", "torch.tensor(3)", "torch.tensor(3.5)", "torch.tensor(True)",
        "torch.tensor([1, 2], dtype=torch.float16)", "torch.tensor([1.7, -1.7], dtype=torch.int32)",
        "torch.tensor([1, 0, 2], dtype=torch.bool)", "torch.tensor([0.0, 0.5], dtype=torch.bool)",
        "torch.tensor([300], dtype=torch.uint8)", "torch.tensor([-1], dtype=torch.uint8)",
        "torch.tensor([2**63])", "torch.tensor([2**62])", "torch.tensor(2**63 - 1)", "torch.tensor([-2**63])",
        "torch.tensor([1e40])", "torch.tensor([1e40], dtype=torch.float64)", "torch.tensor([1e5], dtype=torch.float16)",
        "torch.tensor('abc')", "torch.tensor([1, 'a'])", "torch.tensor(None)", "torch.tensor([None])",
        "torch.tensor([[1, 2], [3, 4]], dtype=torch.bfloat16)", "torch.tensor(range(4))",
        "torch.tensor((1, 2, 3))", "torch.tensor([(1, 2), (3, 4)])", "torch.tensor([[1], [2, 3]])",
        "torch.tensor([torch.tensor(1), torch.tensor(2)])", "torch.tensor([torch.tensor(1.5), 2])",
        "torch.tensor([torch.tensor([1, 2]), torch.tensor([3, 4])])", "torch.tensor(torch.tensor([1, 2]))",
        "torch.tensor([float('nan'), float('inf')])", "torch.tensor([1, 2]).dtype", "torch.tensor([1.0]).dtype",
        "torch.tensor({1: 2})", "torch.tensor([[1, 2]], dtype=torch.int32).shape",
        "torch.as_tensor([1, 2])", "torch.as_tensor(np.array([1.5], dtype=np.float32))", "torch.as_tensor(3.0)",
        "torch.from_numpy(np.arange(3, dtype=np.int32))", "torch.from_numpy(np.array([1.5, 2.5]))",
        "torch.from_numpy(np.array(2.0, dtype=np.float32))", "torch.from_numpy([1, 2])",
        "torch.from_numpy(np.array([True]))", "torch.tensor(np.float32(1.5)) + 1",
        "torch.tensor(np.int32(3)) * torch.tensor([1, 2])", "torch.tensor([np.float32(1.5)]) + np.float64(1.0)",
        "torch.tensor([1, 2]) + np.int64(3)", "torch.tensor([1, 2], dtype=torch.int32) + np.int64(3)",
        "torch.tensor([1.5]) * np.float64(2.0)", "(torch.tensor([1.5]) * np.float64(2.0)).dtype",
        "torch.tensor([1, 2]) == np.int64(2)", "torch.tensor(np.array([1.5], dtype=np.float64), dtype=torch.float16)",
        "torch.tensor([np.array(1.5), np.array(2.5)])", "torch.tensor(np.array([[1], [2]], dtype=np.uint8)).shape",
        "torch.tensor([[1.5, 2]], device=device)", "torch.tensor(np.array([1, 2], dtype=np.int32), device=device)",
        "torch.tensor(np.float32(2.5), device=device)", "torch.tensor([np.int32(1), np.int32(2)], device=device)",
    ]
    for code in codes:
        b.add("construct", code)


# ---------------------------------------------------------- dtype and device objects
def dtype_device(b):
    codes = [
        "torch.device('foo')", "torch.device('cpu')", "str(torch.device('cpu'))", "str(torch.device('cuda:1'))",
        "torch.device('cuda', 1).index", "torch.device('cpu').type", "torch.device('cpu').index",
        "torch.device('cpu') == torch.device('cpu:0')", "torch.device('cuda:-1')", "torch.device('cuda:x')",
        "torch.device('mps').type", "str(torch.device('cpu', 0))", "repr(torch.device('cpu'))",
        "torch.device('cuda:0') == torch.device('cuda', 0)", "torch.device('cpu:0').index",
        "torch.device('cuda:1:2')", "torch.device('')", "torch.device('CPU')", "torch.device(' cpu')",
        "torch.device('cpu') == 'cpu'", "str(torch.device('opencl'))", "torch.device(torch.device('cpu'))",
        "str(torch.float32)", "repr(torch.float64)", "str(torch.bfloat16)", "str(torch.bool)", "str(torch.uint8)",
        "str(torch.int64)", "str(torch.float16)", "repr(torch.int32)", "f'{torch.float32}'",
        "torch.float == torch.float32", "torch.double is torch.float64", "torch.half is torch.float16",
        "torch.long is torch.int64", "torch.int is torch.int32", "torch.float32.is_floating_point",
        "torch.int32.is_floating_point", "torch.bool.is_floating_point", "torch.int32.is_signed",
        "torch.uint8.is_signed", "torch.float16.is_signed", "torch.bool.is_signed", "torch.float16.itemsize",
        "torch.bfloat16.itemsize", "torch.int64.itemsize", "torch.bool.itemsize",
        "torch.finfo(torch.float16).max", "torch.finfo(torch.float16).eps", "torch.finfo(torch.bfloat16).eps",
        "torch.finfo(torch.bfloat16).max", "torch.finfo(torch.float32).tiny", "torch.finfo(torch.float32).min",
        "torch.finfo(torch.float64).eps", "torch.finfo(torch.float32).bits", "torch.finfo(torch.float16).resolution",
        "torch.finfo(torch.float32).smallest_normal", "torch.finfo().dtype", "torch.finfo(torch.int32)",
        "torch.iinfo(torch.int32).min", "torch.iinfo(torch.uint8).max", "torch.iinfo(torch.int64).max",
        "torch.iinfo(torch.int32).bits", "torch.iinfo(torch.float32)", "torch.iinfo(torch.bool)",
        "torch.promote_types(torch.int32, torch.float16)", "torch.promote_types(torch.uint8, torch.int32)",
        "torch.promote_types(torch.bool, torch.uint8)", "torch.promote_types(torch.float16, torch.bfloat16)",
        "torch.promote_types(torch.int64, torch.float32)", "torch.promote_types(torch.bool, torch.bool)",
        "torch.can_cast(torch.float32, torch.int32)", "torch.can_cast(torch.int32, torch.float32)",
        "torch.can_cast(torch.bool, torch.uint8)", "torch.can_cast(torch.int64, torch.bool)",
        "torch.can_cast(torch.float64, torch.float16)", "torch.get_default_dtype()",
        "torch.float32 == torch.int32", "torch.float32 != torch.float64", "hash(torch.float32) == hash(torch.float32)",
        "torch.Size([2, 3])", "torch.Size([2, 3]).numel()", "torch.Size([]).numel()", "torch.Size([2, 3]) == (2, 3)",
        "torch.Size([2, 3])[1]", "torch.Size([2, 3])[1:]", "len(torch.Size([2, 3]))", "torch.Size((2, 3)) + (4,)",
        "str(torch.Size([2, 3]))", "torch.Size([2.5])", "isinstance(torch.Size([1]), tuple)",
        "torch.is_tensor([1])", "torch.is_floating_point(torch.tensor([1]))",
        "torch.result_type(torch.tensor([1, 2]), 1.5)", "torch.result_type(torch.tensor([1], dtype=torch.int32), 5)",
        "torch.result_type(torch.tensor([1], dtype=torch.uint8), torch.tensor(5))",
        "torch.result_type(torch.tensor([1.0], dtype=torch.float16), torch.tensor(5.0, dtype=torch.float64))",
        "torch.result_type(torch.tensor([True]), 2)", "torch.result_type(torch.tensor([True]), True)",
        "torch.result_type(1, 2.0)", "torch.result_type(torch.tensor(1), torch.tensor([1.0], dtype=torch.float16))",
        "torch.square(torch.tensor([2, 3]))", "torch.square(torch.tensor([True, False]))",
        "torch.square(torch.tensor([1.5]))", "torch.square(torch.tensor(-3, dtype=torch.int32))",
        "torch.square(torch.tensor([200], dtype=torch.uint8))", "torch.square(torch.tensor([1e20]))",
    ]
    for code in codes:
        b.add("dtype_device", code)


# ------------------------------------------------------------------------------- nn
def nn_functional(b):
    s = Stream(16)
    F = "torch.nn.functional"
    ce = [
        (f"{F}.cross_entropy(x, t)", (3, 4), [1, 0, 3], "int64"),
        (f"{F}.cross_entropy(x, t)", (3, 4), [1, 0], "int64"),
        (f"{F}.cross_entropy(x, t)", (2, 4), [1, 0, 3], "int64"),
        (f"{F}.cross_entropy(x, t, reduction='none')", (3, 4), [1, 0, 3], "int64"),
        (f"{F}.cross_entropy(x, t, reduction='sum')", (3, 4), [1, 0, 3], "int64"),
        (f"{F}.cross_entropy(x, t, ignore_index=0)", (3, 4), [1, 0, 3], "int64"),
        (f"{F}.cross_entropy(x, t, ignore_index=-100)", (3, 4), [1, -100, 3], "int64"),
        (f"{F}.cross_entropy(x, t, label_smoothing=0.1)", (3, 4), [1, 0, 3], "int64"),
        (f"{F}.cross_entropy(x, t, weight=torch.tensor([1.0, 2.0, 0.5, 1.0], device=device))", (3, 4), [1, 0, 3], "int64"),
        (f"{F}.cross_entropy(x, t)", (3, 4), [1, 4, 3], "int64"),
        (f"{F}.cross_entropy(x, t)", (3, 4), [1, -1, 3], "int64"),
        (f"{F}.cross_entropy(x, t)", (3, 4), [1, 0, 3], "int32"),
        (f"{F}.cross_entropy(x, t)", (3, 4), [1.0, 0.0, 3.0], "float32"),
        (f"{F}.cross_entropy(x, t.softmax(-1))", (3, 4), None, None),
        (f"{F}.cross_entropy(x, t)", (4,), 2, "int64"),
        (f"{F}.cross_entropy(x, t)", (2, 3, 4), [[0, 1, 2, 1], [2, 2, 0, 1]], "int64"),
        (f"{F}.cross_entropy(x, t)", (2, 3, 4), [[0, 1, 2], [2, 2, 0]], "int64"),
        (f"{F}.nll_loss(x.log_softmax(-1), t)", (3, 4), [1, 0, 3], "int64"),
        (f"{F}.nll_loss(x, t)", (3, 4), [1, 0], "int64"),
        (f"{F}.cross_entropy(x, t)", (0, 4), [], "int64"),
    ]
    for code, sx, tval, tdt in ce:
        for dt in ("float32", "float64", "float16", "bfloat16"):
            inputs = {"x": _t(s, dt, sx)}
            inputs["t"] = _v(tval, tdt) if tval not in (None, []) else (
                (np.zeros(0, np.int64), "int64") if tval == [] else _t(s, dt, sx))
            b.add("nn", code, **inputs)
    for code in [f"{F}.mse_loss(x, y)", f"{F}.l1_loss(x, y, reduction='sum')", f"{F}.smooth_l1_loss(x, y)",
                 f"{F}.binary_cross_entropy(x.sigmoid(), y.sigmoid())", f"{F}.binary_cross_entropy_with_logits(x, y.sigmoid())",
                 f"{F}.mse_loss(x, y[:2])", f"{F}.kl_div(x.log_softmax(-1), y.softmax(-1), reduction='batchmean')",
                 f"{F}.huber_loss(x, y, delta=0.5)", f"{F}.cosine_similarity(x, y)", f"{F}.linear(x, y)",
                 f"{F}.linear(x, y.t())", f"{F}.normalize(x)", f"{F}.normalize(x, dim=0, p=1)"]:
        for dt in ("float32", "float64", "float16"):
            b.add("nn", code, x=_t(s, dt, (3, 4)), y=_t(s, dt, (3, 4)))
    for code in [f"{F}.relu(x)", f"{F}.gelu(x)", f"{F}.gelu(x, approximate='tanh')", f"{F}.silu(x)",
                 f"{F}.softplus(x)", f"{F}.leaky_relu(x, 0.1)", f"{F}.elu(x)", f"{F}.hardtanh(x)",
                 f"{F}.softmax(x, dim=-1)", f"{F}.log_softmax(x, dim=0)", f"{F}.dropout(x, p=0.0)",
                 f"{F}.dropout(x, training=False)", f"{F}.relu6(x * 4)", f"{F}.mish(x)", f"{F}.softsign(x)",
                 f"{F}.layer_norm(x, (4,))", f"{F}.pad(x, (1, 2))", f"{F}.pad(x, (1, 1, 0, 1), value=-1.0)",
                 f"{F}.glu(x)", f"{F}.logsigmoid(x)", f"{F}.hardswish(x)", f"{F}.threshold(x, 0.5, -1.0)"]:
        for dt in ("float32", "float64", "float16", "bfloat16", "int64"):
            b.add("nn", code, x=_t(s, dt, (3, 4)))
    for code, val, n in [(f"{F}.one_hot(t)", [0, 2, 1], None), (f"{F}.one_hot(t, 4)", [0, 2, 1], None),
                         (f"{F}.one_hot(t, 2)", [0, 2, 1], None), (f"{F}.one_hot(t, 3)", [0, -1], None),
                         (f"{F}.one_hot(t)", [[0, 1], [1, 2]], None)]:
        b.add("nn", code, t=_v(val, "int64"))
    b.add("nn", f"{F}.one_hot(t)", t=_v([0, 1], "int32"))
    b.add("nn", f"{F}.one_hot(t, 3)", t=_v([0.0, 1.0], "float32"))


FAMILIES = [arithmetic, bool_and_sign, comparisons, logical_bitwise, unary, reductions, matmul,
            shapes, indexing, gather_scatter, where_clamp_lerp, casts, creation, python_scalars,
            formatting, construction, dtype_device, nn_functional]


def build_cases():
    """The full, deterministic list of cases."""
    b = Builder()
    with np.errstate(all="ignore"):
        for family in FAMILIES:
            family(b)
    ids = [c.id for c in b.cases]
    assert len(ids) == len(set(ids))
    return b.cases


if __name__ == "__main__":
    from collections import Counter
    cases = build_cases()
    print(len(cases), "cases")
    for family, n in sorted(Counter(c.family for c in cases).items()):
        print(f"  {family:18s} {n}")
