"""Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
from core_refs import host


def names(module):
    return list(module._modules)


# ---------------------------------------------------------------- Sequential
def test_sequential_forward_matches_composition(any_device):
    device = any_device
    seq = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(device)
    x = ember.randn(5, 3, device=device)
    expected = seq[2](seq[1](seq[0](x)))
    np.testing.assert_allclose(host(seq(x)), host(expected), rtol=1e-6)
    seq(x).sum().backward()
    assert all(p.grad is not None for p in seq.parameters())


def test_sequential_indexing_and_slicing():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    seq = nn.Sequential(a, b, c)
    assert seq[0] is a and seq[-1] is c and seq[-3] is a
    part = seq[1:]
    assert isinstance(part, nn.Sequential) and list(part) == [b, c] and names(part) == ["1", "2"]
    assert list(seq[::2]) == [a, c]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    with pytest.raises(IndexError):
        seq[-4]
    with pytest.raises(TypeError):
        seq[1.5]
    assert len(seq) == 3 and list(iter(seq)) == [a, b, c]


def test_sequential_mutation():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    seq.append(nn.Sigmoid())
    assert names(seq) == ["0", "1", "2"]
    elu = nn.ELU()
    seq.insert(1, elu)
    assert seq[1] is elu and isinstance(seq[2], nn.Tanh) and names(seq) == ["0", "1", "2", "3"]
    seq.insert(-1, nn.GELU())
    assert isinstance(seq[3], nn.GELU) and isinstance(seq[4], nn.Sigmoid)
    seq.extend([nn.SiLU(), nn.Mish()])
    assert len(seq) == 7
    ident = nn.Identity()
    seq[0] = ident
    seq[-1] = nn.Softsign()
    assert seq[0] is ident and isinstance(seq[6], nn.Softsign)
    del seq[1:3]
    assert names(seq) == [str(i) for i in range(5)] and isinstance(seq[1], nn.GELU)
    del seq[-1]
    assert len(seq) == 4
    assert seq.pop(0) is ident and len(seq) == 3
    with pytest.raises(IndexError):
        seq.insert(10, nn.ReLU())


def test_sequential_ordered_dict_and_operators():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert names(seq) == ["fc", "act"] and isinstance(seq.fc, nn.Linear)
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    combined = nn.Sequential(nn.ReLU()) + nn.Sequential(nn.Tanh(), nn.ELU())
    assert [type(m).__name__ for m in combined] == ["ReLU", "Tanh", "ELU"]
    doubled = nn.Sequential(nn.ReLU(), nn.Tanh()) * 2
    assert len(doubled) == 4
    with pytest.raises(ValueError):
        nn.Sequential(nn.ReLU()) + nn.ModuleList()
    inplace = nn.Sequential(nn.ReLU())
    inplace += nn.Sequential(nn.Tanh())
    assert len(inplace) == 2
    assert "0" not in dir(inplace)


# ---------------------------------------------------------------- ModuleList
def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    assert isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 2
    assert layers[-1] is layers[2]
    tanh = nn.Tanh()
    layers.insert(0, tanh)
    assert layers[0] is tanh and names(layers) == ["0", "1", "2", "3"]
    layers += [nn.ReLU()]
    layers.append(nn.ELU()).extend([nn.GELU()])
    assert len(layers) == 7
    del layers[0]
    assert names(layers) == [str(i) for i in range(6)] and isinstance(layers[0], nn.Linear)
    assert isinstance(layers.pop(), nn.GELU) and len(layers) == 5
    layers[0] = nn.Identity()
    assert isinstance(layers[0], nn.Identity)
    joined = layers + nn.ModuleList([nn.ReLU()])
    assert len(joined) == 6
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(nn.ReLU())
    with pytest.raises(TypeError, match="not a Module subclass"):
        nn.ModuleList([1])
    with pytest.raises(IndexError):
        layers[9]
    with pytest.raises(NotImplementedError):
        layers(ember.ones(1))


def test_module_list_repr_groups_repeats():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU(), nn.ReLU(), nn.Tanh()])
    assert repr(layers) == (
        "ModuleList(\n"
        "  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (3-4): 2 x ReLU()\n"
        "  (5): Tanh()\n"
        ")")
    assert repr(nn.ModuleList()) == "ModuleList()"


def test_module_list_moves_with_parent(any_device):
    device = any_device
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x
    net = Net().to(device)
    assert all(p.device.type == device for p in net.parameters())
    assert list(net.state_dict()) == ["blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]
    assert net(ember.randn(1, 2, device=device)).device.type == device


# ---------------------------------------------------------------- ModuleDict
def test_module_dict():
    d = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()})
    assert list(d.keys()) == ["b", "a"] and len(d) == 2 and "a" in d
    d["c"] = nn.Linear(1, 1)
    d.update([("e", nn.ELU())])
    d.update(OrderedDict(f=nn.GELU()))
    assert list(d) == ["b", "a", "c", "e", "f"]
    assert isinstance(d.pop("a"), nn.Tanh) and "a" not in d
    del d["b"]
    assert [k for k, _ in d.items()] == ["c", "e", "f"] and len(list(d.values())) == 3
    assert list(dict(d.named_parameters())) == ["c.weight", "c.bias"]
    with pytest.raises(ValueError, match="length 3"):
        d.update([("x", nn.ReLU(), 1)])
    with pytest.raises(TypeError):
        d.update(5)
    d.clear()
    assert len(d) == 0


# ---------------------------------------------------------------- ParameterList / ParameterDict
def test_parameter_list(any_device):
    device = any_device
    plist = nn.ParameterList([ember.ones(2), nn.Parameter(ember.zeros(3))])
    assert all(isinstance(p, nn.Parameter) for p in plist) and len(plist) == 2
    plist.append(ember.full((1,), 2.0))
    plist.extend([ember.ones(4)])
    assert len(plist) == 4 and len(list(plist.parameters())) == 4
    assert isinstance(plist[1:], nn.ParameterList) and len(plist[1:]) == 3
    assert plist[-1] is plist[3]
    new = nn.Parameter(ember.ones(5))
    plist[0] = new
    assert plist[0] is new
    assert list(plist.state_dict()) == ["0", "1", "2", "3"]
    plist.to(device)
    assert plist[2].device.type == device and isinstance(plist[2], nn.Parameter)
    assert "(1): Parameter containing: [ember.float32 of size 3" in repr(plist)
    with pytest.raises(RuntimeError):
        plist()


def test_parameter_dict(any_device):
    device = any_device
    pd = nn.ParameterDict({"w": ember.ones(2), "b": nn.Parameter(ember.zeros(1))})
    assert isinstance(pd["w"], nn.Parameter) and list(pd.keys()) == ["w", "b"] and "w" in pd
    pd["c"] = ember.ones(3)
    assert len(pd) == 3 and len(list(pd.parameters())) == 3
    assert pd.get("missing") is None and pd.get("c") is pd["c"]
    assert isinstance(pd.pop("c"), nn.Parameter) and "c" not in pd
    pd.update({"d": ember.ones(1)})
    assert list(pd) == ["w", "b", "d"]
    assert pd.setdefault("e", ember.zeros(2)) is pd["e"]
    merged = pd | nn.ParameterDict({"z": ember.ones(1)})
    assert list(merged) == ["w", "b", "d", "e", "z"]
    key, _value = pd.popitem()
    assert key == "e"
    assert sorted(pd.state_dict()) == ["b", "d", "w"]
    pd.to(device)
    assert pd["w"].device.type == device
    with pytest.raises(KeyError):
        pd["nope"]
    pd.clear()
    assert len(pd) == 0
