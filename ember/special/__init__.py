"""``ember.special``: PyTorch's ``torch.special`` namespace.

Re-exports only. Names PyTorch also has at the top level are the very same functions
(``ember.special.gammaln is ember.lgamma``, ``expit is ember.sigmoid``, ``psi is
ember.digamma``, ...); the ``torch.special``-only ones are defined in
``ember/ops/special.py``. Every function takes ``out=``, except ``softmax`` and
``log_softmax``, as in PyTorch.
"""
from ember import ops as _ops
from ember.ops.special import SPECIAL_ONLY as _SPECIAL_ONLY

# the same objects as the top-level functions
digamma = psi = _ops.digamma
gammaln = _ops.lgamma
polygamma = _ops.polygamma
multigammaln = _ops.mvlgamma
gammainc = _ops.igamma
gammaincc = _ops.igammac
erf = _ops.erf
erfc = _ops.erfc
erfinv = _ops.erfinv
expit = _ops.sigmoid
exp2 = _ops.exp2
expm1 = _ops.expm1
log1p = _ops.log1p
logit = _ops.logit
i0 = _ops.i0
sinc = _ops.sinc
xlogy = _ops.xlogy
softmax = _ops.softmax
log_softmax = _ops.log_softmax
logsumexp = _ops.logsumexp


def _round(input, *, decimals=0):
    """Rounds each element of ``input`` to ``decimals`` decimal places, halves to even.

    Unlike ``ember.round``, integer and bool inputs raise, as ``torch.special.round`` does.

    Args:
        input: a floating-point tensor.
        decimals: how many decimal places to keep (default 0; negative rounds to tens, hundreds, ...).

    Returns:
        A tensor of ``input``'s shape and dtype.

    Raises:
        NotImplementedError: ``input`` is an integer or bool tensor.
    """
    from ember.ops.elementwise import _not_implemented, _require_tensor
    _require_tensor(input, "special_round")
    if not input.dtype.is_floating_point:
        raise _not_implemented(f"round_vml_{input.device.type}", input.dtype)
    return _ops.round(input, decimals=decimals)


_round.__name__ = _round.__qualname__ = "round"
from ember.ops.public import with_out as _with_out  # noqa: E402
round = _with_out(_round, "round")

globals().update(_SPECIAL_ONLY)

__all__ = sorted([
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
    "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma", "entr", "erf", "erfc",
    "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln", "hermite_polynomial_h",
    "hermite_polynomial_he", "i0", "i0e", "i1", "i1e", "laguerre_polynomial_l", "legendre_polynomial_p", "log1p",
    "log_ndtr", "log_softmax", "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1",
    "modified_bessel_k0", "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
    "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "sinc",
    "softmax", "spherical_bessel_j0", "xlog1py", "xlogy", "zeta",
])
