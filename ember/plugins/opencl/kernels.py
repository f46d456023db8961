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
    return table


def kernel_names() -> tuple:
    """The op names of ``kernel_table()`` (building it imports no pyopencl)."""
    return tuple(kernel_table())
