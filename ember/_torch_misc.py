"""The smaller names of PyTorch's top-level namespace: thread and build queries, symbolic-size
helpers on plain numbers, enums and exception classes, memory formats.

``ember/__init__.py`` re-exports ``__all__``. Each name behaves as PyTorch's on a machine like
this one (a CPU build with LAPACK and FFTs through numpy/scipy, no MKL, no OpenMP runtime of
ember's own).
"""
from __future__ import annotations

import builtins
import enum
import warnings
import math
import os
import sys

from ember.amp.grad_scaler import GradScaler
from ember.serialization.file_io import PyTorchFileReader, PyTorchFileWriter
from ember.core.printing import set_printoptions
from ember.core.flags import (get_default_device, set_default_device, set_warn_always, is_warn_always_enabled,
                              get_float32_matmul_precision, set_float32_matmul_precision)

__all__ = [
    "set_printoptions", "get_default_device", "set_default_device", "set_warn_always", "is_warn_always_enabled",
    "get_float32_matmul_precision", "set_float32_matmul_precision", "get_num_interop_threads",
    "set_num_interop_threads", "init_num_threads", "GradScaler", "has_lapack", "has_mkl", "has_openmp",
    "has_spectral", "sym_int", "sym_float", "sym_max", "sym_min", "sym_not", "sym_ite", "sym_sqrt", "sym_sum",
    "sym_fresh_size", "sym_constrain_range", "sym_constrain_range_for_size", "SymInt", "SymFloat", "SymBool",
    "AggregationType", "SUM", "AVG", "Tag", "FatalError", "OutOfMemoryError", "AcceleratorError",
    "memory_format", "contiguous_format", "channels_last", "channels_last_3d", "preserve_format",
    "PyTorchFileReader", "PyTorchFileWriter",
]

# ---------------------------------------------------------------- build facts
has_lapack = True     # linalg runs on numpy/scipy's LAPACK (CuPy's cuSOLVER on cuda)
has_spectral = True   # ember.fft runs on numpy's pocketfft (cuFFT on cuda)
has_mkl = False       # ember does not link MKL
has_openmp = False    # ember's CPU threads are its own pool, not an OpenMP runtime


# ---------------------------------------------------------------- inter-op threads
def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


_INTEROP = {"threads": None, "set": False}


def get_num_interop_threads() -> int:
    """The number of threads for inter-op parallelism (PyTorch's pool for ``jit.fork`` and
    concurrent ops; ember runs forked work in the caller's thread, so it is a setting only).

    Returns:
        The count given to ``set_num_interop_threads``, else the number of CPUs available.
    """
    return _INTEROP["threads"] or _cpus()


def set_num_interop_threads(num: int) -> None:
    """Set the number of inter-op threads; as in PyTorch, only once per process.

    Args:
        num: a positive int.

    Raises:
        RuntimeError: if ``num`` is not positive, or the count was set already.
    """
    if isinstance(num, bool) or not isinstance(num, int) or num <= 0:
        raise RuntimeError(f"Expected positive number of threads, got {num!r}")
    if _INTEROP["set"]:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started or "
                           "set_num_interop_threads called")
    _INTEROP.update(threads=num, set=True)


def init_num_threads() -> None:
    """Set up the intra-op thread count for the calling thread (it takes ``ember.get_num_threads()``).

    Returns:
        None.
    """
    from ember.dispatch.threads import get_num_threads
    get_num_threads()


# ---------------------------------------------------------------- symbolic sizes on plain numbers


def _check_number(a):
    import numpy as np
    if not isinstance(a, (np.integer, np.floating, int, float, SymInt, SymFloat, SymBool)):
        raise AssertionError(f"expected (numpy.integer, numpy.floating, int, float), got {type(a)}")


class _SymNumber:
    """A size whose value ember knows (ember's shapes are never symbolic): arithmetic and
    comparisons act on ``node``, the concrete value."""
    __slots__ = ("node",)
    _type = int

    def __init__(self, node):
        self.node = node

    def _value(self):
        return self._type(self.node)

    def __repr__(self):
        return repr(self._value())

    def __hash__(self):
        return hash(self._value())

    def __bool__(self):
        return bool(self._value())


def _forward(name):
    def method(self, *args):
        return getattr(self._value(), name)(*(a._value() if isinstance(a, _SymNumber) else a for a in args))
    method.__name__ = name
    return method


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
              "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__", "__neg__", "__abs__",
              "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__and__", "__or__", "__invert__",
              "__int__", "__float__", "__index__", "__round__", "__trunc__", "__floor__", "__ceil__"):
    setattr(_SymNumber, _name, _forward(_name))


