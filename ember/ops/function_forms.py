"""PyTorch's ``torch.*`` forms of Tensor methods (``torch.abs_(x)``, ``torch.detach(x)``) and
thin compositions of existing ops: the split/stack helpers (``hsplit``, ``dstack``,
``column_stack``, ...), the ``*_scatter`` functions (a copy of the input with one view of it
replaced), the ``*_copy`` functions (a view op's result as a new tensor) and ``torch``'s
constants. Every name runs and differentiates wherever the ops it is made of do.

A name some other module already registers is left to that module (``_register`` skips it),
so this file never makes a second definition of a public name.
"""
from __future__ import annotations

import math
import numbers

from ember.core.tensor import Tensor
from ember.ops import creation as _creation, grids as _grids, shape as _shape
from ember.ops.public import FUNCTIONS, METHODS, public


def _register(fn, *, method=False, out=False, aliases=()):
    names = (fn.__name__, *aliases)
    if any(n in FUNCTIONS or (method and n in METHODS) for n in names):
        return fn
    return public(fn, method=method, out=out, aliases=aliases)


# ---------------------------------------------------------------- torch.<method>(tensor, ...)
# torch.X(t, ...) is t.X(...) for these (PyTorch's function and method forms are one op)
_METHOD_FORMS = (
    "abs_ acos_ acosh_ addmv_ arccos_ arccosh_ arcsin_ arcsinh_ arctan_ arctanh_ asin_ asinh_ atan_ "
    "atanh_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ cos_ cosh_ deg2rad_ detach detach_ erf_ erfc_ exp2_ "
    "exp_ expm1_ fill_ fix_ floor_ frac_ gcd_ get_device i0_ index_put_ is_signed lcm_ ldexp_ log10_ "
    "log1p_ log2_ log_ logit_ nan_to_num_ neg_ negative_ rad2deg_ reciprocal_ relu_ round_ rsqrt_ "
    "sigmoid_ sin_ sinc_ sinh_ sqrt_ square_ tan_ tanh_ trunc_ xlogy_ zero_").split()


def _method_form(name):
    def function(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"``ember.{name}(input, ...)``: the function form of ``Tensor.{name}``.\n\n"
                        f"Args:\n    input: the tensor (written in place where the method does).\n"
                        f"    *args, **kwargs: the method's arguments.\n\n"
                        f"Returns:\n    What ``input.{name}(...)`` returns.\n")
    return function


for _name in _METHOD_FORMS:  # Tensor's in-place methods are bound after this import: looked up per call
    if _name not in FUNCTIONS:
        public(_method_form(_name), function=True)


# ---------------------------------------------------------------- queries
def is_nonzero(input) -> bool:
    """Whether a one-element tensor's value is nonzero (``bool(input)``, for exactly one value).

    Args:
        input: a tensor with exactly one element.

    Returns:
        ``True`` if the value is not zero.

    Raises:
        RuntimeError: if ``input`` has no element or more than one.
    """
    n = input.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input.item())


def is_same_size(input, other) -> bool:
    """Whether two tensors have the same shape.

    Args:
        input: a tensor.
        other: another tensor.

    Returns:
        ``True`` if their shapes are equal.
    """
    return tuple(input.shape) == tuple(other.shape)


_register(is_nonzero, method=True)
_register(is_same_size, method=True)


# ---------------------------------------------------------------- splitting and stacking
def _split_along(input, indices_or_sections, dim, what, min_dim):
    if input.dim() < min_dim:
        raise RuntimeError(f"torch.{what} requires a tensor with at least {min_dim} dimension, but got a tensor "
                           f"with {input.dim()} dimensions!")
    if isinstance(indices_or_sections, numbers.Integral) and not isinstance(indices_or_sections, bool):
        size = input.shape[dim]
        if indices_or_sections == 0 or size % indices_or_sections:
            raise RuntimeError(f"torch.{what} attempted to split along dimension {dim}, but the size of the "
                               f"dimension {size} is not divisible by the split_size {indices_or_sections}!")
    return _shape.tensor_split(input, indices_or_sections, dim)


