"""The MPS backend plugin: device type ``mps`` on MLX (``pip install ember[mps]``).

On Apple silicon ``mps`` runs on the GPU through MLX's Metal backend. Elsewhere it is
unavailable, with the reason, unless ``EMBER_MPS_DEVICE=cpu`` is set: then the same
plugin runs on MLX's CPU device (how tests and CI exercise it on Linux). Files:

* ``backend.py``    — ``MPSBackend``: availability, transfers, memory and evaluation
* ``kernels.py``    — the kernel table: ``kernel_table(backend)``, ``kernel_names()`` (no MLX)
* ``primitives.py`` — the primitives over MLX (``MlxKernels``), dtypes and host transfers
* ``fused.py``      — the fused composites (softmax, conv, max_pool, Adam, ...)
* ``fusion.py``     — the fusion compiler of ``ember.compile``: elementwise chains under ``mx.compile``
"""
from ember.dispatch.hookspecs import hookimpl


@hookimpl
def ember_backend():
    from ember.plugins.mps.backend import BACKEND
    return BACKEND


@hookimpl
def ember_kernels(backend):
    from ember.plugins.mps.kernels import kernel_table
    return kernel_table(backend)


@hookimpl
def ember_kernel_names(backend):
    from ember.plugins.mps.kernels import kernel_names
    return kernel_names()


@hookimpl
def ember_fusion_compiler(backend):
    from ember.plugins.mps.fusion import fusion_compiler
    return fusion_compiler(backend)
