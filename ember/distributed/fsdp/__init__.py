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

__all__ = ["fully_shard", "FSDPModule", "MixedPrecisionPolicy", "OffloadPolicy", "CPUOffloadPolicy", "UnshardHandle",
           "register_fsdp_forward_method", "share_comm_ctx", "DataParallelMeshDims", "FullyShardedDataParallel",
           "ShardingStrategy", "CPUOffload", "MixedPrecision", "BackwardPrefetch", "StateDictType", "StateDictConfig",
           "FullStateDictConfig", "ShardedStateDictConfig", "LocalStateDictConfig", "OptimStateDictConfig",
           "FullOptimStateDictConfig", "ShardedOptimStateDictConfig", "LocalOptimStateDictConfig",
           "StateDictSettings", "OptimStateKeyType"]


class MixedPrecisionPolicy:
    """The dtypes of a sharded module's compute: full parameters are gathered in ``param_dtype``,
    gradients reduced in ``reduce_dtype`` (default: ``param_dtype``), outputs cast to ``output_dtype``;
    the shards (and the optimizer) keep their own dtype.

    Args:
        param_dtype: the dtype forward and backward compute in (None: the shards').
        reduce_dtype: the dtype of the gradient reduce-scatter (None: the gradients').
        output_dtype: cast floating-point outputs to it (None: unchanged).
        cast_forward_inputs: cast floating-point forward inputs to ``param_dtype``.
    """

    def __init__(self, param_dtype=None, reduce_dtype=None, output_dtype=None, cast_forward_inputs=True):
        self.param_dtype, self.reduce_dtype = param_dtype, reduce_dtype
        self.output_dtype, self.cast_forward_inputs = output_dtype, cast_forward_inputs


class OffloadPolicy:
    """No offloading (FSDP2's default policy)."""


