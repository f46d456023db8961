"""The CPU fusion compiler: a ``FusedProgram`` (``ember.dispatch.fusion``) becomes one numba loop.

For each program this module writes the Python source of a function with a single ``prange``
loop over the flat index: every input element is read once, every step is a scalar expression
in the step's own dtype (float32 stays float32: constants are built as ``np.float32(...)``),
and every output array is written in the same pass. No intermediate array is allocated.

Why generated source in a file: numba's on-disk cache (``cache=True``) keys compiled code by
the function's source file, so the module is written to the cache directory
(``$EMBER_CACHE_DIR/fused`` or ``~/.cache/ember/fused``) under the SHA-256 of its text and of
the helpers' source, atomically (a temporary file, then ``os.replace``), and imported from there: a second
process imports the same file and loads the machine code numba cached beside it instead of
compiling again. In memory, compilers are cached by ``program.key()``.

Each program compiles into up to two loops, each on first need: a ``parallel=True`` one for
large arrays, run on ``ember.get_num_threads()`` threads, and a serial one for small arrays
(entering a parallel region costs more than they take) and for a call made while another
Python thread is inside numba's workqueue threading layer (which is not re-entrant; the CPU
plugin selects it, see ``compiled.py``). A 0-d input is read once before the loop (a
broadcast scalar); each pattern of 0-d inputs is its own specialization.

Floating point: only the ``contract`` fast-math flag (FMA); ``error_model="numpy"``, so a
division by zero gives inf or NaN as in the eager kernels, and NaN propagates through
``maximum``/``minimum``/``relu``/``where`` chains as it does there. The float32 erf (and
gelu) is the rational approximation of ``_loops.py`` (max abs error 3.3e-7).
"""
from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from ember.core import dtype as dt
from ember.dispatch.fusion import FusedProgram, FusionCompiler, dtypes_within
from ember.plugins.cpu import compiled

#: part of every cache file's hash: bump it to disown the files of earlier versions
VERSION = 1
#: below this much work (elements x steps) one thread beats entering a parallel region
PARALLEL_WORK = 1 << 17

_FLOATS = {"float32", "float64"}
_INTS = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
_REAL = _FLOATS | _INTS | {"bool"}
_NP = {name: "np.bool_" if name == "bool" else f"np.{name}" for name in _REAL}
_BY_NAME = {d.name: d for d in dt.ALL_DTYPES}


