"""CuPy launchers of the fused kernels in ``sources.py``.

Each kernel is a ``cupy.RawKernel`` built on first use (CuPy compiles it with NVRTC on
CUDA or hiprtc on ROCm, once per device, and caches the binary on disk). float32 and
float64 run natively; float16 and bfloat16 are computed in float32 and rounded back,
as the composites they replace do.

* ``softmax``, ``log_softmax``, ``gelu`` and ``layer_norm`` override the composites of the
  same name (``kernels.py`` registers them, for the ops the op table declares).
* ``adam_step`` is the one-kernel optimizer update, used where it applies (``kernels.py``).
* ``philox_uniform`` / ``philox_normal`` generate ember's random stream on the device.
"""
from __future__ import annotations

import numpy as np

from ember.plugins.cupy import sources
from ember.dispatch.philox import SIGNIFICAND_BITS  # the stream's truncation

_NATIVE = {"float32", "float64"}
_THREADS = 256          # threads per block of the elementwise and column kernels
_MAX_GRID = 65535       # grid-stride loops cover the rest


def _next_pow2(n: int) -> int:
    return 1 << max(0, (int(n) - 1).bit_length())


def row_block(cols: int) -> int:
    """Threads per row for the row kernels: a power of two in [32, MAX_BLOCK]."""
    return max(32, min(sources.MAX_BLOCK, _next_pow2(cols)))