class CPUOffloadPolicy(OffloadPolicy):
    """Keep the shards (and so the optimizer step and its state) on the CPU: full parameters are
    gathered onto the module's device for forward and backward, gradients come back to the CPU.

    Args:
        pin_memory: accepted (host memory is what ember's CPU tensors use).
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
    # the table is bound now: at interpreter exit the module's globals may already be gone
    _SHARD_INFO[key] = (weakref.ref(tensor, lambda _ref, key=key, table=_SHARD_INFO: table.pop(key, None)), rec,
                        group)


def shard_info(tensor):
    """``(_Sharded, group)`` if ``tensor`` is a registered shard, else None."""
    entry = _SHARD_INFO.get(id(tensor))
    return (entry[1], entry[2]) if entry is not None and entry[0]() is tensor else None


class FSDPModule:
    """The methods a module gains from ``fully_shard`` (its class becomes ``FSDP<Class>``)."""

    def unshard(self, async_op=False):
        """All-gather this module's shards into full parameters.

        Args:
            async_op: return an UnshardHandle (the gather has completed when it returns).

        Returns:
            An UnshardHandle when ``async_op``, else None.
        """
        for rec in self._fsdp_params:
            if rec.full is not None:
                continue
            full = Parameter(self._fsdp_gather(rec), requires_grad=rec.shard.requires_grad)
            if full.requires_grad:
                full.register_post_accumulate_grad_hook(self._fsdp_grad_hook(rec))
            rec.full = full
            rec.owner._parameters[rec.name] = full
        return UnshardHandle() if async_op else None

    def _fsdp_gather(self, rec):
        """The full value of ``rec``'s parameter, all-gathered from the ranks' shards."""
        from ember import distributed as dist
        g = self._fsdp_group
        gathered = ember.empty(rec.chunk * g.size(), dtype=rec.shard.dtype, device=rec.shard.device)
        dist.all_gather_into_tensor(gathered, rec.shard.detach(), group=g)
        full = gathered[:rec.numel].reshape(rec.shape).clone()
        if self._fsdp_param_dtype is not None and full.is_floating_point():
            full = full.to(self._fsdp_param_dtype)
        if self._fsdp_compute_device is not None:
            full = full.to(self._fsdp_compute_device)
        return full

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
            if self._fsdp_reduce_dtype is not None:
                grad = grad.to(self._fsdp_reduce_dtype)
            grad = grad.to(rec.shard.device)
            if rec.pending is not None:
                grad = grad + rec.pending
            if not self._fsdp_sync:
                rec.pending = grad.clone()
            else:
                rec.pending = None
                padded = ember.cat([grad, ember.zeros(rec.chunk * g.size() - rec.numel, dtype=grad.dtype,
                                                      device=grad.device)])
                mine = ember.empty(rec.chunk, dtype=grad.dtype, device=grad.device)
                hook = getattr(self, "_fsdp_comm_hook", None)
                unsharded = hook is not None and getattr(self, "_fsdp_comm_hook_unsharded", False)
                if unsharded:   # FSDP1 NO_SHARD's hook(state, grad): it reduces the whole gradient itself
                    mine.copy_(padded[:rec.chunk])
                    hook[1](hook[0], mine)
                elif hook is not None:   # FSDP1's register_comm_hook: the hook fills this rank's shard
                    hook[1](hook[0], padded, mine)
                else:
                    dist.reduce_scatter_tensor(mine, padded, op=dist.ReduceOp.AVG, group=g)
                if self._fsdp_replicate_group is not None and not unsharded:
                    # HSDP: average the shard across the replicas
                    dist.all_reduce(mine, op=dist.ReduceOp.AVG, group=self._fsdp_replicate_group)
                if not getattr(self, "_fsdp_keep_low_precision_grads", False):
                    mine = mine.to(rec.shard.dtype)
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
    dtype = module._fsdp_param_dtype
    if dtype is not None and module._fsdp_cast_inputs:
        from ember.distributed.utils import _apply_to_tensors
        return _apply_to_tensors(lambda t: t.to(dtype) if t.is_floating_point() else t, tuple(args))
    if module._fsdp_compute_device is not None:
        from ember.distributed.utils import _apply_to_tensors
        return _apply_to_tensors(lambda t: t.to(module._fsdp_compute_device), tuple(args))
    return None


def _post_forward(module, args, output):
    if module._fsdp_output_dtype is not None:
        from ember.distributed.utils import _apply_to_tensors
        dtype = module._fsdp_output_dtype
        output = _apply_to_tensors(lambda t: t.to(dtype) if t.is_floating_point() else t, output)
        _reshard_after(module, args, output)
        return output
    _reshard_after(module, args, output)
    return None


def _reshard_after(module, args, output):
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
                offload_policy=None, ignored_params=None, dp_mesh_dims=None):
    """Shard ``module``'s parameters (those not already sharded by a nested call) across the ranks.

    Args:
        module: the module (apply to submodules first, then to the root, as with FSDP2).
        mesh: a device mesh: 1-D, shard over its group; 2-D (HSDP), replicate over dim 0 and shard over
            dim 1 (default: shard over the default group).
        reshard_after_forward: free the full parameters after forward and all-gather them again when
            backward reaches the module (False: keep them from forward to backward).
        shard_placement_fn: accepted; shards are always flat and even.
        mp_policy: a MixedPrecisionPolicy (the dtypes of compute, reduction and outputs).
        offload_policy: an OffloadPolicy; CPUOffloadPolicy keeps the shards on the CPU.
        ignored_params: parameters to leave unsharded (replicated, not reduced).
        dp_mesh_dims: a DataParallelMeshDims naming the mesh dimensions to shard over and to
            replicate over (several names are flattened into one dimension).

    Returns:
        The same module, now an ``FSDPModule``.
    """
    from ember import distributed as dist
    group, replicate = _mesh_groups(mesh, dp_mesh_dims)
    offload = isinstance(offload_policy, CPUOffloadPolicy)
    compute_device = next((p.device for p in module.parameters()), None) if offload else None
    if compute_device is not None and compute_device.type == "cpu":
        compute_device = None
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
            piece = padded[rank * chunk:(rank + 1) * chunk].clone()
            shard = Parameter(piece.cpu() if offload else piece, requires_grad=p.requires_grad)
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
    module._fsdp_reshard = reshard_after_forward if reshard_after_forward is not None else True
    module._fsdp_replicate_group = replicate
    mp = mp_policy or MixedPrecisionPolicy()
    module._fsdp_param_dtype, module._fsdp_output_dtype = mp.param_dtype, mp.output_dtype
    module._fsdp_reduce_dtype = mp.reduce_dtype
    module._fsdp_cast_inputs = mp.cast_forward_inputs
    module._fsdp_compute_device = compute_device
    module.register_forward_pre_hook(_pre_forward)
    module.register_forward_hook(_post_forward)
    return module


def _mesh_groups(mesh, dp_mesh_dims):
    """(the group to shard over, the group to replicate over or None) for ``fully_shard``'s mesh."""
    from ember import distributed as dist
    if mesh is None:
        return dist._group(None), None
    if dp_mesh_dims is not None:
        def group_of(names):
            if not names:
                return None
            sub = mesh[names]
            return sub.get_group() if sub.ndim == 1 else sub._flatten().get_group()
        shard, replicate = group_of(dp_mesh_dims.shard_names), group_of(dp_mesh_dims.replicate_names)
        if shard is None:   # replicate only: every rank holds the whole parameter (a group of one)
            shard = _self_group()
        return shard, (replicate if replicate is not None and replicate.size() > 1 else None)
    if mesh.ndim == 1:
        return mesh.get_group(), None
    if mesh.ndim == 2:
        replicate = mesh.get_group(0)
        return mesh.get_group(1), (replicate if replicate.size() > 1 else None)
    raise ValueError(f"fully_shard expects a 1-D or 2-D mesh, got {mesh.ndim}-D (pass dp_mesh_dims)")


