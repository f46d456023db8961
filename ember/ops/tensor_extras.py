"""Tensor methods and ``torch.*`` functions PyTorch has that are thin compositions of ember's
ops: the legacy ``Tensor.new``, ``sum_to_size``, ``fill_diagonal_``, ``index_reduce``,
``put``, the Python-callable ``apply_``/``map_``/``map2_`` (CPU, as in PyTorch), the random
fills ``cauchy_``/``log_normal_``/``geometric_``, the device and kind queries (``is_mps``,
``is_meta``, ...), and ``fill``, ``scalar_tensor``, ``range``, ``typename``.

A name another module already defines is left to it (``_register`` skips it).
"""
from __future__ import annotations

import math
import numbers
import warnings

from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.tensor import Size, Tensor
from ember.ops import creation as _creation
from ember.ops.public import FUNCTIONS, INPLACE, METHODS, public


def _taken(name, method):
    return name in FUNCTIONS if not method else (name in METHODS or name in vars(Tensor)
                                                  or name.endswith("_") and name[:-1] in INPLACE)


def _register(fn, *, name=None, function=True, method=False, inplace=False, out=False):
    name = name or fn.__name__
    if (function and _taken(name, False)) or (method and _taken(name, True)):
        return fn
    return public(fn, name=name, function=function, method=method, inplace=inplace, out=out)


# ---------------------------------------------------------------- legacy constructor
def new(self, *args, device=None):
    """The legacy constructor: a tensor of ``self``'s dtype (and device, unless given).

    ``t.new(2, 3)`` or ``t.new(ember.Size([2, 3]))`` is an uninitialised (here: zero) tensor of that
    shape; ``t.new(data)`` (a list, tuple or tensor) is a tensor of the data; ``t.new()`` is empty.

    Args:
        *args: sizes, a ``Size``, or one data object.
        device: the device (default: ``self``'s).

    Returns:
        A new tensor of ``self.dtype``.

    Raises:
        TypeError: if a data tensor's dtype is not ``self``'s (PyTorch does not convert it).
    """
    device = self.device if device is None else device
    if args and all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
        return _creation.zeros(*args, dtype=self.dtype, device=device)
    if len(args) == 1 and isinstance(args[0], Size):
        return _creation.zeros(*args[0], dtype=self.dtype, device=device)
    if not args:
        return _creation.zeros(0, dtype=self.dtype, device=device)
    if len(args) == 1:
        data = args[0]
        if isinstance(data, Tensor):
            if data.dtype is not self.dtype:
                raise TypeError(f"new(): expected a tensor of dtype {self.dtype} (got {data.dtype})")
            return data.detach().to(device)
        return _creation.tensor(data, dtype=self.dtype, device=device)
    raise TypeError(f"new() received an invalid combination of arguments - got {args}")


_register(new, function=False, method=True)


# ---------------------------------------------------------------- shape helpers
def sum_to_size(self, *size):
    """Sum ``self`` down to ``size``, which it must broadcast from (the reverse of ``expand``).

    Args:
        *size: the target shape (ints or one sequence).

    Returns:
        A tensor of shape ``size``.

    Raises:
        RuntimeError: if ``size`` is not expandable to ``self``'s shape.
    """
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    shape = tuple(self.shape)
    lead = len(shape) - len(size)
    if lead < 0 or any(s != 1 and s != shape[lead + i] for i, s in enumerate(size)):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    out = self
    if lead:
        out = out.sum(dim=tuple(range(lead)))
    dims = tuple(i for i, s in enumerate(size) if s == 1 and out.shape[i] != 1)
    if dims:
        out = out.sum(dim=dims, keepdim=True)
    return out


_register(sum_to_size, function=False, method=True)


