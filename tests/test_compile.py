"""ember.compile against eager on every device: forward and backward, training with buffers,
graph breaks, guards and recompiles, in-place ops, nested outputs, fullgraph errors, the printer."""
import copy

import numpy as np
import pytest

import ember
import ember.fx as fx
import ember.nn.functional as F
from ember import nn
from ember._dynamo.exc import InvalidBackend, Unsupported


def chain(x):
    return F.gelu(x * 1.5 + 0.1).tanh() * x.sigmoid() - x.exp().clamp(max=3) / (1 + x * x)


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(a.detach().cpu().numpy(), b.detach().cpu().numpy(), rtol=tol, atol=tol)


@pytest.fixture(autouse=True)
def _fresh_caches():
    yield
    ember._dynamo.reset()


def test_elementwise_chain_forward_and_backward(any_device):
    compiled = ember.compile(chain)
    for n in (1000, 1000, 37):   # second call replays; a new shape recaptures
        x = ember.randn(n, device=any_device)
        _close(compiled(x), chain(x))
    # the float64 reference of the forward
    xs = ember.randn(257, device=any_device)
    v = xs.cpu().numpy().astype(np.float64)
    from scipy.special import erf
    gelu = (v * 1.5 + 0.1) * 0.5 * (1 + erf((v * 1.5 + 0.1) / np.sqrt(2)))
    ref = np.tanh(gelu) / (1 + np.exp(-v)) - np.minimum(np.exp(v), 3) / (1 + v * v)
    np.testing.assert_allclose(compiled(xs).cpu().numpy(), ref, rtol=2e-5, atol=2e-5)
    # backward: gradients equal eager's
    x1 = ember.randn(64, device=any_device, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    compiled(x1).sum().backward()
    compiled(x1.detach().requires_grad_())   # replay with grad, too
    chain(x2).sum().backward()
    _close(x1.grad, x2.grad)


def _mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))


def test_mlp_with_batchnorm_trains_like_eager(any_device):
    ember.manual_seed(0)
    eager = _mlp().to(any_device)
    model = copy.deepcopy(eager)
    compiled = ember.compile(model)
    opt_c = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt_e = ember.optim.SGD(eager.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        x, y = ember.randn(32, 6, device=any_device), ember.randint(0, 3, (32,), device=any_device)
        for mod, opt in ((compiled, opt_c), (eager, opt_e)):
            opt.zero_grad()
            F.cross_entropy(mod(x), y).backward()
            opt.step()
    for p, q in zip(model.parameters(), eager.parameters()):
        _close(p, q, 1e-5)
    _close(model[1].running_mean, eager[1].running_mean)
    _close(model[1].running_var, eager[1].running_var)
    assert model[1].num_batches_tracked.item() == eager[1].num_batches_tracked.item() == 5
    graph = compiled._compiled.graphs[0]   # the training graph was captured with its backward
    assert len(graph.forward_graph.nodes) > 0 and len(graph.backward_graph.nodes) > 0
    model.eval(), eager.eval()   # the training flag is guarded: eval recaptures
    x = ember.randn(4, 6, device=any_device)
    _close(compiled(x), eager(x))
    assert len(compiled._compiled.graphs) == 2
    assert list(compiled.state_dict())[0].startswith("_orig_mod.")


def test_transformer_encoder_layer(any_device):
    ember.manual_seed(1)
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, dropout=0.0,
                                       batch_first=True).to(any_device)
    twin = copy.deepcopy(layer)
    compiled = ember.compile(layer)
    x = ember.randn(3, 5, 16, device=any_device)
    for _ in range(2):
        out_c, out_e = compiled(x), twin(x)
        _close(out_c, out_e, 2e-5)
        out_c.pow(2).sum().backward()
        out_e.pow(2).sum().backward()
    for p, q in zip(layer.parameters(), twin.parameters()):
        _close(p.grad, q.grad, 1e-4)


def test_dropout_draws_new_numbers_on_replay():
    compiled = ember.compile(lambda x: F.dropout(x, 0.5, training=True))
    x = ember.ones(1000)
    a, b = compiled(x), compiled(x)
    assert not ember.equal(a, b)
    assert set(np.unique(a.numpy())) <= {0.0, 2.0}


