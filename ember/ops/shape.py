"""Shape ops. Views (view, permute, expand, basic indexing, diagonal) share memory
with their input; everything else here is written over them or copies."""
from __future__ import annotations

from ember.core import dtype as dt
from ember.dispatch.public_op import dispatch_point
from ember.core.call import backend_of, call, cast
from ember.core.views import check_viewable
from ember.core.tensor import Size, Tensor
from ember.dispatch.meta import broadcast_shapes as _broadcast_shapes, infer_size, normalize_dim
from ember.dispatch.ops import OPS
from ember.ops.creation import as_shape, full
from ember.ops.out import _title
from ember.ops.promotion import result_type
from ember.ops.public import public

_VIEW, _PERMUTE, _EXPAND, _BASIC_INDEX = OPS["view"], OPS["permute"], OPS["expand"], OPS["basic_index"]


@public(function=False, method=True)
def view(self, *shape):
    """A view of the tensor with a new shape and the same elements, in row-major order; or, given a
    dtype, the same bytes read as that dtype (the last dim scales by the ratio of the element sizes).

    Args:
        *shape: the new shape, as ints or one tuple/list/``ember.Size``; one entry may be ``-1`` and is then
            inferred from the number of elements.

    Returns:
        A view sharing this tensor's memory.

    Raises:
        RuntimeError: if the shape does not hold the same number of elements, or the tensor's strides cannot
            express the new shape without copying (use ``reshape`` then); for ``view(dtype)`` of another
            element size, PyTorch's conditions (last dim contiguous, sizes, strides and offset divisible).
    """
    if len(shape) == 1 and isinstance(shape[0], dt.dtype):
        return _view_as_dtype(self, shape[0])
    shape = infer_size(as_shape(shape), self.numel())
    if self._base is not None and not backend_of(self.device.type).aliasing_views:
        check_viewable(self, shape)  # mps: refuse what the strides would refuse, as PyTorch does
    return call(_VIEW, self, shape=shape)


_SCALAR_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
                      "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                      "bool": "Bool", "complex64": "ComplexFloat", "complex128": "ComplexDouble",
                      **{d.name: dt._CPP_NAMES[d] for d in dt.LIMITED_DTYPES}}


def _view_as_dtype(x, dtype):
    """``x.view(dtype)``: the same bytes read as ``dtype``, with PyTorch's conditions when the
    element sizes differ (the last dim contiguous, the sizes, strides and offset divisible)."""
    old, new = x.dtype.itemsize, dtype.itemsize
    if old != new:
        names = _SCALAR_TYPE_NAMES
        what = f"to view {names[x.dtype.name]} as {names[dtype.name]} (different element sizes)"
        if x.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 {what}")
        strides = x.stride()
        if strides[-1] != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {strides[-1]}")
        if new > old:
            ratio = new // old
            if x.shape[-1] % ratio:
                raise RuntimeError(f"self.size(-1) must be divisible by {ratio} {what}, but got {x.shape[-1]}")
            from ember.ops.memory import storage_offset
            if storage_offset(x) % ratio:
                raise RuntimeError(f"self.storage_offset() must be divisible by {ratio} {what}, but got "
                                   f"{storage_offset(x)}")
            for d, st in enumerate(strides[:-1]):
                if st % ratio:
                    raise RuntimeError(f"self.stride({d}) must be divisible by {ratio} {what}, but got {st}")
    from ember.core.autograd import no_grad
    with no_grad():  # as in PyTorch, view(dtype) is not differentiable (view_as_real is: ember/ops/complex.py)
        return call(OPS["view_dtype"], x, dtype=dtype)


@public(function=False, method=True)
def view_as(self, other):
    """A view of the tensor with the shape of ``other``; same as ``self.view(other.shape)``.

    Args:
        other: the tensor whose shape is taken.

    Returns:
        A view sharing this tensor's memory.
    """
    return view(self, other.shape)


@public(method=True)
def reshape(input, *shape):
    """``input``'s elements, in row-major order, arranged in a new shape.

    Args:
        input: the tensor.
        *shape: the new shape, as ints or one tuple/list/``ember.Size``; one entry may be ``-1`` and is then
            inferred from the number of elements.

    Returns:
        A view sharing ``input``'s memory when its strides allow it, otherwise a copy. Do not rely on
        either: use ``view`` when a view is required, ``clone`` when a copy is.

    Raises:
        RuntimeError: if the shape does not hold ``input.numel()`` elements.
    """
    shape = infer_size(as_shape(shape), input.numel())
    try:
        return call(_VIEW, input, shape=shape)
    except RuntimeError:  # not expressible as a view of this layout (contiguity may be unknown): copy first
        return call(_VIEW, call(OPS["clone"], input), shape=shape)


@public(function=False, method=True)
def reshape_as(self, other):
    """The tensor reshaped to ``other``'s shape; same as ``self.reshape(other.shape)``.

    Args:
        other: the tensor whose shape is taken.

    Returns:
        A view when possible, otherwise a copy (see ``reshape``).
    """
    return reshape(self, other.shape)


