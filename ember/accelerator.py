"""``ember.accelerator``: PyTorch's ``torch.accelerator``, over ember's backend plugins.

ember's *accelerator* is the first available of the ``cuda``, ``rocm``, ``mps`` and
``opencl`` backends, else the first other available non-CPU backend a plugin provides (in
device-type order); with none, there is no accelerator and the device functions raise
``RuntimeError``, as PyTorch on a CPU-only machine. ``mps`` counts when MLX can run
(``EMBER_MPS_DEVICE=cpu`` makes it available anywhere), like PyTorch's ``mps`` on a Mac.
"""
from __future__ import annotations

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "current_device_idx",
           "set_device_index", "set_device_idx", "synchronize", "device_index", "current_stream", "set_stream",
           "memory_stats", "memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved",
           "reset_peak_memory_stats", "reset_accumulated_memory_stats", "empty_cache", "empty_host_cache",
           "get_memory_info", "get_device_capability", "Graph"]

_PREFERRED = ("cuda", "rocm", "mps", "opencl")
_NOT_ACCELERATORS = ("cpu", "meta")
_current_index = {}  # device type -> index chosen by set_device_index (backends without their own)


def _accelerator_type() -> str | None:
    from ember.dispatch.registry import REGISTRY
    REGISTRY.load()
    others = sorted(t for t in REGISTRY.backends if t not in _PREFERRED and t not in _NOT_ACCELERATORS)
    for device_type in (*_PREFERRED, *others):
        if device_type not in REGISTRY.backends:
            continue
        try:
            if REGISTRY.backend(device_type).is_available():
                return device_type
        except RuntimeError:  # a plugin whose probe fails is not available
            continue
    return None


def _require() -> str:
    device_type = _accelerator_type()
    if device_type is None:
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return device_type


def is_available() -> bool:
    """Whether an accelerator (see the module docstring) is available.

    Returns:
        True when one is.
    """
    return _accelerator_type() is not None


def current_accelerator(check_available: bool = False):
    """The accelerator's device type, as a device without index.

    Args:
        check_available: kept for PyTorch's signature; an ember accelerator is always available.

    Returns:
        An ``ember.device`` such as ``device(type='mps')``, or None when there is no accelerator.
    """
    import ember
    device_type = _accelerator_type()
    return None if device_type is None else ember.device(device_type)


def device_count() -> int:
    """How many devices the accelerator has.

    Returns:
        The count, 0 when there is no accelerator.
    """
    device_type = _accelerator_type()
    if device_type is None:
        return 0
    from ember.dispatch.registry import REGISTRY
    return REGISTRY.backend(device_type).device_count()


def _index_of(device, device_type) -> int:
    import ember
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    d = device if isinstance(device, ember.device) else ember.device(device)
    if d.type != device_type:
        raise ValueError(f"{d.type} doesn't match the current accelerator {device_type}.")
    return current_device_index() if d.index is None else d.index


def current_device_index() -> int:
    """The index of the accelerator's current device.

    Returns:
        The index (0 unless ``set_device_index`` chose another).

    Raises:
        RuntimeError: when there is no accelerator.
    """
    device_type = _require()
    if device_type in ("cuda", "rocm"):
        import ember
        return ember.cuda.current_device()
    return _current_index.get(device_type, 0)


def set_device_index(device, /) -> None:
    """Make ``device`` the accelerator's current device.

    Args:
        device: an index, or an accelerator device / device string; a negative index does nothing.

    Raises:
        RuntimeError: when there is no accelerator.
        ValueError: for another device type, or an index beyond ``device_count()``.
    """
    device_type = _require()
    index = _index_of(device, device_type)
    if index < 0:
        return
    if index >= device_count():
        raise ValueError(f"device index {index} is out of range for the {device_type} accelerator, which has "
                         f"{device_count()} device(s)")
    if device_type in ("cuda", "rocm"):
        import ember
        ember.cuda.set_device(index)
    else:
        _current_index[device_type] = index


def synchronize(device=None, /) -> None:
    """Wait for all queued work on an accelerator device.

    Args:
        device: the device (index, device or string); None means the current one.

    Raises:
        RuntimeError: when there is no accelerator.
    """
    device_type = _require()
    index = current_device_index() if device is None else _index_of(device, device_type)
    from ember.dispatch.registry import REGISTRY
    REGISTRY.backend(device_type).synchronize(index)


# PyTorch's older spellings
current_device_idx = current_device_index
set_device_idx = set_device_index