def test_data_dependent_branch_is_a_graph_break(any_device):
    def f(x, buf):
        buf.add_(1)                 # a write before the break: undone when the guard fails
        y = x * 2
        if y.sum() > 0:
            return y + buf
        return y - buf

    compiled = ember.compile(f)
    buf_c, buf_e = ember.zeros(3, device=any_device), ember.zeros(3, device=any_device)
    for sign in (1, -1, 1, -1, -1, 1):
        x = sign * ember.rand(3, device=any_device)
        _close(compiled(x, buf_c), f(x, buf_e))
        _close(buf_c, buf_e)
    assert compiled._captures == 2      # one graph per branch, then only replays
    report = ember._dynamo.explain(f)(ember.ones(3), ember.zeros(3))
    assert report.graph_break_count == 1 and report.graph_count == 2
    assert "test_compile.py" in report.break_reasons[0]


def test_fullgraph_names_the_line():
    def f(x):
        if x.sum() > 0:
            return x
        return -x
    with pytest.raises(Unsupported, match=r"test_compile.py:\d+ in f"):
        ember.compile(f, fullgraph=True)(ember.ones(2))


def test_guards_recompile_on_dtype_grad_mode_and_constants():
    calls = []

    def f(x, scale):
        calls.append(1)
        return x * scale

    compiled = ember.compile(f)
    x = ember.ones(3)
    compiled(x, 2.0), compiled(x, 2.0)
    assert len(calls) == 1
    assert compiled(x, 3.0)[0].item() == 3.0            # a new constant recaptures
    assert compiled(x.double(), 3.0).dtype == ember.float64
    with ember.no_grad():
        compiled(x, 3.0)
    assert len(calls) == 4


def test_recompile_limit_falls_back_to_eager():
    compiled = ember.compile(lambda x: x + 1)
    old = ember._dynamo.config.recompile_limit
    ember._dynamo.config.recompile_limit = 2
    try:
        with pytest.warns(UserWarning, match="recompile limit"):
            for n in range(1, 5):
                assert compiled(ember.zeros(n)).sum().item() == n
        assert compiled._captures == 2
    finally:
        ember._dynamo.config.recompile_limit = old


def test_inplace_ops_and_nested_outputs(any_device):
    def f(x, d):
        y = x.clone()
        y.mul_(2)
        y[0] = 5.0
        return {"y": y, "pair": (y.sum(), d["z"] + 1)}, None

    compiled = ember.compile(f)
    for _ in range(2):
        x, z = ember.randn(4, device=any_device), ember.randn(2, device=any_device)
        got, none = compiled(x, {"z": z})
        want, _ = f(x, {"z": z})
        assert none is None and set(got) == {"y", "pair"}
        _close(got["y"], want["y"])
        _close(got["pair"][0], want["pair"][0])
        _close(got["pair"][1], want["pair"][1])


def test_module_compile_in_place_and_decorator():
    model = nn.Linear(3, 2)
    x = ember.randn(5, 3)
    expected = model(x)
    model.compile()
    _close(model(x), expected)
    assert list(model.state_dict()) == ["weight", "bias"]

    @ember.compile(backend="eager")
    def g(a):
        return a.sin() + 1
    _close(g(x), x.sin() + 1)


def test_custom_backend_receives_graph_module():
    seen = []

    def backend(gm, example_inputs):
        seen.append((gm, [tuple(t.shape) for t in example_inputs]))
        return gm.forward

    compiled = ember.compile(lambda a, b: a @ b + 1, backend=backend)
    a, b = ember.randn(2, 3), ember.randn(3, 4)
    _close(compiled(a, b), a @ b + 1)
    _close(compiled(a, b), a @ b + 1)
    assert len(seen) == 1 and seen[0][1] == [(2, 3), (3, 4)]
    assert isinstance(seen[0][0], fx.GraphModule)


def test_disable_runs_in_python_every_call():
    calls = []

    @ember.compiler.disable
    def side(x):
        calls.append(1)
        return x + len(calls)

    compiled = ember.compile(lambda x: side(x * 2) * 3)
    x = ember.ones(2)
    assert compiled(x)[0].item() == 9 and compiled(x)[0].item() == 12
    assert len(calls) == 2


