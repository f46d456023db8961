"""ember.export and ember.jit: capture, signature, safe save/load, dynamic dims, trace/script, decorators."""
import copy
import io
import json
import pickle
import warnings
import zipfile

import numpy as np
import pytest

import ember
import ember.export as ex
import ember.jit as jit
from ember import nn
from ember._dynamo.exc import Unsupported

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol)


def _roundtrip(ep, tmp_path):
    path = tmp_path / "prog.ember"
    ex.save(ep, path)
    return ex.load(path)


def test_mlp_batchnorm_train_mutation_signature_and_roundtrip(tmp_path):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 2))
    x = ember.randn(6, 4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ep = ex.export(model, (x,))
    for k, v in model.state_dict().items():   # exporting changes nothing
        assert ember.equal(v, before[k]), k
    sig = ep.graph_signature
    assert sorted(sig.buffers_to_mutate.values()) == ["2.num_batches_tracked", "2.running_mean", "2.running_var"]
    assert sig.parameters == ("0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias")
    assert [s.kind for s in sig.input_specs][-1] is ex.InputKind.USER_INPUT
    assert "b_2_running_mean: BUFFER target='2.running_mean'" in str(sig)
    with pytest.raises(RuntimeError, match="Unable to call ExportedProgram directly"):
        ep(x)
    loaded = _roundtrip(ep, tmp_path)
    reference = copy.deepcopy(model)
    eager = reference(x)
    out = loaded.module()(x)
    _close(out, eager)
    # the replayed graph updated the loaded running statistics exactly as eager did
    _close(loaded.state_dict["2.running_mean"], reference[2].running_mean)
    _close(loaded.state_dict["2.running_var"], reference[2].running_var)
    assert int(loaded.state_dict["2.num_batches_tracked"].item()) == 1
    # float64 reference of the first layer: the graph computes what the module computes
    w, b = (p.detach().numpy().astype(np.float64) for p in (model[0].weight, model[0].bias))
    h = np.maximum(x.numpy().astype(np.float64) @ w.T + b, 0)
    mean, var = h.mean(0), h.var(0)
    bn = (h - mean) / np.sqrt(var + 1e-5) * model[2].weight.detach().numpy() + model[2].bias.detach().numpy()
    ref = bn @ model[3].weight.detach().numpy().astype(np.float64).T + model[3].bias.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-4, atol=1e-4)
    with pytest.raises(AssertionError, match=r"Guard failed: input.size\(\)\[0\] == 6"):
        loaded.module()(ember.randn(5, 4))
    with pytest.raises(NotImplementedError):
        loaded.module().eval()


def test_cnn_and_transformer_roundtrip(tmp_path):
    ember.manual_seed(1)
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 4 * 4, 5)).eval()
    x = ember.randn(2, 3, 8, 8)
    _close(_roundtrip(ex.export(cnn, (x,)), tmp_path).module()(x), cnn(x))
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True).eval()
    s = ember.randn(2, 5, 8)
    _close(_roundtrip(ex.export(layer, (s,)), tmp_path).module()(s), layer(s))


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, pair, batch, scale=2.0):
        a, b = pair
        return {"sum": self.lin(a) + b * scale, "parts": (batch["u"].relu(), [batch["v"] - a])}


def test_nested_inputs_outputs_and_constant_guard(tmp_path):
    m = Nested()
    a, b, u, v = (ember.randn(2, 3) for _ in range(4))
    ep = ex.export(m, ((a, b), {"u": u, "v": v}), {"scale": 3.0})
    loaded = _roundtrip(ep, tmp_path)
    a2, b2, u2, v2 = (ember.randn(2, 3) for _ in range(4))
    got = loaded.module()((a2, b2), {"u": u2, "v": v2}, scale=3.0)
    want = m((a2, b2), {"u": u2, "v": v2}, scale=3.0)
    assert set(got) == {"sum", "parts"} and isinstance(got["parts"], tuple) and isinstance(got["parts"][1], list)
    _close(got["sum"], want["sum"])
    _close(got["parts"][0], want["parts"][0])
    _close(got["parts"][1][0], want["parts"][1][0])
    with pytest.raises(AssertionError, match="Guard failed: scale == 3.0"):
        loaded.module()((a2, b2), {"u": u2, "v": v2}, scale=4.0)
    with pytest.raises(ValueError, match="tree spec"):
        loaded.module()((a2, b2, b2), {"u": u2, "v": v2}, scale=3.0)


