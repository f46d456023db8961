"""``torch.*`` forms of layer internals: the native normalization functions and their statistics
pieces (``native_batch_norm``, ``batch_norm_stats``, ...), the flat-weight recurrent functions
(``torch.lstm``, ``torch.gru_cell``, ...), ``torch.convolution``, ``torch.conv_tbc``,
``torch.ctc_loss``, ``torch.grid_sampler*``, ``torch.affine_grid_generator``,
``torch.embedding_bag`` and ``torch.embedding_renorm_``.

They use PyTorch's native signatures (positional flags, reductions and modes as ints) and are
written over ``ember.nn.functional`` and ember ops, so they run and differentiate on every
backend. The ``batch_norm_*`` statistics functions are the pieces ``SyncBatchNorm`` is made of in
PyTorch (there they exist for CUDA only); here they run on every device.
"""
from __future__ import annotations

import ember
from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.nn import functional as F

__all__ = [
    "native_batch_norm", "native_layer_norm", "native_group_norm", "native_dropout", "native_norm", "norm_except_dim",
    "batch_norm_stats", "batch_norm_elemt", "batch_norm_gather_stats", "batch_norm_gather_stats_with_counts",
    "batch_norm_backward_reduce", "batch_norm_backward_elemt", "batch_norm_update_stats",
    "lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
    "convolution", "conv_tbc", "ctc_loss", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d",
    "affine_grid_generator", "embedding_bag", "embedding_renorm_",
]

_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}
_INTERPOLATION = {0: "bilinear", 1: "nearest", 2: "bicubic"}
_PADDING = {0: "zeros", 1: "border", 2: "reflection"}
_BAG_MODES = {0: "sum", 1: "mean", 2: "max"}


def _channel_view(t, ndim):
    """A per-channel ``(C,)`` tensor shaped to broadcast against ``(N, C, *)``."""
    return t.reshape([1, -1] + [1] * (ndim - 2))


def _reduce_dims(input):
    return [0, *range(2, input.ndim)]


# ---------------------------------------------------------------- native normalizations
def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """Batch normalization returning its saved statistics: ``(output, save_mean, save_invstd)``.

    Args:
        input: ``(N, C, *)``.
        weight: ``(C,)`` scale, or None.
        bias: ``(C,)`` shift, or None.
        running_mean: ``(C,)`` running mean (updated in place in training), or None.
        running_var: ``(C,)`` running variance (updated with the unbiased variance), or None.
        training: normalize with the batch statistics (True) or the running ones.
        momentum: the weight of the batch statistics in the running averages.
        eps: added to the variance.

    Returns:
        ``(output, save_mean, save_invstd)``: in training the batch mean and ``1 / sqrt(var + eps)`` per
        channel; in evaluation both are empty.
    """
    out = F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        empty = ember.empty(0, dtype=input.dtype, device=input.device)
        return out, empty, empty.clone()
    with no_grad():
        dims = _reduce_dims(input)
        mean = input.mean(dims)
        invstd = (input.var(dims, correction=0) + eps).rsqrt()
    return out, mean, invstd


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """Layer normalization returning its statistics: ``(output, mean, rstd)``.

    Args:
        input: the tensor; its trailing dims are ``normalized_shape``.
        normalized_shape: the shape of the normalized trailing dims.
        weight: elementwise scale of ``normalized_shape``, or None.
        bias: elementwise shift of ``normalized_shape``, or None.
        eps: added to the variance.

    Returns:
        ``(output, mean, rstd)``: mean and ``1 / sqrt(var + eps)`` with the normalized dims kept as 1.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    out = F.layer_norm(input, shape, weight, bias, eps)
    with no_grad():
        dims = list(range(input.ndim - len(shape), input.ndim))
        mean = input.mean(dims, keepdim=True)
        rstd = (input.var(dims, correction=0, keepdim=True) + eps).rsqrt()
    return out, mean, rstd


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """Group normalization returning its statistics: ``(output, mean, rstd)``.

    Args:
        input: ``(N, C, *)`` with ``HxW`` elements per channel.
        weight: ``(C,)`` scale, or None.
        bias: ``(C,)`` shift, or None.
        N: the batch size.
        C: the channel count.
        HxW: the number of elements of each channel.
        group: the number of groups.
        eps: added to the variance.

    Returns:
        ``(output, mean, rstd)``: mean and ``1 / sqrt(var + eps)`` of shape ``(N, group)``.
    """
    if input.numel() != N * C * HxW:
        raise RuntimeError(f"Expected input to have {N * C * HxW} elements (N={N}, C={C}, HxW={HxW}), "
                           f"got {input.numel()}")
    out = F.group_norm(input, group, weight, bias, eps)
    with no_grad():
        grouped = input.reshape(N, group, -1)
        mean = grouped.mean(-1)
        rstd = (grouped.var(-1, correction=0) + eps).rsqrt()
    return out, mean, rstd


def native_dropout(input, p, train):
    """Dropout returning its mask: ``(output, mask)``.

    Args:
        input: the tensor.
        p: the probability of zeroing an element.
        train: apply dropout (True or None) or return ``input``'s values with an all-True mask (False).

    Returns:
        ``(output, mask)``: the kept elements scaled by ``1 / (1 - p)``, and the bool mask of kept elements.
    """
    if train is False:
        return input.clone(), ember.ones(input.shape, dtype=dt.bool_, device=input.device)
    if not 0 <= p <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")
    mask = ember.rand(input.shape, device=input.device) >= p
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return input * mask.to(input.dtype) * scale, mask


def native_norm(input, p=2, dim=None, keepdim=False, dtype=None):
    """The ``p``-norm of ``input`` (over ``dim``, or all elements).

    PyTorch keeps this for sparse tensors; ember computes it for its (dense) tensors.

    Args:
        input: the tensor.
        p: the order of the norm (default 2); None means 2.
        dim: the dims to reduce, or None for all.
        keepdim: keep the reduced dims as size 1.
        dtype: compute and return in this dtype.

    Returns:
        The norm.
    """
    x = input if dtype is None else input.to(dtype)
    return ember.linalg.vector_norm(x, 2 if p is None else p, dim=dim, keepdim=keepdim)


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of ``v`` over every dim but ``dim``, with those dims kept as 1 (weight norm's ``g``).

    Args:
        v: the tensor.
        pow: the order of the norm (default 2).
        dim: the dim kept; -1 means the norm of all of ``v`` (a 0-d result).

    Returns:
        The norms, shaped ``(1, ..., v.shape[dim], ..., 1)``, or 0-d for ``dim == -1``.
    """
    if dim == -1:
        return ember.linalg.vector_norm(v, pow)
    dims = [d for d in range(v.ndim) if d != dim % v.ndim]
    return ember.linalg.vector_norm(v, pow, dim=dims, keepdim=True)


