"""``ember.distributed.fsdp``: ``fully_shard``, sharded data parallelism in the style of FSDP2.

Each parameter of a sharded module is kept as a flat shard (1/world_size of its elements, the
last padded) and that shard is the Parameter the module and its optimiser see, so optimiser
state is sharded too. Before forward the shards are all-gathered into full parameters; as
backward accumulates a full parameter's gradient, a post-accumulate hook reduce-scatters it
(averaged) into the shard's ``.grad`` and puts the shard back in the module.

With ``reshard_after_forward`` (the default) the full parameters are freed as soon as forward
returns: their memory, and that of the views of them the autograd graph saved (a weight's
transpose, say), is released, so between forward and backward a rank holds only its shards and
the activations. A hook on the forward's outputs all-gathers them again when backward reaches
them, refilling the same tensors (and views) the graph refers to, before any gradient of the
module is computed.
"""
from __future__ import annotations

import math
import weakref

import ember
from ember.nn.parameter import Parameter

__all__ = ["fully_shard", "FSDPModule", "MixedPrecisionPolicy", "OffloadPolicy", "CPUOffloadPolicy"]


class MixedPrecisionPolicy:
    """Accepted for FSDP2 compatibility: parameters and reductions stay in their own dtype.

    Args:
        param_dtype: unused.
        reduce_dtype: unused.
        output_dtype: unused.
        cast_forward_inputs: unused.
    """

    def __init__(self, param_dtype=None, reduce_dtype=None, output_dtype=None, cast_forward_inputs=True):
        self.param_dtype, self.reduce_dtype = param_dtype, reduce_dtype
        self.output_dtype, self.cast_forward_inputs = output_dtype, cast_forward_inputs


class OffloadPolicy:
    """No offloading (FSDP2's default policy)."""


class CPUOffloadPolicy(OffloadPolicy):
    """Accepted for FSDP2 compatibility (shards already live where the module does).

    Args:
        pin_memory: unused.
    """

    def __init__(self, pin_memory=True):
        self.pin_memory = pin_memory


class _Sharded:
    """One parameter's shard and how to rebuild the full tensor from the ranks' shards."""
    __slots__ = ("owner", "name", "shard", "shape", "numel", "chunk", "full", "pending", "freed")

    def __init__(self, owner, name, shard, shape, numel, chunk):
        self.owner, self.name, self.shard = owner, name, shard
        self.shape, self.numel, self.chunk = shape, numel, chunk
        self.full = None       # the gathered parameter while forward/backward use it
        self.pending = None    # unreduced full gradients accumulated with sync turned off
        self.freed = None      # the full parameter freed after forward, refilled before backward


_SHARDED_IDS = set()   # ids of shard parameters, so an enclosing fully_shard leaves them alone
_SHARD_INFO = {}   # id(shard tensor) -> (weak reference, _Sharded, group): what checkpoints reassemble


def register_shard(tensor, rec, group) -> None:
    """Remember that ``tensor`` holds this rank's shard of ``rec`` (by identity, for as long as it lives)."""
    key = id(tensor)
    _SHARD_INFO[key] = (weakref.ref(tensor, lambda _ref, key=key: _SHARD_INFO.pop(key, None)), rec, group)


def shard_info(tensor):
    """``(_Sharded, group)`` if ``tensor`` is a registered shard, else None."""
    entry = _SHARD_INFO.get(id(tensor))
    return (entry[1], entry[2]) if entry is not None and entry[0]() is tensor else None


