"""Complex numbers: ``real``/``imag`` views, ``view_as_real``/``view_as_complex``, conjugation,
``angle``, ``polar``, ``complex`` and ``sgn``, as PyTorch defines them.

Every function here is a composite over primitives every backend has: a complex tensor is
read as pairs of reals through ``view_dtype`` (the same bytes, last dim doubled), so
``view_as_real``, ``.real`` and ``.imag`` are views that write through (on backends whose
arrays alias memory), and autograd flows through them by ``view_dtype``'s rule.

``conj`` follows PyTorch's lazy conjugate bit where it can be observed: the result of
``conj()`` on a complex tensor reports ``is_conj()`` and is refused by ``view_as_real``
until ``resolve_conj()``; its values are conjugated at once (it does not alias its input).
"""
from __future__ import annotations

import math
import weakref

from ember.core import dtype as dt
from ember.dispatch.public_op import dispatch_point
from ember.core.call import call
from ember.core.tensor import Tensor
from ember.dispatch.ops import OPS
from ember.ops import elementwise as ew
from ember.ops.out import _title
from ember.ops.public import public

_VIEW, _VIEW_DTYPE, _BASIC_INDEX = OPS["view"], OPS["view_dtype"], OPS["basic_index"]

# tensors carrying the conjugate bit, by id (Tensor.__eq__ is elementwise: no WeakSet)
_CONJUGATED = weakref.WeakValueDictionary()


def _require_tensor(x, name, arg="input", position=1):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, not {type(x).__name__}")


def _pairs(x: Tensor) -> Tensor:
    """A complex tensor's values as a real view of shape (*x.shape, 2); no checks."""
    column = call(_VIEW, x, shape=tuple(x._data.shape) + (1,))
    return call(_VIEW_DTYPE, column, dtype=x.dtype.to_real())


def _part(x: Tensor, which: int) -> Tensor:
    return call(_BASIC_INDEX, _pairs(x), key=(slice(None),) * x.ndim + (which,))


# ---------------------------------------------------------------- queries
@public  # Tensor.is_complex is the core's (ember/core/tensor.py)
def is_complex(input) -> bool:
    """Whether ``input``'s dtype is complex (``complex64`` or ``complex128``).

    Args:
        input: the tensor.

    Returns:
        A bool.
    """
    _require_tensor(input, "is_complex")
    return input.dtype.is_complex


@public(method=True)
def is_conj(input) -> bool:
    """Whether ``input`` carries the conjugate bit (it came from ``conj()`` of a complex tensor).

    Args:
        input: the tensor.

    Returns:
        A bool; always False for real tensors.
    """
    _require_tensor(input, "is_conj")
    return _CONJUGATED.get(id(input)) is input


@public(method=True)
def is_neg(input) -> bool:
    """Whether ``input`` carries PyTorch's lazy negation bit; ember never sets it.

    Args:
        input: the tensor.

    Returns:
        False.
    """
    _require_tensor(input, "is_neg")
    return False


# ---------------------------------------------------------------- views
@public
def view_as_real(input) -> Tensor:
    """A real view of a complex tensor: shape ``(*input.shape, 2)``, the real and imaginary parts last.

    Args:
        input: a complex tensor without the conjugate bit.

    Returns:
        A ``float32`` (for ``complex64``) or ``float64`` view sharing ``input``'s memory.

    Raises:
        RuntimeError: ``input`` is not complex, or has its conjugate bit set (``resolve_conj()`` first).
    """
    _require_tensor(input, "view_as_real")
    if not input.dtype.is_complex:
        raise RuntimeError("view_as_real is only supported for complex tensors")
    if is_conj(input):
        raise RuntimeError("view_as_real doesn't work on unresolved conjugated tensors.  To resolve the "
                           "conjugate tensor so you can view it as real, use self.resolve_conj(); however, be "
                           "warned that the resulting tensor will NOT alias the original.")
    return _pairs(input)


@public
@dispatch_point("view_as_complex")
def view_as_complex(input) -> Tensor:
    """A complex view of a real tensor whose last dimension (of size 2) holds real and imaginary parts.

    Args:
        input: a ``float32`` or ``float64`` tensor with a last dimension of size 2 and stride 1, its
            other strides and its storage offset even.

    Returns:
        A ``complex64`` (or ``complex128``) view of shape ``input.shape[:-1]`` sharing ``input``'s memory.

    Raises:
        RuntimeError: for another dtype, a 0-d input, or sizes, strides or offset as above not met.
    """
    _require_tensor(input, "view_as_complex")
    if input.dtype not in (dt.float32, dt.float64):
        raise RuntimeError(f"view_as_complex is only supported for floating point tensors of type float or "
                           f"double (ember has no complex32), but got a tensor of scalar type: "
                           f"{_title(input.dtype)}")
    if input.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if input._data.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    # (an empty tensor's strides say nothing about its layout: numpy reports zeros)
    strides = input.stride() if input.numel() else (2,) * (input.ndim - 1) + (1,)
    if strides[-1] != 1:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % 2 for s in strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    from ember.ops.memory import storage_offset
    if input.numel() and storage_offset(input) % 2:
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    column = call(_VIEW_DTYPE, input, dtype=dt.complex128 if input.dtype is dt.float64 else dt.complex64)
    return call(_VIEW, column, shape=tuple(input._data.shape[:-1]))


