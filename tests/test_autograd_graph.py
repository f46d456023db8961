"""ember.autograd.graph (saved-tensor hooks, gradient edges, multi-grad hooks, versions), anomaly
detection, and the legacy/mode names of ember.autograd, against PyTorch's documented behaviour."""
import warnings

import numpy as np
import pytest

import ember
import ember.autograd.graph as G


def _t(*shape, seed=0, rg=False):
    t = ember.tensor(np.random.default_rng(seed).standard_normal(shape))
    return t.requires_grad_() if rg else t


# ---------------------------------------------------------------- saved-tensor hooks
def test_saved_tensors_hooks_pack_every_saved_tensor_and_unpack_feeds_backward():
    x = _t(3, rg=True)
    packed = []

    def pack(t):
        packed.append(tuple(t.shape))
        return ("box", t)

    def unpack(box):
        return box[1] * 2  # a changed value: backward must use what unpack returns

    with G.saved_tensors_hooks(pack, unpack):
        y = (x * x).sin().sum()   # mul saves both inputs, sin its input
    assert packed == [(3,), (3,), (3,)]
    y.backward()
    a = x.detach().numpy()
    # mul's gradient 2 * (2a) * g, g = cos(2 * (a * a)) from sin's doubled saved input
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * a) * np.cos(2 * a * a))


def test_saved_tensors_hooks_cover_outputs_and_custom_functions():
    class Square(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g
    x = _t(4, rg=True)
    seen = []
    with G.saved_tensors_hooks(lambda t: seen.append(t) or t, lambda t: t):
        y = Square.apply(x).exp().sum()   # exp saves its output
    assert len(seen) == 2
    y.backward()
    a = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(a * a) * 2 * a)


def test_save_on_cpu_gives_the_same_gradients(any_device):
    x = ember.tensor(np.linspace(-1, 1, 6, dtype=np.float32), device=any_device).requires_grad_()
    with G.save_on_cpu(pin_memory=True):
        y = (x.exp() * x).sum()
    mul = y.grad_fn.next_functions[0][0]
    kept = [s.packed[1] for s in mul.saved if s is not None and hasattr(s, "packed")]
    assert len(kept) == 2 and all(t.device.type == "cpu" for t in kept)   # held on the host
    y.backward()
    a = np.linspace(-1, 1, 6)
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.exp(a) * (1 + a), rtol=1e-5)
    assert x.grad.device == x.device


def test_disable_saved_tensors_hooks():
    with G.disable_saved_tensors_hooks("no hooks here"):
        with pytest.raises(RuntimeError, match="no hooks here"):
            with G.saved_tensors_hooks(lambda t: t, lambda t: t):
                pass
    with G.saved_tensors_hooks(lambda t: t, lambda t: t):   # allowed again after
        pass


# ---------------------------------------------------------------- edges, versions, multi-grad hooks
def test_get_gradient_edge():
    x = _t(3, rg=True)
    y = x * 2
    edge = G.get_gradient_edge(y)
    assert isinstance(edge, G.GradientEdge) and isinstance(edge, tuple)
    assert edge.node is y.grad_fn and edge.output_nr == 0 and edge.ownership_token is None
    assert G.get_gradient_edge(x).node.name() == "AccumulateGrad"
    with pytest.raises(RuntimeError, match="does not require gradients"):
        G.get_gradient_edge(_t(2))
    # autograd.grad takes edges as inputs: the gradient flowing into y, and into the leaf x
    z = (y * y).sum()
    (gy,) = ember.autograd.grad(z, G.get_gradient_edge(y), retain_graph=True)
    np.testing.assert_allclose(gy.numpy(), 4 * x.detach().numpy())
    gx, gy2 = ember.autograd.grad(z, [G.get_gradient_edge(x), y])
    np.testing.assert_allclose(gx.numpy(), 8 * x.detach().numpy())
    np.testing.assert_allclose(gy2.numpy(), gy.numpy())


def test_increment_version_invalidates_saved_tensors():
    x = _t(3, rg=True)
    w = _t(3, seed=1)
    y = (x * w).sum()
    G.increment_version(w)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    z = _t(2)
    before = z._version.value if z._version is not None else 0
    G.increment_version([z, z])
    assert z._version.value == before + 2


def test_register_multi_grad_hook_all_and_any():
    a, b = _t(3, rg=True), _t(3, seed=1, rg=True)
    calls = []
    handle = G.register_multi_grad_hook((a, b), lambda grads: calls.append([g is None for g in grads]))
    (a * 2).sum().backward()
    (a * b).sum().backward()
    assert calls == [[False, True], [False, False]]
    any_calls = []
    h2 = G.register_multi_grad_hook((a, b), lambda g: any_calls.append(tuple(g.shape)), mode="any")
    (a * b).sum().backward()
    assert any_calls == [(3,)] and len(calls) == 3
    handle.remove()
    h2.remove()
    (a * b).sum().backward()
    assert len(calls) == 3 and len(any_calls) == 1
    with pytest.raises(ValueError, match="mode"):
        G.register_multi_grad_hook((a,), print, mode="some")