class SymInt(_SymNumber):
    """An integer size (PyTorch's ``torch.SymInt``); ember's sizes are concrete, so it wraps a value.

    Args:
        node: the value (an int, or anything ``int()`` takes).
    """
    _type = int

    def as_integer_ratio(self):
        """``(value, 1)``."""
        return self._value().as_integer_ratio()

    def bit_length(self):
        """The number of bits of the value."""
        return self._value().bit_length()

    def conjugate(self):
        """The value itself."""
        return self._value()


class SymFloat(_SymNumber):
    """A float size expression (PyTorch's ``torch.SymFloat``) wrapping a concrete value.

    Args:
        node: the value.
    """
    _type = float

    def is_integer(self):
        """Whether the value is integral."""
        return self._value().is_integer()


class SymBool(_SymNumber):
    """A boolean size condition (PyTorch's ``torch.SymBool``) wrapping a concrete value.

    Args:
        node: the value.
    """
    _type = bool


def sym_int(a):
    """``a`` as an int, truncating a float toward zero (PyTorch's SymInt-aware ``int``).

    Args:
        a: a number.

    Returns:
        An int.
    """
    _check_number(a)
    return a if isinstance(a, int) else math.trunc(a)


def sym_float(a):
    """``a`` as a float (PyTorch's SymFloat-aware ``float``).

    Args:
        a: a number.

    Returns:
        A float.
    """
    _check_number(a)
    return float(a)


def _either_float(a, b):
    return isinstance(a, (float, SymFloat)) or isinstance(b, (float, SymFloat)) or \
        type(a).__module__ == "numpy" and "float" in type(a).__name__ or \
        type(b).__module__ == "numpy" and "float" in type(b).__name__


def sym_max(a, b):
    """The larger of two numbers; a float if either is one (PyTorch's size-aware ``max``).

    Args:
        a: a number.
        b: a number.

    Returns:
        The maximum.
    """
    _check_number(a), _check_number(b)
    result = builtins.max(a, b)
    return float(result) if _either_float(a, b) else result


def sym_min(a, b):
    """The smaller of two numbers; a float if either is one (PyTorch's size-aware ``min``).

    Args:
        a: a number.
        b: a number.

    Returns:
        The minimum.
    """
    _check_number(a), _check_number(b)
    result = builtins.min(a, b)
    return float(result) if _either_float(a, b) else result


def sym_not(a):
    """Logical not of a condition (PyTorch's SymBool-aware ``not``).

    Args:
        a: a bool (or number).

    Returns:
        A bool.
    """
    return not a


def sym_ite(b, t, f):
    """``t`` if ``b`` else ``f`` (PyTorch's size-aware conditional expression).

    Args:
        b: the condition.
        t: the value when true.
        f: the value when false.

    Returns:
        ``t`` or ``f``.
    """
    return t if b else f


def sym_sqrt(a):
    """The square root as a float (PyTorch's size-aware ``math.sqrt``).

    Args:
        a: a non-negative number.

    Returns:
        A float.
    """
    return math.sqrt(a)


def sym_sum(args):
    """The sum of an iterable of numbers (PyTorch's balanced size sum); 0 for an empty one.

    Args:
        args: the numbers.

    Returns:
        The sum.
    """
    return builtins.sum(args)


def sym_fresh_size(expr):
    """A size equal to ``expr`` (PyTorch makes it a new unbacked symbol when tracing; ember's sizes are
    concrete, so it is the value).

    Args:
        expr: an int.

    Returns:
        ``expr``.
    """
    return expr


_INT_MIN, _INT_MAX = -sys.maxsize - 1, sys.maxsize


def _constrain(size, low, high):
    if isinstance(size, (int, SymInt)) and not isinstance(size, bool) and not low <= int(size) <= high:
        raise RuntimeError(f"Invalid value range for {int(size)} between [{low}, {high}].")


def sym_constrain_range(size, *, min=None, max=None) -> None:
    """Check that an integer size lies in ``[min, max]`` (PyTorch records the range for a symbolic size).

    Args:
        size: the size.
        min: the lowest allowed value (default: no bound).
        max: the highest allowed value (default: no bound).

    Raises:
        RuntimeError: if an int ``size`` is outside the range.
    """
    _constrain(size, _INT_MIN if min is None else min, _INT_MAX if max is None else max)


def sym_constrain_range_for_size(size, min=None, max=None) -> None:
    """Check that an integer is a valid size in ``[min, max]`` (``min`` defaults to 0).

    Args:
        size: the size.
        min: the lowest allowed value (default 0).
        max: the highest allowed value (default: no bound).

    Raises:
        RuntimeError: if an int ``size`` is outside the range.
    """
    _constrain(size, 0 if min is None else min, _INT_MAX if max is None else max)