def hsplit(input, indices_or_sections):
    """Split ``input`` column-wise (dimension 1; dimension 0 for a 1-d tensor), as numpy.hsplit.

    Args:
        input: a tensor of at least 1 dimension.
        indices_or_sections: a number of equal parts (it must divide the size), or the
            indices to split before.

    Returns:
        A tuple of views of ``input``.

    Raises:
        RuntimeError: for a 0-d tensor, or a number of parts that does not divide the size.
    """
    return _split_along(input, indices_or_sections, 1 if input.dim() > 1 else 0, "hsplit", 1)


def vsplit(input, indices_or_sections):
    """Split ``input`` row-wise (dimension 0), as numpy.vsplit.

    Args:
        input: a tensor of at least 2 dimensions.
        indices_or_sections: a number of equal parts, or the indices to split before.

    Returns:
        A tuple of views of ``input``.

    Raises:
        RuntimeError: for fewer than 2 dimensions, or a number of parts that does not divide the size.
    """
    return _split_along(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input, indices_or_sections):
    """Split ``input`` depth-wise (dimension 2), as numpy.dsplit.

    Args:
        input: a tensor of at least 3 dimensions.
        indices_or_sections: a number of equal parts, or the indices to split before.

    Returns:
        A tuple of views of ``input``.

    Raises:
        RuntimeError: for fewer than 3 dimensions, or a number of parts that does not divide the size.
    """
    return _split_along(input, indices_or_sections, 2, "dsplit", 3)


def split_with_sizes(input, split_sizes, dim=0):
    """Split ``input`` along ``dim`` into parts of the given sizes, which must add up to its size.

    Args:
        input: the tensor.
        split_sizes: the sizes of the parts.
        dim: the dimension to split.

    Returns:
        A tuple of views of ``input``.

    Raises:
        RuntimeError: if the sizes do not sum to ``input.shape[dim]``.
    """
    dim = dim + input.dim() if dim < 0 else dim
    sizes = [int(s) for s in split_sizes]
    if sum(sizes) != input.shape[dim]:
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {input.shape[dim]} (input "
                           f"tensor's size at dimension {dim}), but got split_sizes={sizes}")
    return _shape.split(input, sizes, dim)


def unsafe_split(input, split_size, dim=0):
    """``split`` without PyTorch's view-aliasing checks (identical results in ember).

    Args:
        input: the tensor.
        split_size: the size of each part (the last may be smaller): an int.
        dim: the dimension to split.

    Returns:
        A tuple of tensors.

    Raises:
        TypeError: if ``split_size`` is not an int (sizes go to ``unsafe_split_with_sizes``).
    """
    if not isinstance(split_size, numbers.Integral) or isinstance(split_size, bool):
        raise TypeError(f"unsafe_split(): argument 'split_size' (position 2) must be int, not "
                        f"{type(split_size).__name__}")
    return _shape.split(input, split_size, dim)


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    """``split_with_sizes`` without PyTorch's view-aliasing checks (identical results in ember).

    Args:
        input: the tensor.
        split_sizes: the sizes of the parts, summing to ``input.shape[dim]``.
        dim: the dimension to split.

    Returns:
        A tuple of tensors.
    """
    return split_with_sizes(input, split_sizes, dim)


def unsafe_chunk(input, chunks, dim=0):
    """``chunk`` without PyTorch's view-aliasing checks (identical results in ember).

    Args:
        input: the tensor.
        chunks: the number of parts.
        dim: the dimension to split.

    Returns:
        A tuple of tensors.
    """
    return _shape.chunk(input, chunks, dim)


for _fn in (hsplit, vsplit, dsplit, split_with_sizes, unsafe_split, unsafe_split_with_sizes, unsafe_chunk):
    _register(_fn, method=True)


def column_stack(tensors):
    """Stack tensors as columns: 0-d and 1-d tensors become ``(n, 1)`` columns, then ``hstack``.

    Args:
        tensors: a sequence of tensors with equal first dimensions (after that reshape).

    Returns:
        A 2-d (or higher) tensor.
    """
    columns = [t.reshape(t.numel(), 1) if t.dim() <= 1 else t for t in tensors]
    return _shape.hstack(columns)


