"""``vmap``: a function over one sample made a function over a batch, through batching rules."""
from __future__ import annotations

import functools

from ember.core.tensor import Tensor
from ember.func import _batching as B
from ember.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")


def _name(func) -> str:
    return getattr(func, "__name__", None) or repr(func)


def _prefix_leaves(dims, tree, what, describe):
    """One dim per leaf of ``tree``: ``dims`` is a prefix of its structure (an int or None covers a subtree)."""
    if dims is None or isinstance(dims, int):
        return [dims] * len(tree_flatten(tree)[0])
    if isinstance(dims, (tuple, list)) and type(tree) in (tuple, list) and len(dims) == len(tree):
        return [d for sub_dims, sub in zip(dims, tree) for d in _prefix_leaves(sub_dims, sub, what, describe)]
    if isinstance(dims, dict) and isinstance(tree, dict) and set(dims) == set(tree):
        return [d for k in tree for d in _prefix_leaves(dims[k], tree[k], what, describe)]
    raise ValueError(f"{describe}: {what} is not compatible with the structure of `{what.split('_')[0]}puts`. "
                     f"{what} has structure {tree_flatten(dims)[1]} but {what.split('_')[0]}puts has structure "
                     f"{tree_flatten(tree)[1]}.")


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """Vectorize ``func`` over a batch dimension of its inputs.

    ``func`` is written for one sample; the returned function runs it once over the whole batch, each
    op through its batching rule (ops without one loop over the batch, with a warning).

    Args:
        func: a function of tensors (and other values) returning a tensor or a nested tuple/list/dict of them.
        in_dims: the batch dim of each positional input: an int (all inputs), None (not batched), or a
            nested tuple matching the inputs' structure (a leaf int or None covers a whole subtree).
        out_dims: where the batch dim goes in each output: an int, None (an unbatched output) or a
            nested tuple matching the outputs.
        randomness: ``'error'`` (random ops raise), ``'different'`` (each sample draws its own) or
            ``'same'`` (one draw shared by the batch).
        chunk_size: run the batch in chunks of at most this many samples (None: all at once).

    Returns:
        The batched function; keyword arguments are passed to ``func`` unbatched.

    Raises:
        RuntimeError: for an unknown ``randomness``.
        ValueError: for a bad ``chunk_size``, ``in_dims`` that do not fit the inputs, non-tensor inputs
            with an int in_dim, or batch sizes that differ.
    """
    if randomness not in _RANDOMNESS:
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        return _vmap_call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs)
    return wrapped


def _vmap_call(func, in_dims, out_dims, randomness, chunk_size, args, kwargs):
    name = _name(func)
    describe = f"vmap({name}, in_dims={in_dims}, ...)(<inputs>)"
    if not isinstance(in_dims, (int, tuple)) and in_dims is not None:
        raise ValueError(f"{describe}: expected `in_dims` to be int or a (potentially nested) tuple matching the "
                         f"structure of inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"{describe}: got no inputs. Maybe you forgot to add inputs, or you are trying to vmap over "
                         f"a function with no inputs. The latter is unsupported.")
    flat, spec = tree_flatten(args)
    dims = _prefix_leaves(in_dims, args, "in_dims", describe)
    sizes = []
    for x, d in zip(flat, dims):
        if d is None:
            continue
        if not isinstance(d, int):
            raise ValueError(f"{describe}: in_dims must be int or None, got {type(d)}.")
        if not isinstance(x, Tensor):
            raise ValueError(f"{describe}: Got in_dim={d} for an input but the input is of type {type(x)}. We cannot "
                             f"vmap over non-Tensor arguments, please use None as the respective in_dim")
        nd = x.ndim
        if not -nd <= d < nd:
            raise ValueError(f"{describe}: Got in_dim={d} for some input, but that input is a Tensor of "
                             f"dimensionality {nd} so expected in_dim to satisfy -{nd} <= in_dim < {nd}.")
        sizes.append(x.shape[d])
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    size = sizes[0]
    dims = [None if d is None else d % x.ndim for x, d in zip(flat, dims)]
    if chunk_size is None or chunk_size >= size:
        return _flat_vmap(func, name, flat, dims, spec, kwargs, size, out_dims, randomness)
    # chunks: each runs as its own vmap; the outputs are joined along their out_dims
    import ember
    chunks = []
    state = ember.get_rng_state() if randomness == "same" else None
    for start in range(0, size, chunk_size):
        n = min(chunk_size, size - start)
        if state is not None:  # 'same': every chunk draws what the first one drew
            ember.set_rng_state(state)
        part = [x if d is None else ember.narrow(x, d, start, n) for x, d in zip(flat, dims)]
        chunks.append(_flat_vmap(func, name, part, dims, spec, kwargs, n, out_dims, randomness))
    out_flat0, out_spec = tree_flatten(chunks[0])
    odims = _prefix_leaves(out_dims, chunks[0], "out_dims", f"vmap({name}, ...)")
    joined = []
    for k, d in enumerate(odims):
        pieces = [tree_flatten(c)[0][k] for c in chunks]
        joined.append(pieces[0] if d is None else ember.cat(pieces, dim=d))
    return tree_unflatten(joined, out_spec)


def _flat_vmap(func, name, flat, dims, spec, kwargs, size, out_dims, randomness):
    level = B.enter(size, randomness)
    try:
        batched = [x if d is None else B.wrap(B._movedim(x, d, 0), level) for x, d in zip(flat, dims)]
        out = func(*tree_unflatten(batched, spec), **kwargs)
        return _unbatch(out, out_dims, level, size, name)
    finally:
        B.leave(level)


def _unbatch(out, out_dims, level, size, name):
    describe = f"vmap({name}, ...)"
    if not isinstance(out_dims, (int, tuple, list, dict)) and out_dims is not None:
        raise ValueError(f"{describe}: out_dims must be an int, None or a python collection of ints representing "
                         f"where in the outputs the vmapped dimension should appear.")
    flat, spec = tree_flatten(out)
    odims = _prefix_leaves(out_dims, out, "out_dims", describe)
    results = []
    for y, d in zip(flat, odims):
        if not isinstance(y, Tensor):
            if d is None:
                results.append(y)
                continue
            raise ValueError(f"{describe}: `{name}` must only return Tensors, got type {type(y)}. Did you mean to "
                             f"set out_dims= to None for output?")
        at_level = type(y) is B.BatchedTensor and y._level == level
        if d is None:
            if at_level:
                raise ValueError(f"{describe}: `{name}` can not return a BatchedTensor when out_dim is None")
            results.append(y)
            continue
        physical = y._value if at_level else B._expand_batch(y, size)
        nd = physical.ndim
        if not -nd <= d < nd:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {d})")
        results.append(B._movedim(physical, 0, d % nd))
    return tree_unflatten(results, spec)
