"""The kernel table of the ``opencl`` backend: op name -> launcher.

The launchers live in ``launchers.py`` (elementwise, views, copies, creation, random),
``reductions.py`` (reductions, scans, the fused softmax), ``linalg.py`` (matmul, einsum)
and ``indexing.py``. None of them imports pyopencl or touches a device when imported or
when a launcher is made (that happens at a launcher's first call), so ``kernel_names()``
simply builds the table and reads its names.
"""
from __future__ import annotations


def kernel_table() -> dict:
    """{op name: kernel} for every primitive and the fused composites."""
    from ember.plugins.opencl import elementwise, indexing, launchers, linalg, reductions
    table = {name: launchers.unary(name) for name in elementwise.UNARY}
    table.update({name: launchers.binary(name) for name in elementwise.BINARY})
    table.update({
        "div_rounding": launchers.div_rounding, "round": launchers.round_, "where": launchers.where,
        "cast": launchers.cast, "clone": launchers.clone, "copy_": launchers.copy_,
        "view": launchers.view, "view_dtype": launchers.view_dtype, "permute": launchers.permute, "expand": launchers.expand,
        "basic_index": launchers.basic_index, "diagonal": launchers.diagonal,
        "as_strided": launchers.as_strided,
        "flip": launchers.flip, "roll": launchers.roll, "cat": launchers.cat,
        "tril": launchers.tril, "triu": launchers.triu,
        "full": launchers.full, "arange": launchers.arange,
        "philox_uniform": launchers.philox_uniform, "philox_normal": launchers.philox_normal,
    })
    table.update({name: reductions.reduction(name) for name in reductions.REDUCTIONS})
    table.update({
        "argmax": reductions.argmax, "argmin": reductions.argmin,
        "cumsum": reductions.cumsum, "cumprod": reductions.cumprod,
        "matmul": linalg.matmul, "einsum": linalg.einsum,
        "index": indexing.index, "index_put": indexing.index_put, "gather": indexing.gather,
        "scatter": indexing.scatter, "nonzero": indexing.nonzero, "sort": indexing.sort,
        "unique": indexing.unique,
        # fused overrides of composites
        "softmax": reductions.softmax, "log_softmax": reductions.log_softmax,
    })
    from ember.plugins.opencl import special
    table.update(special.LAUNCHERS)  # special functions with attributes (polygamma's order)
    from ember.plugins.opencl.complexes import with_complex_support
    return with_complex_support(table)  # complex operands: copies on the device, the rest on the CPU


#: special functions with neither an OpenCL C builtin nor a short series here (rational approximations),
#: and nextafter, whose builtin would step in float for half-precision storage: the counted CPU fallback
CPU_FALLBACK = (
    "ndtri", "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_k0",
    "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "frexp", "igamma",
    "igammac", "nextafter", "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
    "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
    "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "hermite_polynomial_h",
    "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p",
    # decompositions and transforms: LAPACK/FFT on the host beats a naive OpenCL port on any size
    # a CPU OpenCL driver runs; a GPU-side implementation is future work
    "linalg_cholesky", "linalg_qr", "linalg_eigh", "linalg_eig", "linalg_svd", "linalg_lu_factor",
    "linalg_pivots_to_permutation", "linalg_solve_triangular", "linalg_det", "linalg_slogdet",
    "linalg_ldl_factor", "linalg_ldl_solve", "linalg_geqrf", "fft_c2c", "fft_r2c", "fft_c2r",
)


def kernel_names() -> tuple:
    """The op names of ``kernel_table()`` (building it imports no pyopencl)."""
    return tuple(kernel_table())
