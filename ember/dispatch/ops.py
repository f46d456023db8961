"""THE op table: every dispatched op, declared once.

A *primitive* is an op every backend implements as a kernel. A *composite* is written in
other ember ops (its decomposition lives in ``ember/ops``) and so runs and
differentiates everywhere; it is declared here so a backend may override it with a fused
kernel. Each ``OpDef`` carries everything the other layers derive from it:

* ``signature`` — the kernel's calling convention: positional native arrays (or Python
  scalars where ``note`` says so), then keyword attributes. Kernels are checked against
  it when a plugin registers them.
* ``meta`` — the shape/dtype inference (``ember.dispatch.meta``).
* ``family`` — for ops whose public function is generated (``ember/ops``): how it
  promotes its inputs. ``function`` / ``method`` / ``inplace_method`` / ``aliases`` say
  which public names exist (``ember.<name>``, ``Tensor.<name>``, ``Tensor.<name>_``);
  ``doc`` is the phrase their docstrings are made from.
* ``rule`` — the derivative, attached by ``ember/ops/derivatives.py``; an op declared
  ``differentiable=False`` has none on purpose (a test holds every float primitive to one
  or the other).
"""
from __future__ import annotations

from ember.dispatch import meta as M
from ember.dispatch import linalg_meta as LM
from ember.dispatch import spectral_meta as SM

PRIMITIVE, COMPOSITE = "primitive", "composite"

#: marks where an index tensor goes in the ``key`` of ``index`` / ``index_put``
INDEX_SLOT = "<index>"

#: families whose public functions ``ember/ops`` generates from the table
FLOAT_UNARY = "float_unary"      # f(input): integer inputs are computed in the default float dtype
ROUNDING = "rounding"            # f(input): integer inputs are already whole and come back as copies
COMPARISON = "comparison"        # f(input, other): promoted operands, a bool result
LOGICAL = "logical"              # f(input, other): any dtypes, a bool result
BITWISE = "bitwise"              # f(input, other): integer or bool operands, promoted


class Params:
    """A kernel calling convention parsed from its signature string."""
    __slots__ = ("positional", "varargs", "keywords")

    def __init__(self, signature: str):
        inner = signature.strip()[1:-1]
        names = [p.strip() for p in inner.split(",") if p.strip()]
        self.positional, self.varargs, self.keywords = [], None, []
        keyword_only = False
        for name in names:
            if name == "*":
                keyword_only = True
            elif name.startswith("*"):
                self.varargs, keyword_only = name[1:], True
            elif keyword_only:
                self.keywords.append(name)
            else:
                self.positional.append(name)
        self.positional, self.keywords = tuple(self.positional), tuple(self.keywords)


class OpDef:
    __slots__ = ("name", "kind", "signature", "params", "note", "meta", "view", "inplace", "family",
                 "function", "method", "inplace_method", "aliases", "doc", "differentiable",
                 "decomposition", "kernels", "resolved", "rule", "jvp")

    def __init__(self, name, kind, signature, *, meta, note="", view=False, inplace=False, family=None,
                 function=False, method=False, inplace_method=False, aliases=(), doc="", differentiable=True):
        self.name = name
        self.kind = kind
        self.signature = signature
        self.params = Params(signature)
        self.note = note
        self.meta = meta                  # shape/dtype inference: ember.dispatch.meta
        self.view = view                  # output aliases the first input's memory
        self.inplace = inplace            # kernel may write into its first input (and return it)
        self.family = family              # generated public function (see the constants above)
        self.function = function          # ember.<name> exists
        self.method = method              # Tensor.<name> exists
        self.inplace_method = inplace_method  # Tensor.<name>_ exists
        self.aliases = aliases            # other public names of the same function
        self.doc = doc                    # what the op computes, for generated docstrings
        self.differentiable = differentiable  # False: no derivative, by design
        self.decomposition = None         # a composite's implementation, set by ember/ops
        self.kernels = {}                 # dispatch key -> kernel, filled at registration
        self.resolved = {}                # device type -> kernel actually run (cache)
        self.rule = None                  # derivative rule, set by ember/ops/derivatives.py
        self.jvp = None                   # forward-mode (JVP) rule, set by ember/ops/jvp_rules.py

    def __repr__(self):
        return f"<{self.kind} op {self.name}{self.signature}>"


OPS: dict[str, OpDef] = {}


def _declare(kind, names, signature, *, docs=None, **fields):
    for name in names.split():
        OPS[name] = OpDef(name, kind, signature, doc=(docs or {}).get(name, ""), **fields)


