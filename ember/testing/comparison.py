"""PyTorch's ``torch.testing.assert_close`` and ``torch.testing.make_tensor`` for ember tensors.

``assert_close`` compares tensors (and numpy arrays), Python scalars, ``None`` and nested
sequences / mappings of them, with PyTorch's per-dtype default tolerances and its failure
messages ("Tensor-likes are not close!", mismatch count, greatest absolute and relative
difference with their index). Values are compared in numpy on the CPU.
"""
from __future__ import annotations

import collections.abc
import math

import numpy as np

import ember

__all__ = ["assert_close", "make_tensor"]

# (rtol, atol) when neither is given; dtypes not listed compare exactly.
_DEFAULT_TOLERANCES = {
    ember.float16: (1e-3, 1e-5), ember.bfloat16: (1.6e-2, 1e-5), ember.float32: (1.3e-6, 1e-5),
    ember.float64: (1e-7, 1e-7), ember.complex64: (1.3e-6, 1e-5), ember.complex128: (1e-7, 1e-7),
}


class _Failure(Exception):
    """A mismatch found below the top level: carries the exception class and its message."""

    def __init__(self, cls, message):
        super().__init__(message)
        self.cls = cls
        self.message = message


def _tolerances(*dtypes, rtol, atol):
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, "
                         f"but got no {'rtol' if rtol is None else 'atol'}.")
    if rtol is not None:
        return rtol, atol
    pairs = [_DEFAULT_TOLERANCES.get(d, (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _fmt(value):
    return repr(value) if isinstance(value, float) else str(value)


def _to_numpy(t):
    """``t`` on the CPU as a numpy array widened so that every value is exact."""
    t = t.detach().to("cpu")
    if t.dtype.is_complex:
        t = t.to(ember.complex128)
    elif t.dtype.is_floating_point:
        t = t.to(ember.float64)
    elif t.dtype is not ember.bool:
        t = t.to(ember.int64)
    return t.numpy()


def _diff_dtype(dtype):
    """numpy dtype the differences are reported in (PyTorch computes them in the compared dtype)."""
    if dtype in (ember.float64, ember.complex128):
        return np.float64
    if dtype is ember.float16:
        return np.float16
    return np.float32  # float32, bfloat16, complex64, and integers (true division's default dtype)


def _compare_values(a, e, dtype, rtol, atol, equal_nan, scalar, msg):
    """Raise a _Failure when ``a`` and ``e`` (numpy arrays of one shape) are not close."""
    with np.errstate(all="ignore"):
        if rtol == 0 and atol == 0 and a.dtype.kind in "biu" and e.dtype.kind in "biu":
            matches = a == e
        else:
            af, ef = a.astype(np.complex128 if a.dtype.kind == "c" or e.dtype.kind == "c" else np.float64), \
                e.astype(np.complex128 if a.dtype.kind == "c" or e.dtype.kind == "c" else np.float64)
            error = np.abs(af - ef)
            # a finite error within tolerance, or equal values (equal infinities included)
            matches = (af == ef) | (np.isfinite(error) & (error <= atol + rtol * np.abs(ef)))
            if equal_nan:
                matches |= np.isnan(af) & np.isnan(ef)
        if matches.all():
            return
        # differences as PyTorch reports them, only over the mismatched elements
        if a.dtype.kind in "biu":
            abs_diff = np.abs(a.astype(np.int64) - e.astype(np.int64))
            rel_diff = abs_diff.astype(np.float32) / np.abs(e.astype(np.int64)).astype(np.float32)
        else:
            cd = _diff_dtype(dtype)
            if a.dtype.kind == "c":
                diff = (a.astype(np.complex128) - e.astype(np.complex128))
                abs_diff, abs_e = np.abs(diff).astype(cd), np.abs(e).astype(cd)
            else:
                abs_diff, abs_e = np.abs(a.astype(cd) - e.astype(cd)), np.abs(e.astype(cd))
            rel_diff = abs_diff / abs_e
        abs_diff = np.where(matches, 0, abs_diff)
        rel_diff = np.where(matches, 0, rel_diff)
    kind = "equal" if rtol == 0 and atol == 0 else "close"
    bounded = kind == "close"

    def as_py(x):
        return int(x) if np.asarray(x).dtype.kind in "biu" else float(x)

    if scalar:
        lines = [f"Scalars are not {kind}!", "", f"Expected {_item(e)} but got {_item(a)}.",
                 f"Absolute difference: {_fmt(as_py(abs_diff.reshape(-1)[0]))}"
                 + (f" (up to {_fmt(atol)} allowed)" if bounded else ""),
                 f"Relative difference: {_fmt(as_py(rel_diff.reshape(-1)[0]))}"
                 + (f" (up to {_fmt(rtol)} allowed)" if bounded else "")]
    else:
        total, bad = matches.size, int(matches.size - matches.sum())

        def greatest(values):
            flat = values.reshape(-1)
            nan = np.isnan(flat) if flat.dtype.kind == "f" else np.zeros(flat.shape, bool)
            i = int(np.argmax(nan)) if nan.any() else int(np.argmax(flat))  # NaN wins, as torch.max
            index = tuple(int(j) for j in np.unravel_index(i, values.shape))
            return _fmt(as_py(flat[i])), str(index)

        (ad, ai), (rd, ri) = greatest(abs_diff), greatest(rel_diff)
        lines = [f"Tensor-likes are not {kind}!", "", f"Mismatched elements: {bad} / {total} ({bad / total:.1%})",
                 f"Greatest absolute difference: {ad} at index {ai}" + (f" (up to {_fmt(atol)} allowed)" if bounded
                                                                        else ""),
                 f"Greatest relative difference: {rd} at index {ri}" + (f" (up to {_fmt(rtol)} allowed)" if bounded
                                                                        else "")]
    raise _Failure(AssertionError, _message("\n".join(lines), msg))


def _item(x):
    v = np.asarray(x).reshape(-1)[0]
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.complexfloating):
        return complex(v)
    return float(v)


def _message(default, msg):
    if msg is None:
        return default
    return msg(default) if callable(msg) else msg


def _check_attribute(name, a, e, msg):
    if a != e:
        raise _Failure(AssertionError, _message(f"The values for attribute '{name}' do not match: {a} != {e}.", msg))


def _compare_tensors(actual, expected, *, rtol, atol, equal_nan, check_device, check_dtype, check_layout,
                     check_stride, msg):
    _check_attribute("shape", actual.shape, expected.shape, msg)
    if check_device:
        _check_attribute("device", actual.device, expected.device, msg)
    if check_dtype:
        _check_attribute("dtype", actual.dtype, expected.dtype, msg)
    if check_layout:
        _check_attribute("layout", actual.layout, expected.layout, msg)
    if check_stride:
        _check_attribute("stride()", actual.stride(), expected.stride(), msg)
    rtol, atol = _tolerances(actual.dtype, expected.dtype, rtol=rtol, atol=atol)
    dtype = actual.dtype if actual.dtype is expected.dtype else ember.promote_types(actual.dtype, expected.dtype)
    a, e = _to_numpy(actual.to(dtype)), _to_numpy(expected.to(dtype))
    _compare_values(a, e, dtype, rtol, atol, equal_nan, scalar=actual.ndim == 0, msg=msg)


_SCALAR_DTYPE = {int: ember.int64, float: ember.float64, complex: ember.complex128}


def _compare(actual, expected, options, allow_subclasses):
    if actual is None or expected is None:
        if not (actual is None and expected is None):
            raise _Failure(AssertionError, f"None mismatch: {actual} is not {expected}")
        return
    if isinstance(actual, np.ndarray) and isinstance(expected, np.ndarray):
        actual, expected = ember.from_numpy(np.ascontiguousarray(actual)), \
            ember.from_numpy(np.ascontiguousarray(expected))
    if isinstance(actual, ember.Tensor) and isinstance(expected, ember.Tensor):
        if not allow_subclasses and type(actual) is not type(expected):
            raise _Failure(TypeError, f"Except for Python scalars, type equality is required if "
                                      f"allow_subclasses=False, but got {type(actual)} and {type(expected)} instead.")
        _compare_tensors(actual, expected, **options)
        return
    if isinstance(actual, bool) and isinstance(expected, bool):
        if actual is not expected:
            raise _Failure(AssertionError, _message(f"Booleans mismatch: {actual} is not {expected}",
                                                    options["msg"]))
        return
    numbers = (int, float, complex)
    if isinstance(actual, numbers) and isinstance(expected, numbers) and not isinstance(actual, bool) \
            and not isinstance(expected, bool):
        ta, te = type(actual), type(expected)
        if options["check_dtype"] and ta is not te:
            raise _Failure(AssertionError, _message(f"The (d)types do not match: {ta} != {te}.", options["msg"]))
        dtype = _SCALAR_DTYPE[max(ta, te, key=(int, float, complex).index)]
        rtol, atol = _tolerances(dtype, rtol=options["rtol"], atol=options["atol"])
        np_type = {ember.int64: np.int64, ember.float64: np.float64, ember.complex128: np.complex128}[dtype]
        _compare_values(np.array(actual, dtype=np_type), np.array(expected, dtype=np_type), dtype, rtol, atol,
                        options["equal_nan"], scalar=True, msg=options["msg"])
        return
    if isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        if set(actual) != set(expected):
            missing = sorted(set(expected) - set(actual), key=repr)
            extra = sorted(set(actual) - set(expected), key=repr)
            raise _Failure(AssertionError, f"The keys of the mappings do not match:\n"
                                           f"Missing keys in the actual mapping: {missing}\n"
                                           f"Additional keys in the actual mapping: {extra}")
        for key in expected:
            _compare_item(actual[key], expected[key], options, allow_subclasses, repr(key))
        return
    sequence = collections.abc.Sequence
    if isinstance(actual, sequence) and isinstance(expected, sequence) and not isinstance(actual, str) \
            and not isinstance(expected, str):
        if len(actual) != len(expected):
            raise _Failure(AssertionError, f"The length of the sequences mismatch: {len(actual)} != {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _compare_item(a, e, options, allow_subclasses, str(i))
        return
    raise _Failure(TypeError, f"No comparison pair was able to handle inputs of type {type(actual)} and "
                              f"{type(expected)}.")


def _compare_item(actual, expected, options, allow_subclasses, key):
    try:
        _compare(actual, expected, options, allow_subclasses)
    except _Failure as failure:
        # the innermost key comes first in the path: prepend ours
        path = f"[{key}]"
        message = failure.message
        marker = "\n\nThe failure occurred for item "
        if marker in message:
            head, _, rest = message.partition(marker)
            message = f"{head}{marker}{path}{rest}"
        else:
            message = f"{message}{marker}{path}"
        raise _Failure(failure.cls, message) from None


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Assert that ``actual`` and ``expected`` are close: ``|actual - expected| <= atol + rtol * |expected|``.

    Args:
        actual: a tensor, numpy array, Python scalar, None, or a sequence / mapping of them.
        expected: the reference, of the same structure.
        allow_subclasses: if False, tensor inputs must be of the same type.
        rtol: relative tolerance; with ``atol``, or both omitted for the dtype's default
            (float16 1e-3, bfloat16 1.6e-2, float32/complex64 1.3e-6, float64/complex128 1e-7, else 0).
        atol: absolute tolerance (defaults 1e-5 for half, bfloat16, float32 and complex64, 1e-7 for
            double precision, 0 otherwise).
        equal_nan: if True, two NaNs compare equal.
        check_device: require the same device; if False, both are compared on the CPU.
        check_dtype: require the same dtype; if False, both are promoted to a common dtype.
        check_layout: require the same layout.
        check_stride: require the same strides.
        msg: a message replacing the default one, or a callable mapping the default to a new one.

    Raises:
        AssertionError: when the inputs differ, with PyTorch's message (mismatch counts, greatest
            absolute and relative differences and their index).
        TypeError: for inputs no comparison handles.
        ValueError: when only one of ``rtol`` and ``atol`` is given.
    """
    if (rtol is None) != (atol is None):
        _tolerances(rtol=rtol, atol=atol)
    options = dict(rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device, check_dtype=check_dtype,
                   check_layout=check_layout, check_stride=check_stride, msg=msg)
    try:
        _compare(actual, expected, options, allow_subclasses)
    except _Failure as failure:
        raise failure.cls(failure.message) from None


def _shape_of(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, ember.Size)):
        return tuple(shape[0])
    return tuple(shape)


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False, noncontiguous=False,
                exclude_zero=False, memory_format=None):
    """A tensor of random values in ``[low, high)`` (PyTorch's test helper), drawn from ember's generator.

    Args:
        *shape: the sizes, as integers or one sequence.
        dtype: the dtype.
        device: the device.
        low: inclusive lower bound; default -9 (0 for uint8), clamped to the dtype's range.
        high: exclusive upper bound; default 9 for floating types and 10 for integers, clamped likewise.
        requires_grad: whether autograd records operations on the result (floating and complex only).
        noncontiguous: if True and the tensor has more than one element, return a non-contiguous view.
        exclude_zero: replace zeros by 1 (integers) or the dtype's smallest normal number (floating).
        memory_format: must be None: ember tensors have one (row-major) memory format.

    Returns:
        The tensor.

    Raises:
        ValueError: if ``low >= high``, either is NaN, or ``requires_grad`` is set for a bool or integer dtype.
        TypeError: for a ``memory_format`` other than None.
    """
    if memory_format is not None:
        raise TypeError(f"make_tensor(): ember tensors have no memory formats, got memory_format={memory_format}")
    shape = _shape_of(shape)
    floating = dtype.is_floating_point or dtype.is_complex
    if requires_grad and not floating:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral dtypes, but got "
                         f"dtype={dtype}")
    if dtype is ember.bool:
        result = ember.randint(0, 2, shape).to(ember.bool)
    elif not floating:
        info = ember.iinfo(dtype)
        low, high = _bounds(low, high, 0 if dtype is ember.uint8 else -9, 10, info.min, info.max)
        result = ember.randint(math.ceil(low), math.ceil(high), shape, dtype=ember.int64).to(dtype)
    else:
        real = ember.float64 if dtype in (ember.float64, ember.complex128) else ember.float32
        info = ember.finfo(dtype)
        low, high = _bounds(low, high, -9, 9, info.min, info.max)
        parts = [ember.rand(shape, dtype=ember.float64) * (high - low) + low for _ in range(2 if dtype.is_complex
                                                                                             else 1)]
        if dtype.is_complex:
            result = ember.complex(parts[0].to(real), parts[1].to(real)).to(dtype)
        else:
            result = parts[0].to(dtype)
    if exclude_zero:
        replacement = 1 if not floating else ember.finfo(dtype).tiny
        result = ember.where(result == 0, ember.tensor(replacement, dtype=dtype), result)
    result = result.to(device)
    if noncontiguous and result.numel() > 1:
        # each value twice along the last dimension, then every other one: same values, stride 2
        result = ember.repeat_interleave(result, 2, dim=-1)[..., ::2]
    if requires_grad:
        result.requires_grad_(True)
    return result


def _bounds(low, high, default_low, default_high, lowest, highest):
    """PyTorch's bound rules: defaults, NaN and order checks, clamping to the dtype's range."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if (isinstance(low, float) and math.isnan(low)) or (isinstance(high, float) and math.isnan(high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    return max(low, lowest), min(high, highest)
