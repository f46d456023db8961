"""ember.onnx.export: the written models pass onnx.checker and match eager ember in onnxruntime.

Each model is exported, checked with ``onnx.checker.check_model(full_check=True)`` and run in
onnxruntime on random inputs; its outputs must equal eager ember's (in eval mode) within float32
tolerances. Dynamic axes are tested by running the model at sizes other than the traced ones.
"""
import io
import os

import numpy as np
import onnx
import onnxruntime
import pytest

import ember
from ember import nn
from ember.onnx.errors import OnnxExporterError, UnsupportedOperatorError

RTOL = ATOL = 2e-5


def _flat(result):
    if isinstance(result, (tuple, list)):
        return [x for r in result for x in _flat(r)]
    return [result]


def _export(model, args, **kw):
    buf = io.BytesIO()
    kw.setdefault("dynamo", False)
    assert ember.onnx.export(model, args, buf, **kw) is None
    proto = onnx.load_from_string(buf.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return proto, onnxruntime.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])


def _check(model, args, run_args=None, **kw):
    """Export ``model`` on ``args``, run the ONNX model on ``run_args`` (default ``args``), compare with eager."""
    proto, session = _export(model, args, **kw)
    run_args = args if run_args is None else run_args
    tensors = [a for a in _flat(list(run_args)) if isinstance(a, ember.Tensor)]
    feeds = {i.name: a.numpy() for i, a in zip(session.get_inputs(), tensors)}
    got = session.run(None, feeds)
    if isinstance(model, nn.Module):
        model.eval()
    with ember.no_grad():
        expected = _flat(model(*run_args))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = e.numpy()
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)
    return proto


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0)


def test_mlp_with_activations():
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.GELU(), nn.Tanh(),
                          nn.Linear(16, 16), nn.GELU(approximate="tanh"), nn.SiLU(), nn.LeakyReLU(0.1), nn.ELU(),
                          nn.Softplus(), nn.Hardtanh(), nn.Sigmoid(), nn.Linear(16, 5), nn.Softmax(-1),
                          nn.LogSoftmax(-1))
    proto = _check(model, (ember.randn(7, 6),), input_names=["x"], output_names=["y"])
    assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["y"]
    assert {"0.bias", "13.bias"} <= {t.name for t in proto.graph.initializer}
    # Linear on a matrix is a Gemm reading the weight as stored: the initializers keep the parameter names
    assert {"Gemm", "Gelu", "Softmax", "LogSoftmax"} <= {n.op_type for n in proto.graph.node}


@pytest.mark.parametrize("opset", [11, 17])
def test_older_opsets(opset):
    # gelu and layer_norm are decomposed below the opsets that have them (20 and 17); before 13 softmax over
    # a dim other than the last goes through a transpose, and Squeeze/Unsqueeze take attributes
    model = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.LayerNorm(8), nn.Unflatten(1, (2, 4)), nn.Softmax(1),
                          nn.Flatten(), nn.Linear(8, 3))
    proto = _check(model, (ember.randn(4, 6),), opset_version=opset)
    assert proto.opset_import[0].version == opset
    assert "Gelu" not in {n.op_type for n in proto.graph.node}


def test_cnn_batchnorm_pooling_exports_eval_and_restores_mode():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    x = ember.randn(3, 3, 16, 16)
    model.train()
    model(ember.randn(4, 3, 16, 16))   # running statistics away from their initial values
    stats = model[1].running_mean.numpy().copy()
    proto, _ = _export(model, (x,))   # exported in eval mode (PyTorch's default), the model left training
    assert model.training and model[1].training
    np.testing.assert_array_equal(model[1].running_mean.numpy(), stats)   # no statistics update
    assert {"Conv", "MaxPool"} <= {n.op_type for n in proto.graph.node}
    _check(model, (x,))   # the running statistics are used (compared with eager in eval mode)


def test_conv1d_conv_transpose_layer_norm():
    model = nn.Sequential(nn.Conv1d(4, 6, 3, padding=2, dilation=2), nn.LayerNorm(10), nn.ReLU(),
                          nn.Unflatten(1, (1, 6)), nn.ConvTranspose2d(1, 3, 3, stride=2, padding=1, output_padding=1),
                          nn.MaxPool2d(3, stride=2, ceil_mode=True))
    _check(model, (ember.randn(2, 4, 10),))


class _TinyTransformer(nn.Module):
    def __init__(self, vocab=30, d=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.encoder = nn.TransformerEncoderLayer(d, 4, 32, dropout=0.1, batch_first=True)
        self.head = nn.Linear(d, 3)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(1))


def test_transformer_on_embedding():
    _check(_TinyTransformer(), (ember.randint(0, 30, (2, 5)),))