def test_allow_mutation_on_saved_tensors():
    c = _t(3, rg=True)
    with G.allow_mutation_on_saved_tensors():
        w = c.clone()
        d = w.sin()
        w.mul_(2)
        d.sum().backward()
    np.testing.assert_allclose(c.grad.numpy(), np.cos(c.detach().numpy()))
    w = c.clone()
    d = w.sin()
    w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        d.sum().backward()


def test_stream_settings_and_activation_budget():
    G.set_warn_on_accumulate_grad_stream_mismatch(False)
    assert G._WARN_ON_STREAM_MISMATCH[0] is False
    G.set_warn_on_accumulate_grad_stream_mismatch(True)
    G.set_override_stale_capture_stream(True)
    assert G._OVERRIDE_STALE_CAPTURE_STREAM[0] is True
    G.set_override_stale_capture_stream(False)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\], got 1.5"):
        with G.region_activation_memory_budget(1.5):
            pass
    with pytest.raises(RuntimeError, match="can only be used inside a torch.compile region"):
        with G.region_activation_memory_budget(0.5):
            pass


# ---------------------------------------------------------------- anomaly detection
def test_detect_anomaly_names_the_node_and_shows_the_forward_call():
    x = ember.tensor([0.0, 1.0]).requires_grad_()
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = ember.autograd.detect_anomaly()
    with mode:
        assert ember.is_anomaly_enabled() and ember.is_anomaly_check_nan_enabled()
        y = (x / x).sum()   # the forward line the warning must show
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(RuntimeError, match=r"Function 'DivBackward0' returned nan values in its 1th output"):
                y.backward()
    assert not ember.is_anomaly_enabled()
    shown = [str(w.message) for w in caught if "Error detected in DivBackward0" in str(w.message)]
    assert shown and "test_autograd_graph.py" in shown[0] and "(x / x).sum()" in shown[0]
    # without anomaly mode the nan passes silently
    x.grad = None
    (x / x).sum().backward()
    assert np.isnan(x.grad.numpy()).any()


def test_set_detect_anomaly_and_top_level_switches():
    ctx = ember.autograd.set_detect_anomaly(True, check_nan=False)
    assert ember.is_anomaly_enabled() and not ember.is_anomaly_check_nan_enabled()
    x = ember.tensor([0.0]).requires_grad_()
    (x / x).sum().backward()  # check_nan off: no error
    with ctx:
        pass
    assert not ember.is_anomaly_enabled() and ember.is_anomaly_check_nan_enabled()
    ember.set_anomaly_enabled(True)
    assert ember.is_anomaly_enabled()
    ember.set_anomaly_enabled(False)
    assert not ember.is_anomaly_enabled()


# ---------------------------------------------------------------- legacy names and modes
def test_variable_is_a_tensor():
    t = _t(2, rg=True) * 2
    v = ember.autograd.Variable(t)
    assert isinstance(v, ember.Tensor) and not v.requires_grad and v.grad_fn is None
    assert isinstance(ember.ones(2), ember.autograd.Variable)
    assert ember.autograd.Variable(ember.ones(2), requires_grad=True).requires_grad
    assert ember.autograd.Variable().shape == (0,)
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got int"):
        ember.autograd.Variable(3)
    with pytest.warns(UserWarning, match="volatile was removed"):
        ember.autograd.Variable(ember.ones(1), volatile=True)
    with pytest.raises(RuntimeError, match="deprecated, use torch.tensor"):
        ember.autograd.variable(ember.ones(1))


def test_nested_io_function():
    class MulPair(ember.autograd.NestedIOFunction):
        def forward_extended(self, x, yz):
            y, z = yz
            self.save_for_backward(x, (y, z))
            return x * y, (x * z,)

        def backward_extended(self, g1, g2):
            x, (y, z) = self.saved_tensors
            return g1 * y + g2[0] * z, (g1 * x, g2[0] * x)
    x, y, z = _t(2, rg=True), _t(2, seed=1, rg=True), _t(2, seed=2)
    p, (q,) = MulPair()(x, (y, z))
    np.testing.assert_allclose(p.detach().numpy(), (x * y).detach().numpy())
    (p.sum() + q.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), (y + z).detach().numpy())
    np.testing.assert_allclose(y.grad.numpy(), x.detach().numpy())


def test_grad_mode_module_and_engine_settings():
    gm = ember.autograd.grad_mode
    assert gm.no_grad is ember.no_grad and gm.inference_mode is ember.inference_mode
    assert gm.set_grad_enabled is ember.set_grad_enabled and gm.enable_grad is ember.enable_grad
    ember.autograd.set_multithreading_enabled(False)
    assert not gm.is_multithreading_enabled()
    with ember.autograd.set_multithreading_enabled(True):
        assert gm.is_multithreading_enabled()
    assert not gm.is_multithreading_enabled()
    ember.autograd.set_multithreading_enabled(True)
    from ember.core.autograd import GRAD_LAYOUT
    with ember.autograd.enforce_grad_layout_policy(False):
        assert not GRAD_LAYOUT.enforce
        p = _t(3, 2).t().requires_grad_()   # a transposed leaf
        (p * 2).sum().backward()
        np.testing.assert_allclose(p.grad.numpy(), 2 * np.ones((2, 3)))
    assert GRAD_LAYOUT.enforce
