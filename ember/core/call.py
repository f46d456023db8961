"""The tensor-level dispatcher: from Tensors to the kernel that runs, and back.

``call(op, *inputs, **attrs)`` walks the call's dispatch keys (``ember.dispatch.keys``):
the active mode handlers first (Autocast), each passing the call on below itself; then
the device of the tensor inputs picks the backend kernel, which runs on the native
arrays; the result is wrapped, and under the Autograd key (grad mode on, an input
requires grad) a graph Node is recorded.
"""
from __future__ import annotations

from ember.core import autograd as ag
from ember.core.anomaly import ANOMALY, record_forward_trace
from ember.core.autograd import GRAD_MODE, Node, edge_of, new_edge, new_node, save_input, save_output
from ember.core.dtype import FLOAT
from ember.core.device import device as Device
from ember.core.layout import SPARSE_DENSE, SPARSE_OPS, SparseData
from ember.core.tensor import INFERENCE_THREADS, InferenceVersionCounter, Tensor, make_tensor, version_counter
from ember.dispatch.keys import ACTIVE, BATCHED, BATCHED_HOOKS
from ember.dispatch.ops import OPS
from ember.dispatch.registry import REGISTRY
from ember.dispatch.table import DECOMPOSE, resolve
from ember.dispatch.tracing import recorded
from ember.core.dual import DUAL, dual_call, write_tangent
from ember.core.limited_call import limited_call

_BACKENDS = {}  # device type -> available Backend


def backend_of(device_type: str):
    b = _BACKENDS.get(device_type)
    if b is None:
        b = _BACKENDS[device_type] = REGISTRY.available_backend(device_type)
    return b


def _common_device(op, inputs):
    """The device of a call; 0-d CPU tensors may join any device (moved there)."""
    found = None
    for t in inputs:
        if isinstance(t, Tensor):
            d = t.device
            if found is None or found == d:
                found = d
            elif found.type == "cpu" and _is_cpu_scalar(inputs, found):
                found = d
            elif d.type == "cpu" and not t._data.shape:
                continue
            else:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                                   f"devices, {found} and {d} (in op '{op.name}')")
    return found


def _is_cpu_scalar(inputs, cpu_device):
    return all(t._data.shape == () for t in inputs if isinstance(t, Tensor) and t.device == cpu_device)


def _move_cpu_scalars(inputs, device):
    from ember.core.transfer import to_device
    return tuple(to_device(t, device) if isinstance(t, Tensor) and t.device != device else t
                 for t in inputs)


def call(op, *inputs, **attrs):
    if ACTIVE.modes:  # a mode key (Autocast) is above Autograd and the backend: it goes first
        return ACTIVE.modes[0](op, inputs, attrs, _BELOW_FIRST)
    if DUAL.level is not None:  # forward AD (ember.core.dual): the primal, then the tangent
        return dual_call(call, op, inputs, attrs)
    # one pass: the device, whether grad is needed and the kernel's arguments
    device = None
    needs_grad = False
    natives = []
    for t in inputs:
        if isinstance(t, Tensor):
            if device is None:
                device = t.device
            elif t.device is not device and t.device != device:
                device = _common_device(op, inputs)
                inputs = _move_cpu_scalars(inputs, device)
                needs_grad = any(isinstance(x, Tensor) and x._rg for x in inputs)
                natives = [x._data if isinstance(x, Tensor) else x for x in inputs]
                break
            if t._rg:
                needs_grad = True
            if t.dtype._ops is not None and op.name not in t.dtype._ops:  # float8/float4: PyTorch's few kernels
                return limited_call(call, op, inputs, attrs)
            natives.append(t._data)
        else:
            natives.append(t)
    if device is None:
        raise TypeError(f"op '{op.name}' needs at least one tensor argument")
    device_type = device.type
    try:  # (a subscript, not .get(): a method call is a fiftieth of a 1-element op)
        kernel = op.resolved[device_type]
    except KeyError:
        kernel = resolve(op, device_type)
    try:
        out = kernel(*natives, **attrs) if attrs else kernel(*natives)  # (an empty ** costs a dict)
    except Exception:  # free unless raised: a sparse operand's placeholder refuses dense kernels
        if SPARSE_OPS[0] is not None and any(type(n) is SparseData for n in natives):
            return SPARSE_OPS[0](op, inputs, attrs)
        raise
    try:
        native_type, native_dtypes, wrap = _WRAP[device_type]
    except KeyError:
        native_type, native_dtypes, wrap = _wrap_info(device_type)
    outs = None
    if type(out) is native_type:
        # make_tensor inlined (the hot path; tests/test_dispatch_fast_path.py holds them equal)
        result = _new_tensor(Tensor)
        result._data = out
        result.dtype = native_dtypes[out.dtype]
        result.device = device
        result._rg = False
        result.grad = None
        result.grad_fn = None
        result._output_nr = 0
        result._version = (_INFERENCE_COUNTER() if _INFERENCE_THREADS[0] and GRAD_MODE.inference
                           else None)  # marks inference tensors
        result._base = None
        result._view_fn = None
        result._views = None
        result._hooks = None
        result._retains_grad = False
    elif type(out) is tuple:
        outs = tuple(wrap(o, device) for o in out)
        result = outs[0]
    else:
        result = wrap(out, device)
    if op.view:
        _link_view(result, inputs[0], op, attrs)
    if (needs_grad and GRAD_MODE.enabled and op.rule is not None and result.dtype.category >= _FLOAT
            and not (_INFERENCE_THREADS[0] and GRAD_MODE.inference)):  # enable_grad() in inference_mode(): no record
        _record(op, inputs, attrs, result, outs)
    return outs if outs is not None else result