def dstack(tensors):
    """Stack tensors depth-wise (along dimension 2, after ``atleast_3d``), as numpy.dstack.

    Args:
        tensors: a sequence of tensors.

    Returns:
        A tensor of at least 3 dimensions.
    """
    return _shape.cat([_grids.atleast_3d(t) for t in tensors], 2)


def row_stack(tensors):
    """Stack tensors row-wise: another name of ``vstack``.

    Args:
        tensors: a sequence of tensors.

    Returns:
        A tensor of at least 2 dimensions.
    """
    return _shape.vstack(tensors)


for _fn in (column_stack, dstack, row_stack):
    _register(_fn, out=True)


def diagflat(input, offset=0):
    """A 2-d tensor with the flattened ``input`` on its ``offset``-th diagonal, zeros elsewhere.

    Args:
        input: a tensor (of any shape; it is flattened).
        offset: the diagonal: 0 the main one, positive above it, negative below.

    Returns:
        A square tensor of side ``input.numel() + abs(offset)``.
    """
    return _shape.diag(input.reshape(-1), offset)


_register(diagflat, method=True, out=True)


# ---------------------------------------------------------------- *_scatter: a view replaced
def _scatter_into(input, src, view_of):
    out = _creation.clone(input)
    view = view_of(out)
    if tuple(src.shape) != tuple(view.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(src.shape)}, "
                           f"slice size = {list(view.shape)}")
    view.copy_(src)
    return out


def select_scatter(input, src, dim, index):
    """A copy of ``input`` with ``input.select(dim, index)`` replaced by ``src``.

    Args:
        input: the tensor.
        src: the values, of the selected slice's shape (cast to ``input``'s dtype).
        dim: the dimension to index.
        index: the position along it.

    Returns:
        A new tensor (``input`` is unchanged); differentiable in both ``input`` and ``src``.

    Raises:
        RuntimeError: if ``src``'s shape is not the slice's.
    """
    return _scatter_into(input, src, lambda t: t.select(dim, index))


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """A copy of ``input`` with the slice ``start:end:step`` of dimension ``dim`` replaced by ``src``.

    Args:
        input: the tensor.
        src: the values, of the slice's shape.
        dim: the sliced dimension.
        start, end, step: the slice (``None``: the whole dimension).

    Returns:
        A new tensor; differentiable in both ``input`` and ``src``.

    Raises:
        RuntimeError: if ``src``'s shape is not the slice's.
    """
    def view_of(t):
        index = [slice(None)] * t.dim()
        index[dim] = slice(start, end, step)
        return t[tuple(index)]
    return _scatter_into(input, src, view_of)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """A copy of ``input`` with the diagonal ``input.diagonal(offset, dim1, dim2)`` replaced by ``src``.

    Args:
        input: a tensor of at least 2 dimensions.
        src: the values, of the diagonal's shape.
        offset, dim1, dim2: the diagonal, as for ``diagonal``.

    Returns:
        A new tensor; differentiable in both ``input`` and ``src``.

    Raises:
        RuntimeError: if ``src``'s shape is not the diagonal's.
    """
    return _scatter_into(input, src, lambda t: t.diagonal(offset, dim1, dim2))


for _fn in (select_scatter, slice_scatter, diagonal_scatter):
    _register(_fn, method=True, out=True)


# ---------------------------------------------------------------- *_copy: a view, as a new tensor
def _copy_form(name, view, doc_args):
    def function(input, *args, **kwargs):
        result = view(input, *args, **kwargs)
        if isinstance(result, (tuple, list)):
            return tuple(r.clone() for r in result)
        return result.clone()
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"``{name[:-len('_copy')]}`` as a new tensor: the result owns its memory (no view "
                        f"of ``input``).\n\nArgs:\n    input: the tensor.\n"
                        f"    {doc_args}\n\nReturns:\n    A new tensor (a tuple of them for a split).\n")
    return function


def _slice_view(input, dim=0, start=None, end=None, step=1):
    index = [slice(None)] * input.dim()
    index[dim] = slice(start, end, step)
    return input[tuple(index)]


