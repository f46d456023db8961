"""Dispatch keys, highest priority first.

A call's key set comes from its tensor arguments: the backend key of their device,
plus Autograd when grad mode is on and an input requires grad (plus Autocast inside an
autocast region). The highest key runs; Autograd records the graph node and calls the
backend key below itself.
"""
AUTOCAST = "Autocast"
AUTOGRAD = "Autograd"

# Backend keys of the built-in device types; a third-party backend brings its own key.
BUILTIN_BACKEND_KEYS = {
    "cpu": "CPU",
    "cuda": "CUDA",
    "rocm": "ROCm",
    "opencl": "OpenCL",
    "mps": "MPS",
}

PRIORITY = (AUTOCAST, AUTOGRAD, *BUILTIN_BACKEND_KEYS.values())