class FSDPModule:
    """The methods a module gains from ``fully_shard`` (its class becomes ``FSDP<Class>``)."""

    def unshard(self, async_op=False):
        """All-gather this module's shards into full parameters.

        Args:
            async_op: accepted; the gather completes before returning.

        Returns:
            None.
        """
        for rec in self._fsdp_params:
            if rec.full is not None:
                continue
            full = Parameter(self._fsdp_gather(rec), requires_grad=rec.shard.requires_grad)
            if full.requires_grad:
                full.register_post_accumulate_grad_hook(self._fsdp_grad_hook(rec))
            rec.full = full
            rec.owner._parameters[rec.name] = full

    def _fsdp_gather(self, rec):
        """The full value of ``rec``'s parameter, all-gathered from the ranks' shards."""
        from ember import distributed as dist
        g = self._fsdp_group
        gathered = ember.empty(rec.chunk * g.size(), dtype=rec.shard.dtype, device=rec.shard.device)
        dist.all_gather_into_tensor(gathered, rec.shard.detach(), group=g)
        return gathered[:rec.numel].reshape(rec.shape).clone()

    def _fsdp_free_after_forward(self, outputs, inputs):
        """Free the full parameters (and the graph's saved views of them) that the forward which made
        ``outputs`` used; return what ``_fsdp_refill`` needs to bring them back."""
        fulls = {id(rec.full): rec for rec in self._fsdp_params if rec.full is not None}
        views = {k: [] for k in fulls}
        # the saved tensors of this forward's nodes: walk from the outputs, stopping at the inputs'
        stop = {id(t.grad_fn) for t in inputs if t.grad_fn is not None}
        seen, stack = set(), [t.grad_fn for t in outputs]
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen or id(node) in stop:
                continue
            seen.add(id(node))
            for saved in getattr(node, "saved", None) or ():
                t = getattr(saved, "tensor", None) if saved is not None else None
                if t is not None and t._base is not None and id(t._base) in views:
                    views[id(t._base)].append(t)
            stack.extend(e[0] for e in getattr(node, "next_edges", ()) if e is not None)
        held = []
        for key, rec in fulls.items():
            full, empty = rec.full, ember.empty(0, dtype=rec.shard.dtype, device=rec.shard.device)._data
            for v in views[key]:
                v._data = empty
            full._data = empty
            held.append((rec, full, views[key]))
            rec.freed, rec.full = full, None
            rec.owner._parameters[rec.name] = rec.shard
        return held

    def _fsdp_refill(self, held):
        """All-gather the freed full parameters again into the same tensors, and re-derive the views."""
        from ember.core.call import replay_view
        with ember.no_grad():
            for rec, full, views in held:
                full._data = self._fsdp_gather(rec)._data
                for v in views:
                    v._data = replay_view(v._view_fn, full)._data
                if rec.freed is full:
                    rec.freed = None
                    if rec.full is None:
                        rec.full = full
                        rec.owner._parameters[rec.name] = full

    def reshard(self):
        """Drop the gathered full parameters and put the shards back in the module.

        Returns:
            None.
        """
        for rec in self._fsdp_params:
            rec.owner._parameters[rec.name] = rec.shard
            rec.full = None

    def set_requires_gradient_sync(self, requires_gradient_sync, *, recurse=True):
        """Turn the gradients' reduce-scatter on or off (off: accumulate locally, as DDP's no_sync).

        Args:
            requires_gradient_sync: whether backward reduces gradients across ranks.
            recurse: also set it on sharded submodules.

        Returns:
            None.
        """
        for m in (self.modules() if recurse else [self]):
            if isinstance(m, FSDPModule):
                m._fsdp_sync = requires_gradient_sync

    def set_reshard_after_forward(self, reshard_after_forward, recurse=True):
        """Whether to free the full parameters after forward (gathered again for backward).

        Args:
            reshard_after_forward: the setting.
            recurse: also set it on sharded submodules.

        Returns:
            None.
        """
        for m in (self.modules() if recurse else [self]):
            if isinstance(m, FSDPModule):
                m._fsdp_reshard = reshard_after_forward

    def _fsdp_grad_hook(self, rec):
        from ember import distributed as dist

        def hook(full):
            g = self._fsdp_group
            grad = full.grad.detach().reshape(-1)
            if rec.pending is not None:
                grad = grad + rec.pending
            if not self._fsdp_sync:
                rec.pending = grad.clone()
            else:
                rec.pending = None
                padded = ember.cat([grad, ember.zeros(rec.chunk * g.size() - rec.numel, dtype=grad.dtype,
                                                      device=grad.device)])
                mine = ember.empty(rec.chunk, dtype=grad.dtype, device=grad.device)
                dist.reduce_scatter_tensor(mine, padded, op=dist.ReduceOp.AVG, group=g)
                with ember.no_grad():
                    if rec.shard.grad is None:
                        rec.shard.grad = mine
                    else:
                        rec.shard.grad.add_(mine)
            full.grad = None
            rec.owner._parameters[rec.name] = rec.shard
            rec.full = None
        return hook


