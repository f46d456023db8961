"""ember._dynamo / ember.compiler switches: dimension marks, graph breaks, opaque calls, stances,
default backend, guard filters, is_exporting, wrap_numpy, substitute_in_graph."""
import numpy as np
import pytest

import ember
import ember._dynamo as dynamo
import ember.compiler as compiler


@pytest.fixture(autouse=True)
def _default_stance():
    yield
    compiler.set_stance("default")
    compiler.set_default_backend(None)


def _ref(f, x):
    return f(ember.tensor(x)).numpy()


@pytest.mark.parametrize("backend", ["inductor", "eager"])
def test_mark_dynamic_reuses_graph(backend):
    def f(x):
        return (x * 2).sum(1) + 1
    c = ember.compile(f, backend=backend)
    rng = np.random.default_rng(0)
    for n in (4, 5, 7):
        a = rng.standard_normal((n, 3))
        x = ember.tensor(a)
        dynamo.mark_dynamic(x, 0)
        np.testing.assert_allclose(c(x).numpy(), (a * 2).sum(1) + 1, rtol=1e-12)
    assert c._captures == 1
    y = ember.tensor(rng.standard_normal((4, 5)))   # unmarked: a new size is a new graph
    c(y)
    assert c._captures == 2


def test_mark_dynamic_specialized_raises_maybe_does_not():
    def g(x):
        return x.view(4, 3) + 1
    x = ember.randn(4, 3)
    dynamo.mark_dynamic(x, 0)
    with pytest.raises(dynamo.exc.ConstraintViolationError, match=r"size\(\)\[0\].*constant \(4\)"):
        ember.compile(g)(x)
    c = ember.compile(g)
    x = ember.randn(4, 3)
    dynamo.maybe_mark_dynamic(x, 0)
    np.testing.assert_allclose(c(x).numpy(), x.numpy() + 1)
    x2 = ember.randn(12)
    dynamo.maybe_mark_dynamic(x2, 0)
    np.testing.assert_allclose(c(x2).numpy(), x2.numpy().reshape(4, 3) + 1)   # its own graph
    assert c._captures == 2


def test_mark_dynamic_training_and_range():
    lin = ember.nn.Linear(3, 2)
    m = ember.compile(lin)
    for n in (4, 6):
        x = ember.randn(n, 3, requires_grad=True)
        dynamo.mark_dynamic(x, 0, min=2, max=8)
        m(x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), np.tile(lin.weight.detach().numpy().sum(0), (n, 1)), rtol=1e-5)
    with pytest.raises(IndexError):
        dynamo.mark_dynamic(ember.ones(2), 3)


def test_mark_static_counts_under_dynamic_true():
    c = ember.compile(lambda x: x + 1, dynamic=True)
    old = dynamo.config.recompile_limit
    dynamo.config.recompile_limit = 1
    try:
        with pytest.warns(UserWarning, match="recompile limit"):
            for n in (2, 3):
                x = ember.ones(n)
                dynamo.mark_static(x)
                np.testing.assert_allclose(c(x).numpy(), 2.0)
        assert c._captures == 1   # the second size hit the limit: static sizes count
        c2 = ember.compile(lambda x: x + 1, dynamic=True)
        for n in (2, 3):
            c2(ember.ones(n))
        assert c2._captures == 2   # unmarked: dynamic=True lets new shapes past the limit
    finally:
        dynamo.config.recompile_limit = old


def test_graph_break_fullgraph_and_explain():
    def k(x):
        x = x + 1
        dynamo.graph_break()
        return x * 2
    with pytest.raises(dynamo.exc.Unsupported, match=r"graph_break\(\)[\s\S]*test_compile_api.py:\d+"):
        ember.compile(k, fullgraph=True)(ember.ones(2))
    np.testing.assert_allclose(ember.compile(k)(ember.ones(2)).numpy(), 4.0)
    out = dynamo.explain(k)(ember.ones(2))
    assert (out.graph_count, out.graph_break_count) == (2, 1)
    dynamo.graph_break()   # eager: nothing happens


