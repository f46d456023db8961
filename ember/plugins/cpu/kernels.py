"""The CPU kernel table: the shared array-module kernels over numpy, plus fused overrides.

``kernel_table()`` builds ``{op name: kernel}`` when the registry asks for it (the
``ember_kernels`` hook); ``kernel_names()`` gives the same names without building anything.
"""
from __future__ import annotations

import warnings

from ember.plugins.xp import XpKernels

#: composites with a fused numpy kernel in ``fused.py`` (a function of the same name)
FUSED = ("softmax", "log_softmax")
#: conv and pooling composites with a kernel in ``conv.py`` (numpy; compiled loops with numba)
CONV = ("conv", "conv_transpose", "max_pool", "max_pool_backward")


def kernel_table() -> dict:
    """{op name: kernel}: every primitive from ``XpKernels(numpy, scipy.special)``, and the
    fused composites."""
    import numpy as np

    from ember.plugins.cpu import fused
    # numpy warns on log(0), 0/0 and the like; PyTorch returns inf/nan silently, and so do we.
    warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ember\.")
    table = XpKernels(np, _SciPySpecial()).kernels()
    table.update({name: getattr(fused, name) for name in FUSED})
    from ember.plugins.cpu import conv
    table.update({name: getattr(conv, name) for name in CONV})
    from ember.plugins.cpu.training import training_kernels  # adam_step, sgd_step, layer_norm (+ backward)
    table.update(training_kernels(table))
    if _numba_available():
        from ember.plugins.cpu.compiled import compiled_kernels
        table.update(compiled_kernels(table))
    return table


class _SciPySpecial:
    """``scipy.special``, imported at the first special function a kernel calls: the import
    takes a quarter of a second (it loads scipy's array-API layer), which ``import ember``
    would otherwise pay."""

    def __getattr__(self, name):  # only for names not yet looked up: each is kept after
        import scipy.special
        value = getattr(scipy.special, name)
        setattr(self, name, value)
        return value


#: fused training-step kernels in ``training.py`` (numpy, compiled loops with numba)
TRAINING = ("layer_norm", "layer_norm_backward", "sgd_step", "relu_backward")

#: ops with a compiled (numba) kernel in ``compiled.py``, when numba is installed
COMPILED = ("erf", "sum", "gelu", "softmax", "log_softmax", "amax", "amin", "add", "sub", "mul", "div")


def _numba_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("numba") is not None


def kernel_names() -> tuple:
    """The op names of ``kernel_table()``, without building it."""
    return tuple(dict.fromkeys(XpKernels.kernel_names() + FUSED + CONV + TRAINING
                               + (COMPILED if _numba_available() else ())))