# ---------------------------------------------------------------- enums and exceptions
class AggregationType(enum.Enum):
    """How ``ember.distributed``-style statistics are combined: ``SUM`` or ``AVG``."""
    SUM = 0
    AVG = 1


SUM, AVG = AggregationType.SUM, AggregationType.AVG

Tag = enum.Enum("Tag", [(n, i) for i, n in enumerate((
    "core", "cudagraph_unsafe", "data_dependent_output", "dynamic_output_shape", "flexible_layout", "generated",
    "inplace", "inplace_view", "maybe_aliasing_or_mutating", "needs_contiguous_strides", "needs_exact_strides",
    "needs_fixed_stride_order", "nondeterministic_bitwise", "nondeterministic_seeded", "out", "out_variant",
    "pointwise", "pt2_compliant_tag", "reduction", "view_copy"))], module=__name__)
Tag.__doc__ = "The tags PyTorch attaches to operator overloads (``Tag.pointwise``, ``Tag.inplace_view``, ...)."


class FatalError(Exception):
    """An unrecoverable internal error (PyTorch's ``torch.FatalError``)."""


class OutOfMemoryError(RuntimeError):
    """A device ran out of memory for an allocation (``torch.OutOfMemoryError``, also ``torch.cuda``'s)."""


class AcceleratorError(RuntimeError):
    """An error reported by an accelerator's runtime (PyTorch's ``torch.AcceleratorError``)."""


# ---------------------------------------------------------------- memory formats
class memory_format:
    """How a tensor's dimensions are ordered in memory (``ember.contiguous_format``, ``channels_last``...).

    Args:
        name: the format's name.
    """
    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def __repr__(self):
        return f"ember.{self._name}"

    def __reduce__(self):
        return (_memory_format_named, (self._name,))


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")


def _memory_format_named(name):
    return globals()[name]


# ---------------------------------------------------------------- Poisson and binomial draws
class _drawing_from:
    """Inside the block, ember's random draws take their numbers from ``generator`` (None: unchanged)."""

    def __init__(self, generator):
        self.generator = generator

    def __enter__(self):
        from ember.ops import random as rnd
        self.saved = rnd.default_generator
        if self.generator is not None:
            rnd.default_generator = self.generator

    def __exit__(self, *exc):
        from ember.ops import random as rnd
        rnd.default_generator = self.saved
        return False


def poisson(input, generator=None):
    """Draws from Poisson distributions with the rates in ``input`` (counts, in ``input``'s float dtype).

    Rates below 10 invert the CDF; larger ones use Hörmann's transformed rejection (PTRS), as
    PyTorch's CPU kernel; the draws are ember composites, so they run on every device.

    Args:
        input: the non-negative rates (a floating-point tensor).
        generator: the generator to draw from (default: the default one).

    Returns:
        A tensor of ``input``'s shape, dtype and device; no gradient flows.

    Raises:
        NotImplementedError: for a non-floating ``input`` (as PyTorch's kernels).
        RuntimeError: for a negative rate.
    """
    from ember.distributions._sampling import poisson as draw
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"poisson\" not implemented for '{_title(input.dtype)}'")
    if input.numel() and bool((input < 0).any()):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    with _drawing_from(generator):
        return draw(input.detach())


def binomial(count, prob, generator=None):
    """Draws from binomial distributions: successes in ``count`` trials of probability ``prob``.

    Small means invert the CDF; larger ones use Hörmann's BTRS rejection (PyTorch's method).

    Args:
        count: the numbers of trials (a floating-point tensor of whole numbers).
        prob: the success probabilities (broadcast with ``count``).
        generator: the generator to draw from (default: the default one).

    Returns:
        A float tensor of the broadcast shape, in ``prob``'s dtype; no gradient flows.

    Raises:
        ValueError: if ``count`` or ``prob`` is not floating point.
    """
    from ember.distributions._sampling import binomial as draw
    for what, t in (("count", count), ("prob", prob)):
        if not t.dtype.is_floating_point:
            raise ValueError(f"binomial only supports floating-point dtypes for {what}, got: {_title(t.dtype)}")
    with _drawing_from(generator):
        return draw(count.detach(), prob.detach())


def _title(d):
    from ember.ops.out import _title as title
    return title(d)


__all__ += ["poisson", "binomial"]