def test_allow_disallow_assume_constant():
    calls = []

    def side(x):
        calls.append(1)
        return x + 1
    allowed = dynamo.allow_in_graph(side)
    c = ember.compile(lambda x: allowed(x) * 3)
    c(ember.ones(2))
    np.testing.assert_allclose(c(ember.ones(2)).numpy(), 6.0)
    assert len(calls) == 2 and side in [n.target for n in c.graphs[0].nodes]
    sub = dynamo.disallow_in_graph(ember.sub)
    with pytest.raises(dynamo.exc.Unsupported, match="disallowed"):
        ember.compile(lambda x: sub(x, 1), fullgraph=True)(ember.ones(2))
    np.testing.assert_allclose(ember.compile(lambda x: sub(x, 1) * 2)(ember.ones(2)).numpy(), 0.0)
    count = [0]

    def value():
        count[0] += 1
        return ember.ones(2) * count[0]
    const = dynamo.assume_constant_result(value)
    assert const._dynamo_marked_constant
    c = ember.compile(lambda x: x + const())
    c(ember.zeros(2))
    np.testing.assert_allclose(c(ember.zeros(2)).numpy(), 1.0)   # baked at capture
    assert count[0] == 1


def test_stances_and_run():
    c = ember.compile(lambda x: x * 2)
    c(ember.ones(2))
    with compiler.set_stance("fail_on_recompile"):
        c(ember.ones(2))
        with pytest.raises(RuntimeError, match="fail_on_recompile"):
            c(ember.ones(3))
    with compiler.set_stance("eager_on_recompile"):
        np.testing.assert_allclose(c(ember.ones(4)).numpy(), 2.0)
    assert c._captures == 1

    @compiler.set_stance("force_eager")
    def body():
        return c(ember.ones(5))
    np.testing.assert_allclose(body().numpy(), 2.0)
    assert c._captures == 1
    np.testing.assert_allclose(dynamo.run(c)(ember.ones(6)).numpy(), 2.0)   # cache only
    assert c._captures == 1
    c(ember.ones(6))
    assert c._captures == 2
    e = ember.compile(lambda x: x + 1)
    with compiler.set_stance("eager_then_compile"):
        e(ember.ones(2))
        assert e._captures == 0
        e(ember.ones(2))
        assert e._captures == 1
    with pytest.raises(RuntimeError, match="force_backend"):
        compiler.set_stance("force_eager", force_backend="eager")
    with pytest.raises(RuntimeError, match="invalid"):
        compiler.set_stance("bogus")
    seen = []

    def backend(gm, example):
        seen.append(gm)
        return gm.forward
    with compiler.set_stance("default", force_backend=backend):
        ember.compile(lambda x: x - 1)(ember.ones(2))
    assert len(seen) == 1


def test_optimize_and_default_backend():
    o = dynamo.optimize("eager", nopython=True)(lambda x: x + 1)
    np.testing.assert_allclose(o(ember.ones(2)).numpy(), 2.0)
    assert o.fullgraph and o.backend == "eager"
    with pytest.raises(RuntimeError, match="context manager"):
        with dynamo.optimize("eager"):
            pass
    f = lambda x: x   # noqa: E731
    assert dynamo.optimize("eager", disable=True)(f) is f
    with pytest.raises(dynamo.exc.InvalidBackend):
        dynamo.optimize("nope")
    assert compiler.get_default_backend() == "inductor"
    compiler.set_default_backend("eager")
    assert compiler.get_default_backend() == "eager" and ember.compile(f).backend == "eager"
    compiler.set_default_backend(None)
    assert ember.compile(f).backend == "inductor"
    assert compiler.compile(f, backend="eager").backend == "eager"


