"""The CPU backend plugin (numpy): the reference every other backend is checked against.

The smallest plugin, and the shape every backend folder has:

* ``__init__.py`` — the hooks of ``ember.dispatch.hookspecs`` (this file), nothing else
* ``backend.py``  — ``CPUBackend`` and its one instance, ``BACKEND``
* ``kernels.py``  — the kernel table: ``kernel_table()`` builds it, ``kernel_names()`` lists it
* ``fused.py``    — numpy-specific fused kernels for composites (conv, conv_transpose, max_pool)
* ``fusion.py``   — the fusion compiler of ``ember.compile``: elementwise chains as generated numba loops
* ``training.py`` — fused training-step kernels: Adam/SGD updates, layer_norm forward and backward
  (numpy, and the numba loops of ``_train_loops.py`` when numba is installed)
"""
from ember.dispatch.hookspecs import hookimpl


@hookimpl
def ember_backend():
    from ember.plugins.cpu.backend import BACKEND
    return BACKEND


@hookimpl
def ember_kernels(backend):
    from ember.plugins.cpu.kernels import kernel_table
    return kernel_table()


@hookimpl
def ember_kernel_names(backend):
    from ember.plugins.cpu.kernels import kernel_names
    return kernel_names()


@hookimpl
def ember_fusion_compiler(backend):
    from ember.plugins.cpu.fusion import fusion_compiler
    return fusion_compiler()
