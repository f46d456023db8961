"""The ROCm backend plugin: device type ``rocm`` on CuPy for ROCm (``pip install ember[rocm]``).

Available only with a ROCm (HIP) build of CuPy and an AMD GPU; the same GPUs also answer
to ``cuda`` (see ``ember.plugins.cupy``, which holds the implementation both plugins share).
With a CUDA build of CuPy it is listed as unavailable, saying which build is installed.
``backend.py`` holds the plugin's ``CupyBackend``.
"""
from ember.dispatch.hookspecs import hookimpl


@hookimpl
def ember_backend():
    from ember.plugins.rocm.backend import BACKEND
    return BACKEND


@hookimpl
def ember_kernels(backend):
    from ember.plugins.cupy.kernels import kernel_table
    return kernel_table(backend)


@hookimpl
def ember_kernel_names(backend):
    from ember.plugins.cupy.kernels import kernel_names
    return kernel_names()


@hookimpl
def ember_fusion_compiler(backend):
    from ember.plugins.cupy.fusion import CupyFusionCompiler
    return CupyFusionCompiler(backend.cupy)