def fill_diagonal_(self, fill_value, wrap=False):
    """Write ``fill_value`` on the main diagonal of ``self`` (every index equal), in place.

    Args:
        fill_value: the value.
        wrap: for a tall 2-d matrix, restart the diagonal every ``columns + 1`` rows, as numpy does.

    Returns:
        ``self``.

    Raises:
        RuntimeError: for fewer than 2 dimensions, or more than 2 of unequal sizes.
    """
    shape = tuple(self.shape)
    if len(shape) < 2:
        raise RuntimeError("dimensions must larger than 1")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    numel = self.numel()
    if len(shape) == 2:
        rows, cols = shape
        step = cols + 1
        stop = numel if wrap else min(rows, cols) * cols
    else:
        step = sum(math.prod(shape[i + 1:]) for i in range(len(shape)))
        stop = numel
    positions = _creation.arange(0, stop, step, device=self.device)
    flat = self.view(-1)
    flat.index_put_((positions,), _creation.full((positions.numel(),), fill_value, dtype=self.dtype,
                                                   device=self.device))
    return self


_register(fill_diagonal_, function=False, method=True)


# ---------------------------------------------------------------- index_reduce, put
_INDEX_REDUCE = ("prod", "mean", "amax", "amin")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """Reduce ``source``'s slices into ``input``'s slices at ``index`` along ``dim``, out of place.

    ``out.select(dim, index[i])`` is reduced (``reduce``) with ``source.select(dim, i)``.

    Args:
        input: the tensor reduced into.
        dim: the dimension indexed.
        index: a 1-d integer tensor, one entry per slice of ``source`` along ``dim``.
        source: the values.
        reduce: ``"prod"``, ``"mean"``, ``"amax"`` or ``"amin"``.
        include_self: whether ``input``'s own values take part (``False``: the indexed slices
            are only the reduction of the ``source`` slices sent there).

    Returns:
        A new tensor; differentiable as ``scatter_reduce``.

    Raises:
        RuntimeError: for another ``reduce``.
    """
    if reduce not in _INDEX_REDUCE:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    dim = dim + source.dim() if dim < 0 else dim
    shape = [1] * source.dim()
    shape[dim] = index.numel()
    expanded = index.reshape(shape).expand(*source.shape)
    return input.scatter_reduce(dim, expanded, source, reduce, include_self=include_self)


_register(index_reduce, method=True, inplace=True)


def put(input, index, source, accumulate=False):
    """``input`` as if flattened, with the positions ``index`` set to (or increased by) ``source``.

    Args:
        input: the tensor.
        index: integer positions into ``input.view(-1)`` (negative count from the end).
        source: the values, as many as ``index`` has.
        accumulate: add into the positions instead of overwriting them.

    Returns:
        A new tensor of ``input``'s shape.
    """
    flat = _creation.clone(input).reshape(-1)
    flat = flat.index_put((index.reshape(-1),), source.reshape(-1), accumulate=accumulate)
    return flat.reshape(input.shape)


_register(put, method=True, inplace=True)


# ---------------------------------------------------------------- Python callables (CPU)
def _host_values(t, what):
    if t.device.type != "cpu":
        raise TypeError(f"{what} is only implemented on CPU tensors")
    return t.reshape(-1).tolist()


def _write_values(self, values):
    with no_grad():
        self.copy_(_creation.tensor(values, dtype=self.dtype).reshape(self.shape))
    return self


def apply_(self, callable):
    """Replace each element ``x`` of ``self`` with ``callable(x)``, in place (CPU tensors; slow).

    Args:
        callable: a Python function of one number.

    Returns:
        ``self``.

    Raises:
        TypeError: for a tensor not on the CPU.
    """
    return _write_values(self, [callable(v) for v in _host_values(self, "apply_")])


def map_(self, tensor, callable):
    """Replace each ``x`` of ``self`` with ``callable(x, y)``, ``y`` the element of ``tensor``
    (broadcast to ``self``'s shape) at the same position, in place (CPU tensors).

    Args:
        tensor: a tensor broadcastable to ``self``.
        callable: a Python function of two numbers.

    Returns:
        ``self``.
    """
    others = _host_values(tensor.expand(*self.shape), "map_")
    return _write_values(self, [callable(a, b) for a, b in zip(_host_values(self, "map_"), others)])


def map2_(self, x, y, callable):
    """``map_`` with two tensors: each element becomes ``callable(self_i, x_i, y_i)`` (CPU tensors).

    Args:
        x: a tensor broadcastable to ``self``.
        y: another one.
        callable: a Python function of three numbers.

    Returns:
        ``self``.
    """
    xs = _host_values(x.expand(*self.shape), "map2_")
    ys = _host_values(y.expand(*self.shape), "map2_")
    return _write_values(self, [callable(a, b, c) for a, b, c in zip(_host_values(self, "map2_"), xs, ys)])


