"""Reductions and scans over dims, plus softmax/log_softmax (composites a backend may fuse)."""
from __future__ import annotations

import builtins
import math
import warnings
from collections import namedtuple

from ember.core import dtype as dt
from ember.dispatch.public_op import dispatch_point
from ember.core.autograd import no_grad
from ember.core.call import call
from ember.core.tensor import Tensor
from ember.dispatch.meta import normalize_dim, normalize_dims
from ember.dispatch.ops import OPS
from ember.dispatch.table import DECOMPOSE, resolve
from ember.ops.creation import _resolve_dtype, cast
from ember.ops import elementwise as ew
from ember.ops.public import public

# PyTorch's torch.return_types: named pairs
values_indices = namedtuple("values_indices", ["values", "indices"])
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])
aminmax_result = namedtuple("aminmax", ["min", "max"])


_SUM = OPS["sum"]


def _dims(input, dim):
    return normalize_dims(dim, input.ndim)


def _reduces_all(dim) -> bool:
    """Whether ``dim`` (as the user gave it) asks for a reduction over every element."""
    return dim is None or (not isinstance(dim, int) and len(dim) == 0)


def _check_nonempty(input, dim, dims, name, error=RuntimeError, hint=True):
    """PyTorch's errors for a reduction without an identity (max, argmax, ...) of an empty ``input``:
    over every element (``dim`` None or ()), ``error``; over a dim of size 0, IndexError. ``name`` is the
    function the user called."""
    shape = input._data.shape
    if _reduces_all(dim):
        if 0 in shape:
            raise error(f"{name}(): Expected reduction dim to be specified for input.numel() == 0." +
                        (" Specify the reduction dim with the 'dim' argument." if hint else ""))
        return
    for d in dims:
        if shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


@public(method=True, out=True)
@dispatch_point("sum")
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum of the elements of ``input``, over all of them or over ``dim``.

    Args:
        input: the tensor.
        dim: a dim or tuple of dims to reduce (default: all).
        keepdim: keep the reduced dims as size 1.
        dtype: cast ``input`` to this dtype first (guards against overflow).

    Returns:
        A tensor with the reduced dims dropped (kept as size 1 with ``keepdim``); bool and integer inputs sum to
        int64, as in PyTorch, unless ``dtype`` is given (then the result has ``dtype``).
    """
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    out = call(_SUM, input, dims=normalize_dims(dim, len(input._data.shape)), keepdim=keepdim)
    return out if dtype is None else cast(out, _resolve_dtype(dtype))  # integers: keep the asked dtype


@public(method=True, out=True)
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """The sum of the elements of ``input``, over all of them or over ``dim``, counting NaN as zero.

    Args:
        input: the tensor.
        dim: a dim or tuple of dims to reduce (default: all).
        keepdim: keep the reduced dims as size 1.
        dtype: cast ``input`` to this dtype first.

    Returns:
        A tensor with the reduced dims dropped (kept as size 1 with ``keepdim``); bool and integer inputs sum to
        int64 unless ``dtype`` is given.
    """
    if input.dtype.is_complex:
        raise RuntimeError(f"nansum on {input.device.type.upper()} does not support complex inputs")
    return sum(ew.where(ew.isnan(input), 0, input), dim, keepdim, dtype=dtype)


@public(method=True, out=True)
@dispatch_point("prod")
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """The product of the elements of ``input``, over all of them or along one dim.

    Args:
        input: the tensor.
        dim: the one dim (an int) to reduce (default: all elements).
        keepdim: keep the reduced dim(s) as size 1.
        dtype: cast ``input`` to this dtype first.

    Returns:
        A tensor with ``dim`` dropped (kept as size 1 with ``keepdim``), or the product of all elements;
        bool and integer inputs give int64 unless ``dtype`` is given (then the result has ``dtype``).
    """
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    dims = () if dim is None else (normalize_dim(dim, input.ndim),)
    if input.ndim == 0:
        dims = ()
    out = call(OPS["prod"], input, dims=dims, keepdim=keepdim)
    return out if dtype is None else cast(out, _resolve_dtype(dtype))  # integers: keep the asked dtype


@public(method=True, out=True)
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """The arithmetic mean of the elements of ``input``, over all of them or over ``dim``.

    Args:
        input: a floating-point tensor.
        dim: a dim or tuple of dims to reduce (default: all).
        keepdim: keep the reduced dims as size 1.
        dtype: cast ``input`` to this dtype first (this is how an integer tensor can be averaged).

    Returns:
        A tensor of ``input``'s (or ``dtype``'s) dtype with the reduced dims dropped (kept as size 1 with ``keepdim``);
        the mean of zero elements is NaN.

    Raises:
        RuntimeError: ``dtype`` is given and not floating point, or it is not given and ``input`` is not
            floating point.
    """
    _check_mean_dtypes(input, dtype, "mean")
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    dims = _dims(input, dim)
    count = 1
    for d in dims:
        count *= input._data.shape[d]
    half = input.dtype in (dt.float16, dt.bfloat16)  # accumulated and divided in float32, as in PyTorch
    total = call(OPS["sum"], cast(input, dt.float32) if half else input, dims=dims, keepdim=keepdim)
    out = ew.div(total, count) if count else ew.mul(total, float("nan"))
    return cast(out, input.dtype) if half else out


@public(method=True, out=True)
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of the elements of ``input`` that are not NaN, over all of them or over ``dim``.

    Args:
        input: a floating-point tensor.
        dim: a dim or tuple of dims to reduce (default: all).
        keepdim: keep the reduced dims as size 1.
        dtype: the floating-point dtype the non-NaN elements are summed in.

    Returns:
        A floating-point tensor with the reduced dims dropped (kept as size 1 with ``keepdim``); NaN where every
        element is NaN.

    Raises:
        RuntimeError: ``input`` or ``dtype`` is not floating point.
    """
    if input.dtype.is_complex:
        raise RuntimeError(f"nansum on {input.device.type.upper()} does not support complex inputs")
    if input.dtype.category != dt.FLOAT:
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                           f"{input.dtype.name}")
    _check_mean_dtypes(input, dtype, "nanmean")
    keep = ew.logical_not(ew.isnan(input))
    return ew.div(nansum(input, dim, keepdim, dtype=dtype), sum(keep, dim, keepdim))


