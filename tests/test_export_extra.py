"""ember.export helpers: ShapesCollection, AdditionalInputs, draft_export, module_call_graph records."""
import dataclasses

import numpy as np
import pytest

import ember
from ember import export as E


class Net(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = ember.nn.Linear(3, 2)

    def forward(self, x):
        return self.lin(x).relu()


class Branchy(ember.nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x + 1
        return x - 1


def _ref(m, a):
    w, b = m.lin.weight.detach().numpy().astype(np.float64), m.lin.bias.detach().numpy().astype(np.float64)
    return np.maximum(a @ w.T + b, 0)


def test_shapes_collection_and_additional_inputs():
    m = Net()
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((4, 3)), dtype=ember.float32)
    sc = E.ShapesCollection()
    sc[x] = {0: E.Dim.DYNAMIC}
    assert sc.dynamic_shapes(m, (x,)) == ({0: E.Dim.DYNAMIC},)
    with pytest.raises(ValueError, match="not found in args"):
        sc.dynamic_shapes(m, (ember.randn(4, 3),))
    ep = E.export(m, (x,), dynamic_shapes=sc)
    a = rng.standard_normal((7, 3))
    np.testing.assert_allclose(ep.module()(ember.tensor(a, dtype=ember.float32)).detach().numpy(), _ref(m, a),
                               rtol=1e-5, atol=1e-6)
    ai = E.AdditionalInputs()
    ai.add((ember.randn(5, 3),))
    ai.add((ember.randn(6, 3),))
    assert ai.dynamic_shapes(m, (x,)) == ({0: E.Dim.DYNAMIC},)
    ep = E.export(m, (x,), dynamic_shapes=ai)
    assert len(ep.range_constraints) == 1
    ai.verify(ep)
    bad = E.AdditionalInputs()
    bad.add((ember.randn(5, 3, 1),))
    with pytest.raises(ValueError, match="ranks"):
        bad.dynamic_shapes(m, (x,))
    with pytest.raises(ValueError, match="tuple"):
        bad.add([x])


def test_draft_export_reports_data_dependence():
    with pytest.raises(E.GuardOnDataDependentSymNode):
        E.export(Branchy(), (ember.ones(2),))
    ep = E.draft_export(Branchy(), (ember.ones(2),))
    report = ep._report
    assert not report.successful() and len(report.failures) == 1
    assert "test_export_extra.py" in str(report)
    np.testing.assert_allclose(ep.module()(ember.full((2,), -5.0)).numpy(), -4.0)   # the branch was baked in
    clean = E.draft_export(Net(), (ember.randn(2, 3),))
    assert clean._report.successful()


def test_module_call_graph_records():
    m = Net()
    ep = E.export(m, (ember.randn(2, 3),))
    (entry,) = ep.module_call_graph
    assert isinstance(entry, E.ModuleCallEntry) and entry.fqn == ""
    sig = entry.signature
    assert isinstance(sig, E.ModuleCallSignature) and sig.forward_arg_names == ["x"]
    assert [a.name for a in sig.inputs] == ["x"] and len(sig.outputs) == 1
    assert sig.in_spec.num_leaves == 1
    back = E.ExportBackwardSignature({"g0": "lin.weight"}, {"g1": "x"}, "loss")
    assert dataclasses.asdict(back)["loss_output"] == "loss"


def test_execution_trace_observer(tmp_path):
    import json

    from ember import profiler as P
    path = tmp_path / "et.json"
    et = P.ExecutionTraceObserver().register_callback(str(path))
    assert et.is_registered() and not et.is_running()
    et.start()
    a = ember.ones(2, 3)
    (a * 2).sum()
    et.stop()
    doc = json.loads(path.read_text())
    assert {"schema", "pid", "nodes", "start_ts", "finish_ts"} <= set(doc)
    by_name = {n["name"]: n for n in doc["nodes"]}
    mul = by_name["op::mul"]
    assert mul["inputs"]["shapes"][0] == [2, 3] and mul["outputs"]["types"] == ["Tensor(float32)"]
    assert by_name["op::sum"]["ctrl_deps"] == by_name["ember::sum"]["id"]   # nested under the public op
    with pytest.raises(RuntimeError, match="register_callback"):
        P.ExecutionTraceObserver().start()
    et2 = P.ExecutionTraceObserver().register_callback(str(tmp_path / "et2.json"))
    with P.profile(execution_trace_observer=et2) as prof:
        ember.nn.functional.linear(ember.ones(2, 3), ember.ones(4, 3))
    names = [n["name"] for n in json.loads((tmp_path / "et2.json").read_text())["nodes"]]
    assert "op::matmul" in names and any(e.name == "op::matmul" for e in prof.events())
    assert prof.events()[0].device_type is P.DeviceType.CPU and int(P.DeviceType.MPS) == 13
    assert P.kineto_available() is False


class _Model(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = ember.nn.Linear(3, 2)

    def forward(self, x):
        return self.lin(x) * 2


def test_onnx_exportable_module_and_input_observer():
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from ember import onnx as O

    class Exportable(O.ExportableModule):
        def __init__(self):
            super().__init__()
            self.model = _Model()

        def forward(self, x):
            return self.model(x)

        def example_arguments(self):
            return (ember.randn(4, 3),), None

        def input_names(self):
            return ("input",)

        def output_names(self):
            return ("output",)

        def dynamic_shapes(self):
            return ({0: "batch"},)
    e = Exportable()
    prog = e.to_onnx()
    graph = prog.model.graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["output"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    a = np.random.default_rng(4).standard_normal((6, 3)).astype(np.float32)
    out = prog(ember.tensor(a))
    out = out[0] if isinstance(out, (list, tuple)) else out
    w = e.model.lin.weight.detach().numpy().astype(np.float64)
    expected = (a.astype(np.float64) @ w.T + e.model.lin.bias.detach().numpy()) * 2
    np.testing.assert_allclose(np.asarray(out.numpy()), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(TypeError):
        O.ExportableModule()   # abstract: example_arguments is required

    m = _Model()
    observer = O.InputObserver()
    with observer(m):
        m(ember.randn(4, 3))
        m(ember.randn(5, 3))
    assert "forward" not in m.__dict__ and observer.num_obs() == 2
    assert observer.infer_arguments()[0].shape == (4, 3)
    assert observer.infer_dynamic_shapes() == ({0: E.Dim.DYNAMIC},)
    assert observer.infer_dynamic_shapes(set_batch_dimension_for=True) == ({0: E.Dim.DYNAMIC},)
    prog = O.export(m, observer.infer_arguments(), dynamic_shapes=observer.infer_dynamic_shapes())
    rows = observer.check_discrepancies(prog)
    assert len(rows) == 2 and all(r["SUCCESS"] for r in rows)


class _Block(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = ember.nn.Linear(4, 4)
        self.bn = ember.nn.BatchNorm1d(4)

    def forward(self, x):
        return self.bn(self.lin(x)).relu() + x


class _Deep(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = ember.nn.ModuleList([_Block(), _Block()])
        self.head = ember.nn.Linear(4, 2)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        x = self.blocks[0](x)   # a second call of the same submodule
        return self.head(x), x.sum()


def test_unflatten_rebuilds_hierarchy():
    m = _Deep().eval()
    rng = np.random.default_rng(5)
    x = ember.tensor(rng.standard_normal((3, 4)), dtype=ember.float32)
    ep = E.export(m, (x,))
    u = E.unflatten(ep)
    assert isinstance(u, E.UnflattenedModule)
    assert [n for n, _ in u.named_children()] == ["blocks", "head"]
    assert sorted(u.state_dict()) == sorted(m.state_dict())
    calls = [n.target for n in u.graph.nodes if n.op == "call_module"]
    assert calls == ["blocks.0", "blocks.1", "blocks.0", "head"]
    for got, want in zip(u(x), m(x)):
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    y = ember.tensor(rng.standard_normal((3, 4)), dtype=ember.float32)
    block = getattr(u.blocks, "1")   # a submodule runs its own part of the graph
    np.testing.assert_allclose(block(y).detach().numpy(), m.blocks[1](y).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert [n.target for n in block.graph.nodes if n.op == "call_module"] == ["lin", "bn"]

    class DropExtra(E.FlatArgsAdapter):
        def adapt(self, target_spec, input_spec, input_args, metadata=None, obj=None):
            return input_args[:target_spec.num_leaves]
    adapted = E.unflatten(ep, flat_args_adapter=DropExtra())
    np.testing.assert_allclose(adapted(x, ember.ones(1))[0].detach().numpy(), m(x)[0].detach().numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="tree spec"):
        u(x, ember.ones(1))


@dataclasses.dataclass
class _Pair:
    x: ember.Tensor
    y: ember.Tensor
    k: int = 2


def test_register_dataclass_export():
    with pytest.raises(ValueError, match="not a dataclass"):
        E.register_dataclass(Net)
    E.register_dataclass(_Pair)
    from ember.utils._pytree import tree_flatten, tree_unflatten
    leaves, spec = tree_flatten(_Pair(ember.ones(1), ember.zeros(2)))
    assert len(leaves) == 3 and leaves[2] == 2
    assert tree_unflatten(leaves, spec).y.shape == (2,)

    class UsesPair(ember.nn.Module):
        def forward(self, p):
            return _Pair(p.x * p.k, p.y + 1, p.k)
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(3), rng.standard_normal(4)
    ep = E.export(UsesPair(), (_Pair(ember.tensor(a), ember.tensor(b)),))
    out = ep.module()(_Pair(ember.tensor(b[:3]), ember.tensor(a[:3].tolist() + [0.5])))
    assert isinstance(out, _Pair) and out.k == 2
    np.testing.assert_allclose(out.x.numpy(), b[:3] * 2)
    np.testing.assert_allclose(out.y.numpy(), np.array(a[:3].tolist() + [0.5]) + 1)


def test_run_decompositions_tables():
    from ember.dispatch.ops import OPS
    m = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.LayerNorm(4), ember.nn.GELU(),
                            ember.nn.Softmax(-1)).eval()
    rng = np.random.default_rng(7)
    x = ember.tensor(rng.standard_normal((2, 3)), dtype=ember.float32)
    ep = E.export(m, (x,))

    def kinds(p):
        return {n.target.name for n in p.graph.nodes if n.op == "call_function" and hasattr(n.target, "name")}
    assert {"layer_norm", "gelu", "softmax"} <= kinds(ep)
    table = E.default_decompositions()
    assert isinstance(table, E.CustomDecompTable) and OPS["gelu"] in table and OPS["add"] not in table
    full = ep.run_decompositions()
    assert not {"layer_norm", "gelu", "softmax"} & kinds(full) and "exp" in kinds(full)
    y = ember.tensor(rng.standard_normal((2, 3)), dtype=ember.float32)
    np.testing.assert_allclose(full.module()(y).detach().numpy(), m(y).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert [s.kind for s in full.graph_signature.input_specs] == [s.kind for s in ep.graph_signature.input_specs]
    keep = table.copy()
    keep.pop(OPS["gelu"])   # left out of the table: stays one op
    assert "gelu" in kinds(ep.run_decompositions(keep)) and "layer_norm" not in kinds(ep.run_decompositions(keep))
    custom = E.CustomDecompTable({})
    custom["gelu"] = lambda t, approximate="none": t * 0.5   # any op can be replaced
    out = ep.run_decompositions(custom).module()(y).detach().numpy()
    ln = m[1](m[0](y)).detach().numpy().astype(np.float64) * 0.5
    expected = np.exp(ln - ln.max(-1, keepdims=True))
    np.testing.assert_allclose(out, expected / expected.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)
    assert kinds(ep.run_decompositions({})) == kinds(ep)
    with pytest.raises(TypeError):
        custom[object()] = abs