# ---------------------------------------------------------------- batch-norm statistics pieces
def batch_norm_stats(input, eps):
    """Per-channel mean and ``1 / sqrt(biased var + eps)`` of ``input`` ``(N, C, *)``.

    Args:
        input: the tensor.
        eps: added to the variance.

    Returns:
        ``(mean, invstd)``, each ``(C,)`` (float32 for reduced-precision inputs).
    """
    x = input.float() if input.dtype in (dt.float16, dt.bfloat16) else input
    dims = _reduce_dims(x)
    return x.mean(dims), (x.var(dims, correction=0) + eps).rsqrt()


def batch_norm_elemt(input, weight, bias, mean, invstd, eps):
    """Normalize ``input`` with given statistics: ``(x - mean) * invstd * weight + bias`` per channel.

    Args:
        input: ``(N, C, *)``.
        weight: ``(C,)`` scale, or None.
        bias: ``(C,)`` shift, or None.
        mean: ``(C,)`` mean.
        invstd: ``(C,)`` inverse standard deviation.
        eps: unused (the statistics already include it), kept for the signature.

    Returns:
        The normalized tensor, of ``input``'s shape and dtype.
    """
    n = input.ndim
    out = (input - _channel_view(mean, n)) * _channel_view(invstd, n)
    if weight is not None:
        out = out * _channel_view(weight, n)
    if bias is not None:
        out = out + _channel_view(bias, n)
    return out.to(input.dtype)


def batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var, momentum, eps, counts):
    """Combine per-process statistics into global ones, weighting each by its element count.

    Args:
        input: the local input (gives the dtype of the running statistics).
        mean: ``(P, C)`` per-process means.
        invstd: ``(P, C)`` per-process ``1 / sqrt(var + eps)``.
        running_mean: ``(C,)`` running mean, updated in place, or None.
        running_var: ``(C,)`` running variance, updated in place with the unbiased global variance, or None.
        momentum: the weight of the new statistics in the running averages.
        eps: the epsilon the per-process ``invstd`` were made with (and the global one is).
        counts: ``(P,)`` the number of elements per channel on each process.

    Returns:
        ``(mean, invstd)`` of the union, each ``(C,)``.
    """
    counts = counts.to(mean.dtype).reshape(-1, 1)
    total = counts.sum(0)
    var = 1.0 / (invstd * invstd) - eps
    global_mean = (mean * counts).sum(0) / total
    global_var = ((var + (mean - global_mean) ** 2) * counts).sum(0) / total
    with no_grad():
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(global_mean.to(running_mean.dtype), alpha=momentum)
        if running_var is not None:
            unbiased = global_var * total / (total - 1)
            running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)
    return global_mean, (global_var + eps).rsqrt()


