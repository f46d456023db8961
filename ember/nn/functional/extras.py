"""Small names of ``nn.functional``: ``conv_tbc``, ``assert_int_or_pair``, the ``has_torch_function``
checks, and the integer codes of ``grid_sample``'s modes."""
from __future__ import annotations

from ember.dispatch.public_op import dispatch_point
from ember.ops.convolution import conv1d

__all__ = ["conv_tbc", "assert_int_or_pair", "has_torch_function", "has_torch_function_unary",
           "has_torch_function_variadic", "GRID_SAMPLE_INTERPOLATION_MODES", "GRID_SAMPLE_PADDING_MODES"]

# the int each mode name stands for in torch.grid_sampler's arguments
GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}


@dispatch_point("conv_tbc")
def conv_tbc(input, weight, bias, pad=0):
    """1-d convolution of time-batch-channel data.

    Args:
        input: ``(T, N, C_in)``.
        weight: ``(k, C_in, C_out)``.
        bias: ``(C_out,)``.
        pad: zeros added at both ends of the time dim.

    Returns:
        ``(T + 2 * pad - k + 1, N, C_out)``.
    """
    if input.ndim != 3 or weight.ndim != 3:
        raise RuntimeError(f"conv_tbc: expected a 3-D input and weight, got {input.ndim}-D and {weight.ndim}-D")
    if input.shape[2] != weight.shape[1]:
        raise RuntimeError(f"conv_tbc: input channels ({input.shape[2]}) must match the weight's second dim "
                           f"({weight.shape[1]})")
    return conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, 1, pad).permute(2, 0, 1)


def assert_int_or_pair(arg, arg_name, message):
    """Raise ``AssertionError(message.format(arg_name))`` unless ``arg`` is an int or has two entries.

    Args:
        arg: the value to check.
        arg_name: its name, put into ``message``.
        message: a format string with one ``{}``.
    """
    if not (isinstance(arg, int) or len(arg) == 2):
        raise AssertionError(message.format(arg_name))


def _overrides(value) -> bool:
    # ember tensors have no __torch_function__; an object that defines one asks to be dispatched to
    return getattr(type(value), "__torch_function__", None) is not None


def has_torch_function(relevant_args) -> bool:
    """Tell whether any of ``relevant_args`` defines ``__torch_function__``.

    ember's own tensors do not (ember has no ``__torch_function__`` dispatch), so this is True only
    for foreign objects that implement the protocol.

    Args:
        relevant_args: an iterable of arguments.

    Returns:
        True if one of them defines ``__torch_function__``.
    """
    return any(_overrides(a) for a in relevant_args)


def has_torch_function_unary(value) -> bool:
    """``has_torch_function((value,))``.

    Args:
        value: one argument.

    Returns:
        True if it defines ``__torch_function__``.
    """
    return _overrides(value)


def has_torch_function_variadic(*args) -> bool:
    """``has_torch_function(args)``.

    Args:
        *args: the arguments.

    Returns:
        True if one of them defines ``__torch_function__``.
    """
    return any(_overrides(a) for a in args)
