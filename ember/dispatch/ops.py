"""THE op table: every dispatched op, declared once.

A *primitive* is an op every backend implements as a kernel. A *composite* is written
in other ember ops (in ``ember/ops``) and so runs and differentiates everywhere; it is
declared here only so a backend may override it with a fused kernel. Each entry gives
the kernel's calling convention: positional native arrays (or Python scalars where
noted), then keyword attributes. Derivatives live in ``ember/core/derivatives.py``.
"""
from __future__ import annotations

PRIMITIVE, COMPOSITE = "primitive", "composite"

#: marks where an index tensor goes in the ``key`` of ``index`` / ``index_put``
INDEX_SLOT = "<index>"


class OpDef:
    __slots__ = ("name", "kind", "signature", "view", "inplace", "kernels", "resolved", "rule")

    def __init__(self, name, kind, signature, *, view=False, inplace=False):
        self.name = name
        self.kind = kind
        self.signature = signature
        self.view = view          # output aliases the first input's memory
        self.inplace = inplace    # kernel may write into its first input (and return it)
        self.kernels = {}         # dispatch key -> kernel, filled at registration
        self.resolved = {}        # device type -> kernel actually run (cache)
        self.rule = None          # derivative rule, set by ember.core.derivatives

    def __repr__(self):
        return f"<{self.kind} op {self.name}{self.signature}>"


OPS: dict[str, OpDef] = {}


def _declare(kind, names, signature, **flags):
    for name in names.split():
        OPS[name] = OpDef(name, kind, signature, **flags)


# ---------------------------------------------------------------- elementwise
_declare(PRIMITIVE, """neg abs sign sqrt rsqrt exp exp2 expm1 log log2 log10 log1p
    sin cos tan asin acos atan sinh cosh tanh sigmoid relu erf erfinv
    floor ceil trunc reciprocal isnan isinf logical_not bitwise_not""", "(x)")
_declare(PRIMITIVE, "round", "(x, *, decimals)")
_declare(PRIMITIVE, """add sub mul div pow atan2 remainder fmod maximum minimum
    eq ne lt le gt ge logical_and logical_or logical_xor
    bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift""",
         "(x, y)  # either may be a Python scalar")
_declare(PRIMITIVE, "div_rounding", "(x, y, *, mode)  # mode 'trunc' or 'floor'")
_declare(PRIMITIVE, "where", "(cond, x, y)")
_declare(PRIMITIVE, "cast", "(x, *, dtype)")

# ---------------------------------------------------------------- reductions and scans
_declare(PRIMITIVE, "sum prod amax amin all any", "(x, *, dims, keepdim)  # dims: tuple, () = all")
_declare(PRIMITIVE, "argmax argmin", "(x, *, dim, keepdim)  # dim None = flattened")
_declare(PRIMITIVE, "cumsum cumprod", "(x, *, dim)")

# ---------------------------------------------------------------- linear algebra
_declare(PRIMITIVE, "matmul", "(x, y)  # numpy matmul semantics, both at least 1-d")
_declare(PRIMITIVE, "einsum", "(*operands, equation)")

# ---------------------------------------------------------------- views (output aliases input)
_declare(PRIMITIVE, "view", "(x, *, shape)  # error if not expressible as a view", view=True)
_declare(PRIMITIVE, "permute", "(x, *, dims)", view=True)
_declare(PRIMITIVE, "expand", "(x, *, shape)", view=True)
_declare(PRIMITIVE, "basic_index", "(x, *, key)  # key: tuple of int/slice/None", view=True)
_declare(PRIMITIVE, "diagonal", "(x, *, offset, dim1, dim2)", view=True)

# ---------------------------------------------------------------- copies and layout
_declare(PRIMITIVE, "clone", "(x)  # contiguous copy")
_declare(PRIMITIVE, "flip", "(x, *, dims)")
_declare(PRIMITIVE, "roll", "(x, *, shifts, dims)")
_declare(PRIMITIVE, "cat", "(*xs, dim)")
_declare(PRIMITIVE, "tril triu", "(x, *, diagonal)")

# ---------------------------------------------------------------- indexing
_declare(PRIMITIVE, "index", "(x, *indices, key)  # int64 index tensors at INDEX_SLOT places of key, "
         "slice(None) elsewhere; numpy's rules for where the indexed dims go")
_declare(PRIMITIVE, "gather", "(x, index, *, dim)")
_declare(PRIMITIVE, "scatter", "(x, index, src, *, dim, reduce)  # reduce None | 'add'; out of place")
_declare(PRIMITIVE, "nonzero", "(x)  # (n, ndim) int64")
_declare(PRIMITIVE, "sort", "(x, *, dim, descending, stable)  # -> (values, int64 indices); stable always allowed")
_declare(PRIMITIVE, "unique", "(x, *, return_inverse, return_counts)  # flattened, sorted -> (values, inverse, counts)")

# ---------------------------------------------------------------- writes (the kernel may reuse its first argument)
_declare(PRIMITIVE, "copy_", "(dst, src)  # src broadcastable to dst, may be a scalar; returns dst's new value",
         inplace=True)
_declare(PRIMITIVE, "index_put", "(x, values, *indices, key, accumulate)  # x with values written at the "
         "indexed places (added when accumulate); key as for index", inplace=True)

# ---------------------------------------------------------------- creation and random
_declare(PRIMITIVE, "full", "(*, shape, value, dtype, index)")
_declare(PRIMITIVE, "arange", "(*, start, end, step, dtype, index)")
_declare(PRIMITIVE, "philox_uniform philox_normal",
         "(*, shape, dtype, seed, offset, index)  # ember's cross-device random stream")

# ---------------------------------------------------------------- composites a backend may fuse
_declare(COMPOSITE, "softmax log_softmax", "(x, *, dim)")
_declare(COMPOSITE, "adam_step", "(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps, "
         "weight_decay, step, decoupled_weight_decay, amsgrad, maximize)  # one Adam/AdamW step; writes "
         "param and the moments in place (None returned) or returns their new values "
         "(param, exp_avg, exp_avg_sq, max_exp_avg_sq); max_exp_avg_sq is None unless amsgrad", inplace=True)
_declare(COMPOSITE, "conv", "(x, weight, bias, *, stride, padding, dilation, groups)  # bias may be None; "
         "N-d by weight.ndim - 2; padding: symmetric amounts per spatial dim")
_declare(COMPOSITE, "conv_transpose", "(x, weight, bias, *, stride, padding, output_padding, dilation, groups)  "
         "# weight (C_in, C_out / groups, *kernel); bias may be None")
_declare(COMPOSITE, "max_pool", "(x, *, kernel, stride, padding, dilation, output_size)  # -> (values, int64 "
         "row-major positions of the picked elements in each input plane); N-d by len(kernel)")


def primitives():
    return [op for op in OPS.values() if op.kind == PRIMITIVE]
