"""Linear maps, dropout, embeddings, one-hot, normalisation and distances."""
from __future__ import annotations

import warnings

from ember.autograd.function import Function
from ember.dispatch.public_op import dispatch_point
from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.nn.functional.activation import _check_tensor, _write_into
from ember.ops import elementwise as ew
from ember.ops import reduction as red
from ember.ops.creation import arange, cast, ones_like
from ember.nn.functional.sparse_embedding import sparse_rows

__all__ = [
    "linear", "bilinear", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
    "feature_alpha_dropout", "embedding", "embedding_bag", "one_hot", "normalize", "cosine_similarity",
    "pairwise_distance", "pdist",
]


# ---------------------------------------------------------------- linear maps
@dispatch_point("linear")
def linear(input, weight, bias=None):
    """Affine map ``input @ weight.T + bias`` over the last dim of ``input``.

    Args:
        input: tensor of shape ``(*, in_features)``; must have at least one dim.
        weight: matrix of shape ``(out_features, in_features)`` (a 1-D ``(in_features,)`` weight gives a
            single output with that dim dropped).
        bias: optional tensor broadcastable to the output, normally ``(out_features,)``.

    Returns:
        A tensor of shape ``(*, out_features)``.

    Raises:
        RuntimeError: if ``input``'s last dim does not match ``in_features``.
    """
    _check_tensor(input, "linear")
    if input.ndim == 0:
        raise RuntimeError("linear(): input must have at least one dimension, got a 0-d tensor")
    in_features = weight.shape[-1] if weight.ndim else 1
    if input.shape[-1] != in_features:
        rows = input.numel() // max(input.shape[-1], 1)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{in_features}x{weight.shape[0] if weight.ndim == 2 else 1})")
    if input.ndim > 2 and weight.ndim == 2:
        # one (rows, in) @ (in, out) GEMM instead of a batch of small ones: several times faster on
        # the CPU, and the weight's gradient is one GEMM too, not a batch of them summed
        lead = tuple(input.shape[:-1])
        out = input.reshape(-1, in_features).matmul(weight.t()).reshape(lead + (weight.shape[0],))
    else:
        out = input.matmul(weight.t())
    return out if bias is None else out + bias


@dispatch_point("bilinear")
def bilinear(input1, input2, weight, bias=None):
    """Bilinear map ``y[..., o] = sum_ij input1[..., i] * weight[o, i, j] * input2[..., j] + bias[o]``.

    Args:
        input1: tensor of shape ``(*, in1_features)``.
        input2: tensor of shape ``(*, in2_features)`` with the same leading dims as ``input1``.
        weight: tensor of shape ``(out_features, in1_features, in2_features)``.
        bias: optional tensor of shape ``(out_features,)``.

    Returns:
        A tensor of shape ``(*, out_features)``.
    """
    _check_tensor(input1, "bilinear")
    _check_tensor(input2, "bilinear")
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional (out, in1, in2), got {list(weight.shape)}")
    out_features, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input1 size {input1.shape[-1]} and input2 size {input2.shape[-1]} do not "
                           f"match weight size {list(weight.shape)}")
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input1 and input2 must have the same batch shape, got "
                           f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
    # (..., in1) @ (in1, out * in2) -> (..., out, in2), then contract with input2
    mixed = input1.matmul(weight.permute(1, 0, 2).reshape(in1, out_features * in2))
    mixed = mixed.reshape(tuple(input1.shape[:-1]) + (out_features, in2))
    out = (mixed * input2.unsqueeze(-2)).sum(-1)
    return out if bias is None else out + bias


# ---------------------------------------------------------------- dropout
def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(input, p, shape):
    """A float mask of ``shape`` (broadcastable to input): 1/(1-p) with probability 1-p, else 0."""
    from ember.ops.random import rand
    draw_dtype = dt.float64 if input.dtype is dt.float64 else dt.float32
    keep = rand(shape, dtype=draw_dtype, device=input.device) >= p
    return cast(keep, input.dtype) * (1.0 / (1.0 - p))


