"""``ember.cuda.tunable`` (``torch.cuda.tunable``): PyTorch's TunableOp settings.

PyTorch's TunableOp times several GEMM implementations and keeps the fastest. ember's GEMMs
on the GPU are CuPy's (cuBLAS), one implementation per shape, so there is nothing to choose:
these functions keep and report the settings, tuning never runs, ``get_results()`` is empty,
and result files are read and written in PyTorch's CSV form so they survive a round trip.
"""
from __future__ import annotations

import os

__all__ = ["enable", "is_enabled", "tuning_enable", "tuning_is_enabled", "record_untuned_enable",
           "record_untuned_is_enabled", "set_max_tuning_duration", "get_max_tuning_duration",
           "set_max_tuning_iterations", "get_max_tuning_iterations", "set_filename", "get_filename",
           "get_results", "get_validators", "read_file", "tune_gemm_in_file", "mgpu_tune_gemm_in_file",
           "set_rotating_buffer_size", "get_rotating_buffer_size", "set_numerical_check_tolerances"]

_state = {"enabled": os.environ.get("PYTORCH_TUNABLEOP_ENABLED") == "1",
          "tuning": os.environ.get("PYTORCH_TUNABLEOP_TUNING", "1") == "1",
          "record_untuned": os.environ.get("PYTORCH_TUNABLEOP_RECORD_UNTUNED") == "1",
          "duration": 30, "iterations": 100, "rotating": -1,
          "filename": os.environ.get("PYTORCH_TUNABLEOP_FILENAME", "tunableop_results.csv"),
          "tolerances": (False, 1e-5, 1e-5), "results": []}


def enable(val: bool = True) -> None:
    """Turn TunableOp on or off (see the module docstring: nothing is tuned in ember).

    Args:
        val: the flag.
    """
    _state["enabled"] = bool(val)


def is_enabled() -> bool:
    """Whether TunableOp is on.

    Returns:
        A bool.
    """
    return _state["enabled"]


def tuning_enable(val: bool = True) -> None:
    """Allow or forbid tuning new shapes.

    Args:
        val: the flag.
    """
    _state["tuning"] = bool(val)


def tuning_is_enabled() -> bool:
    """Whether tuning new shapes is allowed.

    Returns:
        A bool.
    """
    return _state["tuning"]


def record_untuned_enable(val: bool = True) -> None:
    """Turn recording of untuned shapes on or off.

    Args:
        val: the flag.
    """
    _state["record_untuned"] = bool(val)


def record_untuned_is_enabled() -> bool:
    """Whether untuned shapes are recorded.

    Returns:
        A bool.
    """
    return _state["record_untuned"]


def set_max_tuning_duration(duration: int) -> None:
    """Set the most milliseconds a tuning may take.

    Args:
        duration: milliseconds.
    """
    _state["duration"] = int(duration)


def get_max_tuning_duration() -> int:
    """The most milliseconds a tuning may take.

    Returns:
        An int.
    """
    return _state["duration"]


def set_max_tuning_iterations(iterations: int) -> None:
    """Set the most iterations a tuning may run.

    Args:
        iterations: the count.
    """
    _state["iterations"] = int(iterations)


def get_max_tuning_iterations() -> int:
    """The most iterations a tuning may run.

    Returns:
        An int.
    """
    return _state["iterations"]


def set_filename(filename: str, insert_device_ordinal: bool = False) -> None:
    """Set the results file's name.

    Args:
        filename: the name.
        insert_device_ordinal: put the GPU index before the extension, as PyTorch does.
    """
    if insert_device_ordinal:
        root, ext = os.path.splitext(filename)
        filename = f"{root}0{ext}"
    _state["filename"] = filename


def get_filename() -> str:
    """The results file's name.

    Returns:
        A string.
    """
    return _state["filename"]


def get_results() -> tuple:
    """The tuned results: none in ember (see the module docstring), besides those ``read_file`` loaded.

    Returns:
        A tuple of ``(op, params, solution, time)``.
    """
    return tuple(_state["results"])


def get_validators() -> tuple:
    """The validators a results file is checked against.

    Returns:
        A tuple of ``(name, value)``: ember's version.
    """
    import ember
    return (("ember_version", ember.__version__),)


def read_file(filename: str | None = None) -> bool:
    """Load a results file (PyTorch's CSV: ``op,params,solution,time``; ``Validator`` rows skipped).

    Args:
        filename: the file (default: ``get_filename()``).

    Returns:
        True when it was read.
    """
    path = filename or get_filename()
    try:
        with open(path) as f:
            rows = [line.rstrip("\n").split(",") for line in f if line.strip()]
    except OSError:
        return False
    _state["results"] = [tuple(r[:3]) + (float(r[3]),) for r in rows
                         if len(r) >= 4 and r[0] != "Validator"]
    return True


def tune_gemm_in_file(filename: str) -> None:
    """Tune the GEMMs listed in an untuned-results file: ember has one GEMM per shape, so none is timed.

    Args:
        filename: the file.
    """
    if not os.path.exists(filename):
        raise FileNotFoundError(filename)


def mgpu_tune_gemm_in_file(filename_pattern: str, num_gpus: int) -> None:
    """Tune the GEMMs of files matching a pattern on several GPUs (see ``tune_gemm_in_file``).

    Args:
        filename_pattern: a glob pattern.
        num_gpus: how many GPUs to use.
    """
    import glob
    for name in glob.glob(filename_pattern):
        tune_gemm_in_file(name)


def set_rotating_buffer_size(buffer_size: int) -> None:
    """Set the size in MB of the rotating buffer a tuning uses (-1: the L2 cache's size).

    Args:
        buffer_size: megabytes.
    """
    _state["rotating"] = int(buffer_size)


def get_rotating_buffer_size() -> int:
    """The rotating buffer's size in MB.

    Returns:
        An int.
    """
    return _state["rotating"]


def set_numerical_check_tolerances(enable: bool, atol: float = 1e-5, rtol: float = 1e-5) -> None:
    """Set whether tuned solutions are checked against the default one, and the tolerances.

    Args:
        enable: the flag.
        atol: absolute tolerance.
        rtol: relative tolerance.
    """
    _state["tolerances"] = (bool(enable), float(atol), float(rtol))