def test_multihead_attention_with_mask():
    mha = nn.MultiheadAttention(8, 2)
    q, k = ember.randn(4, 2, 8), ember.randn(6, 2, 8)
    mask = ember.rand(4, 6) > 0.7
    _check(mha, (q, k, k, None, True, mask))


def test_gru():
    model = nn.GRU(5, 7, num_layers=2, batch_first=True, bidirectional=True)
    proto = _check(model, (ember.randn(3, 4, 5),), output_names=["y", "h"])
    assert _dims(proto.graph.output[1]) == [4, 3, 7]
    assert [n.op_type for n in proto.graph.node].count("GRU") == 2 and "forward" not in model.__dict__


def test_rnn_relu_and_lstm_projection_captured_by_ops():
    _check(nn.RNN(4, 5, nonlinearity="relu", bias=False, num_layers=2), (ember.randn(3, 2, 4), ember.randn(2, 2, 5)))
    # ONNX's LSTM has no projection: this one is exported op by op, its time steps unrolled
    proto = _check(nn.LSTM(4, 6, proj_size=3), (ember.randn(3, 2, 4),))
    assert "LSTM" not in {n.op_type for n in proto.graph.node}


def test_lstm_with_initial_state():
    model = nn.LSTM(5, 6, bidirectional=True)
    args = (ember.randn(4, 2, 5), (ember.randn(2, 2, 6), ember.randn(2, 2, 6)))
    proto, session = _export(model, args)
    assert len(session.get_inputs()) == 3
    got = session.run(None, {i.name: a.numpy() for i, a in zip(session.get_inputs(), _flat(args))})
    with ember.no_grad():
        expected = _flat(model.eval()(*args))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e.numpy(), rtol=RTOL, atol=ATOL)


def test_dynamic_batch_axis():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 2))
    axes = {"images": {0: "batch"}, "logits": {0: "batch"}}
    proto = _check(model, (ember.randn(2, 3, 8, 8),), run_args=(ember.randn(5, 3, 8, 8),), input_names=["images"],
                   output_names=["logits"], dynamic_axes=axes)
    assert _dims(proto.graph.input[0]) == ["batch", 3, 8, 8] and _dims(proto.graph.output[0]) == ["batch", 2]
    # the same file at batch 1
    _check(model, (ember.randn(2, 3, 8, 8),), run_args=(ember.randn(1, 3, 8, 8),), input_names=["images"],
           output_names=["logits"], dynamic_axes=axes)
    # image size dynamic too: adaptive pooling to 1 is exported as GlobalAveragePool
    classifier = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1),
                               nn.Flatten(), nn.Linear(4, 2))
    proto = _check(classifier, (ember.randn(2, 3, 8, 8),), run_args=(ember.randn(3, 3, 12, 10),), input_names=["x"],
                   dynamic_axes={"x": {0: "batch", 2: "height", 3: "width"}})
    assert "GlobalAveragePool" in {n.op_type for n in proto.graph.node}


def test_dynamic_batch_and_sequence_transformer_and_gru():
    _check(_TinyTransformer(), (ember.randint(0, 30, (2, 5)),), run_args=(ember.randint(0, 30, (3, 9)),),
           input_names=["tokens"], dynamic_axes={"tokens": {0: "batch", 1: "seq"}})
    proto = _check(nn.GRU(4, 5, batch_first=True), (ember.randn(2, 3, 4),), run_args=(ember.randn(6, 3, 4),),
                   input_names=["x"], dynamic_axes={"x": [0]})
    assert _dims(proto.graph.input[0]) == ["x_dynamic_axes_1", 3, 4]


def test_training_mode_export_draws_dropout_and_uses_batch_statistics():
    model = nn.Sequential(nn.Linear(4, 32), nn.BatchNorm1d(32), nn.Dropout(0.5))
    x = ember.randn(8, 4)
    proto, session = _export(model, (x,), input_names=["x"], dynamic_axes={"x": [0]},
                             training=ember.onnx.TrainingMode.TRAINING)
    assert model.training and "RandomUniformLike" in {n.op_type for n in proto.graph.node}
    w, b = model[0].weight.detach().numpy().astype(np.float64), model[0].bias.detach().numpy().astype(np.float64)
    # the running statistics moved once, as one training forward moves them (the extra traces are undone)
    assert int(model[1].num_batches_tracked) == 1
    np.testing.assert_allclose(model[1].running_mean.numpy(), 0.1 * (x.numpy() @ w.T + b).mean(0), atol=1e-6)
    inputs = np.random.default_rng(0).standard_normal((50, 4), dtype=np.float32)
    (y,) = session.run(None, {"x": inputs})
    # this batch's statistics (at another size than traced), then dropout: half zeroed, the rest doubled
    h = inputs @ w.T + b
    normalized = (h - h.mean(0)) / np.sqrt(h.var(0) + 1e-5)
    kept = y != 0
    assert 0.4 < kept.mean() < 0.6
    np.testing.assert_allclose(y[kept], 2 * normalized[kept], rtol=1e-3, atol=1e-3)