@public(method=True)
def flatten(input, start_dim=0, end_dim=-1):
    """``input`` with the dimensions ``start_dim`` to ``end_dim`` (both included) merged into one.

    Args:
        input: the tensor.
        start_dim: the first dimension to merge (default 0).
        end_dim: the last dimension to merge (default -1, the last one).

    Returns:
        A tensor of ``input.ndim - (end_dim - start_dim)`` dimensions (a 0-d ``input`` gives a 1-d tensor of
        one element): a view when possible, otherwise a copy (see ``reshape``).

    Raises:
        IndexError: if ``start_dim`` or ``end_dim`` is out of range (``[-1, 0]`` for a 0-d ``input``).
        RuntimeError: if ``start_dim`` comes after ``end_dim``.
    """
    start = normalize_dim(start_dim, input.ndim)
    end = normalize_dim(end_dim, input.ndim)
    if input.ndim == 0:
        return reshape(input, (1,))
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input._data.shape
    n = 1
    for s in shape[start:end + 1]:
        n *= s
    return reshape(input, shape[:start] + (n,) + shape[end + 1:])


@public(method=True)
def ravel(input):
    """``input``'s elements as a 1-d tensor, in row-major order.

    Args:
        input: the tensor.

    Returns:
        A 1-d tensor of ``input.numel()`` elements: a view when possible, otherwise a copy.
    """
    return reshape(input, (-1,))


@public(method=True)
def unflatten(input, dim, sizes):
    """``input`` with dimension ``dim`` split into several dimensions of the given sizes.

    Args:
        input: the tensor.
        dim: the dimension to split.
        sizes: the sizes that replace it; their product must be ``input.shape[dim]``, and one of them may
            be ``-1`` to be inferred.

    Returns:
        A view sharing ``input``'s memory.

    Raises:
        IndexError: if ``dim`` is out of range.
        RuntimeError: if ``input`` is 0-d, ``sizes`` is empty or the sizes do not multiply to
            ``input.shape[dim]``.
    """
    if input.ndim == 0:
        raise RuntimeError(f"unflatten got an unexpected error:\nDimension specified as {dim} but tensor has no "
                           f"dimensions")
    dim = normalize_dim(dim, input.ndim)
    shape = input._data.shape
    sizes = tuple(sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    known = 1
    for n in sizes:
        known *= n if n != -1 else 1
    if (-1 not in sizes and known != shape[dim]) or (-1 in sizes and (known == 0 or shape[dim] % known)):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
                           f"({shape[dim]}) in the input tensor")
    sizes = infer_size(sizes, shape[dim])
    return view(input, shape[:dim] + sizes + shape[dim + 1:])


def _distinct_dims(dims, ndim) -> tuple:
    """``dims`` normalized (a 0-d tensor takes ``-1`` and ``0``), or PyTorch's error for one out of range or
    named twice."""
    out = []
    for d in dims:
        d = normalize_dim(d, ndim)
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    return tuple(out) if ndim else ()


@public(method=True, inplace="view")
def squeeze(input, dim=None):
    """A view of ``input`` without dimensions of size 1.

    Args:
        input: the tensor.
        dim: an int or a tuple of ints: only these dimensions are removed, and only those of size 1 (others
            are left as they are). ``None`` (the default) removes every dimension of size 1.

    Returns:
        A view sharing ``input``'s memory.

    Raises:
        IndexError: if a dimension is out of range (``[-1, 0]`` for a 0-d ``input``).
        RuntimeError: if a dimension is named twice.
    """
    shape = input._data.shape
    if dim is None:
        dims = {i for i, s in enumerate(shape) if s == 1}
    else:
        given = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = {d for d in _distinct_dims(given, input.ndim) if shape[d] == 1}
    return call(_VIEW, input, shape=tuple(s for i, s in enumerate(shape) if i not in dims))


@public(method=True, inplace="view")
def unsqueeze(input, dim):
    """A view of ``input`` with a new dimension of size 1 inserted at ``dim``.

    Args:
        input: the tensor.
        dim: where the new dimension goes, in ``[-input.ndim - 1, input.ndim]``.

    Returns:
        A view sharing ``input``'s memory.
    """
    dim = normalize_dim(dim, input.ndim + 1)
    shape = input._data.shape
    return call(_VIEW, input, shape=shape[:dim] + (1,) + shape[dim:])


