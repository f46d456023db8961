"""``ember.backends``: PyTorch's ``torch.backends`` — questions about how ember was installed.

``ember.backends.mps.is_available()`` / ``is_built()`` answer for the ``mps`` device.
"""
from ember.backends import mps  # noqa: F401

__all__ = ["mps"]
