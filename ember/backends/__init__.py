"""``ember.backends``: PyTorch's ``torch.backends`` — questions about how ember was installed, and flags.

``ember.backends.mps.is_available()`` / ``is_built()`` answer for the ``mps`` device;
``cuda``, ``cudnn``, ``cpu``, ``mkldnn`` and ``opt_einsum`` hold PyTorch's flags and queries.
"""
from ember.backends import cpu, cuda, cudnn, mkldnn, mps, opt_einsum  # noqa: F401

__all__ = ["cpu", "cuda", "cudnn", "mkldnn", "mps", "opt_einsum"]
