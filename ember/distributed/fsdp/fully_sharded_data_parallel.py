"""``FullyShardedDataParallel``: PyTorch's FSDP1 wrapper module, built over ember's ``fully_shard``.

The wrapper holds the module as ``_fsdp_wrapped_module`` (names it reports leave that out) and
shards it according to ``sharding_strategy``: FULL_SHARD and SHARD_GRAD_OP are ``fully_shard``
with and without resharding after forward, the hybrid strategies shard within a node's ranks and
average the shards' gradients across nodes, and NO_SHARD keeps parameters whole (a shard of one
rank's group) and averages gradients over the group. State dicts follow ``state_dict_type``: full tensors (gathered), or this rank's shards
(which ``ember.distributed.checkpoint`` reassembles, on any number of ranks).
"""
from __future__ import annotations

import contextlib
import math

import ember
from ember import nn
from ember.distributed.fsdp import (
    CPUOffloadPolicy, FSDPModule, MixedPrecisionPolicy, _records, fully_shard, register_shard)
from ember.distributed.fsdp.api import (
    BackwardPrefetch, CPUOffload, FullOptimStateDictConfig, FullStateDictConfig, LocalOptimStateDictConfig,
    LocalStateDictConfig, OptimStateKeyType, ShardedOptimStateDictConfig, ShardedStateDictConfig,
    ShardingStrategy, StateDictSettings, StateDictType)

__all__ = ["FullyShardedDataParallel"]

FSDP_WRAPPED_MODULE = "_fsdp_wrapped_module"
_PREFIX = FSDP_WRAPPED_MODULE + "."
_DEPTH = [0]   # >0 while a root FSDP's state_dict runs: nested wrappers then just delegate

_DEFAULT_CONFIGS = {StateDictType.FULL_STATE_DICT: (FullStateDictConfig, FullOptimStateDictConfig),
                    StateDictType.LOCAL_STATE_DICT: (LocalStateDictConfig, LocalOptimStateDictConfig),
                    StateDictType.SHARDED_STATE_DICT: (ShardedStateDictConfig, ShardedOptimStateDictConfig)}


def _clean(name):
    return name.replace(_PREFIX, "")


class _GroupMesh:
    """The two groups of a (possibly hybrid) FSDP, shaped as the mesh ``fully_shard`` takes."""

    def __init__(self, shard, replicate):
        self.shard, self.replicate = shard, replicate
        self.ndim = 1 if replicate is None else 2

    def get_group(self, dim=None):
        return self.shard if self.ndim == 1 or dim in (1, -1) else self.replicate


