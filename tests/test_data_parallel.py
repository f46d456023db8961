"""nn.DataParallel over nn.parallel's scatter / replicate / parallel_apply / gather.

Every device type here has one device, so the several-replica path runs with ``device_ids=[0, 0]``
(two replicas on one device, each in its own thread) on the counting plugin, made DataParallel's
device type for the test; the suite's own accelerator (mps under EMBER_MPS_DEVICE=cpu) is one
PyTorch's DataParallel ignores, which gives the wrapper-is-the-module case.
"""
import collections
import importlib

import numpy as np
import pytest

import ember as torch

# (``ember.nn.parallel.data_parallel`` the attribute is the function, as in PyTorch: fetch the module)
DP = importlib.import_module("ember.nn.parallel.data_parallel")
RNG = np.random.default_rng(3)
Pair = collections.namedtuple("Pair", "a b")


@pytest.fixture
def counting(monkeypatch):
    monkeypatch.setattr(DP, "_available_device_type", lambda: "counting")
    return torch.device("counting", 0)


def _linear(dtype=torch.float64):
    m = torch.nn.Linear(3, 2, dtype=dtype)
    return m, m.weight.detach().numpy().astype(np.float64), m.bias.detach().numpy().astype(np.float64)


def test_without_a_device_type_it_is_the_module(monkeypatch):
    monkeypatch.setattr(DP, "_available_device_type", lambda: None)
    m, w, b = _linear()
    dp = torch.nn.DataParallel(m, device_ids=[0, 1], output_device=1, dim=1)
    assert dp.device_ids == [] and dp.module is m and not hasattr(dp, "dim")
    x = RNG.standard_normal((4, 3))
    np.testing.assert_allclose(dp(torch.tensor(x)).detach().numpy(), x @ w.T + b)
    assert list(dp.state_dict()) == ["module.weight", "module.bias"]


def test_mps_is_not_a_data_parallel_device(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda check_available=False: torch.device("mps"))
    assert DP._available_device_type() is None


def test_single_device_moves_the_module_and_scatters_inputs(counting):
    m, w, b = _linear()
    dp = torch.nn.DataParallel(m)
    assert dp.device_ids == [0] and dp.output_device == 0 and dp.dim == 0
    assert m.weight.device.type == "counting"
    x = RNG.standard_normal((4, 3))
    out = dp(torch.tensor(x))   # a CPU input goes to the device
    assert out.device.type == "counting"
    np.testing.assert_allclose(out.cpu().detach().numpy(), x @ w.T + b)


@pytest.mark.parametrize("dim", [0, 1])
def test_two_replicas_split_join_and_backpropagate(counting, dim):
    m, w, b = _linear()
    m.to(counting)
    dp = torch.nn.DataParallel(m, device_ids=[0, counting], output_device=-1, dim=dim)
    assert dp.device_ids == [0, 0] and dp.output_device == -1
    x = RNG.standard_normal((2, 5, 3))          # 5 along dim 1 splits 3 + 2; 2 along dim 0 splits 1 + 1
    up = RNG.standard_normal((2, 5, 2))
    out = dp(torch.tensor(x, device=counting))
    assert out.device.type == "cpu"              # output_device=-1
    np.testing.assert_allclose(out.detach().numpy(), x @ w.T + b, rtol=1e-12)
    out.backward(torch.tensor(up))
    np.testing.assert_allclose(m.weight.grad.cpu().numpy(), up.reshape(-1, 2).T @ x.reshape(-1, 3), rtol=1e-12)
    np.testing.assert_allclose(m.bias.grad.cpu().numpy(), up.reshape(-1, 2).sum(0), rtol=1e-12)


class _Nested(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2, dtype=torch.float64)
        self.calls = []

    def forward(self, x, pair, *, scale, tag="t"):
        self.calls.append((tuple(x.shape), tag))
        return {"out": self.lin(x) * scale, "pair": Pair(pair.a + 1, [pair.b]), "none": None}


