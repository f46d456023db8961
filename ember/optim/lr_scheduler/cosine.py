"""Cosine annealing (Loshchilov & Hutter, SGDR), with and without warm restarts."""
from __future__ import annotations

import math

from ember.dispatch.tracing import recorded
from ember.optim.lr_scheduler.base import (LRScheduler, _Flag, group_values, set_group_value,
                                           warn_if_called_outside_step)

__all__ = ["CosineAnnealingLR", "CosineAnnealingWarmRestarts"]


class CosineAnnealingLR(LRScheduler):
    """Anneals the learning rate from ``initial_lr`` to ``eta_min`` along half a cosine over ``T_max`` epochs.

    lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2.

    ``step()`` applies this recursively (from the current lr), so other schedulers may
    change the lr in between; past ``T_max`` the curve keeps going (back up to initial_lr
    at 2 * T_max), as in PyTorch. ``step(epoch)`` uses the closed form.

    Args:
        optimizer: the wrapped optimizer.
        T_max: the number of epochs of the descent from ``initial_lr`` to ``eta_min``.
        eta_min: the minimum learning rate. Default: ``0.0``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: the current lr moved one epoch along the cosine curve.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        epoch, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        if self._step_count == 1 and epoch > 0:  # resumed at a later epoch: start from the closed form
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(epoch * math.pi / t_max)) / 2
                    for base_lr in self.base_lrs]
        if (epoch - 1 - t_max) % (2 * t_max) == 0:  # leaving the minimum: the ratio below would be 0/0
            return [g["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for base_lr, g in zip(self.base_lrs, self.optimizer.param_groups)]
        ratio = (1 + math.cos(math.pi * epoch / t_max)) / (1 + math.cos(math.pi * (epoch - 1) / t_max))
        return [ratio * (g["lr"] - eta_min) + eta_min for g in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        cosine = math.cos(math.pi * self.last_epoch / self.T_max)
        return [self.eta_min + (base_lr - self.eta_min) * (1 + cosine) / 2 for base_lr in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from initial_lr to eta_min over T_i epochs, then a restart.

    The first period is ``T_0`` epochs; each next one is ``T_mult`` times longer.
    ``step(epoch)`` accepts fractional epochs (e.g. ``epoch + i / iters_per_epoch``).

    Args:
        optimizer: the wrapped optimizer.
        T_0: the length of the first period, a positive int.
        T_mult: the factor by which each period is longer than the one before, an int >= 1. Default: ``1``.
        eta_min: the minimum learning rate, a float or int. Default: ``0.0``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).

    Raises:
        ValueError: if ``T_0``, ``T_mult`` or ``eta_min`` is invalid.
    """

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):
        if T_0 <= 0 or not isinstance(T_0, int):
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: ``eta_min + (initial_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
                for base_lr in self.base_lrs]

    @recorded   # under graph capture: one replayed step (it keeps Python state)
    def step(self, epoch=None):
        """Advances the schedule by one epoch, or moves it to ``epoch``, and sets the new learning rates.

        Args:
            epoch: optional epoch to move to; it may be fractional (e.g. ``epoch + i / iters_per_epoch``
                to step once per batch) and must be non-negative. ``None`` advances by one epoch and
                restarts the cosine when the current period ends.

        Raises:
            ValueError: if ``epoch`` is negative.
        """
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:  # find the period n holding epoch: T_0 (T_mult^n - 1) / (T_mult - 1) <= epoch
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        with _Flag(self, "_get_lr_called_within_step"):
            for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
                set_group_value(group, "lr", lr)
        self._last_lr = group_values(self.optimizer, "lr")