def batch_norm_gather_stats(input, mean, invstd, running_mean, running_var, momentum, eps, count):
    """``batch_norm_gather_stats_with_counts`` where every process has ``count`` elements per channel.

    Args:
        input, mean, invstd, running_mean, running_var, momentum, eps: as there.
        count: the number of elements per channel on each process.

    Returns:
        ``(mean, invstd)`` of the union, each ``(C,)``.
    """
    counts = ember.full((mean.shape[0],), float(count), dtype=mean.dtype, device=mean.device)
    return batch_norm_gather_stats_with_counts(input, mean, invstd, running_mean, running_var, momentum, eps,
                                               counts)


def batch_norm_backward_reduce(grad_out, input, mean, invstd, weight, input_g, weight_g, bias_g):
    """The per-channel sums of batch norm's backward pass: ``(sum_dy, sum_dy_xmu, grad_weight, grad_bias)``.

    Args:
        grad_out: the gradient of the output, ``(N, C, *)``.
        input: the forward input.
        mean: ``(C,)`` the mean used forward.
        invstd: ``(C,)`` the ``1 / sqrt(var + eps)`` used forward.
        weight: ``(C,)`` scale, or None.
        input_g: compute ``sum_dy`` and ``sum_dy_xmu`` (for the input gradient).
        weight_g: compute ``grad_weight``.
        bias_g: compute ``grad_bias``.

    Returns:
        ``sum(dy)``, ``sum(dy * (x - mean))``, ``sum(dy * (x - mean)) * invstd`` and ``sum(dy)`` per channel;
        None for each one not asked for.
    """
    dims = _reduce_dims(input)
    sum_dy = grad_out.sum(dims)
    sum_dy_xmu = (grad_out * (input - _channel_view(mean, input.ndim))).sum(dims)
    return (sum_dy if input_g else None, sum_dy_xmu if input_g else None,
            sum_dy_xmu * invstd if weight_g else None, sum_dy.clone() if bias_g else None)


def batch_norm_backward_elemt(grad_out, input, mean, invstd, weight, sum_dy, sum_dy_xmu, count):
    """Batch norm's input gradient from the (all-reduced) per-channel sums.

    Args:
        grad_out: the gradient of the output, ``(N, C, *)``.
        input: the forward input.
        mean: ``(C,)`` the mean used forward.
        invstd: ``(C,)`` the ``1 / sqrt(var + eps)`` used forward.
        weight: ``(C,)`` scale, or None.
        sum_dy: ``(C,)`` the sum of ``grad_out`` over all processes.
        sum_dy_xmu: ``(C,)`` the sum of ``grad_out * (x - mean)`` over all processes.
        count: the per-process element counts per channel (a tensor); their sum is the global count.

    Returns:
        The gradient with respect to ``input``.
    """
    n = input.ndim
    total = count.to(invstd.dtype).sum()
    mean_dy = _channel_view(sum_dy / total, n)
    mean_dy_xmu = _channel_view(sum_dy_xmu / total, n)
    inv = _channel_view(invstd, n)
    scale = inv if weight is None else inv * _channel_view(weight, n)
    grad = (grad_out - mean_dy - (input - _channel_view(mean, n)) * inv * inv * mean_dy_xmu) * scale
    return grad.to(input.dtype)


def batch_norm_update_stats(input, running_mean, running_var, momentum):
    """Fold the batch statistics of ``input`` into the running ones; return the batch mean and biased variance.

    Args:
        input: ``(N, C, *)``.
        running_mean: ``(C,)`` updated in place, or None.
        running_var: ``(C,)`` updated in place with the unbiased variance, or None.
        momentum: the weight of the batch statistics.

    Returns:
        ``(mean, var)`` of the batch per channel (the variance biased).
    """
    dims = _reduce_dims(input)
    count = input.numel() // max(input.shape[1], 1)
    with no_grad():
        mean = input.mean(dims)
        var = input.var(dims, correction=0)
        if running_mean is not None:
            running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype), alpha=momentum)
        if running_var is not None:
            unbiased = var * (count / max(count - 1, 1))
            running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype), alpha=momentum)
    return mean, var


