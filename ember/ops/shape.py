"""Shape ops. Views (view, permute, expand, basic indexing, diagonal) share memory
with their input; everything else here is written over them or copies."""
from __future__ import annotations

from ember.core import dtype as dt
from ember.core.call import call, cast
from ember.core.tensor import Size, Tensor
from ember.dispatch.meta import broadcast_shapes as _broadcast_shapes, infer_size, normalize_dim
from ember.dispatch.ops import OPS
from ember.ops.creation import as_shape, full
from ember.ops.promotion import result_type
from ember.ops.public import public

_VIEW, _PERMUTE, _EXPAND, _BASIC_INDEX = OPS["view"], OPS["permute"], OPS["expand"], OPS["basic_index"]


@public(function=False, method=True)
def view(self, *shape):
    if len(shape) == 1 and isinstance(shape[0], dt.dtype):
        raise RuntimeError(f"view(dtype) reinterpreting {self.dtype} as {shape[0]} is not supported by ember")
    return call(_VIEW, self, shape=infer_size(as_shape(shape), self.numel()))


@public(function=False, method=True)
def view_as(self, other):
    return view(self, other.shape)


@public(method=True)
def reshape(input, *shape):
    shape = infer_size(as_shape(shape), input.numel())
    try:
        return call(_VIEW, input, shape=shape)
    except RuntimeError:  # not expressible as a view of this layout (contiguity may be unknown): copy first
        return call(_VIEW, call(OPS["clone"], input), shape=shape)


@public(function=False, method=True)
def reshape_as(self, other):
    return reshape(self, other.shape)


@public(method=True)
def flatten(input, start_dim=0, end_dim=-1):
    if input.ndim == 0:
        return reshape(input, (1,))
    start = normalize_dim(start_dim, input.ndim)
    end = normalize_dim(end_dim, input.ndim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input._data.shape
    n = 1
    for s in shape[start:end + 1]:
        n *= s
    return reshape(input, shape[:start] + (n,) + shape[end + 1:])


@public(method=True)
def ravel(input):
    return reshape(input, (-1,))


@public(method=True)
def unflatten(input, dim, sizes):
    dim = normalize_dim(dim, input.ndim)
    shape = input._data.shape
    sizes = infer_size(tuple(sizes), shape[dim])
    return view(input, shape[:dim] + sizes + shape[dim + 1:])


@public(method=True, inplace="view")
def squeeze(input, dim=None):
    shape = input._data.shape
    if dim is None:
        dims = {i for i, s in enumerate(shape) if s == 1}
    else:
        dims = {normalize_dim(d, input.ndim) for d in ((dim,) if isinstance(dim, int) else dim)} if shape else set()
        dims = {d for d in dims if shape[d] == 1}
    return call(_VIEW, input, shape=tuple(s for i, s in enumerate(shape) if i not in dims))


@public(method=True, inplace="view")
def unsqueeze(input, dim):
    dim = normalize_dim(dim, input.ndim + 1)
    shape = input._data.shape
    return call(_VIEW, input, shape=shape[:dim] + (1,) + shape[dim:])


@public(method=True)
def permute(input, *dims):
    dims = tuple(normalize_dim(d, input.ndim) for d in as_shape(dims)) if dims and dims != ((),) else ()
    if sorted(dims) != list(range(input.ndim)):
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           f"length of the desired ordering of dimensions i.e. input.dim() = {input.ndim} "
                           f"is not equal to len(dims) = {len(dims)}" if len(dims) != input.ndim else
                           f"permute(): dims {list(dims)} must be a permutation of 0..{input.ndim - 1}")
    return call(_PERMUTE, input, dims=dims)


@public(method=True, inplace="view", aliases=("swapaxes", "swapdims"))
def transpose(input, dim0, dim1):
    n = input.ndim
    if n == 0:
        return call(_VIEW, input, shape=())
    dims = list(range(n))
    a, b = normalize_dim(dim0, n), normalize_dim(dim1, n)
    dims[a], dims[b] = dims[b], dims[a]
    return call(_PERMUTE, input, dims=tuple(dims))


@public(method=True, aliases=("moveaxis",))
def movedim(input, source, destination):
    src = [normalize_dim(d, input.ndim) for d in ((source,) if isinstance(source, int) else source)]
    dst = [normalize_dim(d, input.ndim) for d in ((destination,) if isinstance(destination, int) else destination)]
    order = [None] * input.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(input.ndim) if i not in src)
    order = [next(rest) if o is None else o for o in order]
    return call(_PERMUTE, input, dims=tuple(order))


@public(method=True, inplace="view")
def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else input.view(input.shape)


def _T(self):
    return call(_PERMUTE, self, dims=tuple(reversed(range(self.ndim))))


def _mT(self):
    if self.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self.ndim}-D tensor.")
    return transpose(self, -2, -1)


# real tensors: the conjugate transposes H and mH are the transposes
public(property(_T, doc="The tensor with its dimensions reversed."), name="T", function=False, method=True,
       aliases=("H",))