def _real(self) -> Tensor:
    return real(self)


def _set_real(self, value):
    real(self).copy_(value)


def _imag(self) -> Tensor:
    return imag(self)


def _set_imag(self, value):
    imag(self).copy_(value)


@public
def real(input) -> Tensor:
    """The real part of ``input``: a view for complex tensors, ``input`` itself for real ones.

    ``Tensor.real`` is the same as a property; assigning to it writes the real part.

    Args:
        input: the tensor.

    Returns:
        A real tensor of ``input``'s shape (``float32`` for ``complex64``, ``float64`` for ``complex128``).
    """
    _require_tensor(input, "real")
    return _part(input, 0) if input.dtype.is_complex else input


@public
def imag(input) -> Tensor:
    """The imaginary part of a complex tensor, as a view; ``Tensor.imag`` is the same as a property.

    Args:
        input: a complex tensor.

    Returns:
        A real view of ``input``'s shape.

    Raises:
        RuntimeError: ``input`` is not complex.
    """
    _require_tensor(input, "imag")
    if not input.dtype.is_complex:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return _part(input, 1)


public(property(_real, _set_real, doc="The real part (a view for complex tensors; the tensor itself otherwise)."),
       name="real", function=False, method=True)
public(property(_imag, _set_imag, doc="The imaginary part of a complex tensor, as a view (RuntimeError otherwise)."),
       name="imag", function=False, method=True)


# ---------------------------------------------------------------- conjugation
@public(method=True)
def conj_physical(input) -> Tensor:
    """The complex conjugate of each element, computed now (no conjugate bit); a copy for real tensors.

    Args:
        input: the tensor.

    Returns:
        A new tensor of ``input``'s shape and dtype.
    """
    _require_tensor(input, "conj_physical")
    if not input.dtype.is_complex:
        return input.clone()
    from ember.ops.creation import tensor
    flip = tensor([1.0, -1.0], dtype=input.dtype.to_real(), device=input.device)
    pairs = (_pairs(input) * flip).contiguous()
    return call(_VIEW, call(_VIEW_DTYPE, pairs, dtype=input.dtype), shape=tuple(input._data.shape))


@public(method=True)
def conj(input) -> Tensor:
    """The complex conjugate of ``input``, with the conjugate bit set; ``input`` itself if it is real.

    Args:
        input: the tensor.

    Returns:
        For a complex tensor, a tensor with the conjugated values that reports ``is_conj()``
        (``resolve_conj()`` clears it); for a real tensor, ``input``.
    """
    _require_tensor(input, "conj")
    if not input.dtype.is_complex:
        return input
    if is_conj(input):
        return conj_physical(input)  # conjugating twice: the plain values, no bit
    out = conj_physical(input)
    _CONJUGATED[id(out)] = out
    return out


@public(method=True)
def resolve_conj(input) -> Tensor:
    """``input`` with its conjugate bit resolved: a new tensor of the same values without the bit, or
    ``input`` itself when it has none.

    Args:
        input: the tensor.

    Returns:
        A tensor that does not report ``is_conj()``.
    """
    _require_tensor(input, "resolve_conj")
    return input.clone() if is_conj(input) else input


@public(method=True)
def resolve_neg(input) -> Tensor:
    """``input`` with PyTorch's lazy negation bit resolved; ember never sets it, so ``input`` itself.

    Args:
        input: the tensor.

    Returns:
        ``input``.
    """
    _require_tensor(input, "resolve_neg")
    return input


# ---------------------------------------------------------------- polar form
@public(method=True, out=True)
def angle(input) -> Tensor:
    """The argument (phase angle, in radians, in ``(-pi, pi]``) of each element.

    Args:
        input: the tensor; for real tensors the angle is ``pi`` for negative values and 0 otherwise (NaN
            stays NaN); integer and bool inputs are computed in the default float dtype.

    Returns:
        A real floating-point tensor of ``input``'s shape.
    """
    _require_tensor(input, "angle")
    if input.dtype.is_complex:
        return ew.atan2(imag(input), real(input))
    x = input if input.dtype.is_floating_point else input.to(dt.get_default_dtype())
    return ew.where(ew.isnan(x), x, ew.where(x < 0, math.pi, 0.0).to(x.dtype))


def _check_parts(a, b, name):
    _require_tensor(a, name, "real" if name == "complex" else "abs")
    _require_tensor(b, name, "imag" if name == "complex" else "angle", 2)
    if a.dtype not in (dt.float32, dt.float64) or b.dtype not in (dt.float32, dt.float64):
        raise RuntimeError(f"Expected both inputs to be Float or Double tensors (ember has no complex32) but got "
                           f"{_title(a.dtype)} and {_title(b.dtype)}")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"Expected object of scalar type {_title(a.dtype)} but got scalar type "
                           f"{_title(b.dtype)} for second argument")


