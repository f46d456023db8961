"""Compiled, multi-threaded CPU kernels (numba) for the ops where numpy loses most.

Why numba: numpy runs these on one thread and has no erf of its own (scipy's is scalar
C); numba compiles plain loops to vectorized, ``prange``-parallel machine code, caches
the result on disk, and needs no C toolchain at install time. Each kernel here wraps
the shared xp kernel it replaces and defers to it unless the input is a C-contiguous
float32/float64 array big enough for threads to pay (small tensors keep numpy's lower
call overhead). Nothing is compiled at import: numba itself is imported, and each loop
compiled (or loaded from the on-disk cache), on the first call that needs it.

Floating-point contract: only ``reassoc`` and ``contract`` fast-math flags (so sums
vectorize and may use FMA); inf and NaN propagate as in the numpy path. The float32
erf is a rational approximation evaluated in float32 (max abs error 3.3e-7 over the
line, checked against scipy in the tests); float64 uses libm's erf.

erf and gelu run on ``ember.get_num_threads()`` threads (``prange``); the row sum is one
vectorized thread (in a ``prange`` body LLVM stops vectorizing it, 3x slower).
softmax and log_softmax are not compiled (numba's exp is scalar libm, slower than numpy's
SIMD one): they are fused numpy kernels in ``fused.py``, with or without numba.
"""
from __future__ import annotations

import math
import threading

import numpy as np

from ember.dispatch.threads import get_num_threads

#: below this many elements numpy's single call is cheaper than entering a parallel region
MIN_SIZE = 1 << 15
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# numba's default (workqueue) threading layer must not be entered from two Python threads
# at once: a second caller takes the numpy path instead of waiting
_BUSY = threading.Lock()
_LOOPS = {}


def _loops():
    """The numba loops (``_loops.py``), compiled or loaded from the on-disk cache on first use."""
    if not _LOOPS:
        import os

        import numba
        if "NUMBA_THREADING_LAYER" not in os.environ:
            # GNU OpenMP (numba's first choice when present) aborts a process that forks after
            # using it, as every DataLoader worker does; numba's own workqueue survives a fork
            numba.config.THREADING_LAYER = "workqueue"
        from ember.plugins.cpu import _loops as loops
        _LOOPS.update({name: getattr(loops, name) for name in loops.__all__}, numba=numba)
    return _LOOPS


def _eligible(x) -> bool:
    return x.dtype in _FLOATS and x.size >= MIN_SIZE and x.flags.c_contiguous


def _run(fn, *args):
    """Call a compiled loop with ember's thread count; False when another thread holds it."""
    if not _BUSY.acquire(blocking=False):
        return False
    try:
        numba = _LOOPS["numba"]
        want = max(1, min(get_num_threads(), numba.config.NUMBA_NUM_THREADS))
        if numba.get_num_threads() != want:  # numba's count is per calling thread
            numba.set_num_threads(want)
        fn(*args)
        return True
    finally:
        _BUSY.release()


def _suffix(x) -> str:
    return "f32" if x.dtype == np.float32 else "f64"


# ---------------------------------------------------------------- numpy paths of the composites
# (any dtype, layout or size: what the compiled loops do not take). Half precision works in
# float32 and rounds once, as the composites do.
def _work(x):
    return x.astype(np.float32) if x.dtype.name in ("float16", "bfloat16") else x


def _gelu_np(x, *, approximate="none"):
    import scipy.special
    work = _work(x)
    if approximate == "tanh":
        inner = work.dtype.type(math.sqrt(2 / math.pi)) * (work + work.dtype.type(0.044715) * work ** 3)
        out = 0.5 * work * (1 + np.tanh(inner))
    else:
        out = 0.5 * work * (1 + scipy.special.erf(work * work.dtype.type(math.sqrt(0.5))))
    return out.astype(x.dtype, copy=False)


def compiled_kernels(base: dict) -> dict:
    """{op name: kernel}: erf, sum and gelu compiled, each deferring to ``base``'s kernel
    (erf, sum) or to a numpy path (gelu) when not compiled."""
    erf_np, sum_np = base["erf"], base["sum"]
    gelu_np = _gelu_np

    def erf(x):
        if _eligible(x):
            loops = _loops()
            out = np.empty_like(x)
            if _run(loops["erf_" + _suffix(x)], x.reshape(-1), out.reshape(-1)):
                return out
        return erf_np(x)

    def sum(x, *, dims, keepdim):
        if _eligible(x) and dims and len(dims) == 1:
            d = dims[0] % x.ndim
            shape = x.shape
            outer, n = math.prod(shape[:d]), shape[d]
            inner = math.prod(shape[d + 1:])
            # the last dim only: over an inner dim numpy already adds whole rows with SIMD
            if n and inner == 1:
                acc = np.empty(outer, np.float64)  # float32 accumulates in float64
                if _run(_loops()["sum_rows"], x.reshape(outer, n), acc, x.dtype.type(0)):
                    out = acc.astype(x.dtype, copy=False)
                    return out.reshape(shape[:d] + ((1,) if keepdim else ()))
        return sum_np(x, dims=dims, keepdim=keepdim)

    def gelu(x, *, approximate="none"):
        if approximate == "none" and _eligible(x):
            loops = _loops()
            out = np.empty_like(x)
            if _run(loops["gelu_" + _suffix(x)], x.reshape(-1), out.reshape(-1)):
                return out
        return gelu_np(x, approximate=approximate)

    return {"erf": erf, "sum": sum, "gelu": gelu}