def _below(level):
    """The rest of the dispatch under mode ``level - 1``: the next mode, or Autograd and the backend."""
    def below(op, inputs, attrs):
        modes = ACTIVE.modes
        if level < len(modes):
            return modes[level](op, inputs, attrs, _below(level + 1))
        # below every mode: run with the modes out of the way (restored after, even on error)
        keys = ACTIVE.keys
        ACTIVE.modes, ACTIVE.keys = (), ()
        try:
            return call(op, *inputs, **attrs)
        finally:
            ACTIVE.modes, ACTIVE.keys = modes, keys
    return below


_BELOW_FIRST = _below(1)  # what the first mode calls: made once, not per call
_WRAPPERS = {}  # device type -> function(native, device) -> Tensor
# device type -> (the backend's native_type, its native_dtypes, its wrap function)
_WRAP = {}
_FLOAT = FLOAT
_new_tensor = object.__new__
_INFERENCE_COUNTER = InferenceVersionCounter
_INFERENCE_THREADS = INFERENCE_THREADS


def _wrapper(device_type):
    backend = backend_of(device_type)
    normalize, dtype_of = backend.normalize, backend.dtype_of
    _ALIASING[device_type] = backend.aliasing_views

    def wrap(native, device):
        native = normalize(native)
        return make_tensor(native, dtype_of(native), device)
    _WRAPPERS[device_type] = wrap
    return wrap


def _wrap_info(device_type):
    """The backend's (native_type, native_dtypes, wrap) for ``call``; native_type None (never a
    kernel result's type) when the backend does not declare both, so that ``wrap`` always runs."""
    backend = backend_of(device_type)
    wrap = _WRAPPERS.get(device_type) or _wrapper(device_type)
    fast = backend.native_type is not None and backend.native_dtypes is not None
    info = _WRAP[device_type] = ((backend.native_type, backend.native_dtypes, wrap) if fast
                                 else (None, None, wrap))
    return info


def _link_view(view: Tensor, source: Tensor, op, attrs):
    base = view._base = source._base if source._base is not None else source
    view._version = version_counter(base)
    view._view_fn = (source._view_fn, op, attrs)
    if not _ALIASING.get(view.device.type, True):
        from ember.core.views import track_view
        track_view(base, view)


# device type -> whether its arrays alias memory (filled as backends are first used)
_ALIASING = {}


def link_detached_alias(alias: Tensor, source: Tensor):
    """Link a detached alias to ``source``'s base on a backend that cannot alias memory."""
    base = alias._base = source._base if source._base is not None else source
    alias._view_fn = (source._view_fn, None, None)  # op None: identity, not an autograd view
    from ember.core.views import track_view
    track_view(base, alias)


def is_autograd_view(t: Tensor) -> bool:
    chain = t._view_fn
    while chain is not None:
        if chain[1] is None:
            return False
        chain = chain[0]
    return t._base is not None