def _hybrid_groups():
    """(this node's group, this rank's cross-node group) from LOCAL_WORLD_SIZE (default: the world)."""
    from ember import distributed as dist
    world = dist.get_world_size()
    local = int(__import__("os").environ.get("LOCAL_WORLD_SIZE", world))
    if world % local:
        raise ValueError(f"HYBRID_SHARD needs the world size ({world}) to be a multiple of the node size ({local})")
    nodes = [list(range(n * local, (n + 1) * local)) for n in range(world // local)]
    shard, _ = dist.new_subgroups_by_enumeration(nodes)
    across = [list(range(i, world, local)) for i in range(local)]
    replicate, _ = dist.new_subgroups_by_enumeration(across)
    return shard, replicate


class FullyShardedDataParallel(nn.Module):
    """Shard a module's parameters, gradients and optimizer state across ranks (PyTorch's FSDP1).

    Every rank of the group constructs it with the same module; call the optimizer on the wrapper's
    ``parameters()`` (this rank's shards).

    Args:
        module: the module to wrap.
        process_group: the group to shard over, or ``(shard group, replicate group)`` for the hybrid
            strategies (default: the default group; hybrid: this node's ranks and their peers).
        sharding_strategy: a ShardingStrategy (default FULL_SHARD).
        cpu_offload: a CPUOffload; ``offload_params`` keeps the shards on the CPU.
        auto_wrap_policy: ``policy(module=, recurse=, nonwrapped_numel=)`` deciding which submodules
            get their own FSDP wrapper, or a set of module classes to wrap.
        backward_prefetch: a BackwardPrefetch (gathers run in order on ember's synchronous engine).
        mixed_precision: a MixedPrecision (parameter, reduction and buffer dtypes).
        ignored_modules: modules whose parameters stay unsharded.
        param_init_fn: called on the module when its parameters are on the meta device.
        device_id: the device to move the module to before sharding.
        sync_module_states: broadcast rank 0's parameters and buffers first.
        forward_prefetch: accepted (gathers run in order).
        limit_all_gathers: accepted (one gather is in flight at a time).
        use_orig_params: accepted (parameters always keep their names).
        ignored_states: parameters or modules to leave unsharded.
        device_mesh: a 1-D mesh, or a 2-D (replicate, shard) mesh for the hybrid strategies.
    """

    def __init__(self, module, process_group=None, sharding_strategy=None, cpu_offload=None, auto_wrap_policy=None,
                 backward_prefetch=BackwardPrefetch.BACKWARD_PRE, mixed_precision=None, ignored_modules=None,
                 param_init_fn=None, device_id=None, sync_module_states=False, forward_prefetch=False,
                 limit_all_gathers=True, use_orig_params=False, ignored_states=None, device_mesh=None):
        from ember import distributed as dist
        super().__init__()
        if process_group is not None and device_mesh is not None:
            raise ValueError("Cannot pass both process_group and device_mesh at the same time. Please just pass "
                             "only one of them.")
        strategy = sharding_strategy or ShardingStrategy.FULL_SHARD
        hybrid = strategy in (ShardingStrategy.HYBRID_SHARD, ShardingStrategy._HYBRID_SHARD_ZERO2)
        if device_mesh is not None:
            if hybrid:
                if device_mesh.ndim != 2:
                    raise ValueError(f"a hybrid strategy needs a 2-D device mesh, got {device_mesh.ndim}-D")
                shard, replicate = device_mesh.get_group(1), device_mesh.get_group(0)
            else:
                shard, replicate = device_mesh.get_group(), None
        elif isinstance(process_group, tuple):
            if not hybrid:
                raise ValueError("a (shard, replicate) pair of groups needs a hybrid sharding strategy")
            shard, replicate = process_group
        elif hybrid:
            shard, replicate = (_hybrid_groups() if process_group is None else (process_group, None))
        else:
            shard, replicate = dist._group(process_group), None
        self.process_group = shard
        self.sharding_strategy = strategy
        self.cpu_offload = cpu_offload or CPUOffload()
        self.backward_prefetch, self.forward_prefetch = backward_prefetch, forward_prefetch
        self.limit_all_gathers, self.use_orig_params = limit_all_gathers, use_orig_params
        self.mixed_precision = mixed_precision
        self._fsdp_replicate = replicate if replicate is not None and replicate.size() > 1 else None
        self._state_dict_type = StateDictType.FULL_STATE_DICT
        self._state_dict_config, self._optim_state_dict_config = FullStateDictConfig(), FullOptimStateDictConfig()
        if any(p.device.type == "meta" for p in module.parameters()):
            if param_init_fn is None:
                raise ValueError("the module's parameters are on the meta device: pass param_init_fn")
            param_init_fn(module)
        if device_id is not None:
            module = module.to(ember.device(device_id) if isinstance(device_id, (str, int)) else device_id)
        if sync_module_states:
            from ember.distributed.utils import _sync_module_states
            _sync_module_states(module, shard, src=dist.get_global_rank(shard, 0))
        ignored = set()
        for m in list(ignored_modules or ()) + [s for s in (ignored_states or ()) if isinstance(s, nn.Module)]:
            ignored.update(id(p) for p in m.parameters())
        ignored.update(id(s) for s in (ignored_states or ()) if not isinstance(s, nn.Module))
        kwargs = dict(process_group=process_group, sharding_strategy=sharding_strategy, cpu_offload=cpu_offload,
                      backward_prefetch=backward_prefetch, mixed_precision=mixed_precision,
                      ignored_modules=ignored_modules, forward_prefetch=forward_prefetch,
                      limit_all_gathers=limit_all_gathers, use_orig_params=use_orig_params,
                      ignored_states=ignored_states)
        if hybrid and process_group is None and device_mesh is None:
            kwargs["process_group"] = (shard, replicate)
        if device_mesh is not None:
            kwargs["device_mesh"], kwargs["process_group"] = device_mesh, None
        if auto_wrap_policy is not None:
            _auto_wrap(module, auto_wrap_policy, kwargs, ignored)
        for m in module.modules():   # FSDP instances inside this one are not roots
            if isinstance(m, FullyShardedDataParallel):
                m._fsdp_nested = True
        self._fsdp_wrapped_module = module
        self._buffer_dtypes = {}
        if mixed_precision is not None and mixed_precision.buffer_dtype is not None:
            for name, b in module.named_buffers():
                if b.is_floating_point():
                    self._buffer_dtypes[_clean(name)] = b.dtype
                    b.data = b.data.to(mixed_precision.buffer_dtype)
        if strategy is ShardingStrategy.NO_SHARD:
            # whole parameters: "shards" over this rank alone, gradients averaged over the group
            from ember.distributed.fsdp import _self_group
            shard = _self_group()
            self._fsdp_replicate = self.process_group if self.process_group.size() > 1 else None
        mp = None
        if mixed_precision is not None:
            mp = MixedPrecisionPolicy(param_dtype=mixed_precision.param_dtype,
                                      reduce_dtype=mixed_precision.reduce_dtype or mixed_precision.param_dtype,
                                      cast_forward_inputs=mixed_precision.cast_forward_inputs or
                                      mixed_precision.cast_root_forward_inputs)
        fully_shard(module, mesh=_GroupMesh(shard, self._fsdp_replicate),
                    reshard_after_forward=strategy in (ShardingStrategy.FULL_SHARD, ShardingStrategy.HYBRID_SHARD),
                    mp_policy=mp, offload_policy=CPUOffloadPolicy() if self.cpu_offload.offload_params else None,
                    ignored_params=[p for p in module.parameters() if id(p) in ignored])
        module._fsdp_keep_low_precision_grads = bool(mixed_precision and mixed_precision.keep_low_precision_grads)

    # ------------------------------------------------------------ module protocol
    @property
    def module(self):
        """The wrapped module."""
        return self._fsdp_wrapped_module

    def forward(self, *args, **kwargs):
        """Run the wrapped module (its parameters gathered around the call).

        Args:
            *args: the module's inputs.
            **kwargs: its keyword inputs.

        Returns:
            The module's output.
        """
        return self._fsdp_wrapped_module(*args, **kwargs)

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """The parameters (this rank's shards) under their original names.

        Args:
            prefix: prepended to every name.
            recurse: include submodules'.
            remove_duplicate: yield a shared parameter once.

        Returns:
            An iterator of ``(name, Parameter)``.
        """
        # a full parameter still in place (kept after a forward without reshard) stands for its shard
        shards = {id(rec.full): rec.shard for m in self._fsdp_wrapped_module.modules() if isinstance(m, FSDPModule)
                  for rec in m._fsdp_params if rec.full is not None}
        for name, p in super().named_parameters(prefix, recurse, remove_duplicate):
            yield _clean(name), shards.get(id(p), p)

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """The buffers under their original names.

        Args:
            prefix: prepended to every name.
            recurse: include submodules'.
            remove_duplicate: yield a shared buffer once.

        Returns:
            An iterator of ``(name, tensor)``.
        """
        for name, b in super().named_buffers(prefix, recurse, remove_duplicate):
            yield _clean(name), b

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get("_modules", {}).get(FSDP_WRAPPED_MODULE)
            if inner is None:
                raise
            return getattr(inner, name)

    def __getitem__(self, key):
        return self._fsdp_wrapped_module.__getitem__(key)

    def check_is_root(self):
        """Whether this FSDP instance is the outermost one (no FSDP ancestor wraps it).

        Returns:
            bool.
        """
        return not getattr(self, "_fsdp_nested", False)

    @staticmethod
    def fsdp_modules(module, root_only=False):
        """The FSDP instances in ``module``'s tree (``module`` included).

        Args:
            module: a module.
            root_only: only the outermost ones.

        Returns:
            A list of FullyShardedDataParallel.
        """
        found = [m for m in module.modules() if isinstance(m, FullyShardedDataParallel)]
        return [m for m in found if m.check_is_root()] if root_only else found

    # ------------------------------------------------------------ gradient sync
    @contextlib.contextmanager
    def no_sync(self):
        """A context in which backward accumulates gradients locally without reducing them.

        Yields:
            None.
        """
        inner = self._fsdp_wrapped_module
        inner.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            inner.set_requires_gradient_sync(True)

    def register_comm_hook(self, state, hook):
        """Replace the gradient reduction with ``hook``: ``hook(state, grad)`` reduces ``grad`` in place
        under NO_SHARD; ``hook(state, grad, output)`` fills this rank's shard ``output`` otherwise.

        Args:
            state: passed to the hook.
            hook: the communication hook.

        Returns:
            None.
        """
        if getattr(self, "_comm_hook", None) is not None:
            raise AssertionError("A communication hook is already registered")
        self._comm_hook = (state, hook)
        for m in self._fsdp_wrapped_module.modules():
            if isinstance(m, FSDPModule):
                m._fsdp_comm_hook = (state, hook)
                m._fsdp_comm_hook_unsharded = self.sharding_strategy is ShardingStrategy.NO_SHARD

    def clip_grad_norm_(self, max_norm, norm_type=2.0):
        """Scale the gradients (shards included) so that their total norm is at most ``max_norm``.

        Args:
            max_norm: the largest norm allowed.
            norm_type: the p of the p-norm (``inf`` for the max norm).

        Returns:
            The total norm before clipping (a tensor).
        """
        from ember import distributed as dist
        norm_type = float(norm_type)
        records = _records(self)
        sharded, replicated = [], []
        for p in self.parameters():
            if p.grad is not None:
                (sharded if id(p) in records else replicated).append(p.grad.detach())
        dtype = next((g.dtype for g in sharded + replicated), ember.float32)

        def local(grads):
            if not grads:
                return ember.zeros((), dtype=ember.float64)
            flat = [g.to(ember.float64).abs().reshape(-1) for g in grads]
            if math.isinf(norm_type):
                return ember.stack([f.max() for f in flat]).max()
            return ember.stack([(f ** norm_type).sum() for f in flat]).sum()
        total = local(sharded).reshape(1).clone()
        if self.sharding_strategy is not ShardingStrategy.NO_SHARD:
            dist.all_reduce(total, op=dist.ReduceOp.MAX if math.isinf(norm_type) else dist.ReduceOp.SUM,
                            group=self.process_group)
        rest = local(replicated).reshape(1)
        if math.isinf(norm_type):
            norm = ember.maximum(total, rest)[0]
        else:
            norm = (total + rest)[0] ** (1.0 / norm_type)
        coef = float(max_norm) / (float(norm) + 1e-6)
        if coef < 1:
            with ember.no_grad():
                for p in self.parameters():
                    if p.grad is not None:
                        p.grad.mul_(coef)
        return norm.to(dtype)

    # ------------------------------------------------------------ full parameters
    @staticmethod
    @contextlib.contextmanager
    def summon_full_params(module, recurse=True, writeback=True, rank0_only=False, offload_to_cpu=False,
                           with_grads=False):
        """A context in which the FSDP modules in ``module`` hold their full parameters.

        Args:
            module: an FSDP module (or a tree holding some).
            recurse: also the nested FSDP modules' parameters.
            writeback: copy changes made to the full parameters back into the shards.
            rank0_only: only rank 0 holds the full parameters (the others take part in gathering).
            offload_to_cpu: put the full parameters on the CPU.
            with_grads: also gather the gradients into the full parameters' ``.grad``.

        Yields:
            None.
        """
        from ember import distributed as dist
        if rank0_only and writeback:
            raise ValueError("writeback=True and rank0_only=True is not supported, as model parameter shapes "
                             "will be different across ranks, and writing to them can lead to inconsistencies "
                             "across ranks when the context is exited.")
        tops = [m for m in module.modules() if isinstance(m, FSDPModule)]
        if not recurse:
            tops = tops[:1]
        swapped = []
        for m in tops:
            g = m._fsdp_group
            for rec in m._fsdp_params:
                def gather(t):
                    out = ember.empty(rec.chunk * g.size(), dtype=t.dtype, device=t.device)
                    dist.all_gather_into_tensor(out, t.detach(), group=g)
                    return out[:rec.numel].reshape(rec.shape)
                values = gather(rec.shard)
                grad = gather(rec.shard.grad) if with_grads and rec.shard.grad is not None else None
                if rank0_only and dist.get_rank() != 0:
                    continue
                if offload_to_cpu:
                    values, grad = values.cpu(), (grad.cpu() if grad is not None else None)
                full = nn.Parameter(values.clone(), requires_grad=rec.shard.requires_grad)
                full.grad = grad
                rec.owner._parameters[rec.name] = full
                swapped.append((m, rec, full))
        try:
            yield
        finally:
            with ember.no_grad():
                for m, rec, full in swapped:
                    if writeback:
                        g = m._fsdp_group
                        flat = full.detach().reshape(-1).to(rec.shard.device, rec.shard.dtype)
                        flat = ember.cat([flat, ember.zeros(rec.chunk * g.size() - rec.numel, dtype=flat.dtype,
                                                            device=flat.device)])
                        rec.shard.copy_(flat[g.rank() * rec.chunk:(g.rank() + 1) * rec.chunk])
                    rec.owner._parameters[rec.name] = rec.shard

    # ------------------------------------------------------------ state dicts
    @staticmethod
    def set_state_dict_type(module, state_dict_type, state_dict_config=None, optim_state_dict_config=None):
        """Set the state-dict type of every FSDP module in ``module``.

        Args:
            module: the root module.
            state_dict_type: a StateDictType.
            state_dict_config: its config (default: the type's default).
            optim_state_dict_config: the optimizer state dict's config.

        Returns:
            The previous StateDictSettings.
        """
        fsdps = FullyShardedDataParallel.fsdp_modules(module)
        if not fsdps:
            raise ValueError(f"{type(module).__name__} holds no FullyShardedDataParallel module")
        previous = StateDictSettings(fsdps[0]._state_dict_type, fsdps[0]._state_dict_config,
                                     fsdps[0]._optim_state_dict_config)
        config_cls, optim_cls = _DEFAULT_CONFIGS[state_dict_type]
        if state_dict_config is not None and not isinstance(state_dict_config, config_cls):
            raise RuntimeError(f"Expected state_dict_config of type {config_cls} but got {type(state_dict_config)}")
        if optim_state_dict_config is not None and not isinstance(optim_state_dict_config, optim_cls):
            raise RuntimeError(f"Expected optim_state_dict_config of type {optim_cls} but got "
                               f"{type(optim_state_dict_config)}")
        for m in fsdps:
            m._state_dict_type = state_dict_type
            m._state_dict_config = state_dict_config or config_cls()
            m._optim_state_dict_config = optim_state_dict_config or optim_cls()
        return previous

    @staticmethod
    def get_state_dict_type(module):
        """The state-dict settings of the FSDP modules in ``module`` (they must agree).

        Args:
            module: the root module.

        Returns:
            A StateDictSettings.
        """
        fsdps = FullyShardedDataParallel.fsdp_modules(module)
        if not fsdps:
            raise ValueError(f"{type(module).__name__} holds no FullyShardedDataParallel module")
        first = fsdps[0]
        for m in fsdps[1:]:
            if m._state_dict_type != first._state_dict_type:
                raise AssertionError("All FSDP modules must have the same state_dict settings.")
        return StateDictSettings(first._state_dict_type, first._state_dict_config, first._optim_state_dict_config)

    @staticmethod
    @contextlib.contextmanager
    def state_dict_type(module, state_dict_type, state_dict_config=None, optim_state_dict_config=None):
        """A context in which the FSDP modules of ``module`` use ``state_dict_type``.

        Args:
            module: the root module.
            state_dict_type: a StateDictType.
            state_dict_config: its config.
            optim_state_dict_config: the optimizer state dict's config.

        Yields:
            None.
        """
        previous = FullyShardedDataParallel.set_state_dict_type(module, state_dict_type, state_dict_config,
                                                                optim_state_dict_config)
        try:
            yield
        finally:
            FullyShardedDataParallel.set_state_dict_type(module, previous.state_dict_type,
                                                         previous.state_dict_config,
                                                         previous.optim_state_dict_config)

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """The state dict of the wrapped module, as ``state_dict_type`` says (full, sharded, local).

        Args:
            *args: the deprecated positional form.
            destination: a mapping to fill.
            prefix: prepended to every key.
            keep_vars: keep the tensors themselves (unsharded modules).

        Returns:
            The mapping (empty on ranks other than 0 for a full state dict with ``rank0_only``).
        """
        from collections import OrderedDict

        from ember import distributed as dist
        from ember.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
        if args:
            destination = args[0] if len(args) > 0 else destination
            prefix = args[1] if len(args) > 1 else prefix
            keep_vars = args[2] if len(args) > 2 else keep_vars
        inner = self._fsdp_wrapped_module
        if _DEPTH[0] > 0:   # inside a root's state_dict: report the wrapped module under our own prefix
            return inner.state_dict(destination=destination, prefix=prefix, keep_vars=keep_vars)
        _DEPTH[0] += 1
        try:
            full = self._state_dict_type is StateDictType.FULL_STATE_DICT
            cfg = self._state_dict_config
            values = get_model_state_dict(inner, options=StateDictOptions(full_state_dict=full,
                                                                          cpu_offload=cfg.offload_to_cpu))
        finally:
            _DEPTH[0] -= 1
        out = OrderedDict() if destination is None else destination
        if full and getattr(cfg, "rank0_only", False) and dist.get_rank() != 0:
            return out
        for key, value in values.items():
            if key in self._buffer_dtypes:
                value = value.to(self._buffer_dtypes[key])
            out[prefix + key] = value
        return out

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        # the keys name the original module: route them to the wrapped module under our prefix
        for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(prefix + _PREFIX)]:
            state_dict[prefix + _PREFIX + key[len(prefix):]] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Load a state dict of ``state_dict_type``'s kind (full tensors are split into this rank's shards).

        Args:
            state_dict: the values.
            strict: require the keys to match.
            assign: accepted (values are copied into the shards).

        Returns:
            ``(missing_keys, unexpected_keys)``.
        """
        from ember.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict
        values = {}
        for key, value in state_dict.items():
            if key in self._buffer_dtypes and self.mixed_precision is not None:
                value = value.to(self.mixed_precision.buffer_dtype)
            values[key] = value
        full = self._state_dict_type is StateDictType.FULL_STATE_DICT
        _DEPTH[0] += 1   # nested wrappers report their shards as they are while this loads
        try:
            return set_model_state_dict(self._fsdp_wrapped_module, values,
                                        options=StateDictOptions(full_state_dict=full, strict=strict))
        finally:
            _DEPTH[0] -= 1

    # ------------------------------------------------------------ optimizer state dicts
    @staticmethod
    def _names(model):
        return {id(p): name for name, p in model.named_parameters()}

    @staticmethod
    def _index_params(optim):
        out, i = [], 0
        for group in optim.param_groups:
            for p in group["params"]:
                out.append((i, p))
                i += 1
        return out

    @staticmethod
    def _convert_state(model, value, p, records, full, offload, rank0_only):
        from ember import distributed as dist
        entry = records.get(id(p))
        if isinstance(value, ember.Tensor) and entry is not None and value.dim() > 0 and \
                value.numel() == entry[1].chunk:
            m, rec = entry
            if full:
                g = m._fsdp_group
                gathered = ember.empty(rec.chunk * g.size(), dtype=value.dtype, device=value.device)
                dist.all_gather_into_tensor(gathered, value.detach(), group=g)
                value = gathered[:rec.numel].reshape(rec.shape)
            else:
                value = value.detach()
                register_shard(value, rec, m._fsdp_group)
        elif isinstance(value, ember.Tensor):
            value = value.detach()
        if offload and isinstance(value, ember.Tensor):
            value = value.cpu()
            if entry is not None and not full and value.dim() > 0 and value.numel() == entry[1].chunk:
                register_shard(value, entry[1], entry[0]._fsdp_group)
        return value

    @staticmethod
    def optim_state_dict(model, optim, optim_state_dict=None, group=None):
        """``optim``'s state dict keyed by parameter names, full or sharded as ``model``'s
        state-dict type says.

        Args:
            model: the FSDP root module.
            optim: its optimizer.
            optim_state_dict: the optimizer's state dict (default: ``optim.state_dict()``).
            group: unused (each module's own group is used).

        Returns:
            ``{"state": {name: {...}}, "param_groups": [{..., "params": [names]}]}``.
        """
        from ember import distributed as dist
        settings = FullyShardedDataParallel.get_state_dict_type(model)
        full = settings.state_dict_type is StateDictType.FULL_STATE_DICT
        cfg = settings.optim_state_dict_config
        osd = optim_state_dict if optim_state_dict is not None else optim.state_dict()
        names = FullyShardedDataParallel._names(model)
        index = dict(FullyShardedDataParallel._index_params(optim))
        records = _records(model)
        state = {}
        for i, values in osd["state"].items():
            p = index[int(i)]
            state[names[id(p)]] = {k: FullyShardedDataParallel._convert_state(model, v, p, records, full,
                                                                              cfg.offload_to_cpu, False)
                                   for k, v in values.items()}
        groups = [dict(g, params=[names[id(index[int(i)])] for i in g["params"]]) for g in osd["param_groups"]]
        if full and getattr(cfg, "rank0_only", False) and dist.get_rank() != 0:
            return {}
        return {"state": state, "param_groups": groups}

    @staticmethod
    def optim_state_dict_to_load(model, optim, optim_state_dict, is_named_optimizer=False, load_directly=False,
                                 group=None):
        """Turn a name-keyed optimizer state dict (from ``optim_state_dict``) back into the form
        ``optim.load_state_dict`` takes, taking this rank's shard of full state tensors.

        Args:
            model: the FSDP root module.
            optim: its optimizer.
            optim_state_dict: the name-keyed state dict.
            is_named_optimizer: keep names as keys (for optimizers keyed by name).
            load_directly: also load it into ``optim``.
            group: unused.

        Returns:
            The optimizer state dict.
        """
        names = FullyShardedDataParallel._names(model)
        pairs = FullyShardedDataParallel._index_params(optim)
        by_name = {names[id(p)]: (i, p) for i, p in pairs}
        records = _records(model)
        state = {}
        for name, values in optim_state_dict["state"].items():
            if name not in by_name:
                raise RuntimeError(f"optimizer state for {name!r} names no parameter of the model")
            i, p = by_name[name]
            entry = records.get(id(p))
            out = {}
            for k, v in values.items():
                if isinstance(v, ember.Tensor) and entry is not None and v.dim() > 0 and \
                        tuple(v.shape) == tuple(entry[1].shape) and v.numel() == entry[1].numel:
                    m, rec = entry
                    g = m._fsdp_group
                    flat = v.detach().reshape(-1).to(p.device)
                    flat = ember.cat([flat, ember.zeros(rec.chunk * g.size() - rec.numel, dtype=flat.dtype,
                                                        device=flat.device)])
                    v = flat[g.rank() * rec.chunk:(g.rank() + 1) * rec.chunk].clone()
                elif isinstance(v, ember.Tensor):
                    v = v.to(p.device) if v.dim() > 0 else v
                out[k] = v
            state[name if is_named_optimizer else i] = out
        groups = []
        for g in optim_state_dict["param_groups"]:
            groups.append(dict(g, params=[n if is_named_optimizer else by_name[n][0] for n in g["params"]]))
        result = {"state": state, "param_groups": groups}
        if load_directly:
            optim.load_state_dict(result)
        return result

    @staticmethod
    def full_optim_state_dict(model, optim, optim_input=None, rank0_only=True, group=None):
        """The full (gathered) name-keyed optimizer state dict (deprecated form of ``optim_state_dict``).

        Args:
            model: the FSDP root module.
            optim: its optimizer.
            optim_input: unused.
            rank0_only: only rank 0 receives it (the others an empty dict).
            group: unused.

        Returns:
            The state dict.
        """
        with FullyShardedDataParallel.state_dict_type(model, StateDictType.FULL_STATE_DICT, None,
                                                      FullOptimStateDictConfig(rank0_only=rank0_only)):
            return FullyShardedDataParallel.optim_state_dict(model, optim)

    @staticmethod
    def sharded_optim_state_dict(model, optim, group=None):
        """This rank's shards of the optimizer state, keyed by name (deprecated form).

        Args:
            model: the FSDP root module.
            optim: its optimizer.
            group: unused.

        Returns:
            The state dict.
        """
        with FullyShardedDataParallel.state_dict_type(model, StateDictType.SHARDED_STATE_DICT):
            return FullyShardedDataParallel.optim_state_dict(model, optim)

    @staticmethod
    def shard_full_optim_state_dict(full_optim_state_dict, model, optim_input=None, optim=None):
        """This rank's part of a full name-keyed optimizer state dict, ready for ``optim.load_state_dict``.

        Args:
            full_optim_state_dict: the full state dict.
            model: the FSDP root module.
            optim_input: unused.
            optim: the optimizer.

        Returns:
            The optimizer state dict.
        """
        if optim is None:
            raise ValueError("shard_full_optim_state_dict needs optim= to map names to its parameters")
        return FullyShardedDataParallel.optim_state_dict_to_load(model, optim, full_optim_state_dict)

    @staticmethod
    def flatten_sharded_optim_state_dict(sharded_optim_state_dict, model, optim):
        """A sharded name-keyed optimizer state dict in the form ``optim.load_state_dict`` takes.

        Args:
            sharded_optim_state_dict: from ``sharded_optim_state_dict``.
            model: the FSDP root module.
            optim: its optimizer.

        Returns:
            The optimizer state dict.
        """
        return FullyShardedDataParallel.optim_state_dict_to_load(model, optim, sharded_optim_state_dict)

    @staticmethod
    def scatter_full_optim_state_dict(full_optim_state_dict, model, optim_input=None, optim=None, group=None):
        """Send rank 0's full optimizer state dict to every rank and take each rank's part.

        Args:
            full_optim_state_dict: the state dict on rank 0 (ignored elsewhere).
            model: the FSDP root module.
            optim_input: unused.
            optim: the optimizer.
            group: the group (default: the default group).

        Returns:
            The optimizer state dict for ``optim.load_state_dict``.
        """
        from ember import distributed as dist
        box = [full_optim_state_dict if dist.get_rank() == 0 else None]
        dist.broadcast_object_list(box, src=0, group=group)
        return FullyShardedDataParallel.shard_full_optim_state_dict(box[0], model, optim=optim)

    @staticmethod
    def rekey_optim_state_dict(optim_state_dict, optim_state_key_type, model, optim_input=None, optim=None):
        """Re-key an optimizer state dict between parameter names and integer ids.

        Args:
            optim_state_dict: the state dict.
            optim_state_key_type: the OptimStateKeyType wanted.
            model: the module (its ``named_parameters`` order defines the ids).
            optim_input: the parameters in the optimizer's order (default: ``model.parameters()``).
            optim: the optimizer (its order instead).

        Returns:
            The re-keyed state dict.
        """
        if optim is not None:
            params = [p for _, p in FullyShardedDataParallel._index_params(optim)]
        else:
            params = list(optim_input) if optim_input is not None else list(model.parameters())
            if params and isinstance(params[0], dict):
                params = [p for g in params for p in g["params"]]
        names = FullyShardedDataParallel._names(model)
        id_to_name = {i: names[id(p)] for i, p in enumerate(params)}
        name_to_id = {n: i for i, n in id_to_name.items()}
        to_name = optim_state_key_type is OptimStateKeyType.PARAM_NAME

        def key(k):
            if to_name:
                return id_to_name[k] if isinstance(k, int) else k
            return name_to_id[k] if isinstance(k, str) else k
        return {"state": {key(k): v for k, v in optim_state_dict["state"].items()},
                "param_groups": [dict(g, params=[key(k) for k in g["params"]])
                                 for g in optim_state_dict["param_groups"]]}

    def extra_repr(self):
        return f"sharding_strategy={self.sharding_strategy.name}"


def _auto_wrap(module, policy, kwargs, ignored):
    """Wrap ``module``'s submodules (deepest first) in their own FSDP where ``policy`` says so."""
    def wants(m, numel):
        if isinstance(policy, (set, frozenset, list, tuple)):
            return isinstance(m, tuple(policy))
        if hasattr(policy, "_module_classes"):   # a ModuleWrapPolicy-like object
            return isinstance(m, tuple(policy._module_classes))
        return policy(module=m, recurse=False, nonwrapped_numel=numel)

    def visit(parent):
        for name, child in list(parent._modules.items()):
            if child is None or isinstance(child, FullyShardedDataParallel):
                continue
            visit(child)
            numel = sum(p.numel() for p in child.parameters() if id(p) not in ignored and
                        not isinstance(p, type(None)))
            if wants(child, numel):
                wrapped = FullyShardedDataParallel(child, **kwargs)
                wrapped._fsdp_nested = True
                parent._modules[name] = wrapped
    visit(module)
