"""Run the GPU plugin's CUDA C kernel sources on the CPU, for tests on machines with no GPU.

The kernel source is compiled unchanged by the host C++ compiler under a small header
that stands in for CUDA: every thread of a block is a ``std::thread``, ``__syncthreads``
is a ``std::barrier`` over the block, ``__shared__`` variables are function statics
(shared by the block's threads; blocks run one after another), and ``__umul64hi`` is a
128-bit multiply. That executes the kernels' real indexing, reductions and control flow
— what the tests check against numpy — but not the GPU's memory model or its math
library's last-ulp rounding.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile

import numpy as np

_HEADER = r"""
#include <barrier>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>
using std::isinf; using std::sqrt; using std::exp; using std::log; using std::fmax; using std::tanh;
using std::erf; using std::sin; using std::cos;
struct ember_dim3 { unsigned x = 1, y = 1, z = 1; };
static thread_local ember_dim3 threadIdx;
static ember_dim3 blockIdx, blockDim, gridDim;
static std::barrier<>* ember_block_barrier = nullptr;
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
static inline void __syncthreads() { ember_block_barrier->arrive_and_wait(); }
static inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
static inline float rsqrtf(float v) { return 1.0f / std::sqrt(v); }
static inline double rsqrt(double v) { return 1.0 / std::sqrt(v); }
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
template <class Kernel> static void ember_launch(unsigned grid, unsigned block, Kernel kernel) {
    gridDim.x = grid;
    blockDim.x = block;
    for (unsigned b = 0; b < grid; ++b) {
        blockIdx.x = b;
        std::barrier<> barrier(block);
        ember_block_barrier = &barrier;
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < block; ++t)
            threads.emplace_back([t, &kernel] { threadIdx.x = t; kernel(); });
        for (auto& thread : threads) thread.join();
    }
}
"""

_CTYPES = {
    "float*": ctypes.c_void_p, "double*": ctypes.c_void_p, "const float*": ctypes.c_void_p,
    "const double*": ctypes.c_void_p, "long long": ctypes.c_longlong, "int": ctypes.c_int,
    "unsigned long long": ctypes.c_ulonglong, "double": ctypes.c_double, "float": ctypes.c_float,
}


_COMPILER = []


def host_compiler():
    """A C++20 compiler with ``<barrier>`` (g++ 11+, clang++ 15+), or None."""
    if not _COMPILER:
        _COMPILER.append(None)
        for name in ("g++", "clang++"):
            path = shutil.which(name)
            if path is None:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                probe = os.path.join(tmp, "probe.cpp")
                with open(probe, "w") as f:
                    f.write("#include <barrier>\nint main() { std::barrier<> b(1); b.arrive_and_wait(); }\n")
                done = subprocess.run([path, "-std=c++20", "-pthread", probe, "-o", os.path.join(tmp, "probe")],
                                      capture_output=True)
            if done.returncode == 0:
                _COMPILER[0] = path
                break
    return _COMPILER[0]


class EmulatedKernel:
    """``kernel(grid, block, *args)``: numpy arrays for pointers, Python numbers for scalars."""

    def __init__(self, source, fn):
        self.source = source
        self._fn = fn

    def __call__(self, grid, block, *args):
        assert len(args) == len(self.source.params), (self.source.name, args)
        converted = []
        for (ctype, name), value in zip(self.source.params, args):
            if ctype.endswith("*"):
                assert isinstance(value, np.ndarray) and value.flags.c_contiguous, name
                converted.append(value.ctypes.data)
            else:
                converted.append(float(value) if ctype in ("float", "double") else int(value))
        self._fn(grid, block, *converted)


class FakeRawKernel:
    """Stands in for ``cupy.RawKernel``: ``kernel((grid,), (block,), args)`` runs the emulation."""

    def __init__(self, kernels, code, name):
        self.kernel = kernels[name]
        assert self.kernel.source.code == code

    def __call__(self, grid, block, args):
        self.kernel(int(grid[0]), int(block[0]), *args)


def fake_cupy(kernels):
    """numpy dressed as the part of CuPy that ``ember.plugins.cupy.fused`` uses."""
    import types
    fake = types.SimpleNamespace(**{name: getattr(np, name) for name in
                                    ("ascontiguousarray", "empty", "empty_like", "float32", "float64", "ndarray")})
    fake.RawKernel = lambda code, name: FakeRawKernel(kernels, code, name)
    return fake


def compile_kernels(sources) -> dict:
    """{kernel name: EmulatedKernel} for the given KernelSources, built as one host library."""
    parts = [_HEADER]
    for source in sources:
        params = ", ".join(f"{ctype} {name}" for ctype, name in source.params)
        names = ", ".join(name for _, name in source.params)
        parts.append(source.code)
        parts.append(f'\nextern "C" void run_{source.name}(unsigned grid, unsigned block, {params}) {{\n'
                     f"    ember_launch(grid, block, [&] {{ {source.name}({names}); }});\n}}\n")
    code = "".join(parts)
    digest = hashlib.sha1(code.encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), "ember-gpu-emulation")
    os.makedirs(folder, exist_ok=True)
    library = os.path.join(folder, f"kernels-{digest}.so")
    if not os.path.exists(library):
        cpp = library[:-3] + ".cpp"
        with open(cpp, "w") as f:
            f.write(code)
        tmp = library + f".{os.getpid()}"
        done = subprocess.run([host_compiler(), "-std=c++20", "-O1", "-pthread", "-shared", "-fPIC", cpp, "-o", tmp],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"host compile of the kernel sources failed:\n{done.stderr}")
        os.replace(tmp, library)
    lib = ctypes.CDLL(library)
    kernels = {}
    for source in sources:
        fn = getattr(lib, f"run_{source.name}")
        fn.restype = None
        fn.argtypes = [ctypes.c_uint, ctypes.c_uint] + [_CTYPES[ctype] for ctype, _ in source.params]
        kernels[source.name] = EmulatedKernel(source, fn)
    return kernels