# ---------------------------------------------------------------- elementwise
_FLOAT_UNARY_DOCS = {
    "sqrt": "the square root", "rsqrt": "the reciprocal of the square root", "exp": "the exponential",
    "exp2": "two to the power of", "expm1": "exp(x) - 1, accurate near 0, of", "log": "the natural logarithm",
    "log2": "the base-2 logarithm", "log10": "the base-10 logarithm",
    "log1p": "log(1 + x), accurate near 0, of", "sin": "the sine", "cos": "the cosine", "tan": "the tangent",
    "asin": "the inverse sine", "acos": "the inverse cosine", "atan": "the inverse tangent",
    "sinh": "the hyperbolic sine", "cosh": "the hyperbolic cosine", "tanh": "the hyperbolic tangent",
    "asinh": "the inverse hyperbolic sine", "acosh": "the inverse hyperbolic cosine",
    "atanh": "the inverse hyperbolic tangent",
    "sigmoid": "the logistic sigmoid 1 / (1 + exp(-x))", "erf": "the error function",
    "erfinv": "the inverse error function", "reciprocal": "the reciprocal 1 / x",
    "erfc": "the complementary error function 1 - erf(x)", "lgamma": "the log of the absolute gamma function",
    "digamma": "the digamma function (the derivative of lgamma)", "i0": "the modified Bessel function I0",
    "sinc": "the normalized sinc sin(pi x) / (pi x)",
}
_declare(PRIMITIVE, " ".join(_FLOAT_UNARY_DOCS), "(x)", meta=M.same, family=FLOAT_UNARY, function=True,
         method=True, inplace_method=True, docs=_FLOAT_UNARY_DOCS)
OPS["asin"].aliases, OPS["acos"].aliases, OPS["atan"].aliases = ("arcsin",), ("arccos",), ("arctan",)
OPS["asinh"].aliases, OPS["acosh"].aliases, OPS["atanh"].aliases = ("arcsinh",), ("arccosh",), ("arctanh",)
_declare(PRIMITIVE, "floor ceil trunc", "(x)", meta=M.same, family=ROUNDING, function=True, method=True,
         inplace_method=True, docs={"floor": "rounds down to the nearest integer",
                                    "ceil": "rounds up to the nearest integer",
                                    "trunc": "rounds toward zero to the nearest integer"})
OPS["trunc"].aliases = ("fix",)
_declare(PRIMITIVE, "neg sign", "(x)", meta=M.same)
_declare(PRIMITIVE, "abs", "(x)", meta=M.to_real, note="complex: the magnitude, a real tensor")
_declare(PRIMITIVE, "relu", "(x)", meta=M.same)
_declare(PRIMITIVE, "bitwise_not", "(x)", meta=M.same)
_declare(PRIMITIVE, "logical_not", "(x)", meta=M.to_bool)
_declare(PRIMITIVE, "isnan isinf", "(x)", meta=M.to_bool)
_declare(PRIMITIVE, "round", "(x, *, decimals)", meta=M.same)
_declare(PRIMITIVE, "add sub mul div pow atan2 remainder fmod maximum minimum", "(x, y)",
         note="either may be a Python scalar", meta=M.elementwise)
_declare(PRIMITIVE, "eq ne lt le gt ge", "(x, y)", note="either may be a Python scalar", meta=M.compare,
         family=COMPARISON, function=True, method=True, inplace_method=True,
         docs={"eq": "equal to", "ne": "not equal to", "lt": "less than", "le": "less than or equal to",
               "gt": "greater than", "ge": "greater than or equal to"})
OPS["ne"].aliases, OPS["lt"].aliases, OPS["le"].aliases = ("not_equal",), ("less",), ("less_equal",)
OPS["gt"].aliases, OPS["ge"].aliases = ("greater",), ("greater_equal",)
_declare(PRIMITIVE, "logical_and logical_or logical_xor", "(x, y)", note="either may be a Python scalar",
         meta=M.compare, family=LOGICAL, function=True, method=True, inplace_method=True,
         docs={"logical_and": "and", "logical_or": "or", "logical_xor": "exclusive or"})
_declare(PRIMITIVE, "bitwise_and bitwise_or bitwise_xor bitwise_left_shift bitwise_right_shift", "(x, y)",
         note="either may be a Python scalar", meta=M.elementwise, family=BITWISE, function=True, method=True,
         inplace_method=True, docs={"bitwise_and": "and", "bitwise_or": "or", "bitwise_xor": "exclusive or",
                                    "bitwise_left_shift": "left shift", "bitwise_right_shift": "right shift"})
