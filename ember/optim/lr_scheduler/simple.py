"""Schedulers that scale the learning rate by a factor per epoch.

Each ``get_lr`` is recursive (scales the group's current lr, so schedulers chain) and
each ``_get_closed_form_lr`` computes the same value directly from ``base_lrs``.
"""
from __future__ import annotations

import types
from bisect import bisect_right
from collections import Counter

from ember.optim.lr_scheduler.base import LRScheduler, group_values, warn_if_called_outside_step

__all__ = ["LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
           "PolynomialLR"]


class _LambdaScheduler(LRScheduler):
    """Shared by LambdaLR and MultiplicativeLR: one function of the epoch per param group."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.optimizer = optimizer
        if not isinstance(lr_lambda, (list, tuple)):
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        else:
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        self._check_lambdas()
        super().__init__(optimizer, last_epoch)

    def _check_lambdas(self):
        """Validates ``lr_lambdas`` before the base class runs (nothing to check here)."""

    def state_dict(self):
        """Functions are not saved; callable objects are saved as their ``__dict__``.

        Returns:
            The scheduler's attributes except the optimizer, with ``lr_lambdas`` holding ``None`` for each
            plain function and a copy of the ``__dict__`` of each other callable.
        """
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        """Restores the scheduler from a dict made by :meth:`state_dict`.

        Saved callable-object attributes are written back into the current ``lr_lambdas``;
        plain functions stay as they are.

        Args:
            state_dict: the saved state.
        """
        state_dict = dict(state_dict)
        lr_lambdas = state_dict.pop("lr_lambdas")
        self.__dict__.update(state_dict)
        for fn, saved in zip(self.lr_lambdas, lr_lambdas):
            if saved is not None:
                fn.__dict__.update(saved)


class LambdaLR(_LambdaScheduler):
    """Scales each group's initial learning rate by a function of the epoch.

    lr = initial_lr * lr_lambda(epoch).

    Args:
        optimizer: the wrapped optimizer.
        lr_lambda: a function of the epoch (an int) returning a multiplicative factor, or a list of such
            functions, one per param group.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).

    Raises:
        ValueError: if a list of ``lr_lambda`` does not have one entry per param group.
    """

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: ``initial_lr * lr_lambda(last_epoch)``.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaScheduler):
    """Multiplies each group's learning rate, every epoch, by a function of the epoch.

    lr = previous lr * lr_lambda(epoch), from epoch 1 on.

    Args:
        optimizer: the wrapped optimizer.
        lr_lambda: a function of the epoch (an int) returning the factor applied to the current lr, or a
            list of such functions, one per param group.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).

    Raises:
        TypeError: if an ``lr_lambda`` is not callable.
        ValueError: if a list of ``lr_lambda`` does not have one entry per param group.
    """

    def _check_lambdas(self):
        """Every ``lr_lambda`` must be callable (checked once they are matched to the param groups)."""
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: each group's current lr times ``lr_lambda(last_epoch)``.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [g["lr"] * fn(self.last_epoch) for fn, g in zip(self.lr_lambdas, self.optimizer.param_groups)]


class StepLR(LRScheduler):
    """Decays the learning rate by ``gamma`` every ``step_size`` epochs.

    lr = initial_lr * gamma ** (epoch // step_size).

    Args:
        optimizer: the wrapped optimizer.
        step_size: the number of epochs between two decays.
        gamma: the decay factor. Default: ``0.1``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: the current lr, times ``gamma`` every ``step_size`` epochs.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return group_values(self.optimizer, "lr")
        return [g["lr"] * self.gamma for g in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Decays the learning rate by ``gamma`` at each of the given milestone epochs.

    lr = initial_lr * gamma ** (number of milestones <= epoch); a repeated milestone counts twice.

    Args:
        optimizer: the wrapped optimizer.
        milestones: the epochs at which the learning rate decays.
        gamma: the decay factor. Default: ``0.1``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: the current lr, times ``gamma`` (once per occurrence) at a milestone.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        if self.last_epoch not in self.milestones:
            return group_values(self.optimizer, "lr")
        return [g["lr"] * self.gamma ** self.milestones[self.last_epoch] for g in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    """Scales the learning rate by a constant ``factor`` for the first ``total_iters`` epochs.

    lr = initial_lr * factor before epoch ``total_iters``, initial_lr from then on.

    Args:
        optimizer: the wrapped optimizer.
        factor: the factor applied during the first ``total_iters`` epochs, in ``[0, 1]``. Default: ``1/3``.
        total_iters: the number of epochs during which the factor applies. Default: ``5``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).

    Raises:
        ValueError: if ``factor`` is outside ``[0, 1]``.
    """

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        if factor > 1.0 or factor < 0:
            raise ValueError(f"Constant multiplicative factor expected to be between 0 and 1, got {factor}.")
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: the lr scaled by ``factor`` at epoch 0 and restored at ``total_iters``.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        if self.last_epoch == 0:
            return [g["lr"] * self.factor for g in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return group_values(self.optimizer, "lr")
        return [g["lr"] * (1.0 / self.factor) for g in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """The factor on initial_lr goes linearly from start_factor to end_factor over total_iters epochs.

    Args:
        optimizer: the wrapped optimizer.
        start_factor: the factor at epoch 0, in ``(0, 1]``. Default: ``1/3``.
        end_factor: the factor from epoch ``total_iters`` on, in ``[0, 1]``. Default: ``1.0``.
        total_iters: the number of epochs the change takes. Default: ``5``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).

    Raises:
        ValueError: if ``start_factor`` or ``end_factor`` is out of range.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError(f"Starting multiplicative factor expected to be greater than 0 and less or equal "
                             f"to 1, got {start_factor}.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError(f"Ending multiplicative factor expected to be between 0 and 1, got {end_factor}.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: the current lr moved one step along the linear ramp of factors.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        if self.last_epoch == 0:
            return [g["lr"] * self.start_factor for g in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_iters * self.start_factor + (self.last_epoch - 1) * delta)
        return [g["lr"] * ratio for g in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        return [base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)
                for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Decays the learning rate by ``gamma`` every epoch.

    lr = initial_lr * gamma ** epoch.

    Args:
        optimizer: the wrapped optimizer.
        gamma: the factor applied every epoch.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: the current lr times ``gamma``.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [g["lr"] * self.gamma for g in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decays the learning rate to 0 along a polynomial over ``total_iters`` epochs.

    lr = initial_lr * (1 - min(epoch, total_iters) / total_iters) ** power.

    Args:
        optimizer: the wrapped optimizer.
        total_iters: the number of epochs over which the lr decays to 0. Default: ``5``.
        power: the exponent of the polynomial. Default: ``1.0``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).
    """

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: the current lr moved one step along the polynomial decay.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
        factor = ((1.0 - self.last_epoch / self.total_iters)
                  / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [g["lr"] * factor for g in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base_lr in self.base_lrs]