def _dropout_with_mask_shape(input, p, training, inplace, mask_shape):
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        compute = lambda x: x * 0.0  # noqa: E731
    else:
        mask = _keep_mask(input, p, mask_shape)
        compute = lambda x: x * mask  # noqa: E731
    return _write_into(input, compute) if inplace else compute(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training only).

    Args:
        input: the tensor.
        p: probability of zeroing an element, in ``[0, 1]``. Default: ``0.5``.
        training: dropout is applied only when ``True``; otherwise ``input`` is returned as is.
            Default: ``True``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        ValueError: if ``p`` is outside ``[0, 1]``.
    """
    _check_tensor(input, "dropout")
    return _dropout_with_mask_shape(input, p, training, inplace, tuple(input.shape))


def _feature_mask_shape(input, feature_dims):
    """Mask shape keeping the first ``feature_dims`` dims (batch and channel) and 1 elsewhere."""
    return tuple(input.shape[:feature_dims]) + (1,) * (input.ndim - feature_dims)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``.

    Kept channels are scaled by ``1/(1-p)``; nothing happens outside training.

    Args:
        input: a 2-D or 3-D tensor.
        p: probability of zeroing a channel, in ``[0, 1]``. Default: ``0.5``.
        training: dropout is applied only when ``True``. Default: ``True``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        RuntimeError: if ``input`` is not 2-D or 3-D.
    """
    _check_tensor(input, "dropout1d")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input: it drops "
                           f"whole channels of (N, C, L) or (C, L) inputs")
    return _dropout_with_mask_shape(input, p, training, inplace, _feature_mask_shape(input, input.ndim - 1))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (feature maps) of (N, C, H, W) input with probability ``p``.

    Kept channels are scaled by ``1/(1-p)``; nothing happens outside training. Inputs that are
    not 4-D are accepted with a warning, channels being taken along dim 1 (so a 3-D input is
    treated as ``(N, C, L)``).

    Args:
        input: a tensor of at least 2 dims, normally ``(N, C, H, W)``.
        p: probability of zeroing a channel, in ``[0, 1]``. Default: ``0.5``.
        training: dropout is applied only when ``True``. Default: ``True``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        RuntimeError: if ``input`` has fewer than 2 dims.
    """
    _check_tensor(input, "dropout2d")
    if input.ndim == 3:
        warnings.warn("dropout2d: received a 3D input; like PyTorch, ember treats it as (N, C, L) and drops "
                      "channels of 1D features. Use dropout1d for that, or add a batch dim for (C, H, W).")
    elif input.ndim != 4:
        warnings.warn(f"dropout2d: received a {input.ndim}D input; it expects (N, C, H, W). Channels "
                      f"(dim 1) are dropped.")
    if input.ndim < 2:
        raise RuntimeError(f"dropout2d: input needs a channel dim, got a {input.ndim}D input")
    return _dropout_with_mask_shape(input, p, training, inplace, _feature_mask_shape(input, 2))


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``.

    Kept channels are scaled by ``1/(1-p)``; nothing happens outside training. Other ranks are
    accepted with a warning (channels are then taken along dim 1).

    Args:
        input: a tensor of at least 2 dims, normally 4-D or 5-D.
        p: probability of zeroing a channel, in ``[0, 1]``. Default: ``0.5``.
        training: dropout is applied only when ``True``. Default: ``True``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        RuntimeError: if ``input`` has fewer than 2 dims.
    """
    _check_tensor(input, "dropout3d")
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: received a {input.ndim}D input; it expects (N, C, D, H, W) or (C, D, H, W).")
    if input.ndim < 2:
        raise RuntimeError(f"dropout3d: input needs a channel dim, got a {input.ndim}D input")
    feature_dims = 1 if input.ndim == 4 else 2
    return _dropout_with_mask_shape(input, p, training, inplace, _feature_mask_shape(input, feature_dims))