def _check_mean_dtypes(input, dtype, name):
    if dtype is not None:
        dtype = _resolve_dtype(dtype)
        if dtype.category < dt.FLOAT:
            raise RuntimeError(f"{name}(): could not infer output dtype. Optional dtype must be either a floating "
                               f"point or complex dtype. Got: {dtype.name}")
    elif input.dtype.category < dt.FLOAT:
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be either a floating "
                           f"point or complex dtype. Got: {input.dtype.name}")


@public(method=True, out=True)
def amax(input, dim=(), keepdim=False):
    """The largest element of ``input``, over all of them or over ``dim``; NaN propagates.

    Unlike ``max``, it reduces several dims at once and gives no indices.

    Args:
        input: the tensor.
        dim: a dim or tuple of dims to reduce (default: all).
        keepdim: keep the reduced dims as size 1.

    Returns:
        A tensor of ``input``'s dtype with the reduced dims dropped (kept as size 1 with ``keepdim``).

    Raises:
        RuntimeError: ``input`` is empty and ``dim`` is not given (there is no identity to answer with).
        IndexError: a reduced dim has size 0.
    """
    return _extremum(OPS["amax"], input, dim, keepdim, "amax")


@public(method=True, out=True)
def amin(input, dim=(), keepdim=False):
    """The smallest element of ``input``, over all of them or over ``dim``; NaN propagates.

    Unlike ``min``, it reduces several dims at once and gives no indices.

    Args:
        input: the tensor.
        dim: a dim or tuple of dims to reduce (default: all).
        keepdim: keep the reduced dims as size 1.

    Returns:
        A tensor of ``input``'s dtype with the reduced dims dropped (kept as size 1 with ``keepdim``).

    Raises:
        RuntimeError: ``input`` is empty and ``dim`` is not given (there is no identity to answer with).
        IndexError: a reduced dim has size 0.
    """
    return _extremum(OPS["amin"], input, dim, keepdim, "amin")


