"""``ember.cuda.memory`` (``torch.cuda.memory``): the GPU's memory, through CuPy's memory pool.

ember's cuda tensors live in CuPy's default memory pool, a caching allocator like PyTorch's:
freed blocks stay reserved for reuse until ``empty_cache()``. "Allocated" bytes are the
pool's bytes in use by arrays, "reserved" the bytes it holds from the driver. Without a
usable GPU the questions about one device raise a RuntimeError saying why, the statistics
dictionaries are empty (as PyTorch's), and ``empty_cache`` does nothing.
"""
from __future__ import annotations

import collections
import contextlib
import ctypes
import itertools

from ember.cuda import _common

__all__ = ["caching_allocator_alloc", "caching_allocator_delete", "caching_allocator_disabled",
           "caching_allocator_enable", "get_per_process_memory_fraction", "set_per_process_memory_fraction",
           "empty_cache", "memory_stats", "memory_stats_as_nested_dict", "reset_accumulated_memory_stats",
           "reset_peak_memory_stats", "reset_max_memory_allocated", "reset_max_memory_cached",
           "memory_allocated", "max_memory_allocated", "memory_reserved", "max_memory_reserved", "memory_cached",
           "max_memory_cached", "memory_summary", "list_gpu_processes", "mem_get_info", "get_allocator_backend",
           "CUDAPluggableAllocator", "change_current_allocator", "MemPool", "use_mem_pool", "host_memory_stats",
           "host_memory_stats_as_nested_dict", "reset_accumulated_host_memory_stats", "reset_peak_host_memory_stats"]


def _index(device=None) -> int:
    return _common.index(device)


# ---------------------------------------------------------------- statistics
def memory_stats(device=None) -> dict:
    """The memory pool's statistics for a GPU, under PyTorch's flat keys.

    Args:
        device: the GPU (default: the current one).

    Returns:
        An ordered dict: ``allocated_bytes.all.current`` / ``.peak`` / ``.allocated``,
        ``reserved_bytes.all.current`` / ``.peak``, ``allocation.all.allocated``.

    Raises:
        RuntimeError: without a usable GPU.
    """
    return collections.OrderedDict(sorted(_common.usable().memory_stats(_index(device)).items()))


def memory_stats_as_nested_dict(device=None) -> dict:
    """``memory_stats`` with its dotted keys split into nested dictionaries.

    Args:
        device: the GPU (default: the current one).

    Returns:
        A dict such as ``{"allocated_bytes": {"all": {"current": ...}}}``; empty without a usable GPU.
    """
    if not _common.available():
        return {}
    nested: dict = {}
    for key, value in memory_stats(device).items():
        *path, last = key.split(".")
        node = nested
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return nested


def memory_allocated(device=None) -> int:
    """Bytes held by tensors (CuPy's memory pool in use) on the GPU.

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int.
    """
    return memory_stats(device)["allocated_bytes.all.current"]


def max_memory_allocated(device=None) -> int:
    """The most bytes held by tensors at once since the start or ``reset_peak_memory_stats``.

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int.
    """
    return memory_stats(device)["allocated_bytes.all.peak"]


def memory_reserved(device=None) -> int:
    """Bytes the memory pool holds from the driver (in use or cached).

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int.
    """
    return memory_stats(device)["reserved_bytes.all.current"]


def max_memory_reserved(device=None) -> int:
    """The most bytes the memory pool held at once since the start or ``reset_peak_memory_stats``.

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int.
    """
    return memory_stats(device)["reserved_bytes.all.peak"]


def memory_cached(device=None) -> int:
    """Deprecated name of ``memory_reserved``.

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int.
    """
    return memory_reserved(device)


def max_memory_cached(device=None) -> int:
    """Deprecated name of ``max_memory_reserved``.

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int.
    """
    return max_memory_reserved(device)


def reset_peak_memory_stats(device=None) -> None:
    """Restart the peaks (``max_memory_allocated``, ``max_memory_reserved``) from the current values.

    Args:
        device: the GPU (default: the current one).
    """
    _common.usable().reset_peak(_index(device))


def reset_max_memory_allocated(device=None) -> None:
    """Deprecated form of ``reset_peak_memory_stats``.

    Args:
        device: the GPU (default: the current one).
    """
    reset_peak_memory_stats(device)


def reset_max_memory_cached(device=None) -> None:
    """Deprecated form of ``reset_peak_memory_stats``.

    Args:
        device: the GPU (default: the current one).
    """
    reset_peak_memory_stats(device)