def test_bad_arguments():
    with pytest.raises(InvalidBackend, match="nope"):
        ember.compile(chain, backend="nope")
    with pytest.raises(RuntimeError, match="Unrecognized mode"):
        ember.compile(chain, mode="fast")
    with pytest.raises(RuntimeError, match="both"):
        ember.compile(chain, mode="max-autotune", options={"fusion": True})
    with pytest.raises(RuntimeError, match="Unexpected optimization option"):
        ember.compile(chain, options={"bogus": 1})
    for mode in ("default", "reduce-overhead", "max-autotune"):
        _close(ember.compile(chain, mode=mode)(ember.ones(3)), chain(ember.ones(3)))


def test_graph_printer():
    gm = fx.symbolic_trace(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), example_inputs=(ember.randn(2, 4),))
    text = str(gm.graph)
    assert "placeholder[target=input]" in text and "get_attr[target=0.weight]" in text
    assert "call_function[target=ops.matmul]" in text and "call_function[target=ops.relu]" in text
    table = gm.graph.tabular()
    assert table.splitlines()[0].split() == ["opcode", "name", "target", "args", "kwargs"]
    assert "def forward(self, input):" in gm.code
    x = ember.randn(7, 4)
    gm.graph.lint()
    assert gm(x).shape == (7, 3)
    symbolic = fx.symbolic_trace(nn.ReLU())   # without example inputs: the Proxy tracer
    np.testing.assert_allclose(symbolic(x).numpy(), np.maximum(x.numpy(), 0))


def test_graph_module_runs_under_the_callers_grad_mode():
    w = ember.randn(3, requires_grad=True)

    def f(x):
        with ember.no_grad():
            frozen = x * 2          # the program's own no_grad block is replayed
        return x * w + frozen

    gm = fx.symbolic_trace(f, example_inputs=(ember.randn(3),))
    assert gm(ember.randn(3)).requires_grad
    with ember.no_grad():
        assert not gm(ember.randn(3)).requires_grad
    x = ember.randn(3, requires_grad=True)
    gm(x).sum().backward()
    _close(x.grad, w.detach())      # d/dx of x*w + (no grad through the frozen term)


def test_a_whole_training_step_compiles(any_device):
    """backward, zero_grad and optimizer.step inside the compiled function replay as steps."""
    ember.manual_seed(2)
    eager = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).to(any_device)
    model = copy.deepcopy(eager)
    opt_c = ember.optim.Adam(model.parameters(), lr=0.01)
    opt_e = ember.optim.Adam(eager.parameters(), lr=0.01)

    def step(m, opt, x, y):
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        opt.step()
        return loss

    compiled = ember.compile(step)
    for _ in range(4):
        x, y = ember.randn(16, 4, device=any_device), ember.randn(16, 1, device=any_device)
        _close(compiled(model, opt_c, x, y), step(eager, opt_e, x, y))
    for p, q in zip(model.parameters(), eager.parameters()):
        _close(p, q)


def test_index_range_checks_do_not_recompile_per_batch():
    """An Embedding's range check is re-run on replay, not a guard on the index values."""
    emb = nn.Embedding(10, 4)
    compiled = ember.compile(emb)
    for seed in range(4):
        ember.manual_seed(seed)
        ids = ember.randint(0, 10, (3, 5))
        _close(compiled(ids), emb(ids))
    assert compiled._compiled._captures == 1
    with pytest.raises(IndexError, match="out of range|out of bounds"):
        compiled(ember.tensor([[0, 1, 2, 3, 12]]))
    # negative indices wrap in eager indexing; a graph captured without them is not reused for them
    table = ember.randn(6, 2)
    pick = ember.compile(lambda t, i: t[i])
    _close(pick(table, ember.tensor([1, 2])), table[ember.tensor([1, 2])])
    _close(pick(table, ember.tensor([-1, 2])), table[ember.tensor([-1, 2])])
    assert pick._captures == 2


def test_training_graph_returning_an_input_keeps_it_a_leaf():
    w = ember.randn(3, requires_grad=True)
    compiled = ember.compile(lambda x: (x, x * w, x * w))
    for _ in range(2):
        x = ember.randn(3, requires_grad=True)
        same, a, b = compiled(x)
        assert x.grad_fn is None and x.is_leaf
        (same.sum() + a.sum() + 2 * b.sum()).backward()
        _close(x.grad, 1 + 3 * w.detach())