def replay_view(view_fn, base: Tensor) -> Tensor:
    """Apply a view's recorded chain of view ops to ``base`` (used by in-place on views)."""
    if view_fn is None:
        return base
    parent, op, attrs = view_fn
    source = replay_view(parent, base)
    return source if op is None else call(op, source, **attrs)


def _record(op, inputs, attrs, result, outs):
    rule = op.rule
    edges = []
    meta = []
    for t in inputs:
        if isinstance(t, Tensor):
            edges.append(new_edge(t) if t._rg else None)
            meta.append((t._data.shape, t.dtype, t.device))
        else:
            edges.append(None)
            meta.append(None)
    node = new_node(rule.node_name, rule, attrs, tuple(edges), tuple(meta))
    if ANOMALY.enabled:
        record_forward_trace(node)
    saves_inputs = rule.saves_inputs
    if saves_inputs or rule.saves_output:
        saved = []
        i = 0
        for t in inputs:
            saved.append(None if i not in saves_inputs else save_input(t) if isinstance(t, Tensor) else t)
            i += 1
        saved.append(save_output(result) if rule.saves_output else None)
        node.saved = saved
        node.had_saved = True
    if outs is not None:
        node.extra_outputs = outs[1:]
        node.had_saved = True
        if getattr(rule, "all_outputs", False):  # decompositions (qr, svd, ...): every float output has a gradient
            node.n_outputs = len(outs)
            for nr, t in enumerate(outs[1:], 1):
                if t.dtype.category >= _FLOAT:  # (complex too)
                    t.grad_fn, t._output_nr, t._rg = node, nr, True
    if op.view:
        node.view_version = result._version.value  # see autograd.edge_of: stale views
    result.grad_fn = node
    result._rg = True


def record_custom(node: Node, outputs):
    for nr, t in enumerate(outputs):
        if isinstance(t, Tensor) and (t.dtype.is_floating_point or t.dtype.is_complex):
            t.grad_fn = node
            t._output_nr = nr
            t._rg = True


def call_update(op, targets, *inputs, **attrs) -> bool:
    """Run a fused in-place update (an optimizer step) if the device has one.

    ``inputs`` are Tensors or None; ``targets`` the positions of those the kernel writes.
    Returns False, touching nothing, when the device has no kernel for ``op`` (the caller
    then runs the composite). No autograd: updates run under no_grad.
    """
    device = inputs[0].device
    kernel = op.resolved.get(device.type) or resolve(op, device.type)
    if kernel is DECOMPOSE:
        return False
    if not GRAD_MODE.inference and any(inputs[i] is not None and type(inputs[i]._version) is InferenceVersionCounter
                                       for i in targets):
        raise RuntimeError(INFERENCE_INPLACE_ERROR)
    new = kernel(*[None if t is None else t._data for t in inputs], **attrs)
    for k, i in enumerate(targets):
        target = inputs[i]
        if target is None:
            continue
        if new is not None and new[k] is not target._data:
            _rebind(target, new[k])
        version_counter(target if target._base is None else target._base).value += 1
    return True


# ---------------------------------------------------------------- in-place writes
def _is_expanded(view_fn) -> bool:
    """Whether a view was made through ``expand`` (several elements share one memory location)."""
    while view_fn is not None:
        view_fn, op, _ = view_fn
        if op is not None and op.name == "expand":
            return True
    return False


