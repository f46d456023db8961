"""The CuPy implementation shared by the CUDA and ROCm backend plugins.

``ember.plugins.cuda`` and ``ember.plugins.rocm`` are thin: each creates one
:class:`CupyBackend` and hands its kernels to the dispatch table through the two hooks.
Everything else is here, once:

* ``runtime.py``  — imports CuPy lazily, finds the GPUs, says why a device is unavailable
* ``backend.py``  — the Backend: transfers (blocking or not), pinned memory, memory stats
* ``kernels.py``  — the kernel table: ``XpKernels`` over CuPy + fused kernels + device guard
* ``sources.py``  — the fused kernels' CUDA C sources, as strings (testable without a GPU)
* ``fused.py``    — their CuPy launchers (softmax, log_softmax, Philox, gelu, layer_norm, Adam)

Device names (the one rule, documented in the README and tested in tests/test_cuda_plugin.py):

* ``cuda`` / ``cuda:N`` is the GPU of **whichever CuPy build is installed**: an NVIDIA GPU
  with ``cupy-cuda12x``/``cupy-cuda13x`` (``pip install ember[cuda]``), an AMD GPU with
  CuPy for ROCm (``pip install ember[rocm]``) — as PyTorch's ROCm builds also call AMD GPUs
  ``cuda``, so PyTorch code that says ``.to("cuda")`` runs unchanged on both.
* ``rocm`` / ``rocm:N`` exists only with CuPy for ROCm; with a CUDA build it is listed as
  unavailable, saying so. On an AMD machine ``cuda:0`` and ``rocm:0`` are the same GPU seen
  under two device types (dispatch keys ``CUDA`` and ``ROCm``): the same kernels run for both,
  but their tensors are distinct devices to ember, so an op mixing them raises the usual
  mixed-device error; move one with ``.to()``.

Random numbers: the Philox stream is generated **on the device** by a kernel that matches
the CPU's words (and uniforms) bit for bit; see ``sources.py``.
"""
from __future__ import annotations


def register_kernels(backend, register) -> None:
    """The body of both plugins' ``ember_register_kernels`` hook."""
    import cupyx.scipy.special
    from ember.plugins.gpu.backend import install_peak_tracking
    from ember.plugins.gpu.kernels import build_kernels
    cupy = backend.cupy
    install_peak_tracking(cupy)
    for name, kernel in build_kernels(cupy, cupyx.scipy.special, multi_device=backend.device_count() > 1).items():
        register(name, kernel)


_FUSED = []


def fused_adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, lr, beta1, beta2, eps,
                    weight_decay, step, decoupled_weight_decay=False, amsgrad=False, maximize=False) -> bool:
    """One Adam/AdamW step for one parameter, in place, by one fused kernel — for
    ``ember.optim.Adam`` to call when the parameter is on ``cuda`` / ``rocm``.

    Takes ember Tensors (the parameter, its gradient and state; hyper-parameters as
    Python numbers, ``step`` already incremented). Returns False without touching
    anything when the kernel does not apply (another device, a dtype other than
    float32/float64, non-contiguous or differently shaped tensors): the caller then
    runs its generic update.
    """
    tensors = [param, grad, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
    device = param.device
    if device.type not in ("cuda", "rocm") or param.dtype.name not in ("float32", "float64"):
        return False
    for t in tensors:
        if (t.device != device or t.dtype is not param.dtype or t._data.shape != param._data.shape
                or not t._data.flags.c_contiguous):
            return False
    if not _FUSED:
        from ember.dispatch.registry import REGISTRY
        from ember.plugins.gpu.fused import FusedKernels
        _FUSED.append(FusedKernels(REGISTRY.available_backend(device.type).cupy))
    cupy = _FUSED[0].cp
    with cupy.cuda.Device(device.index or 0):
        _FUSED[0].adam_step(*(t._data for t in tensors[:4]), max_exp_avg_sq._data if amsgrad else None,
                            lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay, step=step,
                            decoupled_weight_decay=decoupled_weight_decay, amsgrad=amsgrad, maximize=maximize)
    from ember.core.tensor import version_counter
    for t in [param, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else []):  # written in place
        version_counter(t if t._base is None else t._base).value += 1
    return True