public(property(_mT, doc="The tensor with its last two dimensions swapped."), name="mT", function=False,
       method=True, aliases=("mH",))


@public(function=False, method=True)
def expand(self, *sizes):
    sizes = as_shape(sizes)
    shape = self._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = list(sizes)
    for i, s in enumerate(shape):
        want = sizes[lead + i]
        if want == -1:
            out[lead + i] = s
        elif s != want and s != 1:
            raise RuntimeError(f"The expanded size of the tensor ({want}) must match the existing size ({s}) at "
                               f"non-singleton dimension {lead + i}.  Target sizes: {list(sizes)}.  "
                               f"Tensor sizes: {list(shape)}")
    out = tuple(out)
    if out == shape:
        return call(_VIEW, self, shape=shape)
    return call(_EXPAND, self, shape=out)


@public(function=False, method=True)
def expand_as(self, other):
    return expand(self, other.shape)


@public(method=True)
def broadcast_to(input, shape):
    return expand(input, tuple(shape))


@public
def broadcast_tensors(*tensors):
    shape = _broadcast_shapes(*(t._data.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


@public(method=True)
def narrow(input, dim, start, length):
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
    dim = normalize_dim(dim, input.ndim)
    size = input._data.shape[dim]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {dim}")
    return call(_BASIC_INDEX, input, key=(slice(None),) * dim + (index % size,))


@public(method=True)
def split(tensor, split_size_or_sections, dim=0):
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
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input._data.shape[normalize_dim(dim, input.ndim)]
    step = -(-size // chunks) if size else 1
    return split(input, step, dim)


@public(method=True)
def tensor_split(input, indices_or_sections, dim=0):
    dim = normalize_dim(dim, input.ndim)
    size = input._data.shape[dim]
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
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
    dim = normalize_dim(dim, input.ndim)
    return tuple(select(input, dim, i) for i in range(input._data.shape[dim]))


@public(aliases=("concat", "concatenate"))
def cat(tensors, dim=0, *, out=None):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
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


@public
def stack(tensors, dim=0, *, out=None):
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


@public
def hstack(tensors):
    tensors = [t if t.ndim else t.reshape(1) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


@public
def vstack(tensors):
    return cat([t.reshape(1, -1) if t.ndim < 2 else t for t in tensors], 0)


@public(method=True)
def flip(input, dims):
    dims = tuple(normalize_dim(d, input.ndim) for d in ((dims,) if isinstance(dims, int) else dims))
    if not dims or input.ndim == 0:
        return call(OPS["clone"], input)
    return call(OPS["flip"], input, dims=dims)


@public(method=True)
def fliplr(input):
    return flip(input, (1,))


@public(method=True)
def flipud(input):
    return flip(input, (0,))


@public(method=True)
def roll(input, shifts, dims=None):
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
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


@public(method=True)
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:  # repeat_interleave(repeats_tensor): indices repeated by counts
        from ember.ops.creation import arange
        counts = input
        return repeat_interleave(arange(counts.numel(), device=counts.device), counts, 0)
    if dim is None:
        input, dim = flatten(input), 0
    dim = normalize_dim(dim, input.ndim)
    if isinstance(repeats, Tensor) and repeats.numel() == 1:
        repeats = int(repeats.item())
    if isinstance(repeats, int):
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
    import numpy as np
    order = np.repeat(np.arange(len(counts)), counts)
    from ember.ops.creation import from_host
    return index_select(input, dim, from_host(order, input.device))


@public(method=True, inplace=True)
def tril(input, diagonal=0, *, out=None):
    if input.ndim < 2:
        raise RuntimeError(f"tril: input tensor must have at least 2 dimensions, got {input.ndim}")
    return call(OPS["tril"], input, diagonal=diagonal)


@public(method=True, inplace=True)
def triu(input, diagonal=0, *, out=None):
    if input.ndim < 2:
        raise RuntimeError(f"triu: input tensor must have at least 2 dimensions, got {input.ndim}")
    return call(OPS["triu"], input, diagonal=diagonal)


@public(method=True)
def diagonal(input, offset=0, dim1=0, dim2=1):
    a, b = normalize_dim(dim1, input.ndim), normalize_dim(dim2, input.ndim)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return call(OPS["diagonal"], input, offset=offset, dim1=a, dim2=b)


@public(method=True)
def diag(input, diagonal=0):
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
    from ember.ops.creation import eye
    n = input._data.shape[-1]
    return unsqueeze(input, -1) * eye(n, dtype=input.dtype, device=input.device)


@public
def atleast_1d(input):
    return input.reshape(1) if input.ndim == 0 else input


@public
def atleast_2d(input):
    return input.reshape(1, -1) if input.ndim < 2 else input


@public
def constant_pad_nd(input, pad, value=0):
    """Pad the last ``len(pad) // 2`` dims of ``input`` with ``value``; negative amounts crop.

    Args:
        input: the tensor.
        pad: an even number of ints, ``(last_left, last_right, second_last_left, ...)``.
        value: the fill value.

    Returns:
        A new tensor (a copy even when nothing is padded).
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