def _rewrite(path, out, edit_json=None, replace=None):
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    if edit_json is not None:
        d = json.loads(entries["program.json"])
        edit_json(d)
        entries["program.json"] = json.dumps(d).encode()
    entries.update(replace or {})
    with zipfile.ZipFile(out, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)


def test_load_never_unpickles_and_rejects_tampering(tmp_path, monkeypatch):
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    x = ember.randn(4, 3)
    path = tmp_path / "p.ember"
    ex.save(ex.export(model, (x,)), path)

    def no_pickle(*a, **k):
        raise AssertionError("load unpickled something")
    monkeypatch.setattr(pickle, "loads", no_pickle)
    monkeypatch.setattr(pickle, "load", no_pickle)
    _close(ex.load(path).module()(x), model(x))

    def evil_target(d):
        for n in d["program"]["graph"]["nodes"]:
            if n["op"] == "call_function":
                n["target"] = {"fn": "os.system"}
                break
    _rewrite(path, tmp_path / "t1.ember", edit_json=evil_target)
    with pytest.raises(ex.SerializeError, match="os.system"):
        ex.load(tmp_path / "t1.ember")
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    entry = json.loads(zipfile.ZipFile(path).read("program.json"))["tensors"]["0.weight"]["entry"]
    _rewrite(path, tmp_path / "t2.ember", replace={entry: buf.getvalue()})
    with pytest.raises(ex.SerializeError, match=entry):
        ex.load(tmp_path / "t2.ember")
    (tmp_path / "t3.ember").write_bytes(b"not a zip")
    with pytest.raises(ex.SerializeError, match="not an ember program"):
        ex.load(tmp_path / "t3.ember")


class Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x + 1
        return x - 1


def test_data_dependent_branch_raises_naming_the_line():
    with pytest.raises(ex.GuardOnDataDependentSymNode, match=r"if x.sum\(\) > 0"):
        ex.export(Branchy(), (ember.randn(3),))
    with pytest.raises(Unsupported, match=r"test_export_jit.py:\d+ in forward"):
        ex.export(Branchy(), (ember.randn(3),), strict=True)


def test_dynamic_batch_dim_generic_and_specialised(tmp_path):
    mlp = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    batch = ex.Dim("batch", max=64)
    ep = ex.export(mlp, (ember.randn(5, 4),), dynamic_shapes={"input": {0: batch}})
    assert ep.range_constraints["batch"] == (0, 64)
    loaded = _roundtrip(ep, tmp_path)
    x = ember.randn(9, 4)
    _close(loaded.module()(x), mlp(x))   # no op depends on the batch size: runs after load
    with pytest.raises(AssertionError, match=r"input.size\(\)\[0\] <= 64"):
        loaded.module()(ember.randn(65, 4))
    with pytest.raises(AssertionError, match=r"input.size\(\)\[1\] == 4"):
        loaded.module()(ember.randn(5, 3))
    bn = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    ep = ex.export(bn, (ember.randn(5, 4),), dynamic_shapes=({0: ex.Dim("batch")},))
    reference = copy.deepcopy(bn)
    _close(ep.module()(x), reference(x))   # BatchNorm divides by the batch: re-captured for 9
    _close(bn[1].running_mean, reference[1].running_mean)
    with pytest.raises(RuntimeError, match="batch"):
        _roundtrip(ep, tmp_path).module()(x)
    with pytest.raises(ember._dynamo.exc.UserError, match="top-level keys"):
        ex.export(mlp, (ember.randn(5, 4),), dynamic_shapes={"x": {0: batch}})


def test_jit_trace_item_warning_check_and_roundtrip(tmp_path):
    def scaled(x):
        return x * x.sum().item()
    x = ember.randn(3)
    with pytest.warns(jit.TracerWarning):
        traced = jit.trace(scaled, x)
    _close(traced(x), scaled(x))
    y = ember.randn(3)
    np.testing.assert_allclose(traced(y).numpy(), y.numpy() * float(x.sum().item()), rtol=1e-6)  # baked in

    def branch(x):
        return x + 1 if x.sum() > 0 else x - 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jit.TracerWarning)
        with pytest.raises(jit.TracingCheckError, match="Graphs differed"):
            jit.trace(branch, ember.ones(3), check_inputs=[(-ember.ones(3),)])
    model = nn.Sequential(nn.Linear(4, 3), nn.GELU(), nn.Linear(3, 2))
    tm = jit.trace(model, ember.randn(2, 4))
    assert isinstance(tm, jit.ScriptModule) and list(tm.state_dict()) == list(model.state_dict())
    assert "matmul" in str(tm.graph) and "def forward" in tm.code
    path = tmp_path / "m.pt"
    jit.save(tm, path, _extra_files={"note.txt": "hi"})
    extra = {"note.txt": ""}
    loaded = jit.load(path, map_location="cpu", _extra_files=extra)
    assert extra["note.txt"] == "hi" and isinstance(loaded, jit.RecursiveScriptModule)
    z = ember.randn(2, 4)
    _close(loaded(z), model(z))
    with pytest.raises(RuntimeError, match="input shapes"):
        loaded(ember.randn(3, 4))
    with pytest.raises(RuntimeError, match="dict at the output"):
        jit.trace(lambda t: {"a": t}, (x,))


