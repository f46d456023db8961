"""Complex tensors on OpenCL: stored on the device, computed on the CPU.

The OpenCL kernels are written for real types. A complex64/complex128 ``CLArray`` is a
buffer of (real, imaginary) pairs, so what needs no arithmetic runs on the device: the
view ops are metadata (they work for any dtype as they are), and copies (``copy_``,
``clone``) move the pairs as a real array with a trailing dim of 2. Every other kernel
given a complex operand (or asked for a complex result: ``cast``, ``full``, random) runs
as the CPU fallback — copied to the host, computed by the CPU kernel, copied back —
counted in ``ember.dispatch.fallback_report()`` and warned about once per op, like any
other fallback.
"""
from __future__ import annotations

import numpy as np

from ember.plugins.opencl.array import CLArray, contiguous_strides

#: view ops: CLArray metadata over the same buffer, correct for any dtype
_METADATA_ONLY = frozenset({"view", "permute", "expand", "basic_index", "diagonal", "view_dtype", "as_strided"})
_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32), np.dtype(np.complex128): np.dtype(np.float64)}


def is_complex(x) -> bool:
    return type(x) is CLArray and x.dtype.kind == "c"


def as_pairs(x: CLArray) -> CLArray:
    """The real view of a complex array: shape ``(*x.shape, 2)``, the same buffer."""
    return CLArray(x.storage, 2 * x.offset, x.shape + (2,), tuple(2 * s for s in x.estrides) + (1,),
                   _REAL_OF[x.dtype])


def _part(x: CLArray, which: int) -> CLArray:
    """The real (0) or imaginary (1) parts of a complex array, as a strided real view."""
    return CLArray(x.storage, 2 * x.offset + which, x.shape, tuple(2 * s for s in x.estrides), _REAL_OF[x.dtype])


def _as_complex(pairs: CLArray, dtype) -> CLArray:
    """A contiguous real array of shape (*shape, 2) read as complex."""
    shape = pairs.shape[:-1]
    return CLArray(pairs.storage, pairs.offset // 2, shape, contiguous_strides(shape), dtype)


def clone(x: CLArray) -> CLArray:
    """A contiguous copy of a complex array, made on the device."""
    from ember.plugins.opencl import launchers
    return _as_complex(launchers.clone(as_pairs(x)), x.dtype)


def copy_(dst, src):
    """``dst[...] = src`` when either side is complex: the parts moved by the real copy kernel."""
    from ember.plugins.opencl import launchers
    if isinstance(src, np.ndarray):
        src = src.item() if src.ndim == 0 else src
    if not is_complex(dst):  # complex into real: the real part (the op layer has warned)
        return launchers.copy_(dst, _part(src, 0)) if is_complex(src) else launchers.copy_(dst, src)
    if is_complex(src):
        launchers.copy_(as_pairs(dst), as_pairs(src))
    elif type(src) is CLArray:  # real into complex: the value and a zero imaginary part
        launchers.copy_(_part(dst, 0), src)
        launchers.copy_(_part(dst, 1), 0)
    else:
        value = complex(src)
        launchers.copy_(_part(dst, 0), value.real)
        launchers.copy_(_part(dst, 1), value.imag)
    return dst


def to_numpy(x: CLArray) -> np.ndarray:
    """A host copy of a complex array (a non-contiguous one is made contiguous on the device first)."""
    from ember.plugins.opencl import launchers
    return launchers.to_numpy(x if x.is_contiguous() or x.size == 0 else clone(x))


def _wants_complex(args, attrs) -> bool:
    for a in args:
        if type(a) is CLArray and a.dtype.kind == "c":
            return True
    dtype = attrs.get("dtype")
    return dtype is not None and getattr(dtype, "is_complex", False)


def with_complex_support(table: dict) -> dict:
    """``table`` with each kernel able to take complex operands (natively or through the CPU)."""
    out = {}
    for name, kernel in table.items():
        if name in _METADATA_ONLY:
            out[name] = kernel
        elif name == "copy_":
            out[name] = _dispatching(kernel, lambda dst, src: copy_(dst, src), copy_args=True)
        elif name == "clone":
            out[name] = _dispatching(kernel, clone)
        else:
            out[name] = _dispatching(kernel, _cpu_fallback(name))
    return out


def _dispatching(native, for_complex, copy_args=False):
    def kernel(*args, **attrs):
        if _wants_complex(args, attrs) or (copy_args and isinstance(args[1], complex)):
            return for_complex(*args, **attrs)
        return native(*args, **attrs)
    kernel.__name__ = getattr(native, "__name__", "kernel")
    kernel.__wrapped__ = native  # signature checks at registration read the native launcher's
    return kernel


def _cpu_fallback(name):
    """The counted CPU fallback of op ``name``, made at its first complex call."""
    made = []

    def run(*args, **attrs):
        if not made:
            from ember.dispatch.ops import OPS
            from ember.dispatch.registry import REGISTRY
            from ember.dispatch.table import _make_fallback
            from ember.plugins.opencl.backend import BACKEND
            op = OPS[name]
            cpu_kernel = op.kernels.get(REGISTRY.backend("cpu").dispatch_key)
            if cpu_kernel is None:
                raise NotImplementedError(f"op '{name}' has no CPU kernel to run complex operands of 'opencl'")
            made.append(_make_fallback(op, BACKEND, cpu_kernel, warn=True))
        return made[0](*args, **attrs)
    return run
