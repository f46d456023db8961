"""Cyclical schedules: CyclicLR (Smith, 2017) and the one-cycle policy (Smith & Topin, 2018).

Both may also cycle momentum (``momentum`` for SGD-like optimizers, beta1 for Adam-like
ones) inversely to the learning rate. Both are meant to be stepped once per batch.
"""
from __future__ import annotations

import math
import types
from functools import partial

from ember.optim.lr_scheduler.base import (LRScheduler, check_optimizer, per_group, set_group_value,
                                           set_momentum, warn_if_called_outside_step)

__all__ = ["CyclicLR", "OneCycleLR"]


def _momentum_key(optimizer) -> bool:
    """True when the optimizer's momentum is beta1 (Adam-like); raises when it has none."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"optimizer must support momentum or beta1 with `cycle_momentum` option enabled "
                         f"({type(optimizer).__name__} has neither)")
    return "betas" in optimizer.defaults


class CyclicLR(LRScheduler):
    """The lr goes from base_lr up to max_lr in ``step_size_up`` steps and back in ``step_size_down``.

    mode 'triangular' keeps the amplitude, 'triangular2' halves it every cycle, 'exp_range'
    scales it by ``gamma ** iteration``; a custom ``scale_fn`` (of the cycle number or the
    iteration, by ``scale_mode``) replaces the mode. Meant to be stepped after every batch.

    Args:
        optimizer: the wrapped optimizer.
        base_lr: the lower bound of the cycle, one value or one per param group; when starting
            (``last_epoch=-1``) the groups' learning rates are set to it.
        max_lr: the upper bound of the cycle, one value or one per param group.
        step_size_up: the number of steps of the rising half of a cycle. Default: ``2000``.
        step_size_down: the number of steps of the falling half; ``None`` uses ``step_size_up``.
        mode: ``'triangular'`` (default), ``'triangular2'`` or ``'exp_range'``; ignored when ``scale_fn``
            is given.
        gamma: the base of the ``'exp_range'`` scaling. Default: ``1.0``.
        scale_fn: optional function of one argument returning the amplitude scale; it replaces ``mode``.
        scale_mode: what ``scale_fn`` receives: ``'cycle'`` (default, the cycle number) or
            ``'iterations'`` (the step count). Only used with a custom ``scale_fn``.
        cycle_momentum: if ``True`` (default), the momentum (or beta1) moves opposite to the lr between
            ``base_momentum`` and ``max_momentum``; the optimizer must have one of them.
        base_momentum: the lower momentum bound, one value or one per param group. Default: ``0.8``.
        max_momentum: the upper momentum bound, one value or one per param group. Default: ``0.9``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).

    Raises:
        ValueError: if ``mode`` is unknown and no ``scale_fn`` is given, a per-group list has the wrong
            length, or ``cycle_momentum`` is set for an optimizer without momentum.
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None, mode="triangular",
                 gamma=1.0, scale_fn=None, scale_mode="cycle", cycle_momentum=True, base_momentum=0.8,
                 max_momentum=0.9, last_epoch=-1):
        check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                set_group_value(group, "lr", lr)
        self.max_lrs = per_group("max_lr", optimizer, max_lr)
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError(f"mode is invalid and scale_fn is None (mode={mode!r})")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_key(optimizer)
            self.base_momentums = per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = per_group("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for m_max, m_base, group in zip(self.max_momentums, self.base_momentums, optimizer.param_groups):
                    set_momentum(group, m_max, self.use_beta1)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self):
        if self._scale_fn_custom is not None:
            return
        if self.mode == "triangular":
            self._scale_fn_ref = self._triangular_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "triangular2":
            self._scale_fn_ref = self._triangular2_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "exp_range":
            self._scale_fn_ref = partial(self._exp_range_scale_fn, self.gamma)
            self.scale_mode = "iterations"

    def scale_fn(self, x):
        """The amplitude scale of the cycle at ``x``: the custom ``scale_fn`` if one was given, else the mode's.

        Args:
            x: the cycle number (``scale_mode='cycle'``) or the step count (``'iterations'``).

        Returns:
            The factor applied to the amplitude ``max_lr - base_lr``.
        """
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return self._scale_fn_ref(x)

    @staticmethod
    def _triangular_scale_fn(x):
        return 1.0

    @staticmethod
    def _triangular2_scale_fn(x):
        return 1 / (2.0 ** (x - 1))

    @staticmethod
    def _exp_range_scale_fn(gamma, x):
        return gamma ** x

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: its position in the current cycle between ``base_lr`` and ``max_lr``; with
        ``cycle_momentum`` the group's momentum is updated as a side effect.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle  # position in the cycle, in [0, 1)
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base_lr + (max_lr - base_lr) * scale_factor * scale
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, m_base, m_max in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                set_momentum(group, m_max - (m_max - m_base) * scale_factor * scale, self.use_beta1)
        return lrs

    def state_dict(self):
        """As the base, without the bound scale function; a callable-object scale_fn is saved as its __dict__.

        Returns:
            The scheduler's attributes except the optimizer; a custom ``scale_fn`` that is a plain function
            is saved as ``None``.
        """
        state = super().state_dict()
        state.pop("_scale_fn_ref", None)
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None
        if fn is not None and not isinstance(fn, types.FunctionType):
            state["_scale_fn_custom"] = fn.__dict__.copy()
        return state

    def load_state_dict(self, state_dict):
        """Restores the scheduler from a dict made by :meth:`state_dict`.

        A saved callable-object ``scale_fn`` state is written back into the current ``scale_fn``,
        and the mode's scale function is rebuilt.

        Args:
            state_dict: the saved state.
        """
        state_dict = dict(state_dict)
        fn = state_dict.pop("_scale_fn_custom")
        super().load_state_dict(state_dict)
        if fn is not None:
            self._scale_fn_custom.__dict__.update(fn)
        self._init_scale_fn()


