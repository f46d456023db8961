"""Finding CuPy and a GPU, once, without ever raising.

``probe()`` imports CuPy (lazily: only when a CUDA or ROCm device is first asked about,
never at ``import ember``), asks it how many GPUs it sees, and caches what it found in a
:class:`Probe`. ``unavailable_reason(probe, platform, install)`` turns that into the
sentence ``python -m ember`` prints and the ``RuntimeError`` that ``.to("cuda")`` raises.

Which plugin claims which device type (the naming decision; see ``ember.plugins.cupy``):

* ``PLATFORM_ANY`` — the ``cuda`` plugin: any CuPy build, CUDA or ROCm, as PyTorch's
  ROCm builds also call AMD GPUs ``cuda``;
* ``PLATFORM_ROCM`` — the ``rocm`` plugin: only a ROCm (HIP) build of CuPy.
"""
from __future__ import annotations

import dataclasses
import importlib

PLATFORM_ANY = "any"      # the installed CuPy build, whichever it is
PLATFORM_ROCM = "rocm"    # a ROCm (HIP) build of CuPy only

CUDA_INSTALL = "pip install ember[cuda]"    # cupy-cuda12x; ember[cuda13] for cupy-cuda13x
ROCM_INSTALL = "pip install ember[rocm]"    # CuPy's ROCm wheel


@dataclasses.dataclass(frozen=True)
class Probe:
    """What ``import cupy`` and CuPy's device query found on this machine."""
    cupy: object = None            # the cupy module, when it imported
    missing: bool = False          # True: CuPy is not installed at all
    import_error: str | None = None  # why importing CuPy failed (installed but broken)
    is_hip: bool = False           # True for CuPy's ROCm (HIP) builds
    version: str = ""              # CuPy's version
    runtime_version: int = 0       # cudaRuntimeGetVersion / hipRuntimeGetVersion (0: unknown)
    driver_version: int = 0        # 0: no driver found
    device_count: int = 0
    device_error: str | None = None  # CuPy's error text when asking for devices failed

    @property
    def build(self) -> str:
        """'CuPy 14.2.0 for CUDA 12.9' / 'CuPy 14.2.0 for ROCm' (for messages)."""
        if self.cupy is None:
            return "CuPy (not importable)"
        if self.is_hip:
            return f"CuPy {self.version} for ROCm"
        if self.runtime_version:
            major, minor = divmod(self.runtime_version // 10, 100)
            return f"CuPy {self.version} for CUDA {major}.{minor}"
        return f"CuPy {self.version} for CUDA"

    @property
    def gpu_kind(self) -> str:
        return "ROCm (AMD)" if self.is_hip else "CUDA (NVIDIA)"


_PROBE: Probe | None = None


def probe() -> Probe:
    """The cached probe; the first call imports CuPy and queries the driver."""
    global _PROBE
    if _PROBE is None:
        _PROBE = run_probe()
    return _PROBE


def reset_probe() -> None:
    """Forget the cached probe (tests; after installing CuPy in a running process)."""
    global _PROBE
    _PROBE = None


def error_text(exc: BaseException) -> str:
    """CuPy's error as one line: 'cudaErrorNoDevice: no CUDA-capable device is detected'.

    CuPy's import failures wrap the real error in a banner of advice: keep the real error.
    """
    text = " ".join((str(exc).strip() or type(exc).__name__).split())
    if "Original error:" in text:
        text = text.split("Original error:", 1)[1]
    return text.strip(" =")


def _describe(exc: BaseException) -> str:
    text = error_text(exc)
    name = type(exc).__name__
    return text if text.startswith(f"{name}:") else f"{name}: {text}"


def run_probe(import_module=importlib.import_module) -> Probe:
    try:
        cupy = import_module("cupy")
    except ModuleNotFoundError as exc:
        if exc.name in (None, "cupy"):
            return Probe(missing=True, import_error=error_text(exc))
        return Probe(import_error=_describe(exc))
    except Exception as exc:  # installed, but its libraries do not load
        return Probe(import_error=_describe(exc))
    runtime = cupy.cuda.runtime
    is_hip = bool(getattr(runtime, "is_hip", False))
    fields = dict(cupy=cupy, is_hip=is_hip, version=getattr(cupy, "__version__", "?"))
    try:
        fields["runtime_version"] = int(runtime.runtimeGetVersion())
    except Exception:
        pass
    try:
        fields["driver_version"] = int(runtime.driverGetVersion())
    except Exception:
        pass
    try:
        fields["device_count"] = int(runtime.getDeviceCount())
    except Exception as exc:
        message = error_text(exc)
        if not is_hip and fields.get("driver_version", 1) == 0:
            message += " (no NVIDIA driver was found on this machine)"
        fields["device_error"] = message
    return Probe(**fields)


def unavailable_reason(found: Probe, platform: str, install: str) -> str | None:
    """None when a device of ``platform`` can be used, else why not and what to do."""
    if found.cupy is None:
        if found.missing:
            return f"CuPy is not installed; install it with `{install}`"
        return (f"CuPy is installed but failed to import ({found.import_error}); its wheel must match this "
                f"machine's CUDA or ROCm: `{CUDA_INSTALL}` (CUDA 12), `pip install ember[cuda13]` (CUDA 13) or "
                f"`{ROCM_INSTALL}` (needs ROCm installed)")
    if platform == PLATFORM_ROCM and not found.is_hip:
        return (f"the installed {found.build} is a CUDA build; the 'rocm' device needs CuPy for ROCm: "
                f"`{ROCM_INSTALL}` in place of ember[cuda] (a CUDA build serves the 'cuda' device)")
    if found.device_error is not None:
        return f"no usable {found.gpu_kind} GPU: {found.device_error}"
    if found.device_count <= 0:
        return f"{found.build} found no {found.gpu_kind} GPU"
    return None