_SELU_NEG_SAT = -1.0507009873554804934193349852946 * 1.6732632423543772848170429916717


def _alpha_dropout(input, p, training, inplace, mask_shape):
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        compute = lambda x: x * 0.0  # noqa: E731
    else:
        from ember.ops.random import rand
        keep = cast(rand(mask_shape, dtype=dt.float32, device=input.device) >= p, input.dtype)
        # keeps zero mean and unit variance for SELU activations
        a = ((1.0 - p) * (1.0 + p * _SELU_NEG_SAT ** 2)) ** -0.5
        b = -a * _SELU_NEG_SAT * p
        compute = lambda x: (x * keep + (1.0 - keep) * _SELU_NEG_SAT) * a + b  # noqa: E731
    return _write_into(input, compute) if inplace else compute(input)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks that keeps the activations' mean and variance.

    Dropped elements take SELU's negative saturation value instead of 0, and an affine
    correction brings the result back to mean 0 and variance 1.

    Args:
        input: the tensor.
        p: probability of dropping an element, in ``[0, 1]``. Default: ``0.5``.
        training: dropout is applied only when ``True``. Default: ``False``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    _check_tensor(input, "alpha_dropout")
    return _alpha_dropout(input, p, training, inplace, tuple(input.shape))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels: every ``(sample, channel)`` pair is kept or dropped as one.

    As :func:`alpha_dropout`, but the random mask has one entry per entry of the first two dims
    of ``input`` (``N`` and ``C``) and is shared over the remaining dims.

    Args:
        input: the tensor, normally ``(N, C, ...)``.
        p: probability of dropping a channel, in ``[0, 1]``. Default: ``0.5``.
        training: dropout is applied only when ``True``. Default: ``False``.
        inplace: if ``True``, the result is written into ``input``, which is returned. Default: ``False``.

    Returns:
        A tensor of ``input``'s shape.
    """
    _check_tensor(input, "feature_alpha_dropout")
    return _alpha_dropout(input, p, training, inplace, _feature_mask_shape(input, 2))


# ---------------------------------------------------------------- embeddings
class _ScaleGrad(Function):
    """Identity forward; the backward multiplies the gradient by a fixed tensor."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.detach()

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.scale, None


def _check_indices(input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.dtype not in (dt.int64, dt.int32, dt.int16, dt.int8, dt.uint8):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.dtype} instead (while checking arguments for {name})")


def _renorm_rows(weight, indices, max_norm, norm_type):
    """Rescale (in place) the rows of ``weight`` named in ``indices`` whose norm exceeds max_norm."""
    with no_grad():
        rows = indices.reshape(-1).unique()
        selected = weight.index_select(0, rows)
        norms = red.norm(selected, norm_type, dim=-1, keepdim=True)
        scale = ew.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight.index_copy_(0, rows, selected * scale)