@recorded
def write_inplace(target: Tensor, result):
    """Make ``target`` hold ``result`` (a Tensor or scalar): the end of every in-place op.

    Checks PyTorch's in-place rules, writes through the backend's ``copy_`` kernel (so a
    view's base sees it), bumps the shared version counter and rebases the autograd graph.
    """
    if ACTIVE.modes and BATCHED in ACTIVE.keys:  # under vmap: a batched target or result
        done = BATCHED_HOOKS.write(target, result)
        if done is not None:
            return done
    is_tensor = isinstance(result, Tensor)
    if is_tensor and type(result._data) is SparseData:  # dense.mul_(sparse): the dense form is written
        result = SPARSE_DENSE[0](result)
    grad_flows = GRAD_MODE.enabled and (target._rg or (is_tensor and result._rg))
    if grad_flows and target._rg and target.grad_fn is None and target._base is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if grad_flows and is_autograd_view(target) and target._base._rg and target._base.grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if type(target._version) is InferenceVersionCounter and not GRAD_MODE.inference:
        raise RuntimeError(INFERENCE_INPLACE_ERROR)
    if is_tensor and result.dtype is not target.dtype:
        result = cast(result, target.dtype)
    if is_tensor and result.device != target.device:
        from ember.core.transfer import to_device
        if result._data.shape == () and result.device.type == "cpu":
            result = to_device(result, target.device)
        else:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                               f"devices, {target.device} and {result.device} (in an in-place write)")
    if _is_expanded(target._view_fn) and target.numel() > target._base.numel():
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")
    copy = resolve_kernel("copy_", target.device.type)
    src = result._data if is_tensor else result
    new = copy(target._data, src)
    if new is not target._data:
        _rebind(target, new)
    counter = target._version
    if counter is None:  # the first write: start counting (saved tensors compare against it)
        counter = version_counter(target._base if target._base is not None else target)
    counter.value += 1
    if grad_flows:
        old_fn, old_nr = target.grad_fn, target._output_nr
        if is_tensor and result._rg:
            _rebase_history(target, result)
        elif target._rg:
            # a value without history replaced (part of) target: no gradient flows there any more
            _rebase_history(target, None)
        if target._retains_grad and target.grad_fn is not old_fn:
            ag.move_retained_grad(target, old_fn, old_nr)  # .grad is of the new value, as in PyTorch
    if DUAL.level is not None:
        write_tangent(target, result)
    return target


INFERENCE_INPLACE_ERROR = ("Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
                           "clone to get a normal tensor before doing inplace update.See "
                           "https://github.com/pytorch/rfcs/pull/17 for more details.")


def resolve_kernel(name, device_type):
    op = OPS[name]
    return op.resolved.get(device_type) or resolve(op, device_type)


def cast(t: Tensor, dtype) -> Tensor:
    """``t`` as ``dtype`` (an ember dtype); ``t`` itself when it already is one."""
    return t if t.dtype is dtype else call(OPS["cast"], t, dtype=dtype)


def sum_to_shape(grad: Tensor, shape) -> Tensor:
    """Sum a broadcast gradient back to ``shape`` (the inverse of broadcasting)."""
    shape = tuple(shape)
    extra = grad.ndim - len(shape)
    dims = tuple(range(extra)) + tuple(i + extra for i, s in enumerate(shape)
                                       if s == 1 and grad._data.shape[i + extra] != 1)
    if dims:
        grad = call(OPS["sum"], grad, dims=dims, keepdim=True)
    return grad if grad._data.shape == shape else call(OPS["view"], grad, shape=shape)


def _rebind(target: Tensor, new):
    """For backends whose arrays cannot alias: give the target, its base and the base's
    other live views the new value."""
    from ember.core.views import propagate_write
    propagate_write(target, new)


class _CopyRule:
    """Backward of an in-place copy of a leaf (or broadcast) tensor over a whole tensor."""
    node_name = "CopyBackwards"
    saves_inputs = ()
    saves_output = False

    def __call__(self, node, grad):
        return (grad,)  # the engine sums it back to the source's shape and dtype


class _OverwrittenRule:
    """Backward of an in-place write of a value without history over a whole tensor."""
    node_name = "FillBackward0"
    saves_inputs = ()
    saves_output = False

    def __call__(self, node, grad):
        return (call(OPS["mul"], grad, 0),)  # zeros of grad's shape, dtype and device


def _rebase_history(target: Tensor, result: Tensor | None):
    """Point target's autograd history at ``result`` (None: a value that needs no grad)."""
    if not is_autograd_view(target):
        if result is None:
            meta = ((target._data.shape, target.dtype, target.device),)
            target.grad_fn = Node("FillBackward0", _OverwrittenRule(), None, (edge_of(target),), meta)
            target._output_nr = 0
        elif result.grad_fn is None or result._data.shape != target._data.shape:
            # a leaf (its edge is AccumulateGrad, not a grad_fn) or a broadcast source
            meta = ((result._data.shape, result.dtype, result.device),)
            target.grad_fn = Node("CopyBackwards", _CopyRule(), None, (edge_of(result),), meta)
            target._output_nr = 0
        else:
            target.grad_fn = result.grad_fn
            target._output_nr = result._output_nr
        target._rg = True
        return
    from ember.core.views import rebase_view_history
    rebase_view_history(target, result)