def _extremum(op, input, dim, keepdim, name):
    """amax/amin over ``dim`` (None or (): all), the errors naming ``name``, the function called."""
    if input.dtype.is_complex:  # no ordering of complex numbers: PyTorch's kernel names
        kernel = {"max": "max_all", "min": "min_all"}.get(name, f"{op.name[1:]}_values_{input.device.type}")
        raise ew._not_implemented(kernel, input.dtype)
    dims = _dims(input, dim if dim != () else None)
    _check_nonempty(input, dim, dims, name)
    return call(op, input, dims=dims, keepdim=keepdim)


@public(method=True, out="exact")
def argmax(input, dim=None, keepdim=False):
    """The index of the largest element of ``input``: in the flattened tensor, or along ``dim``.

    Args:
        input: the tensor.
        dim: the dim (an int) to reduce (default: ``None``, an index into the flattened tensor).
        keepdim: keep the reduced dim(s) as size 1.

    Returns:
        An int64 tensor with ``dim`` dropped (kept as size 1 with ``keepdim``); a tie gives the first index.

    Raises:
        IndexError: the reduced dim (or, without ``dim``, the tensor) is empty.
        RuntimeError: ``input`` is a bool tensor.
    """
    return _arg_extremum(OPS["argmax"], input, dim, keepdim, "argmax")


@public(method=True, out="exact")
def argmin(input, dim=None, keepdim=False):
    """The index of the smallest element of ``input``: in the flattened tensor, or along ``dim``.

    Args:
        input: the tensor.
        dim: the dim (an int) to reduce (default: ``None``, an index into the flattened tensor).
        keepdim: keep the reduced dim(s) as size 1.

    Returns:
        An int64 tensor with ``dim`` dropped (kept as size 1 with ``keepdim``); a tie gives the first index.

    Raises:
        IndexError: the reduced dim (or, without ``dim``, the tensor) is empty.
        RuntimeError: ``input`` is a bool tensor.
    """
    return _arg_extremum(OPS["argmin"], input, dim, keepdim, "argmin")


def _arg_extremum(op, input, dim, keepdim, name):
    """argmax/argmin along ``dim`` (None: of the flattened tensor), the errors naming ``name``."""
    if input.dtype is dt.bool_ and name in ("argmax", "argmin"):
        raise RuntimeError(f"{name}(): does not support bool input")
    if input.dtype.is_complex:
        raise RuntimeError(f"{name}(): does not support complex input")
    if dim is not None:
        dim = normalize_dim(dim, input.ndim)
        if input.ndim == 0:
            dim = None
    _check_nonempty(input, dim, () if dim is None else (dim,), name, error=IndexError, hint=False)
    return call(op, input, dim=dim, keepdim=keepdim)


def _extreme(input, dim, keepdim, other, name):
    if isinstance(dim, Tensor):  # max(input, other)
        other, dim = dim, None
    if other is not None:
        return ew.maximum(input, other) if name == "max" else ew.minimum(input, other)
    values_op, index_op = (OPS["amax"], OPS["argmax"]) if name == "max" else (OPS["amin"], OPS["argmin"])
    if dim is None:
        return _extremum(values_op, input, None, False, name)
    values = _extremum(values_op, input, dim, keepdim, name)
    indices = _arg_extremum(index_op, input, dim, keepdim, name)
    return (max_result if name == "max" else min_result)(values, indices)


@public(method=True, out=True)
def max(input, dim=None, keepdim=False, *, other=None):
    """The maximum of ``input``: of all its elements, along ``dim`` with indices, or elementwise against a tensor.

    ``max(input)`` gives the largest element; ``max(input, dim, keepdim=False)`` the largest values along
    ``dim`` and where they are; ``max(input, other)`` (``other`` a tensor, by position or keyword) is
    ``maximum(input, other)``.

    Args:
        input: the tensor.
        dim: the dim (an int) to reduce; a tensor in this place is taken as ``other``.
        keepdim: with ``dim``, keep it as size 1.
        other: a tensor to take the elementwise maximum with.

    Returns:
        A 0-d tensor for ``max(input)``; with ``dim``, a namedtuple ``(values, indices)``: the maxima, of
        ``input``'s dtype, and their int64 positions along ``dim`` (the first on a tie), ``dim`` dropped unless
        ``keepdim``; with ``other``, a tensor of the broadcast shape.

    Raises:
        RuntimeError: ``input`` is empty and ``dim`` is not given.
        IndexError: the reduced dim is empty.
    """
    return _extreme(input, dim, keepdim, other, "max")


