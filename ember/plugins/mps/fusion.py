"""The MPS fusion compiler: a ``FusedProgram`` (``ember.dispatch.fusion``) as one ``mx.compile``d function.

The program's steps are applied with the same MLX functions the eager kernels use (an
``MlxKernels`` instance, ``primitives.py``), so a fused chain computes what the ops computed
one by one; ``mx.compile`` then traces the function once per input shapes and dtypes and
fuses the elementwise graph into one kernel (Metal on Apple silicon, MLX's CPU code
elsewhere). Functions are cached by ``program.key()``; MLX caches what it compiled for
each shape.

Dtypes follow the step: every step's result is cast to its dtype, and a Python constant
takes the dtype of the op's array arguments (PyTorch's rule); a comparison of an integer
array with a float constant compares in floating point, as the eager kernels do. MLX has no
float64, so neither has this compiler.
"""
from __future__ import annotations

import math
import threading

from ember.core import dtype as dt
from ember.dispatch.fusion import FusedProgram, FusionCompiler, dtypes_within

_FLOATS = {"float32", "float16", "bfloat16"}
_INTS = {"int8", "int16", "int32", "int64", "uint8"}
_REAL = _FLOATS | _INTS | {"bool"}
_BY_NAME = {d.name: d for d in dt.ALL_DTYPES}

#: float-valued ops: one ``MlxKernels`` attribute of the same name each
_FLOAT_OPS = frozenset({"div", "exp", "exp2", "expm1", "log", "log1p", "log2", "log10", "sqrt", "rsqrt",
                        "reciprocal", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
                        "sigmoid", "erf", "atan2", "hypot", "copysign"})
# not erfc: MLX has none, and the eager kernel's 60-level continued fraction compiles (on MLX's CPU,
# through the C++ compiler) into several kernels costing seconds; it stays an unfused op
#: number-valued ops (integers too, not bool)
_NUMBER_OPS = frozenset({"add", "sub", "mul", "neg", "abs", "relu", "pow", "maximum", "minimum", "floor",
                         "ceil", "trunc", "sign"})
_COMPARE = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
_LOGICAL = frozenset({"logical_and", "logical_or", "logical_xor"})
_PREDICATE = frozenset({"isnan", "isinf", "logical_not"})
SUPPORTED = _FLOAT_OPS | _NUMBER_OPS | _COMPARE | _LOGICAL | _PREDICATE | {"where", "cast", "gelu"}


class MlxFusionCompiler(FusionCompiler):
    """The ``mps`` backend's ``FusionCompiler``: steps as MLX calls under ``mx.compile``."""

    def __init__(self, backend):
        primitives = backend._bind()
        self.mx = primitives.mx
        self.mx_dtype = primitives.MX_DTYPE
        self.kernels = primitives.MlxKernels()
        self.device = backend.mlx_device()
        self._cache = {}
        self._lock = threading.Lock()

    def supports(self, op: str, attrs: dict, dtype, input_dtypes: tuple) -> bool:
        """Whether ``op`` with these attributes, result dtype and input dtypes can be fused.

        Args:
            op: the op-table name.
            attrs: the op's keyword attributes.
            dtype: the ember dtype of the result.
            input_dtypes: per argument, an ember dtype or the type of a Python constant.

        Returns:
            True when the step can be part of a fused function.
        """
        if op not in SUPPORTED or not dtypes_within(dtype, input_dtypes, _REAL):
            return False
        name = dtype.name
        if op == "cast":
            return set(attrs) == {"dtype"} and getattr(attrs["dtype"], "name", None) in _REAL
        if op == "gelu":
            return set(attrs) <= {"approximate"} and attrs.get("approximate", "none") in ("none", "tanh") \
                and name in _FLOATS
        if attrs:
            return False
        if op in _COMPARE or op in _LOGICAL or op in _PREDICATE:
            return name == "bool"
        if op in _FLOAT_OPS:
            return name in _FLOATS
        if op in _NUMBER_OPS:
            return name != "bool"
        return True  # where: any dtype

    def _check(self, program: FusedProgram) -> None:
        if not program.outputs:
            raise ValueError("a fused program needs at least one output")
        for j, s in enumerate(program.steps):
            in_dtypes = []
            for kind, value in s.args:
                if kind == "input":
                    in_dtypes.append(program.inputs[value])
                elif kind == "step" and 0 <= value < j:
                    in_dtypes.append(program.steps[value].dtype)
                elif kind == "const":
                    in_dtypes.append(type(value))
                else:
                    raise ValueError(f"step {j} has a bad argument reference {(kind, value)!r}")
            if not self.supports(s.op, s.attrs, s.dtype, tuple(in_dtypes)):
                raise NotImplementedError(f"the MPS fusion compiler cannot fuse step {j}: {s!r}")

    def compile(self, program: FusedProgram):
        """The fused function of ``program`` (cached by ``program.key()``).

        Args:
            program: the elementwise chain to compile.

        Returns:
            ``kernel(*input_arrays) -> tuple`` of MLX arrays of ``program.shape``, one per output.
        """
        key = (program.key(), program.shape)
        kernel = self._cache.get(key)
        if kernel is None:
            self._check(program)
            with self._lock:
                kernel = self._cache.get(key)
                if kernel is None:
                    kernel = self._cache[key] = _Kernel(self, program)
        return kernel


