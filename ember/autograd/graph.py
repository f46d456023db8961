"""``ember.autograd.graph``: the autograd graph's node types, gradient edges, and hooks on it.

Saved-tensor hooks (``saved_tensors_hooks``, ``save_on_cpu``) pack every tensor the graph saves
for backward and unpack it when backward needs it; ``register_multi_grad_hook`` runs once the
gradients of several tensors are known; ``get_gradient_edge`` names where a tensor's gradient
flows, for ``autograd.grad``-style introspection.
"""
from __future__ import annotations

import contextlib
import functools
from collections import namedtuple

from ember.core import autograd as _ag
from ember.core.autograd import AccumulateGrad, Node, RemovableHandle  # noqa: F401
from ember.core.tensor import Tensor, version_counter

__all__ = ["Node", "GradientEdge", "get_gradient_edge", "increment_version", "saved_tensors_hooks",
           "save_on_cpu", "disable_saved_tensors_hooks", "register_multi_grad_hook",
           "allow_mutation_on_saved_tensors", "set_warn_on_accumulate_grad_stream_mismatch",
           "set_override_stale_capture_stream", "region_activation_memory_budget"]


class GradientEdge(namedtuple("GradientEdge", ["node", "output_nr", "ownership_token"], defaults=(None,))):
    """Where a gradient flows in the graph: ``(node, output_nr)`` (and an ownership token, unused here).

    Args:
        node: the graph node (a backward Node, or the AccumulateGrad of a leaf).
        output_nr: which of the node's outputs the tensor is.
        ownership_token: an object keeping the node alive (None).
    """


def get_gradient_edge(tensor):
    """The ``GradientEdge`` a gradient for ``tensor`` flows into.

    Args:
        tensor: a tensor that requires grad.

    Returns:
        ``GradientEdge(node, output_nr)``: its ``grad_fn`` and output number, or the leaf's AccumulateGrad.

    Raises:
        RuntimeError: ``tensor`` does not require grad.
    """
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not require "
                           "gradients")
    node, nr = _ag.edge_of(tensor)
    return GradientEdge(node, nr)


def increment_version(tensor) -> None:
    """Bump the version counter of a tensor (or of each of an iterable of tensors), as an in-place
    write does: saved copies of it then fail their check in backward.

    Args:
        tensor: a tensor, or an iterable of tensors.
    """
    tensors = [tensor] if isinstance(tensor, Tensor) else list(tensor)
    for t in tensors:
        version_counter(t._base if t._base is not None else t).value += 1
        if t._base is not None and t._version is None:
            t._version = version_counter(t._base)


