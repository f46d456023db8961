"""Where a tensor's values sit: ``layout``, ``data_ptr``, ``storage_offset``,
``untyped_storage`` and ``is_shared``, as PyTorch reports them.

A tensor's storage is the memory of its base (the tensor it is a view of, or itself). On
backends whose arrays have addresses (cpu, cuda, opencl) offsets are measured from the
base's first element; on a backend without them (mps) the offset is found by replaying the
view on element numbers.
"""
from __future__ import annotations

from ember.core import dtype as dt
from ember.core import layout as _layout
from ember.core.autograd import no_grad
from ember.core.call import backend_of, call, replay_view
from ember.core.tensor import Tensor
from ember.core.transfer import create
from ember.dispatch.ops import OPS
from ember.ops.public import public


def _base(t: Tensor) -> Tensor:
    return t if t._base is None else t._base


@public(name="layout", function=False, method=True)
@property
def _tensor_layout(self):
    """The tensor's memory layout: ``ember.strided`` for dense tensors (sparse ones report theirs)."""
    return _layout.strided


@public(function=False, method=True)
def data_ptr(self) -> int:
    """The memory address of the tensor's first element.

    Returns:
        An int; views of one storage give addresses inside it.

    Raises:
        RuntimeError: on a backend whose arrays have no address (mps on MLX).
    """
    return backend_of(self.device.type).data_ptr(self._data)


@public(function=False, method=True)
def storage_offset(self) -> int:
    """How many elements into its storage the tensor's first element lies (0 unless a view).

    Returns:
        An int.
    """
    base = _base(self)
    if base is self or not self.numel():
        return 0
    backend = backend_of(self.device.type)
    if backend.aliasing_views:
        return (backend.data_ptr(self._data) - backend.data_ptr(base._data)) // self.dtype.itemsize
    with no_grad():  # no addresses: where does the view's first element sit in the base?
        numbered = create("arange", base.device, start=0, end=base.numel(), step=1, dtype=dt.int64)
        positions = replay_view(self._view_fn, call(OPS["view"], numbered, shape=base._data.shape))
        return int(positions.reshape(-1)[0].item())


@public(function=False, method=True)
def is_shared(self) -> bool:
    """Whether the tensor's memory is shared between processes: True for GPU tensors, as in
    PyTorch, and for CPU tensors after ``share_memory_()`` (or received through ember.multiprocessing).

    Returns:
        A bool.
    """
    from ember.ops.shared_memory import shared_block
    return self.device.type in ("cuda", "rocm") or (self.device.type == "cpu" and shared_block(self) is not None)


@public(function=False, method=True)
def untyped_storage(self) -> "UntypedStorage":
    """The storage (flat bytes) the tensor is a view of.

    Returns:
        An ``UntypedStorage``; views of one tensor give storages with the same ``data_ptr()``.
    """
    return UntypedStorage(_base(self))


@public
class UntypedStorage:
    """The flat memory behind a tensor and its views, counted in bytes (``Tensor.untyped_storage()``).

    Args:
        base: the tensor that owns the memory (the base of the views).
    """

    def __init__(self, base: Tensor):
        self._base = base

    @property
    def device(self):
        """The device the memory is on."""
        return self._base.device

    def nbytes(self) -> int:
        """The storage's size in bytes."""
        return self._base.numel() * self._base.dtype.itemsize

    size = nbytes

    def __len__(self):
        return self.nbytes()

    def element_size(self) -> int:
        """1: an untyped storage is addressed in bytes."""
        return 1

    def data_ptr(self) -> int:
        """The address of the storage's first byte."""
        return backend_of(self.device.type).data_ptr(self._base._data)

    def __repr__(self):
        return f"ember.UntypedStorage(nbytes={self.nbytes()}, device={self.device})"