for _fn in (apply_, map_, map2_):
    _register(_fn, function=False, method=True)


# ---------------------------------------------------------------- random fills
def _uniform_like(self, generator):
    from ember.ops.random import rand
    kind = self.dtype if self.dtype.is_floating_point else dt.get_default_dtype()
    return rand(*self.shape, dtype=kind, device=self.device, generator=generator)


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    """Fill ``self`` with samples of the Cauchy distribution, in place.

    Args:
        median: the location.
        sigma: the scale (positive).
        generator: the generator to draw from (default: ``ember.default_generator``).

    Returns:
        ``self``.
    """
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    u = _uniform_like(self, generator)
    with no_grad():
        return self.copy_(median + sigma * ((u - 0.5) * math.pi).tan())


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    """Fill ``self`` with samples ``exp(N(mean, std**2))`` of the log-normal distribution, in place.

    Args:
        mean: the mean of the underlying normal distribution.
        std: its standard deviation (positive).
        generator: the generator to draw from.

    Returns:
        ``self``.
    """
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    from ember.ops.random import randn
    z = randn(*self.shape, dtype=self.dtype, device=self.device, generator=generator)
    with no_grad():
        return self.copy_((z * std + mean).exp())


def geometric_(self, p, *, generator=None):
    """Fill ``self`` with samples of the geometric distribution: the number of Bernoulli(``p``)
    trials up to and including the first success (1, 2, ...), in place.

    Args:
        p: the success probability, in (0, 1).
        generator: the generator to draw from.

    Returns:
        ``self``.
    """
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    u = _uniform_like(self, generator)
    # inverse CDF on 1 - u in (0, 1]; at least one trial
    trials = ((1 - u).log() / math.log1p(-p)).ceil().clamp(min=1)
    with no_grad():
        return self.copy_(trials)


for _fn in (cauchy_, log_normal_, geometric_):
    _register(_fn, function=False, method=True)


def float_power_(self, exponent):
    """``self ** exponent`` computed in double precision, written into ``self``, which must
    already be ``float64`` (or ``complex128`` for a complex result), as in PyTorch.

    Args:
        exponent: a number or tensor.

    Returns:
        ``self``.

    Raises:
        RuntimeError: if the double-precision result cannot be stored in ``self``'s dtype.
    """
    from ember.ops.out import _title
    result = self.float_power(exponent)
    if result.dtype is not self.dtype:
        raise RuntimeError(f"the base given to float_power_ has dtype {_title(self.dtype)} but the operation's "
                           f"result requires dtype {_title(result.dtype)}")
    return self.copy_(result)


_register(float_power_, function=False, method=True)


# ---------------------------------------------------------------- dtype conversions, queries
def cfloat(self):
    """``self`` as ``complex64`` (``self.to(ember.complex64)``).

    Returns:
        A tensor (``self`` if it already is ``complex64``).
    """
    return self.to(dt.complex64)


def cdouble(self):
    """``self`` as ``complex128`` (``self.to(ember.complex128)``).

    Returns:
        A tensor (``self`` if it already is ``complex128``).
    """
    return self.to(dt.complex128)


for _fn in (cfloat, cdouble):
    _register(_fn, function=False, method=True)


def _device_query(kind):
    def query(self):
        return self.device.type == kind
    query.__name__ = query.__qualname__ = f"is_{kind}"
    query.__doc__ = f"Whether the tensor is on a ``{kind}`` device."
    return property(query)


for _kind in ("meta", "mps", "xpu", "ipu", "maia", "mtia", "vulkan", "xla", "hpu"):
    if not _taken(f"is_{_kind}", True):
        public(_device_query(_kind), name=f"is_{_kind}", function=False, method=True)


def _never(name, doc):
    def query(self):
        return False
    query.__name__ = query.__qualname__ = name
    query.__doc__ = doc
    return property(query)


