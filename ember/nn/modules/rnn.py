"""Recurrent layers: RNN (tanh / relu), LSTM (with optional projection), GRU, and their cells.

Parameter names, shapes, gate order and initialisation follow PyTorch, so state_dicts
interoperate: ``weight_ih_l{k}[_reverse]`` (gates x input), ``weight_hh_l{k}[_reverse]``,
``bias_ih_l{k}``, ``bias_hh_l{k}``, ``weight_hr_l{k}`` (LSTM projection); gates stacked
as (i, f, g, o) for LSTM and (r, z, n) for GRU; every weight ~ U(-1/sqrt(hidden), 1/sqrt(hidden)).

Each layer projects the whole input sequence with one matmul, then steps through time
with one matmul per step, all in ember ops (so it runs and differentiates everywhere).
"""
from __future__ import annotations

import math
import numbers
import warnings

import ember
from ember.dispatch.public_op import dispatch_point
from ember.nn import functional as F
from ember.nn import init
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.nn.utils.rnn import PackedSequence
from ember.ops.creation import empty

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _linear(x, weight, bias):
    out = ember.matmul(x, weight.transpose(0, 1))
    return out + bias if bias is not None else out


@dispatch_point("rnn_cell")  # PyTorch's lstm_cell / gru_cell / rnn_tanh_cell / rnn_relu_cell, for autocast
def _cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step of a cell module: -> (h', c')."""
    return _rnn_step(mode, _linear(x, w_ih, b_ih), h, c, w_hh, b_hh, None)


# ---------------------------------------------------------------- one time step, given x @ W_ih^T + b_ih
def _rnn_step(mode, xw, h, c, w_hh, b_hh, w_hr):
    """-> (h', c') for one step; ``xw`` is the input's projection (with b_ih)."""
    hw = _linear(h, w_hh, b_hh)
    if mode == "LSTM":
        i, f, g, o = (xw + hw).chunk(4, -1)
        c = ember.sigmoid(f) * c + ember.sigmoid(i) * ember.tanh(g)
        h = ember.sigmoid(o) * ember.tanh(c)
        if w_hr is not None:
            h = ember.matmul(h, w_hr.transpose(0, 1))
        return h, c
    if mode == "GRU":
        x_r, x_z, x_n = xw.chunk(3, -1)
        h_r, h_z, h_n = hw.chunk(3, -1)
        r = ember.sigmoid(x_r + h_r)
        z = ember.sigmoid(x_z + h_z)
        n = ember.tanh(x_n + r * h_n)
        return n + z * (h - n), None
    pre = xw + hw
    return (ember.tanh(pre) if mode == "RNN_TANH" else ember.relu(pre)), None