@public(method=True, out=True)
def min(input, dim=None, keepdim=False, *, other=None):
    """The minimum of ``input``: of all its elements, along ``dim`` with indices, or elementwise against a tensor.

    ``min(input)`` gives the smallest element; ``min(input, dim, keepdim=False)`` the smallest values along
    ``dim`` and where they are; ``min(input, other)`` (``other`` a tensor, by position or keyword) is
    ``minimum(input, other)``.

    Args:
        input: the tensor.
        dim: the dim (an int) to reduce; a tensor in this place is taken as ``other``.
        keepdim: with ``dim``, keep it as size 1.
        other: a tensor to take the elementwise minimum with.

    Returns:
        A 0-d tensor for ``min(input)``; with ``dim``, a namedtuple ``(values, indices)``: the minima, of
        ``input``'s dtype, and their int64 positions along ``dim`` (the first on a tie), ``dim`` dropped unless
        ``keepdim``; with ``other``, a tensor of the broadcast shape.

    Raises:
        RuntimeError: ``input`` is empty and ``dim`` is not given.
        IndexError: the reduced dim is empty.
    """
    return _extreme(input, dim, keepdim, other, "min")


@public(method=True, out=True)
def aminmax(input, *, dim=None, keepdim=False):
    """The smallest and the largest element of ``input``, over all of them or over ``dim``, in one call.

    Args:
        input: the tensor.
        dim: a dim or tuple of dims to reduce, keyword-only (default: all).
        keepdim: keep the reduced dims as size 1.

    Returns:
        A namedtuple ``(min, max)`` of two tensors of ``input``'s dtype, with the reduced dims dropped (kept as size
        1 with ``keepdim``).

    Raises:
        RuntimeError: ``input`` is empty and ``dim`` is not given.
        IndexError: a reduced dim has size 0.
    """
    dims = _dims(input, dim)
    if input.numel() == 0:
        if _reduces_all(dim):
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has "
                               "no identity.")
        for d in dims:
            if input._data.shape[d] == 0:
                raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
    return aminmax_result(call(OPS["amin"], input, dims=dims, keepdim=keepdim),
                          call(OPS["amax"], input, dims=dims, keepdim=keepdim))


@public(method=True, out=True)
def all(input, dim=None, keepdim=False):
    """Whether every element of ``input`` is true (nonzero), over all of them or over ``dim``.

    Args:
        input: a tensor of any dtype.
        dim: a dim or tuple of dims to reduce (default: all).
        keepdim: keep the reduced dims as size 1.

    Returns:
        A bool tensor (uint8 for a uint8 input, as in PyTorch) with the reduced dims dropped (kept as size 1 with
        ``keepdim``); True over zero elements.
    """
    result = call(OPS["all"], input, dims=_dims(input, dim), keepdim=keepdim)
    return cast(result, dt.uint8) if input.dtype is dt.uint8 else result  # PyTorch keeps uint8


@public(method=True, out=True)
def any(input, dim=None, keepdim=False):
    """Whether any element of ``input`` is true (nonzero), over all of them or over ``dim``.

    Args:
        input: a tensor of any dtype.
        dim: a dim or tuple of dims to reduce (default: all).
        keepdim: keep the reduced dims as size 1.

    Returns:
        A bool tensor (uint8 for a uint8 input, as in PyTorch) with the reduced dims dropped (kept as size 1 with
        ``keepdim``); False over zero elements.
    """
    result = call(OPS["any"], input, dims=_dims(input, dim), keepdim=keepdim)
    return cast(result, dt.uint8) if input.dtype is dt.uint8 else result  # PyTorch keeps uint8


@public(method=True)
def count_nonzero(input, dim=None):
    """The number of nonzero elements of ``input``, over all of them or over ``dim``.

    Args:
        input: the tensor.
        dim: a dim or tuple of dims to count over (default: all).

    Returns:
        An int64 tensor with the counted dims dropped.
    """
    return sum(ew.ne(input, 0), dim)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


