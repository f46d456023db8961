"""Modules exported whole, as the ONNX ops made for them, rather than captured op by op.

Captured op by op, some layers fix sizes that ONNX's own ops leave free: a recurrent layer unrolls
into its time steps, and adaptive average pooling builds its averaging windows for one input size.
During the export such modules' ``forward`` is replaced (on the instance, and put back afterwards)
by one that records the whole call as a single graph node (``ember.dispatch.tracing.recorded``);
the node is written as ONNX ``RNN``/``LSTM``/``GRU`` (``_rnn``) or ``GlobalAveragePool``, so the
exported model runs at any sequence length or image size. Modules those ops cannot express run
and are captured op by op as before.
"""
from __future__ import annotations

import contextlib

from ember.dispatch.tracing import recorded
from ember.onnx import _rnn


@recorded
def global_average_pool(module, input):
    """An adaptive average pooling to size 1 as one graph node.

    Args:
        module: the ``AdaptiveAvgPool{1,2,3}d`` module.
        input: its input.

    Returns:
        The module's result.
    """
    return type(module).forward(module, input)


def _pools_to_one(module) -> bool:
    size = module.output_size
    sizes = size if isinstance(size, (tuple, list)) else (size,)
    return all(s == 1 for s in sizes)


def _recorded_pool(module):
    def forward(input):
        return global_average_pool(module, input)
    return forward


@contextlib.contextmanager
def modules_as_nodes(model):
    """Within the context, the submodules of ``model`` that have ONNX ops of their own run as one recorded node.

    Args:
        model: the exported model (a Module; for a function nothing changes).

    Yields:
        None.
    """
    from ember.nn.modules.module import Module
    from ember.nn.modules.pooling import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d
    from ember.nn.modules.rnn import RNNBase
    patched = []
    if isinstance(model, Module):
        for m in model.modules():
            if "forward" in m.__dict__:   # already replaced on the instance by its owner: left alone
                continue
            if isinstance(m, RNNBase) and _rnn.native(m):
                forward = _rnn.recorded_forward(m)
            elif isinstance(m, (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d)) and _pools_to_one(m):
                forward = _recorded_pool(m)
            else:
                continue
            object.__setattr__(m, "forward", forward)
            patched.append(m)
    try:
        yield
    finally:
        for m in patched:
            m.__dict__.pop("forward", None)


def translate_global_average_pool(c):
    """``GlobalAveragePool`` (or a mean over the spatial dims of an unbatched input)."""
    module, input = c.args
    ndim = len(c.shape(input))
    batched = ndim == {"AdaptiveAvgPool1d": 3, "AdaptiveAvgPool2d": 4, "AdaptiveAvgPool3d": 5}[type(module).__name__]
    x = c.v(input)
    if batched:
        return c.em.op("GlobalAveragePool", [x])
    # an unbatched (C, *spatial) input: pooled with a batch dim of one added
    return c.em.squeeze(c.em.op("GlobalAveragePool", [c.em.unsqueeze(x, [0])]), [0])