def reset_accumulated_memory_stats(device=None) -> None:
    """Restart the accumulated counts (``allocation.all.allocated``, ``allocated_bytes.all.allocated``).

    Args:
        device: the GPU (default: the current one).
    """
    _common.usable().reset_accumulated(_index(device))


def _format_size(n: int) -> str:
    for unit in ("B  ", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:6d} {unit}" if unit == "B  " else f"{n:6.1f} {unit}"
        n /= 1024
    return str(n)


def memory_summary(device=None, abbreviated: bool = False) -> str:
    """A printable table of the GPU's memory statistics.

    Args:
        device: the GPU (default: the current one).
        abbreviated: accepted as in PyTorch; ember's table has one line per metric either way.

    Returns:
        A multi-line string.
    """
    index = _index(device)
    stats = memory_stats(index)
    width = 75
    rule = "|" + "=" * width + "|"
    lines = [rule, "|" + f" ember.cuda memory summary, device {index} ".center(width) + "|",
             "|" + "-" * width + "|",
             f"| {'Metric':<26}| {'Current':>14} | {'Peak':>14} | {'Total':>12} |"]
    rows = (("Allocated memory", "allocated_bytes.all", True), ("Reserved memory", "reserved_bytes.all", True),
            ("Allocations", "allocation.all", False))
    for title, key, sized in rows:
        values = [stats.get(f"{key}.{k}") for k in ("current", "peak", "allocated")]
        text = [("" if v is None else _format_size(v) if sized else str(v)) for v in values]
        lines.append(f"| {title:<26}| {text[0]:>14} | {text[1]:>14} | {text[2]:>12} |")
    lines.append(rule)
    return "\n".join(lines) + "\n"


def mem_get_info(device=None) -> tuple[int, int]:
    """The GPU's free and total memory, as the driver reports them (``cudaMemGetInfo``).

    Args:
        device: the GPU (default: the current one).

    Returns:
        ``(free_bytes, total_bytes)``.
    """
    cp = _common.cupy()
    with cp.cuda.Device(_index(device)):
        free, total = cp.cuda.runtime.memGetInfo()
    return int(free), int(total)


def empty_cache() -> None:
    """Give the cached, unused blocks of the device and pinned memory pools back to the driver."""
    if not _common.available():
        return
    cp = _common.cupy()
    cp.get_default_memory_pool().free_all_blocks()
    cp.get_default_pinned_memory_pool().free_all_blocks()


# ---------------------------------------------------------------- limits
def set_per_process_memory_fraction(fraction, device=None) -> None:
    """Cap the memory pool of a GPU at ``fraction`` of its total memory (CuPy's pool limit).

    Args:
        fraction: a float in [0, 1].
        device: the GPU (default: the current one).

    Raises:
        TypeError: when ``fraction`` is not a float.
        ValueError: when it is outside [0, 1].
    """
    cp = _common.cupy()
    index = _index(device)
    if not isinstance(fraction, float):
        raise TypeError("Invalid type for fraction argument, must be `float`")
    if fraction < 0 or fraction > 1:
        raise ValueError(f"Invalid fraction value: {fraction}. Allowed range: 0~1")
    with cp.cuda.Device(index):
        cp.get_default_memory_pool().set_limit(fraction=fraction)


def get_per_process_memory_fraction(device=None) -> float:
    """The fraction of a GPU's memory the memory pool may hold (1.0 without a cap).

    Args:
        device: the GPU (default: the current one).

    Returns:
        A float.
    """
    cp = _common.cupy()
    with cp.cuda.Device(_index(device)):
        limit = cp.get_default_memory_pool().get_limit()
        total = cp.cuda.runtime.memGetInfo()[1]
    return 1.0 if not limit else float(limit) / float(total)


# ---------------------------------------------------------------- raw allocations
_RAW: dict = {}  # address -> CuPy MemoryPointer of caching_allocator_alloc's blocks


def caching_allocator_alloc(size, device=None, stream=None) -> int:
    """Allocate ``size`` bytes from the memory pool, outside any tensor.

    Args:
        size: the byte count.
        device: the GPU (default: the current one).
        stream: the stream the memory is used on (a ``Stream`` or a handle; default: the current one).

    Returns:
        The address, for ``caching_allocator_delete``.

    Raises:
        TypeError: for a ``device`` or ``stream`` of another type.
    """
    cp = _common.cupy()
    from ember.cuda.streams import Stream, current_stream
    index = _index(device)
    if stream is None:
        stream = current_stream(index)
    if isinstance(stream, Stream):
        cupy_stream = stream.cupy_stream
    elif isinstance(stream, int):
        cupy_stream = cp.cuda.ExternalStream(stream, index)
    else:
        raise TypeError("Invalid type for stream argument, must be `torch.cuda.Stream` or `int` representing a "
                        "pointer to a existing stream")
    with cp.cuda.Device(index), cupy_stream:
        memory = cp.cuda.alloc(int(size))
    _RAW[int(memory.ptr)] = memory
    return int(memory.ptr)


