"""nn.Module: registration, iteration, state_dict, moves and casts, modes, hooks, repr;
Parameter and Buffer; and the simple layers (Linear, Bilinear, Identity, Flatten,
Unflatten, Embedding, Dropout) against numpy references."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from core_refs import FLOAT_DTYPES, compare, host, rounded, widest_float


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2, bias=False)
        self.register_buffer("steps", ember.zeros((), dtype=ember.int64))
        self.register_buffer("scratch", ember.ones(2), persistent=False)
        self.scale = nn.Parameter(ember.ones(1))

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


# ---------------------------------------------------------------- Parameter and Buffer
def test_parameter_basics():
    t = ember.randn(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, ember.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    with ember.no_grad():
        p.mul_(2)
    np.testing.assert_allclose(host(t), host(p))  # shares memory with the wrapped tensor
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert "requires_grad=True" in repr(p)
    assert type(p * 2) is ember.Tensor  # results of ops are plain tensors
    assert tuple(nn.Parameter().shape) == (0,)
    with pytest.raises(RuntimeError):
        nn.Parameter(ember.tensor([1, 2]))  # integer tensors cannot require grad


def test_parameter_deepcopy_and_pickle():
    p = nn.Parameter(ember.randn(3))
    p.grad = ember.ones(3)
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.requires_grad and q is not p
    np.testing.assert_allclose(host(q), host(p))
    np.testing.assert_allclose(host(q.grad), 1.0)
    with ember.no_grad():
        q.add_(1)
    assert not np.allclose(host(q), host(p))
    r = pickle.loads(pickle.dumps(nn.Parameter(ember.arange(3.0), requires_grad=False)))
    assert isinstance(r, nn.Parameter) and not r.requires_grad
    np.testing.assert_allclose(host(r), [0, 1, 2])


def test_buffer_assignment():
    m = nn.Module()
    m.running = nn.Buffer(ember.zeros(2))
    m.temp = nn.Buffer(ember.ones(1), persistent=False)
    assert set(dict(m.named_buffers())) == {"running", "temp"}
    assert list(m.state_dict()) == ["running"]
    assert isinstance(m.running, ember.Tensor)


# ---------------------------------------------------------------- registration
def test_registration_and_iteration():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["scale", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.scale"
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "fc2"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert len(list(net.modules())) == 4 and len(list(net.children())) == 3
    assert len(list(net.parameters())) == 4 and len(list(net.buffers())) == 2
    assert net.fc2.bias is None and "bias" in net.fc2._parameters


def test_shared_parameters_are_deduplicated():
    m = nn.Module()
    m.a = nn.Linear(2, 2)
    m.b = m.a
    m.c = nn.Linear(2, 2)
    m.c.weight = m.a.weight
    assert len(list(m.parameters())) == 3
    names = [n for n, _ in m.named_parameters(remove_duplicate=False)]
    assert names == ["a.weight", "a.bias", "b.weight", "b.bias", "c.weight", "c.bias"]
    assert [n for n, _ in m.named_modules()] == ["", "a", "c"]
    assert len(list(m.named_modules(remove_duplicate=False))) == 4


def test_setattr_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign .* as parameter 'weight'"):
        m.weight = ember.ones(2, 2)
    m.weight = None
    assert m.weight is None and "weight" in m._parameters
    m.register_buffer("buf", ember.ones(1))
    with pytest.raises(TypeError, match="as buffer 'buf'"):
        m.buf = 3
    m.buf = ember.zeros(2)
    assert tuple(m.buf.shape) == (2,)
    m.child = nn.ReLU()
    with pytest.raises(TypeError, match="child module"):
        m.child = 3
    m.plain = 5  # ordinary attributes still work
    assert m.plain == 5 and "plain" not in m._parameters
    m.plain = nn.Parameter(ember.ones(1))  # becomes a parameter, leaves the instance dict
    assert "plain" in m._parameters and "plain" not in m.__dict__


def test_register_errors():
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", ember.ones(1))
    with pytest.raises(KeyError, match="empty"):
        m.register_parameter("", nn.Parameter(ember.ones(1)))
    with pytest.raises(TypeError, match="should be a string"):
        m.register_buffer(3, ember.ones(1))
    m.x = 1
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("x", ember.ones(1))
    with pytest.raises(TypeError, match="buffer 'y'"):
        m.register_buffer("y", [1])
    with pytest.raises(TypeError, match="parameter 'z'"):
        m.register_parameter("z", ember.ones(1))
    with pytest.raises(ValueError, match="non-leaf"):
        m.register_parameter("w", _nonleaf_parameter())
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("q", 3)


def _nonleaf_parameter():
    p = nn.Parameter(ember.ones(2))
    p.grad_fn = (p * 2).grad_fn
    return p


def test_missing_init_call():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()


def test_getattr_delattr_dir():
    net = Net()
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'nope'"):
        net.nope
    del net.act
    assert "act" not in dict(net.named_children())
    del net.steps
    assert "steps" not in dict(net.named_buffers())
    names = dir(net)
    assert "fc1" in names and "scale" in names and "forward" in names


def test_get_submodule_parameter_buffer():
    outer = nn.Sequential(Net(), nn.Linear(2, 2))
    assert outer.get_submodule("0.fc1") is outer[0].fc1
    assert outer.get_submodule("") is outer
    assert outer.get_parameter("0.fc1.weight") is outer[0].fc1.weight
    assert outer.get_buffer("0.steps") is outer[0].steps
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        outer.get_submodule("0.nope")
    with pytest.raises(AttributeError, match="is not an nn.Module"):
        outer.get_submodule("0.fc1.weight")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        outer.get_parameter("0.steps")
    outer.set_submodule("0.act", nn.Tanh())
    assert isinstance(outer[0].act, nn.Tanh)


def test_forward_not_implemented():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


# ---------------------------------------------------------------- state dict
def test_state_dict_contents():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["scale", "steps", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert all(type(v) is ember.Tensor and not v.requires_grad for v in sd.values())
    with ember.no_grad():
        net.fc1.weight.fill_(3.0)
    np.testing.assert_allclose(host(sd["fc1.weight"]), 3.0)  # shares memory
    kept = net.state_dict(keep_vars=True)
    assert kept["fc1.weight"] is net.fc1.weight
    assert net.state_dict(prefix="m.")["m.fc1.bias"] is not None
    assert sd._metadata[""]["version"] == 1


def test_load_state_dict_round_trip(any_device):
    device = any_device
    a, b = Net().to(device), Net().to(device)
    weight = b.fc1.weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert b.fc1.weight is weight  # copied in place, the Parameter object is kept
    assert b.fc1.weight.requires_grad and b.fc1.weight.grad_fn is None
    for (na, ta), (nb, tb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb
        np.testing.assert_array_equal(host(ta), host(tb))
    with ember.no_grad():
        a.fc1.weight.add_(1)
    assert not np.allclose(host(a.fc1.weight), host(b.fc1.weight))  # copies, not aliases


def test_load_state_dict_strict_errors():
    net = Net()
    sd = net.state_dict()
    del sd["fc1.bias"]
    sd["fc1.extra"] = ember.ones(1)
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Net" in message
    assert 'Missing key(s) in state_dict: "fc1.bias"' in message
    assert 'Unexpected key(s) in state_dict: "fc1.extra"' in message
    result = net.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc1.bias"] and result.unexpected_keys == ["fc1.extra"]
    assert "missing_keys=['fc1.bias']" in repr(result)


def test_load_state_dict_shape_mismatch():
    net = Net()
    sd = net.state_dict()
    sd["fc1.weight"] = ember.zeros(5, 3)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for fc1.weight: .*\[5, 3\].*\[4, 3\]"):
            net.load_state_dict(sd, strict=strict)
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([1, 2])


def test_load_state_dict_casts_dtype_and_assign():
    lin = nn.Linear(2, 2)
    sd = {"weight": ember.ones(2, 2, dtype=ember.float64), "bias": ember.zeros(2, dtype=ember.float64)}
    lin.load_state_dict(sd)
    assert lin.weight.dtype is ember.float32
    np.testing.assert_allclose(host(lin.weight), 1.0)
    lin.load_state_dict(sd, assign=True)
    assert lin.weight.dtype is ember.float64 and isinstance(lin.weight, nn.Parameter)
    assert lin.weight.requires_grad


def test_extra_state_and_hooks():
    class WithExtra(nn.Linear):
        def get_extra_state(self):
            return {"note": self.note}

        def set_extra_state(self, state):
            self.note = state["note"]
    a = WithExtra(2, 2)
    a.note = "hello"
    sd = a.state_dict()
    assert sd["_extra_state"] == {"note": "hello"}
    b = WithExtra(2, 2)
    b.load_state_dict(sd)
    assert b.note == "hello"
    seen = []
    b.register_load_state_dict_post_hook(lambda module, keys: seen.append(list(keys.missing_keys)))
    b.load_state_dict({k: v for k, v in sd.items() if k != "bias"}, strict=False)
    assert seen == [["bias"]]


def test_non_persistent_buffer_not_loaded():
    net = Net()
    sd = net.state_dict()
    assert "scratch" not in sd
    sd["scratch"] = ember.ones(2)
    assert net.load_state_dict(sd, strict=False).unexpected_keys == ["scratch"]


# ---------------------------------------------------------------- moves, casts, modes
def test_to_dtype_changes_only_floating():
    net = Net()
    weight = net.fc1.weight
    net.fc1.weight.grad = ember.ones(4, 3)
    assert net.to(ember.float64) is net
    assert net.fc1.weight is weight and weight.dtype is ember.float64
    assert weight.grad.dtype is ember.float64
    assert net.steps.dtype is ember.int64 and net.scratch.dtype is ember.float64
    net.half()
    assert net.fc1.weight.dtype is ember.float16
    net.float()
    assert net.fc2.weight.dtype is ember.float32
    net.double()
    assert net.scale.dtype is ember.float64
    with pytest.raises(TypeError, match="floating point"):
        net.to(ember.int64)


def test_to_device_keeps_parameter_identity(any_device):
    device = any_device
    net = Net()
    weight = net.fc1.weight
    net.to(device)
    assert net.fc1.weight is weight and weight.device.type == device
    assert net.steps.device.type == device
    out = net(ember.randn(5, 3, device=device))
    assert out.device.type == device
    # to(tensor) takes its dtype too: float64, or float16 where the device lacks it (mps)
    other = widest_float(device) if widest_float(device) is ember.float64 else ember.float16
    net.to(ember.zeros(1, dtype=other, device=device))
    assert weight.dtype is other and weight.device.type == device
    net.cpu()
    assert weight.device.type == "cpu"


def test_train_eval_apply_requires_grad_zero_grad():
    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(), nn.Sequential(nn.ReLU()))
    assert net.training and net[2][0].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited == ["Linear", "Dropout", "ReLU", "Sequential", "Sequential"]
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    net(ember.randn(3, 2)).sum().backward()
    grad = net[0].weight.grad
    net.zero_grad(set_to_none=False)
    assert net[0].weight.grad is grad and host(grad).sum() == 0
    net.zero_grad()
    assert net[0].weight.grad is None


# ---------------------------------------------------------------- hooks
def test_forward_pre_and_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(tuple(out.shape)) or out + 1)
    out = lin(ember.randn(3, 2))
    np.testing.assert_allclose(host(out), host(lin.bias).reshape(1, 2).repeat(3, 0) + 1, rtol=1e-6)
    assert calls == [(3, 2)]
    h1.remove()
    h2.remove()
    x = ember.randn(3, 2)
    np.testing.assert_allclose(host(lin(x)), host(F.linear(x, lin.weight, lin.bias)))
    assert calls == [(3, 2)]


def test_hooks_with_kwargs_prepend_and_context_manager():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor
    m = Scale()
    order = []
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: order.append(("kw", kwargs["factor"])),
                            with_kwargs=True)
    m.register_forward_hook(lambda mod, args, out: order.append("first"), prepend=True)
    out = m(ember.ones(2), factor=2.0)
    np.testing.assert_allclose(host(out), 3.0)
    assert order == ["first", ("kw", 3.0)]
    with m.register_forward_hook(lambda mod, args, out: out * 10):
        np.testing.assert_allclose(host(m(ember.ones(1))), 30.0)
    np.testing.assert_allclose(host(m(ember.ones(1))), 3.0)


def test_full_backward_hook(any_device):
    device = any_device
    class TwoOut(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x, scale):
            return self.lin(x) * scale, x.sum()

    m = TwoOut().to(device)
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
    x = ember.randn(4, 3, device=device, requires_grad=True)
    a, _ = m(x, 2.0)
    upstream = ember.randn(4, 2, device=device)
    a.backward(upstream)
    (grad_input, grad_output), = seen
    assert len(grad_input) == 2 and grad_input[1] is None
    assert len(grad_output) == 2 and grad_output[1] is None
    np.testing.assert_allclose(host(grad_output[0]), host(upstream))
    expected = host(upstream) * 2 @ host(m.lin.weight)
    np.testing.assert_allclose(host(grad_input[0]), expected, rtol=1e-5)
    np.testing.assert_allclose(host(x.grad), expected, rtol=1e-5)


def test_full_backward_hook_replaces_grad_input_and_pre_hook(any_device):
    device = any_device
    lin = nn.Linear(3, 2).to(device)
    lin.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 2,))
    x = ember.randn(4, 3, device=device, requires_grad=True)
    lin(x).sum().backward()
    np.testing.assert_allclose(host(x.grad), 2 * np.tile(host(lin.weight).sum(0), (4, 1)), rtol=1e-5)

    lin2 = nn.Linear(3, 2).to(device)
    lin2.register_full_backward_pre_hook(lambda mod, go: (go[0] * 0,))
    x = ember.randn(4, 3, device=device, requires_grad=True)
    lin2(x).sum().backward()
    assert host(x.grad).sum() == 0 and host(lin2.weight.grad).sum() == 0


def test_full_backward_hook_without_input_grad(any_device):
    device = any_device
    lin = nn.Linear(3, 2).to(device)
    seen = []
    lin.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, tuple(go[0].shape))))
    lin(ember.randn(4, 3, device=device)).sum().backward()
    assert seen == [((None,), (4, 2))]
    assert lin.weight.grad is not None


def test_global_forward_hook():
    from ember.nn.modules.module import register_module_forward_hook
    seen = []
    with register_module_forward_hook(lambda m, args, out: seen.append(type(m).__name__)):
        nn.Sequential(nn.ReLU(), nn.Tanh())(ember.ones(1))
    assert seen == ["ReLU", "Tanh", "Sequential"]
    nn.ReLU()(ember.ones(1))
    assert len(seen) == 3


# ---------------------------------------------------------------- repr
def test_nested_repr():
    net = nn.Sequential(OrderedDict(conv=nn.Linear(2, 3), seq=nn.Sequential(nn.ReLU(), nn.Dropout(0.1))))
    assert repr(net) == (
        "Sequential(\n"
        "  (conv): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (seq): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.1, inplace=False)\n"
        "  )\n"
        ")")

    class Multi(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Identity()

        def extra_repr(self):
            return "a=1\nb=2"
    assert repr(Multi()) == "Multi(\n  a=1\n  b=2\n  (fc): Identity()\n)"


# ---------------------------------------------------------------- layers
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_linear_functional(dtype, any_device):
    device = any_device
    r = np.random.default_rng(0)
    x, w, b = r.standard_normal((2, 3, 4)), r.standard_normal((5, 4)), r.standard_normal(5)
    compare(F.linear, lambda a, ww, bb: a @ ww.T + bb, [x, w, b], device, dtype, grad_wrt=(0, 1, 2))
    compare(lambda a, ww: F.linear(a, ww), lambda a, ww: a @ ww.T, [x[0, 0], w], device, dtype, grad_wrt=(0, 1))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        F.linear(ember.ones(2, 3, device=device), ember.ones(5, 4, device=device))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_bilinear_functional(dtype, any_device):
    device = any_device
    r = np.random.default_rng(1)
    x1, x2, w, b = r.standard_normal((2, 3)), r.standard_normal((2, 4)), r.standard_normal((5, 3, 4)), \
        r.standard_normal(5)
    compare(F.bilinear, lambda a, c, ww, bb: np.einsum("ni,oij,nj->no", a, ww, c) + bb, [x1, x2, w, b], device,
            dtype, grad_wrt=(0, 1, 2, 3))


def test_linear_and_bilinear_modules(any_device):
    device = any_device
    dtype = widest_float(device)
    lin = nn.Linear(4, 3, device=device, dtype=dtype)
    assert lin.weight.device.type == device and lin.weight.dtype is dtype
    bound = 1 / np.sqrt(4)
    assert np.abs(host(lin.weight)).max() <= bound and np.abs(host(lin.bias)).max() <= bound
    assert np.abs(host(lin.weight)).max() > 0.5 * bound
    x = ember.randn(2, 4, dtype=dtype, device=device)
    tol = dict(rtol=1e-7) if dtype is ember.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(lin(x)), host(x) @ host(lin.weight).T + host(lin.bias), **tol)
    assert repr(lin) == "Linear(in_features=4, out_features=3, bias=True)"
    nb = nn.Linear(4, 3, bias=False)
    assert nb.bias is None and len(list(nb.parameters())) == 1
    bil = nn.Bilinear(2, 3, 4)
    assert tuple(bil.weight.shape) == (4, 2, 3)
    assert np.abs(host(bil.weight)).max() <= 1 / np.sqrt(2)
    assert repr(bil) == "Bilinear(in1_features=2, in2_features=3, out_features=4, bias=True)"
    ident = nn.Identity(54, unused="x")
    x = ember.randn(2)
    assert ident(x) is x


def test_flatten_unflatten(any_device):
    device = any_device
    x = ember.randn(2, 3, 4, 5, device=device)
    assert tuple(nn.Flatten()(x).shape) == (2, 60)
    assert tuple(nn.Flatten(0, 2)(x).shape) == (24, 5)
    assert tuple(nn.Unflatten(1, (3, 1))(ember.randn(2, 3, device=device)).shape) == (2, 3, 1)
    assert tuple(nn.Unflatten(-1, (5, -1))(x).shape) == (2, 3, 4, 5, 1)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Unflatten(1, (2, 3))) == "Unflatten(dim=1, unflattened_size=(2, 3))"
    with pytest.raises(TypeError):
        nn.Unflatten(1, 6)


# ---------------------------------------------------------------- embedding
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_embedding_functional(dtype, any_device):
    device = any_device
    r = np.random.default_rng(2)
    w = r.standard_normal((10, 3))
    idx = np.array([[1, 2, 4], [5, 4, 3], [2, 2, 9]])
    compare(lambda i, ww: F.embedding(i, ww), lambda i, ww: ww[i], [idx, w], device, dtype, grad_wrt=(1,))


def test_embedding_padding_idx(any_device):
    device = any_device
    emb = nn.Embedding(6, 3, padding_idx=2).to(device)
    np.testing.assert_allclose(host(emb.weight)[2], 0.0)
    idx = ember.tensor([[0, 2, 2], [5, 2, 0]], device=device)
    out = emb(idx)
    np.testing.assert_allclose(host(out), host(emb.weight)[host(idx).astype(int)])
    out.sum().backward()
    grad = host(emb.weight.grad)
    np.testing.assert_allclose(grad[2], 0.0)
    np.testing.assert_allclose(grad[0], 2.0)
    np.testing.assert_allclose(grad[5], 1.0)
    np.testing.assert_allclose(grad[[1, 3, 4]], 0.0)
    assert repr(emb) == "Embedding(6, 3, padding_idx=2)"
    assert nn.Embedding(6, 3, padding_idx=-1).padding_idx == 5


def test_embedding_max_norm_and_scale_grad(any_device):
    device = any_device
    w = ember.tensor(np.arange(12.0).reshape(4, 3), dtype=widest_float(device), device=device)
    emb = nn.Embedding.from_pretrained(w.clone(), freeze=False, max_norm=1.0)
    out = emb(ember.tensor([1, 1, 3], device=device))
    norms = np.linalg.norm(host(emb.weight), axis=1)
    assert norms[1] <= 1.0 + 1e-5 and norms[3] <= 1.0 + 1e-5
    np.testing.assert_allclose(norms[2], np.linalg.norm([6.0, 7, 8]))  # unused rows untouched
    np.testing.assert_allclose(host(out)[0], host(emb.weight)[1])
    emb2 = nn.Embedding(4, 2, scale_grad_by_freq=True).to(device)
    emb2(ember.tensor([1, 1, 1, 2], device=device)).sum().backward()
    np.testing.assert_allclose(host(emb2.weight.grad)[[1, 2]], 1.0)


def test_embedding_from_pretrained_and_errors(any_device):
    device = any_device
    w = ember.randn(5, 2, device=device)
    frozen = nn.Embedding.from_pretrained(w)
    assert not frozen.weight.requires_grad
    np.testing.assert_allclose(host(frozen(ember.tensor([4], device=device))), host(w)[[4]])
    with pytest.raises(RuntimeError, match="indices"):
        frozen(ember.tensor([0.0], device=device))
    with pytest.raises(AssertionError, match="Padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)


def test_embedding_bag(any_device):
    device = any_device
    r = np.random.default_rng(3)
    w = r.standard_normal((10, 3))
    idx = np.array([1, 2, 4, 5, 4, 3, 2, 9])
    offsets = [0, 2, 5]
    bags = [idx[0:2], idx[2:5], idx[5:]]
    dtype = widest_float(device)
    wq = rounded(w, dtype)
    weight = ember.tensor(wq, dtype=dtype, device=device, requires_grad=True)
    it, ot = ember.tensor(idx, device=device), ember.tensor(offsets, device=device)
    for mode, reduce in [("sum", np.sum), ("mean", np.mean), ("max", np.max)]:
        out = F.embedding_bag(it, weight, ot, mode=mode)
        np.testing.assert_allclose(host(out), np.stack([reduce(wq[b], axis=0) for b in bags]),
                                   rtol=1e-12 if dtype is ember.float64 else 1e-6)
    for mode, reduce in [("sum", np.sum), ("mean", np.mean), ("max", np.max)]:
        compare(lambda ww: F.embedding_bag(it, ww, ot, mode=mode),
                lambda ww: np.stack([reduce(ww[b], axis=0) for b in bags]), [w], device, dtype)
    psw = r.standard_normal(8)
    compare(lambda ww, s: F.embedding_bag(it, ww, ot, mode="sum", per_sample_weights=s),
            lambda ww, s: np.stack([(ww[b] * s[lo:lo + len(b), None]).sum(0) for b, lo in zip(bags, offsets)]),
            [w, psw], device, dtype, grad_wrt=(0, 1))
    bag = nn.EmbeddingBag(10, 3, mode="sum").to(device)
    out = bag(ember.tensor([[1, 2], [3, 3]], device=device))
    np.testing.assert_allclose(host(out), host(bag.weight)[[1, 3]] + host(bag.weight)[[2, 3]], rtol=1e-6)


# ---------------------------------------------------------------- dropout
def test_dropout_statistics_and_scaling(any_device):
    device = any_device
    x = ember.ones(20000, device=device)
    out = host(F.dropout(x, 0.3, training=True))
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert F.dropout(x, 0.3, training=False) is x
    np.testing.assert_allclose(host(F.dropout(x, 1.0)), 0.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError):
        nn.Dropout(-0.1)


def test_dropout_gradient_uses_same_mask(any_device):
    device = any_device
    x = ember.randn(1000, device=device, requires_grad=True)
    out = F.dropout(x, 0.5)
    out.sum().backward()
    np.testing.assert_allclose(host(x.grad), (host(out) != 0) * 2.0)


def test_dropout_module_train_eval(any_device):
    device = any_device
    m = nn.Dropout(0.5)
    x = ember.ones(100, device=device)
    assert (host(m(x)) == 0).any()
    m.eval()
    np.testing.assert_allclose(host(m(x)), 1.0)
    y = ember.ones(100, device=device)
    m.train()
    nn.Dropout(0.5, inplace=True)(y)
    assert (host(y) == 0).any()


@pytest.mark.parametrize("fn,shape,channel_dims", [
    (F.dropout1d, (4, 8, 50), 2), (F.dropout1d, (8, 50), 1),
    (F.dropout2d, (4, 8, 5, 10), 2), (F.dropout3d, (4, 8, 2, 5, 5), 2), (F.dropout3d, (8, 2, 5, 5), 1),
])
def test_channel_dropout_zeros_whole_channels(fn, shape, channel_dims, any_device):
    device = any_device
    x = ember.ones(*shape, device=device)
    out = host(fn(x, 0.5, training=True))
    per_channel = out.reshape(shape[:channel_dims] + (-1,))
    assert ((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1)).all()
    assert (per_channel == 0).all(-1).any() and (per_channel == 2.0).all(-1).any()


def test_dropout2d_3d_input_warns(any_device):
    device = any_device
    with pytest.warns(UserWarning, match="3D"):
        F.dropout2d(ember.ones(2, 3, 4, device=device), 0.5)
    with pytest.raises(RuntimeError, match="2D or 3D"):
        F.dropout1d(ember.ones(2, 3, 4, 5, device=device))
    assert repr(nn.Dropout2d(0.3)) == "Dropout2d(p=0.3, inplace=False)"


def test_alpha_dropout_keeps_statistics(any_device):
    device = any_device
    x = ember.randn(40000, device=device)
    out = host(F.alpha_dropout(x, 0.2, training=True))
    assert abs(out.mean()) < 0.03 and abs(out.std() - 1) < 0.03
    assert F.alpha_dropout(x, 0.2, training=False) is x
    m = nn.AlphaDropout(0.2)
    assert (host(m(x)) != host(x)).any()


# ---------------------------------------------------------------- misc functional
def test_one_hot(any_device):
    device = any_device
    t = ember.tensor([[0, 2], [1, 3]], device=device)
    out = F.one_hot(t)
    assert out.dtype is ember.int64 and tuple(out.shape) == (2, 2, 4)
    np.testing.assert_array_equal(host(out), np.eye(4)[[[0, 2], [1, 3]]])
    assert tuple(F.one_hot(t, 6).shape) == (2, 2, 6)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(t, 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(ember.tensor([-1, 0], device=device))
    with pytest.raises(RuntimeError):
        F.one_hot(ember.tensor([0.0], device=device))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_normalize_cosine_pairwise(dtype, any_device):
    device = any_device
    r = np.random.default_rng(5)
    x, y = r.standard_normal((3, 4)), r.standard_normal((3, 4))
    compare(lambda a: F.normalize(a, p=3.0, dim=0),
            lambda a: a / np.maximum((np.abs(a) ** 3).sum(0, keepdims=True) ** (1 / 3), 1e-12), [x], device, dtype)
    compare(lambda a, b: F.cosine_similarity(a, b),
            lambda a, b: (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)),
            [x, y], device, dtype, grad_wrt=(0, 1))
    compare(lambda a, b: F.cosine_similarity(a, b, dim=-1),
            lambda a, b: (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)),
            [x, y[:1]], device, dtype, grad_wrt=(0, 1))
    compare(lambda a, b: F.pairwise_distance(a, b, p=1.5),
            lambda a, b: (np.abs(a - b + 1e-6) ** 1.5).sum(-1) ** (1 / 1.5), [x, y], device, dtype, grad_wrt=(0, 1))
    compare(lambda a, b: F.pairwise_distance(a, b, keepdim=True),
            lambda a, b: np.linalg.norm(a - b + 1e-6, axis=-1, keepdims=True), [x, y], device, dtype,
            grad_wrt=(0, 1))


def test_pdist_and_gumbel_softmax(any_device):
    device = any_device
    from scipy.spatial.distance import pdist as scipy_pdist
    x = np.random.default_rng(9).standard_normal((5, 3))
    dtype = widest_float(device)
    compare(lambda a: F.pdist(a), lambda a: scipy_pdist(a), [x], device, dtype)
    compare(lambda a: F.pdist(a, p=1.0), lambda a: scipy_pdist(a, "minkowski", p=1.0), [x], device, dtype)
    logits = ember.randn(4, 6, device=device, requires_grad=True)
    soft = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(host(soft).sum(1), 1.0, rtol=1e-6)
    hard = F.gumbel_softmax(logits, hard=True)
    np.testing.assert_allclose(np.sort(host(hard), 1)[:, -1], 1.0, rtol=1e-6)
    np.testing.assert_allclose(host(hard).sum(1), 1.0, rtol=1e-6)
    (hard * ember.arange(6.0, device=device)).sum().backward()
    assert logits.grad is not None and np.abs(host(logits.grad)).sum() > 0