# ---------------------------------------------------------------- flat-weight recurrent functions
class _FlatWeights:
    """Stands in for an RNN module: the layer loop of ``nn.RNNBase`` over a flat weight list."""

    def __init__(self, mode, params, has_biases, num_layers, dropout, train, bidirectional):
        from ember.nn.modules.rnn import RNNBase
        self._run = RNNBase._run.__get__(self)
        self._run_packed = RNNBase._run_packed.__get__(self)
        self.mode = mode
        self.num_layers = num_layers
        self.dropout = dropout
        self.training = train
        self.bidirectional = bidirectional
        directions = 2 if bidirectional else 1
        params = list(params)
        per = len(params) // (num_layers * directions) if num_layers else 0
        base = 4 if has_biases else 2
        if per not in (base, base + 1) or per * num_layers * directions != len(params):
            raise RuntimeError(f"{mode.lower()}: expected {base} (or {base + 1} with projections) weights per layer "
                               f"and direction, got {len(params)} for {num_layers} layers x {directions} directions")
        self._weights = {}
        for index in range(num_layers * directions):
            group = params[index * per:(index + 1) * per]
            w_ih, w_hh = group[0], group[1]
            b_ih, b_hh = (group[2], group[3]) if has_biases else (None, None)
            w_hr = group[base] if per == base + 1 else None
            self._weights[index] = (w_ih, w_hh, b_ih, b_hh, w_hr)

    def _layer_weights(self, layer, direction):
        return self._weights[layer * (2 if self.bidirectional else 1) + direction]


def _recurrent(mode, args):
    """The two forms of ``torch.lstm`` / ``gru`` / ``rnn_*``: padded ``(input, hx, params, has_biases, num_layers,
    dropout, train, bidirectional, batch_first)`` and packed ``(data, batch_sizes, hx, params, has_biases,
    num_layers, dropout, train, bidirectional)``."""
    packed = isinstance(args[1], ember.Tensor) and isinstance(args[3], (list, tuple))
    if packed:
        data, batch_sizes, hx, params, has_biases, num_layers, dropout, train, bidirectional = args
    else:
        data, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first = args
    runner = _FlatWeights(mode, params, has_biases, num_layers, dropout, train, bidirectional)
    h0, c0 = (hx[0], hx[1]) if mode == "LSTM" else (hx, None)
    if packed:
        output, h_n, c_n = runner._run_packed(data, [int(n) for n in batch_sizes.tolist()], h0, c0)
    else:
        x = data.transpose(0, 1) if batch_first else data
        output, h_n, c_n = runner._run(x, h0, c0)
        if batch_first:
            output = output.transpose(0, 1)
    return (output, h_n, c_n) if mode == "LSTM" else (output, h_n)


def lstm(*args):
    """A multi-layer LSTM over flat weights: ``lstm(input, hx, params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first)`` or, packed, ``lstm(data, batch_sizes, hx, params, has_biases, num_layers,
    dropout, train, bidirectional)``.

    Args:
        *args: ``hx`` is ``[h_0, c_0]``; ``params`` lists per layer and direction ``w_ih, w_hh[, b_ih, b_hh][,
            w_hr]`` (``nn.LSTM``'s ``_flat_weights`` order).

    Returns:
        ``(output, h_n, c_n)``.
    """
    return _recurrent("LSTM", args)


def gru(*args):
    """A multi-layer GRU over flat weights: ``gru(input, hx, params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first)`` or the packed form ``gru(data, batch_sizes, hx, params, ...)``.

    Args:
        *args: ``hx`` is ``h_0``; ``params`` lists per layer and direction ``w_ih, w_hh[, b_ih, b_hh]``.

    Returns:
        ``(output, h_n)``.
    """
    return _recurrent("GRU", args)


def rnn_tanh(*args):
    """A multi-layer Elman RNN with tanh over flat weights (arguments as ``gru``).

    Args:
        *args: as for ``gru``.

    Returns:
        ``(output, h_n)``.
    """
    return _recurrent("RNN_TANH", args)


def rnn_relu(*args):
    """A multi-layer Elman RNN with ReLU over flat weights (arguments as ``gru``).

    Args:
        *args: as for ``gru``.

    Returns:
        ``(output, h_n)``.
    """
    return _recurrent("RNN_RELU", args)


