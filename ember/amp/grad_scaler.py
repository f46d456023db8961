"""``GradScaler``: loss scaling for float16 training, with PyTorch's semantics.

The loss is multiplied by a scale before ``backward`` so that small float16 gradients do
not flush to zero; ``step`` divides the gradients back (``unscale_``) and skips the
optimizer's step when any gradient is infinite or NaN; ``update`` halves the scale after
a skipped step and doubles it after ``growth_interval`` clean ones.

The scale, the growth tracker and the found-inf flags live on the device as 0-d tensors:
``_amp_foreach_non_finite_check_and_unscale_`` checks and unscales all the gradients of one
device and dtype in one pass, with no host synchronisation, and ``_amp_update_scale_``
updates the scale on the device. The only host read is the one flag per device that
decides whether ``optimizer.step()`` runs.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from enum import Enum

from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.ops import creation as _creation, elementwise as _ew, shape as _shape
from ember.dispatch.tracing import recorded

__all__ = ["GradScaler", "OptState"]


class OptState(Enum):
    """Where one optimizer is in the current iteration."""
    READY = 0
    UNSCALED = 1
    STEPPED = 2


def _refresh_per_optimizer_state():
    return {"stage": OptState.READY, "found_inf_per_device": {}}


class _MultiDeviceReplicator:
    """A tensor and lazily made copies of it on other devices."""

    def __init__(self, master: Tensor):
        self.master = master
        self._per_device_tensors = {}

    def get(self, device):
        found = self._per_device_tensors.get(device)
        if found is None:
            found = self.master.to(device=device, non_blocking=True, copy=True)
            self._per_device_tensors[device] = found
        return found


def _amp_foreach_non_finite_check_and_unscale_(grads, found_inf: Tensor, inv_scale: Tensor) -> None:
    """Multiply every tensor of ``grads`` by ``inv_scale`` in place and set ``found_inf`` to 1.0
    if any of them holds an inf or a NaN (else leave it), all on the device.

    Args:
        grads: tensors of one device and dtype (gradients), modified in place.
        found_inf: a float32 0-d tensor on that device, set to 1.0 when a non-finite value is found.
        inv_scale: a float32 0-d tensor on that device, the factor.

    Returns:
        None.
    """
    grads = [g for g in grads if g.numel()]
    if not grads:
        return
    with no_grad():
        finite = _shape.stack([_ew.isfinite(g).all() for g in grads]).all()
        found_inf.copy_(_ew.where(finite, found_inf, _creation.ones_like(found_inf)))
        factor = inv_scale if inv_scale.dtype is grads[0].dtype else inv_scale.to(grads[0].dtype)
        for g in grads:
            g.mul_(factor)


def _amp_update_scale_(scale: Tensor, growth_tracker: Tensor, found_inf: Tensor, growth_factor: float,
                       backoff_factor: float, growth_interval: int) -> Tensor:
    """Update the loss scale and the count of clean steps in place, on the device.

    A found inf (``found_inf`` > 0) multiplies the scale by ``backoff_factor`` and resets the
    count; otherwise the count grows by one and, when it reaches ``growth_interval``, the scale
    is multiplied by ``growth_factor`` (if the result is finite) and the count restarts.

    Args:
        scale: float32 0-d tensor, the current scale.
        growth_tracker: int32 0-d tensor, the clean steps since the last change.
        found_inf: float32 0-d tensor, > 0 when this iteration's gradients were not finite.
        growth_factor: the factor after ``growth_interval`` clean steps.
        backoff_factor: the factor after a skipped step.
        growth_interval: clean steps between growths.

    Returns:
        ``scale``.
    """
    with no_grad():
        found = found_inf > 0
        counted = growth_tracker + 1
        grown = scale * growth_factor
        grow = _ew.logical_and(_ew.logical_not(found), counted == growth_interval)
        kept = _ew.where(_ew.logical_and(grow, _ew.isfinite(grown)), grown, scale)
        new_scale = _ew.where(found, scale * backoff_factor, kept)
        new_tracker = _ew.where(_ew.logical_or(found, grow), _creation.zeros_like(counted), counted)
        scale.copy_(new_scale)
        growth_tracker.copy_(new_tracker)
    return scale


class GradScaler:
    """Scales the loss for float16 training and unscales the gradients before the step.

    Use: ``scaler.scale(loss).backward()``, optionally ``scaler.unscale_(opt)`` (to clip the
    true gradients), ``scaler.step(opt)``, ``scaler.update()``.

    Args:
        device: the device type of the scale (``"cuda"``, ``"cpu"``, ``"mps"``, ``"opencl"`` ...).
        init_scale: the first scale.
        growth_factor: multiplies the scale after ``growth_interval`` steps without inf/NaN (> 1).
        backoff_factor: multiplies the scale after a step with inf/NaN gradients (< 1).
        growth_interval: clean steps between growths.
        enabled: False makes every method a pass-through (``scale`` returns its input, ``step``
            just steps).

    Raises:
        AssertionError: ``growth_factor`` <= 1 or ``backoff_factor`` >= 1 (as PyTorch).
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = enabled
        if self._device == "cuda" and enabled and not _cuda_available():
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                          stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
            self._init_scale = init_scale
            self._scale = None            # made on the device of the first scaled output
            self._growth_factor = growth_factor
            self._backoff_factor = backoff_factor
            self._growth_interval = growth_interval
            self._init_growth_tracker = 0
            self._growth_tracker = None
            self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def _check_scale_growth_tracker(self, funcname: str):
        fix = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  " + fix)
        if self._growth_tracker is None:
            raise AssertionError(f"Attempted {funcname} but _growth_tracker is None.  " + fix)
        return self._scale, self._growth_tracker

    def _lazy_init_scale_growth_tracker(self, dev) -> None:
        self._scale = _creation.full((), self._init_scale, dtype=dt.float32, device=dev)
        self._growth_tracker = _creation.full((), self._init_growth_tracker, dtype=dt.int32, device=dev)

    @recorded   # under graph capture: one replayed step (it keeps Python state)
    def scale(self, outputs):
        """Multiply outputs (usually the loss) by the scale.

        Args:
            outputs: a tensor, or an iterable (nested) of tensors.

        Returns:
            The scaled tensor(s), in the same structure (lists, tuples; other iterables as a ``map``);
            ``outputs`` unchanged when the scaler is disabled.

        Raises:
            ValueError: something other than tensors and iterables of them.
        """
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            if self._scale is None:
                self._lazy_init_scale_growth_tracker(outputs.device)
            return outputs * self._scale.to(device=outputs.device, non_blocking=True)

        stash = []

        def apply_scale(val):
            if isinstance(val, Tensor):
                if not stash:
                    if self._scale is None:
                        self._lazy_init_scale_growth_tracker(val.device)
                    stash.append(_MultiDeviceReplicator(self._scale))
                return val * stash[0].get(val.device)
            if isinstance(val, (list, tuple)):
                return type(val)(map(apply_scale, val))
            if hasattr(val, "__iter__") and not isinstance(val, (str, bytes)):
                return map(apply_scale, val)  # another iterable: lazily, as PyTorch
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")
        return apply_scale(outputs)

    def _unscale_grads_(self, optimizer, inv_scale, found_inf, allow_fp16):
        per_device_inv_scale = _MultiDeviceReplicator(inv_scale)
        per_device_found_inf = _MultiDeviceReplicator(found_inf)
        grads = defaultdict(lambda: defaultdict(list))  # device -> dtype -> grads: one check per group
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if not allow_fp16 and param.grad.dtype is dt.float16:
                    raise ValueError("Attempting to unscale FP16 gradients.")
                to_unscale = param.grad
                if param.grad.is_sparse:  # (embedding(sparse=True)) its values, coalesced in fp16 against overflow
                    if param.grad.dtype is dt.float16:
                        param.grad = param.grad.coalesce()
                    to_unscale = param.grad._values()
                grads[param.grad.device][param.grad.dtype].append(to_unscale)
        for device, per_dtype in grads.items():
            for group in per_dtype.values():
                _amp_foreach_non_finite_check_and_unscale_(group, per_device_found_inf.get(device),
                                                           per_device_inv_scale.get(device))
        return per_device_found_inf._per_device_tensors

    @recorded   # under graph capture: one replayed step (it keeps Python state)
    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale, in place, and note whether any is inf/NaN.

        Call it between ``backward`` and ``step`` to work on the true gradients (clipping); at most
        once per optimizer per iteration (``step`` then does not unscale again).

        Args:
            optimizer: the optimizer whose parameters' gradients are unscaled.

        Raises:
            RuntimeError: called twice for ``optimizer`` since the last ``update``, or after ``step``.
            ValueError: a gradient is float16 (the parameters must be float32).
        """
        if not self._enabled:
            return
        self._check_scale_growth_tracker("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = _reciprocal(self._scale)
        found_inf = _creation.full((), 0.0, dtype=dt.float32, device=self._scale.device)
        state["found_inf_per_device"] = self._unscale_grads_(optimizer, inv_scale, found_inf, False)
        state["stage"] = OptState.UNSCALED

    @recorded   # under graph capture: one replayed step (it keeps Python state)
    def step(self, optimizer, *args, **kwargs):
        """Unscale ``optimizer``'s gradients (unless ``unscale_`` did) and step if they are all finite.

        Args:
            optimizer: the optimizer.
            *args: passed on to ``optimizer.step``.
            **kwargs: passed on to ``optimizer.step``; ``closure`` is refused while enabled.

        Returns:
            What ``optimizer.step`` returned, or None when the step was skipped.

        Raises:
            RuntimeError: a ``closure`` keyword, or ``step`` called twice since the last ``update``.
        """
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scale_growth_tracker("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is OptState.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is OptState.READY:
            self.unscale_(optimizer)
        if len(state["found_inf_per_device"]) == 0:
            raise AssertionError("No inf checks were recorded for this optimizer.")
        retval = None
        if not sum(v.item() for v in state["found_inf_per_device"].values()):
            retval = optimizer.step(*args, **kwargs)
        state["stage"] = OptState.STEPPED
        return retval

    @recorded   # under graph capture: one replayed step (it keeps Python state)
    def update(self, new_scale=None) -> None:
        """Update the scale at the end of an iteration: back off after a skipped step, grow after
        ``growth_interval`` clean steps, or take ``new_scale``.

        Args:
            new_scale: a float or a 1-element tensor (no grad, on the scaler's device type) to use as
                the scale instead.

        Raises:
            AssertionError: ``new_scale`` is not a float or such a tensor, or no optimizer was stepped.
        """
        if not self._enabled:
            return
        scale, tracker = self._check_scale_growth_tracker("update")
        if new_scale is not None:
            if isinstance(new_scale, float):
                scale.fill_(new_scale)
            else:
                reason = ("new_scale should be a float or a 1-element torch.cuda.FloatTensor or "
                          "torch.FloatTensor with requires_grad=False.")
                if not isinstance(new_scale, Tensor) or new_scale.device.type != self._device \
                        or new_scale.numel() != 1 or new_scale.requires_grad:
                    raise AssertionError(reason)
                scale.copy_(new_scale.reshape(()))
        else:
            found_infs = [f.to(device=scale.device, non_blocking=True)
                          for state in self._per_optimizer_states.values()
                          for f in state["found_inf_per_device"].values()]
            if not found_infs:
                raise AssertionError("No inf checks were recorded prior to update.")
            combined = found_infs[0]
            for f in found_infs[1:]:
                combined = combined + f
            _amp_update_scale_(scale, tracker, combined, self._growth_factor, self._backoff_factor,
                               self._growth_interval)
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def get_scale(self) -> float:
        """The current scale.

        Returns:
            A Python float (1.0 when disabled; ``init_scale`` before the first ``scale``). Reading it
            synchronises with the device.
        """
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale.item())

    def get_growth_factor(self) -> float:
        """The growth factor.

        Returns:
            A Python float.
        """
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        """Set the growth factor.

        Args:
            new_factor: the new factor.
        """
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        """The backoff factor.

        Returns:
            A Python float.
        """
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        """Set the backoff factor.

        Args:
            new_factor: the new factor.
        """
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        """The growth interval.

        Returns:
            A Python int.
        """
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        """Set the growth interval.

        Args:
            new_interval: the new interval.
        """
        self._growth_interval = new_interval

    def _get_growth_tracker(self) -> int:
        if not self._enabled:
            return 0
        return self._init_growth_tracker if self._growth_tracker is None else int(self._growth_tracker.item())

    def is_enabled(self) -> bool:
        """Whether this scaler is enabled.

        Returns:
            A bool.
        """
        return self._enabled

    def state_dict(self) -> dict:
        """The scaler's state, with PyTorch's keys.

        Returns:
            ``{"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}``
            as Python numbers; an empty dict when disabled.
        """
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._get_growth_tracker()}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a state from ``state_dict`` (a no-op when disabled).

        Args:
            state_dict: what ``state_dict`` returned.

        Raises:
            RuntimeError: the dict is empty (saved from a disabled scaler).
        """
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled "
                               "instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale.fill_(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._init_growth_tracker = state_dict["_growth_tracker"]
        if self._growth_tracker is not None:
            self._growth_tracker.fill_(state_dict["_growth_tracker"])

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._enabled:
            if len(self._per_optimizer_states) != 0:
                raise AssertionError("A GradScaler instance may only be pickled at the beginning of an iteration, "
                                     "or at the end after scaler.update().")
            state["_init_scale"] = self.get_scale()
            state["_init_growth_tracker"] = self._get_growth_tracker()
            state["_scale"] = None
            state["_growth_tracker"] = None
            state["_per_optimizer_states"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self._enabled:
            self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)


def _reciprocal(scale: Tensor) -> Tensor:
    """1 / scale in float32, computed in float64 where the device has it (as PyTorch does)."""
    if scale.device.type in ("cpu", "cuda", "rocm"):
        return scale.double().reciprocal().float()
    return scale.reciprocal()


def _cuda_available() -> bool:
    from ember.dispatch.registry import REGISTRY
    try:
        REGISTRY.available_backend("cuda")
        return True
    except RuntimeError:
        return False