@public(method=True)
def permute(input, *dims):
    """A view of ``input`` with its dimensions reordered.

    Args:
        input: the tensor.
        *dims: the new order, as ints or one tuple/list: dimension ``i`` of the result is dimension
            ``dims[i]`` of ``input``. Must name every dimension once; negative values count from the end.

    Returns:
        A view sharing ``input``'s memory.

    Raises:
        RuntimeError: if ``dims`` does not name as many dimensions as ``input`` has, or names one twice.
        IndexError: if a dimension is out of range.
    """
    dims = as_shape(dims) if dims and dims != ((),) else ()
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {input.ndim} "
                           f"is not equal to len(dims) = {len(dims)}")
    dims = tuple(normalize_dim(d, input.ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return call(_PERMUTE, input, dims=dims)


@public(method=True, inplace="view", aliases=("swapaxes", "swapdims"))
def transpose(input, dim0, dim1):
    """A view of ``input`` with dimensions ``dim0`` and ``dim1`` swapped.

    Also available as ``swapaxes`` and ``swapdims``. A 0-d ``input`` is returned as a view of itself.

    Args:
        input: the tensor.
        dim0: one dimension.
        dim1: the other dimension.

    Returns:
        A view sharing ``input``'s memory.

    Raises:
        IndexError: if a dimension is out of range (``[-1, 0]`` for a 0-d ``input``).
    """
    n = input.ndim
    a, b = normalize_dim(dim0, n), normalize_dim(dim1, n)
    if n == 0:
        return call(_VIEW, input, shape=())
    dims = list(range(n))
    dims[a], dims[b] = dims[b], dims[a]
    return call(_PERMUTE, input, dims=tuple(dims))


@public(method=True, aliases=("moveaxis",))
def movedim(input, source, destination):
    """A view of ``input`` with the dimensions ``source`` moved to the positions ``destination``.

    The other dimensions keep their relative order. Also available as ``moveaxis``.

    Args:
        input: the tensor.
        source: an int or a sequence of ints: the dimensions to move.
        destination: an int or a sequence of ints of the same length: where each goes.

    Returns:
        A view sharing ``input``'s memory.

    Raises:
        TypeError: if one of ``source`` and ``destination`` is an int and the other a sequence.
        RuntimeError: if they have different lengths, or either names a dimension twice.
        IndexError: if a dimension is out of range.
    """
    if isinstance(source, int) != isinstance(destination, int):
        kinds = ", ".join(type(a).__name__ for a in (source, destination))
        raise TypeError(f"movedim() received an invalid combination of arguments - got (Tensor, {kinds}), but "
                        f"expected one of:\n * (Tensor input, tuple of ints source, tuple of ints destination)\n"
                        f" * (Tensor input, int source, int destination)")
    source = [source] if isinstance(source, int) else list(source)
    destination = [destination] if isinstance(destination, int) else list(destination)
    if len(source) != len(destination):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({source} dims) should contain "
                           f"the same number of dims as destination ({destination} dims)")
    src = [normalize_dim(d, input.ndim) for d in source]
    dst = [normalize_dim(d, input.ndim) for d in destination]
    for name, given, dims in (("source", source, src), ("destination", destination, dst)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({given})")
    if input.ndim == 0:
        return call(_VIEW, input, shape=())
    order = [None] * input.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(input.ndim) if i not in src)
    order = [next(rest) if o is None else o for o in order]
    return call(_PERMUTE, input, dims=tuple(order))


@public(method=True, inplace="view")
def t(input):
    """The transpose of a matrix: ``transpose(input, 0, 1)`` for a 2-d ``input``, ``input`` unchanged for 0-d and 1-d.

    Args:
        input: a tensor of at most 2 dimensions.

    Returns:
        A view sharing ``input``'s memory.

    Raises:
        RuntimeError: if ``input`` has more than 2 dimensions.
    """
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else input.view(input.shape)


def _T(self):
    """The tensor with its dimensions reversed (a view)."""
    return call(_PERMUTE, self, dims=tuple(reversed(range(self.ndim))))


def _mT(self):
    """The tensor with its last two dimensions swapped (a view)."""
    if self.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self.ndim}-D tensor.")
    return transpose(self, -2, -1)


# the conjugate transposes H, mH and adjoint() are in ember/ops/complex.py
public(property(_T, doc="The tensor with its dimensions reversed."), name="T", function=False, method=True)
public(property(_mT, doc="The tensor with its last two dimensions swapped."), name="mT", function=False,
       method=True)


@public(function=False, method=True)
def expand(self, *sizes):
    """A view of the tensor with its size-1 dimensions stretched to larger sizes, without copying.

    Args:
        *sizes: the target shape, as ints or one tuple/list/``ember.Size``, with at least as many entries as
            the tensor has dimensions. Extra leading entries add new dimensions in front; ``-1`` keeps the
            size of that dimension; a dimension that is not of size 1 must keep its size.

    Returns:
        A view sharing this tensor's memory: the stretched dimensions have stride 0, so many elements share
        one memory location; ``clone`` it before writing to it.

    Raises:
        RuntimeError: if there are fewer sizes than dimensions, or a non-singleton dimension would change size.
    """
    sizes = as_shape(sizes)
    shape = self._data.shape
    out = check_expand(self, sizes)
    if out == shape:
        return call(_VIEW, self, shape=shape)
    return call(_EXPAND, self, shape=out)


def check_expand(tensor, sizes) -> tuple:
    """The shape ``tensor.expand(sizes)`` has (``-1`` resolved), or PyTorch's error for ``sizes``."""
    shape = tensor._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand({_type_string(tensor)}{{{list(shape)}}}, size={list(sizes)}): the number of "
                           f"sizes provided ({len(sizes)}) must be greater or equal to the number of dimensions "
                           f"in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = list(sizes)
    for i in range(lead):
        if sizes[i] == -1:
            raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing "
                               f"dimension {i}")
    for i, s in enumerate(shape):
        want = sizes[lead + i]
        if want == -1:
            out[lead + i] = s
        elif s != want and s != 1:
            raise RuntimeError(f"The expanded size of the tensor ({want}) must match the existing size ({s}) at "
                               f"non-singleton dimension {lead + i}.  Target sizes: {list(sizes)}.  "
                               f"Tensor sizes: {list(shape)}")
    return tuple(out)


