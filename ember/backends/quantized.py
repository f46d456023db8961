"""``ember.backends.quantized``: PyTorch's ``torch.backends.quantized`` — the quantized-kernel engine.

ember has no quantized kernels, so the only engine is ``"none"``; choosing another raises.
"""
from __future__ import annotations

import sys
import types

__all__ = ["engine", "supported_engines"]

supported_engines = ["none"]


class _Module(types.ModuleType):
    """``engine`` accepts only a supported engine, as in PyTorch."""

    def __setattr__(self, name, value):
        if name == "engine" and value not in supported_engines:
            raise RuntimeError(f"quantized engine {str(value).upper()} is not supported")
        super().__setattr__(name, value)


engine = "none"
sys.modules[__name__].__class__ = _Module
