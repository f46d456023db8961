"""ember.fx symbolic tracing (Proxy/Tracer/wrap/has_side_effect), Interpreter, Transformer, replace_pattern."""
import math
import operator

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember import fx
from ember.fx.proxy import TraceError


def leaf_fn(x, k):
    return x * k + 1


fx.wrap("leaf_fn")
LOG = []


def effect(x):
    LOG.append(1)
    return x


fx.has_side_effect(effect)
fx.wrap("effect")


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.w = nn.Parameter(ember.randn(3))
        self.seq = nn.Sequential(nn.Linear(3, 3), nn.Tanh())

    def forward(self, x, scale=2.0):
        y = ember.relu(self.lin(x)) + self.w
        y = F.gelu(self.seq(y)) * scale
        return y.sum(dim=-1) + x.shape[0] + math.sqrt(4.0)


def _np(t):
    return t.detach().numpy()


def test_symbolic_trace_module_matches_eager():
    m = Net()
    gm = fx.symbolic_trace(m)
    ops = [(n.op, n.target) for n in gm.graph.nodes]
    assert ("call_module", "lin") in ops and ("call_module", "seq.0") in ops and ("call_module", "seq.1") in ops
    assert ("call_function", operator.add) in ops and ("get_attr", "w") in ops
    assert ("call_method", "sum") in ops
    assert any(n.op == "call_function" and getattr(n.target, "__name__", "") == "relu" for n in gm.graph.nodes)
    x = ember.tensor(np.random.default_rng(0).standard_normal((5, 4)), dtype=ember.float32)
    np.testing.assert_allclose(_np(gm(x)), _np(m(x)), rtol=1e-5)
    np.testing.assert_allclose(_np(gm(x, 3.0)), _np(m(x, 3.0)), rtol=1e-5)
    gm.graph.lint()


