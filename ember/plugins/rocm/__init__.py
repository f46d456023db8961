"""The ROCm backend plugin: device type ``rocm`` on CuPy for ROCm (``pip install ember[rocm]``).

Available only with a ROCm (HIP) build of CuPy and an AMD GPU; the same GPUs also answer
to ``cuda`` (see ``ember.plugins.gpu``). With a CUDA build of CuPy it is listed as
unavailable, saying which build is installed.
"""
from ember.dispatch.hookspecs import hookimpl
from ember.plugins.gpu import register_kernels
from ember.plugins.gpu.backend import CupyBackend
from ember.plugins.gpu.runtime import PLATFORM_ROCM, ROCM_INSTALL

BACKEND = CupyBackend(device_type="rocm", dispatch_key="ROCm", platform=PLATFORM_ROCM, install=ROCM_INSTALL)


@hookimpl
def ember_backend():
    return BACKEND


@hookimpl
def ember_register_kernels(backend, register):
    register_kernels(backend, register)
