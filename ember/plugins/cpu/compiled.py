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

erf, gelu, the reductions (sum over any run of dims, and so mean; amax/amin over trailing
dims, float32) and softmax/log_softmax (over any dim) are serial vectorized loops, each run
over one span or chunk of rows per thread (``ember.get_num_threads()``) by a ``prange``
driver that calls it (written inline in a ``prange`` body, LLVM stops vectorizing the inner
loops: 1.6-3x slower). numba's OpenMP layer is preferred: its threads spin a while before
sleeping, so a region starts in microseconds where a Python thread pool's wake-up measured
~100 us (a 1M-element row sum takes ~65 us on one core). softmax uses its own
vectorized exp (``_loops.py``; numba's is scalar libm, and numpy's float32 exp is not SIMD on
AVX2), so it has no numpy
pass left; other dtypes and small inputs keep the fused numpy kernels of ``fused.py``.
"""
from __future__ import annotations

import math
import os
import threading

import numpy as np

from ember.dispatch.philox import SIGNIFICAND_BITS
from ember.dispatch.threads import get_num_threads

#: below this many elements numpy's single call is cheaper than a compiled loop (the thresholds for
#: a second thread are further down)
MIN_SIZE = 1 << 15
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_ZERO = {d: d.type(0) for d in _FLOATS}  # a loop's zero of the array's dtype (made once: 0.5 us each)
# numba's default (workqueue) threading layer must not be entered from two Python threads
# at once: a second caller takes the numpy path instead of waiting
_BUSY = threading.Lock()
_LOOPS = {}
_FORKED = False
_NUMBA_THREADS = threading.local()  # .count: numba's thread count as _run last set it in this thread


def _after_fork_in_child():
    # only a parent that had started numba's threads leaves its child a broken threading layer
    global _FORKED
    _FORKED = _FORKED or bool(_LOOPS)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _loops():
    """The numba loops (``_loops.py``), compiled or loaded from the on-disk cache on first use."""
    if not _LOOPS:
        import numba
        if "NUMBA_THREADING_LAYER" not in os.environ and "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
            # OpenMP first: a parallel region starts faster than on numba's workqueue. GNU
            # OpenMP kills a forked child that enters it: _run never does in a child (_FORKED)
            numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
        _launch_threads()
        from ember.plugins.cpu import _loops as loops, _random_loops as random_loops
        _LOOPS.update({name: getattr(loops, name) for name in loops.__all__}, numba=numba)
        _LOOPS.update({name: getattr(random_loops, name) for name in random_loops.__all__})
    return _LOOPS


def _launch_threads() -> None:
    """Start numba's threading layer; OpenMP's threads spin only briefly before sleeping, unless
    the user chose a wait policy. Waking a sleeping thread costs ~100 us on this kind of VM (a
    1M-element row sum takes ~70 us on one core), so back-to-back regions need the spin; but
    numpy's BLAS (OpenBLAS) runs threads of its own, and a worker still spinning when a GEMM
    starts holds the core its second thread needs (measured: OpenMP's default spin made the CNN
    training step 4x slower, 10000 spins left it as fast as without threads). OpenMP reads the
    count once, when it loads: the variable is set only for that moment."""
    from numba.np.ufunc import parallel
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        parallel._launch_threads()
        return
    os.environ["GOMP_SPINCOUNT"] = "10000"
    try:
        parallel._launch_threads()
    finally:
        del os.environ["GOMP_SPINCOUNT"]


def _eligible(x) -> bool:
    return x.dtype in _FLOATS and x.size >= MIN_SIZE and x.flags.c_contiguous


def _run(fn, *args):
    """Call a parallel numba loop with ember's thread count; False (the caller then runs a serial
    loop) when another Python thread is inside numba's threading layer (the workqueue layer is not
    re-entrant) or in a process forked after its threads started (GNU OpenMP cannot run there;
    PyTorch's DataLoader workers run one thread too). Every parallel numba loop of the CPU plugin (here,
    fusion.py, training.py) goes through this one lock."""
    _loops()   # imports numba and selects the threading layer first
    if _FORKED or not _BUSY.acquire(blocking=False):
        return False
    try:
        numba = _LOOPS["numba"]
        want = max(1, min(get_num_threads(), numba.config.NUMBA_NUM_THREADS))
        # numba's count is per calling thread; asking numba for it takes a lock (0.7 us a
        # call), so this thread remembers what it last set
        if getattr(_NUMBA_THREADS, "count", None) != want:
            numba.set_num_threads(want)
            _NUMBA_THREADS.count = want
        fn(*args)
        return True
    finally:
        _BUSY.release()


_BLAS = []  # threadpoolctl's controllers of the loaded BLAS libraries (found on first use)


def run_blas_on_one_thread(driver, *args) -> bool:
    """``_run`` for a parallel loop whose threads call BLAS (numba's np.dot: scipy's OpenBLAS),
    every loaded BLAS library held to one thread meanwhile (restored after): a GEMM that also
    started OpenBLAS's own threads would put four threads on two cores (measured: LeNet's
    weight gradient 3.3 -> 4.2 ms). Without threadpoolctl the libraries keep their settings."""
    if not _BLAS:
        try:
            from threadpoolctl import ThreadpoolController
            _BLAS.append([lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"])
        except ImportError:
            _BLAS.append([])
    saved = [(lib, count) for lib in _BLAS[0] if (count := lib.get_num_threads()) != 1]
    for lib, _ in saved:
        lib.set_num_threads(1)
    try:
        return _run(driver, *args)
    finally:
        for lib, count in saved:
            lib.set_num_threads(count)


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
    """{op name: kernel}: erf, sum, gelu, softmax, log_softmax, amax and amin compiled, and add,
    sub, mul and div threaded for large operands, each deferring to ``base``'s kernel (gelu: to a
    numpy path) for the inputs it does not take."""
    erf_np, sum_np = base["erf"], base["sum"]
    softmax_np, log_softmax_np = base["softmax"], base["log_softmax"]
    gelu_np = _gelu_np

    def erf(x):
        if _eligible(x):
            out = np.empty_like(x)
            _over_spans("erf_" + _suffix(x), x.reshape(-1), out.reshape(-1))
            return out
        return erf_np(x)

    def sum(x, *, dims, keepdim):
        if _eligible(x):
            out = _sum(x, dims)
            if out is not None:
                return out.reshape(_reduced_shape(x.shape, dims, keepdim))
        return sum_np(x, dims=dims, keepdim=keepdim)

    def gelu(x, *, approximate="none"):
        if approximate == "none" and _eligible(x):
            out = np.empty_like(x)
            _over_spans("gelu_" + _suffix(x), x.reshape(-1), out.reshape(-1))
            return out
        return gelu_np(x, approximate=approximate)

    def softmax(x, *, dim):
        out = _softmax(x, dim, "softmax_rows")
        return softmax_np(x, dim=dim) if out is None else out

    def log_softmax(x, *, dim):
        out = _softmax(x, dim, "log_softmax_rows")
        return log_softmax_np(x, dim=dim) if out is None else out

    def extremum(base_kernel, largest):
        def kernel(x, *, dims, keepdim):
            # float32 only: for float64 numpy's max measured faster (AVX2 has no 64-bit
            # arithmetic shift, so the float64 keys cost more than they save)
            if x.dtype == np.float32 and _eligible(x) and x.shape[-1]:
                rows = _trailing_rows(x.shape, dims)
                if rows is not None:
                    out = np.empty(rows, x.dtype)
                    n = x.size // rows
                    _over_rows("extremum_rows", rows, x.size, x.reshape(rows, n), out, largest,
                               min_size=_REDUCE_MIN_SIZE)
                    return out.reshape(_reduced_shape(x.shape, dims, keepdim))
            return base_kernel(x, dims=dims, keepdim=keepdim)
        kernel.__name__ = "amax" if largest else "amin"
        return kernel

    table = {"erf": erf, "sum": sum, "gelu": gelu, "softmax": softmax, "log_softmax": log_softmax,
             "amax": extremum(base["amax"], True), "amin": extremum(base["amin"], False),
             "philox_uniform": _compiled_uniform(base["philox_uniform"])}
    for code, name in enumerate(_BINARY):
        table[name] = _threaded_binary(base[name], code)
    return table


_may_share = np.may_share_memory
#: the binary ops with a threaded loop (``_loops.binary_span``'s op codes, in order)
_BINARY = ("add", "sub", "mul", "div")
#: same-shape operands from this size on take the threaded loop (measured: a 1M float32 multiply
#: 185 -> 104 us on two threads, 256K 45 -> 29 us); smaller ones numpy's single call: the gain
#: below 512K is tens of microseconds, while a region amid a training step's GEMMs can cost more
#: (see _launch_threads)
_BINARY_MIN_SIZE = 1 << 19


def _threaded_binary(base_kernel, code):
    """``base_kernel`` (and its ``into``) with same-shape, same-dtype, C-contiguous float32/float64
    operands of ``_BINARY_MIN_SIZE`` elements or more run on ``ember.get_num_threads()`` threads."""
    base_into = base_kernel.into

    def threaded(out, x, y) -> bool:
        threads = get_num_threads()
        if threads < 2:
            return False
        into = 1 if out is x else 2 if out is y else 0
        # an output overlapping an operand other than as that very array: numpy's buffered loop
        if (into != 1 and _may_share(out, x)) or (into != 2 and y is not x and _may_share(out, y)):
            return False
        return _run(_loops()["binary_par"], x.reshape(-1), y.reshape(-1), out.reshape(-1), code, into, threads)

    def takes(x, y) -> bool:
        return (type(x) is np.ndarray and type(y) is np.ndarray and x.dtype is y.dtype and x.dtype in _FLOATS
                and x.shape == y.shape and x.size >= _BINARY_MIN_SIZE and x.flags.c_contiguous
                and y.flags.c_contiguous)

    def kernel(x, y):
        # the size first, inline: nearly every call is small, and a call to takes() costs a fifth
        # of a 1-element add's dispatch (0.76 -> 0.52 us for this kernel)
        if type(x) is np.ndarray and x.size >= _BINARY_MIN_SIZE and takes(x, y):
            out = np.empty_like(x)
            if threaded(out, x, y):
                return out
        return base_kernel(x, y)

    def into(out, x, y):
        if takes(x, y) and out.dtype is x.dtype and out.shape == x.shape and out.flags.c_contiguous \
                and out.flags.writeable and threaded(out, x, y):  # (read-only: numpy's error)
            return
        base_into(out, x, y)
    kernel.into = into
    kernel.__name__ = base_kernel.__name__
    return kernel


#: uniforms from this many on run on several threads (about 4 ns of work each). Dropout's masks in
#: a training step (64K-128K) stay on one thread: there the step measured no faster with threads
_RANDOM_MIN_SIZE = 1 << 18
_WORD = (1 << 64) - 1


def _compiled_uniform(base_kernel):
    """``philox_uniform`` in one compiled pass (``_random_loops.py``): the same numbers as
    ``base_kernel`` bit for bit (ember.dispatch.philox), for the float dtypes and sizes from
    ``MIN_SIZE``; 0.79 -> 0.54 ms for 128K float32 on one thread (dropout's masks draw these)."""
    def philox_uniform(*, shape, dtype, seed, offset, index):
        n = math.prod(shape)
        bits = SIGNIFICAND_BITS.get(dtype.name)
        if bits is None or dtype._ops is not None or n < MIN_SIZE or not 0 <= offset < 1 << 128:
            return base_kernel(shape=shape, dtype=dtype, seed=seed, offset=offset, index=index)
        work = np.float64 if bits > 24 else np.float32  # exact: bits <= the work dtype's significand
        out = np.empty(n, work)
        blocks = (n + 3) // 4
        args = (out, np.uint64(seed & _WORD), np.uint64(offset & _WORD), np.uint64(offset >> 64),
                np.uint64(64 - bits), work(2.0 ** -bits))
        loops = _loops()
        chunks = _chunks(blocks, n, _RANDOM_MIN_SIZE)
        if not (chunks > 1 and _run(loops["philox_uniform_par"], *args, chunks)):
            loops["philox_uniform_blocks"](*args, 0, blocks)
        return out.reshape(shape).astype(dtype.numpy, copy=False)
    return philox_uniform


def _trailing_rows(shape, dims):
    """The number of rows when ``dims`` are exactly the trailing dims of ``shape`` (numpy's
    max along the last axis is the slow case); None otherwise."""
    ndim = len(shape)
    if not dims or sorted(dims) != list(range(ndim - len(dims), ndim)) or len(dims) == ndim:
        return None
    return math.prod(shape[:ndim - len(dims)])


# ---------------------------------------------------------------- chunked kernels
# A serial vectorized loop over a range of rows (or of a flat span), run either once over
# everything or, for large inputs, by its ``_par`` driver (``_loops.py``) in one chunk per thread.
# Measured on the 2-core box (serial loop against its driver on 2 threads): softmax gains from
# 64K elements, erf/gelu from 256K, sums (bound by memory bandwidth) gain at 1M (a row sum:
# 78 -> 48 us) and lose at 256K, so they start at 512K; below, entering the region (~7 us)
# costs more than it saves. softmax starts at
# 128K: the gain below is a few microseconds, and in a training step a region just before a GEMM
# costs the GEMM's second OpenBLAS thread its core for a while (see _launch_threads).
_REDUCE_MIN_SIZE = 1 << 19
_SPAN_MIN_SIZE = 1 << 17
_ROWS_MIN_SIZE = 1 << 17


def _chunks(rows: int, size: int, min_size: int) -> int:
    """How many chunks (threads) a call over ``rows`` rows, ``size`` elements in all, runs in."""
    return 1 if size < min_size else min(rows, get_num_threads())


def _over_rows(name, rows, size, *args, min_size=None):
    """Run loop ``name`` as ``loop(*args, 0, rows)``, or its driver over chunks of the rows when it pays."""
    loops = _loops()
    chunks = _chunks(rows, size, _ROWS_MIN_SIZE if min_size is None else min_size)
    if chunks > 1 and _run(loops[name + "_par"], *args, chunks):
        return
    loops[name](*args, 0, rows)


def _over_spans(name, x, out):
    """Run the elementwise loop ``name`` over the flat arrays, by chunks in parallel when it pays."""
    _over_rows(name, x.size, x.size, x, out, min_size=_SPAN_MIN_SIZE)


def _reduced_shape(shape, dims, keepdim):
    if len(dims) == 1:  # one dim: the common case, in slices
        d = dims[0]
        return shape[:d] + (1,) + shape[d + 1:] if keepdim else shape[:d] + shape[d + 1:]
    dims = set(dims) if dims else set(range(len(shape)))
    if keepdim:
        return tuple(1 if i in dims else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in dims)


def _sum(x, dims):
    """The sum of the C-contiguous float ``x`` over ``dims`` (sorted, () = all), flat in the
    kept dims' order; None where the numpy kernel is left to do it (dims not one run)."""
    shape = x.shape
    dims = tuple(sorted(dims)) if dims else tuple(range(x.ndim))
    if dims != tuple(range(dims[0], dims[-1] + 1)):
        return None
    outer = math.prod(shape[:dims[0]])
    n = math.prod(shape[dims[0]:dims[-1] + 1])
    inner = math.prod(shape[dims[-1] + 1:])
    if n == 0:
        return None
    if inner == 1 and outer == 1:
        # everything: partial sums of equal spans, added in float64
        chunks = _chunks(n, n, _REDUCE_MIN_SIZE)
        flat, zero, loops = x.reshape(-1), _ZERO[x.dtype], _loops()
        partial = np.empty(chunks, np.float64)
        if not (chunks > 1 and _run(loops["sum_spans_par"], flat, partial, zero, chunks)):
            partial = partial[:1]
            loops["sum_span"](flat, partial, zero, 0, 0, n)
        return np.asarray(partial.sum()).astype(x.dtype)
    if inner == 1:
        # rows: the compiled row sum (numpy's pairwise sum along a row is several times slower)
        # each row accumulates in float64 and is rounded once, as it is stored
        out = np.empty(outer, x.dtype)
        _over_rows("sum_rows", outer, x.size, x.reshape(outer, n), out, _ZERO[x.dtype],
                   min_size=_REDUCE_MIN_SIZE)
        return out
    # over a dim with others after it: along the contiguous inner rows, chunks of the outer
    # dim, or (too few of those) of the inner columns, to the threads
    x3 = x.reshape(outer, n, inner)
    out = np.empty((outer, inner), x.dtype)
    _over_columns("sum_columns", x3, out, (), _REDUCE_MIN_SIZE)
    return out


def _over_columns(name, x3, out, args, min_size):
    """Run the loop ``name`` over the middle dim of the 3-d ``x3``: chunks of the outer dim to
    the threads, or of the inner columns when the outer dim has fewer rows than threads."""
    loops = _loops()
    outer, inner = x3.shape[0], x3.shape[2]
    by_inner = outer < get_num_threads()
    chunks = _chunks(inner if by_inner else outer, x3.size, min_size)
    if not (chunks > 1 and _run(loops[name + "_par"], x3, out, *args, by_inner, chunks)):
        loops[name](x3, out, 0, outer, 0, inner, *args)


def _softmax(x, dim, loop):
    """softmax_rows / log_softmax_rows over ``dim`` of a float32/float64 ``x``; None for the
    inputs the fused numpy kernel keeps (other dtypes, small or empty inputs)."""
    if x.dtype not in _FLOATS or x.ndim == 0 or x.size < _SOFTMAX_MIN or not x.flags.c_contiguous:
        return None
    dim = dim % x.ndim
    out = np.empty_like(x)
    n = x.shape[dim]
    inner = math.prod(x.shape[dim + 1:])
    if inner == 1:
        rows = x.size // n
        _over_rows(loop, rows, x.size, x.reshape(rows, n), out.reshape(rows, n))
        return out
    # over a dim with others after it: along the contiguous inner rows
    outer = x.size // (n * inner)
    _over_columns("softmax_columns", x.reshape(outer, n, inner), out.reshape(outer, n, inner),
                  (loop == "log_softmax_rows",), _ROWS_MIN_SIZE)
    return out


#: softmax inputs below this size stay with the fused numpy kernel (and compile nothing)
_SOFTMAX_MIN = 1 << 12