def test_nested_inputs_kwargs_and_outputs(counting):
    m = _Nested().to(counting)
    dp = torch.nn.DataParallel(m, device_ids=[0, 0])
    x = RNG.standard_normal((4, 3))
    a, bvec, scale = RNG.standard_normal((4, 1)), RNG.standard_normal(4), RNG.standard_normal((4, 1))
    out = dp(torch.tensor(x), Pair(torch.tensor(a), torch.tensor(bvec)), scale=torch.tensor(scale), tag="z")
    w, b = m.lin.weight.cpu().detach().numpy(), m.lin.bias.cpu().detach().numpy()
    assert set(out) == {"out", "pair", "none"} and out["none"] is None
    assert isinstance(out["pair"], Pair) and isinstance(out["pair"].b, list)
    np.testing.assert_allclose(out["out"].cpu().detach().numpy(), (x @ w.T + b) * scale, rtol=1e-12)
    np.testing.assert_allclose(out["pair"].a.cpu().numpy(), a + 1)
    np.testing.assert_allclose(out["pair"].b[0].cpu().numpy(), bvec)
    assert out["out"].device.type == "counting"
    # each replica saw half the batch and the unsplit keyword
    assert sorted(m.calls) == [((2, 3), "z"), ((2, 3), "z")]


def test_short_batch_uses_fewer_replicas_and_no_inputs_runs_once(counting):
    m = _Nested().to(counting)
    dp = torch.nn.DataParallel(m, device_ids=[0, 0])
    # (a tensor keyword splits alike; a plain value would be copied to every device, and then, as in
    # PyTorch, the second replica gets no positional arguments)
    dp(torch.ones(1, 3, dtype=torch.float64), Pair(torch.ones(1, 1), torch.ones(1)), scale=torch.ones(1, 1))
    assert m.calls == [((1, 3), "t")]

    class NoArgs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(2))
            self.calls = []   # (the replicas share the list: their attributes are shallow copies)

        def forward(self):
            self.calls.append(1)
            return self.w * 3

    n = NoArgs().to(counting)
    out = torch.nn.DataParallel(n, device_ids=[0, 0])()
    assert n.calls == [1] and out.cpu().tolist() == [3.0, 3.0]


def test_parameters_must_be_on_the_first_device(counting):
    m, _, _ = _linear()
    dp = torch.nn.DataParallel(m, device_ids=[0, 0])   # several devices: the module stays where it is
    assert m.weight.device.type == "cpu"
    with pytest.raises(RuntimeError, match=r"module must have its parameters and buffers on device counting:0"):
        dp(torch.ones(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="Expected a non cpu device"):
        torch.nn.DataParallel(m, device_ids=["cpu"])


def test_no_grad_replicas_are_detached(counting):
    m, w, b = _linear()
    dp = torch.nn.DataParallel(m.to(counting), device_ids=[0, 0])
    x = RNG.standard_normal((4, 3))
    with torch.no_grad():
        out = dp(torch.tensor(x))
    assert not out.requires_grad
    np.testing.assert_allclose(out.cpu().numpy(), x @ w.T + b, rtol=1e-12)


def test_cuda_imbalance_warns(monkeypatch):
    props = {0: Props(8 << 30, 80), 1: Props(4 << 30, 80), 2: Props(8 << 30, 78)}
    monkeypatch.setattr(DP, "_available_device_type", lambda: "cuda")
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: props[i])
    monkeypatch.setattr(torch.nn.Module, "to", lambda self, *a, **k: self)  # nothing to move to here
    with pytest.warns(UserWarning, match="GPU 1 has less than 75% of the total_memory of GPU 0"):
        torch.nn.DataParallel(torch.nn.Linear(2, 2), device_ids=[0, 1])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        torch.nn.DataParallel(torch.nn.Linear(2, 2), device_ids=[0, 2])


Props = collections.namedtuple("Props", "total_memory multi_processor_count")
