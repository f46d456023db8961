"""The OpenCL backend plugin (pyopencl): ember on any OpenCL 1.2 device.

``pip install ember[opencl]`` brings pyopencl and the PoCL CPU driver, so ``opencl`` works
on any machine. Files, top-down:

* ``runtime.py``     — finds the devices (GPUs first; ``EMBER_OPENCL_DEVICE`` selects), one
  context, queue, memory pool and program cache per device
* ``backend.py``     — the Backend: transfers, synchronize, memory stats, dtypes
* ``array.py``       — ``CLArray`` (buffer, offset, shape, strides in elements, dtype): views are
  metadata over one buffer, so in-place writes through views reach the base
* ``cltypes.py``     — each dtype in OpenCL C (float16 via vload_half/vstore_half, bfloat16 as
  16-bit storage with float math; float64 only with cl_khr_fp64)
* ``elementwise.py`` — the elementwise template and the C expression of each primitive
* ``sources.py``     — the other OpenCL C templates (reductions, scans, GEMM, indexing, sort,
  Philox, softmax, einsum)
* ``launchers.py``, ``reductions.py``, ``linalg.py``, ``indexing.py`` — the launchers, one per
  primitive, with the primitives' calling conventions
* ``kernels.py``     — the kernel table: ``kernel_table()``, ``kernel_names()``
* ``fusion.py``      — the fusion compiler (``ember_fusion_compiler``): fused programs as generated
  OpenCL C, from the statements of ``ember.plugins.c_fusion``

Random numbers are generated on the device by a Philox4x64-10 kernel: the words, and so
the uniforms, match the CPU's bit for bit; normals use the device's float64 log/sin/cos
(Box-Muller), equal to the CPU's to within an ulp of float64.
"""
from ember.dispatch.hookspecs import hookimpl


@hookimpl
def ember_backend():
    from ember.plugins.opencl.backend import BACKEND
    return BACKEND


@hookimpl
def ember_kernels(backend):
    from ember.plugins.opencl.kernels import kernel_table
    return kernel_table()


@hookimpl
def ember_kernel_names(backend):
    from ember.plugins.opencl.kernels import kernel_names
    return kernel_names()


@hookimpl
def ember_fusion_compiler(backend):
    from ember.plugins.opencl.fusion import OpenCLFusionCompiler
    return OpenCLFusionCompiler()
