"""ember.onnx.ops: RotaryEmbedding-23 and Attention-23 eagerly (against float64 numpy references
written from the ONNX spec), with autograd and on every device; the symbolic operators; and
ember.onnx.export writing them as their ONNX nodes, run in onnxruntime."""
import io
import math

import numpy as np
import pytest

import ember
from ember.onnx import ops

RNG = np.random.default_rng(1234)


def _f(*shape):
    return RNG.standard_normal(shape)


# ---------------------------------------------------------------- float64 references (the ONNX spec)
def ref_rotary(x, cos, sin, pid=None, interleaved=False, num_heads=0, rotary_embedding_dim=0):
    shape = x.shape
    x = x.transpose(0, 2, 1, 3) if x.ndim == 4 else x.reshape(shape[0], shape[1], num_heads, -1)
    rot = rotary_embedding_dim or x.shape[3]
    if pid is not None:
        cos, sin = cos[pid], sin[pid]
    cos, sin = cos[:, :, None, :rot // 2], sin[:, :, None, :rot // 2]
    xr = x[..., :rot]
    x1, x2 = (xr[..., 0::2], xr[..., 1::2]) if interleaved else (xr[..., :rot // 2], xr[..., rot // 2:])
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    out = np.empty_like(xr)
    if interleaved:
        out[..., 0::2], out[..., 1::2] = real, imag
    else:
        out = np.concatenate([real, imag], -1)
    out = np.concatenate([out, x[..., rot:]], -1)
    return out.reshape(shape) if len(shape) == 3 else out.transpose(0, 2, 1, 3)


def ref_attention(q, k, v, mask=None, past_k=None, past_v=None, is_causal=False, q_num_heads=0, kv_num_heads=0,
                  mode=0, scale=None, softcap=0.0):
    three_d = q.ndim == 3
    if three_d:
        def heads(t, h):
            return t.reshape(t.shape[0], t.shape[1], h, -1).transpose(0, 2, 1, 3)
        q, k, v = heads(q, q_num_heads), heads(k, kv_num_heads), heads(v, kv_num_heads)
    pk = np.concatenate([past_k, k], 2) if past_k is not None else k
    pv = np.concatenate([past_v, v], 2) if past_v is not None else v
    group = q.shape[1] // pk.shape[1]
    kk, vv = np.repeat(pk, group, 1), np.repeat(pv, group, 1)
    scale = 1 / math.sqrt(q.shape[3]) if scale is None else scale
    qk = q @ kk.transpose(0, 1, 3, 2) * scale
    out_qk = qk
    bias = np.zeros(qk.shape[-2:])
    if mask is not None:
        bias = bias + (np.where(mask, 0.0, -np.inf) if mask.dtype == bool else mask)
    if is_causal:
        past = past_k.shape[2] if past_k is not None else 0
        i, j = np.arange(qk.shape[-2])[:, None], np.arange(qk.shape[-1])[None, :]
        bias = bias + np.where(j <= i + past, 0.0, -np.inf)
    if softcap > 0:
        qk = softcap * np.tanh(qk / softcap)
    if mode == 1:
        out_qk = qk
    scores = qk + bias
    if mode == 2:
        out_qk = scores
    dead = np.isneginf(np.max(np.broadcast_to(bias, scores.shape), -1, keepdims=True))
    safe = np.where(dead, 0.0, scores)
    e = np.exp(safe - safe.max(-1, keepdims=True))
    probs = np.where(dead, 0.0, e / e.sum(-1, keepdims=True))
    if mode == 3:
        out_qk = probs
    y = probs @ vv
    if three_d:
        y = y.transpose(0, 2, 1, 3).reshape(y.shape[0], y.shape[2], -1)
    return y, pk, pv, out_qk


def _t(a, device="cpu", dtype=None):
    if a is None:
        return None
    if dtype is not None and a.dtype.kind == "f":
        a = a.astype(dtype.numpy)   # cast on the host: mps has no float64
    return ember.tensor(a, device=device)


ROTARY_CASES = {
    "4d": (dict(x=_f(2, 3, 5, 8), cos=_f(2, 5, 4), sin=_f(2, 5, 4)), {}),
    "4d_interleaved": (dict(x=_f(2, 3, 5, 8), cos=_f(2, 5, 4), sin=_f(2, 5, 4)), dict(interleaved=True)),
    "3d_positions_partial": (dict(x=_f(2, 5, 12), cos=_f(10, 2), sin=_f(10, 2), pid=RNG.integers(0, 10, (2, 5))),
                             dict(num_heads=3, rotary_embedding_dim=4)),
    "3d_positions_partial_interleaved": (dict(x=_f(2, 5, 12), cos=_f(10, 3), sin=_f(10, 3),
                                              pid=RNG.integers(0, 10, (2, 5))),
                                         dict(num_heads=2, rotary_embedding_dim=6, interleaved=True)),
}

_dead_mask = RNG.random((3, 5)) > 0.3
_dead_mask[1] = False   # a query that sees no key: a zero row
ATTENTION_CASES = {
    "4d": (dict(q=_f(2, 4, 3, 8), k=_f(2, 4, 5, 8), v=_f(2, 4, 5, 6)), {}),
    "gqa_causal": (dict(q=_f(2, 4, 5, 8), k=_f(2, 2, 5, 8), v=_f(2, 2, 5, 6)), dict(is_causal=True)),
    "3d_scale": (dict(q=_f(2, 3, 16), k=_f(2, 5, 8), v=_f(2, 5, 12)), dict(q_num_heads=4, kv_num_heads=2, scale=0.3)),
    "bool_mask_past": (dict(q=_f(2, 2, 3, 4), k=_f(2, 2, 3, 4), v=_f(2, 2, 3, 4), mask=RNG.random((3, 7)) > 0.3,
                            past_k=_f(2, 2, 4, 4), past_v=_f(2, 2, 4, 4)), {}),
    "float_mask_softcap_mode1": (dict(q=_f(2, 2, 3, 4), k=_f(2, 2, 6, 4), v=_f(2, 2, 6, 4), mask=_f(2, 1, 3, 6)),
                                 dict(softcap=1.5, mode=1)),
    "softcap_mode2": (dict(q=_f(1, 2, 3, 4), k=_f(1, 2, 6, 4), v=_f(1, 2, 6, 4), mask=_f(3, 6)),
                      dict(softcap=1.5, mode=2)),
    "causal_past_mode3": (dict(q=_f(1, 2, 3, 4), k=_f(1, 2, 3, 4), v=_f(1, 2, 3, 4), past_k=_f(1, 2, 2, 4),
                               past_v=_f(1, 2, 2, 4)), dict(is_causal=True, mode=3)),
    "causal_and_mask_dead_row": (dict(q=_f(1, 2, 3, 4), k=_f(1, 2, 5, 4), v=_f(1, 2, 5, 4), mask=_dead_mask),
                                 dict(is_causal=True, mode=3)),
}


def _run_rotary(a, kw, device="cpu", dtype=None):
    return ops.rotary_embedding(_t(a["x"], device, dtype), _t(a["cos"], device, dtype), _t(a["sin"], device, dtype),
                                _t(a.get("pid"), device), **kw)


def _run_attention(a, kw, device="cpu", dtype=None):
    kw = dict(kw)
    mode = kw.pop("mode", 0)
    return ops.attention(_t(a["q"], device, dtype), _t(a["k"], device, dtype), _t(a["v"], device, dtype),
                         _t(a.get("mask"), device, dtype), _t(a.get("past_k"), device, dtype),
                         _t(a.get("past_v"), device, dtype), qk_matmul_output_mode=mode, **kw)


@pytest.mark.parametrize("case", list(ROTARY_CASES))
def test_rotary_embedding_matches_the_spec(case):
    a, kw = ROTARY_CASES[case]
    got = _run_rotary(a, kw)
    want = ref_rotary(a["x"], a["cos"], a["sin"], a.get("pid"), **kw)
    assert got.dtype is ember.float64 and tuple(got.shape) == a["x"].shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", list(ATTENTION_CASES))
def test_attention_matches_the_spec(case):
    a, kw = ATTENTION_CASES[case]
    got = _run_attention(a, kw)
    want = ref_attention(a["q"], a["k"], a["v"], a.get("mask"), a.get("past_k"), a.get("past_v"), **kw)
    for g, w in zip(got, want):
        assert tuple(g.shape) == w.shape
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-10, atol=1e-12)


def test_every_device_float32(any_device):
    a, kw = ATTENTION_CASES["bool_mask_past"]
    got = _run_attention(a, kw, any_device, ember.float32)
    want = ref_attention(a["q"], a["k"], a["v"], a.get("mask"), a.get("past_k"), a.get("past_v"), **kw)
    for g, w in zip(got, want):
        assert g.device.type == any_device and g.dtype is ember.float32
        np.testing.assert_allclose(g.cpu().numpy(), w, rtol=1e-4, atol=1e-5)
    a, kw = ROTARY_CASES["3d_positions_partial_interleaved"]
    np.testing.assert_allclose(_run_rotary(a, kw, any_device, ember.float32).cpu().numpy(),
                               ref_rotary(a["x"], a["cos"], a["sin"], a.get("pid"), **kw), rtol=1e-4, atol=1e-5)


def test_gradients():
    a, _ = ATTENTION_CASES["gqa_causal"]
    q, k, v = (ember.tensor(a[n][:1, :, :3, :4], requires_grad=True) for n in ("q", "k", "v"))
    assert ember.autograd.gradcheck(lambda q, k, v: ops.attention(q, k, v, is_causal=True, softcap=2.0)[0],
                                    (q, k, v))
    a, kw = ROTARY_CASES["3d_positions_partial_interleaved"]
    x = ember.tensor(a["x"], requires_grad=True)
    cos, sin = ember.tensor(a["cos"], requires_grad=True), ember.tensor(a["sin"], requires_grad=True)
    pid = ember.tensor(a["pid"])
    assert ember.autograd.gradcheck(lambda x, c, s: ops.rotary_embedding(x, c, s, pid, **kw), (x, cos, sin))


def test_errors():
    q = ember.randn(2, 3, 8)
    with pytest.raises(RuntimeError, match="q_num_heads and kv_num_heads must be provided for 3D inputs"):
        ops.attention(q, q, q)
    with pytest.raises(RuntimeError, match=r"q_num_heads \(3\) must be divisible by kv_num_heads \(2\)"):
        ops.attention(ember.randn(1, 3, 2, 4), ember.randn(1, 2, 2, 4), ember.randn(1, 2, 2, 4))
    with pytest.raises(RuntimeError, match="num_heads must be provided for 3D inputs"):
        ops.rotary_embedding(q, ember.randn(2, 3, 4), ember.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="should match rotary_embedding_dim/2"):
        ops.rotary_embedding(ember.randn(2, 1, 3, 8), ember.randn(2, 3, 3), ember.randn(2, 3, 3))


def test_symbolic_eager_and_dtypes():
    x = ember.randn(2, 3)
    y = ops.symbolic("custom::Foo", (x,), dict(alpha=1.0, ints=[1, 2]), dtype=ember.float16, shape=(2, 5), version=1)
    assert y.dtype is ember.float16 and tuple(y.shape) == (2, 5) and not y.float().abs().sum().item()
    a, b = ops.symbolic_multi_out("custom::Bar", (x, None), {}, dtypes=(ember.float32, 7), shapes=((2,), (3, 1)))
    assert (a.dtype, tuple(a.shape), b.dtype, tuple(b.shape)) == (ember.float32, (2,), ember.int64, (3, 1))
    with pytest.raises(RuntimeError, match="999 is invalid as an ONNX data type"):
        ops.symbolic("custom::Foo", (x,), dtype=999, shape=(1,))
    with pytest.raises(RuntimeError, match="Number of dtypes"):
        ops.symbolic_multi_out("custom::Bar", (x,), dtypes=(ember.float32,), shapes=((1,), (2,)))
    assert sorted(ops.__all__) == ["aten_decompositions", "attention", "rotary_embedding", "symbolic",
                                   "symbolic_multi_out"]


def test_run_decompositions_and_compile():
    class M(ember.nn.Module):
        def forward(self, q, k, v):
            return ops.attention(q, k, v, is_causal=True)[0]
    q, k, v = ember.randn(1, 2, 3, 4), ember.randn(1, 2, 3, 4), ember.randn(1, 2, 3, 4)
    want = M()(q, k, v)
    ep = ember.export.export(M(), (q, k, v))
    assert any(n.target in ops.aten_decompositions() for n in ep.graph.nodes if n.op == "call_function")
    decomposed = ep.run_decompositions(ops.aten_decompositions())
    assert not any(n.target in ops.aten_decompositions() for n in decomposed.graph.nodes if n.op == "call_function")
    np.testing.assert_allclose(decomposed.module()(q, k, v).numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
    compiled = ember.compile(M())
    np.testing.assert_allclose(compiled(q, k, v).numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
    buffer = io.BytesIO()
    ember.export.save(ep, buffer)   # the node is saved by name, and loads as the same operator
    buffer.seek(0)
    np.testing.assert_allclose(ember.export.load(buffer).module()(q, k, v).numpy(), want.numpy(), rtol=1e-6,
                               atol=1e-6)


# ---------------------------------------------------------------- export
class _RopeAttention(ember.nn.Module):
    def forward(self, q, k, v, cos, sin, past_k, past_v, mask):
        q = ops.rotary_embedding(q, cos, sin)
        k = ops.rotary_embedding(k, cos, sin, interleaved=True)
        y, present_k, present_v, qk = ops.attention(q, k, v, mask, past_k, past_v, softcap=2.0,
                                                    qk_matmul_output_mode=2)
        return y, present_k, present_v, qk


def test_export_runs_in_onnxruntime():
    ort = pytest.importorskip("onnxruntime")
    f32 = lambda *s: ember.tensor(_f(*s)).float()  # noqa: E731
    args = (f32(2, 4, 3, 8), f32(2, 2, 3, 8), f32(2, 2, 3, 8), f32(2, 3, 4), f32(2, 3, 4), f32(2, 2, 2, 8),
            f32(2, 2, 2, 8), ember.tensor(RNG.random((3, 5)) > 0.2))
    model = _RopeAttention()
    want = model(*args)
    proto = ember.onnx.export(model, args, opset_version=23).model_proto
    assert [n.op_type for n in proto.graph.node if n.op_type in ("RotaryEmbedding", "Attention")] == \
        ["RotaryEmbedding", "RotaryEmbedding", "Attention"]
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: a.numpy() for i, a in zip(session.get_inputs(), args)})
    lowest = np.finfo(np.float32).min   # onnxruntime writes masked scores as the lowest float, not -inf
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.maximum(g, lowest), np.maximum(w.numpy(), lowest), rtol=1e-5, atol=1e-5)
    with pytest.raises(ember.onnx.errors.UnsupportedOperatorError):
        ember.onnx.export(model, args, opset_version=20)   # both operators are opset 23


def test_export_symbolic_as_custom_domain_nodes():
    pytest.importorskip("onnx")
    from onnx import helper

    class M(ember.nn.Module):
        def forward(self, x):
            y = ops.symbolic("my.domain::Foo", (x, None, x), dict(alpha=1.5, n=3, s="a", ints=[1, 2]),
                             dtype=ember.float32, shape=(2, 5), version=2, metadata_props={"k": "v"})
            a, b = ops.symbolic_multi_out("my.domain::Bar", (y,), {}, dtypes=(ember.float32, 7),
                                          shapes=((2,), (3, 1)))
            return y + 1, a, b
    proto = ember.onnx.export(M(), (ember.randn(2, 3),), opset_version=18).model_proto
    foo, bar = [n for n in proto.graph.node if n.domain == "my.domain"]
    assert (foo.op_type, list(foo.input)[1], bar.op_type, len(bar.output)) == ("Foo", "", "Bar", 2)
    attrs = {a.name: helper.get_attribute_value(a) for a in foo.attribute}
    assert attrs == {"alpha": 1.5, "n": 3, "s": b"a", "ints": [1, 2]}
    assert [(p.key, p.value) for p in foo.metadata_props] == [("k", "v")]
    assert ("my.domain", 2) in [(o.domain, o.version) for o in proto.opset_import]
    assert [v.type.tensor_type.elem_type for v in proto.graph.output] == [1, 1, 7]


def test_compiled_training_matches_eager():
    class Block(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = ember.nn.Linear(8, 8)

        def forward(self, x, cos, sin):
            q = ops.rotary_embedding(self.proj(x), cos, sin)
            return ops.attention(q, q, x, is_causal=True)[0].pow(2).sum()
    block = Block()
    x = ember.randn(1, 2, 3, 8, requires_grad=True)
    cos, sin = ember.randn(1, 3, 4), ember.randn(1, 3, 4)
    block(x, cos, sin).backward()
    want = (x.grad.numpy().copy(), block.proj.weight.grad.numpy().copy())
    compiled = ember.compile(block)
    for _ in range(2):   # the capturing call, then a replay of the compiled training graph
        x.grad, block.proj.weight.grad = None, None
        compiled(x, cos, sin).backward()
        np.testing.assert_allclose(x.grad.numpy(), want[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(block.proj.weight.grad.numpy(), want[1], rtol=1e-5, atol=1e-6)
