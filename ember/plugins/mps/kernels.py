"""The kernel table of the ``mps`` backend: the MLX primitives (``primitives.py``) and
fused composites (``fused.py``), each run on the MLX device that serves ``mps``.

The names are listed here, so ``kernel_names()`` answers without importing MLX;
``kernel_table(backend)`` (the ``ember_kernels`` hook) looks each one up by name.
A kernel added to ``MlxKernels`` or ``fused.py`` is registered once its name is listed.
"""
from __future__ import annotations

from ember.dispatch.ops import OPS

#: the primitives ``primitives.MlxKernels`` implements (a method or attribute of the same name)
PRIMITIVES = (
    # elementwise
    "sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin",
    "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "erf", "erfinv", "reciprocal", "floor", "ceil", "trunc",
    "neg", "abs", "sign", "relu", "bitwise_not", "logical_not", "isnan", "isinf", "round",
    "add", "sub", "mul", "div", "pow", "atan2", "remainder", "fmod", "maximum", "minimum",
    "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift",
    "div_rounding", "where", "cast",
    # reductions and scans
    "sum", "prod", "amax", "amin", "all", "any", "argmax", "argmin", "cumsum", "cumprod",
    # linear algebra
    "matmul", "einsum",
    # views (copies: MLX cannot alias), copies and layout
    "view", "permute", "expand", "basic_index", "diagonal", "clone", "flip", "roll", "cat", "tril", "triu",
    # indexing
    "index", "gather", "scatter", "nonzero", "sort", "unique",
    # writes
    "copy_", "index_put",
    # creation and random
    "full", "arange", "philox_uniform", "philox_normal",
)

#: composites with a fused MLX kernel in ``fused.py`` (a function of the same name)
FUSED = ("softmax", "log_softmax", "conv", "conv_transpose", "adam_step", "max_pool")

#: kernels whose results bypass ``MPSBackend.normalize`` (in-place ops): the eval window notes them
_NOTED = ("copy_", "index_put", "adam_step")


def kernel_names() -> tuple:
    """The op names of ``kernel_table``, without importing MLX."""
    return tuple(name for name in PRIMITIVES + FUSED if name in OPS)


def kernel_table(backend) -> dict:
    """{op name: kernel} for an available ``MPSBackend`` (imports MLX)."""
    from ember.plugins.mps import fused
    primitives = backend._bind()
    mx = primitives.mx
    mlx_kernels = primitives.MlxKernels()
    table = {name: getattr(mlx_kernels, name) for name in PRIMITIVES if name in OPS}
    table.update({name: getattr(fused, name) for name in FUSED if name in OPS})
    window = backend.window
    for name in _NOTED:
        if name in table:
            table[name] = noting(table[name], window)
    device = backend.mlx_device()
    if mx.default_device() != device:  # e.g. EMBER_MPS_DEVICE=cpu on a Mac: run every kernel there
        table = {name: on_device(kernel, mx, device) for name, kernel in table.items()}
    return table


def noting(kernel, window):
    """``kernel``, with each array it returns remembered by the eval window."""
    note = window.note

    def run(*args, **attrs):
        out = kernel(*args, **attrs)
        if type(out) is tuple:
            for a in out:
                if a is not None:
                    note(a)
            return out
        return note(out)
    run.__wrapped__ = kernel
    return run


def on_device(kernel, mx, device):
    """``kernel``, run on the MLX ``device`` (a stream of it)."""
    def run(*args, **attrs):
        with mx.stream(device):
            return kernel(*args, **attrs)
    run.__wrapped__ = kernel
    return run