@public(method=True, out=True)
@dispatch_point("var")
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The variance of the elements of ``input``, over all of them or over ``dim``.

    The squared deviations from the mean are summed and divided by ``N - correction``, where ``N`` is the
    number of elements reduced.

    Args:
        input: a floating-point tensor.
        dim: a dim or tuple of dims to reduce (default: all). A bool in this place is read as ``unbiased``
            (the old ``var(input, unbiased)`` form).
        unbiased: ``True`` (the default) divides by ``N - 1``, ``False`` by ``N``; ignored when
            ``correction`` is given.
        keepdim: keep the reduced dims as size 1.
        correction: the number subtracted from ``N`` in the divisor (default 1).

    Returns:
        A tensor of ``input``'s dtype with the reduced dims dropped (kept as size 1 with ``keepdim``); NaN or inf where
        ``N <= correction`` (with PyTorch's UserWarning).

    Raises:
        RuntimeError: ``input`` is not floating point.
        TypeError: a bool ``dim`` (the old form) comes with other arguments.
    """
    return _variance(input, dim, unbiased, keepdim, correction, "var")[0]


def _variance(input, dim, unbiased, keepdim, correction, name):
    """(variance, mean, dims) for var, std, var_mean and std_mean (``name``: the one called)."""
    if isinstance(dim, bool):  # the old var(input, unbiased) form: no other argument goes with it
        if unbiased is not None or keepdim or correction is not None:
            raise TypeError(f"{name}() received an invalid combination of arguments - got (Tensor, bool, ...): "
                            f"a bool in the place of dim is the old {name}(input, unbiased) form, which takes "
                            f"nothing else")
        unbiased, dim = dim, None
    if input.dtype.category < dt.FLOAT:
        what = "std and var" if name in ("var", "std") else name
        raise RuntimeError(f"{what} only support floating point and complex dtypes, got {input.dtype.name}")
    dims = _dims(input, dim)
    n = 1
    for d in dims:
        n *= input._data.shape[d]
    dof = n - _correction(unbiased, correction)
    if dof <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                      f"reduction factor (input numel divided by output numel).", UserWarning, stacklevel=3)
    average = mean(input, dims, keepdim=True)
    centered = ew.sub(input, average)
    if centered.dtype.is_complex:  # |x - mean|^2: a real variance, as in PyTorch
        centered = ew.abs(centered)
    squares = sum(ew.mul(centered, centered), dims, keepdim)
    return ew.div(squares, builtins.max(dof, 0)), (average if keepdim else _squeeze_dims(average, dims))


@public(method=True, out=True)
@dispatch_point("std")
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The standard deviation of the elements of ``input`` (the square root of ``var``), over all or over ``dim``.

    Args:
        input: a floating-point tensor.
        dim: a dim or tuple of dims to reduce (default: all). A bool in this place is read as ``unbiased``.
        unbiased: ``True`` (the default) divides by ``N - 1``, ``False`` by ``N``; ignored when
            ``correction`` is given.
        keepdim: keep the reduced dims as size 1.
        correction: the number subtracted from the element count ``N`` in the divisor (default 1).

    Returns:
        A tensor of ``input``'s dtype with the reduced dims dropped (kept as size 1 with ``keepdim``).

    Raises:
        RuntimeError: ``input`` is not floating point.
        TypeError: a bool ``dim`` (the old form) comes with other arguments.
    """
    return ew.sqrt(_variance(input, dim, unbiased, keepdim, correction, "std")[0])


@public
@dispatch_point("var_mean")
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The variance and the mean of ``input``, over all of its elements or over ``dim``, in one call.

    Args:
        input: a floating-point tensor.
        dim: a dim or tuple of dims to reduce (default: all). A bool in this place is read as ``unbiased``
            (the old ``var_mean(input, unbiased)`` form).
        unbiased: ``True`` (the default) divides the variance by ``N - 1``, ``False`` by ``N``; ignored
            when ``correction`` is given.
        keepdim: keep the reduced dims as size 1.
        correction: the number subtracted from the element count ``N`` in the variance's divisor (default 1).

    Returns:
        A tuple ``(var, mean)`` of two tensors of ``input``'s dtype, with the reduced dims dropped (kept as size 1
        with ``keepdim``).

    Raises:
        RuntimeError: ``input`` is not floating point.
        TypeError: a bool ``dim`` (the old form) comes with other arguments.
    """
    variance, average = _variance(input, dim, unbiased, keepdim, correction, "var_mean")
    return variance, average


@public
@dispatch_point("std_mean")
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """The standard deviation and the mean of ``input``, over all of its elements or over ``dim``, in one call.

    Args:
        input: a floating-point tensor.
        dim: a dim or tuple of dims to reduce (default: all). A bool in this place is read as ``unbiased``
            (the old ``std_mean(input, unbiased)`` form).
        unbiased: ``True`` (the default) divides the variance by ``N - 1``, ``False`` by ``N``; ignored
            when ``correction`` is given.
        keepdim: keep the reduced dims as size 1.
        correction: the number subtracted from the element count ``N`` in the variance's divisor (default 1).

    Returns:
        A tuple ``(std, mean)`` of two tensors of ``input``'s dtype, with the reduced dims dropped (kept as size 1
        with ``keepdim``).

    Raises:
        RuntimeError: ``input`` is not floating point.
        TypeError: a bool ``dim`` (the old form) comes with other arguments.
    """
    variance, average = _variance(input, dim, unbiased, keepdim, correction, "std_mean")
    return ew.sqrt(variance), average


@public(method=True, out=True)
@dispatch_point("norm")
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """A vector norm of ``input``, of all its elements or over ``dim``.

    Args:
        input: a floating-point tensor.
        p: the order. ``"fro"`` (the default), ``2`` or ``None``: the Euclidean norm, the square root of the
            sum of squares; ``inf`` / ``-inf``: the largest / smallest absolute value; ``0``: the number of
            nonzero elements; ``1``: the sum of absolute values; any other number: ``sum(|x|**p) ** (1/p)``.
        dim: a dim or tuple of dims to reduce (default: all, as one flat vector).
        keepdim: keep the reduced dims as size 1.
        dtype: cast ``input`` to this dtype first.

    Returns:
        A tensor of ``input``'s (or ``dtype``'s) dtype with the reduced dims dropped (kept as size 1 with ``keepdim``).

    Raises:
        RuntimeError: ``input`` is not floating point, or ``p`` is ``"nuc"`` and ``input`` not a matrix.
    """
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    if input.dtype.category < dt.FLOAT:
        raise RuntimeError(f"norm(): input dtype should be a floating point type, got {input.dtype.name}")
    if p == "nuc":  # the sum of singular values (a matrix norm: dim None means a 2-D input)
        from ember.ops.matrix_functions import nuclear_norm
        return nuclear_norm(input, dim, keepdim)
    if input.dtype.is_complex:  # the norm of the magnitudes, a real tensor
        input = ew.abs(input)
    if p in ("fro", 2, 2.0, None):
        return ew.sqrt(sum(ew.mul(input, input), dim, keepdim))
    a = ew.abs(input)
    if p == math.inf:
        return amax(a, () if dim is None else dim, keepdim)
    if p == -math.inf:
        return amin(a, () if dim is None else dim, keepdim)
    if p == 0:
        return cast(sum(ew.ne(input, 0), dim, keepdim), input.dtype)
    if p == 1:
        return sum(a, dim, keepdim)
    return ew.pow(sum(ew.pow(a, p), dim, keepdim), 1.0 / p)


@public(method=True)
@dispatch_point("dist")
def dist(input, other, p=2):
    """The ``p``-norm of ``input - other``, the distance between two tensors.

    Args:
        input: a floating-point tensor.
        other: a tensor broadcast against ``input``.
        p: the order of the norm, as in ``norm`` (default 2).

    Returns:
        A 0-d tensor.
    """
    return norm(ew.sub(input, other), p)


@public(method=True, out=True)
@dispatch_point("logsumexp")
def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(input)))`` over ``dim``, computed stably (the maximum is subtracted before ``exp``).

    Args:
        input: the tensor; integer and bool inputs are computed in the default float dtype.
        dim: a dim or tuple of dims to reduce (required).
        keepdim: keep the reduced dims as size 1.

    Returns:
        A floating-point tensor with the reduced dims dropped (kept as size 1 with ``keepdim``).
    """
    input = ew._float_input(input)
    dims = _dims(input, dim)
    if input.numel() == 0:
        return ew.log(sum(ew.exp(input), dims, keepdim))
    with no_grad():
        shift = amax(input, dims, keepdim=True)
        shift = ew.where(ew.isinf(shift), 0.0, shift)
    total = sum(ew.exp(ew.sub(input, shift)), dims, keepdim=True)
    out = ew.add(ew.log(total), shift)
    return out if keepdim else _squeeze_dims(out, dims)


