"""The kernel table of the ``counting`` backend: ember's numpy kernels, each call counted.

``kernel_table()`` builds ``{op name: kernel}`` when ember first uses the device (the
``ember_kernels`` hook); ``kernel_names()`` gives the same names without building
anything (a GPU backend must not import its library there), for ``python -m ember``.
"""
from __future__ import annotations

import collections

from ember.plugins.xp import XpKernels

#: {op name: number of kernel calls} since import (or since ``CALLS.clear()``)
CALLS: collections.Counter = collections.Counter()


def kernel_table() -> dict:
    """{op name: kernel}: every primitive ``XpKernels`` implements, over numpy, counted."""
    import numpy as np
    import scipy.special
    return {name: _counted(name, kernel) for name, kernel in XpKernels(np, scipy.special).kernels().items()}


def kernel_names() -> tuple:
    """The op names of ``kernel_table()``."""
    return XpKernels.kernel_names()


def _counted(name, kernel):
    def run(*args, **attrs):
        CALLS[name] += 1
        return kernel(*args, **attrs)
    run.__name__ = name
    return run
