"""The kernel table of the CUDA and ROCm plugins: the shared array-module kernels over
CuPy, CuPy-specific fixes, the fused kernels, and device selection.

* ``XpKernels(cupy, cupyx.scipy.special)`` implements every primitive, as on the CPU.
* ``CupyKernels`` overrides what CuPy cannot do the numpy way (``multiply.at``).
* ``FusedKernels`` adds softmax/log_softmax, gelu, layer_norm, the one-kernel Adam update
  and the device-side Philox stream.
* With more than one GPU, every kernel runs under ``cupy.cuda.Device`` of its first
  array argument (creation kernels: of their ``index``), as CuPy computes on the
  current device.

``kernel_table(backend)`` builds the table for an available backend (the ``ember_kernels``
hook of both plugins); ``kernel_names()`` lists its op names without importing CuPy.
"""
from __future__ import annotations

from ember.dispatch.ops import OPS
from ember.plugins.cupy.fused import FusedKernels
from ember.plugins.xp import XpKernels


#: ops cupyx.scipy.special has no function for: left out of the table, so the dispatcher's counted (and
#: warned) CPU fallback runs them rather than a silent host round trip inside a kernel
CPU_FALLBACK = ("airy_ai",)


class CupyKernels(XpKernels):
    @classmethod
    def kernel_names(cls) -> tuple:
        """The shared array-module kernels' names, less ``CPU_FALLBACK``."""
        return tuple(name for name in super().kernel_names() if name not in CPU_FALLBACK)

    def scatter(self, x, index, src, *, dim, reduce):
        if reduce != "multiply":
            return super().scatter(x, index, src, dim=dim, reduce=reduce)
        # CuPy has no multiply.at: apply the products in rounds, each writing at most one
        # value per destination (the first remaining one), until none remain.
        xp = self.xp
        out = x.copy()
        if not isinstance(src, xp.ndarray):
            src = xp.full(index.shape, src, dtype=x.dtype)
        src = src[tuple(slice(0, s) for s in index.shape)]
        grid = [xp.arange(s).reshape((1,) * i + (s,) + (1,) * (index.ndim - i - 1))
                for i, s in enumerate(index.shape)]
        grid[dim] = index
        targets = xp.ravel_multi_index(tuple(xp.broadcast_to(g, index.shape) for g in grid), x.shape).ravel()
        values = src.ravel()
        flat = out.reshape(-1)
        while targets.size:
            unique, first = xp.unique(targets, return_index=True)
            flat[unique] *= values[first]
            keep = xp.ones(targets.size, dtype=bool)
            keep[first] = False
            targets, values = targets[keep], values[keep]
        return out


# Fused overrides registered for ops the table declares (composites and the random primitives).
FUSED_OPS = ("softmax", "log_softmax", "gelu", "layer_norm", "philox_uniform", "philox_normal")


def kernel_table(backend) -> dict:
    """{op name: kernel} for an available CUDA or ROCm backend (a ``CupyBackend``)."""
    import cupyx.scipy.special
    from ember.plugins.cupy.backend import install_peak_tracking
    cupy = backend.cupy
    install_peak_tracking(cupy)
    return build_kernels(cupy, cupyx.scipy.special, multi_device=backend.device_count() > 1)


def build_kernels(cupy, special, multi_device: bool) -> dict:
    """{op name: kernel} over the array module ``cupy`` (``special``: ``cupyx.scipy.special``).

    Building compiles nothing: the fused kernels compile at their first call. The tests
    build it over numpy."""
    kernels = CupyKernels(cupy, special).kernels()
    fused = FusedKernels(cupy)
    for name in FUSED_OPS:
        if name in OPS:
            kernels[name] = getattr(fused, name)
    kernels["adam_step"] = _adam_step(fused, kernels["adam_step"])
    if multi_device:
        kernels = {name: _on_device_of_inputs(cupy, kernel) for name, kernel in kernels.items()}
    return kernels


def kernel_names() -> tuple:
    """The op names of ``build_kernels``' table, without CuPy."""
    return tuple(dict.fromkeys(CupyKernels.kernel_names() + tuple(n for n in FUSED_OPS if n in OPS)))


def _adam_step(fused, generic):
    """The one-kernel Adam update where it applies (contiguous float32/float64 arrays of one
    shape), else the generic array-module update."""
    def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, **attrs):
        arrays = [a for a in (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq) if a is not None]
        if param.dtype.name in ("float32", "float64") and all(
                a.dtype == param.dtype and a.shape == param.shape and a.flags.c_contiguous for a in arrays):
            return fused.adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, **attrs)
        return generic(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, **attrs)
    return adam_step


def _on_device_of_inputs(cupy, kernel):
    ndarray, Device = cupy.ndarray, cupy.cuda.Device

    def run(*args, **attrs):
        for a in args:
            if isinstance(a, ndarray):
                device = a.device
                break
        else:
            device = Device(attrs.get("index") or 0)
        with device:
            return kernel(*args, **attrs)
    run.__wrapped__ = kernel
    return run