for _name, _doc in (("is_quantized", "Whether the tensor is quantized: never, ember has no quantized dtypes."),
                    ("is_mkldnn", "Whether the tensor is in oneDNN's blocked layout: never, ember has no such layout."),
                    ("is_nested", "Whether the tensor is a nested (jagged) tensor: never, ember has none.")):
    if not _taken(_name, True):
        public(_never(_name, _doc), name=_name, function=False, method=True)


def dim_order(self, *, ambiguity_check=False):
    """The dimensions from outermost to innermost in memory (by decreasing stride).

    Args:
        ambiguity_check: raise if two dimensions could be ordered either way (equal strides
            and sizes above 1 ... as PyTorch: a size-1 dimension or equal strides).

    Returns:
        A tuple of dimension indices (``(0, 1, ..., n-1)`` for a contiguous tensor).

    Raises:
        RuntimeError: with ``ambiguity_check``, if the order is ambiguous.
    """
    strides = self.stride()
    order = tuple(sorted(range(self.dim()), key=lambda d: -strides[d]))
    if ambiguity_check:
        if any(s == 1 for s in self.shape) or len(set(strides)) != len(strides):
            raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact one of the "
                               "given memory formats.")
    return order


def const_data_ptr(self):
    """The address of the tensor's first element, for reading (``data_ptr``).

    Returns:
        An int.
    """
    return self.data_ptr()


for _fn in (dim_order, const_data_ptr):
    _register(_fn, function=False, method=True)


# ---------------------------------------------------------------- torch.* functions
def fill(input, value):
    """A new tensor of ``input``'s shape, dtype and device, every element ``value``.

    Args:
        input: the tensor giving the shape.
        value: a number or a 0-d tensor.

    Returns:
        A new tensor (``input`` is unchanged).
    """
    return _creation.clone(input).fill_(value)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    """A 0-d tensor holding the number ``s``, of the default float dtype unless ``dtype`` is given.

    Args:
        s: the number.
        dtype: the dtype (default: ``ember.get_default_dtype()``, even for an int).
        layout, pin_memory: accepted for PyTorch's signature (strided; no pinned memory in ember).
        device: the device.
        requires_grad: whether the result records operations.

    Returns:
        A 0-d tensor.
    """
    out = _creation.tensor(s, dtype=dtype or dt.get_default_dtype(), device=device)
    return out.requires_grad_() if requires_grad else out


def _range(start=0, end=None, step=1, *, dtype=None, layout=None, device=None, requires_grad=False):
    """Deprecated (as in PyTorch): the values ``start, start + step, ...`` up to and *including* ``end``.

    Args:
        start: the first value (the only argument: ``range(end)`` is not allowed, ``end`` is required).
        end: the last value (included when it is on the grid).
        step: the spacing.
        dtype: the dtype (default: ``ember.get_default_dtype()``).
        layout: accepted for PyTorch's signature.
        device: the device.
        requires_grad: whether the result records operations.

    Returns:
        A 1-d tensor of ``floor((end - start) / step) + 1`` values.
    """
    warnings.warn("torch.range is deprecated and will be removed in a future release because its behavior is "
                  "inconsistent with Python's range builtin. Instead, use torch.arange, which produces values in "
                  "[start, end).", UserWarning, stacklevel=2)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    count = int(math.floor((end - start) / step)) + 1
    if count < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    out = _creation.arange(count, dtype=dtype or dt.get_default_dtype(), device=device) * step + start
    return out.requires_grad_() if requires_grad else out


def typename(obj) -> str:
    """The name of ``obj``'s type: ``obj.type()`` for a tensor, else the qualified name of the
    class (of ``obj`` itself when it is a class or function), without a ``builtins.`` prefix.

    Args:
        obj: any object.

    Returns:
        A string.
    """
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(qualname, str):  # an instance: its class names it
        module, qualname = type(obj).__module__ or "", type(obj).__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def is_vulkan_available() -> bool:
    """Whether a Vulkan backend is available: never in ember (it has no Vulkan plugin).

    Returns:
        ``False``.
    """
    return False


for _fn in (fill, scalar_tensor, typename, is_vulkan_available):
    _register(_fn)
_register(_range, name="range")  # not "def range": this module's own code uses the builtin
