"""``torch.distributed.utils``: helpers the data-parallel wrappers share (packing forward's
arguments, moving nested inputs, syncing module states from rank 0, renaming state-dict keys)."""
from __future__ import annotations

import dataclasses
from collections import OrderedDict

import ember

__all__: list = []


def _pack_kwargs(*args, **kwargs):
    """``(args + kwarg values, kwarg names)``, to carry keyword arguments through a positional call."""
    keys = tuple(kwargs)
    return tuple(args) + tuple(kwargs.values()), keys


def _unpack_kwargs(flat_args, kwarg_keys):
    """Undo ``_pack_kwargs``: ``(args, kwargs)``."""
    if len(kwarg_keys) > len(flat_args):
        raise AssertionError(f"too many keys {len(kwarg_keys)} vs. {len(flat_args)}")
    if not kwarg_keys:
        return tuple(flat_args), {}
    n = len(flat_args) - len(kwarg_keys)
    return tuple(flat_args[:n]), dict(zip(kwarg_keys, flat_args[n:]))


def _apply_to_tensors(fn, container):
    """``container`` with ``fn`` applied to every tensor inside (dicts, lists, tuples, dataclasses)."""
    def apply(x):
        if isinstance(x, ember.Tensor):
            return fn(x)
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return dataclasses.replace(x, **{f.name: apply(getattr(x, f.name)) for f in dataclasses.fields(x)})
        if isinstance(x, OrderedDict):
            return OrderedDict((k, apply(v)) for k, v in x.items())
        if isinstance(x, dict):
            return {k: apply(v) for k, v in x.items()}
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return type(x)(*(apply(v) for v in x))
        if isinstance(x, (list, tuple, set)):
            return type(x)(apply(v) for v in x)
        return x
    return apply(container)


def _cast_forward_inputs(dtype, *args, **kwargs):
    """The floating-point tensors of ``args``/``kwargs`` cast to ``dtype`` (None: unchanged)."""
    if dtype is None:
        return args, kwargs

    def cast(x):
        return x.to(dtype) if ember.is_floating_point(x) and x.dtype != dtype else x
    return _apply_to_tensors(cast, args), _apply_to_tensors(cast, kwargs)


def _recursive_to(inputs, target_device, use_side_stream_for_tensor_copies=False):
    """``inputs`` (nested) with every tensor moved to ``target_device``, as a 1-tuple."""
    return (_apply_to_tensors(lambda t: t.to(target_device), inputs),)


def _to_kwargs(inputs, kwargs, target_device, use_side_stream_for_tensor_copies=False):
    """``(inputs, kwargs)`` moved to ``target_device``, each as a tuple of one entry."""
    moved_in = _apply_to_tensors(lambda t: t.to(target_device), tuple(inputs or ()))
    moved_kw = _apply_to_tensors(lambda t: t.to(target_device), dict(kwargs or {}))
    return (moved_in,), (moved_kw,)


def _p_assert(cond, s, raise_assertion_error=True):
    """Raise AssertionError(s) when ``cond`` is false (printing it first)."""
    if not cond:
        print(s)
        if raise_assertion_error:
            raise AssertionError(s)


def _verify_param_shape_across_processes(process_group, tensors, logger=None):
    """Raise RuntimeError unless every rank holds tensors of the same shapes."""
    from ember import distributed as dist
    shapes = [tuple(t.shape) for t in tensors]
    everyone = [None] * dist.get_world_size(process_group)
    dist.all_gather_object(everyone, shapes, group=process_group)
    for r, other in enumerate(everyone):
        if other != shapes:
            raise RuntimeError(f"DDP expects same model across all ranks, but rank {r} has parameter shapes "
                               f"{other} and rank {dist.get_rank(process_group)} has {shapes}")


def _sync_module_states(module, process_group, broadcast_bucket_size=0, src=0, params_and_buffers_to_ignore=(),
                        broadcast_buffers=True):
    """Broadcast ``module``'s parameters (and buffers) from rank ``src`` to the others."""
    tensors = [p for n, p in module.named_parameters() if n not in params_and_buffers_to_ignore]
    if broadcast_buffers:
        tensors += [b for n, b in module.named_buffers() if n not in params_and_buffers_to_ignore]
    _sync_params_and_buffers(process_group, tensors, broadcast_bucket_size, src)


def _sync_params_and_buffers(process_group, module_states, broadcast_bucket_size=0, src=0):
    """Broadcast ``module_states`` in place from rank ``src``."""
    from ember import distributed as dist
    for t in module_states:
        dist.broadcast(t.data if hasattr(t, "data") else t, src=src, group=process_group)


def _replace_by_prefix(state_dict, old_prefix, new_prefix):
    """Rename, in place, the keys of ``state_dict`` starting with ``old_prefix``."""
    if old_prefix == new_prefix:
        raise ValueError("old_prefix and new_prefix must be distinct")
    for key in list(state_dict):
        if key.startswith(old_prefix):
            state_dict[new_prefix + key[len(old_prefix):]] = state_dict.pop(key)


def _get_root_modules(modules):
    """The modules of ``modules`` that no other of them contains."""
    roots = []
    ids = {id(m) for m in modules}
    for m in modules:
        inner = any(id(m) in {id(s) for s in other.modules()} and other is not m for other in modules
                    if id(other) in ids)
        if not inner:
            roots.append(m)
    return roots