_LEGACY_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
                 "int16": "Short", "int8": "Char", "uint8": "Byte"}


def _type_string(tensor) -> str:
    """PyTorch's legacy name of a tensor's type in messages: ``torch.FloatTensor``, ``CPUBoolType``, ..."""
    device = tensor.device.type
    name = _LEGACY_NAMES.get(tensor.dtype.name)
    if name is None:  # no legacy tensor class: PyTorch names the backend and scalar type
        return f"{device.upper()}{dict(bool='Bool', bfloat16='BFloat16', complex64='ComplexFloat', complex128='ComplexDouble').get(tensor.dtype.name, tensor.dtype.name)}Type"
    return f"torch.{name}Tensor" if device == "cpu" else f"torch.{device}.{name}Tensor"


@public(function=False, method=True)
def expand_as(self, other):
    """The tensor expanded to ``other``'s shape; same as ``self.expand(other.shape)``.

    Args:
        other: the tensor whose shape is taken.

    Returns:
        A view sharing this tensor's memory (see ``expand``).
    """
    return expand(self, other.shape)


@public(method=True)
def broadcast_to(input, shape):
    """``input`` broadcast to ``shape``; same as ``input.expand(shape)``.

    Args:
        input: the tensor.
        shape: the target shape (a tuple, list or ``ember.Size``); ``-1`` keeps a dimension's size.

    Returns:
        A view sharing ``input``'s memory (see ``expand``).

    Raises:
        RuntimeError: if ``input``'s shape does not broadcast to ``shape``.
    """
    return expand(input, tuple(shape))


