"""The ``cuda`` backend: any CuPy build's GPUs, CUDA or ROCm (see ``ember.plugins.cupy``)."""
from ember.plugins.cupy.backend import CupyBackend
from ember.plugins.cupy.runtime import CUDA_INSTALL, PLATFORM_ANY

BACKEND = CupyBackend(device_type="cuda", dispatch_key="CUDA", platform=PLATFORM_ANY, install=CUDA_INSTALL)