def _normalize_padding_idx(padding_idx, num_embeddings):
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"Padding_idx must be within num_embeddings ({num_embeddings}), got {padding_idx}")
    return padding_idx % num_embeddings


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer ``input``: shape ``input.shape + (dim,)``.

    ``padding_idx`` rows get no gradient; ``max_norm`` renormalises (in place) the rows
    used; ``scale_grad_by_freq`` divides each row's gradient by how often it appears in
    ``input``. With ``sparse=True`` the gradient of ``weight`` is a sparse COO tensor that
    holds only the rows looked up (uncoalesced, as PyTorch's).

    Args:
        input: integer tensor of indices into the rows of ``weight``.
        weight: the ``(num_embeddings, embedding_dim)`` embedding matrix.
        padding_idx: optional row index (negative counts from the end) whose lookups receive no gradient.
        max_norm: if given, every looked-up row whose ``norm_type``-norm exceeds it is rescaled in place in
            ``weight`` to this norm before the lookup.
        norm_type: the p of the norm used for ``max_norm``. Default: ``2.0``.
        scale_grad_by_freq: if ``True``, each row's gradient is divided by the number of times its index
            appears in ``input``. Default: ``False``.
        sparse: if ``True``, ``weight``'s gradient is a sparse COO tensor (then ``scale_grad_by_freq``
            raises a RuntimeError in backward, as in PyTorch). Default: ``False``.

    Returns:
        A tensor of shape ``input.shape + (embedding_dim,)``.
    """
    _check_indices(input, "embedding")
    if weight.ndim != 2:
        raise RuntimeError(f"'weight' must be 2-D, got {weight.ndim}-D")
    padding_idx = _normalize_padding_idx(padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    flat = cast(input.reshape(-1), dt.int64)
    if sparse:
        out = sparse_rows(weight, flat, padding_idx, scale_grad_by_freq)
        return out.reshape(tuple(input.shape) + (weight.shape[1],))
    out = weight.index_select(0, flat)
    if padding_idx is not None and out.requires_grad:
        keep = (flat != padding_idx).unsqueeze(-1)
        out = ew.where(keep, out, out.detach())
    if scale_grad_by_freq and out.requires_grad:
        _values, inverse, counts = flat.unique(return_inverse=True, return_counts=True)
        out = _ScaleGrad.apply(out, (1.0 / cast(counts, out.dtype))[inverse].unsqueeze(-1))
    return out.reshape(tuple(input.shape) + (weight.shape[1],))


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sums, means or maxes of bags of embeddings.

    A 2-D ``input`` (B, n) is B bags of n indices; a 1-D ``input`` is split into bags at
    ``offsets``. ``padding_idx`` entries are left out of their bag (an empty bag is 0).

    Args:
        input: integer indices, 2-D ``(B, n)`` or 1-D.
        weight: the ``(num_embeddings, embedding_dim)`` embedding matrix.
        offsets: for a 1-D ``input``, the 1-D tensor of start positions of the bags; must be ``None`` for
            a 2-D ``input``.
        max_norm: if given, used rows with a larger ``norm_type``-norm are rescaled in place to this norm.
        norm_type: the p of the norm used for ``max_norm``. Default: ``2``.
        scale_grad_by_freq: if ``True``, each row's gradient is divided by how often its index occurs.
            Default: ``False``.
        mode: ``'sum'``, ``'mean'`` (default) or ``'max'`` (elementwise maximum over the bag).
        sparse: if ``True``, ``weight``'s gradient is a sparse COO tensor of the rows used (not with
            ``mode='max'``). Default: ``False``.
        per_sample_weights: optional weights of ``input``'s shape that scale each looked-up row; only
            allowed with ``mode='sum'``.
        include_last_offset: if ``True``, the last entry of ``offsets`` marks the end of the last bag
            rather than the start of a new one. Default: ``False``.
        padding_idx: optional index that is excluded from every bag.

    Returns:
        A tensor of shape ``(B, embedding_dim)``, one row per bag (for a 1-D ``input``, ``B`` is
        ``len(offsets)``, or one fewer with ``include_last_offset``).

    Raises:
        ValueError: on an unknown ``mode``, ``sparse`` with ``mode='max'``, or inconsistent ``input`` / ``offsets``.
        NotImplementedError: if ``per_sample_weights`` is given with a mode other than ``'sum'``.
    """
    _check_indices(input, "embedding_bag")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
    if sparse and mode == "max":
        raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}')")
    padding_idx = _normalize_padding_idx(padding_idx, weight.shape[0])
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences.")
        n_bags, length = input.shape
        bag_of = arange(n_bags, device=input.device).unsqueeze(1).expand(n_bags, length).reshape(-1)
        flat = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = offsets[:-1] if include_last_offset else offsets
        n_bags = starts.shape[0]
        flat = input
        positions = arange(input.shape[0], device=input.device)
        bag_of = (positions.unsqueeze(1) >= cast(starts, dt.int64).unsqueeze(0)).sum(1) - 1
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
    flat = cast(flat, dt.int64)
    if sparse:
        rows = sparse_rows(weight, flat, padding_idx, scale_grad_by_freq)
        scale_grad_by_freq = False  # refused in the sparse backward
    else:
        rows = weight.index_select(0, flat)
    if scale_grad_by_freq and rows.requires_grad:
        _values, inverse, counts = flat.unique(return_inverse=True, return_counts=True)
        rows = _ScaleGrad.apply(rows, (1.0 / cast(counts, rows.dtype))[inverse].unsqueeze(-1))
    valid = ones_like(flat, dtype=dt.bool_) if padding_idx is None else flat != padding_idx
    valid_f = cast(valid, rows.dtype).unsqueeze(-1)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.unsqueeze(-1)
    from ember.ops.creation import zeros
    dim = weight.shape[1]
    if mode in ("sum", "mean"):
        total = zeros(n_bags, dim, dtype=rows.dtype, device=rows.device).index_add(0, bag_of, rows * valid_f)
        if mode == "sum":
            return total
        counts = zeros(n_bags, dtype=rows.dtype, device=rows.device).index_add(0, bag_of, valid_f.squeeze(-1))
        return total / counts.clamp(min=1.0).unsqueeze(-1)
    # max: per bag, the elementwise max over its valid rows (empty bags give 0); a dense
    # (bags, rows, dim) mask keeps it a composite with a gradient
    member = ew.logical_and(bag_of.unsqueeze(0) == arange(n_bags, device=rows.device).unsqueeze(1),
                            valid.unsqueeze(0))
    candidates = ew.where(member.unsqueeze(-1), rows.unsqueeze(0), float("-inf"))
    out = red.amax(candidates, 1) if rows.shape[0] else zeros(n_bags, dim, dtype=rows.dtype, device=rows.device)
    return ew.where(ew.isinf(out), 0.0, out)


