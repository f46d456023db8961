"""Large elementwise arithmetic on every core: numpy's ufuncs, in halves, on the thread pool.

numpy runs a ufunc on one thread; its inner loops are already vectorized and release the
GIL, so cutting a large same-shape, contiguous operation into spans that the CPU plugin's
thread pool (``threadpool.py``) runs at once uses the other core without a compiled kernel.
Everything else (broadcasting, strided or small operands, other dtypes) is the base
kernel's, unchanged. The wrapped kernel keeps the base's ``into`` contract
(``core/into.py``): it writes into a given array the same way.
"""
from __future__ import annotations

import numpy as np

from ember.dispatch.threads import get_num_threads
from ember.plugins.cpu.threadpool import parallel_for

#: below this many elements one thread is faster: waking the pool costs more than half the work
MIN_SIZE = 1 << 18
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_CHUNKS_PER_THREAD = 2
THREADED = ("add", "sub", "mul", "div")


def _spans(out, x, y):
    """The (lo, hi) spans to cut the flat arrays into, or None where the base kernel should run."""
    if type(x) is not np.ndarray or x.size < MIN_SIZE or x.dtype not in _DTYPES or not x.flags.c_contiguous:
        return None
    if type(y) is np.ndarray:
        if y.shape != x.shape or y.dtype != x.dtype or not y.flags.c_contiguous:
            return None
    elif not isinstance(y, (int, float)):
        return None
    if out is not None and (out.shape != x.shape or out.dtype != x.dtype or not out.flags.c_contiguous):
        return None
    threads = get_num_threads()
    if threads < 2:
        return None
    count = threads * _CHUNKS_PER_THREAD
    n = x.size
    return [(n * i // count, n * (i + 1) // count) for i in range(count)]


def threaded(ufunc, base):
    """``base`` (the xp kernel of ``ufunc``) run in spans on the pool when the operands allow."""
    base_into = base.into

    def run(out, x, y, spans):
        fx, fo = x.reshape(-1), out.reshape(-1)
        if type(y) is np.ndarray:
            fy = y.reshape(-1)
            parallel_for(lambda i: ufunc(fx[spans[i][0]:spans[i][1]], fy[spans[i][0]:spans[i][1]],
                                         out=fo[spans[i][0]:spans[i][1]]), len(spans))
        else:
            parallel_for(lambda i: ufunc(fx[spans[i][0]:spans[i][1]], y, out=fo[spans[i][0]:spans[i][1]]),
                         len(spans))
        return out

    def kernel(x, y):
        spans = _spans(None, x, y)
        if spans is None:
            return base(x, y)
        return run(np.empty_like(x), x, y, spans)

    def into(out, x, y):
        spans = _spans(out, x, y)
        if spans is None:
            base_into(out, x, y)
        else:
            run(out, x, y, spans)
    kernel.into = into
    kernel.__name__ = getattr(base, "__name__", ufunc.__name__)
    return kernel


def threaded_kernels(base: dict) -> dict:
    """{op name: kernel} for the ops of ``THREADED``, over ``base``'s kernels."""
    ufuncs = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}
    return {name: threaded(ufuncs[name], base[name]) for name in THREADED}
