"""The public op layer: ``ember.*`` functions and the Tensor methods bound to them.

Every public name is defined once, in a family module, and registered there by
``ember.ops.public`` (hand-written functions by their ``@public`` decorator; the families
generated from the op table by ``export``). This module imports the families, exports
exactly the registered functions (``__all__``), and binds the Tensor methods, their
in-place variants and the Python operators, which are the same function objects (or
in-place wrappers of them).
"""
from __future__ import annotations

import builtins as _builtins
import numbers as _numbers

from ember.core import dtype as _dt
from ember.core.autograd import GRAD_MODE as _GRAD_MODE
from ember.core.call import write_inplace as _write_inplace
from ember.core.into import call_into as _call_into
from ember.ops.elision import eliding as _eliding
from ember.dispatch.ops import FLOAT_UNARY as _FLOAT_UNARY_FAMILY, OPS as _OPS
from ember.core.tensor import Tensor as _Tensor
from ember.ops import (backward as _backward, convolution as _convolution, creation as _creation,  # noqa: F401
                       elementwise as _elementwise, indexing as _indexing, linalg as _linalg,
                       memory as _memory, pooling as _pooling, promotion as _promotion, random as _random,
                       reduction as _reduction, shape as _shape)
from ember.ops import spectral as _spectral  # noqa: F401  (windows, stft; ember.fft's functions)
from ember.ops import complex as _complex  # noqa: F401  (real/imag views, conj, angle, polar, sgn)
from ember.ops import grids as _grids, numeric as _numeric  # noqa: F401  (scans, histograms, quantiles, grids)
from ember.ops import derivatives as _derivatives  # noqa: F401  (attaches the backward rules to the op table)
from ember.ops import (decompositions as _decompositions,  # noqa: F401  (ember.linalg and its top-level forms)
                       decomposition_rules as _decomposition_rules, matrix_functions as _matrix_functions)
from ember.ops import special as _special  # noqa: F401  (polygamma, xlogy, hypot, gcd ...; ember.special)
from ember.ops import sparse as _sparse  # noqa: F401  (sparse tensors: COO, CSR/CSC/BSR/BSC; ember.sparse)
from ember.ops import strided as _strided  # noqa: F401  (as_strided, Tensor.unfold, empty_strided ...)
from ember.ops import tensor_misc as _tensor_misc  # noqa: F401  (resize_, set_, nonzero_static, frombuffer ...)
from ember.ops import shared_memory as _shared_memory  # noqa: F401  (Tensor.share_memory_)
from ember.ops import histogramdd as _histogramdd  # noqa: F401  (ember.histogramdd)
from ember.ops import hashing as _hashing  # noqa: F401  (ember.hash_tensor)
from ember.ops import fake_quantize as _fake_quantize  # noqa: F401  (fake_quantize_per_*_affine)
from ember.ops import function_forms as _function_forms  # noqa: F401  (torch.abs_(x), hsplit, *_scatter, *_copy; last: it skips names defined above)
from ember.ops import storage as _storage  # noqa: F401  (TypedStorage, legacy FloatTensor/FloatStorage, Tensor.storage)
from ember.ops import tensor_extras as _tensor_extras  # noqa: F401  (Tensor.new, fill_diagonal_, index_reduce, put, apply_, ...; skips names defined above)
from ember.ops.public import FUNCTIONS as _FUNCTIONS, INPLACE as _INPLACE, METHODS as _METHODS
from ember.dispatch.public_op import dispatch_point as _dispatch_point, outside_modes as _outside_modes

globals().update(_FUNCTIONS)
__all__ = sorted(_FUNCTIONS)


# ---------------------------------------------------------------- in-place variants
# in-place methods whose function is one call of the primitive of the same name with the same
# arguments: they may write straight into the tensor (core/into.py) when nothing needs the call seen
_INTO_OPS = {name: _OPS[name] for name in ("add", "sub", "mul", "div")}
_INTO_OPS.update({name: op for name, op in _OPS.items() if op.family == _FLOAT_UNARY_FAMILY})
_FLOAT_CATEGORY = _dt.FLOAT


def _writing_inplace(fn, name):
    """``x.op_(...)``: compute ``op(x, ...)`` and write it into x."""
    into_op = _INTO_OPS.get(name[:-1])

    def method(self, *args, **kwargs):
        if into_op is not None and not kwargs and self.dtype.category == _FLOAT_CATEGORY \
                and _call_into(self, into_op, self, *args) is not None:
            return self  # written in place: no temporary, no copy (nothing required grad)
        # Under autograd, compute from a copy: the rule may save the input, which the write overwrites.
        grad_flows = _GRAD_MODE.enabled and (self._rg or _builtins.any(isinstance(a, _Tensor) and a._rg
                                                                       for a in args))
        result = fn(_creation.clone(self) if grad_flows else self, *args, **kwargs)
        if isinstance(result, _Tensor) and self.dtype.is_complex and result.dtype.is_floating_point:
            raise RuntimeError(f"In-place {name[:-1]} is not supported for complex tensors.")
        if isinstance(result, _Tensor) and result.dtype is not self.dtype and \
                result.dtype.category > self.dtype.category:
            from ember.ops.out import _title
            raise RuntimeError(f"result type {_title(result.dtype)} can't be cast to the desired output type "
                               f"{_title(self.dtype)}")
        if isinstance(result, _Tensor) and result._data.shape != self._data.shape:
            raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
                               f"{list(result._data.shape)}")
        return _write_inplace(self, result)
    return method