class RNNBase(Module):
    """Base class of ``RNN``, ``LSTM`` and ``GRU``: the parameters, the checks and the layer loop.

    Use one of the subclasses. The parameters of layer ``k`` are ``weight_ih_l{k}``,
    ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}`` (and ``weight_hr_l{k}`` for a
    projected LSTM), with a ``_reverse`` suffix for the backward direction; all start as
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Args:
        mode: ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``.
        input_size: the number of features ``H_in`` of each input step.
        hidden_size: the number of features ``H`` of the hidden state.
        num_layers: the number of stacked recurrent layers; each one after the first reads the
            previous layer's output sequence (default: 1).
        bias: if False, the layers learn no ``bias_ih_l{k}`` / ``bias_hh_l{k}``.
        batch_first: if True, batched input and output are ``(N, L, *)`` instead of ``(L, N, *)``
            (the hidden states stay ``(layers, N, *)``).
        dropout: if non-zero, dropout with this probability is applied, in training mode, to the
            output of every layer but the last (default: 0).
        bidirectional: if True, every layer also runs over the reversed sequence and the two
            outputs are concatenated (default: False).
        proj_size: (LSTM only) if above 0, each output ``h_t`` is projected to ``proj_size`` features by a
            learned ``weight_hr_l{k}`` of shape ``(proj_size, hidden_size)``; it must be smaller
            than ``hidden_size`` (default: 0).
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}")
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [(f"weight_ih_l{layer}{suffix}", (gate_size, layer_input)),
                          (f"weight_hh_l{layer}{suffix}", (gate_size, real_hidden))]
                if bias:
                    shapes += [(f"bias_ih_l{layer}{suffix}", (gate_size,)),
                               (f"bias_hh_l{layer}{suffix}", (gate_size,))]
                if proj_size > 0:
                    shapes.append((f"weight_hr_l{layer}{suffix}", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name, Parameter(empty(*shape, device=device, dtype=dtype)))
                self._flat_weights_names.extend(name for name, _ in shapes)
                self._all_weights.append([name for name, _ in shapes])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (in place)."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def flatten_parameters(self) -> None:
        """Kept for compatibility: ember's weights need no flattening."""

    @property
    def _flat_weights(self):
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters grouped by layer and direction.

        Returns:
            A list with one list per (layer, direction), each holding that layer's
            ``weight_ih``, ``weight_hh`` and, when present, ``bias_ih``, ``bias_hh`` and ``weight_hr``.
        """
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        """Show the sizes and the settings that differ from their defaults."""
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------ forward
    def _layer_weights(self, layer, direction):
        suffix = "_reverse" if direction == 1 else ""
        get = lambda name: getattr(self, f"{name}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")

    def _check_hidden(self, hx, expected, name="hidden"):
        if tuple(hx.shape) != tuple(expected):
            raise RuntimeError(f"Expected {name} size {tuple(expected)}, got {list(hx.shape)}")

    def _prepare(self, input, hx):
        """-> (sequence-first batched input, h0, c0, batched) with checks as PyTorch does them."""
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.ndim}D tensor "
                             f"instead")
        batched = input.ndim == 3
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{input.shape[-1]}")
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        batch = x.shape[1]
        directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        h_shape = (self.num_layers * directions, batch, real_hidden)
        c_shape = (self.num_layers * directions, batch, self.hidden_size)
        if hx is None:
            h0 = ember.zeros(h_shape, dtype=x.dtype, device=x.device)
            c0 = ember.zeros(c_shape, dtype=x.dtype, device=x.device) if self.mode == "LSTM" else None
            return x, h0, c0, batched
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
            h0, c0 = hx
        else:
            if not isinstance(hx, ember.Tensor):
                raise RuntimeError(f"{type(self).__name__} expects hx to be a Tensor, got {type(hx).__name__}")
            h0, c0 = hx, None
        for t in (h0, c0):
            if t is None:
                continue
            if batched and t.ndim != 3:
                raise RuntimeError(f"For batched 3-D input, hx and cx should also be 3-D but got {t.ndim}-D "
                                   f"tensor")
            if not batched and t.ndim != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx and cx should also be 2-D but got {t.ndim}-D "
                                   f"tensor")
        if not batched:
            h0 = h0.unsqueeze(1)
            c0 = c0.unsqueeze(1) if c0 is not None else None
        self._check_hidden(h0, h_shape)
        if c0 is not None:
            self._check_hidden(c0, c_shape, "cell")
        return x, h0, c0, batched

    def _run(self, x, h0, c0):
        directions = 2 if self.bidirectional else 1
        steps = x.shape[0]
        h_last, c_last = [], []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_weights(layer, direction)
                index = layer * directions + direction
                h = h0[index]
                c = c0[index] if c0 is not None else None
                projected = _linear(layer_input, w_ih, b_ih)           # (L, N, gates)
                seq = [None] * steps
                order = range(steps - 1, -1, -1) if direction == 1 else range(steps)
                for t in order:
                    h, c = _rnn_step(self.mode, projected[t], h, c, w_hh, b_hh, w_hr)
                    seq[t] = h
                outputs.append(ember.stack(seq) if steps else
                               ember.zeros((0,) + tuple(h.shape), dtype=x.dtype, device=x.device))
                h_last.append(h)
                if c is not None:
                    c_last.append(c)
            layer_input = outputs[0] if directions == 1 else ember.cat(outputs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        h_n = ember.stack(h_last)
        c_n = ember.stack(c_last) if c_last else None
        return layer_input, h_n, c_n

    def _forward_packed(self, packed, hx):
        """``forward`` for a ``PackedSequence``: states in the batch's original order, ``h_n`` at each
        sequence's own last step."""
        data, batch_sizes = packed.data, [int(n) for n in packed.batch_sizes.tolist()]
        if data.ndim != 2 or data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{data.shape[-1]}")
        batch = batch_sizes[0]
        directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        h_shape = (self.num_layers * directions, batch, real_hidden)
        c_shape = (self.num_layers * directions, batch, self.hidden_size)
        lstm = self.mode == "LSTM"
        if hx is None:
            h0 = ember.zeros(h_shape, dtype=data.dtype, device=data.device)
            c0 = ember.zeros(c_shape, dtype=data.dtype, device=data.device) if lstm else None
        else:
            if lstm and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
            h0, c0 = hx if lstm else (hx, None)
            self._check_hidden(h0, h_shape)
            if c0 is not None:
                self._check_hidden(c0, c_shape, "cell")
            if packed.sorted_indices is not None:   # the states follow the batch's sorting
                h0 = h0.index_select(1, packed.sorted_indices)
                c0 = c0.index_select(1, packed.sorted_indices) if c0 is not None else None
        output, h_n, c_n = self._run_packed(data, batch_sizes, h0, c0)
        if packed.unsorted_indices is not None:
            h_n = h_n.index_select(1, packed.unsorted_indices)
            c_n = c_n.index_select(1, packed.unsorted_indices) if c_n is not None else None
        output = PackedSequence(output, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        return (output, (h_n, c_n)) if lstm else (output, h_n)

    def _run_packed(self, data, batch_sizes, h0, c0):
        """The layer loop over packed ``data``: step ``t`` updates the first ``batch_sizes[t]`` rows of
        the state; finished (forward) or not yet started (reverse) rows keep theirs."""
        directions = 2 if self.bidirectional else 1
        offsets = [0]
        for n in batch_sizes:
            offsets.append(offsets[-1] + n)
        h_last, c_last = [], []
        layer_input = data
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(directions):
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_weights(layer, direction)
                index = layer * directions + direction
                h = h0[index]
                c = c0[index] if c0 is not None else None
                projected = _linear(layer_input, w_ih, b_ih)           # (sum of lengths, gates)
                seq = [None] * len(batch_sizes)
                order = range(len(batch_sizes) - 1, -1, -1) if direction == 1 else range(len(batch_sizes))
                for t in order:
                    n = batch_sizes[t]
                    h_t, c_t = _rnn_step(self.mode, projected[offsets[t]:offsets[t + 1]], h[:n],
                                         c[:n] if c is not None else None, w_hh, b_hh, w_hr)
                    seq[t] = h_t
                    h = h_t if n == h.shape[0] else ember.cat([h_t, h[n:]])
                    if c is not None:
                        c = c_t if n == c.shape[0] else ember.cat([c_t, c[n:]])
                outputs.append(ember.cat(seq))
                h_last.append(h)
                if c is not None:
                    c_last.append(c)
            layer_input = outputs[0] if directions == 1 else ember.cat(outputs, -1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, ember.stack(h_last), (ember.stack(c_last) if c_last else None)

    def forward(self, input, hx=None):
        """Run the recurrent layers over a whole sequence.

        Args:
            input: a padded sequence ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``) or an
                unbatched ``(L, H_in)``, or a ``PackedSequence`` (then ``output`` is one too).
            hx: the initial hidden state, zeros when None: a tensor
                ``(num_layers * num_directions, N, H_out)`` (``(num_layers * num_directions, H_out)``
                for unbatched input); for an LSTM a pair ``(h_0, c_0)``, ``c_0`` having ``hidden_size``
                features.

        Returns:
            ``(output, h_n)`` (for an LSTM ``(output, (h_n, c_n))``): ``output`` holds the last
            layer's hidden state at every step, ``(L, N, num_directions * H_out)`` (batch first with
            ``batch_first``), and ``h_n`` (and ``c_n``) the final state of every layer and direction,
            shaped as ``hx``. For a ``PackedSequence``, ``output`` is packed like ``input`` and ``h_n``
            holds each sequence's state at its own last step, in the batch's original order.
        """
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        x, h0, c0, batched = self._prepare(input, hx)
        output, h_n, c_n = self._run(x, h0, c0)
        if batched and self.batch_first:
            output = output.transpose(0, 1)
        if not batched:
            output = output.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        if self.mode == "LSTM":
            return output, (h_n, c_n)
        return output, h_n


class RNN(RNNBase):
    """Applies a multi-layer Elman RNN to a sequence.

    Each layer computes ``h_t = act(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)`` with ``act``
    tanh or relu. ``weight_ih_l{k}`` has shape ``(hidden_size, input_size)`` for the first
    layer, ``weight_hh_l{k}`` ``(hidden_size, hidden_size)``.

    Args:
        input_size: the number of features ``H_in`` of each input step.
        hidden_size: the number of features ``H`` of the hidden state.
        num_layers: the number of stacked recurrent layers; each one after the first reads the
            previous layer's output sequence (default: 1).
        nonlinearity: ``'tanh'`` (default) or ``'relu'``.
        bias: if False, the layers learn no ``bias_ih_l{k}`` / ``bias_hh_l{k}``.
        batch_first: if True, batched input and output are ``(N, L, *)`` instead of ``(L, N, *)``
            (the hidden states stay ``(layers, N, *)``).
        dropout: if non-zero, dropout with this probability is applied, in training mode, to the
            output of every layer but the last (default: 0).
        bidirectional: if True, every layer also runs over the reversed sequence and the two
            outputs are concatenated (default: False).
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``) or ``(L, H_in)``;
        output ``(L, N, D * H)``, ``h_n`` ``(D * num_layers, N, H)``, where ``D`` is 2 when
        bidirectional and 1 otherwise.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        """Show the sizes, the settings that differ from their defaults and a non-tanh nonlinearity."""
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity}" if self.nonlinearity != "tanh" else "")


class LSTM(RNNBase):
    """Applies a multi-layer long short-term memory RNN to a sequence.

    Each layer computes, from ``g = x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh`` split in four
    gates ``(i, f, g, o)``: ``c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)`` and
    ``h_t = sigmoid(o) * tanh(c_t)`` (then ``h_t @ W_hr.T`` with ``proj_size``). The weights
    stack the gates: ``weight_ih_l{k}`` is ``(4 * hidden_size, input_size)`` for the first layer.

    Args:
        input_size: the number of features ``H_in`` of each input step.
        hidden_size: the number of features ``H`` of the hidden state.
        num_layers: the number of stacked recurrent layers; each one after the first reads the
            previous layer's output sequence (default: 1).
        bias: if False, the layers learn no ``bias_ih_l{k}`` / ``bias_hh_l{k}``.
        batch_first: if True, batched input and output are ``(N, L, *)`` instead of ``(L, N, *)``
            (the hidden states stay ``(layers, N, *)``).
        dropout: if non-zero, dropout with this probability is applied, in training mode, to the
            output of every layer but the last (default: 0).
        bidirectional: if True, every layer also runs over the reversed sequence and the two
            outputs are concatenated (default: False).
        proj_size: if above 0, each output ``h_t`` is projected to ``proj_size`` features by a
            learned ``weight_hr_l{k}`` of shape ``(proj_size, hidden_size)``; it must be smaller
            than ``hidden_size`` (default: 0).
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``) or ``(L, H_in)``;
        output ``(L, N, D * H_out)``, ``h_n`` ``(D * num_layers, N, H_out)`` and ``c_n``
        ``(D * num_layers, N, H)``, where ``H_out`` is ``proj_size`` if set, else ``H``, and
        ``D`` is 2 when bidirectional and 1 otherwise.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    """Applies a multi-layer gated recurrent unit RNN to a sequence.

    Each layer splits ``x_t @ W_ih.T + b_ih`` and ``h_{t-1} @ W_hh.T + b_hh`` into the gates
    ``(r, z, n)`` and computes ``r = sigmoid(x_r + h_r)``, ``z = sigmoid(x_z + h_z)``,
    ``n = tanh(x_n + r * h_n)`` and ``h_t = (1 - z) * n + z * h_{t-1}``. ``weight_ih_l{k}`` is
    ``(3 * hidden_size, input_size)`` for the first layer.

    Args:
        input_size: the number of features ``H_in`` of each input step.
        hidden_size: the number of features ``H`` of the hidden state.
        num_layers: the number of stacked recurrent layers; each one after the first reads the
            previous layer's output sequence (default: 1).
        bias: if False, the layers learn no ``bias_ih_l{k}`` / ``bias_hh_l{k}``.
        batch_first: if True, batched input and output are ``(N, L, *)`` instead of ``(L, N, *)``
            (the hidden states stay ``(layers, N, *)``).
        dropout: if non-zero, dropout with this probability is applied, in training mode, to the
            output of every layer but the last (default: 0).
        bidirectional: if True, every layer also runs over the reversed sequence and the two
            outputs are concatenated (default: False).
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``) or ``(L, H_in)``;
        output ``(L, N, D * H)``, ``h_n`` ``(D * num_layers, N, H)``, where ``D`` is 2 when
        bidirectional and 1 otherwise.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)


# ---------------------------------------------------------------- cells
class RNNCellBase(Module):
    """Base class of ``RNNCell``, ``LSTMCell`` and ``GRUCell``: one time step of a recurrent layer.

    Use one of the subclasses. The parameters are ``weight_ih`` ``(num_chunks * hidden_size,
    input_size)``, ``weight_hh`` ``(num_chunks * hidden_size, hidden_size)``, ``bias_ih`` and
    ``bias_hh`` ``(num_chunks * hidden_size,)``, all starting as
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    Args:
        input_size: the number of features of the input.
        hidden_size: the number of features of the hidden state.
        bias: if False, the cell learns no ``bias_ih`` / ``bias_hh``.
        num_chunks: the number of gates stacked in the weights (1, 4 or 3).
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).
    """

    _mode = None

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(empty(num_chunks * hidden_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(empty(num_chunks * hidden_size, hidden_size, device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (in place)."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        """Show the sizes, ``bias`` when False and a non-tanh nonlinearity."""
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _prepare(self, input, hx):
        """Validate ``input`` and ``hx`` as PyTorch's cells do; return ``(x, hx, batched)``.

        ``x`` is ``input`` with a batch dim; ``hx`` has one added to each state when the input is
        unbatched (``None`` for zeros). An ``LSTMCell``'s ``hx`` is any sequence ``(h, c)``.
        """
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        lstm = self._mode == "LSTM"
        if hx is not None:
            if lstm:
                for idx, value in enumerate(hx):
                    if value.dim() not in (1, 2):
                        raise ValueError(f"{name}: Expected hx[{idx}] to be 1D or 2D, got {value.dim()}D instead")
            elif hx.dim() not in (1, 2):
                raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if hx is not None and not batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0)) if lstm else hx.unsqueeze(0)
        if lstm and hx is not None:
            if not isinstance(hx, (tuple, list)):
                raise TypeError(f"lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, not "
                                f"{type(hx).__name__}")
            if len(hx) != 2:
                raise RuntimeError("lstm_cell expects two hidden states")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x.shape[-1]} expected "
                               f"{self.input_size}")
        return x, hx, batched

    def _state(self, t, x, label):
        """The hidden state ``t`` (already batched) checked against ``x``, or zeros for ``None``."""
        if t is None:
            return ember.zeros((x.shape[0], self.hidden_size), dtype=x.dtype, device=x.device)
        if t.shape[0] != x.shape[0]:
            raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{label} batch size "
                               f"{t.shape[0]}")
        if t.ndim < 2:
            raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
        if t.shape[1] != self.hidden_size:
            raise RuntimeError(f"hidden{label} has inconsistent hidden_size: got {t.shape[1]}, expected "
                               f"{self.hidden_size}")
        if t.ndim != 2:
            raise ValueError(f"{type(self).__name__}: Expected hidden to be 1D for an unbatched input, got "
                             f"{t.ndim - 1}D instead")
        return t

    def forward(self, input, hx=None):
        """Compute one time step.

        Args:
            input: the input step, ``(N, input_size)`` or unbatched ``(input_size,)``.
            hx: the previous hidden state, ``(N, hidden_size)`` or ``(hidden_size,)``; zeros when
                None. For an ``LSTMCell``, a pair ``(h, c)`` (a tuple or a list) of such tensors.

        Returns:
            The next hidden state ``h'``, shaped as ``hx``; for an ``LSTMCell`` the pair ``(h', c')``.

        Raises:
            ValueError: if ``input`` or a hidden state is not 1-D or 2-D.
            RuntimeError: if a size does not match, or an ``LSTMCell`` gets other than two states.
            TypeError: if an ``LSTMCell``'s ``hx`` is a single tensor.
        """
        x, hx, batched = self._prepare(input, hx)
        mode = self._mode if self._mode != "RNN" else ("RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU")
        if mode == "LSTM":
            h, c = (None, None) if hx is None else hx
            h, c = self._state(h, x, 0), self._state(c, x, 1)
            h, c = _cell(mode, x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
            return (h, c) if batched else (h.squeeze(0), c.squeeze(0))
        h = self._state(hx, x, 0)
        h, _ = _cell(mode, x, h, None, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h if batched else h.squeeze(0)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: ``h' = act(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``.

    Args:
        input_size: the number of features of the input.
        hidden_size: the number of features of the hidden state.
        bias: if False, the cell learns no ``bias_ih`` / ``bias_hh``.
        nonlinearity: ``act``: ``'tanh'`` (default) or ``'relu'``.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, input_size)`` or ``(input_size,)``; hidden state and output
        ``(N, hidden_size)`` or ``(hidden_size,)``.
    """

    _mode = "RNN"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(RNNCellBase):
    """One step of an LSTM: gates ``(i, f, g, o)`` from the input and ``h``, then the new ``(h', c')``.

    ``c' = sigmoid(f) * c + sigmoid(i) * tanh(g)`` and ``h' = sigmoid(o) * tanh(c')``; the
    weights stack the four gates (``4 * hidden_size`` rows).

    Args:
        input_size: the number of features of the input.
        hidden_size: the number of features of the hidden and cell states.
        bias: if False, the cell learns no ``bias_ih`` / ``bias_hh``.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, input_size)`` or ``(input_size,)``; ``h``, ``c`` and the outputs
        ``(N, hidden_size)`` or ``(hidden_size,)``.
    """

    _mode = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)


class GRUCell(RNNCellBase):
    """One step of a GRU: gates ``(r, z, n)``, then ``h' = (1 - z) * n + z * h``.

    ``r`` and ``z`` are sigmoids of the summed input and hidden projections, and
    ``n = tanh(x_n + r * h_n)``; the weights stack the three gates (``3 * hidden_size`` rows).

    Args:
        input_size: the number of features of the input.
        hidden_size: the number of features of the hidden state.
        bias: if False, the cell learns no ``bias_ih`` / ``bias_hh``.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(N, input_size)`` or ``(input_size,)``; hidden state and output
        ``(N, hidden_size)`` or ``(hidden_size,)``.
    """

    _mode = "GRU"

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)
