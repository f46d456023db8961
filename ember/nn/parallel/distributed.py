"""``DistributedDataParallel``: one model replica per rank, gradients averaged across ranks.

Gradients are averaged in buckets of about ``bucket_cap_mb``: each parameter's post-accumulate
hook marks it ready, and when every parameter of a bucket is ready the bucket's all-reduce is
started (non-blocking) while backward goes on computing the rest, so communication overlaps
computation. The last ready parameter waits for the buckets and writes the averages back into
``.grad``. Buckets fill in reverse parameter order, the order a backward usually produces them.
"""
from __future__ import annotations

import contextlib

import numpy as np

import ember
from ember.nn.modules.module import Module


class _Bucket:
    __slots__ = ("params", "offsets", "pending", "flat", "request", "numel", "dtype")

    def __init__(self, params, dtype):
        self.params = params
        self.dtype = dtype
        self.offsets, n = [], 0
        for p in params:
            self.offsets.append(n)
            n += p.numel()
        self.numel = n
        self.flat = None
        self.request = None
        self.pending = 0


def _np_dtype(t):
    return ember.empty(0, dtype=t.dtype).numpy().dtype


class DistributedDataParallel(Module):
    """Replicate ``module`` on every rank of a process group and average its gradients in backward.

    Args:
        module: the model (on this rank's device).
        device_ids: the one device this replica uses (accepted; the module is already on it).
        output_device: unused (outputs stay where the module puts them).
        dim: the batch dimension (unused: each rank feeds its own shard).
        broadcast_buffers: copy rank 0's buffers (e.g. BatchNorm statistics) to every rank before
            each forward.
        process_group: the group to average over (default: the default group).
        bucket_cap_mb: the size of a gradient bucket in megabytes (default 25).
        find_unused_parameters: look through each forward's graph for parameters that get no
            gradient and count them as reduced, instead of waiting for them.
        check_reduction: unused, as in PyTorch.
        gradient_as_bucket_view: accepted; gradients stay their own tensors.
        static_graph: accepted; the graph is handled per iteration either way.
        delay_all_reduce_named_params: accepted for compatibility.
        param_to_hook_all_reduce: accepted for compatibility.
        mixed_precision: accepted for compatibility.
        device_mesh: a mesh whose group to use (its ``get_group()``), instead of ``process_group``.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 init_sync=True, process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None):
        super().__init__()
        from ember import distributed as dist
        if process_group is None and device_mesh is not None:
            process_group = device_mesh.get_group()
        self.process_group = dist._group(process_group)
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 1024 * 1024)
        self.require_backward_grad_sync = True
        params = [p for _, p in module.named_parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any "
                               "parameter that requires a gradient.")
        self._params = params
        self._world = self.process_group.size()
        if init_sync:
            # every replica starts from rank 0's values
            with ember.no_grad():
                for t in list(module.parameters()) + list(module.buffers()):
                    dist.broadcast(t, group_src=0, group=self.process_group)
        self._buckets, self._bucket_of = self._make_buckets(params)
        self._handles = [p.register_post_accumulate_grad_hook(self._ready_hook(i)) for i, p in enumerate(params)]
        self._expecting = False     # a synchronising backward is due
        self._hook_fired = False    # ... and has begun
        self._launched = 0
        self._unused_ids = set()
        self._comm_hook = None      # (state, hook) from register_comm_hook

    def register_comm_hook(self, state, hook):
        """Reduce each gradient bucket with ``hook(state, bucket)`` instead of the built-in average.

        The hook gets an ``ember.distributed.GradBucket`` and returns an ``ember.futures.Future``
        whose value is the bucket's reduced flat gradient (``bucket.buffer()``'s shape); those
        values become the parameters' ``.grad`` (the hook does any averaging itself, as
        ``default_hooks.allreduce_hook`` does).

        Args:
            state: passed to the hook as its first argument (e.g. a process group).
            hook: the callable.

        Raises:
            RuntimeError: if a hook is already registered.
        """
        if self._comm_hook is not None:
            raise RuntimeError("register_comm_hook or register_builtin_comm_hook can only be called once.")
        if not callable(hook):
            raise TypeError(f"Communication hook must be callable, got {type(hook).__name__}")
        self._comm_hook = (state, hook)

    # -------------------------------------------------------------- buckets
    def _make_buckets(self, params):
        buckets, bucket_of, current, size = [], {}, [], 0
        for i in reversed(range(len(params))):
            p = params[i]
            nbytes = p.numel() * p.element_size()
            if current and (size + nbytes > self.bucket_bytes_cap or p.dtype != current[0][1].dtype
                            or p.device != current[0][1].device):
                buckets.append(current)
                current, size = [], 0
            current.append((i, p))
            size += nbytes
        if current:
            buckets.append(current)
        out = []
        for b, members in enumerate(buckets):
            bucket = _Bucket([p for _, p in members], members[0][1].dtype)
            for k, (i, _) in enumerate(members):
                bucket_of[i] = (b, k)
            out.append(bucket)
        return out, bucket_of

    def _ready_hook(self, index):
        def hook(param):
            if self._expecting:
                self._hook_fired = True
                self._mark_ready(index)
        return hook

    def _mark_ready(self, index):
        b, _ = self._bucket_of[index]
        bucket = self._buckets[b]
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch(bucket)
            self._launched += 1
            if self._launched == len(self._buckets):
                self._finish()

    def _launch(self, bucket):
        from ember import distributed as dist
        if self._comm_hook is None and dist._nccl_route(self.process_group, bucket.params[0]) is not None:
            # GPU gradients on an NCCL group: flattened and averaged in device memory
            flat = ember.cat([p.grad.detach().reshape(-1) if p.grad is not None and id(p) not in self._unused_ids
                              else ember.zeros(p.numel(), dtype=p.dtype, device=p.device) for p in bucket.params])
            bucket.flat = flat
            bucket.request = dist.all_reduce(flat, op=dist.ReduceOp.AVG, group=self.process_group, async_op=True)
            return
        parts = []
        for p in bucket.params:
            if p.grad is None or id(p) in self._unused_ids:
                parts.append(np.zeros(p.numel(), dtype=_np_dtype(p)))
            else:
                parts.append(dist._host(p.grad)[0].reshape(-1))
        flat = np.concatenate(parts) if len(parts) > 1 else parts[0].copy()
        if self._comm_hook is not None:
            state, hook = self._comm_hook
            buffer = ember.from_numpy(flat).to(bucket.params[0].device)
            index = self._buckets.index(bucket)
            view = dist.GradBucket(index, buffer, bucket.params, bucket.offsets, index == len(self._buckets) - 1)
            bucket.flat, bucket.request = None, hook(state, view)
            return
        src, op, back = dist._reduce_plan(flat, dist.ReduceOp.SUM)
        bucket.flat = (np.empty_like(src), back)
        bucket.request = self.process_group._comm.Iallreduce(src, bucket.flat[0], op=op)

    def _finish(self):
        from ember import distributed as dist
        g = self.process_group
        used = None
        if self.find_unused_parameters:
            # which parameters got a gradient on some rank: those stay None nowhere
            local = np.array([0 if id(p) in self._unused_ids else 1 for p in self._params], dtype=np.uint8)
            used = np.empty_like(local)
            req = g._comm.Iallreduce(local, used, op=dist._mpi().MAX)
            dist._wait_all([req], g._timeout, "DistributedDataParallel unused-parameter exchange")
        for bucket in self._buckets:
            if self._comm_hook is not None:
                reduced = bucket.request.wait()
                if isinstance(reduced, (list, tuple)):
                    reduced = reduced[0]
                if tuple(reduced.shape) != (bucket.numel,):
                    raise RuntimeError(f"the communication hook returned a tensor of shape {list(reduced.shape)} for "
                                       f"a bucket of {bucket.numel} gradient elements")
                avg = dist._host(reduced.to(bucket.params[0].dtype))[0]
            elif isinstance(bucket.flat, ember.Tensor):
                bucket.request.wait()
                avg = bucket.flat   # averaged on the device
            else:
                dist._wait_all([bucket.request], g._timeout, "DistributedDataParallel gradient all-reduce")
                total, back = bucket.flat
                avg = total / self._world
                if back is not None:
                    avg = back(avg)
            for p, off in zip(bucket.params, bucket.offsets):
                if used is not None and not used[self._index[id(p)]]:
                    continue
                values = avg[off:off + p.numel()].reshape(tuple(p.shape))
                with ember.no_grad():
                    if isinstance(values, ember.Tensor):
                        if p.grad is None:
                            p.grad = values.clone()
                        else:
                            p.grad.copy_(values)
                    elif p.grad is None:
                        p.grad = ember.from_numpy(np.array(values)).to(p.device)
                    else:
                        dist._store(p.grad, values)
            bucket.flat = bucket.request = None
        self._expecting = False

    # -------------------------------------------------------------- forward
    def _prepare(self):
        # only a backward that started reducing and could not finish is an error (a forward
        # whose output never went through backward, e.g. an evaluation pass, is not)
        if self._expecting and self._hook_fired:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. "
                "This error indicates that your module has parameters that were not used in producing "
                "loss. You can enable unused parameter detection by passing the keyword argument "
                "`find_unused_parameters=True` to `torch.nn.parallel.DistributedDataParallel`; "
                f"parameters that received no gradient: {self._unready_names()}")
        for bucket in self._buckets:
            bucket.pending = len(bucket.params)
            bucket.flat = bucket.request = None
        self._launched = 0
        self._unused_ids = set()
        self._expecting = True
        self._hook_fired = False

    def _unready_names(self):
        names = {id(p): n for n, p in self.module.named_parameters()}
        return [names.get(id(p), "?") for b in self._buckets if b.pending for p in b.params]

    def _sync_buffers(self):
        from ember import distributed as dist
        with ember.no_grad():
            for b in self.module.buffers():
                dist.broadcast(b, group_src=0, group=self.process_group)

    def forward(self, *inputs, **kwargs):
        """Run the replica; with gradients enabled, arrange for the next backward to average them.

        Args:
            *inputs: the module's positional arguments (this rank's shard of the batch).
            **kwargs: its keyword arguments.

        Returns:
            The module's output.
        """
        if self.broadcast_buffers and self._world > 1:
            self._sync_buffers()
        sync = ember.is_grad_enabled() and self.require_backward_grad_sync
        if sync:
            self._prepare()
        out = self.module(*inputs, **kwargs)
        if sync and self.find_unused_parameters:
            self._mark_unused(out)
        return out

    def _mark_unused(self, out):
        self._index = {id(p): i for i, p in enumerate(self._params)}
        reached = set()
        stack = [t.grad_fn for t in _tensors(out) if t.grad_fn is not None]
        seen = set()
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            variable = getattr(node, "variable", None)
            if variable is not None:
                reached.add(id(variable))
                continue
            for nxt, _ in node.next_functions:
                stack.append(nxt)
        for t in _tensors(out):  # an output that is itself a parameter
            if t.grad_fn is None and t.requires_grad:
                reached.add(id(t))
        for i, p in enumerate(self._params):
            if id(p) not in reached:
                self._unused_ids.add(id(p))
                self._mark_ready(i)

    @contextlib.contextmanager
    def no_sync(self):
        """A context in which forward/backward only accumulate local gradients; the first
        backward after it averages the accumulated sums.

        Returns:
            A context manager.
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def join(self, divide_by_initial_world_size=True, enable=True, throw_on_early_termination=False):
        """A context for uneven inputs; here every rank must run the same number of steps.

        Args:
            divide_by_initial_world_size: accepted for compatibility.
            enable: accepted for compatibility.
            throw_on_early_termination: accepted for compatibility.

        Returns:
            A context manager.
        """
        return contextlib.nullcontext()


def _tensors(out):
    if isinstance(out, ember.Tensor):
        yield out
    elif isinstance(out, (list, tuple)):
        for o in out:
            yield from _tensors(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from _tensors(o)
