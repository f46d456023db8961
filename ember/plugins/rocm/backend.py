"""The ``rocm`` backend: the GPUs of a ROCm (HIP) build of CuPy only (see ``ember.plugins.cupy``)."""
from ember.plugins.cupy.backend import CupyBackend
from ember.plugins.cupy.runtime import PLATFORM_ROCM, ROCM_INSTALL

BACKEND = CupyBackend(device_type="rocm", dispatch_key="ROCm", platform=PLATFORM_ROCM, install=ROCM_INSTALL)