def _from_parts(re: Tensor, im: Tensor) -> Tensor:
    from ember.ops.shape import broadcast_tensors, stack
    re, im = broadcast_tensors(re, im)
    return view_as_complex(stack([re, im], dim=-1))


@public(out=True)
def complex(real, imag) -> Tensor:
    """The complex tensor ``real + imag * 1j`` (the two broadcast together).

    Args:
        real: the real parts, a ``float32`` or ``float64`` tensor.
        imag: the imaginary parts, a tensor of the same dtype.

    Returns:
        A ``complex64`` (from ``float32``) or ``complex128`` tensor of the broadcast shape.

    Raises:
        RuntimeError: the dtypes differ or are not ``float32``/``float64``; the shapes do not broadcast.
    """
    _check_parts(real, imag, "complex")
    return _from_parts(real, imag)


@public(out=True)
@dispatch_point("polar")
def polar(abs, angle) -> Tensor:
    """The complex tensor with magnitudes ``abs`` and phase angles ``angle``: ``abs * (cos(angle) + 1j *
    sin(angle))``.

    Args:
        abs: the magnitudes, a ``float32`` or ``float64`` tensor.
        angle: the angles in radians, a tensor of the same dtype.

    Returns:
        A ``complex64`` (from ``float32``) or ``complex128`` tensor of the broadcast shape.

    Raises:
        RuntimeError: the dtypes differ or are not ``float32``/``float64``; the shapes do not broadcast.
    """
    _check_parts(abs, angle, "polar")
    return _from_parts(abs * ew.cos(angle), abs * ew.sin(angle))


@public(method=True, inplace=True, out=True)
def sgn(input) -> Tensor:
    """The sign of each element: ``input / abs(input)`` for complex tensors (0 where ``input`` is 0), the
    same as ``sign`` for real ones.

    Args:
        input: the tensor.

    Returns:
        A tensor of ``input``'s shape and dtype.
    """
    _require_tensor(input, "sgn")
    if not input.dtype.is_complex:
        return ew.sign(input)
    magnitude = ew.abs(input)
    zero = magnitude == 0
    return ew.where(zero, 0, input / ew.where(zero, 1.0, magnitude))


@public(method=True, out=True)
def vdot(input, other) -> Tensor:
    """The dot product of two 1-D tensors with the first conjugated: ``sum(conj(input) * other)``.

    Args:
        input: a 1-D tensor (conjugated when complex).
        other: a 1-D tensor of ``input``'s size and dtype.

    Returns:
        A 0-d tensor of the operands' dtype; the same as ``dot`` for real tensors.

    Raises:
        RuntimeError: an operand is not 1-D, the sizes differ, or the dtypes differ.
    """
    from ember.ops.linalg import dot
    _require_tensor(input, "vdot")
    return dot(conj_physical(input) if input.dtype.is_complex else input, other)


# ---------------------------------------------------------------- conjugate transposes
def _zero_dim_conj(t, what):
    import warnings
    warnings.warn(f"{what} is deprecated on 0-D tensors. Consider using x.conj().", UserWarning, stacklevel=3)
    return conj(t)


def _H(self):
    if self.ndim == 0:
        return _zero_dim_conj(self, "Tensor.H")
    if self.ndim != 2:
        hint = " For batches of matrices, consider using tensor.mH" if self.ndim > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {self.ndim}-D tensor.{hint}")
    return conj(self.transpose(0, 1))


def _mH(self):
    if self.ndim == 0:
        return _zero_dim_conj(self, "Tensor.mH")
    if self.ndim < 2:
        raise RuntimeError(f"tensor.mH is only supported on matrices or batches of matrices. Got {self.ndim}-D "
                           f"tensor.")
    return conj(self.transpose(-2, -1))


public(property(_H, doc="The conjugate transpose of a matrix (a view of the transpose for real tensors)."),
       name="H", function=False, method=True)
public(property(_mH, doc="The conjugate transpose of the last two dimensions (a batch of matrices)."),
       name="mH", function=False, method=True)


@public(method=True)
def adjoint(input) -> Tensor:
    """The conjugate transpose of the last two dimensions of ``input`` (``input.mH``).

    Args:
        input: a tensor of at least 2 dimensions (a 0-d one is conjugated, with PyTorch's warning).

    Returns:
        The transposed view for real tensors; for complex ones, the conjugated transpose (``is_conj()``).

    Raises:
        RuntimeError: ``input`` is 1-D.
    """
    _require_tensor(input, "adjoint")
    if input.ndim == 0:
        return _zero_dim_conj(input, "adjoint()")
    if input.ndim < 2:
        raise RuntimeError(f"tensor.adjoint() is only supported on matrices or batches of matrices. Got "
                           f"{input.ndim}-D tensor.")
    return conj(input.transpose(-2, -1))