def _squeeze_dims(t, dims):
    shape = [s for i, s in enumerate(t._data.shape) if i not in dims]
    return t.view(tuple(shape))


@public(method=True, inplace=True, out=True)
@dispatch_point("cumsum")
def cumsum(input, dim, *, dtype=None):
    """The cumulative sum of ``input`` along ``dim``: element ``i`` is the sum of elements ``0`` to ``i``.

    Args:
        input: the tensor.
        dim: the dim to accumulate along.
        dtype: cast ``input`` to this dtype first (guards against overflow).

    Returns:
        A tensor of ``input``'s shape; bool and integer inputs give int64 unless ``dtype`` is given (then the
        result has ``dtype``).

    Raises:
        NotImplementedError: ``dtype`` is bool and ``input`` is not empty (PyTorch has no bool kernel for it).
    """
    dim = normalize_dim(dim, input.ndim) if input.ndim else 0
    out = call(OPS["cumsum"], _scan_input(input, dtype, "cumsum"), dim=dim)
    return out if dtype is None else cast(out, _resolve_dtype(dtype))


@public(method=True, inplace=True, out=True)
@dispatch_point("cumprod")
def cumprod(input, dim, *, dtype=None):
    """The cumulative product of ``input`` along ``dim``: element ``i`` is the product of elements ``0`` to ``i``.

    Args:
        input: the tensor.
        dim: the dim to accumulate along.
        dtype: cast ``input`` to this dtype first (guards against overflow).

    Returns:
        A tensor of ``input``'s shape; bool and integer inputs give int64 unless ``dtype`` is given (then the
        result has ``dtype``).

    Raises:
        NotImplementedError: ``dtype`` is bool and ``input`` is not empty (PyTorch has no bool kernel for it).
    """
    dim = normalize_dim(dim, input.ndim) if input.ndim else 0
    out = call(OPS["cumprod"], _scan_input(input, dtype, "cumprod"), dim=dim)
    return out if dtype is None else cast(out, _resolve_dtype(dtype))


