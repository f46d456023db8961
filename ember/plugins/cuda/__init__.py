"""The CUDA backend plugin: device type ``cuda`` on CuPy (``pip install ember[cuda]``).

``cuda`` is served by whichever CuPy build is installed — NVIDIA GPUs with CuPy for
CUDA, AMD GPUs with CuPy for ROCm (as in PyTorch's ROCm builds); see ``ember.plugins.cupy``,
which holds the implementation this plugin shares with ``rocm``. Without CuPy or without a
usable GPU and driver it is listed as unavailable, with the reason, and ``.to("cuda")``
raises a RuntimeError saying the same. ``backend.py`` holds the plugin's ``CupyBackend``.
"""
from ember.dispatch.hookspecs import hookimpl


@hookimpl
def ember_backend():
    from ember.plugins.cuda.backend import BACKEND
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