# ---------------------------------------------------------------- encodings and distances
def one_hot(tensor, num_classes=-1):
    """int64 tensor with a trailing dim of ``num_classes``: 1 at each index, 0 elsewhere.

    Args:
        tensor: int64 tensor of non-negative class indices.
        num_classes: size of the new last dim; ``-1`` (default) uses the largest index plus one.

    Returns:
        An int64 tensor of shape ``tensor.shape + (num_classes,)``.

    Raises:
        RuntimeError: if ``tensor`` is not int64, holds a negative index or one ``>= num_classes``, or is
            empty while ``num_classes`` is ``-1``.
    """
    if not isinstance(tensor, Tensor) or tensor.dtype is not dt.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor (int64), got "
                           f"{tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__}")
    if tensor.numel():
        low, high = int(tensor.min()), int(tensor.max())
        if low < 0:
            raise RuntimeError(f"Class values must be non-negative, got {low}.")
        if num_classes == -1:
            num_classes = high + 1
        elif high >= num_classes:
            raise RuntimeError(f"Class values must be smaller than num_classes ({num_classes}), got {high}.")
    elif num_classes == -1:
        raise RuntimeError("Can not infer total number of classes from empty tensor.")
    classes = arange(num_classes, device=tensor.device)
    return cast(tensor.unsqueeze(-1) == classes, dt.int64)