def test_leaf_modules_concrete_args_and_errors():
    class Deep(fx.Tracer):
        def is_leaf_module(self, m, name):
            return False
    graph = Deep().trace(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    assert not [n for n in graph.nodes if n.op == "call_module"]

    def f(x, flag):
        return x + 1 if flag else x - 1
    gm = fx.symbolic_trace(f, concrete_args={"flag": False})
    np.testing.assert_allclose(gm(ember.ones(2)).numpy(), 0.0)

    def branchy(x):
        if x.sum() > 0:
            return x
        return -x
    with pytest.raises(TraceError, match="control flow"):
        fx.symbolic_trace(branchy)
    with pytest.raises(TraceError, match=r"\*xs parameter"):
        fx.symbolic_trace(lambda *xs: xs[0])
    # outside a trace ember's namespaces are untouched
    assert ember.relu.__module__ == "ember.ops.elementwise" and not hasattr(ember.relu, "_ember_fx_recorder")


def test_wrap_and_has_side_effect():
    def f(x):
        effect(x)
        return leaf_fn(x, 3)
    gm = fx.symbolic_trace(f)
    targets = [n.target for n in gm.graph.nodes if n.op == "call_function"]
    assert leaf_fn in targets and effect in targets
    gm.graph.eliminate_dead_code()   # effect's result is unused, but it has a side effect
    assert effect in [n.target for n in gm.graph.nodes]
    gm.recompile()
    LOG.clear()
    np.testing.assert_allclose(gm(ember.ones(2)).numpy(), 4.0)
    assert LOG == [1]

    def g(x):
        ember.sigmoid(x)   # pure and unused: dead code
        return x + 1
    gm = fx.symbolic_trace(g)
    assert gm.graph.eliminate_dead_code()
    assert not any(getattr(n.target, "__name__", "") == "sigmoid" for n in gm.graph.nodes)


def test_proxy_on_existing_graph():
    graph = fx.Graph()
    x = fx.Proxy(graph.placeholder("x"))
    out = (x * 2).relu() - 1
    graph.output(out.node)
    gm = fx.GraphModule(nn.Module(), graph)
    a = np.random.default_rng(1).standard_normal(6)
    np.testing.assert_allclose(gm(ember.tensor(a)).numpy(), np.maximum(a * 2, 0) - 1, rtol=1e-12)


def test_interpreter_overrides():
    m = Net()
    gm = fx.symbolic_trace(m)
    x = ember.randn(3, 4)

    class Negate(fx.Interpreter):
        def call_function(self, target, args, kwargs):
            if getattr(target, "__name__", "") == "relu":
                return -super().call_function(target, args, kwargs)
            return super().call_function(target, args, kwargs)
    ref = m.lin(x).relu()
    seen = {}

    class Spy(fx.Interpreter):
        def run_node(self, n):
            value = super().run_node(n)
            seen[n.name] = value
            return value
    Spy(gm).run(x)
    np.testing.assert_allclose(_np(seen["relu"]), _np(ref), rtol=1e-6)
    Negate(gm, garbage_collect_values=False).run(x)
    args = [x]
    out = fx.Interpreter(gm).boxed_run(args)
    assert args == [] and out.shape == (3,)
    # a dispatched-op graph (captured by running) runs through the dispatcher the same way
    captured = fx.symbolic_trace(m, example_inputs=(x,))
    np.testing.assert_allclose(_np(fx.Interpreter(captured).run(x)[0]), _np(m(x)), rtol=1e-5)   # flat outputs
    with pytest.raises(RuntimeError, match="nonexistent target"):
        fx.Interpreter(gm).fetch_attr("nope.weight")


def test_transformer_rewrites():
    def f(x, y):
        return ember.relu(x + y) + 1

    class AddToMul(fx.Transformer):
        def call_function(self, target, args, kwargs):
            if target is operator.add:
                target = operator.mul
            return super().call_function(target, args, kwargs)
    gm = AddToMul(fx.symbolic_trace(f)).transform()
    a, b = np.random.default_rng(2).standard_normal((2, 5))
    np.testing.assert_allclose(gm(ember.tensor(a), ember.tensor(b)).numpy(), np.maximum(a * b, 0) * 1, rtol=1e-12)

    class SigmoidInstead(fx.Transformer):
        def call_function(self, target, args, kwargs):
            if getattr(target, "__name__", "") == "relu":
                return ember.sigmoid(*args)   # an ember function on proxies records a node
            return super().call_function(target, args, kwargs)
    gm = SigmoidInstead(fx.symbolic_trace(f)).transform()
    np.testing.assert_allclose(gm(ember.tensor(a), ember.tensor(b)).numpy(), 1 / (1 + np.exp(-(a + b))) + 1,
                               rtol=1e-12)


def test_replace_pattern():
    def pattern(a, b):
        return ember.relu(a) + b

    def replacement(a, b):
        return ember.sigmoid(a) - b

    def f(x, y, z):
        u = ember.relu(x) + y
        v = ember.relu(u) + z
        return v * 2

    gm = fx.symbolic_trace(f)
    matches = fx.replace_pattern(gm, pattern, replacement)
    assert len(matches) == 2 and all(isinstance(m.anchor, fx.Node) for m in matches)
    x, y, z = np.random.default_rng(3).standard_normal((3, 4))
    sig = lambda t: 1 / (1 + np.exp(-t))   # noqa: E731
    expected = (sig(sig(x) - y) - z) * 2
    np.testing.assert_allclose(gm(*map(ember.tensor, (x, y, z))).numpy(), expected, rtol=1e-12)
    assert not any(getattr(n.target, "__name__", "") == "relu" for n in gm.graph.nodes)

    def g(x, y):
        r = ember.relu(x)
        return r + y, r   # the pattern's intermediate is used outside: no match
    gm = fx.symbolic_trace(g)
    assert fx.replace_pattern(gm, pattern, replacement) == []