def _self_group():
    """A group of this rank alone (made without the others, over MPI's COMM_SELF)."""
    from ember import distributed as dist
    return dist._make_group(dist._mpi().COMM_SELF.Dup(), [dist.get_rank()], dist.get_backend(),
                            dist._world()._timeout)


class UnshardHandle:
    """The handle ``FSDPModule.unshard(async_op=True)`` returns; ``wait()`` returns once the full
    parameters are in place (ember's gather completes before ``unshard`` returns)."""

    def wait(self):
        """Wait for the all-gather.

        Returns:
            None.
        """
        return None


def register_fsdp_forward_method(module, method_name):
    """Make ``module.<method_name>`` run as forward does under ``fully_shard``: parameters gathered
    before, resharded after (for methods such as ``generate`` called instead of forward).

    Args:
        module: an FSDPModule (other modules are left alone).
        method_name: the method's name.

    Returns:
        None.
    """
    if not isinstance(module, FSDPModule):
        return
    if not hasattr(module, method_name):
        raise ValueError(f"{type(module)} does not have a method {method_name}")
    original = getattr(module, method_name)

    def wrapped(*args, **kwargs):
        cast = _pre_forward(module, args)
        out = original(*(cast if cast is not None else args), **kwargs)
        replaced = _post_forward(module, args, out)
        return out if replaced is None else replaced
    setattr(module, method_name, wrapped)


def share_comm_ctx(modules):
    """Let ``modules`` (FSDPModules, e.g. pipeline stages) share one communication context. ember's
    collectives run on the MPI engine's single context already, so this checks the modules and
    records the sharing (``module._fsdp_comm_ctx`` is the same object for all).

    Args:
        modules: a list of FSDPModules.

    Returns:
        None.
    """
    if not modules:
        return
    for m in modules:
        if not isinstance(m, FSDPModule):
            raise ValueError(f"Expects list of FSDPModules but got {m}")
    ctx = getattr(modules[0], "_fsdp_comm_ctx", None) or object()
    for m in modules:
        m._fsdp_comm_ctx = ctx


def _records(model):
    out = {}
    for m in model.modules():
        if isinstance(m, FSDPModule):
            for rec in m._fsdp_params:
                out[id(rec.shard)] = (m, rec)
    return out


from ember.distributed.fsdp.api import (  # noqa: E402
    BackwardPrefetch, CPUOffload, DataParallelMeshDims, FullOptimStateDictConfig, FullStateDictConfig,
    LocalOptimStateDictConfig, LocalStateDictConfig, MixedPrecision, OptimStateDictConfig, OptimStateKeyType,
    ShardedOptimStateDictConfig, ShardedStateDictConfig, ShardingStrategy, StateDictConfig, StateDictSettings,
    StateDictType)
from ember.distributed.fsdp.fully_sharded_data_parallel import FullyShardedDataParallel  # noqa: E402