def _view_inplace(fn, name):
    """``x.squeeze_()`` and friends: x takes the shape of the view ``op(x)`` (metadata only)."""
    def method(self, *args, **kwargs):
        self._data = fn(self, *args, **kwargs)._data
        return self
    return method


def _bind_inplace(name, fn, kind):
    # in-place forms are not autocast (as in PyTorch): they run below the mode keys
    method = (_writing_inplace if kind == "write" else _view_inplace)(_outside_modes(fn), name + "_")
    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"In-place form of ``{name}``: writes the result into this tensor and returns it."
    return method


_INPLACE_METHODS = {name + "_": _bind_inplace(name, fn, kind) for name, (fn, kind) in _INPLACE.items()}


# ---------------------------------------------------------------- Python operators
def _reflected(fn):
    def method(self, other):
        return fn(other, self)
    method.__name__ = f"__r{fn.__name__}__"
    method.__doc__ = f"``other {fn.__name__} self``."
    return method


def _pos(self):
    if self.dtype is _dt.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return self


def _invert(self):
    if self.dtype.is_floating_point or self.dtype.is_complex:
        raise TypeError(f"~ (operator.invert) is only implemented on integer and Boolean-type tensors, "
                        f"not {self.dtype.name}")
    return _elementwise.logical_not(self) if self.dtype is _dt.bool_ else _elementwise.bitwise_not(self)


def _comparing(fn):
    """A comparison operator: against anything but a tensor or a number (None, a string) it is
    NotImplemented, so that ``t == None`` is False, ``t != "a"`` True and ``t < None`` a
    TypeError, as Python's rules give for PyTorch; ``ember.eq(t, None)`` raises."""
    def operator(self, other):
        if other.__class__ is not _Tensor and not isinstance(other, (_Tensor, _numbers.Number)):
            return NotImplemented
        return fn(self, other)
    operator.__name__ = operator.__qualname__ = f"__{fn.__name__}__"
    operator.__doc__ = f"``self {fn.__name__} other``, elementwise (see ``ember.{fn.__name__}``)."
    return operator


_e, _l = _elementwise, _linalg
_OPERATORS = {
    "__add__": _eliding(_e.add, _OPS["add"], direct=True), "__radd__": _eliding(_e.add, _OPS["add"], reflected=True),
    "__sub__": _eliding(_e.sub, _OPS["sub"]), "__rsub__": _eliding(_e.sub, _OPS["sub"], reflected=True),
    "__mul__": _eliding(_e.mul, _OPS["mul"], direct=True), "__rmul__": _eliding(_e.mul, _OPS["mul"], reflected=True),
    "__truediv__": _eliding(_e.div, _OPS["div"]),
    "__rtruediv__": _dispatch_point("__rtruediv__")(_reflected(_e.div)),  # float32 under GPU autocast
    "__floordiv__": _e.floor_divide,
    "__rfloordiv__": _reflected(_e.floor_divide), "__mod__": _e.remainder,
    "__rmod__": _reflected(_e.remainder), "__pow__": _e.pow, "__rpow__": _reflected(_e.pow),
    "__matmul__": _l.matmul, "__rmatmul__": _reflected(_l.matmul), "__neg__": _e.neg, "__pos__": _pos,
    "__abs__": _e.abs, "__invert__": _invert,
    "__and__": _e.bitwise_and, "__rand__": _reflected(_e.bitwise_and), "__or__": _e.bitwise_or,
    "__ror__": _reflected(_e.bitwise_or), "__xor__": _e.bitwise_xor, "__rxor__": _reflected(_e.bitwise_xor),
    "__lshift__": _e.bitwise_left_shift, "__rshift__": _e.bitwise_right_shift,
    "__rlshift__": _reflected(_e.bitwise_left_shift), "__rrshift__": _reflected(_e.bitwise_right_shift),
    "__eq__": _comparing(_e.eq), "__ne__": _comparing(_e.ne), "__lt__": _comparing(_e.lt),
    "__le__": _comparing(_e.le), "__gt__": _comparing(_e.gt), "__ge__": _comparing(_e.ge),
}
_OPERATORS.update({f"__i{op}__": _INPLACE_METHODS[f"{name}_"] for op, name in (
    ("add", "add"), ("sub", "sub"), ("mul", "mul"), ("truediv", "div"), ("floordiv", "floor_divide"),
    ("mod", "remainder"), ("pow", "pow"), ("and", "bitwise_and"), ("or", "bitwise_or"), ("xor", "bitwise_xor"),
    ("lshift", "bitwise_left_shift"), ("rshift", "bitwise_right_shift"))})
del _e, _l


def _legacy_tensor_new(cls, *args, **kwargs):
    # ember.Tensor() is an empty float tensor, as torch.Tensor() is (pickling never calls
    # Tensor.__new__: tensors reduce to ember.core.pickling.rebuild_tensor)
    return _creation._legacy_new(cls, *args, **kwargs)


for _name, _fn in {**_METHODS, **_INPLACE_METHODS, **_OPERATORS}.items():
    setattr(_Tensor, _name, _fn)
_Tensor.__new__ = staticmethod(_legacy_tensor_new)
from ember.core.pickling import tensor_deepcopy as _deepcopy, tensor_reduce_ex as _reduce_ex  # noqa: E402
_Tensor.__reduce_ex__, _Tensor.__deepcopy__ = _reduce_ex, _deepcopy
_Tensor.__hash__ = lambda self: id(self)  # __eq__ is elementwise, identity hashing as in PyTorch
del _name, _fn