def test_dynamic_sequence_length_rnn_and_python_loop():
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.rnn, self.head = nn.Embedding(20, 6), nn.LSTM(6, 8, batch_first=True), nn.Linear(8, 3)

        def forward(self, tokens):
            out, (h, c) = self.rnn(self.embed(tokens))
            return self.head(out), h + c
    proto = _check(Tagger(), (ember.randint(0, 20, (2, 5)),), run_args=(ember.randint(0, 20, (3, 9)),),
                   input_names=["tokens"], dynamic_axes={"tokens": {0: "batch", 1: "seq"}})
    assert _dims(proto.graph.output[0]) == ["batch", "seq", 3]
    cell = nn.GRUCell(3, 4)

    def unrolled(x):   # a Python loop over the time steps: the graph has one step per element
        h = None
        for step in x.unbind(0):
            h = cell(step, h)
        return h
    with pytest.raises(OnnxExporterError, match="time steps"):
        ember.onnx.export(unrolled, (ember.randn(5, 2, 3),), io.BytesIO(), input_names=["x"],
                          dynamic_axes={"x": {0: "seq"}})


def test_causal_attention_dynamic_sequence_and_opset13_masks():
    def attend(q):
        return ember.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
    for opset in (13, 20):
        _check(attend, (ember.randn(2, 2, 4, 8),), run_args=(ember.randn(3, 2, 6, 8),), input_names=["q"],
               dynamic_axes={"q": {0: "batch", 2: "seq"}}, opset_version=opset)


def test_indexing_layout_and_reductions():
    def fn(x, idx):
        a = x[:, 1:4] * 2 + x[:, None, 0].expand(5, 3)
        b = ember.cat([a, x[idx, :3]], dim=0).permute(1, 0).reshape(15, -1)
        c = ember.stack([x.sum(1), x.amax(1), x.mean(1), x.std(1)], dim=1)
        d = ember.where(x > 0.1, x, -x).flip(1).roll(2, 1).tril()
        e = x.gather(1, idx.view(-1, 1).expand(-1, 2)) + x[[0, 2], [1, 3]]
        f = (x.argmax(1), (x < 0).any(1), x.to(ember.int64).sum(), x.cumsum(0), x.sort(1, descending=True).values)
        return a, b, c, d, e, f, x.clamp(-0.5, 0.5).abs().sqrt().exp().log(), x.norm(dim=1)
    _check(fn, (ember.randn(5, 6), ember.tensor([4, 0, 2, 1, 3])))


def test_index_put_and_inplace():
    def fn(x, idx):
        y = x.clone()
        y[idx] = 0.0
        y.mul_(2).add_(1)
        y[:, 0] += x[:, 1]
        return y
    _check(fn, (ember.randn(4, 3), ember.tensor([1, 3])))


def test_unsupported_op_raises_naming_it():
    with pytest.raises(UnsupportedOperatorError, match="lgamma"):
        ember.onnx.export(lambda x: x.lgamma() + 1, (ember.rand(3) + 1,), io.BytesIO())


def test_data_dependent_control_flow_raises():
    def branchy(x):
        return x * 2 if x.sum() > 0 else -x
    with pytest.raises(OnnxExporterError, match="data-dependent"):
        ember.onnx.export(branchy, (ember.randn(3),), io.BytesIO())
    assert not ember.onnx.is_in_onnx_export()


def test_dynamic_axis_that_bakes_a_float_raises():
    with pytest.raises(OnnxExporterError, match="dynamic"):
        ember.onnx.export(lambda x: x * (1.0 / x.shape[0]), (ember.randn(4, 2),), io.BytesIO(), input_names=["x"],
                          dynamic_axes={"x": [0]})


def test_path_params_inputs_and_program(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    x = ember.randn(2, 3)
    path = tmp_path / "model.onnx"
    program = ember.onnx.export(model, (x,), str(path), export_params=False)
    assert sorted(os.listdir(tmp_path)) == ["model.onnx"]   # written in place, no temporary file left
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert not proto.graph.initializer and {"0.weight", "0.bias"} <= {i.name for i in proto.graph.input}
    # dynamo=True (the default) returns a runnable program holding the weights
    (out,) = program(x)
    np.testing.assert_allclose(out.numpy(), model(x).detach().numpy(), rtol=RTOL, atol=ATOL)
    assert ember.onnx.export(model, (x,), None, verify=True).model_proto.graph.initializer
    kept = ember.onnx.export(model, (x,), None, keep_initializers_as_inputs=True).model_proto
    assert {"0.weight", "0.bias"} <= {i.name for i in kept.graph.input} and kept.graph.initializer
    with pytest.raises(ValueError, match="opset"):
        ember.onnx.export(model, (x,), io.BytesIO(), opset_version=9)
