"""Convolutions: conv1d/2d/3d and conv_transpose1d/2d/3d.

Two composites carry all of them, for any number of spatial dims:

* ``conv`` (x, weight, bias; stride, padding, dilation, groups): im2col built from strided
  slices of the padded input (``windows``), then one matmul batched over the groups.
* ``conv_transpose`` (same, plus output_padding): zeros inserted between input elements,
  then ``conv`` with the flipped, transposed kernel.

Both are declared in the op table, so a backend may run a fused kernel instead (the CPU
plugin does); the composites here stay the reference those kernels are tested against.
Their derivatives (``ember/ops/derivatives.py``) are again ``conv`` / ``conv_transpose``
calls built by ``conv_input_grad``, ``conv_weight_grad`` and friends below, so backward
uses the fused kernels too and double backward works. ``ember.nn.functional`` re-exports
the public functions.
"""
from __future__ import annotations

import itertools

from ember.core.tensor import Tensor
from ember.dispatch.public_op import dispatch_point
from ember.dispatch.ops import OPS
from ember.ops.creation import ntuple as _ntuple, zeros
from ember.ops.linalg import matmul
from ember.ops.public import public
from ember.ops.reduction import run_composite
from ember.ops.shape import constant_pad_nd as _pad_constant, flip, stack