class OneCycleLR(LRScheduler):
    """The one-cycle policy over ``total_steps`` (or ``epochs * steps_per_epoch``) steps.

    The lr rises from ``max_lr / div_factor`` to ``max_lr`` during the first ``pct_start``
    of the steps, then falls to ``initial_lr / final_div_factor`` ('cos' or 'linear'
    annealing). ``three_phase`` falls back to the initial lr symmetrically before the final
    decay. Momentum, when cycled, moves the opposite way between base and max momentum.
    Meant to be stepped after every batch.

    Args:
        optimizer: the wrapped optimizer.
        max_lr: the peak learning rate, one value or one per param group.
        total_steps: the total number of steps of the cycle, a positive int; if ``None``, ``epochs`` and
            ``steps_per_epoch`` must both be given.
        epochs: the number of epochs, used with ``steps_per_epoch`` when ``total_steps`` is ``None``.
        steps_per_epoch: the number of steps per epoch.
        pct_start: the fraction of the cycle spent rising, a float in ``[0, 1]``. Default: ``0.3``.
        anneal_strategy: ``'cos'`` (default) or ``'linear'``.
        cycle_momentum: if ``True`` (default), the momentum (or beta1) moves opposite to the lr between
            ``base_momentum`` and ``max_momentum``; the optimizer must have one of them.
        base_momentum: the momentum at the peak lr, one value or one per param group. Default: ``0.85``.
        max_momentum: the momentum at the start and end, one value or one per param group.
            Default: ``0.95``.
        div_factor: the initial lr is ``max_lr / div_factor``. Default: ``25.0``.
        final_div_factor: the final lr is ``initial_lr / final_div_factor``. Default: ``1e4``.
        three_phase: if ``True``, the lr falls back to ``initial_lr`` over as many steps as it rose, and
            only then decays to the final lr. Default: ``False``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule, another value
            resumes it (every param group then needs an ``initial_lr``).

    Raises:
        ValueError: if the step counts, ``pct_start`` or ``anneal_strategy`` are invalid, or
            ``cycle_momentum`` is set for an optimizer without momentum.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if total_steps <= 0 or not isinstance(total_steps, int):
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")

        def phase(end_step, start_lr, end_lr, start_momentum, end_momentum):
            return {"end_step": end_step, "start_lr": start_lr, "end_lr": end_lr,
                    "start_momentum": start_momentum, "end_momentum": end_momentum}
        rise_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                phase(rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                phase(float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                      "max_momentum"),
                phase(self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                phase(rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                phase(self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy

        max_lrs = per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for max_lr_i, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = max_lr_i / div_factor
                group["max_lr"] = max_lr_i
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _momentum_key(optimizer)
            max_momentums = per_group("max_momentum", optimizer, max_momentum)
            base_momentums = per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m_max, m_base, group in zip(max_momentums, base_momentums, optimizer.param_groups):
                    set_momentum(group, m_max, self.use_beta1)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)

    def _anneal_func(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return self._annealing_cos(start, end, pct)
        return self._annealing_linear(start, end, pct)

    @staticmethod
    def _annealing_cos(start, end, pct):
        """From start (pct=0) to end (pct=1) along half a cosine."""
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    @staticmethod
    def _annealing_linear(start, end, pct):
        return (end - start) * pct + start

    def get_lr(self):
        """Computes the learning rates for epoch ``last_epoch``.

        For each param group: the current phase's annealing between its start and end values; with
        ``cycle_momentum`` the group's momentum is updated as a side effect.

        It is called by ``step``, which writes the rates into the optimizer; calling it directly
        warns. Use ``get_last_lr`` to read the rates in effect.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"Tried to step {step_num} times. The specified number of total steps is "
                             f"{self.total_steps}")
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == last:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal_func(group[phase["start_momentum"]], group[phase["end_momentum"]],
                                                     pct)
                    break
                start_step = end_step
            lrs.append(lr)
            if self.cycle_momentum:
                set_momentum(group, momentum, self.use_beta1)
        return lrs
