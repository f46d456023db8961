"""The MPS backend plugin: device type ``mps`` on MLX (``pip install ember[mps]``).

On Apple silicon ``mps`` runs on the GPU through MLX's Metal backend. Elsewhere it is
unavailable, with the reason, unless ``EMBER_MPS_DEVICE=cpu`` is set: then the same
plugin runs on MLX's CPU device (how tests and CI exercise it on Linux). See
``backend.py`` for availability, transfers, memory and evaluation, ``kernels.py`` for
the primitives and ``fused.py`` for the fused composites.
"""
from ember.plugins.mps.backend import ember_backend, ember_register_kernels

__all__ = ["ember_backend", "ember_register_kernels"]
