"""The CuPy fusion compiler (CUDA and ROCm): a ``FusedProgram`` as one ``cupy.RawKernel``.

The statements come from the shared generator (``ember.plugins.c_fusion``) in the CUDA
dialect (CUDA C++ as NVRTC and hiprtc compile it: ``expf`` for float, ``long long`` for
int64, NaN and infinity from their bits); ``kernel_source`` wraps them in a self-contained
``extern "C"`` kernel — no headers, like ``sources.py``, so the tests compile it with nvcc
or the host compiler without a GPU — with a grid-stride loop over the flat index. Inputs
are contiguous buffers read at ``i`` (at 0 when an input has one element: a 0-d input,
broadcast on the device), outputs new contiguous arrays written at ``i``.

float16 and bfloat16 are left to the graph's ordinary kernels (``supports`` says False):
CuPy's float16 needs its own device headers and CuPy has no bfloat16.

``CupyFusionCompiler`` keeps the sources per ``program.key()`` (and pattern of one-element
inputs) and one ``RawKernel`` each; CuPy compiles it once per device and caches the binary
on disk.
"""
from __future__ import annotations

import hashlib
import threading

import numpy as np

from ember.dispatch.fusion import FusionCompiler
from ember.plugins import c_fusion
from ember.plugins.cupy.sources import KernelSource

THREADS = 256          # threads per block
MAX_GRID = 65535       # blocks; the grid-stride loop covers the rest


class CudaDialect(c_fusion.Dialect):
    """CUDA C++ (and HIP): the C library's float names (``expf``), ``long long`` for int64."""
    TYPES = {"bool": "bool", "uint8": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int",
             "int64": "long long", "float32": "float", "float64": "double"}
    UNSIGNED = {"signed char": "unsigned int", "short": "unsigned int", "int": "unsigned int",
                "long long": "unsigned long long", "unsigned char": "unsigned char", "bool": "bool"}
    INLINE = "static __device__ __forceinline__"
    LONG_SUFFIX = "LL"
    DTYPES = c_fusion.REAL_DTYPES - {"float16", "bfloat16"}

    def math(self, fn, ct):
        return fn + "f" if ct == "float" else fn

    def nan(self, ct):
        return "__int_as_float(0x7fc00000)" if ct == "float" else "__longlong_as_double(0x7ff8000000000000LL)"

    def inf(self, ct):
        return "__int_as_float(0x7f800000)" if ct == "float" else "__longlong_as_double(0x7ff0000000000000LL)"


DIALECT = CudaDialect()


def kernel_source(program, scalars=None, dialect=DIALECT) -> KernelSource:
    """The CUDA C ``KernelSource`` of ``program``, with ``scalars[i]`` True where input i has one
    element. Parameters: ``long long n``, one ``const T*`` per input, one ``T*`` per output."""
    scalars = tuple(scalars or (False,) * len(program.inputs))
    gen = c_fusion.generate(program, dialect)
    params = [("long long", "n")]
    loads = []
    for i, ct in enumerate(gen.input_types):
        params.append((f"const {ct}*", f"p{i}"))
        loads.append(f"{ct} in{i} = p{i}[{'0' if scalars[i] else 'i'}];")
    stores = []
    for k, (j, var) in enumerate(zip(program.outputs, gen.outputs)):
        ct = dialect.ctype(program.steps[j].dtype)
        params.append((f"{ct}*", f"q{k}"))
        stores.append(f"q{k}[i] = {var};")
    digest = hashlib.sha1(repr((program.key(), scalars)).encode()).hexdigest()[:12]
    name = f"ember_fused_{digest}"
    head = ", ".join(f"{ct} {pname}" for ct, pname in params)
    inner = "\n        ".join(loads + gen.statements + stores)
    code = f"""{gen.helpers}
extern "C" __global__ void {name}({head}) {{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (long long)blockDim.x * gridDim.x) {{
        {inner}
    }}
}}
"""
    return KernelSource(name, code, tuple(params))


