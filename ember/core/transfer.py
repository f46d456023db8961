"""Tensors in and out of backends: device objects, creation kernels, host copies, transfers.

The core's own way to make tensors and move them between devices, used by the core
itself (printing, pickling, in-place writes) and by the public creation functions of
``ember.ops.creation``, which add PyTorch's argument handling on top.
"""
from __future__ import annotations

import numpy as np

from ember.core import dtype as dt
from ember.core.autograd import GRAD_MODE, Node, edge_of
from ember.core.call import backend_of, resolve_kernel
from ember.core.dual import DUAL, set_tangent, tangent_of
from ember.core.device import as_device
from ember.core.device import device as Device
from ember.core.flags import default_device_or_none
from ember.core.tensor import Tensor, make_tensor
from ember.dispatch.tracing import host_read, recorded

CPU = Device("cpu")
_LIMITED = frozenset(dt.LIMITED_DTYPES)
_CANONICAL = {}  # (type, index) or device string -> the Device object tensors on it carry


def canonical_device(device) -> Device:
    """The one Device object for ``device`` (None = the default device: the CPU unless
    ``ember.set_default_device`` chose another), with the backend's default index."""
    if device is None:
        device = default_device_or_none()
        if device is None:
            return CPU
    if isinstance(device, Device):
        key = (device.type, device.index)
    elif isinstance(device, str):
        key = device
    else:
        d = Device(device)
        key = (d.type, d.index)
    found = _CANONICAL.get(key)
    if found is None:
        d = as_device(device) if not isinstance(device, tuple) else Device(*device)
        backend = backend_of(d.type)
        index = backend.canonical_index(d.index)
        if index is not None and index >= backend.device_count():
            raise RuntimeError(f"device '{d}' is out of range: {d.type} has {backend.device_count()} device(s)")
        found = CPU if d.type == "cpu" else _CANONICAL.setdefault((d.type, index), Device(d.type, index))
        if d.index is not None or not backend.index_follows_current_device:
            _CANONICAL[key] = found  # 'cuda' alone is not cached: it means the current device
    return found


def check_dtype_supported(dtype: dt.dtype, device: Device) -> None:
    """Raise the backend's error (PyTorch's TypeError for float64 on mps) for an unsupported dtype."""
    backend = backend_of(device.type)
    if dtype not in backend.supported_dtypes(device.index):
        raise backend.unsupported_dtype_error(dtype, device)


@recorded
def create(op_name, device, requires_grad=False, **attrs) -> Tensor:
    """Run a creation kernel (``full``, ``arange``, ``philox_*``: no tensor inputs) on ``device``."""
    device = canonical_device(device)
    shape = attrs.get("shape")
    if shape is not None and any(s < 0 for s in shape):
        bad = next(s for s in shape if s < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {list(shape)}")
    kernel = resolve_kernel(op_name, device.type)
    backend = backend_of(device.type)
    if attrs.get("dtype") in _LIMITED:  # (the backends' own dtypes they map; these few some lack)
        check_dtype_supported(attrs["dtype"], device)
    native = backend.normalize(kernel(index=device.index, **attrs))
    t = make_tensor(native, backend.dtype_of(native), device)
    if requires_grad:
        t.requires_grad_(True)
    return t


@recorded
def from_host(array: np.ndarray, device=None, requires_grad=False) -> Tensor:
    """A tensor on ``device`` holding a copy of a numpy array."""
    device = canonical_device(device)
    backend = backend_of(device.type)
    t = make_tensor(backend.from_numpy(array, device.index), dt.from_numpy_dtype(array.dtype), device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def to_numpy(t: Tensor) -> np.ndarray:
    """The tensor's values as a numpy array (shares memory for CPU tensors)."""
    array = backend_of(t.device.type).to_numpy(t._data)
    host_read(t, array)
    return array


class TransferRule:
    """Backward of a copy to another device (or into pinned memory): copy the gradient back."""
    saves_inputs = ()
    saves_output = False
    node_name = "ToCopyBackward0"

    def __init__(self, source_device):
        self.source_device = source_device

    def __call__(self, node, grad):
        return (to_device(grad, self.source_device),)


def record_transfer(out: Tensor, source: Tensor) -> Tensor:
    """Give ``out`` (a copy of ``source`` elsewhere) the autograd edge back to ``source``."""
    if source._rg and GRAD_MODE.enabled:
        out.grad_fn = Node("ToCopyBackward0", TransferRule(source.device), None, (edge_of(source),),
                           ((source._data.shape, source.dtype, source.device),))
        out._rg = True
    if DUAL.level is not None and tangent_of(source) is not None:  # forward AD: the tangent moves too
        set_tangent(out, to_device(tangent_of(source), out.device))
    return out


@recorded
def to_device(input: Tensor, device, non_blocking=False) -> Tensor:
    """``input`` on ``device`` (itself when already there), differentiable."""
    device = canonical_device(device)
    if input.device == device:
        return input
    source = backend_of(input.device.type)
    target = backend_of(device.type)
    check_dtype_supported(input.dtype, device)
    if non_blocking and device.type == "cpu" and source.supports_non_blocking:
        # queued into page-locked memory: the values are there after synchronize(), as in PyTorch
        native = source.to_numpy(input._data, non_blocking=True)
    else:
        host = np.asarray(source.to_numpy(input._data), order="C")
        if non_blocking and target.supports_non_blocking:
            native = target.from_numpy(host, device.index, non_blocking=True)
        else:
            native = target.from_numpy(host, device.index)
    return record_transfer(make_tensor(native, input.dtype, device), input)
