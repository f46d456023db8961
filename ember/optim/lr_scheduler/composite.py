"""Schedulers made of schedulers: one after another (SequentialLR) or all at once (ChainedScheduler)."""
from __future__ import annotations

from bisect import bisect_right

from ember.optim.lr_scheduler.base import LRScheduler, group_values, set_group_value
from ember.optim.lr_scheduler.plateau import ReduceLROnPlateau
from ember.dispatch.tracing import recorded

__all__ = ["SequentialLR", "ChainedScheduler"]


def _check_members(owner: str, optimizer, schedulers):
    for i, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise TypeError(f"{owner} at index {i} should have `optimizer` as its attribute.")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{owner} does not support `ReduceLROnPlateau` scheduler as it requires additional "
                             f"kwargs to be specified when calling `step`, but got one at index {i} in the given "
                             f"schedulers sequence.")
        if optimizer != scheduler.optimizer:
            raise ValueError(f"{owner} expects all schedulers to belong to the same optimizer, but got scheduler "
                             f"{type(scheduler).__name__} at index {i} has {scheduler.optimizer}, which is "
                             f"different from {type(optimizer).__name__}.")


class _Composite(LRScheduler):
    """State dict: own attributes, with each member scheduler's state dict under ``_schedulers``."""

    def state_dict(self):
        """The scheduler's own attributes, with each member's state dict under ``_schedulers``.

        Returns:
            A dict of the attributes except the optimizer, ``_schedulers`` holding the members' state dicts.
        """
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        """Restores the scheduler and, in order, each member from a dict made by :meth:`state_dict`.

        Args:
            state_dict: the saved state.
        """
        state_dict = dict(state_dict)
        members = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        for scheduler, saved in zip(self._schedulers, members):
            scheduler.load_state_dict(saved)


class SequentialLR(_Composite):
    """``schedulers[i]`` drives the lr from epoch ``milestones[i - 1]`` on (each restarts at epoch 0).

    Args:
        optimizer: the wrapped optimizer; every scheduler must belong to it.
        schedulers: the schedulers to run one after another (at least one; not ``ReduceLROnPlateau``).
        milestones: the epochs at which the next scheduler takes over; one fewer than ``schedulers``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule.

    Raises:
        ValueError: if there is no scheduler, the number of milestones is wrong, a scheduler is a
            ``ReduceLROnPlateau`` or belongs to another optimizer.
        TypeError: if a scheduler has no ``optimizer`` attribute.
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        owner = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{owner} expects at least one scheduler, but got no scheduler.")
        _check_members(owner, optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"Sequential Schedulers expects number of schedulers provided to be one more than "
                             f"the number of milestone points, but got number of schedulers {len(schedulers)} and "
                             f"the number of milestones to be equal to {len(milestones)}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # undo what constructing the members did
            set_group_value(group, "lr", group["initial_lr"])
        self._undo_member_steps(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def _undo_member_steps(self, scheduler):
        if hasattr(scheduler, "_schedulers"):
            for member in scheduler._schedulers:
                self._undo_member_steps(member)
        elif scheduler is not self and hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    @recorded   # under graph capture: one replayed step (it keeps Python state)
    def step(self):
        """Advances one epoch, stepping the scheduler in charge (a new one starts at its own epoch 0)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)  # a new phase starts at its own epoch 0 (closed form)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite):
    """Steps every scheduler in turn at each ``step()``, so their factors multiply.

    Args:
        schedulers: the schedulers to chain (at least one; not ``ReduceLROnPlateau``).
        optimizer: the optimizer they all belong to; ``None`` (default) takes the first scheduler's.

    Raises:
        ValueError: if there is no scheduler, a scheduler is a ``ReduceLROnPlateau`` or belongs to another
            optimizer.
        TypeError: if a scheduler has no ``optimizer`` attribute.
    """

    def __init__(self, schedulers, optimizer=None):
        owner = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{owner} expects at least one scheduler to be chained, but got no scheduler.")
        optimizer = optimizer or schedulers[0].optimizer
        _check_members(owner, optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = group_values(self._schedulers[-1].optimizer, "lr")

    @recorded   # under graph capture: one replayed step (it keeps Python state)
    def step(self):
        """Calls ``step()`` on every chained scheduler, in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = group_values(self._schedulers[-1].optimizer, "lr")