def _one_step(mode, input, h, c, w_ih, w_hh, b_ih, b_hh):
    from ember.nn.modules.rnn import _cell
    return _cell(mode, input, h, c, w_ih, w_hh, b_ih, b_hh)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step.

    Args:
        input: ``(N, H_in)`` or ``(H_in,)``.
        hx: ``[h, c]``.
        w_ih: ``(4 * H, H_in)``.
        w_hh: ``(4 * H, H)``.
        b_ih: ``(4 * H,)`` or None.
        b_hh: ``(4 * H,)`` or None.

    Returns:
        ``(h', c')``.
    """
    return _one_step("LSTM", input, hx[0], hx[1], w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step.

    Args:
        input: ``(N, H_in)`` or ``(H_in,)``.
        hx: ``(N, H)``.
        w_ih: ``(3 * H, H_in)``.
        w_hh: ``(3 * H, H)``.
        b_ih: ``(3 * H,)`` or None.
        b_hh: ``(3 * H,)`` or None.

    Returns:
        The next hidden state.
    """
    return _one_step("GRU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman RNN step with tanh: ``tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
        input: ``(N, H_in)`` or ``(H_in,)``.
        hx: ``(N, H)``.
        w_ih: ``(H, H_in)``.
        w_hh: ``(H, H)``.
        b_ih: ``(H,)`` or None.
        b_hh: ``(H,)`` or None.

    Returns:
        The next hidden state.
    """
    return _one_step("RNN_TANH", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One Elman RNN step with ReLU: ``relu(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
        input: ``(N, H_in)`` or ``(H_in,)``.
        hx: ``(N, H)``.
        w_ih: ``(H, H_in)``.
        w_hh: ``(H, H)``.
        b_ih: ``(H,)`` or None.
        b_hh: ``(H,)`` or None.

    Returns:
        The next hidden state.
    """
    return _one_step("RNN_RELU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[0]


# ---------------------------------------------------------------- convolutions
_CONVS = {1: (F.conv1d, F.conv_transpose1d), 2: (F.conv2d, F.conv_transpose2d), 3: (F.conv3d, F.conv_transpose3d)}


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """The general convolution: ``conv{1,2,3}d`` or ``conv_transpose{1,2,3}d`` chosen by the weight's rank.

    Args:
        input: ``(N, C_in, *spatial)``.
        weight: ``(C_out, C_in / groups, *k)`` (transposed: ``(C_in, C_out / groups, *k)``).
        bias: ``(C_out,)`` or None.
        stride: one int per spatial dim.
        padding: one int per spatial dim.
        dilation: one int per spatial dim.
        transposed: a transposed convolution.
        output_padding: one int per spatial dim (transposed only).
        groups: the number of groups.

    Returns:
        The convolution's output.
    """
    nd = weight.ndim - 2
    if nd not in _CONVS:
        raise RuntimeError(f"convolution: expected a 3-D, 4-D or 5-D weight, got {weight.ndim}-D")
    conv, conv_transpose = _CONVS[nd]
    if transposed:
        return conv_transpose(input, weight, bias, tuple(stride), tuple(padding), tuple(output_padding), groups,
                              tuple(dilation))
    return conv(input, weight, bias, tuple(stride), tuple(padding), tuple(dilation), groups)


conv_tbc = F.conv_tbc   # one definition: torch.conv_tbc is nn.functional's


# ---------------------------------------------------------------- losses, sampling, embeddings
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=1, zero_infinity=False):
    """``F.ctc_loss`` with the reduction as an int (0 none, 1 mean, 2 sum).

    Args:
        log_probs, targets, input_lengths, target_lengths, blank, zero_infinity: as in ``F.ctc_loss``.
        reduction: 0, 1 or 2.

    Returns:
        The loss.
    """
    if reduction not in _REDUCTIONS:
        raise RuntimeError(f"{reduction} is not a valid value for reduction (0: none, 1: mean, 2: sum)")
    return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, _REDUCTIONS[reduction], zero_infinity)