@dispatch_point("normalize")
def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p, eps)`` along ``dim``.

    Args:
        input: the tensor.
        p: the exponent of the norm. Default: ``2.0``.
        dim: the dimension along which to normalize. Default: ``1``.
        eps: lower bound on the norm, to avoid dividing by zero. Default: ``1e-12``.
        out: optional tensor the result is written into (and which is returned); the operation is then
            not differentiable.

    Returns:
        A tensor of ``input``'s shape whose slices along ``dim`` have unit p-norm (or norm below 1 where
        the original norm was below ``eps``); ``out`` when given.

    Raises:
        RuntimeError: with ``out``, if autograd would have to record (``input`` requires grad), or ``out``
            cannot hold the result (as ``div(..., out=out)``).
    """
    _check_tensor(input, "normalize")
    # the norm accumulates in float32 for half precision, as PyTorch's vector_norm does
    wide = input.float() if input.dtype in (dt.float16, dt.bfloat16) else input
    norm = red.norm(wide, p, dim, keepdim=True).clamp(min=eps).to(input.dtype)
    if out is None:
        return input / norm
    from ember.ops.out import write_out
    return write_out(input / norm, out, "div")


@dispatch_point("cosine_similarity")
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``<x1, x2> / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (inputs broadcast).

    Args:
        x1: the first tensor.
        x2: the second tensor, broadcastable with ``x1``.
        dim: the dimension along which the vectors lie. Default: ``1``.
        eps: lower bound on each norm. Default: ``1e-8``.

    Returns:
        The similarities: the broadcast shape with ``dim`` removed.
    """
    _check_tensor(x1, "cosine_similarity")
    _check_tensor(x2, "cosine_similarity")
    x1, x2 = x1.broadcast_to(_broadcast(x1, x2)), x2.broadcast_to(_broadcast(x1, x2))
    # PyTorch's formula: each side divided by its norm (clamped to eps) first, then the dot
    # product; the norms accumulate in float32 for half precision, as vector_norm does
    half = x1.dtype in (dt.float16, dt.bfloat16)
    n1, n2 = (red.norm(x.float() if half else x, 2, dim, keepdim=True).to(x.dtype) for x in (x1, x2))
    # clamped without recording it (PyTorch clamps in place under no_grad): the gradient flows as
    # through the norm itself
    n1, n2 = (n + (n.clamp(min=eps) - n).detach() for n in (n1, n2))
    return red.sum((x1 / n1) * (x2 / n2), dim)


def _broadcast(a, b):
    from ember.dispatch.meta import broadcast_shapes
    return broadcast_shapes(a.shape, b.shape)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` over the last dim.

    Args:
        x1: the first tensor, ``(N, D)`` or ``(D,)``.
        x2: the second tensor, broadcastable with ``x1``.
        p: the exponent of the norm. Default: ``2.0``.
        eps: small constant added to the difference. Default: ``1e-6``.
        keepdim: keep the reduced last dim with size 1. Default: ``False``.

    Returns:
        The distances: the broadcast shape without its last dim (unless ``keepdim``).
    """
    _check_tensor(x1, "pairwise_distance")
    _check_tensor(x2, "pairwise_distance")
    ndim = max(x1.ndim, x2.ndim)
    diff = x1 - x2 + eps
    if ndim == 0:
        return ew.abs(diff)
    return red.norm(diff, p, dim=ndim - 1, keepdim=keepdim)


@dispatch_point("pdist")
def pdist(input, p=2.0):
    """Distances between all row pairs (i < j) of an (N, M) input, as a flat tensor.

    Args:
        input: a 2-D tensor of ``N`` rows.
        p: the exponent of the norm. Default: ``2.0``.

    Returns:
        A 1-D tensor of ``N * (N - 1) / 2`` distances, ordered by ``i`` then ``j``.

    Raises:
        RuntimeError: if ``input`` is not 2-D.
    """
    _check_tensor(input, "pdist")
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    n = input.shape[0]
    i, j = [], []
    for a in range(n):
        for b in range(a + 1, n):
            i.append(a)
            j.append(b)
    from ember.ops.creation import tensor
    rows_i = tensor(i, dtype=dt.int64, device=input.device)
    rows_j = tensor(j, dtype=dt.int64, device=input.device)
    diff = input.index_select(0, rows_i) - input.index_select(0, rows_j)
    return red.norm(diff, p, dim=1)