# special functions (ember.special): the op layer does PyTorch's dtype checks and promotion
_declare(PRIMITIVE, "erfcx i0e i1 i1e ndtr ndtri log_ndtr entr", "(x)", meta=M.same)
_declare(PRIMITIVE, "airy_ai bessel_j0 bessel_j1 bessel_y0 bessel_y1 modified_bessel_i0 modified_bessel_i1 "
         "modified_bessel_k0 modified_bessel_k1 scaled_modified_bessel_k0 scaled_modified_bessel_k1 "
         "spherical_bessel_j0", "(x)", meta=M.same, differentiable=False)
_declare(PRIMITIVE, "polygamma", "(x, *, n)", note="n: a non-negative int", meta=M.same)
_declare(PRIMITIVE, "frexp", "(x)", meta=M.frexp, note="-> (mantissa, int32 exponent)")
_declare(PRIMITIVE, "xlogy xlog1py zeta igamma igammac hypot copysign nextafter", "(x, y)",
         note="either may be a Python scalar", meta=M.elementwise)
_declare(PRIMITIVE, "gcd lcm", "(x, y)", meta=M.elementwise, differentiable=False)
_declare(PRIMITIVE, "chebyshev_polynomial_t chebyshev_polynomial_u chebyshev_polynomial_v chebyshev_polynomial_w "
         "shifted_chebyshev_polynomial_t shifted_chebyshev_polynomial_u shifted_chebyshev_polynomial_v "
         "shifted_chebyshev_polynomial_w hermite_polynomial_h hermite_polynomial_he laguerre_polynomial_l "
         "legendre_polynomial_p", "(x, n)", note="n: the degree, truncated to an integer; either may be a "
         "Python scalar", meta=M.elementwise, differentiable=False)
_declare(PRIMITIVE, "div_rounding", "(x, y, *, mode)", note="mode 'trunc' or 'floor'", meta=M.elementwise)
_declare(PRIMITIVE, "where", "(cond, x, y)", meta=M.where)
_declare(PRIMITIVE, "cast", "(x, *, dtype)", meta=M.cast)

# ---------------------------------------------------------------- reductions and scans
_declare(PRIMITIVE, "sum prod", "(x, *, dims, keepdim)", note="dims: a tuple of axes, () = all",
         meta=M.reduction)
_declare(PRIMITIVE, "amax amin", "(x, *, dims, keepdim)", note="dims as for sum", meta=M.extremum)
_declare(PRIMITIVE, "all any", "(x, *, dims, keepdim)", note="dims as for sum", meta=M.logical_reduction)
_declare(PRIMITIVE, "argmax argmin", "(x, *, dim, keepdim)", note="dim None = flattened",
         meta=M.arg_reduction)
_declare(PRIMITIVE, "cumsum cumprod", "(x, *, dim)", meta=M.scan)

# ---------------------------------------------------------------- linear algebra
_declare(PRIMITIVE, "matmul", "(x, y)", note="numpy matmul semantics, both at least 1-d", meta=M.matmul)
_declare(PRIMITIVE, "einsum", "(*operands, equation)", note="equation explicit: no ellipsis, output after ->",
         meta=M.einsum)

# ---------------------------------------------------------------- decompositions (ember.linalg; meta: linalg_meta)
_declare(PRIMITIVE, "linalg_cholesky", "(x, *, upper)", meta=LM.cholesky, note="-> (L or U, int32 info)")
_declare(PRIMITIVE, "linalg_qr", "(x, *, mode)", meta=LM.qr, note="mode 'reduced' | 'complete' | 'r' (Q empty)")
_declare(PRIMITIVE, "linalg_eigh", "(x, *, upper, eigenvectors)", meta=LM.eigh,
         note="-> (ascending real eigenvalues, eigenvectors; empty without eigenvectors)")
_declare(PRIMITIVE, "linalg_eig", "(x)", meta=LM.eig, note="-> complex (eigenvalues, unit eigenvectors)")
_declare(PRIMITIVE, "linalg_svd", "(x, *, full_matrices, compute_uv)", meta=LM.svd,
         note="-> (U, S descending, Vh); U and Vh empty without compute_uv")
_declare(PRIMITIVE, "linalg_lu_factor", "(x, *, pivot)", meta=LM.lu_factor,
         note="-> (packed LU, int32 1-based pivots, int32 info)")
_declare(PRIMITIVE, "linalg_pivots_to_permutation", "(pivots, *, m)", meta=LM.pivots_to_permutation,
         differentiable=False, note="LAPACK row swaps -> int64 perm: row i of P^T A is row perm[i] of A")