def _cache_dir() -> Path:
    root = os.environ.get("EMBER_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "ember"
    return base / "fused"


# ---------------------------------------------------------------- the op table of the generator
# Each entry: (which dtypes the step may have, how to emit it). ``emit(args, T, step)`` gets the
# argument expressions already converted to the op's compute dtype and returns an expression.
# Kinds: "float" (float32/float64 results), "num" (any real number, not bool), "any" (bool too).
def _unary_math(fn):
    return lambda a, T, s: f"math.{fn}({a[0]})"


def _f(T, value) -> str:
    """A constant of dtype ``T`` as source."""
    if T == "bool":
        return repr(bool(value))
    if T in _FLOATS:
        value = float(value)
        if math.isnan(value):
            return f"{_NP[T]}(math.nan)"
        if math.isinf(value):
            return f"{_NP[T]}({'-' if value < 0 else ''}math.inf)"
        return f"{_NP[T]}({value!r})"
    return f"{_NP[T]}({int(value)})"


def _pow(a, T, step) -> str:
    if T not in _FLOATS:
        return f"ipow({a[0]}, {a[1]})"
    kind, value = step.args[1]
    # a constant exponent the eager kernel special-cases: x ** 0.5 is sqrt (NaN at -inf, -0 at -0,
    # where C's pow gives inf and 0), small integers are products
    if kind == "const" and not isinstance(value, bool):
        if value == 0.5:
            return f"math.sqrt({a[0]})"
        if value == 2:
            return f"{a[0]} * {a[0]}"
    return f"{a[0]} ** {a[1]}"


def _suffix(T) -> str:
    return "32" if T == "float32" else "64"


_OPS = {
    "add": ("num", lambda a, T, s: f"{a[0]} + {a[1]}"),
    "sub": ("num", lambda a, T, s: f"{a[0]} - {a[1]}"),
    "mul": ("num", lambda a, T, s: f"{a[0]} * {a[1]}"),
    "div": ("float", lambda a, T, s: f"{a[0]} / {a[1]}"),
    "neg": ("num", lambda a, T, s: f"-{a[0]}"),
    "abs": ("num", lambda a, T, s: f"abs({a[0]})"),
    "exp": ("float", lambda a, T, s: f"exp32({a[0]})" if T == "float32" else f"math.exp({a[0]})"),
    "exp2": ("float", lambda a, T, s: f"np.exp2({a[0]})"),
    "expm1": ("float", _unary_math("expm1")),
    "log": ("float", _unary_math("log")),
    "log1p": ("float", _unary_math("log1p")),
    "log2": ("float", _unary_math("log2")),
    "log10": ("float", _unary_math("log10")),
    "sqrt": ("float", _unary_math("sqrt")),
    "rsqrt": ("float", lambda a, T, s: f"{_f(T, 1)} / math.sqrt({a[0]})"),
    "reciprocal": ("float", lambda a, T, s: f"{_f(T, 1)} / {a[0]}"),
    "sin": ("float", _unary_math("sin")),
    "cos": ("float", _unary_math("cos")),
    "tan": ("float", _unary_math("tan")),
    "asin": ("float", _unary_math("asin")),
    "acos": ("float", _unary_math("acos")),
    "atan": ("float", _unary_math("atan")),
    "sinh": ("float", _unary_math("sinh")),
    "cosh": ("float", _unary_math("cosh")),
    "tanh": ("float", lambda a, T, s: f"tanh32({a[0]})" if T == "float32" else f"math.tanh({a[0]})"),
    "sigmoid": ("float", lambda a, T, s: f"sigmoid{_suffix(T)}({a[0]})"),
    "relu": ("num", lambda a, T, s: f"({a[0]} if not {a[0]} < 0 else {_f(T, 0)})"),
    "erf": ("float", lambda a, T, s: f"erf{_suffix(T)}({a[0]})"),
    "erfc": ("float", _unary_math("erfc")),
    "gelu": ("float", lambda a, T, s: (f"gelu_tanh{_suffix(T)}({a[0]})" if s.attrs.get("approximate") == "tanh"
                                       else f"gelu{_suffix(T)}({a[0]})")),
    "pow": ("num", lambda a, T, s: _pow(a, T, s)),
    "atan2": ("float", lambda a, T, s: f"math.atan2({a[0]}, {a[1]})"),
    "hypot": ("float", lambda a, T, s: f"math.hypot({a[0]}, {a[1]})"),
    "copysign": ("float", lambda a, T, s: f"math.copysign({a[0]}, {a[1]})"),
    "maximum": ("num", lambda a, T, s: f"maximum({a[0]}, {a[1]})"),
    "minimum": ("num", lambda a, T, s: f"minimum({a[0]}, {a[1]})"),
    # rounding keeps integers as they are (they are whole already)
    "floor": ("num", lambda a, T, s: f"np.floor({a[0]})" if T in _FLOATS else a[0]),
    "ceil": ("num", lambda a, T, s: f"np.ceil({a[0]})" if T in _FLOATS else a[0]),
    "trunc": ("num", lambda a, T, s: f"np.trunc({a[0]})" if T in _FLOATS else a[0]),
    # (x > 0) - (x < 0): NaN gives 0 and -0.0 gives 0, as the eager kernel
    "sign": ("num", lambda a, T, s: f"({a[0]} > 0) - ({a[0]} < 0)"),
    "where": ("any", lambda a, T, s: f"({a[1]} if {a[0]} else {a[2]})"),
}
_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_LOGICAL = {"logical_and": "and", "logical_or": "or", "logical_xor": "!="}
_PREDICATE = {"isnan", "isinf", "logical_not"}
SUPPORTED = frozenset(_OPS) | frozenset(_COMPARE) | frozenset(_LOGICAL) | _PREDICATE | {"cast"}


def _kind_ok(kind: str, name: str) -> bool:
    return name in _FLOATS if kind == "float" else (name in _REAL and (kind == "any" or name != "bool"))


# ---------------------------------------------------------------- source generation
class _Emitter:
    """Turns a program's steps into the lines of the loop body."""

    def __init__(self, program: FusedProgram):
        self.program = program

    def ref(self, ref):
        """(expression, dtype name or None for a Python constant) of an argument reference."""
        kind, value = ref
        if kind == "input":
            return f"x{value}", self.program.inputs[value].name
        if kind == "step":
            return f"v{value}", self.program.steps[value].dtype.name
        if kind == "const":
            return value, None
        raise ValueError(f"unknown argument reference {ref!r}")

    @staticmethod
    def convert(arg, T) -> str:
        """An argument as an expression of dtype ``T`` (PyTorch: a Python number takes the tensor's dtype)."""
        expr, dtype = arg
        if dtype is None:
            return _f(T, expr)
        if dtype == T:
            return expr
        if T == "bool":
            return f"({expr} != 0)"
        return f"{_NP[T]}({expr})"

    @staticmethod
    def promoted(args) -> str:
        """The dtype tensor arguments meet in (a comparison's compute dtype)."""
        names = [d for _, d in args if d is not None]
        if not names:
            raise ValueError("an elementwise step needs at least one array argument")
        out = _BY_NAME[names[0]]
        for n in names[1:]:
            out = dt.promote_types(out, _BY_NAME[n])
        return out.name

    def expression(self, step) -> str:
        args = [self.ref(r) for r in step.args]
        out = step.dtype.name
        if step.op == "cast":
            return self.convert(args[0], out)
        if step.op in _COMPARE or step.op in _LOGICAL:
            if step.op in _COMPARE:
                T = self.promoted(args)
                consts = [v for v, d in args if d is None]
                # an integer array meets a float constant in floating point (numpy's and PyTorch's rule)
                if T not in _FLOATS and any(isinstance(v, float) for v in consts):
                    T = "float64"
                elif T == "bool" and any(type(v) is int for v in consts):
                    T = "int64"
                a = [self.convert(x, T) for x in args]
                return f"({a[0]} {_COMPARE[step.op]} {a[1]})"
            a = [self.convert(x, "bool") for x in args]
            return f"({a[0]} {_LOGICAL[step.op]} {a[1]})"
        if step.op == "logical_not":
            return f"not {self.convert(args[0], 'bool')}"
        if step.op in ("isnan", "isinf"):
            T = self.promoted(args)
            x = self.convert(args[0], T)
            if T not in _FLOATS:
                return "False"
            return f"({x} != {x})" if step.op == "isnan" else f"math.isinf({x})"
        _, emit = _OPS[step.op]
        if step.op == "where":
            a = [self.convert(args[0], "bool")] + [self.convert(x, out) for x in args[1:]]
        elif step.op == "pow" and out in _INTS:
            a = [self.convert(args[0], out), self.convert(args[1], "int64")]
        else:
            a = [self.convert(x, out) for x in args]
        return emit(a, out, step)

    def source(self, scalars: tuple, name: str, parallel: bool) -> list:
        p = self.program
        n_in, n_out = len(p.inputs), len(p.outputs)
        params = ", ".join(["n"] + [f"a{i}" for i in range(n_in)] + [f"o{k}" for k in range(n_out)])
        flags = "parallel=True, " if parallel else ""
        lines = [f"@njit({flags}cache=True, nogil=True, error_model='numpy', fastmath=_FLAGS)",
                 f"def {name}({params}):"]
        lines += [f"    x{i} = a{i}[0]" for i in range(n_in) if scalars[i]]
        lines.append("    for i in prange(n):")
        body = [f"x{i} = a{i}[i]" for i in range(n_in) if not scalars[i]]
        for j, step in enumerate(p.steps):
            # every step is rounded to its dtype: integer steps wrap, float32 stays float32
            body.append(f"v{j} = {_NP[step.dtype.name]}({self.expression(step)})")
        body += [f"o{k}[i] = v{j}" for k, j in enumerate(p.outputs)]
        lines += ["        " + line for line in body]
        return lines


def _module_source(program: FusedProgram, scalars: tuple) -> str:
    emitter = _Emitter(program)
    lines = ['"""Generated by ember.plugins.cpu.fusion for:', *repr(program).splitlines(),
             f'0-d inputs: {scalars}"""',
             "import math", "", "import numpy as np", "from numba import njit, prange", "",
             "from ember.plugins.cpu._fused_lib import *  # noqa: F401,F403  (the scalar helpers)", "",
             "_FLAGS = {'contract'}", ""]
    lines += emitter.source(scalars, "fused_parallel", True) + [""]
    lines += emitter.source(scalars, "fused_serial", False) + [""]
    return "\n".join(lines) + "\n"


_HELPERS = []


def _helpers_hash() -> str:
    """SHA-256 of the helper modules the generated code calls (``_fused_lib``, ``_loops``)."""
    if not _HELPERS:
        h = hashlib.sha256(str(VERSION).encode())
        for name in ("_fused_lib.py", "_loops.py"):
            h.update((Path(__file__).with_name(name)).read_bytes())
        _HELPERS.append(h.hexdigest())
    return _HELPERS[0]


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return  # rewriting would change the file's mtime and invalidate numba's cache of it
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load(program: FusedProgram, scalars: tuple):
    """The generated module of ``program`` for this pattern of 0-d inputs (written and imported)."""
    text = _module_source(program, scalars)
    # the file's name is its content's hash with the helpers' source: numba's cache tracks only the
    # generated file itself, so a change to a helper must give a new file
    digest = hashlib.sha256((_helpers_hash() + text).encode()).hexdigest()[:40]
    name = f"ember_fused_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    try:
        path = _cache_dir() / f"{digest}.py"
        _write_atomic(path, text)
    except OSError:  # no writable cache directory: compile anyway, in a private temporary one
        path = Path(tempfile.mkdtemp(prefix="ember-fused-")) / f"{digest}.py"
        _write_atomic(path, text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


# ---------------------------------------------------------------- the kernel and the compiler
class FusedLoop:
    """The kernel of one program: ``kernel(*input_arrays) -> tuple of arrays`` (``ember.dispatch.fusion``)."""

    def __init__(self, program: FusedProgram):
        self.program = program
        self.shape = tuple(program.shape)
        self.size = math.prod(self.shape)
        self.out_dtypes = tuple(np.dtype(program.steps[j].dtype.numpy) for j in program.outputs)
        self.parallel_ok = self.size * max(1, len(program.steps)) >= PARALLEL_WORK
        self._modules = {}   # tuple of "input i is 0-d" -> generated module
        self._lock = threading.Lock()
        # generate (not compile) the common specialization now: a program the generator
        # cannot express fails here, at compile time, and stays unfused
        _module_source(program, (False,) * len(program.inputs))

    def module(self, scalars: tuple):
        """The generated module for one pattern of 0-d inputs (imported on first use)."""
        module = self._modules.get(scalars)
        if module is None:
            with self._lock:
                module = self._modules.get(scalars)
                if module is None:
                    module = self._modules[scalars] = _load(self.program, scalars)
        return module

    def __call__(self, *arrays):
        if len(arrays) != len(self.program.inputs):
            raise TypeError(f"fused kernel takes {len(self.program.inputs)} arrays, got {len(arrays)}")
        flat, scalars = [], []
        for i, a in enumerate(arrays):
            a = np.asarray(a)
            if a.ndim == 0:
                flat.append(a.reshape(1))
                scalars.append(True)
            elif a.shape == self.shape:
                flat.append(np.ascontiguousarray(a).reshape(-1))
                scalars.append(False)
            else:
                raise ValueError(f"fused kernel input {i} has shape {a.shape}, expected {self.shape} or ()")
        outs = tuple(np.empty(self.shape, d) for d in self.out_dtypes)
        if self.size:
            module = self.module(tuple(scalars))
            args = (self.size, *flat, *(o.reshape(-1) for o in outs))
            if not (self.parallel_ok and compiled._run(module.fused_parallel, *args)):
                module.fused_serial(*args)
        return outs




class CPUFusionCompiler(FusionCompiler):
    """The CPU backend's ``FusionCompiler``: generated numba loops (see the module docstring)."""

    def __init__(self):
        self._kernels = {}
        self._lock = threading.Lock()

    def supports(self, op: str, attrs: dict, dtype, input_dtypes: tuple) -> bool:
        """Whether ``op`` with these attributes, result dtype and input dtypes can be generated.

        Args:
            op: the op-table name.
            attrs: the op's keyword attributes.
            dtype: the ember dtype of the result.
            input_dtypes: per argument, an ember dtype or the type of a Python constant.

        Returns:
            True when the step can be part of a fused loop.
        """
        if op not in SUPPORTED or not dtypes_within(dtype, input_dtypes, _REAL):
            return False
        name = dtype.name
        if op == "gelu" and attrs.get("approximate", "none") not in ("none", "tanh"):
            return False
        if op == "cast":
            return set(attrs) == {"dtype"} and getattr(attrs["dtype"], "name", None) in _REAL
        if op in _COMPARE or op in _LOGICAL or op in _PREDICATE:
            return name == "bool" and not attrs
        if op == "gelu":
            return set(attrs) <= {"approximate"} and name in _FLOATS
        return not attrs and _kind_ok(_OPS[op][0], name)

    def _check(self, program: FusedProgram) -> None:
        for j, s in enumerate(program.steps):
            in_dtypes = []
            for kind, value in s.args:
                if kind == "input":
                    in_dtypes.append(program.inputs[value])
                elif kind == "step":
                    if not 0 <= value < j:
                        raise ValueError(f"step {j} refers to step {value}, not an earlier one")
                    in_dtypes.append(program.steps[value].dtype)
                else:
                    in_dtypes.append(type(value))
            if not self.supports(s.op, s.attrs, s.dtype, tuple(in_dtypes)):
                raise NotImplementedError(f"the CPU fusion compiler cannot generate step {j}: {s!r}")
        if not program.outputs:
            raise ValueError("a fused program needs at least one output")

    def compile(self, program: FusedProgram):
        """The fused loop of ``program`` (cached by ``program.key()``).

        Args:
            program: the elementwise chain to compile.

        Returns:
            ``kernel(*input_arrays) -> tuple`` of new C-contiguous arrays, one per output.
        """
        key = (program.key(), program.shape)
        kernel = self._kernels.get(key)
        if kernel is None:
            self._check(program)
            with self._lock:
                kernel = self._kernels.setdefault(key, FusedLoop(program))
        return kernel


def fusion_compiler():
    """The CPU ``FusionCompiler``, or None without numba (ember then runs graphs unfused).

    Returns:
        A ``CPUFusionCompiler`` or None.
    """
    try:
        import numba  # noqa: F401
    except ImportError:
        return None
    return CPUFusionCompiler()
