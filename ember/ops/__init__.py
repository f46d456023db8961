"""The public op layer: ``ember.*`` functions and the Tensor methods bound to them.

Every op is defined once, in one of the family modules; this module gathers them
into one namespace and attaches the Tensor methods and Python operators, which are
the same function objects (or in-place wrappers of them).
"""
from __future__ import annotations

import builtins as _builtins

from ember.core import dtype as _dt
from ember.core.autograd import GRAD_MODE, register_tensor_hook, retain_grad, run_backward
from ember.core.call import write_inplace
from ember.core.tensor import Tensor
from ember.dispatch.meta import result_type
from ember.ops.creation import *  # noqa: F401,F403
from ember.ops.creation import is_pinned, pin_memory
from ember.ops.creation import (_legacy_new, bool_, byte, char, clone, contiguous, cpu, cuda, data, detach,
                                detach_, double, float_, half, int_, is_contiguous, item, long, new_empty,
                                new_full, new_ones, new_tensor, new_zeros, numpy, short, to, tolist, type_,
                                type_as, bfloat16, __array__, __dlpack__, __dlpack_device__, __float__,
                                __int__, __index__)
from ember.ops.elementwise import *  # noqa: F401,F403
from ember.ops.reduction import *  # noqa: F401,F403
from ember.ops.shape import *  # noqa: F401,F403
from ember.ops.shape import T, mT, H, mH, expand, expand_as, view, view_as, reshape_as, repeat
from ember.ops.indexing import *  # noqa: F401,F403
from ember.ops.indexing import getitem, setitem
from ember.ops.linalg import *  # noqa: F401,F403
from ember.ops.random import *  # noqa: F401,F403
from ember.ops.random import uniform_, normal_, bernoulli_, random_, exponential_
from ember.ops import creation as _c, elementwise as _e, reduction as _r, shape as _s, indexing as _i
from ember.ops import linalg as _l


# ---------------------------------------------------------------- in-place variants
def _inplace(fn, name):
    """``x.op_(...)``: compute ``op(x, ...)`` and write it into x."""
    def method(self, *args, **kwargs):
        # Under autograd, compute from a copy: the rule may save the input, which the write overwrites.
        grad_flows = GRAD_MODE.enabled and (self._rg or _builtins.any(isinstance(a, Tensor) and a._rg
                                                                      for a in args))
        result = fn(_c.clone(self) if grad_flows else self, *args, **kwargs)
        if isinstance(result, Tensor) and result.dtype is not self.dtype and \
                result.dtype.category > self.dtype.category:
            raise RuntimeError(f"result type {result.dtype.name} can't be cast to the desired output type "
                               f"{self.dtype.name}")
        if isinstance(result, Tensor) and result._data.shape != self._data.shape:
            raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
                               f"{list(result._data.shape)}")
        return write_inplace(self, result)
    method.__name__ = method.__qualname__ = name
    return method


def zero_(self):
    return write_inplace(self, 0)


def fill_(self, value):
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")
    return write_inplace(self, value)


def copy_(self, src, non_blocking=False):
    if isinstance(src, Tensor):
        from ember.dispatch.meta import broadcast_shapes
        if broadcast_shapes(self._data.shape, src._data.shape) != self._data.shape:
            raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the broadcast shape "
                               f"{list(broadcast_shapes(self._data.shape, src._data.shape))}")
        if src.device != self.device:
            src = _c.to_device(src, self.device)
    return write_inplace(self, src)


def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradient of this tensor into the leaves' ``.grad``."""
    if not self._rg:  # checked first, as PyTorch does
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if self.numel() != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs, got shape "
                               f"{list(self.shape)}")
        gradient = _c.ones_like(self)
    elif not isinstance(gradient, Tensor):
        gradient = _c.tensor(gradient, dtype=self.dtype, device=self.device)
    elif gradient.shape != self.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {list(gradient.shape)} and "
                           f"output[0] has a shape of {list(self.shape)}.")
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    run_backward([self], [gradient], retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)


def register_hook(self, hook):
    return register_tensor_hook(self, hook)


def _reverse(fn):
    def method(self, other):
        return fn(other, self)
    method.__name__ = f"__r{fn.__name__}__"
    return method


def _method_not_available(name):
    def method(self, *args, **kwargs):
        raise TypeError(f"unsupported operand for {name}")
    return method


def _legacy_tensor_new(cls, *args, **kwargs):
    # ember.Tensor() is an empty float tensor, as torch.Tensor() is (pickling never calls
    # Tensor.__new__: tensors reduce to ember.core.pickling.rebuild_tensor)
    return _legacy_new(cls, *args, **kwargs)