def caching_allocator_delete(mem_ptr) -> None:
    """Return a block from ``caching_allocator_alloc`` to the memory pool.

    Args:
        mem_ptr: its address.

    Raises:
        RuntimeError: for an address ``caching_allocator_alloc`` did not give.
    """
    if _RAW.pop(int(mem_ptr), None) is None:
        raise RuntimeError(f"invalid device pointer: {int(mem_ptr):#x}")


_caching = {"enabled": True, "saved": None}


def caching_allocator_enable(value: bool = True) -> None:
    """Turn the caching of freed GPU memory on or off; off, each tensor gets memory from the driver
    and gives it back when freed (CuPy without its pool). Without a usable GPU: nothing to do.

    Args:
        value: True to cache.
    """
    value = bool(value)
    if not _common.available() or value == _caching["enabled"]:
        _caching["enabled"] = value
        return
    cp = _common.cupy()
    if value:
        cp.cuda.set_allocator(_caching["saved"])
    else:
        _caching["saved"] = cp.cuda.get_allocator()
        cp.get_default_memory_pool().free_all_blocks()
        cp.cuda.set_allocator(None)
    _caching["enabled"] = value


@contextlib.contextmanager
def caching_allocator_disabled():
    """Context manager turning off the caching of freed GPU memory inside the block."""
    before = _caching["enabled"]
    caching_allocator_enable(False)
    try:
        yield
    finally:
        caching_allocator_enable(before)


def get_allocator_backend() -> str:
    """The allocator behind GPU tensors: ``"native"``, PyTorch's name for a caching allocator, which
    CuPy's memory pool is.

    Returns:
        A string.
    """
    _common.usable()
    return "native"


# ---------------------------------------------------------------- custom allocators and pools
class CUDAPluggableAllocator:
    """An allocator from a shared library, as PyTorch's: ``void* alloc(ssize_t size, int device,
    cudaStream_t stream)`` and ``void free(void* ptr, ssize_t size, int device, cudaStream_t stream)``.

    Args:
        path_to_so_file: the library's path.
        alloc_fn_name: the allocating function's name.
        free_fn_name: the freeing function's name.

    Raises:
        OSError: when the library cannot be loaded; AttributeError when a function is missing.
    """

    def __init__(self, path_to_so_file: str, alloc_fn_name: str, free_fn_name: str):
        self._library = ctypes.CDLL(path_to_so_file)
        self._alloc = getattr(self._library, alloc_fn_name)
        self._alloc.restype, self._alloc.argtypes = ctypes.c_void_p, [ctypes.c_ssize_t, ctypes.c_int,
                                                                       ctypes.c_void_p]
        self._free = getattr(self._library, free_fn_name)
        self._free.restype, self._free.argtypes = None, [ctypes.c_void_p, ctypes.c_ssize_t, ctypes.c_int,
                                                         ctypes.c_void_p]
        self._sizes: dict = {}
        self._cupy_allocator = None

    def _stream(self) -> int:
        return int(_common.cupy().cuda.get_current_stream().ptr)

    def _malloc(self, size, device_id) -> int:
        ptr = self._alloc(size, device_id, self._stream())
        if not ptr and size:
            raise MemoryError(f"the pluggable allocator could not allocate {size} bytes on GPU {device_id}")
        self._sizes[ptr] = (size, self._stream())
        return ptr or 0

    def _release(self, ptr, device_id) -> None:
        size, stream = self._sizes.pop(ptr, (0, self._stream()))
        self._free(ptr, size, device_id, stream)

    def allocator(self):
        """The CuPy allocator calling the library's functions.

        Returns:
            A ``cupy.cuda.memory.PythonFunctionAllocator``.
        """
        if self._cupy_allocator is None:
            cp = _common.cupy()
            self._cupy_allocator = cp.cuda.memory.PythonFunctionAllocator(self._malloc, self._release)
        return self._cupy_allocator


