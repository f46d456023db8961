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
    "view", "view_dtype", "permute", "expand", "basic_index", "diagonal", "as_strided", "clone", "flip", "roll",
    "cat",
    "tril", "triu",
    # indexing
    "index", "gather", "scatter", "nonzero", "sort", "unique",
    # writes
    "copy_", "index_put",
    # creation and random
    "full", "arange", "philox_uniform", "philox_normal",
    # special functions (special.py, mixed into MlxKernels)
    "xlogy", "xlog1py", "entr", "sinc", "spherical_bessel_j0", "hypot", "copysign", "lgamma", "digamma",
    "i0", "i0e", "i1", "i1e", "modified_bessel_i0", "modified_bessel_i1", "erfc", "erfcx", "ndtr", "log_ndtr",
)

#: composites with a fused MLX kernel in ``fused.py`` (a function of the same name)
FUSED = ("softmax", "log_softmax", "conv", "conv_transpose", "adam_step", "max_pool")

#: the FFT primitives, a function of the same name each in ``spectral.py`` (over ``mlx.core.fft``)
SPECTRAL = ("fft_c2c", "fft_r2c", "fft_c2r")

#: the decompositions MLX has, a function of the same name each in ``linalg.py`` (mlx.core.linalg, CPU stream)
LINALG = ("linalg_cholesky", "linalg_qr", "linalg_eigh", "linalg_svd", "linalg_lu_factor", "linalg_solve_triangular",
          "linalg_det", "linalg_slogdet", "linalg_pivots_to_permutation")

#: special functions MLX has no function or exact composition for (series and rational approximations):
#: the counted CPU fallback, by design
CPU_FALLBACK = (
    "polygamma", "ndtri", "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0",
    "bessel_y1", "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
    "frexp", "zeta", "igamma", "igammac", "nextafter", "gcd", "lcm", "chebyshev_polynomial_t", "chebyshev_polynomial_u",
    "chebyshev_polynomial_v", "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w",
    "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p",
    # decompositions mlx.core.linalg lacks (general eig, LAPACK's sytrf/sytrs and geqrf)
    "linalg_eig", "linalg_ldl_factor", "linalg_ldl_solve", "linalg_geqrf",
)

#: kernels whose results bypass ``MPSBackend.normalize`` (in-place ops): the eval window notes them
_NOTED = ("copy_", "index_put", "adam_step")


def kernel_names() -> tuple:
    """The op names of ``kernel_table``, without importing MLX."""
    return tuple(name for name in PRIMITIVES + FUSED + SPECTRAL + LINALG if name in OPS)


def kernel_table(backend) -> dict:
    """{op name: kernel} for an available ``MPSBackend`` (imports MLX)."""
    from ember.plugins.mps import fused, linalg, spectral
    primitives = backend._bind()
    mx = primitives.mx
    mlx_kernels = primitives.MlxKernels()
    table = {name: getattr(mlx_kernels, name) for name in PRIMITIVES if name in OPS}
    table.update({name: getattr(fused, name) for name in FUSED if name in OPS})
    table.update({name: getattr(spectral, name) for name in SPECTRAL if name in OPS})
    table.update({name: linalg.real_only(name, getattr(linalg, name), backend) for name in LINALG if name in OPS})
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