_METHODS = {
    # creation / conversion
    "to": to, "cpu": cpu, "cuda": cuda, "float": float_, "double": double, "half": half,
    "bfloat16": bfloat16, "long": long, "int": int_, "short": short, "char": char, "byte": byte,
    "bool": bool_, "type_as": type_as, "type": type_, "clone": clone, "contiguous": contiguous,
    "is_contiguous": is_contiguous, "detach": detach, "detach_": detach_, "numpy": numpy, "item": item,
    "tolist": tolist, "new_tensor": new_tensor, "new_zeros": new_zeros, "new_ones": new_ones,
    "new_full": new_full, "new_empty": new_empty, "data": data, "__array__": __array__,
    "__dlpack__": __dlpack__, "__dlpack_device__": __dlpack_device__, "__float__": __float__,
    "__int__": __int__, "__index__": __index__, "pin_memory": pin_memory, "is_pinned": is_pinned,
    # autograd
    "backward": backward, "register_hook": register_hook, "retain_grad": retain_grad,
    # shape
    "view": view, "view_as": view_as, "reshape": _s.reshape, "reshape_as": reshape_as,
    "flatten": _s.flatten, "ravel": _s.ravel, "unflatten": _s.unflatten, "squeeze": _s.squeeze,
    "unsqueeze": _s.unsqueeze, "permute": _s.permute, "transpose": _s.transpose, "swapaxes": _s.swapaxes,
    "swapdims": _s.swapdims, "movedim": _s.movedim, "moveaxis": _s.moveaxis, "t": _s.t, "T": T, "mT": mT,
    "H": H, "mH": mH, "expand": expand, "expand_as": expand_as, "broadcast_to": _s.broadcast_to,
    "narrow": _s.narrow, "select": _s.select, "split": _s.split, "chunk": _s.chunk,
    "tensor_split": _s.tensor_split, "unbind": _s.unbind, "flip": _s.flip, "fliplr": _s.fliplr,
    "flipud": _s.flipud, "roll": _s.roll, "repeat": repeat, "tile": _s.tile,
    "repeat_interleave": _s.repeat_interleave, "tril": _s.tril, "triu": _s.triu, "diagonal": _s.diagonal,
    "diag": _s.diag, "diag_embed": _s.diag_embed,
    # indexing
    "__getitem__": getitem, "__setitem__": setitem, "gather": _i.gather, "scatter": _i.scatter,
    "scatter_add": _i.scatter_add, "scatter_reduce": _i.scatter_reduce, "index_select": _i.index_select,
    "index_add": _i.index_add, "index_copy": _i.index_copy, "index_fill": _i.index_fill,
    "index_put": _i.index_put, "index_put_": _i.index_put_, "masked_fill": _i.masked_fill,
    "masked_select": _i.masked_select, "masked_scatter": _i.masked_scatter, "take": _i.take,
    "take_along_dim": _i.take_along_dim, "nonzero": _i.nonzero, "argwhere": _i.argwhere, "sort": _i.sort,
    "argsort": _i.argsort, "msort": _i.msort, "topk": _i.topk, "kthvalue": _i.kthvalue,
    "median": _i.median, "unique": _i.unique, "unique_consecutive": _i.unique_consecutive,
    # linear algebra
    "matmul": _l.matmul, "mm": _l.mm, "bmm": _l.bmm, "mv": _l.mv, "dot": _l.dot, "vdot": _l.vdot,
    "inner": _l.inner, "outer": _l.outer, "ger": _l.ger, "addmm": _l.addmm, "addmv": _l.addmv,
    "baddbmm": _l.baddbmm, "addbmm": _l.addbmm,
    # reductions
    "sum": _r.sum, "nansum": _r.nansum, "prod": _r.prod, "mean": _r.mean, "nanmean": _r.nanmean,
    "amax": _r.amax, "amin": _r.amin, "aminmax": _r.aminmax, "max": _r.max, "min": _r.min,
    "argmax": _r.argmax, "argmin": _r.argmin, "all": _r.all, "any": _r.any,
    "count_nonzero": _r.count_nonzero, "var": _r.var, "std": _r.std, "norm": _r.norm, "dist": _r.dist,
    "logsumexp": _r.logsumexp, "cumsum": _r.cumsum, "cumprod": _r.cumprod, "softmax": _r.softmax,
    "log_softmax": _r.log_softmax,
    # random (in place)
    "uniform_": uniform_, "normal_": normal_, "bernoulli_": bernoulli_, "random_": random_,
    "exponential_": exponential_, "bernoulli": bernoulli,  # noqa: F405
    # in place
    "zero_": zero_, "fill_": fill_, "copy_": copy_,
}

_ELEMENTWISE_METHODS = """abs absolute neg negative sign sqrt rsqrt exp exp2 expm1 log log2 log10 log1p
    sin cos tan asin acos atan arcsin arccos arctan sinh cosh tanh sigmoid relu erf erfinv floor ceil
    trunc fix round frac reciprocal isnan isinf isfinite isposinf isneginf nan_to_num
    add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow float_power
    atan2 arctan2 maximum minimum fmax fmin clamp clip clamp_min clamp_max lerp addcmul addcdiv where
    eq ne lt le gt ge not_equal less less_equal greater greater_equal equal allclose isclose
    logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not
    bitwise_left_shift bitwise_right_shift""".split()