class _Kernel:
    """``kernel(*arrays)``: the compiled function of one program, run on the backend's MLX device."""

    def __init__(self, compiler: MlxFusionCompiler, program: FusedProgram):
        self.mx, self.device, self.program = compiler.mx, compiler.device, program
        self.fn = compiler.mx.compile(_body(compiler, program))

    def __call__(self, *arrays):
        if len(arrays) != len(self.program.inputs):
            raise TypeError(f"fused kernel takes {len(self.program.inputs)} arrays, got {len(arrays)}")
        mx = self.mx
        if mx.default_device() != self.device:  # e.g. EMBER_MPS_DEVICE=cpu on a Mac
            with mx.stream(self.device):
                return tuple(self.fn(*arrays))
        return tuple(self.fn(*arrays))


def _body(compiler: MlxFusionCompiler, program: FusedProgram):
    """The uncompiled function of ``program`` over MLX arrays."""
    mx, k, to_mx = compiler.mx, compiler.kernels, compiler.mx_dtype
    steps, outputs, shape = program.steps, program.outputs, tuple(program.shape)
    in_dtypes = tuple(program.inputs)

    def as_dtype(value, dtype):
        """An array argument in ``dtype``; a Python constant as a 0-d array of it."""
        if isinstance(value, mx.array):
            want = to_mx[dtype]
            return value if value.dtype == want else value.astype(want)
        if dtype.name == "bool":
            return mx.array(bool(value))
        if dtype.name in _INTS:
            return mx.array(int(value), dtype=to_mx[dtype])
        return mx.array(float(value), dtype=to_mx[dtype])

    def promoted(args, dtypes):
        names = [d for d in dtypes if d is not None]
        out = _BY_NAME[names[0]]
        for n in names[1:]:
            out = dt.promote_types(out, _BY_NAME[n])
        # an integer array meets a float constant in floating point (the eager kernels' rule)
        if out.category < dt.FLOAT and any(isinstance(a, float) for a in args):
            out = dt.float32
        return out

    def gelu(x, dtype, approximate):
        half, one = as_dtype(0.5, dtype), as_dtype(1.0, dtype)
        if approximate == "tanh":
            inner = as_dtype(math.sqrt(2 / math.pi), dtype) * (x + as_dtype(0.044715, dtype) * (x * x * x))
            return half * x * (one + mx.tanh(inner))
        return half * x * (one + mx.erf(x * as_dtype(math.sqrt(0.5), dtype)))

    def apply(step, args, dtypes):
        op, out = step.op, step.dtype
        if op == "cast":
            return k.cast(args[0], dtype=step.attrs["dtype"])
        if op in _COMPARE:
            work = promoted(args, dtypes)
            return getattr(k, op)(*(as_dtype(a, work) for a in args))
        if op in _LOGICAL or op == "logical_not":
            return getattr(k, op)(*(as_dtype(a, dt.bool_) for a in args))
        if op in ("isnan", "isinf"):
            x = args[0]
            return getattr(k, op)(x) if x.dtype in (mx.float16, mx.bfloat16, mx.float32) else \
                mx.zeros(x.shape, mx.bool_)
        if op == "where":
            return k.where(as_dtype(args[0], dt.bool_), as_dtype(args[1], out), as_dtype(args[2], out))
        if op == "gelu":
            return gelu(as_dtype(args[0], out), out, step.attrs.get("approximate", "none"))
        if op == "pow" and out.name in _INTS:
            # the exponent keeps its own (integer) dtype: the kernel's rule for negative powers needs it
            base = as_dtype(args[0], out)
            exp = args[1] if isinstance(args[1], mx.array) else as_dtype(args[1], dt.int64)
            return k.pow(base, exp)
        return getattr(k, op)(*(as_dtype(a, out) for a in args))

    def run(*arrays):
        values = []
        for step in steps:
            args, dtypes = [], []
            for kind, value in step.args:
                if kind == "input":
                    args.append(arrays[value])
                    dtypes.append(in_dtypes[value].name)
                elif kind == "step":
                    args.append(values[value])
                    dtypes.append(steps[value].dtype.name)
                else:
                    args.append(value)
                    dtypes.append(None)
            r = apply(step, args, dtypes)
            want = to_mx[step.dtype]
            values.append(r if r.dtype == want else r.astype(want))
        return [mx.broadcast_to(values[j], shape) if values[j].shape != shape else values[j] for j in outputs]

    return run


def fusion_compiler(backend):
    """The ``mps`` ``FusionCompiler`` for an available backend.

    Args:
        backend: the plugin's ``MPSBackend``.

    Returns:
        An ``MlxFusionCompiler``.
    """
    return MlxFusionCompiler(backend)