def _sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    if interpolation_mode not in _INTERPOLATION or padding_mode not in _PADDING:
        raise RuntimeError(f"grid_sampler: unknown interpolation_mode {interpolation_mode} or padding_mode "
                           f"{padding_mode} (expected 0-2 each)")
    return F.grid_sample(input, grid, _INTERPOLATION[interpolation_mode], _PADDING[padding_mode], align_corners)


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """``F.grid_sample`` with the modes as ints: interpolation 0 bilinear, 1 nearest, 2 bicubic; padding 0 zeros,
    1 border, 2 reflection.

    Args:
        input: ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        grid: ``(N, H_out, W_out, 2)`` or ``(N, D_out, H_out, W_out, 3)``.
        interpolation_mode: 0, 1 or 2.
        padding_mode: 0, 1 or 2.
        align_corners: as in ``F.grid_sample``.

    Returns:
        The sampled tensor.
    """
    return _sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners):
    """``grid_sampler`` for a 4-D input.

    Args:
        input, grid, interpolation_mode, padding_mode, align_corners: as in ``grid_sampler``.

    Returns:
        The sampled tensor ``(N, C, H_out, W_out)``.
    """
    if input.ndim != 4:
        raise RuntimeError(f"grid_sampler_2d: expected a 4-D input, got {input.ndim}-D")
    return _sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
    """``grid_sampler`` for a 5-D input.

    Args:
        input, grid, interpolation_mode, padding_mode, align_corners: as in ``grid_sampler``.

    Returns:
        The sampled tensor ``(N, C, D_out, H_out, W_out)``.
    """
    if input.ndim != 5:
        raise RuntimeError(f"grid_sampler_3d: expected a 5-D input, got {input.ndim}-D")
    return _sampler(input, grid, interpolation_mode, padding_mode, align_corners)


def affine_grid_generator(theta, size, align_corners):
    """``F.affine_grid``: the sampling grid of the affine maps ``theta``.

    Args:
        theta: ``(N, 2, 3)`` or ``(N, 3, 4)``.
        size: the target size ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        align_corners: as in ``F.affine_grid``.

    Returns:
        ``(N, H, W, 2)`` or ``(N, D, H, W, 3)``.
    """
    return F.affine_grid(theta, list(size), align_corners)


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """``F.embedding_bag`` with the weight first and the mode as an int (0 sum, 1 mean, 2 max).

    Args:
        weight: ``(num_embeddings, D)``.
        indices: 1-D indices.
        offsets: the start of each bag in ``indices``.
        scale_grad_by_freq: scale gradients by the inverse frequency of the indices in the batch.
        mode: 0, 1 or 2.
        sparse: accepted for the signature; the gradient is dense.
        per_sample_weights: weights of the indices (sum mode).
        include_last_offset: the last offset ends the last bag.
        padding_idx: an index left out of its bag, or None.

    Returns:
        ``(output, offset2bag, bag_size, max_indices)``: the bags ``(B, D)``, the bag of each index, the number
        of indices per bag, and for max mode the index chosen per bag and feature (zeros otherwise).
    """
    if mode not in _BAG_MODES:
        raise RuntimeError(f"embedding_bag: unknown mode {mode} (0 sum, 1 mean, 2 max)")
    output = F.embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq, _BAG_MODES[mode], sparse,
                             per_sample_weights, include_last_offset, padding_idx)
    with no_grad():
        starts = offsets[:-1] if include_last_offset else offsets
        ends = ember.cat([starts[1:], ember.tensor([indices.shape[0]], dtype=starts.dtype, device=starts.device)])
        if include_last_offset:
            ends = offsets[1:].clone()
        positions = ember.arange(indices.shape[0], device=indices.device)
        offset2bag = (positions.unsqueeze(1) >= starts.unsqueeze(0)).sum(1) - 1
        bag_size = (ends - starts).to(dt.int64)
        if mode == 2:
            rows = weight[indices]                                               # (L, D)
            belongs = offset2bag.unsqueeze(1) == ember.arange(starts.shape[0], device=indices.device)
            masked = ember.where(belongs.unsqueeze(2), rows.unsqueeze(1), ember.full_like(rows.unsqueeze(1),
                                                                                   float("-inf")))
            max_indices = indices[masked.argmax(0)]
        else:
            max_indices = ember.zeros(bag_size.shape, dtype=dt.int64, device=indices.device)
    return output, offset2bag.to(dt.int64), bag_size, max_indices


def embedding_renorm_(weight, indices, max_norm, norm_type):
    """Rescale in place the rows of ``weight`` named in ``indices`` whose ``norm_type``-norm exceeds ``max_norm``.

    Args:
        weight: ``(num_embeddings, D)``, changed in place.
        indices: the rows to check.
        max_norm: the largest norm allowed.
        norm_type: the p of the norm.

    Returns:
        ``weight``.
    """
    from ember.nn.functional.misc import _renorm_rows
    _renorm_rows(weight, indices, max_norm, norm_type)
    return weight
