"""Turning a list of samples into a batch (``default_collate``), and converting a single
sample's numpy parts into tensors (``default_convert``, used when batching is off).

:func:`collate` walks the structure of the first sample. ``collate_fn_map`` maps element
types to functions ``fn(batch, *, collate_fn_map)``; the exact type is looked up first,
then each key with ``isinstance`` in insertion order. Containers (mappings, namedtuples,
sequences) are handled by :func:`collate` itself, recursively.
"""
from __future__ import annotations

import collections.abc as abc
import copy

import numpy as np

from ember.core import dtype as dt
from ember.core.tensor import Tensor
from ember.ops.creation import as_tensor, from_numpy, tensor
from ember.ops.shape import stack

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map", "collate_tensor_fn",
           "collate_numpy_array_fn", "collate_numpy_scalar_fn", "collate_float_fn", "collate_int_fn",
           "collate_str_fn"]

_TEXT_KINDS = frozenset("SaUO")  # numpy dtype kinds that hold text or objects, not numbers


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _unsupported(elem) -> TypeError:
    return TypeError(f"default_collate cannot batch elements of type {type(elem).__name__}; batch items must "
                     f"be tensors, numpy arrays, numbers, strings, dicts, namedtuples, lists or tuples")


# ---------------------------------------------------------------- leaf collate functions
def collate_tensor_fn(batch, *, collate_fn_map=None):
    for i, t in enumerate(batch):
        if not isinstance(t, Tensor):
            raise TypeError(f"default_collate: element 0 of the batch is a Tensor but element {i} is a "
                            f"{type(t).__name__}")
    fast = _stack_cpu(batch)
    return fast if fast is not None else stack(batch, 0)


def _stack_cpu(batch):
    """``stack(batch)`` as one numpy copy when every tensor is a CPU tensor of one dtype and
    shape that needs no autograd history; None otherwise (the op path then decides)."""
    elem = batch[0]
    dtype, shape = elem.dtype, elem.shape
    for t in batch:
        if t.device.type != "cpu" or t.requires_grad or t.dtype != dtype or t.shape != shape:
            return None
    out = from_numpy(np.stack([t.numpy() for t in batch]))
    return out if out.dtype == dtype else None


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if elem.dtype.kind in _TEXT_KINDS:
        raise TypeError(f"default_collate cannot batch numpy arrays of dtype {elem.dtype}; only numeric and "
                        f"bool arrays become tensors")
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    # np.array keeps the numpy dtype (float64 stays float64, unlike Python floats in ember.tensor)
    return from_numpy(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return tensor(batch, dtype=dt.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    return tensor(batch)  # int64, or bool when the batch holds bools


def collate_str_fn(batch, *, collate_fn_map=None):
    return batch


default_collate_fn_map: dict = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    np.generic: collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def _lookup(elem, collate_fn_map):
    fn = collate_fn_map.get(type(elem))
    if fn is not None:
        return fn
    for kind, fn in collate_fn_map.items():
        if isinstance(elem, kind):
            return fn
    return None


# ---------------------------------------------------------------- the recursive walk
def collate(batch, *, collate_fn_map: dict | None = None):
    """Collate ``batch`` (a list of samples of one structure) with the functions in ``collate_fn_map``."""
    elem = batch[0]
    if collate_fn_map is not None:
        if isinstance(elem, np.generic) and elem.dtype.kind in _TEXT_KINDS:
            return batch  # numpy strings stay as they are, like Python strings
        fn = _lookup(elem, collate_fn_map)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, abc.Mapping):
        merged = {key: collate([sample[key] for sample in batch], collate_fn_map=collate_fn_map) for key in elem}
        return _same_mapping_type(elem, merged)
    if _is_namedtuple(elem):
        return type(elem)(*(collate(list(field), collate_fn_map=collate_fn_map) for field in zip(*batch)))
    if isinstance(elem, abc.Sequence) and not isinstance(elem, (str, bytes)):
        size = len(elem)
        for i, sample in enumerate(batch):
            if len(sample) != size:
                raise RuntimeError(f"default_collate: each element in list of batch should be of equal size, but "
                                   f"element 0 has length {size} and element {i} has length {len(sample)}")
        columns = [collate(list(column), collate_fn_map=collate_fn_map) for column in zip(*batch)]
        if isinstance(elem, tuple):
            return columns  # tuples come back as lists, as PyTorch does
        return _same_sequence_type(elem, columns)
    raise _unsupported(elem)


def _same_mapping_type(template, values: dict):
    if isinstance(template, abc.MutableMapping):
        out = copy.copy(template)
        out.update(values)
        return out
    try:
        return type(template)(values)
    except TypeError:  # a mapping type whose constructor takes something else
        return values


def _same_sequence_type(template, values: list):
    if isinstance(template, abc.MutableSequence):
        out = copy.copy(template)
        for i, v in enumerate(values):
            out[i] = v
        return out
    try:
        return type(template)(values)
    except TypeError:
        return values


def default_collate(batch):
    """Batch a list of samples: tensors and numpy arrays are stacked along a new first
    dimension, Python ints/floats/bools become int64/float64/bool tensors, strings stay a
    list, and dicts, namedtuples, lists and tuples are collated field by field."""
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Numpy arrays and scalars in ``data`` become tensors; everything else keeps its
    structure and type (tuples become lists, as in PyTorch)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)):
        if data.dtype.kind in _TEXT_KINDS:
            return data
        return as_tensor(data)
    if isinstance(data, abc.Mapping):
        return _same_mapping_type(data, {key: default_convert(value) for key, value in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, abc.Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence_type(data, [default_convert(d) for d in data])
    return data