def get_device_module(device=None):
    """The ``ember.<type>`` module for a device type (``ember.cuda``, ``ember.mps``, ``ember.cpu``).

    Args:
        device: a device, device string or None (the accelerator's module, else ``ember.cpu``).

    Returns:
        The module.

    Raises:
        RuntimeError: for a device string ember does not know, or a type with no module.
    """
    import importlib

    import ember
    if device is None:
        device_type = _accelerator_type() or "cpu"
    elif isinstance(device, ember.device):
        device_type = device.type
    elif isinstance(device, str):
        device_type = ember.device(device).type
    else:
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or None")
    name = "cuda" if device_type == "rocm" else device_type  # ROCm is driven through ember.cuda
    try:
        module = importlib.import_module(f"ember.{name}")
    except ImportError:
        module = None
    if module is None or name in ("dispatch", "core", "ops", "plugins"):
        raise RuntimeError(f"Device '{device_type}' does not have a corresponding module registered as "
                           f"'ember.{name}'.")
    return module


# ---------------------------------------------------------------- memory
def _backend_and_index(device):
    device_type = _require()
    from ember.dispatch.registry import REGISTRY
    index = current_device_index() if device is None else _index_of(device, device_type)
    return device_type, REGISTRY.backend(device_type), index


def memory_stats(device_index=None, /) -> dict:
    """The accelerator's memory statistics, under PyTorch's flat keys (what its backend reports:
    ``allocated_bytes.all.current`` / ``.peak``, ``reserved_bytes.all.current``, ...).

    Args:
        device_index: the device (index, device or string); None means the current one.

    Returns:
        An ordered dict.

    Raises:
        RuntimeError: when there is no accelerator.
    """
    import collections
    _, backend, index = _backend_and_index(device_index)
    return collections.OrderedDict(sorted(backend.memory_stats(index).items()))


def memory_allocated(device_index=None, /) -> int:
    """Bytes held by tensors on the accelerator.

    Args:
        device_index: the device; None means the current one.

    Returns:
        An int.
    """
    return memory_stats(device_index).get("allocated_bytes.all.current", 0)


def max_memory_allocated(device_index=None, /) -> int:
    """The most bytes held by tensors at once since the start or ``reset_peak_memory_stats``.

    Args:
        device_index: the device; None means the current one.

    Returns:
        An int.
    """
    stats = memory_stats(device_index)
    return stats.get("allocated_bytes.all.peak", stats.get("allocated_bytes.all.current", 0))


def memory_reserved(device_index=None, /) -> int:
    """Bytes the accelerator's allocator holds (in use or cached).

    Args:
        device_index: the device; None means the current one.

    Returns:
        An int.
    """
    return memory_stats(device_index).get("reserved_bytes.all.current", 0)


def max_memory_reserved(device_index=None, /) -> int:
    """The most bytes the allocator held at once since the start or ``reset_peak_memory_stats``.

    Args:
        device_index: the device; None means the current one.

    Returns:
        An int.
    """
    stats = memory_stats(device_index)
    return stats.get("reserved_bytes.all.peak", stats.get("reserved_bytes.all.current", 0))


def reset_peak_memory_stats(device_index=None, /) -> None:
    """Restart the peak statistics from the current values.

    Args:
        device_index: the device; None means the current one.
    """
    device_type, backend, index = _backend_and_index(device_index)
    reset = getattr(backend, "reset_peak", None)
    if reset is not None:
        reset(index)
    elif device_type == "mps":  # MLX keeps the peak itself
        mx = backend._bind().mx
        mx.reset_peak_memory()


def reset_accumulated_memory_stats(device_index=None, /) -> None:
    """Restart the accumulated statistics (allocation counts) where the backend keeps them.

    Args:
        device_index: the device; None means the current one.
    """
    _, backend, index = _backend_and_index(device_index)
    reset = getattr(backend, "reset_accumulated", None)
    if reset is not None:
        reset(index)


def empty_cache() -> None:
    """Give the accelerator allocator's cached, unused memory back to the system.

    Raises:
        RuntimeError: when there is no accelerator.
    """
    device_type = _require()
    from ember.dispatch.registry import REGISTRY
    backend = REGISTRY.backend(device_type)
    if hasattr(backend, "empty_cache"):
        backend.empty_cache()
    else:
        get_device_module(device_type).empty_cache()


def empty_host_cache() -> None:
    """Give the cached page-locked host memory back to the system (CuPy's pinned pool on cuda;
    the other accelerators cache none).

    Raises:
        RuntimeError: when there is no accelerator.
    """
    device_type = _require()
    if device_type in ("cuda", "rocm"):
        from ember.dispatch.registry import REGISTRY
        REGISTRY.backend(device_type).cupy.get_default_pinned_memory_pool().free_all_blocks()


