"""The OpenCL fusion compiler: a ``FusedProgram`` as one generated OpenCL C kernel.

The statements come from the shared generator (``ember.plugins.c_fusion``) in the OpenCL
dialect; this file wraps them in a kernel over the flat element index: each input is a
buffer read at ``off + gid`` (or at ``off`` alone when it has one element: a 0-d input
broadcast, read on the device with no host round trip), each output a new contiguous
buffer written at ``gid``. Storage follows ``cltypes`` (bool as uchar, float16 through
``vload_half``/``vstore_half_rte``, bfloat16 as 16 bits computed in float).

Programs are built with the device's context through ``DeviceState.kernel`` (one build per
source, kept for the process; pyopencl caches the binaries on disk); ``OpenCLFusionCompiler``
keeps one ``FusedKernel`` per ``program.key()``, and each kernel one source per pattern of
one-element inputs.
"""
from __future__ import annotations

import hashlib
import threading

import numpy as np

from ember.dispatch.fusion import FusionCompiler
from ember.plugins import c_fusion
from ember.plugins.opencl import cltypes as T
from ember.plugins.opencl import runtime
from ember.plugins.opencl.array import CLArray
from ember.plugins.opencl.launchers import contiguous, empty


class OpenCLDialect(c_fusion.Dialect):
    """OpenCL C: overloaded math builtins, ``long`` for int64, private ``bool``."""
    TYPES = {"bool": "bool", "uint8": "uchar", "int8": "char", "int16": "short", "int32": "int", "int64": "long",
             "float16": "float", "bfloat16": "float", "float32": "float", "float64": "double"}
    UNSIGNED = {"char": "uchar", "short": "ushort", "int": "uint", "long": "ulong", "uchar": "uchar",
                "bool": "bool"}
    INLINE = "inline"
    LONG_SUFFIX = "L"

    def __init__(self, fp64: bool):
        self.DTYPES = c_fusion.REAL_DTYPES if fp64 else c_fusion.REAL_DTYPES - {"float64"}

    def nan(self, ct):
        return f"(({ct})NAN)"

    def inf(self, ct):
        return f"(({ct})INFINITY)"

    def round16(self, dtype_name, expr, source_ct):
        if dtype_name == "bfloat16":  # cltypes' prelude: round to nearest even, NaN kept quiet
            return f"ember_bf2f(ember_f2bf((float)({expr})))", ""
        # through a private 16-bit slot: vstore_half_rte rounds to nearest even (no cl_khr_fp16 needed)
        fn = f"ember_round_f16_{source_ct}"
        helper = (f"inline float {fn}({source_ct} v) {{ ushort h; vstore_half_rte(v, 0, (__private half*)&h); "
                  f"return vload_half(0, (__private const half*)&h); }}")
        return f"{fn}({expr})", helper


def kernel_source(program, dialect, scalars) -> tuple[str, str]:
    """(OpenCL C source, kernel base name) of ``program`` with ``scalars[i]`` True where input i
    has one element. The source holds ``<name>_flat`` (one work-item per element) and
    ``<name>_loop`` (a grid-stride loop, for sizes past the largest launch)."""
    gen = c_fusion.generate(program, dialect)
    params = ["long n"]
    loads = []
    for i, (dtype, ct) in enumerate(zip(program.inputs, gen.input_types)):
        c = T.ctype(dtype.numpy)
        params += [f"__global const {c.storage}* p{i}", f"long off{i}"]
        idx = f"off{i}" if scalars[i] else f"off{i} + gid"
        value = T.load(c, f"p{i}", idx)
        loads.append(f"{ct} in{i} = {f'({value} != 0)' if c.kind == 'b' else value};")
    stores = []
    for k, (j, var) in enumerate(zip(program.outputs, gen.outputs)):
        c = T.ctype(program.steps[j].dtype.numpy)
        params.append(f"__global {c.storage}* q{k}")
        stores.append(T.store(c, f"q{k}", "gid", var, dialect.ctype(program.steps[j].dtype)))
    digest = hashlib.sha1(repr((program.key(), tuple(scalars))).encode()).hexdigest()[:12]
    name = f"ember_fused_{digest}"
    inner = "\n        ".join(loads + gen.statements + stores)
    head = ", ".join(params)
    src = f"""{T.header(any(d.name == "float64" for d in _dtypes(program)))}
{gen.helpers}
__kernel void {name}_flat({head}) {{
    long gid = get_global_id(0);
    if (gid < n) {{
        {inner}
    }}
}}
__kernel void {name}_loop({head}) {{
    for (long gid = get_global_id(0); gid < n; gid += get_global_size(0)) {{
        {inner}
    }}
}}
"""
    return src, name