# ---------------------------------------------------------------- saved-tensor hooks
class saved_tensors_hooks:
    """Context manager: every tensor the autograd graph saves inside it goes through ``pack_hook``,
    and ``unpack_hook`` gives it back when backward needs it.

    ``pack_hook(tensor)`` may return any object; ``unpack_hook(that object)`` must return a tensor
    with the original's value. Nested managers: the innermost one applies.

    Args:
        pack_hook: called with each saved tensor at forward time.
        unpack_hook: called with what ``pack_hook`` returned, at backward time.
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _ag.SAVED_HOOKS.disabled is not None:
            raise RuntimeError(_ag.SAVED_HOOKS.disabled)
        _ag.SAVED_HOOKS.stack.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *exc):
        _ag.SAVED_HOOKS.stack.pop()
        return False


class save_on_cpu(saved_tensors_hooks):
    """Context manager: tensors saved for backward are kept on the CPU and moved back to their device
    when backward needs them (trading transfers for device memory).

    Args:
        pin_memory: pin the CPU copies (page-locked), for faster transfers back.
        device_type: the accelerator type whose tensors are moved (PyTorch's default ``"cuda"``);
            ember moves a saved tensor of any device to the CPU.
    """

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda"):
        def pack(t):
            if t.device.type == "cpu":
                return (t.device, t)
            host = t.detach().cpu()
            if pin_memory:  # pinned for the device it goes back to, where that device has pinned memory
                try:
                    host = host.pin_memory(t.device.type)
                except RuntimeError:
                    pass  # (a backend without page-locked memory: an ordinary copy does the same job)
            return (t.device, host)

        def unpack(packed):
            device, host = packed
            return host if host.device == device else host.to(device)
        super().__init__(pack, unpack)
        self.pin_memory = pin_memory
        self.device_type = device_type


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Context manager under which saved-tensor hooks cannot be installed: trying raises ``error_message``.

    Args:
        error_message: the message of the RuntimeError raised on an attempt.

    Returns:
        A context manager (the previous state comes back on exit).

    Raises:
        RuntimeError: on entry, if saved-tensor hooks are already in force.
    """
    state = _ag.SAVED_HOOKS
    if state.stack:
        raise RuntimeError(error_message)
    previous = state.disabled
    state.disabled = error_message
    try:
        yield
    finally:
        state.disabled = previous


# ---------------------------------------------------------------- multi-grad hooks
class _MultiHandle(RemovableHandle):
    def __init__(self, handles):
        self._handles = handles

    def remove(self):
        for h in self._handles:
            h.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """Run ``fn`` once per backward pass after the gradients of ``tensors`` are computed.

    Args:
        tensors: a sequence of tensors (those not requiring grad never get a gradient).
        fn: with ``mode="all"``, ``fn(grads)`` with one gradient per tensor (None for those the
            backward pass did not reach), once the pass is done with them; with ``mode="any"``,
            ``fn(grad)`` with the first gradient computed among them.
        mode: ``"all"`` or ``"any"``.

    Returns:
        A handle whose ``remove()`` unregisters the hook.

    Raises:
        ValueError: ``mode`` is neither.
    """
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = list(tensors)
    state = {"grads": None}

    def finish():
        grads, state["grads"] = state["grads"], None
        if mode == "all" and grads is not None:
            fn(grads)

    def hook(i, grad):
        if state["grads"] is None:
            state["grads"] = [None] * len(tensors)
            _ag.BACKWARD_CALLBACKS.append(finish)
            if mode == "any":
                fn(grad)
        state["grads"][i] = grad
        return None

    handles = [t.register_hook(functools.partial(hook, i)) for i, t in enumerate(tensors) if t.requires_grad]
    return _MultiHandle(handles)


# ---------------------------------------------------------------- mutation of saved tensors
class _AllowMutationOnSavedContext:
    """The state of ``allow_mutation_on_saved_tensors``: the clones of mutated saved tensors."""

    def __init__(self):
        self.cloned = {}

    def clear(self):
        """Drop the clones made so far."""
        self.cloned.clear()


_MUTATION = []  # the active contexts


@contextlib.contextmanager
def allow_mutation_on_saved_tensors():
    """Context manager under which tensors saved for backward may be modified in place: a saved
    tensor about to be written is cloned first, and backward uses the clone.

    Returns:
        A context manager yielding its state object.

    Raises:
        RuntimeError: when entered inside another one.
    """
    if _MUTATION:
        raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
    ctx = _AllowMutationOnSavedContext()

    def pack(t):
        # remember the version at save time; the tensor itself stays shared until it is written
        return (t, version_counter(t if t._base is None else t._base).value, _snapshot(t))

    def unpack(packed):
        t, version, snapshot = packed
        now = version_counter(t if t._base is None else t._base).value
        return t if now == version else snapshot()

    _MUTATION.append(ctx)
    try:
        with saved_tensors_hooks(pack, unpack):
            yield ctx
    finally:
        _MUTATION.pop()
        ctx.clear()


def _snapshot(t):
    """A function giving ``t``'s value as it is now (a copy taken lazily on the first write would need a
    hook in every in-place op; a copy at save time gives the same values to backward)."""
    from ember.core.autograd import no_grad
    with no_grad():
        copy = t.detach().clone()
    return lambda: copy


# ---------------------------------------------------------------- stream and compile settings
_WARN_ON_STREAM_MISMATCH = [True]
_OVERRIDE_STALE_CAPTURE_STREAM = [False]


def set_warn_on_accumulate_grad_stream_mismatch(enabled: bool) -> None:
    """Whether to warn when a leaf's gradient arrives on another stream than the leaf's producer.

    ember's backends run each device's work in order on one queue, so the mismatch never
    happens; the setting is kept for code that sets it.

    Args:
        enabled: the new setting.
    """
    _WARN_ON_STREAM_MISMATCH[0] = bool(enabled)


def set_override_stale_capture_stream(enabled: bool) -> None:
    """Whether autograd replaces a stale non-capturing stream by the capturing one during CUDA graph capture.

    ember records no CUDA graphs, so no capture can see a stale stream; the process-global setting is
    kept for code that sets it.

    Args:
        enabled: the new setting.
    """
    _OVERRIDE_STALE_CAPTURE_STREAM[0] = bool(enabled)


@contextlib.contextmanager
def region_activation_memory_budget(budget: float):
    """The activation memory budget of a compiled region (``ember.compile``): a ratio in [0, 1] of the
    activations saved for backward, the rest recomputed.

    ember's compiled graphs save what eager mode saves (the budget is recorded on the region);
    as in PyTorch, using it outside a compiled region raises.

    Args:
        budget: the ratio, in [0, 1].

    Returns:
        A context manager.

    Raises:
        ValueError: ``budget`` is outside [0, 1].
        RuntimeError: used outside a compiled (traced) region.
    """
    if not 0.0 <= budget <= 1.0:
        raise ValueError(f"torch.autograd.graph.region_activation_memory_budget: must be in [0, 1], got {budget}")
    from ember.dispatch.keys import ACTIVE, TRACE
    if TRACE not in ACTIVE.keys:
        raise RuntimeError("torch.autograd.graph.region_activation_memory_budget can only be used inside a "
                           "torch.compile region; it has no effect in eager mode.")
    previous = _BUDGET[0]
    _BUDGET[0] = budget
    try:
        yield
    finally:
        _BUDGET[0] = previous


_BUDGET = [None]
