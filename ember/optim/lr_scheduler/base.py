"""LRScheduler: the base of the learning-rate schedulers, and helpers they share.

A scheduler owns an optimizer and rewrites each param group's ``lr`` once per
``step()``. Subclasses implement ``get_lr()`` -- the next learning rates, usually as a
recursive update of the current ones, so schedulers can be chained -- and optionally
``_get_closed_form_lr()``, used when ``step(epoch)`` jumps to an explicit epoch. The
state dict is the scheduler's ``__dict__`` without the optimizer, with PyTorch's names.
"""
from __future__ import annotations

import warnings

from ember.core.tensor import Tensor
from ember.optim.optimizer import Optimizer
from ember.dispatch.tracing import recorded

__all__ = ["LRScheduler", "EPOCH_DEPRECATION_WARNING"]

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where possible. "
    "Please use `scheduler.step()` to step the scheduler. During the deprecation, if epoch is different from "
    "None, the closed form is used instead of the new chainable form, where available.")

_ORDER_WARNING = (
    "Detected call of `lr_scheduler.step()` before `optimizer.step()`. Call `optimizer.step()` first, then "
    "`lr_scheduler.step()`; otherwise the first value of the learning rate schedule is skipped.")


def check_optimizer(optimizer):
    """Raises ``TypeError`` unless ``optimizer`` is an :class:`~ember.optim.Optimizer`.

    Args:
        optimizer: the object to check.
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def per_group(name: str, optimizer, value) -> list:
    """``value`` repeated for each param group, or checked to have one entry per group.

    Args:
        name: the argument's name, used in the error message.
        optimizer: the optimizer whose param groups are counted.
        value: a single value, or a list or tuple of one value per group.

    Returns:
        A new list with one value per group (tensor values cloned).

    Raises:
        ValueError: if a list or tuple has the wrong length.
    """
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups. {name} has "
                             f"{len(value)} values, param_groups has {len(optimizer.param_groups)}.")
    else:
        value = [value] * len(optimizer.param_groups)
    return [v.clone() if isinstance(v, Tensor) else v for v in value]


def group_values(optimizer, key: str) -> list:
    """``group[key]`` of every param group (tensor values copied, never aliased).

    Args:
        optimizer: the optimizer to read.
        key: the option to read, e.g. ``'lr'``.

    Returns:
        A list with one value per param group.
    """
    return [g[key].clone() if isinstance(g[key], Tensor) else g[key] for g in optimizer.param_groups]


def set_group_value(group: dict, key: str, value) -> None:
    """Set ``group[key]``; a tensor entry is filled in place so whoever holds it sees the change.

    Args:
        group: the param group.
        key: the option to set.
        value: the new value.
    """
    if isinstance(group[key], Tensor):
        group[key].fill_(float(value))
    else:
        group[key] = value


def set_momentum(group: dict, momentum: float, use_beta1: bool) -> None:
    """Set a group's momentum, or beta1 for Adam-like optimizers.

    Args:
        group: the param group.
        momentum: the new value.
        use_beta1: set ``betas[0]`` if ``True``, ``momentum`` otherwise.
    """
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class _Flag:
    """Set a boolean attribute of a scheduler for the duration of a ``with`` block."""

    def __init__(self, scheduler, name):
        self.scheduler, self.name = scheduler, name

    def __enter__(self):
        setattr(self.scheduler, self.name, True)

    def __exit__(self, *exc):
        setattr(self.scheduler, self.name, False)


def warn_if_called_outside_step(scheduler) -> None:
    """Warns (suggesting ``get_last_lr()``) when a scheduler's ``get_lr`` is called outside its ``step``.

    Args:
        scheduler: the scheduler whose ``get_lr`` is running.
    """
    if not scheduler._get_lr_called_within_step:
        warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                      UserWarning, stacklevel=3)


class LRScheduler:
    """Base class: adjusts ``optimizer.param_groups[i]['lr']`` at every ``step()``.

    ``last_epoch=-1`` starts a schedule (each group's current lr is recorded as its
    ``initial_lr``); another value resumes one and needs ``initial_lr`` in every group.
    Construction performs the first step (epoch 0).

    Args:
        optimizer: the optimizer whose learning rates are scheduled.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule.

    Raises:
        TypeError: if ``optimizer`` is not an :class:`~ember.optim.Optimizer`.
        KeyError: when resuming (``last_epoch != -1``) and a group has no ``initial_lr``.
    """

    _get_lr_called_within_step = False
    _is_initial = False

    def __init__(self, optimizer, last_epoch: int = -1):
        check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                lr = group["lr"]
                group.setdefault("initial_lr", lr.clone() if isinstance(lr, Tensor) else lr)
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                                   f"scheduler with last_epoch >= 0 (last_epoch={last_epoch}); load the "
                                   f"optimizer's state dict first, or start with last_epoch=-1")
        self.base_lrs = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        with _Flag(self, "_is_initial"):
            self.step()

    def state_dict(self) -> dict:
        """Every attribute except the optimizer.

        Returns:
            A dict of the scheduler's attributes (live objects, not copies).
        """
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restores the scheduler's attributes from a dict made by :meth:`state_dict`.

        Args:
            state_dict: the saved attributes.
        """
        self.__dict__.update(state_dict)

    def get_last_lr(self) -> list:
        """The learning rates the last ``step()`` set, one per param group.

        Returns:
            A list of learning rates.
        """
        return self._last_lr

    def get_lr(self) -> list:
        """The learning rates for the epoch ``last_epoch`` (called by ``step``).

        Returns:
            A list with one learning rate per param group.

        Raises:
            NotImplementedError: in this base class; each scheduler implements it.
        """
        raise NotImplementedError

    @recorded   # under graph capture: one replayed step (it keeps Python state)
    def step(self, epoch=None) -> None:
        """Advance one epoch (or, deprecated, jump to ``epoch``) and set the new learning rates.

        Call it after ``optimizer.step()``; calling it first warns that the first value of the
        schedule would be skipped.

        Args:
            epoch: deprecated; if given, a warning is raised, ``last_epoch`` is set to it and the closed form
                of the schedule is used where the scheduler has one.
        """
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(_ORDER_WARNING, UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None) -> None:
        with _Flag(self, "_get_lr_called_within_step"):
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            set_group_value(group, "lr", lr)
        self._last_lr = group_values(self.optimizer, "lr")


_LRScheduler = LRScheduler  # the pre-2.0 name, still imported by older code