# ---------------------------------------------------------------- building blocks
def windows(x, kernel, stride, dilation, kernel_last=False):
    """Sliding windows of an already padded (N, C, *S): (N, C, prod(kernel), *out), or
    (N, C, *out, prod(kernel)) with ``kernel_last`` (what a reduction over each window wants)."""
    nd = len(kernel)
    spatial = x.shape[2:]
    out = [(spatial[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    n, c = x.shape[:2]
    size = 1
    for k in kernel:
        size *= k
    if tuple(kernel) == tuple(stride) and all(d == 1 for d in dilation):
        # non-overlapping windows: a crop, a reshape and one permute
        x = x[(slice(None), slice(None)) + tuple(slice(0, o * k) for o, k in zip(out, kernel))]
        split = [n, c]
        for o, k in zip(out, kernel):
            split += [o, k]
        x = x.reshape(split)
        outer = [2 + 2 * i for i in range(nd)]
        inner = [3 + 2 * i for i in range(nd)]
        if kernel_last:
            return x.permute([0, 1] + outer + inner).reshape(n, c, *out, size)
        return x.permute([0, 1] + inner + outer).reshape(n, c, size, *out)
    pieces = []
    for offsets in itertools.product(*[range(k) for k in kernel]):
        key = (slice(None), slice(None)) + tuple(
            slice(offsets[i] * dilation[i], offsets[i] * dilation[i] + (out[i] - 1) * stride[i] + 1, stride[i])
            for i in range(nd))
        pieces.append(x[key])
    return stack(pieces, -1 if kernel_last else 2)


def _dilate(x, stride):
    """Insert ``stride - 1`` zeros between neighbouring elements of each spatial dim."""
    for i, s in enumerate(stride):
        if s == 1:
            continue
        dim = 2 + i
        size = x.shape[dim]
        gap = zeros(x.shape, dtype=x.dtype, device=x.device)
        spread = stack([x] + [gap] * (s - 1), dim + 1)
        shape = list(x.shape)
        shape[dim] = size * s
        x = spread.reshape(shape).narrow(dim, 0, (size - 1) * s + 1)
    return x


def _conv_reference(x, weight, bias, *, stride, padding, dilation, groups):
    """The ``conv`` composite (the reference a fused kernel must match)."""
    nd = weight.ndim - 2
    if any(padding):
        amounts = []
        for p in reversed(padding):
            amounts += [p, p]
        x = _pad_constant(x, tuple(amounts), 0)
    kernel = tuple(weight.shape[2:])
    cols = windows(x, kernel, stride, dilation)              # (N, C, K, *out)
    n, c, k = cols.shape[:3]
    out_sizes = tuple(cols.shape[3:])
    length = 1
    for o in out_sizes:
        length *= o
    o_channels = weight.shape[0]
    cols = cols.reshape(n, groups, (c // groups) * k, length)
    w = weight.reshape(groups, o_channels // groups, (c // groups) * k)
    out = matmul(w, cols).reshape(n, o_channels, *out_sizes)
    if bias is not None:
        out = out + bias.reshape(o_channels, *([1] * nd))
    return out


def _transposed_weight(weight, groups):
    """(Cin, Cout/G, *k) -> the (Cout, Cin/G, *k) kernel, flipped, of the equivalent conv."""
    nd = weight.ndim - 2
    c_in, c_out_g = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    w = weight.reshape(groups, c_in // groups, c_out_g, *kernel).transpose(1, 2)
    w = w.reshape(groups * c_out_g, c_in // groups, *kernel)
    return flip(w, tuple(range(2, 2 + nd)))


def _conv_transpose_reference(x, weight, bias, *, stride, padding, output_padding, dilation, groups):
    """The ``conv_transpose`` composite: zero insertion, then a stride-1 conv."""
    nd = weight.ndim - 2
    kernel = tuple(weight.shape[2:])
    x = _dilate(x, stride)
    amounts = []
    for i in reversed(range(nd)):
        edge = dilation[i] * (kernel[i] - 1) - padding[i]
        amounts += [edge, edge + output_padding[i]]
    x = _pad_constant(x, tuple(amounts), 0)
    return _conv_reference(x, _transposed_weight(weight, groups), bias, stride=(1,) * nd, padding=(0,) * nd,
                           dilation=dilation, groups=groups)


OPS["conv"].decomposition = _conv_reference
OPS["conv_transpose"].decomposition = _conv_transpose_reference


def _conv(x, weight, bias, *, stride, padding, dilation, groups):
    return run_composite(OPS["conv"], x, weight, bias, stride=tuple(stride),
                         padding=tuple(padding), dilation=tuple(dilation), groups=groups)


def _conv_transpose(x, weight, bias, *, stride, padding, output_padding, dilation, groups):
    return run_composite(OPS["conv_transpose"], x, weight, bias,
                         stride=tuple(stride), padding=tuple(padding), output_padding=tuple(output_padding),
                         dilation=tuple(dilation), groups=groups)


# ---------------------------------------------------------------- gradients (used by the derivative rules)
def conv_input_grad(grad, weight, input_shape, *, stride, padding, dilation, groups):
    """d(conv)/d(input): the transposed conv of the output gradient."""
    nd = weight.ndim - 2
    kernel = weight.shape[2:]
    out_sizes = grad.shape[2:]
    output_padding = tuple(input_shape[2 + i] + 2 * padding[i]
                           - ((out_sizes[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1)
                           for i in range(nd))
    return _conv_transpose(grad, weight, None, stride=stride, padding=padding, output_padding=output_padding,
                           dilation=dilation, groups=groups)


def conv_weight_grad(x, grad, kernel, *, stride, padding, dilation, groups):
    """d(conv)/d(weight) as one grouped conv: batch and channels trade places, stride and dilation too.

    ``x`` (N, C, *S) is the conv input, ``grad`` (N, O, *out) the output gradient; returns
    (O, C/G, *kernel). With x := the output gradient and grad := the input it is also the
    weight gradient of ``conv_transpose``.
    """
    nd = len(kernel)
    n, c = x.shape[:2]
    o = grad.shape[1]
    spatial = tuple(range(3, 3 + nd))
    xt = x.reshape(n, groups, c // groups, *x.shape[2:]).permute(2, 1, 0, *spatial)
    xt = xt.reshape(c // groups, groups * n, *x.shape[2:])
    gt = grad.reshape(n, groups, o // groups, *grad.shape[2:]).permute(1, 2, 0, *spatial)
    gt = gt.reshape(o, n, *grad.shape[2:])
    w = _conv(xt, gt, None, stride=dilation, padding=padding, dilation=stride, groups=groups)
    w = w[(slice(None), slice(None)) + tuple(slice(0, k) for k in kernel)]
    return w.transpose(0, 1)


def conv_transpose_input_grad(grad, weight, input_shape, *, stride, padding, dilation, groups):
    """d(conv_transpose)/d(input): the plain conv of the output gradient."""
    out = _conv(grad, weight, None, stride=stride, padding=padding, dilation=dilation, groups=groups)
    if tuple(out.shape) != tuple(input_shape):
        out = out[(slice(None), slice(None)) + tuple(slice(0, s) for s in input_shape[2:])]
    return out


def bias_grad(grad):
    return grad.sum((0,) + tuple(range(2, grad.ndim)))


# ---------------------------------------------------------------- argument checks
def _prepare(input, weight, bias, nd, name):
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{name}(): argument 'input' and 'weight' must be Tensors, got "
                        f"{type(input).__name__} and {type(weight).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got "
                           f"input of size: {list(input.shape)}")
    if weight.ndim != nd + 2:
        raise RuntimeError(f"{name}: expected weight to be {nd + 2}-dimensional, but got weight of size "
                           f"{list(weight.shape)}")
    if input.dtype is not weight.dtype or (bias is not None and bias.dtype is not input.dtype):
        other = weight.dtype if input.dtype is not weight.dtype else bias.dtype
        raise RuntimeError(f"Input type ({input.dtype}) and {'weight' if other is weight.dtype else 'bias'} "
                           f"type ({other}) should be the same")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"{name}\" not implemented for '{input.dtype}': use a floating point input")
    return input.unsqueeze(0) if input.ndim == nd + 1 else input, input.ndim == nd + 2


def _check_groups(x, weight, bias, groups, transposed):
    if groups <= 0:
        raise RuntimeError(f"non-positive groups is not supported, got groups={groups}")
    c_in = x.shape[1]
    if transposed:
        if weight.shape[0] != c_in:
            raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
                               f"{list(x.shape)} to have {weight.shape[0]} channels, but got {c_in} channels "
                               f"instead")
        if c_in % groups:
            raise RuntimeError(f"Given groups={groups}, expected input channels {c_in} to be divisible by groups")
        out_channels = weight.shape[1] * groups
    else:
        if weight.shape[0] % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                               f"but got weight of size {list(weight.shape)} instead")
        if weight.shape[1] * groups != c_in:
            raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
                               f"{list(x.shape)} to have {weight.shape[1] * groups} channels, but got {c_in} "
                               f"channels instead")
        out_channels = weight.shape[0]
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be 1-dimensional with "
                           f"{out_channels} elements, but got bias of size {list(bias.shape)} instead")


def _check_output(x, kernel, stride, padding, dilation):
    for name_, values in (("stride", stride), ("dilation", dilation)):
        if any(v <= 0 for v in values):
            raise RuntimeError(f"non-positive {name_} is not supported, got {name_}={list(values)}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"negative padding is not supported, got padding={list(padding)}")
    spatial = x.shape[2:]
    out = [(spatial[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
           for i in range(len(kernel))]
    padded = [spatial[i] + 2 * padding[i] for i in range(len(kernel))]
    extent = [dilation[i] * (kernel[i] - 1) + 1 for i in range(len(kernel))]
    if min(out) <= 0 or any(p < e for p, e in zip(padded, extent)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                           f"Kernel size: ({' x '.join(map(str, extent))}). "
                           f"Kernel size can't be greater than actual input size")


def _convnd(input, weight, bias, stride, padding, dilation, groups, nd, name):
    x, batched = _prepare(input, weight, bias, nd, name)
    stride = _ntuple(stride, nd, "stride")
    dilation = _ntuple(dilation, nd, "dilation")
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = [dilation[i] * (kernel[i] - 1) for i in range(nd)]
            padding = tuple(t // 2 for t in total)
            extra = [t - 2 * (t // 2) for t in total]
            if any(extra):  # an odd total: the extra element goes on the right, as in PyTorch
                amounts = []
                for e in reversed(extra):
                    amounts += [0, e]
                x = _pad_constant(x, tuple(amounts), 0)
        else:
            raise RuntimeError(f"Invalid padding string '{padding}', should be one of ['valid', 'same']")
    else:
        padding = _ntuple(padding, nd, "padding")
    _check_groups(x, weight, bias, groups, False)
    _check_output(x, kernel, stride, padding, dilation)
    out = _conv(x, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=int(groups))
    return out if batched else out.squeeze(0)


def _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, nd, name):
    x, batched = _prepare(input, weight, bias, nd, name)
    stride = _ntuple(stride, nd, "stride")
    padding = _ntuple(padding, nd, "padding")
    output_padding = _ntuple(output_padding, nd, "output_padding")
    dilation = _ntuple(dilation, nd, "dilation")
    _check_groups(x, weight, bias, groups, True)
    for name_, values in (("stride", stride), ("dilation", dilation)):
        if any(v <= 0 for v in values):
            raise RuntimeError(f"non-positive {name_} is not supported, got {name_}={list(values)}")
    if any(p < 0 for p in padding) or any(p < 0 for p in output_padding):
        raise RuntimeError(f"negative padding is not supported, got padding={list(padding)}, "
                           f"output_padding={list(output_padding)}")
    for i in range(nd):
        if output_padding[i] >= stride[i] and output_padding[i] >= dilation[i]:
            raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                               f"output_padding={list(output_padding)}, stride={list(stride)}, "
                               f"dilation={list(dilation)}")
    kernel = weight.shape[2:]
    out = [(x.shape[2 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1)
           + output_padding[i] + 1 for i in range(nd)]
    if min(out) <= 0:
        raise RuntimeError(f"Given input size per channel: {list(x.shape[2:])}, calculated output size per "
                           f"channel: {out}. Output size is too small")
    y = _conv_transpose(x, weight, bias, stride=stride, padding=padding, output_padding=output_padding,
                        dilation=dilation, groups=int(groups))
    return y if batched else y.squeeze(0)


# ---------------------------------------------------------------- public functions
@public
@dispatch_point("conv1d")
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution over (N, C, L) or (C, L).

    As in PyTorch, this is a cross-correlation: the kernel slides over ``input`` without being flipped.

    Args:
        input: ``(N, C_in, L)``, or ``(C_in, L)`` without a batch dimension; a floating point tensor.
        weight: the kernel, ``(C_out, C_in / groups, k)``, of ``input``'s dtype.
        bias: ``(C_out,)``, added to each output channel, or ``None`` (the default) for none.
        stride: the step between neighbouring windows, an int or a 1-tuple (default 1).
        padding: an int or a 1-tuple (default 0): zeros added on both sides of each spatial dimension;
            or ``"valid"`` (no padding) or ``"same"`` (the output has the input's spatial size; only with
            stride 1, and when the total padding of a dimension is odd the extra zero goes at the end).
        dilation: the spacing between the kernel's taps, an int or a 1-tuple (default 1).
        groups: split the channels into this many groups, each convolved with its own slice of ``weight``;
            ``C_in`` and ``C_out`` must both be divisible by it (default 1).

    Returns:
        A new tensor ``(N, C_out, L_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1``.

    Raises:
        TypeError: if ``input`` or ``weight`` is not a tensor.
        RuntimeError: for an input of the wrong number of dimensions or a non-floating dtype, dtypes that
            differ between ``input``, ``weight`` and ``bias``, channel counts that do not fit ``weight`` and
            ``groups``, a ``bias`` of the wrong shape, non-positive ``stride``, ``dilation`` or ``groups``,
            negative ``padding``, an unknown padding string, ``"same"`` with a stride above 1, or a kernel
            that does not fit in the padded input.
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


@public
@dispatch_point("conv2d")
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution over (N, C, H, W) or (C, H, W).

    As in PyTorch, this is a cross-correlation: the kernel slides over ``input`` without being flipped.

    Args:
        input: ``(N, C_in, H, W)``, or ``(C_in, H, W)`` without a batch dimension; a floating point tensor.
        weight: the kernel, ``(C_out, C_in / groups, kH, kW)``, of ``input``'s dtype.
        bias: ``(C_out,)``, added to each output channel, or ``None`` (the default) for none.
        stride: the step between neighbouring windows, an int or a pair (H, W) (default 1).
        padding: an int or a pair (H, W) (default 0): zeros added on both sides of each spatial dimension;
            or ``"valid"`` (no padding) or ``"same"`` (the output has the input's spatial size; only with
            stride 1, and when the total padding of a dimension is odd the extra zero goes at the end).
        dilation: the spacing between the kernel's taps, an int or a pair (H, W) (default 1).
        groups: split the channels into this many groups, each convolved with its own slice of ``weight``;
            ``C_in`` and ``C_out`` must both be divisible by it (default 1).

    Returns:
        A new tensor ``(N, C_out, H_out, W_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1``.

    Raises:
        TypeError: if ``input`` or ``weight`` is not a tensor.
        RuntimeError: for an input of the wrong number of dimensions or a non-floating dtype, dtypes that
            differ between ``input``, ``weight`` and ``bias``, channel counts that do not fit ``weight`` and
            ``groups``, a ``bias`` of the wrong shape, non-positive ``stride``, ``dilation`` or ``groups``,
            negative ``padding``, an unknown padding string, ``"same"`` with a stride above 1, or a kernel
            that does not fit in the padded input.
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


@public
@dispatch_point("conv3d")
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution over (N, C, D, H, W) or (C, D, H, W).

    As in PyTorch, this is a cross-correlation: the kernel slides over ``input`` without being flipped.

    Args:
        input: ``(N, C_in, D, H, W)``, or ``(C_in, D, H, W)`` without a batch dimension; a floating point tensor.
        weight: the kernel, ``(C_out, C_in / groups, kD, kH, kW)``, of ``input``'s dtype.
        bias: ``(C_out,)``, added to each output channel, or ``None`` (the default) for none.
        stride: the step between neighbouring windows, an int or a triple (D, H, W) (default 1).
        padding: an int or a triple (D, H, W) (default 0): zeros added on both sides of each spatial dimension;
            or ``"valid"`` (no padding) or ``"same"`` (the output has the input's spatial size; only with
            stride 1, and when the total padding of a dimension is odd the extra zero goes at the end).
        dilation: the spacing between the kernel's taps, an int or a triple (D, H, W) (default 1).
        groups: split the channels into this many groups, each convolved with its own slice of ``weight``;
            ``C_in`` and ``C_out`` must both be divisible by it (default 1).

    Returns:
        A new tensor ``(N, C_out, D_out, H_out, W_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = floor((in + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1``.

    Raises:
        TypeError: if ``input`` or ``weight`` is not a tensor.
        RuntimeError: for an input of the wrong number of dimensions or a non-floating dtype, dtypes that
            differ between ``input``, ``weight`` and ``bias``, channel counts that do not fit ``weight`` and
            ``groups``, a ``bias`` of the wrong shape, non-positive ``stride``, ``dilation`` or ``groups``,
            negative ``padding``, an unknown padding string, ``"same"`` with a stride above 1, or a kernel
            that does not fit in the padded input.
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


@public
@dispatch_point("conv_transpose1d")
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-d transposed convolution over (N, C, L) or (C, L); the input gradient of ``conv1d``.

    Each input element scatters a copy of the kernel, scaled by it, into the output; copies for neighbouring
    inputs are ``stride`` apart, so this maps the output size of a strided convolution back to its input size.

    Args:
        input: ``(N, C_in, L)``, or ``(C_in, L)`` without a batch dimension; a floating point tensor.
        weight: the kernel, ``(C_in, C_out / groups, k)`` (note: input channels first), of ``input``'s
            dtype.
        bias: ``(C_out,)``, added to each output channel, or ``None`` (the default) for none.
        stride: the step in the output between neighbouring input elements, an int or a 1-tuple (default 1).
        padding: how much is cut from both sides of each spatial dimension of the full output (the padding
            of the convolution this undoes), an int or a 1-tuple (default 0).
        output_padding: an int or a 1-tuple (default 0): extra size added at the end of each spatial
            dimension of the output, to choose among the sizes that a strided convolution maps to the same
            size; each must be smaller than the stride or the dilation of its dimension.
        groups: split the channels into this many groups, each with its own slice of ``weight``; ``C_in``
            must be divisible by it (default 1).
        dilation: the spacing between the kernel's taps, an int or a 1-tuple (default 1).

    Returns:
        A new tensor ``(N, C_out, L_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``.

    Raises:
        TypeError: if ``input`` or ``weight`` is not a tensor.
        RuntimeError: for an input of the wrong number of dimensions or a non-floating dtype, dtypes that
            differ between ``input``, ``weight`` and ``bias``, channel counts that do not fit ``weight`` and
            ``groups``, a ``bias`` of the wrong shape, non-positive ``stride``, ``dilation`` or ``groups``,
            negative ``padding`` or ``output_padding``, an ``output_padding`` not smaller than either the
            stride or the dilation, or an output size that is not positive.
    """
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 1,
                             "conv_transpose1d")


@public
@dispatch_point("conv_transpose2d")
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-d transposed convolution over (N, C, H, W) or (C, H, W); the input gradient of ``conv2d``.

    Each input element scatters a copy of the kernel, scaled by it, into the output; copies for neighbouring
    inputs are ``stride`` apart, so this maps the output size of a strided convolution back to its input size.

    Args:
        input: ``(N, C_in, H, W)``, or ``(C_in, H, W)`` without a batch dimension; a floating point tensor.
        weight: the kernel, ``(C_in, C_out / groups, kH, kW)`` (note: input channels first), of ``input``'s
            dtype.
        bias: ``(C_out,)``, added to each output channel, or ``None`` (the default) for none.
        stride: the step in the output between neighbouring input elements, an int or a pair (H, W) (default 1).
        padding: how much is cut from both sides of each spatial dimension of the full output (the padding
            of the convolution this undoes), an int or a pair (H, W) (default 0).
        output_padding: an int or a pair (H, W) (default 0): extra size added at the end of each spatial
            dimension of the output, to choose among the sizes that a strided convolution maps to the same
            size; each must be smaller than the stride or the dilation of its dimension.
        groups: split the channels into this many groups, each with its own slice of ``weight``; ``C_in``
            must be divisible by it (default 1).
        dilation: the spacing between the kernel's taps, an int or a pair (H, W) (default 1).

    Returns:
        A new tensor ``(N, C_out, H_out, W_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``.

    Raises:
        TypeError: if ``input`` or ``weight`` is not a tensor.
        RuntimeError: for an input of the wrong number of dimensions or a non-floating dtype, dtypes that
            differ between ``input``, ``weight`` and ``bias``, channel counts that do not fit ``weight`` and
            ``groups``, a ``bias`` of the wrong shape, non-positive ``stride``, ``dilation`` or ``groups``,
            negative ``padding`` or ``output_padding``, an ``output_padding`` not smaller than either the
            stride or the dilation, or an output size that is not positive.
    """
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                             "conv_transpose2d")


@public
@dispatch_point("conv_transpose3d")
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-d transposed convolution over (N, C, D, H, W) or (C, D, H, W); the input gradient of ``conv3d``.

    Each input element scatters a copy of the kernel, scaled by it, into the output; copies for neighbouring
    inputs are ``stride`` apart, so this maps the output size of a strided convolution back to its input size.

    Args:
        input: ``(N, C_in, D, H, W)``, or ``(C_in, D, H, W)`` without a batch dimension; a floating point tensor.
        weight: the kernel, ``(C_in, C_out / groups, kD, kH, kW)`` (note: input channels first), of ``input``'s
            dtype.
        bias: ``(C_out,)``, added to each output channel, or ``None`` (the default) for none.
        stride: the step in the output between neighbouring input elements, an int or a triple (D, H, W) (default 1).
        padding: how much is cut from both sides of each spatial dimension of the full output (the padding
            of the convolution this undoes), an int or a triple (D, H, W) (default 0).
        output_padding: an int or a triple (D, H, W) (default 0): extra size added at the end of each spatial
            dimension of the output, to choose among the sizes that a strided convolution maps to the same
            size; each must be smaller than the stride or the dilation of its dimension.
        groups: split the channels into this many groups, each with its own slice of ``weight``; ``C_in``
            must be divisible by it (default 1).
        dilation: the spacing between the kernel's taps, an int or a triple (D, H, W) (default 1).

    Returns:
        A new tensor ``(N, C_out, D_out, H_out, W_out)`` (no ``N`` for an unbatched input), where for each spatial
        dimension ``out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``.

    Raises:
        TypeError: if ``input`` or ``weight`` is not a tensor.
        RuntimeError: for an input of the wrong number of dimensions or a non-floating dtype, dtypes that
            differ between ``input``, ``weight`` and ``bias``, channel counts that do not fit ``weight`` and
            ``groups``, a ``bias`` of the wrong shape, non-positive ``stride``, ``dilation`` or ``groups``,
            negative ``padding`` or ``output_padding``, an ``output_padding`` not smaller than either the
            stride or the dilation, or an output size that is not positive.
    """
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation, 3,
                             "conv_transpose3d")