class Scripted(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        self.seen = []

    @jit.export
    def plus(self, x):
        return self.lin(x) + 2

    @jit.unused
    def python_only(self, x):
        return x

    @jit.ignore
    def note(self, flag):
        self.seen.append(flag)

    def forward(self, x, use_unused: bool = False):
        self.note(jit.is_scripting())
        if use_unused:
            return self.python_only(x)
        return self.lin(x) * 2


def test_script_and_decorators(tmp_path):
    m = Scripted()
    sm = jit.script(m)
    x = ember.randn(3, 2)
    _close(sm(x), m(x))
    assert m.seen == [True, False]   # is_scripting() is True only inside the scripted capture
    assert jit.is_scripting() is False and jit.is_tracing() is False
    _close(sm.plus(x), m.lin(x) + 2)
    with pytest.raises(jit.Error, match="unused"):
        sm(x, True)
    _close(m.python_only(x), x)    # in plain Python it runs
    with pytest.raises(RuntimeError, match="eval mode"):
        jit.freeze(sm)
    frozen = jit.freeze(sm.eval())
    assert list(frozen.state_dict()) == []
    _close(frozen(x), m(x))
    with pytest.raises(RuntimeError, match="ScriptModule"):
        jit.freeze(m)
    loaded = jit.load(io.BytesIO(_saved(sm)))
    assert loaded.training is False
    with pytest.raises(RuntimeError, match="in training mode only"):
        loaded.plus(x)   # captured in training mode, saved in eval mode
    _close(loaded.train().plus(x), m.lin(x) + 2)
    with pytest.raises(jit.frontend.NotSupportedError, match=r"if x.sum\(\) > 0"):
        jit.script(Branchy())(ember.randn(3))
    seen = []

    def probe(t):
        seen.append(jit.is_tracing())
        return t * 2
    jit.trace(probe, (x,), check_trace=False)
    assert seen == [True]
    assert jit.annotate(list, [1]) == [1]
    assert jit.script_if_tracing(lambda t: t + 1)(2) == 3
    fast = jit.optimize_for_inference(jit.script(nn.Sequential(nn.Linear(2, 2)), example_inputs=[(x,)]))
    assert list(fast.state_dict()) == [] and fast(x).shape == (3, 2)

    class Two(nn.Module):
        def forward(self, t):
            return t + 1

        def other(self, t):
            return t * 3
    both = jit.trace_module(Two(), {"forward": x, "other": x})
    _close(both.other(x), x * 3)
    assert "mul" in str(both.other.graph)
    assert jit.wait(jit.fork(lambda a, b: a + b, 1, b=2)) == 3
    assert jit.isinstance([1, 2], list[int]) and not jit.isinstance([1, "a"], list[int])
    with pytest.raises(RuntimeError, match="contained type"):
        jit.isinstance([1], list)
    assert jit.Attribute(3, int).value == 3 and jit.Final is not None
    assert jit.ignore(m.note.__func__) is m.note.__func__ and jit.interface(Scripted) is Scripted


def _saved(sm):
    buf = io.BytesIO()
    jit.save(sm, buf)
    return buf.getvalue()


def test_roundtrip_on_every_device(any_device, tmp_path):
    ember.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.BatchNorm1d(6), nn.Linear(6, 2)).to(any_device)
    x = ember.randn(5, 4).to(any_device)
    reference = copy.deepcopy(model)
    loaded = _roundtrip(ex.export(model, (x,)), tmp_path)
    assert loaded.state_dict["0.weight"].device == x.device
    _close(loaded.module()(x).cpu(), reference(x).cpu())
    _close(loaded.state_dict["2.running_var"].cpu(), reference[2].running_var.cpu())
    traced = jit.trace(model.eval(), x)
    path = tmp_path / "t.pt"
    jit.save(traced, path)
    _close(jit.load(path)(x).cpu(), model(x).cpu())
    _close(jit.load(path, map_location="cpu")(x.cpu()), model(x).cpu())