for _name in _ELEMENTWISE_METHODS:
    _METHODS[_name] = getattr(_e, _name)
_METHODS["where"] = lambda self, condition, other: _e.where(condition, self, other)  # x.where(cond, y)

_INPLACE = """abs neg sign sqrt rsqrt exp exp2 expm1 log log2 log10 log1p sin cos tan asin acos atan
    sinh cosh tanh sigmoid relu erf erfinv floor ceil trunc round frac reciprocal nan_to_num
    add sub mul div floor_divide remainder fmod pow atan2 clamp clip clamp_min clamp_max lerp
    logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor bitwise_not
    bitwise_left_shift bitwise_right_shift eq ne lt le gt ge masked_fill index_add index_copy index_fill scatter scatter_add scatter_reduce
    masked_scatter tril triu cumsum cumprod squeeze unsqueeze t transpose addcmul addcdiv""".split()
_VIEW_INPLACE = {"squeeze", "unsqueeze", "t", "transpose"}  # change metadata only


def _metadata_inplace(fn, name):
    def method(self, *args, **kwargs):
        result = fn(self, *args, **kwargs)
        self._data = result._data
        return self
    method.__name__ = name
    return method


for _name in _INPLACE:
    _fn = _METHODS[_name]
    _METHODS[_name + "_"] = (_metadata_inplace if _name in _VIEW_INPLACE else _inplace)(_fn, _name + "_")

_OPERATORS = {
    "__add__": _e.add, "__radd__": _reverse(_e.add), "__sub__": _e.sub, "__rsub__": _reverse(_e.sub),
    "__mul__": _e.mul, "__rmul__": _reverse(_e.mul), "__truediv__": _e.div,
    "__rtruediv__": _reverse(_e.div), "__floordiv__": _e.floor_divide,
    "__rfloordiv__": _reverse(_e.floor_divide), "__mod__": _e.remainder, "__rmod__": _reverse(_e.remainder),
    "__pow__": _e.pow, "__rpow__": _reverse(_e.pow), "__matmul__": _l.matmul,
    "__rmatmul__": _reverse(_l.matmul), "__neg__": _e.neg, "__pos__": lambda self: self,
    "__abs__": _e.abs, "__invert__": lambda self: _e.logical_not(self) if self.dtype is _dt.bool_
    else _e.bitwise_not(self),
    "__and__": _e.bitwise_and, "__rand__": _reverse(_e.bitwise_and), "__or__": _e.bitwise_or,
    "__ror__": _reverse(_e.bitwise_or), "__xor__": _e.bitwise_xor, "__rxor__": _reverse(_e.bitwise_xor),
    "__lshift__": _e.bitwise_left_shift, "__rshift__": _e.bitwise_right_shift,
    "__rlshift__": _reverse(_e.bitwise_left_shift), "__rrshift__": _reverse(_e.bitwise_right_shift),
    "__ilshift__": _METHODS["bitwise_left_shift_"], "__irshift__": _METHODS["bitwise_right_shift_"],
    "__eq__": _e.eq, "__ne__": _e.ne, "__lt__": _e.lt, "__le__": _e.le, "__gt__": _e.gt, "__ge__": _e.ge,
    "__iadd__": _METHODS["add_"], "__isub__": _METHODS["sub_"], "__imul__": _METHODS["mul_"],
    "__itruediv__": _METHODS["div_"], "__ifloordiv__": _METHODS["floor_divide_"],
    "__imod__": _METHODS["remainder_"], "__ipow__": _METHODS["pow_"], "__iand__": _METHODS["bitwise_and_"],
    "__ior__": _METHODS["bitwise_or_"], "__ixor__": _METHODS["bitwise_xor_"],
}

for _name, _fn in {**_METHODS, **_OPERATORS}.items():
    setattr(Tensor, _name, _fn)
Tensor.__new__ = staticmethod(_legacy_tensor_new)
from ember.core.pickling import tensor_deepcopy as _deepcopy, tensor_reduce_ex as _reduce_ex  # noqa: E402
Tensor.__reduce_ex__, Tensor.__deepcopy__ = _reduce_ex, _deepcopy
Tensor.__hash__ = lambda self: id(self)  # __eq__ is elementwise, identity hashing as in PyTorch
del _name, _fn

# ember.ops namespace helpers used by the derivative rules
from ember.ops.reduction import sum_to_shape  # noqa: E402,F401
from ember.ops.creation import zeros, zeros_like, eye  # noqa: E402,F401
from ember.core import derivatives as _derivatives  # noqa: E402,F401  (registers the backward rules)
