"""ReduceLROnPlateau: cut the learning rate when a watched metric stops improving."""
from __future__ import annotations

import warnings
from math import inf

from ember.dispatch.tracing import recorded
from ember.optim.lr_scheduler.base import (EPOCH_DEPRECATION_WARNING, LRScheduler, check_optimizer, group_values,
                                           set_group_value)

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    """Cuts the learning rates by ``factor`` when a watched metric stops improving.

    ``step(metric)`` once per epoch; after more than ``patience`` epochs without improvement
    (by ``threshold``, relative or absolute) every lr is multiplied by ``factor`` (not below
    ``min_lr``; changes smaller than ``eps`` are skipped), then ``cooldown`` epochs are ignored.

    Args:
        optimizer: the wrapped optimizer.
        mode: ``'min'`` (default) if the metric should decrease, ``'max'`` if it should increase.
        factor: the factor applied to the learning rates, below 1. Default: ``0.1``.
        patience: the number of epochs without improvement that are tolerated. Default: ``10``.
        threshold: the least change that counts as an improvement. Default: ``1e-4``.
        threshold_mode: ``'rel'`` (default): the metric must beat ``best * (1 - threshold)`` (``'min'``) or
            ``best * (1 + threshold)`` (``'max'``); ``'abs'``: it must beat ``best -/+ threshold``.
        cooldown: the number of epochs after a reduction during which bad epochs are not counted.
            Default: ``0``.
        min_lr: the lower bound of the learning rates, one value or one per param group. Default: ``0``.
        eps: a reduction smaller than this is not applied. Default: ``1e-8``.

    Raises:
        ValueError: if ``factor >= 1``, ``mode`` or ``threshold_mode`` is unknown, or a list of ``min_lr``
            has the wrong length.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError(f"Factor should be < 1.0, got {factor}.")
        self.factor = factor
        check_optimizer(optimizer)
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = group_values(optimizer, "lr")
        self._init_is_better(mode=mode, threshold=threshold, threshold_mode=threshold_mode)
        self._reset()

    def _reset(self):
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @recorded   # under graph capture: one replayed step (it keeps Python state)
    def step(self, metrics, epoch=None):
        """Records the metric of the epoch just finished and reduces the learning rates if it has plateaued.

        Args:
            metrics: the value of the watched metric (a number or a 0-d tensor).
            epoch: deprecated; if given (with a warning), it becomes ``last_epoch`` instead of
                ``last_epoch + 1``.
        """
        current = float(metrics)  # a 0-d tensor works too
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self.last_epoch = epoch
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr(epoch)
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = group_values(self.optimizer, "lr")

    def _reduce_lr(self, epoch):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"The number of param groups in the `optimizer` ({len(groups)}) differs from "
                                   f"when `ReduceLROnPlateau` was initialized ({len(self.min_lrs)}), usually due "
                                   f"to a new param group being added to the optimizer. Please modify the "
                                   f"`min_lrs` field to match the length of the `optimizer` param groups.")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for i, group in enumerate(groups):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, self.min_lrs[i])
            if old_lr - new_lr > self.eps:
                set_group_value(group, "lr", new_lr)

    @property
    def in_cooldown(self):
        """Whether the scheduler is in its cooldown period after a reduction."""
        return self.cooldown_counter > 0

    def _is_better(self, a, best):
        """Whether metric value ``a`` improves on ``best`` by the configured mode and threshold.

        Args:
            a: the new metric value.
            best: the best value so far.

        Returns:
            ``True`` if ``a`` counts as an improvement.
        """
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    is_better = _is_better

    def _init_is_better(self, mode, threshold, threshold_mode):
        if mode not in {"min", "max"}:
            raise ValueError("mode " + mode + " is unknown!")
        if threshold_mode not in {"rel", "abs"}:
            raise ValueError("threshold mode " + threshold_mode + " is unknown!")
        self.mode_worse = inf if mode == "min" else -inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict):
        """Restores the scheduler from a dict made by :meth:`state_dict`.

        Args:
            state_dict: the saved attributes; ``mode``, ``threshold`` and ``threshold_mode`` are validated
                again.
        """
        self.__dict__.update(state_dict)
        self._init_is_better(mode=self.mode, threshold=self.threshold, threshold_mode=self.threshold_mode)
