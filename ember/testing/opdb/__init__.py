"""The op database: one OpInfo per public op (and per distinct form, e.g. ``max`` with a dim).

``OP_DB`` lists them all; ``REQUIRED`` names the public functions, methods and in-place
methods the database promises to cover (checked by the suite itself).
"""
from __future__ import annotations

from ember.testing.opdb import elementwise, indexing, inplace, linalg, reductions, shape
from ember.testing.opdb import special
from ember.testing.opdb import spectral

OP_DB = elementwise.OPS + reductions.OPS + linalg.OPS + shape.OPS + indexing.OPS + inplace.OPS
OP_DB = OP_DB + special.OPS
OP_DB = OP_DB + spectral.OPS  # ember.fft, stft, istft
from ember.testing.opdb import complex as _complex  # noqa: E402
OP_DB = OP_DB + _complex.OPS  # complex64/complex128 math, real/imag, conj, view_as_real, polar
from ember.testing.opdb import numeric as _numeric  # noqa: E402
OP_DB = OP_DB + _numeric.OPS  # scans, diff/gradient/trapezoid, quantiles, histograms, cov, cdist, grids
from ember.testing.opdb import strided as _strided  # noqa: E402
OP_DB = OP_DB + _strided.OPS  # as_strided, Tensor.unfold
BY_NAME = {op.name: op for op in OP_DB}

#: what must be covered: ember functions / Tensor methods ...
REQUIRED_FUNCTIONS = """
    add sub mul div neg abs sign pow sqrt rsqrt exp exp2 expm1 log log2 log10 log1p sin cos tan asin acos atan
    atan2 sinh cosh tanh sigmoid relu erf erfinv floor ceil round trunc frac reciprocal remainder fmod
    floor_divide maximum minimum clamp clip where lerp eq ne lt le gt ge logical_and logical_or logical_xor
    logical_not bitwise_and bitwise_or bitwise_xor bitwise_not bitwise_left_shift bitwise_right_shift isnan
    isinf isfinite nan_to_num
    sum mean prod max min amax amin argmax argmin var std norm logsumexp all any cumsum cumprod softmax
    log_softmax
    matmul mm bmm mv dot outer einsum baddbmm addmm
    reshape flatten unflatten squeeze unsqueeze permute transpose t broadcast_to narrow chunk split unbind
    cat stack flip roll repeat_interleave tril triu diagonal
    gather scatter scatter_add index_select index_add index_copy masked_fill masked_select take_along_dim
    nonzero sort argsort topk unique
""".split()
REQUIRED_METHODS = """view expand expand_as repeat __getitem__ __setitem__""".split()
#: ... and in-place methods
REQUIRED_INPLACE = """add_ sub_ mul_ div_ zero_ fill_ copy_ clamp_ masked_fill_ index_add_ scatter_ scatter_add_
    index_copy_ pow_ exp_ neg_ abs_ sqrt_ tril_ triu_""".split()


def covered_functions() -> set:
    names = set()
    for op in OP_DB:
        if isinstance(op.op, str):
            names.add(op.op)
        elif op.op is not None:  # a wrapper named after the function it calls
            names.add(op.op.__name__)
        names.update(op.aliases)
    return names


def covered_methods() -> set:
    names = {op.method for op in OP_DB if op.method}
    if "getitem" in BY_NAME:
        names.add("__getitem__")
    if "setitem" in BY_NAME:
        names.add("__setitem__")
    return names


def covered_inplace() -> set:
    return {op.inplace for op in OP_DB if op.inplace}