_COPIES = {
    # name: (the view, its arguments after input)
    "alias_copy": (lambda t: t.view_as(t), "(no other arguments)"),
    "detach_copy": (lambda t: t.detach(), "(no other arguments)"),
    "diagonal_copy": (lambda t, offset=0, dim1=0, dim2=1: t.diagonal(offset, dim1, dim2), "offset, dim1, dim2: as for diagonal."),
    "expand_copy": (lambda t, size, *, implicit=False: t.expand(*size), "size: the expanded shape; implicit: unused, as in PyTorch."),
    "narrow_copy": (lambda t, dim, start, length: t.narrow(dim, start, length), "dim, start, length: as for narrow."),
    "permute_copy": (lambda t, dims: t.permute(*dims), "dims: the new order of the dimensions."),
    "select_copy": (lambda t, dim, index: t.select(dim, index), "dim, index: as for select."),
    "slice_copy": (_slice_view, "dim, start, end, step: the slice."),
    "split_copy": (lambda t, split_size, dim=0: t.split(split_size, dim), "split_size, dim: as for split."),
    "split_with_sizes_copy": (lambda t, split_sizes, dim=0: split_with_sizes(t, split_sizes, dim), "split_sizes, dim: as for split_with_sizes."),
    "squeeze_copy": (lambda t, dim=None: t.squeeze() if dim is None else t.squeeze(dim), "dim: the dimension(s) to drop (default: every size-1 one)."),
    "t_copy": (lambda t: t.t(), "(no other arguments)"),
    "transpose_copy": (lambda t, dim0, dim1: t.transpose(dim0, dim1), "dim0, dim1: the dimensions to swap."),
    "unbind_copy": (lambda t, dim=0: t.unbind(dim), "dim: the dimension to remove."),
    "unsqueeze_copy": (lambda t, dim: t.unsqueeze(dim), "dim: where to insert the size-1 dimension."),
    "view_copy": (lambda t, *shape_or_dtype: t.view(*shape_or_dtype), "size or dtype: as for Tensor.view."),
    "view_as_real_copy": (lambda t: _complex_view("view_as_real")(t), "(no other arguments)"),
    "view_as_complex_copy": (lambda t: _complex_view("view_as_complex")(t), "(no other arguments)"),
}


def _complex_view(name):
    import importlib  # ember.ops.complex, not the ember.complex function that shadows it on ember.ops
    return getattr(importlib.import_module("ember.ops.complex"), name)


for _name, (_view, _args) in _COPIES.items():
    if _name not in FUNCTIONS:
        public(_copy_form(_name, _view, _args), out=_name not in ("split_copy", "split_with_sizes_copy", "unbind_copy"))


def _narrow_copy_method(input, dim, start, length):
    """``narrow`` as a new tensor (no view of ``input``).

    Args:
        input: the tensor.
        dim, start, length: as for ``narrow``.

    Returns:
        A new tensor.
    """
    return input.narrow(dim, start, length).clone()


if "narrow_copy" not in METHODS:
    public(_narrow_copy_method, name="narrow_copy", function=False, method=True)


# ---------------------------------------------------------------- constants
for _name, _value in (("e", math.e), ("pi", math.pi), ("inf", math.inf), ("nan", math.nan)):
    FUNCTIONS.setdefault(_name, _value)


# ---------------------------------------------------------------- channel shuffle
def channel_shuffle(input, groups):
    """Interleave the channels of ``input`` (N, C, *) across ``groups`` groups (ShuffleNet):
    channel ``g * (C // groups) + k`` moves to position ``k * groups + g``.

    Args:
        input: a tensor of at least 3 dimensions.
        groups: the number of groups; it must divide the channels.

    Returns:
        A tensor of ``input``'s shape.

    Raises:
        RuntimeError: for fewer than 3 dimensions, ``groups`` not positive, or channels not divisible.
    """
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    return input.reshape(n, groups, c // groups, *rest).transpose(1, 2).reshape(input.shape)


_register(channel_shuffle)
if "native_channel_shuffle" not in FUNCTIONS:  # PyTorch's name for the same op without a backend choice
    public(channel_shuffle, name="native_channel_shuffle")