def get_memory_info(device_index=None, /) -> tuple[int, int]:
    """The accelerator's free and total memory in bytes.

    On cuda, the driver's answer; on mps, the recommended working set and what MLX holds of it;
    on other accelerators, the device's memory (the host's for PoCL's CPU device) and what ember's
    allocator holds of it.

    Args:
        device_index: the device; None means the current one.

    Returns:
        ``(free, total)``.
    """
    device_type, backend, index = _backend_and_index(device_index)
    if device_type in ("cuda", "rocm"):
        import ember
        return ember.cuda.mem_get_info(index)
    held = backend.memory_stats(index).get("reserved_bytes.all.current", 0)
    if device_type == "mps":
        import ember
        total = ember.mps.recommended_max_memory()
    else:
        total = _global_memory(backend, index)
    return max(total - held, 0), total


def _global_memory(backend, index) -> int:
    # a backend may say how much memory its device has; else the host's (PoCL's CPU device uses it)
    found = getattr(backend, "global_memory", None)
    if found is not None:
        return int(found(index))
    import os
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def get_device_capability(device=None, /) -> dict:
    """What the accelerator's device can hold.

    Args:
        device: the device; None means the current one.

    Returns:
        ``{"supported_dtypes": set of ember dtypes}``.
    """
    _, backend, _ = _backend_and_index(device)
    return {"supported_dtypes": set(backend.supported_dtypes())}


# ---------------------------------------------------------------- streams, device blocks, graphs
def current_stream(device=None, /):
    """The accelerator's current stream.

    Args:
        device: the device; None means the current one.

    Returns:
        An ``ember.Stream`` (an ``ember.cuda.Stream`` on cuda).
    """
    device_type, _, index = _backend_and_index(device)
    if device_type in ("cuda", "rocm"):
        import ember
        return ember.cuda.current_stream(index)
    from ember.streams import Stream
    import ember
    return Stream(ember.device(device_type, index))


def set_stream(stream) -> None:
    """Make ``stream`` the accelerator's current stream (and its device the current device).

    Args:
        stream: an ``ember.Stream`` of the accelerator.
    """
    device_type = _require()
    if stream.device.type != device_type:
        raise ValueError(f"stream is on {stream.device.type}, not the current accelerator {device_type}")
    set_device_index(stream.device.index if stream.device.index is not None else 0)
    if device_type in ("cuda", "rocm"):
        import ember
        ember.cuda.set_stream(stream)


class device_index:
    """Context manager: device ``device`` is the accelerator's current device inside the block.

    Args:
        device: an index; None does nothing.
    """

    def __init__(self, device, /):
        self.idx = device
        self.prev_idx = -1

    def __enter__(self):
        if self.idx is not None:
            self.prev_idx = current_device_index()
            set_device_index(self.idx)

    def __exit__(self, *exc):
        if self.idx is not None:
            set_device_index(self.prev_idx)
        return False


class Graph:
    """A captured sequence of accelerator work that ``replay`` launches again; a context manager
    capturing the block on the current stream. On cuda it is an ``ember.cuda.CUDAGraph``; the other
    accelerators run eagerly and cannot capture (a RuntimeError at construction).

    Args:
        keep_graph: keep the captured graph after instantiating it.
        pool: a pool handle to share with other graphs.
        capture_error_mode: ``"default"``, ``"global"``, ``"thread_local"`` or ``"relaxed"``.
    """

    def __init__(self, keep_graph: bool = False, *, pool=None, capture_error_mode: str = "default"):
        device_type = _require()
        if device_type not in ("cuda", "rocm"):
            raise RuntimeError(f"the {device_type} accelerator has no graph capture")
        import ember
        self._graph = ember.cuda.CUDAGraph(keep_graph)
        self.graph_pool = pool
        self.capture_error_mode = capture_error_mode

    def capture_begin(self) -> None:
        """Start capturing the work queued on the current stream."""
        self._graph.capture_begin(self.graph_pool, capture_error_mode=self.capture_error_mode)

    def capture_end(self) -> None:
        """Stop capturing."""
        self._graph.capture_end()

    def instantiate(self) -> None:
        """Make the graph launchable."""
        self._graph.instantiate()

    def replay(self) -> None:
        """Launch the captured work again."""
        self._graph.replay()

    def reset(self) -> None:
        """Drop the captured graph."""
        self._graph.reset()

    def pool(self):
        """The handle of the graph's memory pool."""
        return self._graph.pool()

    def __enter__(self):
        import gc
        synchronize()
        gc.collect()
        empty_cache()
        empty_host_cache()
        self.capture_begin()
        return self

    def __exit__(self, *exc):
        self.capture_end()
        return False