def _scan_input(input, dtype, name):
    if dtype is None:
        return input
    dtype = _resolve_dtype(dtype)
    if dtype is dt.bool_ and input.numel():  # (an empty one runs no kernel in PyTorch)
        raise ew._not_implemented(f"{name}_out_{input.device.type}", dtype)
    return cast(input, dtype)


# ---------------------------------------------------------------- softmax family
def run_composite(op, input, *others, **attrs):
    """Run a backend's fused override of the composite ``op`` if it has one, else its decomposition.

    ``input`` (a Tensor) picks the device; ``others`` are further arguments (Tensors or None).
    """
    kernel = op.resolved.get(input.device.type) or resolve(op, input.device.type)
    if kernel is DECOMPOSE:
        return op.decomposition(input, *others, **attrs)
    return call(op, input, *others, **attrs)


# The maximum is subtracted first, as in PyTorch, infinite maxima included: a slice holding +inf, or only
# -inf, gives NaN throughout. Half precision is computed in float32, as in PyTorch.
def _softmax_reference(input, *, dim):
    x = cast(input, dt.float32) if input.dtype in _HALF else input
    with no_grad():
        shift = amax(x, dim, keepdim=True)
    e = ew.exp(ew.sub(x, shift))
    out = ew.div(e, sum(e, dim, keepdim=True))
    return cast(out, input.dtype) if x is not input else out