def _dtypes(program):
    yield from program.inputs
    for s in program.steps:
        yield s.dtype
        if s.op == "cast":
            yield s.attrs["dtype"]


class _Sources:
    """The generated sources of one program key (any shape): one per pattern of one-element inputs."""

    def __init__(self, program, dialect):
        self.program, self.dialect = program, dialect
        self.by_pattern = {}
        c_fusion.generate(program, dialect)  # fails here, at compile time, if a step cannot be expressed

    def get(self, scalars):
        found = self.by_pattern.get(scalars)
        if found is None:
            found = self.by_pattern[scalars] = kernel_source(self.program, self.dialect, scalars)
        return found


class FusedKernel:
    """``kernel(*arrays) -> tuple of CLArray``: one launch computing every output of ``program``."""

    def __init__(self, program, sources):
        self.program = program
        self.sources = sources
        self.n = 1
        for s in program.shape:
            self.n *= int(s)
        self.in_np = [np.dtype(d.numpy) for d in program.inputs]
        self.out_np = [np.dtype(program.steps[j].dtype.numpy) for j in program.outputs]

    def source(self, scalars=None):
        """(OpenCL C source, kernel base name) for a pattern of one-element inputs (default: none)."""
        return self.sources.get(tuple(scalars or (False,) * len(self.program.inputs)))

    def __call__(self, *arrays):
        program, n = self.program, self.n
        if len(arrays) != len(program.inputs):
            raise TypeError(f"the fused kernel takes {len(program.inputs)} arrays, got {len(arrays)}")
        st = None
        args, scalars = [np.int64(n)], []
        for i, (a, want) in enumerate(zip(arrays, self.in_np)):
            if not isinstance(a, CLArray):
                raise TypeError(f"input {i} of the fused kernel is a {type(a).__name__}, not a CLArray")
            if a.dtype != want:
                raise TypeError(f"input {i} of the fused kernel has dtype {a.dtype}, the program expects {want}")
            one = a.size == 1 and n != 1
            if not one and a.shape != program.shape:
                raise ValueError(f"input {i} of the fused kernel has shape {a.shape}, the program's is "
                                 f"{program.shape} (or one element)")
            if st is None:
                st = a.state
            elif a.state is not st:
                raise RuntimeError(f"a fused OpenCL kernel got arrays of two devices (opencl:{st.index} and "
                                   f"opencl:{a.state.index})")
            if not one:
                a = contiguous(a)   # the kernel reads flat indices
            scalars.append(one)
            args += [a.storage.buf, np.int64(a.offset)]
        if st is None:
            st = runtime.state(0)
        outs = tuple(empty(st, program.shape, d) for d in self.out_np)
        if n == 0:
            return outs
        source, name = self.source(scalars)
        groups = -(-n // st.local_size)
        flat = groups <= (1 << 22)
        kernel = st.kernel(source, f"{name}_flat" if flat else f"{name}_loop")
        args += [o.storage.buf for o in outs]
        if not flat:
            groups = st.groups_for(n)
        st.launch(kernel, (groups * st.local_size,), (st.local_size,), args)
        return outs


class OpenCLFusionCompiler(FusionCompiler):
    """The ``FusionCompiler`` of the ``opencl`` backend (``ember_fusion_compiler``)."""

    def __init__(self):
        self._sources = {}   # program.key() -> _Sources (the kernels take the size as an argument)
        self._kernels = {}   # (program.key(), shape) -> FusedKernel
        self._lock = threading.Lock()
        self.dialect = OpenCLDialect(runtime.state(0).fp64)

    def supports(self, op, attrs, dtype, input_dtypes=()):
        """Whether a step ``op`` with these attributes and dtypes can be generated on this device."""
        return c_fusion.op_supported(op, attrs, dtype, input_dtypes, self.dialect.DTYPES)

    def compile(self, program):
        """The ``FusedKernel`` of ``program`` (sources generated once per ``program.key()``)."""
        key = program.key()
        found = self._kernels.get((key, program.shape))
        if found is None:
            with self._lock:
                sources = self._sources.get(key)
                if sources is None:
                    sources = self._sources[key] = _Sources(program, self.dialect)
                found = self._kernels[(key, program.shape)] = FusedKernel(program, sources)
        return found
