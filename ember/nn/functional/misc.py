"""Linear maps, dropout, embeddings, one-hot, normalisation and distances."""
from __future__ import annotations

import warnings

from ember.autograd.function import Function
from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.nn.functional.activation import _check_tensor, _write_into
from ember.ops import elementwise as ew
from ember.ops import reduction as red
from ember.ops.creation import arange, cast, ones_like

__all__ = [
    "linear", "bilinear", "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
    "feature_alpha_dropout", "embedding", "embedding_bag", "one_hot", "normalize", "cosine_similarity",
    "pairwise_distance", "pdist",
]


# ---------------------------------------------------------------- linear maps
def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` over the last dim of ``input``."""
    _check_tensor(input, "linear")
    if input.ndim == 0:
        raise RuntimeError("linear(): input must have at least one dimension, got a 0-d tensor")
    in_features = weight.shape[-1] if weight.ndim else 1
    if input.shape[-1] != in_features:
        rows = input.numel() // max(input.shape[-1], 1)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
                           f"{in_features}x{weight.shape[0] if weight.ndim == 2 else 1})")
    out = input.matmul(weight.t())
    return out if bias is None else out + bias


def bilinear(input1, input2, weight, bias=None):
    """``y[..., o] = sum_ij input1[..., i] * weight[o, i, j] * input2[..., j] + bias[o]``."""
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
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training only)."""
    _check_tensor(input, "dropout")
    return _dropout_with_mask_shape(input, p, training, inplace, tuple(input.shape))


def _feature_mask_shape(input, feature_dims):
    """Mask shape keeping the first ``feature_dims`` dims (batch and channel) and 1 elsewhere."""
    return tuple(input.shape[:feature_dims]) + (1,) * (input.ndim - feature_dims)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``."""
    _check_tensor(input, "dropout1d")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input: it drops "
                           f"whole channels of (N, C, L) or (C, L) inputs")
    return _dropout_with_mask_shape(input, p, training, inplace, _feature_mask_shape(input, input.ndim - 1))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels (feature maps) of (N, C, H, W) input with probability ``p``."""
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
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
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
    """Dropout for SELU networks: dropped elements take SELU's negative saturation value and
    the result is rescaled to keep mean 0 and variance 1."""
    _check_tensor(input, "alpha_dropout")
    return _alpha_dropout(input, p, training, inplace, tuple(input.shape))


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
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
    ``input``. ``sparse`` gradients are not supported: ember returns a dense one.
    """
    _check_indices(input, "embedding")
    if weight.ndim != 2:
        raise RuntimeError(f"'weight' must be 2-D, got {weight.ndim}-D")
    padding_idx = _normalize_padding_idx(padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    flat = cast(input.reshape(-1), dt.int64)
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
    """
    _check_indices(input, "embedding_bag")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")
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
    """int64 tensor with a trailing dim of ``num_classes``: 1 at each index, 0 elsewhere."""
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


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p, eps)`` along ``dim``."""
    _check_tensor(input, "normalize")
    norm = red.norm(input, p, dim, keepdim=True).clamp(min=eps)
    return input / norm


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``<x1, x2> / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (inputs broadcast)."""
    _check_tensor(x1, "cosine_similarity")
    _check_tensor(x2, "cosine_similarity")
    x1, x2 = x1.broadcast_to(_broadcast(x1, x2)), x2.broadcast_to(_broadcast(x1, x2))
    n1 = ew.sqrt(red.sum(x1 * x1, dim).clamp(min=eps * eps))
    n2 = ew.sqrt(red.sum(x2 * x2, dim).clamp(min=eps * eps))
    return red.sum(x1 * x2, dim) / (n1 * n2)


def _broadcast(a, b):
    from ember.dispatch.meta import broadcast_shapes
    return broadcast_shapes(a.shape, b.shape)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` over the last dim."""
    _check_tensor(x1, "pairwise_distance")
    _check_tensor(x2, "pairwise_distance")
    ndim = max(x1.ndim, x2.ndim)
    diff = x1 - x2 + eps
    if ndim == 0:
        return ew.abs(diff)
    return red.norm(diff, p, dim=ndim - 1, keepdim=keepdim)


def pdist(input, p=2.0):
    """Distances between all row pairs (i < j) of an (N, M) input, as a flat tensor."""
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