def test_guard_filters():
    m = ember.nn.Linear(2, 2)
    om = ember.compile(m, options={"guard_filter_fn": compiler.skip_guard_on_all_nn_modules_unsafe})
    om(ember.ones(1, 2))
    m.eval()
    om(ember.ones(1, 2))
    assert om._compiled._captures == 1   # training flag no longer guarded
    m.train()
    om2 = ember.compile(m)
    om2(ember.ones(1, 2))
    m.eval()
    om2(ember.ones(1, 2))
    assert om2._compiled._captures == 2
    seen = []

    def spy(entries):
        seen.extend(entries)
        return compiler.keep_tensor_guards_unsafe(entries)
    c = ember.compile(lambda x, k: x * k, options={"guard_filter_fn": spy})
    c(ember.ones(2), 2)
    assert {"TENSOR_MATCH", "CONSTANT_MATCH", "GLOBAL_STATE"} <= {e.guard_type for e in seen}
    np.testing.assert_allclose(c(ember.ones(2), 3).numpy(), 2.0)   # the constant guard was dropped
    assert compiler.skip_all_guards_unsafe(seen) == [False] * len(seen)
    assert compiler.skip_guard_on_globals_unsafe(seen) == [not e.is_global for e in seen]
    assert any(compiler.keep_portable_guards_unsafe(seen))
    assert all(compiler.skip_guard_on_inbuilt_nn_modules_unsafe(seen))


def test_is_exporting_wrap_numpy_substitute():
    flags = []

    class M(ember.nn.Module):
        def forward(self, x):
            flags.append(compiler.is_exporting())
            return x + 1
    ember.export.export(M(), (ember.ones(2),))
    M()(ember.ones(2))
    assert flags == [True, False] and not compiler.is_exporting()
    w = compiler.wrap_numpy(lambda a: np.sin(a) * 2)
    a = np.random.default_rng(1).standard_normal(3)
    np.testing.assert_allclose(w(ember.tensor(a)).numpy(), np.sin(a) * 2)
    np.testing.assert_allclose(ember.compile(lambda x: w(x) + 1)(ember.tensor(a)).numpy(), np.sin(a) * 2 + 1)

    def original(x):
        return x + 100

    @compiler.substitute_in_graph(original)
    def poly(x):
        return x + 1
    np.testing.assert_allclose(poly(ember.zeros(1)).numpy(), 100.0)
    np.testing.assert_allclose(ember.compile(lambda x: poly(x))(ember.zeros(1)).numpy(), 1.0)
    with pytest.raises(TypeError, match="Signature mismatch"):
        compiler.substitute_in_graph(original)(lambda x, y: x)
    region = compiler.nested_compile_region(lambda x: x * 3)
    np.testing.assert_allclose(ember.compile(lambda x: region(x) + region(x))(ember.ones(2)).numpy(), 6.0)
    assert compiler.cudagraph_mark_step_begin() is None


def test_cache_artifacts_roundtrip():
    from ember.fx import graph_module as G
    saved = dict(G.COMPILED_CODE), dict(G.LOADED_CODE)
    G.COMPILED_CODE.clear()
    try:
        assert compiler.save_cache_artifacts() is None   # nothing compiled yet
        ember.compile(lambda x: x.cos() * 3)(ember.ones(2))
        blob, info = compiler.save_cache_artifacts()
        assert isinstance(blob, bytes) and len(info.ember_code_artifacts) == 1
        G.COMPILED_CODE.clear()
        loaded = compiler.load_cache_artifacts(blob)
        key = loaded.ember_code_artifacts[0]
        assert key == info.ember_code_artifacts[0]
        a = np.random.default_rng(2).standard_normal(4)
        out = ember.compile(lambda x: x.cos() * 3)(ember.tensor(a))
        np.testing.assert_allclose(out.numpy(), np.cos(a) * 3, rtol=1e-12)
        assert G.COMPILED_CODE[key] is G.LOADED_CODE[key]   # the loaded code object was reused
        with pytest.raises(ValueError, match="artifacts"):
            compiler.load_cache_artifacts(b"not an artifact")
    finally:
        G.COMPILED_CODE.clear()
        G.COMPILED_CODE.update(saved[0])
        G.LOADED_CODE.clear()
        G.LOADED_CODE.update(saved[1])