def _tensors(value):
    if isinstance(value, ember.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    return []


def _pre_forward(module, args):
    module.unshard()


def _post_forward(module, args, output):
    if not module._fsdp_reshard:
        return
    outs = [t for t in _tensors(output) if t.requires_grad and t.grad_fn is not None]
    if not ember.is_grad_enabled() or not outs or not any(r.shard.requires_grad for r in module._fsdp_params):
        module.reshard()
        return
    held = module._fsdp_free_after_forward(outs, _tensors(args))
    if not held:
        return
    pending = [held]

    def pre_backward(grad):
        # the first output gradient backward computes: gather before the module's own nodes run
        if pending:
            module._fsdp_refill(pending.pop())
        return None
    for t in outs:
        t.register_hook(pre_backward)


def fully_shard(module, *, mesh=None, reshard_after_forward=True, shard_placement_fn=None, mp_policy=None,
                offload_policy=None, ignored_params=None):
    """Shard ``module``'s parameters (those not already sharded by a nested call) across the ranks.

    Args:
        module: the module (apply to submodules first, then to the root, as with FSDP2).
        mesh: a device mesh whose group to shard over (default: the default group).
        reshard_after_forward: free the full parameters after forward and all-gather them again when
            backward reaches the module (False: keep them from forward to backward).
        shard_placement_fn: accepted; shards are always flat and even.
        mp_policy: a MixedPrecisionPolicy (accepted; dtypes are kept).
        offload_policy: an OffloadPolicy (accepted).
        ignored_params: parameters to leave unsharded (replicated, not reduced).

    Returns:
        The same module, now an ``FSDPModule``.
    """
    from ember import distributed as dist
    group = dist._group(mesh.get_group() if mesh is not None else None)
    ignored = {id(p) for p in (ignored_params or ())}
    world, rank = group.size(), group.rank()
    records = []
    for owner_name, owner in module.named_modules():
        for name, p in list(owner._parameters.items()):
            if p is None or id(p) in _SHARDED_IDS or id(p) in ignored:
                continue
            numel = p.numel()
            chunk = max(math.ceil(numel / world), 1)
            flat = p.detach().reshape(-1)
            padded = ember.cat([flat, ember.zeros(chunk * world - numel, dtype=p.dtype, device=p.device)])
            shard = Parameter(padded[rank * chunk:(rank + 1) * chunk].clone(), requires_grad=p.requires_grad)
            owner._parameters[name] = shard
            _SHARDED_IDS.add(id(shard))
            records.append(_Sharded(owner, name, shard, tuple(p.shape), numel, chunk))
            register_shard(shard, records[-1], group)
    cls = module.__class__
    if not isinstance(module, FSDPModule):
        module.__class__ = type(f"FSDP{cls.__name__}", (FSDPModule, cls), {})
    module._fsdp_group = group
    module._fsdp_params = records
    module._fsdp_sync = True
    module._fsdp_reshard = reshard_after_forward
    module.register_forward_pre_hook(_pre_forward)
    module.register_forward_hook(_post_forward)
    return module


def _records(model):
    out = {}
    for m in model.modules():
        if isinstance(m, FSDPModule):
            for rec in m._fsdp_params:
                out[id(rec.shard)] = (m, rec)
    return out