class FusedKernel:
    """``kernel(*arrays) -> tuple of cupy arrays``: one launch computing every output of ``program``."""

    def __init__(self, compiler, program):
        self.compiler = compiler
        self.program = program
        self.n = 1
        for s in program.shape:
            self.n *= int(s)
        self.in_np = [np.dtype(d.numpy) for d in program.inputs]
        self.out_np = [np.dtype(program.steps[j].dtype.numpy) for j in program.outputs]

    def arguments(self, arrays):
        """(one-element pattern, kernel arguments without the outputs) for these input arrays."""
        cp = self.compiler.cp
        program, n = self.program, self.n
        if len(arrays) != len(program.inputs):
            raise TypeError(f"the fused kernel takes {len(program.inputs)} arrays, got {len(arrays)}")
        scalars, args = [], [np.int64(n)]
        for i, (a, want) in enumerate(zip(arrays, self.in_np)):
            if a.dtype != want:
                raise TypeError(f"input {i} of the fused kernel has dtype {a.dtype}, the program expects {want}")
            one = a.size == 1 and n != 1
            if not one and tuple(a.shape) != program.shape:
                raise ValueError(f"input {i} of the fused kernel has shape {tuple(a.shape)}, the program's is "
                                 f"{program.shape} (or one element)")
            scalars.append(one)
            args.append(cp.ascontiguousarray(a))  # the kernel reads flat indices
        return tuple(scalars), args

    def __call__(self, *arrays):
        cp = self.compiler.cp
        scalars, args = self.arguments(arrays)
        # CuPy computes on the current device: that of the inputs (a cupy Device is a context manager)
        device = next((a.device for a in args[1:] if hasattr(getattr(a, "device", None), "__enter__")), None)
        with device if device is not None else _nothing():
            outs = tuple(cp.empty(self.program.shape, dtype=d) for d in self.out_np)
            if self.n:
                kernel = self.compiler.raw(self.program, scalars)
                grid = max(1, min(MAX_GRID, -(-self.n // THREADS)))
                kernel((grid,), (THREADS,), tuple(args) + outs)
        return outs


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


class CupyFusionCompiler(FusionCompiler):
    """The ``FusionCompiler`` of the ``cuda`` and ``rocm`` backends (``ember_fusion_compiler``).

    Args:
        cupy: the cupy module (or a stand-in with ``RawKernel``, ``empty``, ``ascontiguousarray``).
    """

    def __init__(self, cupy):
        self.cp = cupy
        self._sources = {}   # (program.key(), pattern) -> KernelSource
        self._raw = {}       # kernel name -> RawKernel
        self._kernels = {}   # (program.key(), shape) -> FusedKernel
        self._lock = threading.Lock()

    def supports(self, op, attrs, dtype, input_dtypes=()):
        """Whether a step ``op`` with these attributes and dtypes can be generated (no 16-bit floats)."""
        return c_fusion.op_supported(op, attrs, dtype, input_dtypes, DIALECT.DTYPES)

    def source(self, program, scalars=None) -> KernelSource:
        """The ``KernelSource`` of ``program`` for a pattern of one-element inputs (cached)."""
        key = (program.key(), tuple(scalars or (False,) * len(program.inputs)))
        found = self._sources.get(key)
        if found is None:
            found = self._sources[key] = kernel_source(program, key[1])
        return found

    def raw(self, program, scalars):
        """The ``RawKernel`` of ``program`` for a pattern of one-element inputs (cached)."""
        source = self.source(program, scalars)
        kernel = self._raw.get(source.name)
        if kernel is None:
            with self._lock:
                kernel = self._raw.get(source.name)
                if kernel is None:
                    kernel = self._raw[source.name] = self.cp.RawKernel(source.code, source.name)
        return kernel

    def compile(self, program):
        """The ``FusedKernel`` of ``program`` (its source generated now, so errors surface here)."""
        key = (program.key(), program.shape)
        found = self._kernels.get(key)
        if found is None:
            self.source(program)
            found = self._kernels[key] = FusedKernel(self, program)
        return found