_declare(PRIMITIVE, "linalg_solve_triangular", "(a, b, *, upper, left, unitriangular)", meta=LM.solve_triangular,
         note="batch dims broadcast; left: A X = B, else X A = B")
_declare(PRIMITIVE, "linalg_det", "(x)", meta=LM.det)
_declare(PRIMITIVE, "linalg_slogdet", "(x)", meta=LM.slogdet, note="-> (sign, log|det|)")
_declare(PRIMITIVE, "linalg_ldl_factor", "(x, *, hermitian)", meta=LM.ldl_factor, differentiable=False,
         note="LAPACK sytrf: -> (packed LD, int32 pivots, int32 info); no derivative, as in PyTorch")
_declare(PRIMITIVE, "linalg_ldl_solve", "(ld, pivots, b, *, hermitian)", meta=LM.ldl_solve, differentiable=False,
         note="LAPACK sytrs; no derivative, as in PyTorch")
_declare(PRIMITIVE, "linalg_geqrf", "(x)", meta=LM.geqrf, differentiable=False,
         note="-> (Householder reflectors below R, tau); no derivative, as in PyTorch")

# ---------------------------------------------------------------- spectral (ember.fft; meta: spectral_meta)
_declare(PRIMITIVE, "fft_c2c", "(x, *, dims, normalization, forward)", meta=SM.c2c,
         note="complex DFT over dims; forward: the e^-i sign; normalization 'none' | 'by_root_n' | 'by_n'")
_declare(PRIMITIVE, "fft_r2c", "(x, *, dims, normalization, forward)", meta=SM.r2c,
         note="real DFT, one-sided over dims[-1]; forward False: the conjugate (the e^+i sign)")
_declare(PRIMITIVE, "fft_c2r", "(x, *, dims, normalization, forward, last_dim_size)", meta=SM.c2r,
         note="inverse of fft_r2c: x one-sided over dims[-1] (n // 2 + 1 of last_dim_size); forward True: "
              "the e^-i sign (x conjugated first)")

# ---------------------------------------------------------------- views (output aliases input)
_declare(PRIMITIVE, "view", "(x, *, shape)", note="error if not expressible as a view", meta=M.view,
         view=True)
_declare(PRIMITIVE, "permute", "(x, *, dims)", meta=M.permute, view=True)
_declare(PRIMITIVE, "expand", "(x, *, shape)", meta=M.view, view=True)
_declare(PRIMITIVE, "basic_index", "(x, *, key)", note="key: tuple of int/slice/None", meta=M.basic_index,
         view=True)
_declare(PRIMITIVE, "diagonal", "(x, *, offset, dim1, dim2)", meta=M.diagonal, view=True)
_declare(PRIMITIVE, "as_strided", "(x, *, size, stride, storage_offset, base_stride)", meta=M.as_strided,
         view=True, note="x is a base: its memory from its first element is the storage that stride and "
                         "storage_offset (elements) index; base_stride: x's strides (the derivative maps the "
                         "storage back onto x); the op layer checks the bounds")
_declare(PRIMITIVE, "view_dtype", "(x, *, dtype)", meta=M.view_dtype, view=True,
         note="the same bytes read as dtype; the last dim scales by the ratio of the itemsizes (the op "
              "layer checks that it can); differentiable between complex and real pairs only")

# ---------------------------------------------------------------- copies and layout
_declare(PRIMITIVE, "clone", "(x)", note="contiguous copy", meta=M.same)
_declare(PRIMITIVE, "flip", "(x, *, dims)", meta=M.same)
_declare(PRIMITIVE, "roll", "(x, *, shifts, dims)", meta=M.same)
_declare(PRIMITIVE, "cat", "(*xs, dim)", meta=M.cat)
_declare(PRIMITIVE, "tril triu", "(x, *, diagonal)", meta=M.same)

# ---------------------------------------------------------------- indexing
_declare(PRIMITIVE, "index", "(x, *indices, key)", meta=M.index,
         note="int64 index tensors at INDEX_SLOT places of key, slice(None) elsewhere; numpy's rules for "
              "where the indexed dims go")
_declare(PRIMITIVE, "gather", "(x, index, *, dim)", meta=M.gather)
_declare(PRIMITIVE, "scatter", "(x, index, src, *, dim, reduce)", meta=M.same,
         note="reduce None | 'add' | 'multiply' | 'amax' | 'amin'; src may be a scalar; out of place")