def elementwise_grid(n: int, threads: int = _THREADS) -> int:
    return max(1, min(_MAX_GRID, (int(n) + threads - 1) // threads))


class FusedKernels:
    def __init__(self, cupy):
        self.cp = cupy
        self._raw = {}

    def raw(self, kind: str, dtype: str):
        """The compiled kernel ``kind`` ('softmax_rows', ...) for element type ``dtype``."""
        key = (kind, dtype)
        kernel = self._raw.get(key)
        if kernel is None:
            source = sources.BUILDERS[kind](dtype)
            kernel = self._raw[key] = self.cp.RawKernel(source.code, source.name)
        return kernel

    def _work(self, x):
        """(contiguous array in a natively supported type, dtype to return)."""
        name = x.dtype.name
        if name in _NATIVE:
            return self.cp.ascontiguousarray(x), None
        return self.cp.ascontiguousarray(x, dtype=self.cp.float32), x.dtype

    # ---------------------------------------------------------------- softmax family
    def softmax(self, x, *, dim):
        return self._softmax(x, dim, log_output=False)

    def log_softmax(self, x, *, dim):
        return self._softmax(x, dim, log_output=True)

    def _softmax(self, x, dim, log_output):
        cp = self.cp
        shape = x.shape
        if x.ndim == 0:
            x, dim = x.reshape(1), 0
        work, back = self._work(x)
        out = cp.empty_like(work)
        if work.size:
            outer = int(np.prod(work.shape[:dim], dtype=np.int64))
            n = work.shape[dim]
            inner = int(np.prod(work.shape[dim + 1:], dtype=np.int64))
            flag = np.int32(1 if log_output else 0)
            if inner == 1:
                kernel = self.raw("softmax_rows", work.dtype.name)
                kernel((min(outer, _MAX_GRID),), (row_block(n),),
                       (work, out, np.int64(outer), np.int64(n), flag))
            else:
                kernel = self.raw("softmax_cols", work.dtype.name)
                kernel((elementwise_grid(outer * inner),), (_THREADS,),
                       (work, out, np.int64(outer), np.int64(n), np.int64(inner), flag))
        out = out.reshape(shape)
        return out if back is None else out.astype(back)

    # ---------------------------------------------------------------- gelu, layer_norm, Adam
    def gelu(self, x, *, approximate="none"):
        work, back = self._work(x)
        out = self.cp.empty_like(work)
        if work.size:
            self.raw("gelu", work.dtype.name)((elementwise_grid(work.size),), (_THREADS,),
                                              (work, out, np.int64(work.size), np.int32(approximate == "tanh")))
        return out if back is None else out.astype(back)

    def layer_norm(self, x, weight, bias, *, normalized_ndim, eps):
        """(y, mean, rstd) normalising over the last ``normalized_ndim`` dims;
        mean and rstd have shape ``x.shape[:-normalized_ndim]``."""
        cp = self.cp
        work, back = self._work(x)
        lead = work.shape[:work.ndim - normalized_ndim]
        rows = int(np.prod(lead, dtype=np.int64))
        cols = int(np.prod(work.shape[work.ndim - normalized_ndim:], dtype=np.int64))
        ctype = work.dtype
        y = cp.empty_like(work)
        mean = cp.empty(lead, dtype=ctype)
        rstd = cp.empty(lead, dtype=ctype)
        w = work if weight is None else cp.ascontiguousarray(weight, dtype=ctype)
        b = work if bias is None else cp.ascontiguousarray(bias, dtype=ctype)
        if rows and cols:
            scalar = np.float32 if ctype == np.float32 else np.float64
            self.raw("layer_norm_rows", ctype.name)(
                (min(rows, _MAX_GRID),), (row_block(cols),),
                (work, w, b, y, mean, rstd, np.int64(rows), np.int64(cols), scalar(eps),
                 np.int32(weight is not None), np.int32(bias is not None)))
        if back is not None:
            y = y.astype(back)
        return y, mean, rstd

    def adam_step(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, lr, beta1, beta2, eps,
                  weight_decay, step, decoupled_weight_decay=False, amsgrad=False, maximize=False):
        """One Adam / AdamW step (``ember.optim.Adam``'s formula) in place on contiguous
        float32/float64 CuPy arrays of one shape; ``step`` is the step count after increment."""
        arrays = [param, grad, exp_avg, exp_avg_sq] + ([max_exp_avg_sq] if amsgrad else [])
        for a in arrays:
            if a.dtype != param.dtype or a.shape != param.shape or not a.flags.c_contiguous:
                raise ValueError("adam_step needs contiguous arrays of one dtype and shape")
        if param.dtype.name not in _NATIVE:
            raise TypeError(f"the fused Adam kernel supports float32 and float64 parameters, got {param.dtype}")
        n = param.size
        if n == 0:
            return
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        self.raw("adam", param.dtype.name)(
            (elementwise_grid(n),), (_THREADS,),
            (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad else exp_avg_sq, np.int64(n),
             np.float64(lr), np.float64(beta1), np.float64(beta2), np.float64(eps), np.float64(weight_decay),
             np.float64(step_size), np.float64(bias_correction2_sqrt), np.int32(bool(decoupled_weight_decay)),
             np.int32(bool(amsgrad)), np.int32(bool(maximize))))

    # ---------------------------------------------------------------- ember's random stream
    def philox_uniform(self, *, shape, dtype, seed, offset, index):
        return self._philox("philox_uniform", shape, dtype, seed, offset)

    def philox_normal(self, *, shape, dtype, seed, offset, index):
        return self._philox("philox_normal", shape, dtype, seed, offset)

    def _philox(self, kind, shape, dtype, seed, offset):
        cp = self.cp
        target = np.dtype(dtype.numpy)
        work = target if target.name in _NATIVE else np.dtype(np.float64)
        out = cp.empty(tuple(shape), dtype=work)
        n = out.size
        if n:
            blocks = (n + 3) // 4
            args = (out, np.int64(n), np.uint64(seed & 0xFFFFFFFFFFFFFFFF), np.uint64(offset & 0xFFFFFFFFFFFFFFFF))
            if kind == "philox_uniform":  # truncated to the target's precision, as on the CPU
                args += (np.int32(SIGNIFICAND_BITS.get(dtype.name, 53)),)
            self.raw(kind, work.name)((elementwise_grid(blocks),), (_THREADS,), args)
        return out if work == target else out.astype(target)
