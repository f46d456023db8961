"""RNN, LSTM and GRU modules as ONNX's own recurrent ops (as PyTorch exports them).

Captured op by op, a recurrent layer unrolls into its time steps, so the ONNX graph would hold one
sequence length. During the export each such module's ``forward`` is instead recorded as a single
graph node (``rnn_sequence``), which is written as ONNX ``RNN``/``LSTM``/``GRU`` nodes: any
sequence length runs, and a dynamic sequence axis can be exported. Modules ONNX's ops cannot
express (LSTM projections, dropout between layers in training mode, packed sequences) run and
are captured op by op as before.
"""
from __future__ import annotations

import numpy as np

from ember.dispatch.tracing import recorded

_ONNX_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}
# PyTorch's gate blocks (LSTM i f g o, GRU r z n) in ONNX's order (LSTM i o f c, GRU z r h)
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


@recorded
def rnn_sequence(module, input, hx, weights):
    """The module's whole recurrent computation as one graph node.

    Args:
        module: the ``RNNBase`` module.
        input: the (padded) input sequence.
        hx: its initial state (None, a tensor, or ``(h_0, c_0)`` for an LSTM).
        weights: the module's flat parameters, so the node reads them.

    Returns:
        ``(output, h_n)``, or ``(output, h_n, c_n)`` for an LSTM.
    """
    output, state = type(module).forward(module, input, hx)
    return (output, state[0], state[1]) if module.mode == "LSTM" else (output, state)


def native(module) -> bool:
    """Whether ONNX's recurrent ops express ``module`` (an ``RNNBase``)."""
    return module.proj_size == 0 and not (module.training and module.dropout > 0 and module.num_layers > 1)


def recorded_forward(module):
    """A ``forward`` for ``module`` that records its computation as one ``rnn_sequence`` node."""
    from ember.core.tensor import Tensor

    def forward(input, hx=None):
        if not isinstance(input, Tensor):   # a PackedSequence: captured op by op
            return type(module).forward(module, input, hx)
        weights = [getattr(module, name) for name in module._flat_weights_names]
        out = rnn_sequence(module, input, hx, weights)
        return (out[0], (out[1], out[2])) if module.mode == "LSTM" else (out[0], out[1])
    return forward


def translate(c):
    """ONNX recurrent nodes for an ``rnn_sequence`` node (see ``ember.onnx._translate``)."""
    module, input, hx, weights = c.args
    em = c.em
    mode, hidden, layers = module.mode, module.hidden_size, module.num_layers
    directions = 2 if module.bidirectional else 1
    batched = len(c.shape(input)) == 3
    x = c.v(input)
    if not batched:
        x = em.unsqueeze(x, [1])
    elif module.batch_first:
        x = em.op("Transpose", [x], perm=[1, 0, 2])
    h0 = c0 = None
    if hx is not None:
        h0, c0 = (hx if mode == "LSTM" else (hx, None))
        h0 = c.v(h0) if batched else em.unsqueeze(c.v(h0), [1])
        if c0 is not None:
            c0 = c.v(c0) if batched else em.unsqueeze(c.v(c0), [1])
    by_name = dict(zip(module._flat_weights_names, weights))
    order = _GATE_ORDER[mode]

    def gates(w):   # PyTorch's gate blocks in ONNX's order
        blocks = [em.op("Slice", [c.v(w), em.const(np.array([g * hidden], np.int64)),
                                  em.const(np.array([(g + 1) * hidden], np.int64)),
                                  em.const(np.array([0], np.int64))]) for g in order]
        return blocks[0] if len(blocks) == 1 else em.op("Concat", blocks, axis=0)

    def stacked(values):
        values = [em.unsqueeze(v, [0]) for v in values]
        return values[0] if len(values) == 1 else em.op("Concat", values, axis=0)

    attrs = {"hidden_size": hidden, "direction": "bidirectional" if directions == 2 else "forward"}
    if mode == "GRU":
        attrs["linear_before_reset"] = 1   # PyTorch applies the reset gate after the hidden matmul
    if mode.startswith("RNN"):
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * directions
    n_out = 3 if mode == "LSTM" else 2
    last_h, last_c = [], []
    for layer in range(layers):
        suffixes = [""] + (["_reverse"] if directions == 2 else [])
        w = stacked([gates(by_name[f"weight_ih_l{layer}{s}"]) for s in suffixes])
        r = stacked([gates(by_name[f"weight_hh_l{layer}{s}"]) for s in suffixes])
        b = None
        if module.bias:
            b = stacked([em.op("Concat", [gates(by_name[f"bias_ih_l{layer}{s}"]), gates(by_name[f"bias_hh_l{layer}{s}"])],
                               axis=0) for s in suffixes])
        rows = (em.const(np.array([layer * directions], np.int64)),
                em.const(np.array([(layer + 1) * directions], np.int64)), em.const(np.array([0], np.int64)))
        h_l = em.op("Slice", [h0, *rows]) if h0 is not None else None
        c_l = em.op("Slice", [c0, *rows]) if c0 is not None else None
        inputs = [x, w, r, b, None, h_l] + ([c_l] if mode == "LSTM" else [])
        while inputs[-1] is None:
            inputs.pop()
        outs = em.op(_ONNX_OP[mode], inputs, n_out=n_out, **attrs)
        # Y (seq, directions, batch, hidden) -> (seq, batch, directions * hidden), the next layer's input
        y = em.op("Transpose", [outs[0]], perm=[0, 2, 1, 3])
        x = em.op("Reshape", [y, em.const(np.array([0, 0, -1], np.int64))])
        last_h.append(outs[1])
        if mode == "LSTM":
            last_c.append(outs[2])
    output = x
    if not batched:
        output = em.squeeze(output, [1])
    elif module.batch_first:
        output = em.op("Transpose", [output], perm=[1, 0, 2])
    states = [last_h] + ([last_c] if mode == "LSTM" else [])
    results = [output]
    for parts in states:
        state = parts[0] if len(parts) == 1 else em.op("Concat", parts, axis=0)
        results.append(state if batched else em.squeeze(state, [1]))
    return results
