"""PyTorch view semantics on a backend whose arrays cannot alias memory (as MLX's).

A numpy backend registered at run time whose view kernels return copies and whose
in-place kernels return new arrays stands in for such a backend: the core must still
make in-place writes through views reach the base, and writes to the base reach views.
"""
import numpy as np
import pytest
import scipy.special

import ember
from ember.dispatch.backend import Backend
from ember.dispatch.hookspecs import hookimpl
from ember.dispatch.registry import REGISTRY
from ember.plugins.xp import XpKernels


class CopyingBackend(Backend):
    device_type = "copying"
    dispatch_key = "Copying"
    name = "copying-test"
    version = "0"
    allow_cpu_fallback = False
    aliasing_views = False

    def from_numpy(self, array, index):
        return np.array(array, copy=True)

    def to_numpy(self, native):
        return native

    def normalize(self, native):
        return native if isinstance(native, np.ndarray) else np.asarray(native)


class CopyingPlugin:
    @hookimpl
    def ember_backend(self):
        return CopyingBackend()

    @hookimpl
    def ember_kernels(self, backend):
        table = {}
        for name, kernel in XpKernels(np, scipy.special).kernels().items():
            op = ember.dispatch.OPS[name]
            table[name] = _copying(kernel, inplace=op.inplace) if op.view or op.inplace else kernel
        return table


def _copying(kernel, inplace):
    def run(x, *args, **kwargs):
        if inplace:  # never write into the argument: return a new array
            return kernel(np.array(x, copy=True), *args, **kwargs)
        return np.array(kernel(x, *args, **kwargs), copy=True)
    return run


@pytest.fixture(scope="module")
def dev():
    if "copying" not in REGISTRY.backends:
        REGISTRY.register_plugin(CopyingPlugin(), "copying-test")
    return "copying"


def test_inplace_on_view_changes_base(dev):
    base = ember.zeros(3, 4, device=dev)
    base[1].fill_(2.0)
    base[:, 3].add_(1.0)
    base.t()[0].mul_(0)  # column 0 via a transposed view
    expected = np.zeros((3, 4))
    expected[1] = 2.0
    expected[:, 3] += 1.0
    expected[:, 0] = 0
    np.testing.assert_array_equal(base.cpu().numpy(), expected)


def test_view_sees_later_writes_to_base(dev):
    base = ember.arange(12.0, device=dev).reshape(3, 4)
    row, col, diag = base[1], base[:, 2], base.diagonal()
    base.add_(100)
    np.testing.assert_array_equal(row.cpu().numpy(), np.arange(4, 8) + 100)
    np.testing.assert_array_equal(col.cpu().numpy(), np.array([2, 6, 10]) + 100)
    np.testing.assert_array_equal(diag.cpu().numpy(), np.array([0, 5, 10]) + 100)


def test_write_through_one_view_reaches_sibling_views(dev):
    base = ember.zeros(4, device=dev)
    a, b = base[:2], base[1:]
    a.fill_(7.0)
    np.testing.assert_array_equal(b.cpu().numpy(), [7.0, 0.0, 0.0])
    np.testing.assert_array_equal(base.cpu().numpy(), [7.0, 7.0, 0.0, 0.0])


def test_setitem_and_detach_alias(dev):
    base = ember.zeros(2, 3, device=dev)
    base[0, 1:] = ember.tensor([1.0, 2.0], device=dev)
    alias = base.detach()
    alias[1] = 5.0
    np.testing.assert_array_equal(base.cpu().numpy(), [[0, 1, 2], [5, 5, 5]])


def test_autograd_through_inplace_on_view(dev):
    x = ember.tensor([1.0, 2.0, 3.0], device=dev, requires_grad=True)
    y = x * 1
    y[1:].mul_(3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [1.0, 3.0, 3.0])
    np.testing.assert_array_equal(y.detach().cpu().numpy(), [1.0, 6.0, 9.0])