def _log_softmax_reference(input, *, dim):
    x = cast(input, dt.float32) if input.dtype in _HALF else input
    with no_grad():
        shift = amax(x, dim, keepdim=True)
    shifted = ew.sub(x, shift)
    out = ew.sub(shifted, ew.log(sum(ew.exp(shifted), dim, keepdim=True)))
    return cast(out, input.dtype) if x is not input else out


_HALF = (dt.float16, dt.bfloat16)


def _layer_norm_reference(x, weight, bias, *, normalized_ndim, eps):
    """The ``layer_norm`` composite: ``(y, mean, rstd)``, the statistics over the last
    ``normalized_ndim`` dims, computed in float32 for half-precision inputs."""
    work = cast(x, dt.float32) if x.dtype in (dt.float16, dt.bfloat16) else x
    dims = tuple(range(x.ndim - normalized_ndim, x.ndim))
    average = mean(work, dims, keepdim=True)
    centered = ew.sub(work, average)
    rstd = ew.rsqrt(ew.add(mean(ew.mul(centered, centered), dims, keepdim=True), eps))
    y = ew.mul(centered, rstd)
    if weight is not None:
        y = ew.mul(y, weight)
    if bias is not None:
        y = ew.add(y, bias)
    lead = tuple(x.shape[:x.ndim - normalized_ndim])
    return cast(y, x.dtype), average.reshape(lead), rstd.reshape(lead)


OPS["softmax"].decomposition = _softmax_reference
OPS["layer_norm"].decomposition = _layer_norm_reference
OPS["log_softmax"].decomposition = _log_softmax_reference


def _softmax_args(input, dim, dtype, name):
    if dim is None:
        raise TypeError(f"{name}() requires an explicit dim (PyTorch's implicit choice is deprecated)")
    if dtype is not None:
        input = cast(input, _resolve_dtype(dtype))
    dim = normalize_dim(dim, input.ndim) if input.ndim else 0
    if input.dtype.category != dt.FLOAT and input.numel():  # complex too: PyTorch has no kernel
        last = "_lastdim" if dim == builtins.max(input.ndim - 1, 0) else ""
        raise ew._not_implemented(f"{name}{last}_kernel_impl", input.dtype)
    return input, dim


@public(method=True, out=True)
@dispatch_point("softmax")
def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Softmax along ``dim``: ``exp(input)`` scaled so that each slice along ``dim`` sums to 1.

    Args:
        input: a floating-point tensor (an integer or bool one needs ``dtype``).
        dim: the dim to normalize over (required).
        _stacklevel: unused; it is there for PyTorch's signature.
        dtype: cast ``input`` to this dtype first.

    Returns:
        A tensor of ``input``'s (or ``dtype``'s) dtype and shape; an empty ``input`` comes back as an empty copy.

    Raises:
        TypeError: ``dim`` is not given.
        NotImplementedError: ``input`` (after the cast to ``dtype``) is a non-empty integer or bool tensor, as
            in PyTorch.
    """
    input, dim = _softmax_args(input, dim, dtype, "softmax")
    if input.numel() == 0:  # nothing to normalize (amax over an empty dim would refuse); the dtype is kept
        return input.clone()
    return run_composite(OPS["softmax"], input, dim=dim)


@public(method=True, out=True)
@dispatch_point("log_softmax")
def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """The logarithm of ``softmax`` along ``dim``, computed stably in one step.

    Args:
        input: a floating-point tensor (an integer or bool one needs ``dtype``).
        dim: the dim to normalize over (required).
        _stacklevel: unused; it is there for PyTorch's signature.
        dtype: cast ``input`` to this dtype first.

    Returns:
        A tensor of ``input``'s (or ``dtype``'s) dtype and shape; an empty ``input`` comes back as an empty copy.

    Raises:
        TypeError: ``dim`` is not given.
        NotImplementedError: ``input`` (after the cast to ``dtype``) is a non-empty integer or bool tensor, as
            in PyTorch.
    """
    input, dim = _softmax_args(input, dim, dtype, "log_softmax")
    if input.numel() == 0:  # nothing to normalize (amax over an empty dim would refuse); the dtype is kept
        return input.clone()
    return run_composite(OPS["log_softmax"], input, dim=dim)


@dispatch_point("softmin")
def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return softmax(ew.neg(input), dim, dtype=dtype)