def change_current_allocator(allocator) -> None:
    """Make ``allocator`` give the memory of new GPU tensors (PyTorch asks for it before the first one).

    Args:
        allocator: a ``CUDAPluggableAllocator``.
    """
    if not isinstance(allocator, CUDAPluggableAllocator):
        raise TypeError(f"expected a CUDAPluggableAllocator, got {type(allocator).__name__}")
    cp = _common.cupy()
    cp.cuda.set_allocator(allocator.allocator().malloc)


_pool_ids = itertools.count(1)


class MemPool:
    """A memory pool of its own: inside ``with use_mem_pool(pool):`` GPU tensors take memory from it.

    Args:
        allocator: a ``CUDAPluggableAllocator`` the pool takes its memory from (default: the driver).
        use_on_oom: use this pool when the default one runs out of memory (not offered: raises).
        no_split: never split the pool's blocks (not offered: raises).
    """

    def __init__(self, allocator=None, use_on_oom: bool = False, no_split: bool = False):
        cp = _common.cupy()
        if use_on_oom or no_split:
            raise NotImplementedError("MemPool(use_on_oom=True) and MemPool(no_split=True) need PyTorch's "
                                      "allocator; CuPy's memory pool offers neither")
        self.allocator = allocator
        source = allocator.allocator().malloc if allocator is not None else None
        self._pool = cp.cuda.MemoryPool(source) if source is not None else cp.cuda.MemoryPool()
        self.id = (0, next(_pool_ids))
        self._users = 0

    def use_count(self) -> int:
        """How many ``use_mem_pool`` blocks use the pool now, plus one for the pool itself.

        Returns:
            An int.
        """
        return 1 + self._users

    def used_bytes(self) -> int:
        """Bytes of the pool in use by arrays (ember's addition, CuPy's count)."""
        return int(self._pool.used_bytes())

    def total_bytes(self) -> int:
        """Bytes the pool holds from the driver (ember's addition, CuPy's count)."""
        return int(self._pool.total_bytes())

    def empty_cache(self) -> None:
        """Give the pool's unused blocks back to the driver."""
        self._pool.free_all_blocks()


@contextlib.contextmanager
def use_mem_pool(pool: MemPool, device=None):
    """Context manager: GPU tensors made inside the block take their memory from ``pool``.

    Args:
        pool: a ``MemPool``.
        device: the GPU (default: the current one).
    """
    cp = _common.cupy()
    pool._users += 1
    try:
        with cp.cuda.Device(_index(device)), cp.cuda.using_allocator(pool._pool.malloc):
            yield
    finally:
        pool._users -= 1


# ---------------------------------------------------------------- processes (NVML)
def list_gpu_processes(device=None) -> str:
    """The processes using the GPU and their memory, as NVML reports them.

    Args:
        device: the GPU (default: the current one).

    Returns:
        A multi-line string; a note when nvidia-ml-py (``pynvml``) is not installed.
    """
    try:
        import pynvml
    except ModuleNotFoundError:
        return "pynvml module not found, please install nvidia-ml-py"
    from ember.cuda import _nvml
    index = _index(device)
    handle = _nvml.handle(index)
    processes = pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
    lines = [f"GPU:{index}"]
    if not processes:
        lines.append("no processes are running")
    for p in processes:
        lines.append(f"process {p.pid:>10d} uses {p.usedGpuMemory / (1024 * 1024):>12.3f} MB GPU memory")
    return "\n".join(lines)


# ---------------------------------------------------------------- page-locked host memory
def host_memory_stats() -> dict:
    """The page-locked (pinned) host memory's statistics: ``allocations.*`` and ``allocated_bytes.*``
    (``current``, ``peak``, ``allocated``, ``freed``), ``num_host_alloc``, ``num_host_free``.

    Returns:
        An ordered dict; empty without a usable GPU, as PyTorch's.
    """
    if not _common.available():
        return collections.OrderedDict()
    return collections.OrderedDict(sorted(_common.usable().host_memory_stats().items()))


def host_memory_stats_as_nested_dict() -> dict:
    """``host_memory_stats`` with its dotted keys split into nested dictionaries.

    Returns:
        A dict; empty without a usable GPU.
    """
    nested: dict = {}
    for key, value in host_memory_stats().items():
        *path, last = key.split(".")
        node = nested
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return nested


def reset_accumulated_host_memory_stats() -> None:
    """Restart the accumulated counts of page-locked host memory (``allocated``, ``freed``, ``num_host_*``)."""
    _common.usable().reset_host_accumulated()


def reset_peak_host_memory_stats() -> None:
    """Restart the peaks of page-locked host memory from the current values."""
    _common.usable().reset_host_peak()