# ---------------------------------------------------------------- Tensor methods over nn.functional
def _bind_functional_methods():
    """``Tensor.hardshrink`` and ``Tensor.prelu`` are ``ember.nn.functional``'s functions (the op layer
    below cannot import them)."""
    from ember.core.tensor import Tensor
    from ember.nn import functional as F
    for name in ("hardshrink", "prelu"):
        if getattr(Tensor, name, None) is None:
            setattr(Tensor, name, getattr(F, name))


_bind_functional_methods()


# ---------------------------------------------------------------- torch.cond
def cond(pred, true_fn, false_fn, operands=()):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``, as one operation that graph
    capture keeps whole.

    Run eagerly, only the chosen branch runs. Under ``ember.compile`` / ``ember.export`` (a trace),
    a tensor ``pred`` is data: both branches are traced and their results selected elementwise with
    ``where(pred, ...)``, so the captured graph serves either value of ``pred`` (the branches must then
    be free of side effects and return tensors of the same shapes and dtypes, as PyTorch requires).

    Args:
        pred: a bool or number, or a one-element tensor.
        true_fn: the branch for a true ``pred``.
        false_fn: the branch for a false ``pred``.
        operands: a tuple or list of the branches' arguments.

    Returns:
        The branch's result (a tensor, or a pytree of tensors).

    Raises:
        RuntimeError: ``pred`` has more than one element; traced branches return different structures,
            shapes or dtypes.
    """
    from ember.core.tensor import Tensor
    if not isinstance(operands, (tuple, list)):
        raise RuntimeError(f"Expect operands to be a tuple of possibly nested dict/list/tuple that only consists "
                           f"of tensor leaves, but got {type(operands).__name__}.")
    if not callable(true_fn) or not callable(false_fn):
        raise RuntimeError("Expect both branches to be callable.")
    if isinstance(pred, Tensor) and pred.numel() != 1:
        raise RuntimeError(f"Expected pred to be bool or single-element tensor, but got {pred}.")
    from ember.dispatch.keys import ACTIVE, TRACE
    if not (isinstance(pred, Tensor) and TRACE in ACTIVE.keys):
        return (true_fn if bool(pred) else false_fn)(*operands)
    from ember.ops import where
    from ember.utils._pytree import tree_flatten, tree_unflatten
    yes, yes_spec = tree_flatten(true_fn(*operands))
    no, no_spec = tree_flatten(false_fn(*operands))
    if yes_spec != no_spec or len(yes) != len(no):
        raise RuntimeError(f"Expected true branch and false branch to return the same structure, but got "
                           f"{yes_spec} and {no_spec}")
    chosen = []
    for a, b in zip(yes, no):
        if not (isinstance(a, Tensor) and isinstance(b, Tensor)) or a.shape != b.shape or a.dtype is not b.dtype:
            raise RuntimeError(f"Expected each output of the true and false branches to be a tensor of the same "
                               f"shape and dtype, but got {_describe(a)} and {_describe(b)}")
        chosen.append(where(pred.reshape(()).bool(), a, b))
    return tree_unflatten(chosen, yes_spec)


def _describe(v):
    return f"tensor of shape {list(v.shape)} and dtype {v.dtype}" if hasattr(v, "shape") else repr(v)


__all__ += ["cond"]


# ---------------------------------------------------------------- lobpcg
def lobpcg(A, k=None, B=None, X=None, n=None, iK=None, niter=None, tol=None, largest=None, method=None,
           tracker=None, ortho_iparams=None, ortho_fparams=None, ortho_bparams=None):
    """The ``k`` largest (or smallest) eigenpairs of a symmetric positive-definite problem ``A x = λ B x``
    by LOBPCG (Knyazev's locally optimal block preconditioned conjugate gradient).

    The iteration is SciPy's (``scipy.sparse.linalg.lobpcg``), run on the host in float64 for each
    matrix of a batch; the results come back in ``A``'s dtype and device. No gradient flows.

    Args:
        A: a symmetric tensor of shape ``(*, m, m)``.
        k: how many eigenpairs (default: the columns of ``X``, else 1).
        B: the symmetric positive-definite right-hand matrix (default: the identity).
        X: an initial guess ``(*, m, n)`` (default: random from ember's generator, ``n`` columns).
        n: the block size when ``X`` is not given (default ``k``).
        iK: a preconditioner (approximately ``A``'s inverse).
        niter: the most iterations (default: until converged, at most max(500, 10 m)).
        tol: the residual tolerance (default: the square root of the dtype's eps).
        largest: True (default) for the largest eigenvalues, False for the smallest.
        method: accepted for PyTorch's signature ("basic" or "ortho": the one SciPy iteration is used).
        tracker: accepted for PyTorch's signature (not called).
        ortho_iparams: accepted for PyTorch's signature.
        ortho_fparams: accepted for PyTorch's signature.
        ortho_bparams: accepted for PyTorch's signature.

    Returns:
        ``(E, X)``: the eigenvalues ``(*, k)`` (descending if ``largest``, else ascending) and the
        eigenvectors ``(*, m, k)``.

    Raises:
        ValueError: if ``m < 3 * n`` (LOBPCG needs the room), or ``X``'s columns contradict ``n``.
    """
    import numpy as np
    from scipy.sparse.linalg import lobpcg as scipy_lobpcg
    from ember.core.info import finfo
    from ember.ops import creation
    if method not in (None, "basic", "ortho"):
        raise ValueError(f"method must be 'basic' or 'ortho', got {method!r}")
    m = A.shape[-1]
    if X is not None:
        n = X.shape[-1] if n is None else n
        if X.shape[-1] != n:
            raise ValueError(f"LOBPCG: X has {X.shape[-1]} columns but n={n}")
    k = (n if X is not None else 1) if k is None else k
    n = k if n is None else n
    if m < 3 * n:
        raise ValueError(f"LOBPCG algorithm is not applicable when the number of A rows (={m}) is smaller than 3 x "
                         f"the number of requested eigenpairs (={n})")
    largest = True if largest is None else largest
    tol = finfo(A.dtype).eps ** 0.5 if tol is None else tol
    host = lambda t: None if t is None else np.asarray(t.detach().cpu().numpy(), dtype=np.float64)  # noqa: E731
    a, b, guess, pre = host(A), host(B), host(X), host(iK)
    batch = a.shape[:-2]
    if guess is None:
        from ember.ops.random import randn
        guess = host(randn(*batch, m, n, dtype=A.dtype if A.dtype.is_floating_point else None))
    values, vectors = [], []
    for idx in np.ndindex(*batch):
        pick = lambda arr: None if arr is None else arr[idx] if arr.ndim > 2 else arr  # noqa: E731
        with warnings.catch_warnings():  # PyTorch's lobpcg stops at niter without a warning
            warnings.simplefilter("ignore")
            w, v = scipy_lobpcg(pick(a), pick(guess), B=pick(b), M=pick(pre), tol=tol,
                                maxiter=niter if niter is not None and niter > 0 else max(500, 10 * m),
                                largest=largest)
        order = np.argsort(-w if largest else w)[:k]
        values.append(w[order])
        vectors.append(v[:, order])
    E = np.stack(values).reshape(batch + (k,))
    V = np.stack(vectors).reshape(batch + (m, k))
    return (creation.tensor(E, dtype=A.dtype, device=A.device), creation.tensor(V, dtype=A.dtype, device=A.device))


__all__ += ["lobpcg"]


# ---------------------------------------------------------------- denormals
_MXCSR = {}  # "get"/"set": callables reading/writing the SSE control register (x86-64, System V ABI)
_FTZ_DAZ = 0x8040  # flush-to-zero (bit 15) and denormals-are-zero (bit 6)


def _mxcsr_access():
    """Two tiny machine-code functions, ``stmxcsr [rdi]`` and ``ldmxcsr [rdi]``, in an executable page."""
    if not _MXCSR:
        import ctypes
        import mmap
        import platform
        if platform.machine().lower() not in ("x86_64", "amd64") or sys.platform == "win32":
            _MXCSR["none"] = True
            return None
        page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        page.write(bytes([0x0F, 0xAE, 0x1F, 0xC3, 0x0F, 0xAE, 0x17, 0xC3]))
        start = ctypes.addressof(ctypes.c_char.from_buffer(page))
        proto = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_uint32))
        _MXCSR.update(page=page, get=proto(start), set=proto(start + 4))
    return None if "none" in _MXCSR else _MXCSR


def set_flush_denormal(mode: bool) -> bool:
    """Flush denormal floats to zero (and read denormal inputs as zero) in the CPU's SSE arithmetic of
    the calling thread, as PyTorch's: numpy's kernels in that thread then skip the slow denormal path.

    Args:
        mode: True to flush, False to compute with denormals again.

    Returns:
        True where the CPU supports it (x86-64), else False (nothing changes).
    """
    import ctypes
    access = _mxcsr_access()
    if access is None:
        return False
    value = ctypes.c_uint32()
    access["get"](ctypes.byref(value))
    value.value = (value.value | _FTZ_DAZ) if mode else (value.value & ~_FTZ_DAZ)
    access["set"](ctypes.byref(value))
    return True


__all__ += ["set_flush_denormal"]
