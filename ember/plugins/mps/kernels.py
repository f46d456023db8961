"""The kernel table of the ``mps`` backend: the MLX primitives (``primitives.py``) and
fused composites (``fused.py``), each run on the MLX device that serves ``mps``.

The names are listed here, so ``kernel_names()`` answers without importing MLX;
``kernel_table(backend)`` (the ``ember_kernels`` hook) looks each one up by name.
A kernel added to ``MlxKernels`` or ``fused.py`` is registered once its name is listed.
"""
from __future__ import annotations

from ember.dispatch.ops import OPS

#: the elementwise primitives that are one MLX function each: op name -> name in ``mlx.core``
UNARY = {
    "neg": "negative", "abs": "abs", "sqrt": "sqrt", "rsqrt": "rsqrt", "exp": "exp", "expm1": "expm1",
    "log": "log", "log2": "log2", "log10": "log10", "log1p": "log1p", "sin": "sin", "cos": "cos", "tan": "tan",
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "sigmoid": "sigmoid", "erf": "erf",
    "erfinv": "erfinv", "floor": "floor", "ceil": "ceil", "trunc": "trunc",
    "isnan": "isnan", "isinf": "isinf", "logical_not": "logical_not", "bitwise_not": "bitwise_invert",
    "reciprocal": "reciprocal",
}
BINARY = {
    "add": "add", "sub": "subtract", "mul": "multiply", "div": "divide", "pow": "power", "atan2": "arctan2",
    "remainder": "remainder", "maximum": "maximum", "minimum": "minimum", "eq": "equal", "ne": "not_equal",
    "lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal", "logical_and": "logical_and",
    "logical_or": "logical_or", "logical_xor": "logical_xor", "bitwise_and": "bitwise_and",
    "bitwise_or": "bitwise_or", "bitwise_xor": "bitwise_xor", "bitwise_left_shift": "left_shift",
    "bitwise_right_shift": "right_shift",
}

#: the primitives ``primitives.MlxKernels`` implements: the ones above, and a method each for the rest
PRIMITIVES = (
    *UNARY, *BINARY,
    # elementwise with more than one MLX call
    "exp2", "sign", "relu", "round", "fmod", "div_rounding", "where", "cast",
    # reductions and scans
    "sum", "prod", "amax", "amin", "all", "any", "argmax", "argmin", "cumsum", "cumprod",
    # linear algebra
    "matmul", "einsum",
    # views (copies: MLX cannot alias), copies and layout
    "view", "view_dtype", "permute", "expand", "basic_index", "diagonal", "clone", "flip", "roll", "cat",
    "tril", "triu",
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