@public
def broadcast_tensors(*tensors):
    """The given tensors expanded to their common broadcast shape.

    Args:
        *tensors: the tensors.

    Returns:
        A tuple with one view per tensor, each sharing that tensor's memory (see ``expand``).

    Raises:
        RuntimeError: if the shapes do not broadcast together.
    """
    shape = _broadcast_shapes(*(t._data.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


@public(method=True)
def narrow(input, dim, start, length):
    """A view of ``input`` restricted to ``length`` elements of dimension ``dim``, starting at ``start``.

    Args:
        input: the tensor.
        dim: the dimension to narrow.
        start: the first index kept; an int or a 0-d tensor, negative values count from the end.
        length: how many indices are kept.

    Returns:
        A view sharing ``input``'s memory, of size ``length`` along ``dim``.

    Raises:
        IndexError: if ``dim`` is out of range.
        RuntimeError: if ``input`` is 0-d or ``[start, start + length)`` does not lie within the dimension.
    """
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    dim = normalize_dim(dim, input.ndim)
    size = input._data.shape[dim]
    if isinstance(start, Tensor):
        start = start.item()
    if start < 0:
        start += size
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    key = (slice(None),) * dim + (slice(start, start + length),)
    return call(_BASIC_INDEX, input, key=key)


@public(method=True)
def select(input, dim, index):
    """A view of ``input`` at index ``index`` of dimension ``dim``, with that dimension removed.

    ``select(input, 1, 2)`` is ``input[:, 2]``.

    Args:
        input: the tensor.
        dim: the dimension to index.
        index: the position along it; negative values count from the end.

    Returns:
        A view sharing ``input``'s memory, with one dimension fewer.

    Raises:
        IndexError: if ``input`` is 0-d, or ``dim`` or ``index`` is out of range.
    """
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    dim = normalize_dim(dim, input.ndim)
    size = input._data.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {dim}")
    return call(_BASIC_INDEX, input, key=(slice(None),) * dim + (index % size,))


@public(method=True)
def split(tensor, split_size_or_sections, dim=0):
    """``tensor`` cut into consecutive pieces along ``dim``.

    Args:
        tensor: the tensor to split.
        split_size_or_sections: an int, the size of each piece (the last one is smaller when the size of
            ``dim`` is not a multiple of it), or a list of sizes, which must add up to the size of ``dim``.
        dim: the dimension to split along (default 0).

    Returns:
        A tuple of views sharing ``tensor``'s memory.

    Raises:
        RuntimeError: if ``tensor`` is 0-d, an int split size is not positive (for a non-empty dimension), or
            the sizes in the list do not add up to the size of ``dim``.
    """
    if tensor.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    dim = normalize_dim(dim, tensor.ndim)
    size = tensor._data.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
        sections = [min(step, size - i) for i in range(0, size, step)] if size else [0]
    else:
        sections = list(split_size_or_sections)
        if sum(sections) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                               f"size at dimension {dim}), but got split_sizes={sections}")
    out, start = [], 0
    for n in sections:
        out.append(narrow(tensor, dim, start, n))
        start += n
    return tuple(out)


@public(method=True)
def chunk(input, chunks, dim=0):
    """``input`` cut into ``chunks`` pieces of equal size along ``dim``, the last one possibly smaller.

    Each piece has ``ceil(input.shape[dim] / chunks)`` elements along ``dim``, so fewer than ``chunks``
    pieces may come back (see ``tensor_split`` for exactly ``chunks`` pieces).

    Args:
        input: the tensor.
        chunks: the number of pieces wanted, a positive int.
        dim: the dimension to cut along (default 0).

    Returns:
        A tuple of views sharing ``input``'s memory.

    Raises:
        RuntimeError: if ``input`` is 0-d or ``chunks`` is not positive.
    """
    if input.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input._data.shape[normalize_dim(dim, input.ndim)]
    step = -(-size // chunks) if size else 1
    return split(input, step, dim)


@public(method=True)
def tensor_split(input, indices_or_sections, dim=0):
    """``input`` cut into pieces along ``dim``, either into a number of nearly equal pieces or at given indices.

    Args:
        input: the tensor.
        indices_or_sections: an int ``n``: exactly ``n`` pieces, the first ``input.shape[dim] % n`` of them one
            element longer than the rest; or a sequence of indices: the tensor is cut before each index
            (indices are clipped to the dimension, so pieces may be empty).
        dim: the dimension to cut along (default 0).

    Returns:
        A tuple of views sharing ``input``'s memory.

    Raises:
        RuntimeError: if ``input`` is 0-d, the number of pieces is not positive, or a tensor
            ``indices_or_sections`` is not int64 or has more than one dimension.
    """
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    if isinstance(indices_or_sections, Tensor):  # a 0-d tensor is a number of pieces, a 1-d one indices
        t = indices_or_sections
        if t.dtype is not dt.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{_title(t.dtype)}")
        if t.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {t.ndim} dims")
        indices_or_sections = t.item() if t.ndim == 0 else t.tolist()
    dim = normalize_dim(dim, input.ndim)
    size = input._data.shape[dim]
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        base, extra = divmod(size, n)
        sizes = [base + 1] * extra + [base] * (n - extra)
    else:
        bounds = [0] + [min(max(i, 0), size) for i in indices_or_sections] + [size]
        sizes = [max(b - a, 0) for a, b in zip(bounds, bounds[1:])]
    out, start = [], 0
    for n in sizes:
        out.append(narrow(input, dim, start, n))
        start += n
    return tuple(out)


@public(method=True)
def unbind(input, dim=0):
    """The slices of ``input`` along ``dim``, each with that dimension removed.

    Args:
        input: the tensor.
        dim: the dimension to take apart (default 0).

    Returns:
        A tuple of ``input.shape[dim]`` views sharing ``input``'s memory.

    Raises:
        IndexError: if ``input`` is 0-d or ``dim`` is out of range.
    """
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    dim = normalize_dim(dim, input.ndim)
    return tuple(select(input, dim, i) for i in range(input._data.shape[dim]))


@public(aliases=("concat", "concatenate"), out=True)
@dispatch_point("cat")
def cat(tensors, dim=0):
    """The given tensors joined end to end along an existing dimension.

    Also available as ``concat`` and ``concatenate``. The tensors are promoted to a common dtype. 1-d
    empty tensors are skipped (as PyTorch does, for old code that starts from ``ember.tensor([])``).

    Args:
        tensors: a non-empty sequence of tensors with the same number of dimensions and the same sizes
            except along ``dim``.
        dim: the dimension to join along (default 0).

    Returns:
        A new tensor (a copy even for a single tensor), whose size along ``dim`` is the sum of the inputs'.

    Raises:
        ValueError: if ``tensors`` is empty.
        RuntimeError: if a tensor is 0-d, or the tensors differ in number of dimensions or in a size other than
            along ``dim``.
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    # legacy behaviour kept by PyTorch: 1-d empty tensors are skipped
    parts = [t for t in tensors if not (t.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    ref = parts[0]
    dim = normalize_dim(dim, ref.ndim)
    for i, t in enumerate(parts):
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and {t.ndim}")
        for d in range(ref.ndim):
            if d != dim and t._data.shape[d] != ref._data.shape[d]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. Expected size "
                                   f"{ref._data.shape[d]} but got size {t._data.shape[d]} for tensor number "
                                   f"{i} in the list.")
    dtype = result_type(*parts)
    parts = [cast(t, dtype) for t in parts]
    if len(parts) == 1:
        return call(OPS["clone"], parts[0])
    return call(OPS["cat"], *parts, dim=dim)


@public(out=True)
@dispatch_point("stack")
def stack(tensors, dim=0):
    """The given tensors joined along a new dimension.

    Args:
        tensors: a non-empty sequence of tensors, all of the same shape.
        dim: where the new dimension goes, in ``[-ndim - 1, ndim]`` (default 0).

    Returns:
        A new tensor with one more dimension than the inputs, of size ``len(tensors)`` at ``dim``.

    Raises:
        RuntimeError: if ``tensors`` is empty or the shapes differ.
    """
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 "
                               f"and {list(t._data.shape)} at entry {i}")
    dim = normalize_dim(dim, len(shape) + 1)
    return cat([unsqueeze(t, dim) for t in tensors], dim)


@public(out=True)
def hstack(tensors):
    """The given tensors joined horizontally: along dimension 0 for 1-d tensors, along dimension 1 otherwise.

    0-d tensors are treated as 1-d tensors of one element.

    Args:
        tensors: a non-empty sequence of tensors (see ``cat`` for the shape rules).

    Returns:
        A new tensor.

    Raises:
        RuntimeError: if ``tensors`` is empty, or as ``cat`` does.
    """
    tensors = [t if t.ndim else t.reshape(1) for t in tensors]
    if not tensors:
        raise RuntimeError("hstack expects a non-empty TensorList")
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


@public(out=True)
def vstack(tensors):
    """The given tensors joined vertically, along dimension 0, after turning 0-d and 1-d tensors into rows.

    A 1-d tensor of ``n`` elements becomes a ``(1, n)`` row first, so 1-d tensors stack into a matrix.

    Args:
        tensors: a non-empty sequence of tensors (see ``cat`` for the shape rules).

    Returns:
        A new tensor of at least 2 dimensions.

    Raises:
        RuntimeError: if ``tensors`` is empty, or as ``cat`` does.
    """
    tensors = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    if not tensors:
        raise RuntimeError("vstack expects a non-empty TensorList")
    return cat(tensors, 0)


@public(method=True)
def flip(input, dims):
    """``input`` with the order of its elements reversed along the given dimensions.

    Args:
        input: the tensor.
        dims: an int or a sequence of ints: the dimensions to reverse.

    Returns:
        A new tensor (a copy, unlike NumPy's ``flip``, which returns a view).

    Raises:
        IndexError: if a dimension is out of range.
        RuntimeError: if a dimension is named twice.
    """
    dims = _distinct_dims((dims,) if isinstance(dims, int) else tuple(dims), input.ndim)
    if not dims or input.ndim == 0:
        return call(OPS["clone"], input)
    return call(OPS["flip"], input, dims=dims)


@public(method=True)
def fliplr(input):
    """``input`` reversed left to right, along dimension 1.

    Args:
        input: a tensor of at least 2 dimensions.

    Returns:
        A new tensor (a copy).
    """
    return flip(input, (1,))


@public(method=True)
def flipud(input):
    """``input`` reversed upside down, along dimension 0.

    Args:
        input: a tensor of at least 1 dimension.

    Returns:
        A new tensor (a copy).
    """
    return flip(input, (0,))


@public(method=True)
def roll(input, shifts, dims=None):
    """``input`` with its elements shifted along dimensions; those that fall off the end come back at the start.

    Args:
        input: the tensor.
        shifts: an int or a sequence of ints: how many places to shift (negative shifts go the other way).
        dims: an int or a sequence of ints of the same length as ``shifts``: the dimension each shift applies
            to. ``None`` (the default) shifts the flattened tensor and restores the shape.

    Returns:
        A new tensor of ``input``'s shape.

    Raises:
        RuntimeError: if ``shifts`` and ``dims`` have different lengths.
    """
    if dims is None:
        return view(roll(flatten(input), shifts, 0), input.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    dims = tuple(normalize_dim(d, input.ndim) for d in dims)
    return call(OPS["roll"], input, shifts=shifts, dims=dims)


@public(function=False, method=True)
def repeat(self, *sizes):
    """The tensor tiled: copied ``sizes[i]`` times along each dimension ``i``.

    Args:
        *sizes: the repeat counts, as ints or one tuple/list, at least one per dimension; extra leading
            counts add new leading dimensions (the tensor is treated as having size 1 there).

    Returns:
        A new tensor whose size along each dimension is the count times the (padded) original size.

    Raises:
        RuntimeError: if there are fewer counts than dimensions.
    """
    sizes = as_shape(sizes)
    if len(sizes) < self.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                           f"of tensor (repeat dims {len(sizes)}, tensor {self.ndim})")
    x = self.reshape((1,) * (len(sizes) - self.ndim) + self._data.shape)
    # interleave a new axis before each dim, expand it to the repeat count, merge the pairs
    shape = x._data.shape
    x = x.reshape(tuple(v for s in shape for v in (1, s)))
    x = expand(x, tuple(v for r, s in zip(sizes, shape) for v in (r, s)))
    return reshape(x, tuple(r * s for r, s in zip(sizes, shape)))


@public(method=True)
def tile(input, dims):
    """``input`` copied ``dims[i]`` times along each dimension ``i``.

    Like ``repeat``, except that ``dims`` may be shorter than ``input.ndim``: it is then padded with ones in
    front.

    Args:
        input: the tensor.
        dims: a sequence of repeat counts.

    Returns:
        A new tensor (see ``repeat`` for its shape).
    """
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


@public(method=True)
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """``input`` with each element (or each slice along ``dim``) repeated in place, one after another.

    ``repeat_interleave(tensor([1, 2]), 2)`` is ``tensor([1, 1, 2, 2])``, where ``tile`` would give
    ``tensor([1, 2, 1, 2])``. Called with only a 1-d tensor of counts, it returns the indices
    ``0, 1, ...`` each repeated as many times as its count.

    Args:
        input: the tensor (or, without ``repeats``, the counts).
        repeats: an int (every element repeated that many times) or a 1-d tensor of non-negative counts, one
            per index along ``dim``.
        dim: the dimension to repeat along; ``None`` (the default) flattens ``input`` first and returns a
            1-d tensor.
        output_size: the size of the result along ``dim``, if known; it is checked against the counts.

    Returns:
        A new tensor.

    Raises:
        RuntimeError: if ``repeats`` is negative, or a tensor with more than one dimension, whose length
            differs from the size of ``dim`` or that holds a negative count; or if ``output_size`` is not the
            size the counts give.
    """
    if repeats is None:  # repeat_interleave(repeats_tensor): indices repeated by counts
        from ember.ops.creation import arange
        counts = input
        if counts.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        return repeat_interleave(arange(counts.numel(), device=counts.device), counts, 0, output_size=output_size)
    if dim is None:
        input, dim = flatten(input), 0
    dim = normalize_dim(dim, input.ndim)
    if isinstance(repeats, Tensor) and repeats.ndim > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    if isinstance(repeats, Tensor) and repeats.numel() == 1:
        counted = int(repeats.item())
        if counted < 0:
            raise RuntimeError("repeats can not be negative")
        if output_size is not None and output_size != counted * input._data.shape[dim]:
            raise RuntimeError("allocated size does not match required size")
        return repeat_interleave(input, counted, dim)
    if isinstance(repeats, int):
        if repeats < 0:
            raise RuntimeError("Repeats must be non-negative")
        if output_size is not None and output_size != repeats * input._data.shape[dim]:
            raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {repeats * input._data.shape[dim]} "
                               f"but got {output_size}")
        x = unsqueeze(input, dim + 1)
        shape = list(x._data.shape)
        shape[dim + 1] = repeats
        return flatten(expand(x, shape), dim, dim + 1)
    from ember.ops.creation import arange
    from ember.ops.indexing import index_select
    counts = repeats.tolist()  # the output size depends on the counts: they must be read
    if len(counts) != input._data.shape[dim]:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                           f"{len(counts)} and input.size({dim}) = {input._data.shape[dim]}")
    if any(c < 0 for c in counts):
        raise RuntimeError("repeats can not be negative")
    if output_size is not None and output_size != sum(counts):
        raise RuntimeError("allocated size does not match required size")
    import numpy as np
    order = np.repeat(np.arange(len(counts)), counts)
    from ember.ops.creation import from_host
    return index_select(input, dim, from_host(order, input.device))


@public(method=True, inplace=True, out=True)
def tril(input, diagonal=0):
    """The lower triangle of the matrices in ``input``: the elements above the chosen diagonal are set to zero.

    Args:
        input: a tensor of at least 2 dimensions; the last two hold the matrices.
        diagonal: which diagonal is the boundary (kept): 0 (the default) is the main diagonal, positive values
            move it up (keeping more), negative values move it down.

    Returns:
        A new tensor of ``input``'s shape and dtype.

    Raises:
        RuntimeError: if ``input`` has fewer than 2 dimensions.
    """
    if input.ndim < 2:
        raise RuntimeError(f"tril: input tensor must have at least 2 dimensions, got {input.ndim}")
    return call(OPS["tril"], input, diagonal=diagonal)


@public(method=True, inplace=True, out=True)
def triu(input, diagonal=0):
    """The upper triangle of the matrices in ``input``: the elements below the chosen diagonal are set to zero.

    Args:
        input: a tensor of at least 2 dimensions; the last two hold the matrices.
        diagonal: which diagonal is the boundary (kept): 0 (the default) is the main diagonal, positive values
            move it up (keeping less), negative values move it down.

    Returns:
        A new tensor of ``input``'s shape and dtype.

    Raises:
        RuntimeError: if ``input`` has fewer than 2 dimensions.
    """
    if input.ndim < 2:
        raise RuntimeError(f"triu: input tensor must have at least 2 dimensions, got {input.ndim}")
    return call(OPS["triu"], input, diagonal=diagonal)


@public(method=True)
def diagonal(input, offset=0, dim1=0, dim2=1):
    """A view of a diagonal of ``input``, taken over the dimensions ``dim1`` and ``dim2``.

    Args:
        input: a tensor of at least 2 dimensions.
        offset: which diagonal: 0 (the default) is the main one, positive values are above it, negative
            values below.
        dim1: the dimension that indexes rows (default 0).
        dim2: the dimension that indexes columns (default 1).

    Returns:
        A view sharing ``input``'s memory: ``dim1`` and ``dim2`` are removed and the diagonal becomes the last
        dimension.

    Raises:
        RuntimeError: if ``dim1`` and ``dim2`` name the same dimension.
    """
    a, b = normalize_dim(dim1, input.ndim), normalize_dim(dim2, input.ndim)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return call(OPS["diagonal"], input, offset=offset, dim1=a, dim2=b)


@public(method=True, out=True)
def diag(input, diagonal=0):
    """A diagonal matrix built from a vector, or the diagonal of a matrix.

    Args:
        input: a 1-d tensor, which becomes a diagonal of a square matrix, or a 2-d tensor, whose diagonal is
            taken.
        diagonal: which diagonal: 0 (the default) is the main one, positive values are above it, negative
            values below.

    Returns:
        For a 1-d ``input`` of ``n`` elements, a new ``(n + |diagonal|, n + |diagonal|)`` matrix, zero off that
        diagonal; for a 2-d ``input``, a new 1-d tensor holding that diagonal (a copy, unlike ``diagonal``).

    Raises:
        RuntimeError: if ``input`` is not 1-d or 2-d.
    """
    if input.ndim not in (1, 2):
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    offset = diagonal
    if input.ndim == 1:
        from ember.ops.creation import arange, zeros
        from ember.ops.indexing import index_put
        n = input._data.shape[0] + abs(offset)
        out = zeros(n, n, dtype=input.dtype, device=input.device)
        rows = arange(input._data.shape[0], device=input.device)
        r, c = (rows, rows + offset) if offset >= 0 else (rows - offset, rows)
        return index_put(out, (r, c), input)
    return call(OPS["clone"], call(OPS["diagonal"], input, offset=offset, dim1=0, dim2=1))


@public(method=True)
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Batches of diagonal matrices whose diagonals are the last dimension of ``input``.

    The result has one dimension more than ``input``; its dimensions ``dim1`` and ``dim2`` hold the matrices,
    of size ``n + |offset|`` for a last dimension of size ``n``, and the other dimensions of ``input`` fill the
    remaining places in order.

    Args:
        input: a tensor of at least 1 dimension; its last dimension (of size ``n``) holds the diagonals.
        offset: which diagonal: 0 (the default) is the main one, positive values are above it, negative values
            below.
        dim1: the dimension of the rows in the result (default -2), counted in the result's dimensions.
        dim2: the dimension of the columns in the result (default -1).

    Returns:
        A new tensor of ``input``'s dtype, zero off the chosen diagonals.

    Raises:
        IndexError: if ``dim1`` or ``dim2`` is out of range for the result.
        RuntimeError: if ``dim1`` and ``dim2`` name the same dimension.
    """
    from ember.ops import elementwise as ew
    from ember.ops.creation import eye
    ndim = input.ndim + 1
    a, b = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = input._data.shape[-1]
    # the main diagonal of the last two dims (where, not a product: inf * 0 would give nan off it) ...
    out = ew.where(eye(n, dtype=dt.bool_, device=input.device), unsqueeze(input, -1),
                   full((), 0, dtype=input.dtype, device=input.device))
    if offset:  # ... moved off it by padding: columns before and rows after it for an upper diagonal
        k = abs(offset)
        out = constant_pad_nd(out, (k, 0, 0, k) if offset > 0 else (0, k, k, 0))
    return movedim(out, (-2, -1), (a, b))


@public
def atleast_1d(*tensors):
    """Tensors with at least one dimension: a 0-d tensor becomes a 1-d tensor of one element.

    Args:
        *tensors: one or more tensors (or a single list of them).

    Returns:
        For one tensor, a view of a 0-d one (any other is returned itself); for several, a tuple.
    """
    return _each(tensors, lambda t: t.reshape(1) if t.ndim == 0 else t)


@public
def atleast_2d(*tensors):
    """Tensors with at least two dimensions: a 0-d or 1-d tensor of ``n`` elements becomes a ``(1, n)`` matrix.

    Args:
        *tensors: one or more tensors (or a single list of them).

    Returns:
        For one tensor, a reshaped tensor (a view when possible) for a 0-d or 1-d one (any other is returned
        itself); for several, a tuple.
    """
    return _each(tensors, lambda t: t.reshape(1, -1) if t.ndim < 2 else t)


def _each(tensors, fn):
    """``fn`` of one tensor, or the tuple of ``fn`` of each (``f(a, b)`` and ``f([a, b])``), as the atleast_* take."""
    if len(tensors) == 1 and not isinstance(tensors[0], (list, tuple)):
        return fn(tensors[0])
    items = tensors[0] if len(tensors) == 1 else tensors
    return tuple(fn(t) for t in items)


@public
def constant_pad_nd(input, pad, value=0):
    """Pad the last ``len(pad) // 2`` dims of ``input`` with ``value``; negative amounts crop.

    Args:
        input: the tensor.
        pad: an even number of ints, ``(last_left, last_right, second_last_left, ...)``.
        value: the fill value.

    Returns:
        A new tensor (a copy even when nothing is padded), except when ``pad`` only crops (no positive
        amount): then a view sharing ``input``'s memory.

    Raises:
        RuntimeError: if cropping would leave a dimension with a negative size.
    """
    out = input
    for i in range(len(pad) // 2):
        dim = input.ndim - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        if left < 0 or right < 0:  # negative amounts crop
            size = out.shape[dim]
            start, stop = max(-left, 0), size - max(-right, 0)
            if stop < start:
                raise RuntimeError(f"The input size {size}, plus negative padding {left} and {right} resulted in "
                                   f"a negative output size, which is invalid. Check dimension {dim} of your input.")
            out = narrow(out, dim, start, stop - start)
            left, right = max(left, 0), max(right, 0)
        if left == 0 and right == 0:
            continue
        parts = []
        for amount in (left, right):
            size = list(out.shape)
            size[dim] = amount
            parts.append(full(size, value, dtype=input.dtype, device=input.device) if amount else None)
        out = cat([p for p in (parts[0], out, parts[1]) if p is not None], dim)
    return out if out is not input else call(OPS["clone"], input)


@public
def broadcast_shapes(*shapes):
    """The shape that tensors of ``shapes`` broadcast to, without making any tensor.

    Args:
        *shapes: shapes (tuples, lists or ``ember.Size``) or ints (1-d shapes).

    Returns:
        An ``ember.Size``.
    """
    return Size(_broadcast_shapes(*((s,) if isinstance(s, int) else tuple(s) for s in shapes)))

