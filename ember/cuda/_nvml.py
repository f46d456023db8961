"""GPU readings through NVML (the ``pynvml`` module of nvidia-ml-py), as ``torch.cuda`` takes them."""
from __future__ import annotations

from ember.cuda import _common

__all__ = ["clock_rate", "utilization", "temperature", "power_draw", "memory_usage", "device_memory_used"]


def _pynvml():
    try:
        import pynvml
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError("nvidia-ml-py does not seem to be installed or it can't be imported.") from e
    pynvml.nvmlInit()
    return pynvml


def handle(index: int):
    """The NVML handle of CUDA device ``index``, found by its PCI bus id (so CUDA_VISIBLE_DEVICES holds)."""
    pynvml = _pynvml()
    bus_id = _common.cupy().cuda.Device(index).pci_bus_id
    return pynvml.nvmlDeviceGetHandleByPciBusId(bus_id.encode() if isinstance(bus_id, str) else bus_id)


def _reading(device):
    pynvml = _pynvml()
    return pynvml, handle(_common.index(device))


def clock_rate(device=None) -> int:
    """The GPU's streaming-multiprocessor clock, in MHz, as NVML reads it now.

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int.

    Raises:
        ModuleNotFoundError: without nvidia-ml-py.
    """
    pynvml, h = _reading(device)
    return int(pynvml.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM))


def utilization(device=None) -> int:
    """The percentage of the last sample period in which a kernel ran on the GPU (NVML).

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int from 0 to 100.

    Raises:
        ModuleNotFoundError: without nvidia-ml-py.
    """
    pynvml, h = _reading(device)
    return int(pynvml.nvmlDeviceGetUtilizationRates(h).gpu)


def memory_usage(device=None) -> int:
    """The percentage of the last sample period in which GPU memory was read or written (NVML).

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int from 0 to 100.

    Raises:
        ModuleNotFoundError: without nvidia-ml-py.
    """
    pynvml, h = _reading(device)
    return int(pynvml.nvmlDeviceGetUtilizationRates(h).memory)


def temperature(device=None) -> int:
    """The GPU's temperature in degrees Celsius (NVML).

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int.

    Raises:
        ModuleNotFoundError: without nvidia-ml-py.
    """
    pynvml, h = _reading(device)
    return int(pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU))


def power_draw(device=None) -> int:
    """The GPU's power draw in milliwatts (NVML).

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int.

    Raises:
        ModuleNotFoundError: without nvidia-ml-py.
    """
    pynvml, h = _reading(device)
    return int(pynvml.nvmlDeviceGetPowerUsage(h))


def device_memory_used(device=None) -> int:
    """Bytes of the GPU's memory in use by all processes (NVML).

    Args:
        device: the GPU (default: the current one).

    Returns:
        An int.

    Raises:
        ModuleNotFoundError: without nvidia-ml-py.
    """
    pynvml, h = _reading(device)
    return int(pynvml.nvmlDeviceGetMemoryInfo(h).used)
