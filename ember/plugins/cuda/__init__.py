"""The CUDA backend plugin: device type ``cuda`` on CuPy (``pip install ember[cuda]``).

``cuda`` is served by whichever CuPy build is installed — NVIDIA GPUs with CuPy for
CUDA, AMD GPUs with CuPy for ROCm (as in PyTorch's ROCm builds); see ``ember.plugins.gpu``.
Without CuPy or without a usable GPU and driver it is listed as unavailable, with the
reason, and ``.to("cuda")`` raises a RuntimeError saying the same.
"""
from ember.dispatch.hookspecs import hookimpl
from ember.plugins.gpu import register_kernels
from ember.plugins.gpu.backend import CupyBackend
from ember.plugins.gpu.runtime import CUDA_INSTALL, PLATFORM_ANY

BACKEND = CupyBackend(device_type="cuda", dispatch_key="CUDA", platform=PLATFORM_ANY, install=CUDA_INSTALL)


@hookimpl
def ember_backend():
    return BACKEND


@hookimpl
def ember_register_kernels(backend, register):
    register_kernels(backend, register)
