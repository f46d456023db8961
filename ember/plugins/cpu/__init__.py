"""The CPU backend plugin (numpy): the reference every other backend is checked against."""
from ember.plugins.cpu.backend import ember_backend, ember_register_kernels

__all__ = ["ember_backend", "ember_register_kernels"]
