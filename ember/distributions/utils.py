"""Helpers shared by the distributions: broadcasting parameters, probability/logit
conversions, cached properties and the packing of lower-triangular matrices."""
from __future__ import annotations

import functools
from numbers import Number

import ember

__all__ = ["broadcast_all", "logits_to_probs", "probs_to_logits", "clamp_probs", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix", "euler_constant"]

#: the Euler–Mascheroni constant (the mean of a standard Gumbel)
euler_constant = 0.57721566490153286060


def _is_tensor_like(value) -> bool:
    return isinstance(value, ember.Tensor) or hasattr(value, "__torch_function__")


def broadcast_all(*values):
    """Broadcast tensors and numbers to one shape; numbers become tensors like the tensors.

    Args:
        *values: tensors and Python numbers.

    Returns:
        A tuple of tensors of the common broadcast shape (numbers take the dtype and device of
        the first tensor, or the default dtype when there is none).
    """
    if not all(_is_tensor_like(v) or isinstance(v, Number) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, torch.Tensor or objects "
                         "implementing __torch_function__.")
    if not all(_is_tensor_like(v) for v in values):
        like = next((v for v in values if isinstance(v, ember.Tensor)), None)
        options = dict(dtype=ember.get_default_dtype()) if like is None else \
            dict(dtype=like.dtype, device=like.device)
        values = [v if _is_tensor_like(v) else ember.tensor(v, **options) for v in values]
    return tuple(ember.broadcast_tensors(*values))


def _standard_normal(shape, dtype, device):
    return ember.randn(shape, dtype=dtype, device=device)


def _sum_rightmost(value, dim: int):
    """Sum out the ``dim`` rightmost dimensions of ``value``."""
    if dim == 0:
        return value
    return value.reshape(value.shape[:value.dim() - dim] + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary: bool = False):
    """Turn logits into probabilities.

    Args:
        logits: log-odds (binary) or unnormalised log-probabilities over the last dimension.
        is_binary: True for Bernoulli-style log-odds.

    Returns:
        ``sigmoid(logits)`` when binary, otherwise ``softmax(logits, -1)``.
    """
    if is_binary:
        return ember.sigmoid(logits)
    return ember.softmax(logits, dim=-1)


def clamp_probs(probs):
    """Keep probabilities away from 0 and 1 by the dtype's machine epsilon.

    Args:
        probs: a floating tensor of probabilities.

    Returns:
        ``probs`` clamped to ``[eps, 1 - eps]``.
    """
    eps = ember.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary: bool = False):
    """Turn probabilities into logits (log-odds when binary, log-probabilities otherwise).

    Args:
        probs: probabilities in [0, 1].
        is_binary: True for Bernoulli-style log-odds.

    Returns:
        ``log(p) - log1p(-p)`` when binary, else ``log(p)``, with p clamped away from 0 and 1.
    """
    clamped = clamp_probs(probs)
    if is_binary:
        return ember.log(clamped) - ember.log1p(-clamped)
    return ember.log(clamped)


class lazy_property:
    """A property computed once per instance on first access, then stored on the instance.

    Args:
        wrapped: the method computing the value.

    Returns:
        A non-data descriptor; under ``no_grad`` on first access the value carries no graph.
    """

    def __init__(self, wrapped):
        self.wrapped = wrapped
        functools.update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with ember.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):
    """What a lazy_property looks like on the class: a property, so introspection sees one."""

    def __init__(self, wrapped):
        property.__init__(self, wrapped)


def tril_matrix_to_vec(mat, diag: int = 0):
    """Pack the lower triangle (below diagonal ``diag``) of the last two dimensions into a vector.

    Args:
        mat: a tensor of shape ``(..., n, n)``.
        diag: the highest diagonal kept (0: the main one, -1: strictly below it).

    Returns:
        A tensor of shape ``(..., m)``, rows read left to right, top to bottom.
    """
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    rows, cols = _tril_positions(n, diag, mat.device)
    return mat[..., rows, cols]


def vec_to_tril_matrix(vec, diag: int = 0):
    """Unpack a vector made by :func:`tril_matrix_to_vec` into a lower-triangular matrix.

    Args:
        vec: a tensor of shape ``(..., m)``.
        diag: the highest diagonal filled.

    Returns:
        A tensor of shape ``(..., n, n)`` with zeros elsewhere.
    """
    m = vec.shape[-1]
    n = next((k for k in range(m + abs(diag) + 2) if len(_tril_pairs(k, diag)) == m and k > 0), None)
    if n is None:
        raise ValueError(f"The size of last dimension is {m} which cannot be expressed as the lower triangular "
                         f"part of a square D x D matrix.")
    rows, cols = _tril_positions(n, diag, vec.device)
    flat = (rows * n + cols).expand(vec.shape)
    mat = vec.new_zeros(vec.shape[:-1] + (n * n,)).scatter(-1, flat, vec)
    return mat.reshape(vec.shape[:-1] + (n, n))


@functools.lru_cache(maxsize=64)
def _tril_pairs(n: int, diag: int):
    return tuple((r, c) for r in range(n) for c in range(n) if c - r <= diag)


def _tril_positions(n: int, diag: int, device):
    pairs = _tril_pairs(n, diag)
    rows = ember.tensor([p[0] for p in pairs], dtype=ember.int64, device=device)
    cols = ember.tensor([p[1] for p in pairs], dtype=ember.int64, device=device)
    return rows, cols
