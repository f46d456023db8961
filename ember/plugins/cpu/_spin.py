"""Native, GIL-free spin-waiting for ``threadpool.py`` (numba; imported on first parallel use).

Waking a sleeping Python thread through a condition variable costs tens of microseconds on
a busy 2-core machine, as much as the half of a 1M-element sum it would take over. So a
worker that has just finished a job, and a caller waiting for its workers, first watch a
shared counter for a short while in native code (an acquire load and the CPU's ``pause``
hint per turn, holding no GIL), as OpenMP's threads do, and only then go to sleep.
"""
import platform
import time

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")


@intrinsic
def _load_acquire(typingctx, counter):
    """``counter[0]`` (an int64 array) read with acquire ordering: a load LLVM may not hoist
    out of the waiting loop, which a plain read inside it would be."""
    sig = types.int64(counter)

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.load_atomic(array.data, "acquire", 8)
    return sig, codegen


@intrinsic
def _pause(typingctx):
    """The CPU's spin-wait hint (x86 ``pause``; nothing elsewhere)."""
    sig = types.void()

    def codegen(context, builder, sig, args):
        if _X86:
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                                "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()
    return sig, codegen


@njit(nogil=True, cache=True)
def spin_while_equal(counter, value, turns):
    """Wait, for at most ``turns`` turns, until ``counter[0] != value``; return ``counter[0]``
    (``value`` itself when the wait timed out)."""
    for _ in range(turns):
        seen = _load_acquire(counter)
        if seen != value:
            return seen
        _pause()
    return value


def turns_for(seconds: float) -> int:
    """How many turns of ``spin_while_equal`` take about ``seconds`` on this CPU (measured once)."""
    probe = np.zeros(1, np.int64)
    spin_while_equal(probe, 0, 10)  # compile (or load from the cache) first
    start = time.perf_counter()
    spin_while_equal(probe, 0, 20000)
    per_turn = max((time.perf_counter() - start) / 20000, 1e-9)
    return max(100, int(seconds / per_turn))