_declare(PRIMITIVE, "nonzero", "(x)", note="(n, ndim) int64", meta=M.nonzero)
_declare(PRIMITIVE, "sort", "(x, *, dim, descending, stable)", meta=M.sort,
         note="-> (values, int64 indices); a stable order is always allowed")
_declare(PRIMITIVE, "unique", "(x, *, return_inverse, return_counts)", meta=M.unique, differentiable=False,
         note="flattened, sorted -> (values, inverse, counts)")

# ---------------------------------------------------------------- writes (the kernel may reuse its first argument)
_declare(PRIMITIVE, "copy_", "(dst, src)", meta=M.same, inplace=True, differentiable=False,
         note="src broadcastable to dst, may be a scalar; returns dst's new value (autograd: the core's "
              "in-place write rebases the graph)")
_declare(PRIMITIVE, "index_put", "(x, values, *indices, key, accumulate)", meta=M.same, inplace=True,
         note="x with values written at the indexed places (added when accumulate); key as for index")

# ---------------------------------------------------------------- creation and random
_declare(PRIMITIVE, "full", "(*, shape, value, dtype, index)", meta=M.full)
_declare(PRIMITIVE, "arange", "(*, start, end, step, dtype, index)", meta=M.arange)
_declare(PRIMITIVE, "philox_uniform philox_normal", "(*, shape, dtype, seed, offset, index)", meta=M.random,
         note="ember's cross-device random stream: ember.dispatch.philox")

# ---------------------------------------------------------------- composites a backend may fuse
_declare(COMPOSITE, "softmax log_softmax", "(x, *, dim)", meta=M.same)
_declare(COMPOSITE, "gelu", "(x, *, approximate)", note="approximate 'none' (erf) or 'tanh'", meta=M.same)
_declare(COMPOSITE, "layer_norm", "(x, weight, bias, *, normalized_ndim, eps)", meta=M.layer_norm,
         note="weight and bias may be None; -> (y, mean, rstd), mean and rstd of shape "
              "x.shape[:-normalized_ndim], float32 for half-precision x")
_declare(COMPOSITE, "layer_norm_backward", "(g, x, weight, mean, rstd, *, normalized_ndim)",
         meta=M.layer_norm_backward, differentiable=False,
         note="layer_norm's gradients from its saved mean and rstd -> (grad_x, grad_weight, grad_bias); weight "
              "may be None (grad_weight is then that of a unit weight); the rule runs it without create_graph")
_declare(COMPOSITE, "adam_step", "(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps, "
         "weight_decay, step, decoupled_weight_decay, amsgrad, maximize)", meta=M.adam_step, inplace=True,
         differentiable=False,
         note="one Adam/AdamW step; writes param and the moments in place (None returned) or returns their "
              "new values (param, exp_avg, exp_avg_sq, max_exp_avg_sq); max_exp_avg_sq is None unless amsgrad")
_declare(COMPOSITE, "sgd_step", "(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov, "
         "maximize, first)", meta=M.sgd_step, inplace=True, differentiable=False,
         note="one SGD step in place (None returned); momentum_buffer is None without momentum, and first "
              "when it is yet to be filled (it then becomes the gradient)")
_declare(COMPOSITE, "conv", "(x, weight, bias, *, stride, padding, dilation, groups)", meta=M.conv,
         note="bias may be None; N-d by weight.ndim - 2; padding: symmetric amounts per spatial dim")
_declare(COMPOSITE, "conv_transpose", "(x, weight, bias, *, stride, padding, output_padding, dilation, groups)",
         meta=M.conv_transpose, note="weight (C_in, C_out / groups, *kernel); bias may be None")
_declare(COMPOSITE, "max_pool", "(x, *, kernel, stride, padding, dilation, output_size)", meta=M.max_pool,
         note="-> (values, int64 row-major positions of the picked elements in each input plane); "
              "N-d by len(kernel)")
_declare(COMPOSITE, "relu_backward", "(g, y)", meta=M.same, differentiable=False,
         note="relu's input gradient from its output y: 0 where y <= 0, else g (so a NaN input passes its "
              "gradient and an inf gradient at 0 gives 0, as PyTorch's threshold_backward); no create_graph")
_declare(COMPOSITE, "max_pool_backward", "(g, indices, *, input_shape, kernel, stride, dilation)",
         meta=M.max_pool_backward, differentiable=False,
         note="max_pool's input gradient: g added at the saved indices of planes of input_shape; the rule "
              "runs it without create_graph")


def primitives():
    return [op for op in OPS.values() if op.kind == PRIMITIVE]
