"""A short spin for numpy's OpenBLAS threads, set before numpy loads the library.

After each GEMM, OpenBLAS's worker threads spin for 2**28 cycles (about 0.1 s) before they
sleep. In a training step that is always: the spinning worker holds the core that the CPU
plugin's own kernel threads (numba's OpenMP team) need next, and both pools crawl (measured on
2 cores: the LeNet step 13.1 ms, and 9.0 ms with a spin of 2**16 cycles, about 30 us; the
MLP, transformer and matmul workloads unchanged). OpenBLAS reads the setting once, when it
loads, so the variable is set only while numpy is imported here and removed after (child
processes and the user's environment never see it). A user's own setting is left alone, and a
process that imported numpy before ember keeps OpenBLAS's default.
"""
import os
import sys

_VARIABLES = ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")
#: log2 of the cycles an idle OpenBLAS thread spins before it sleeps (OpenBLAS takes 4..30)
SPIN_LOG2_CYCLES = 16

if "numpy" not in sys.modules and not any(name in os.environ for name in _VARIABLES):
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(SPIN_LOG2_CYCLES)
    try:
        import numpy  # noqa: F401  (loads OpenBLAS, which reads the variable)
    finally:
        del os.environ["OPENBLAS_THREAD_TIMEOUT"]
