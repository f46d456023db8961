"""Stochastic Weight Averaging and exponential moving averages of a model's weights.

``AveragedModel`` keeps a copy of a model whose parameters (and optionally buffers) are
a running average of the model's over training; ``SWALR`` anneals the learning rate to
a constant SWA rate; ``update_bn`` recomputes BatchNorm statistics for the averaged
weights. The ``get_*_avg_fn`` factories give the averaging rules: equal-weight (SWA)
or exponential (EMA), per tensor or over a list of tensors at once.
"""
from __future__ import annotations

import itertools
import math
from copy import deepcopy

from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.nn.modules.module import Module
from ember.optim.lr_scheduler.base import LRScheduler, per_group, warn_if_called_outside_step

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn",
           "get_ema_avg_fn", "get_swa_avg_fn"]


def get_ema_multi_avg_fn(decay=0.999):
    """The exponential-moving-average rule over lists of tensors, updating in place.

    Args:
        decay: the weight of the old average. Default: ``0.999``.

    Returns:
        ``ema_update(ema_params, current_params, num_averaged)``: ``ema = decay * ema + (1 - decay) * current``.
    """
    @no_grad()
    def ema_update(ema_param_list, current_param_list, _num_averaged):
        for p_ema, p_model in zip(ema_param_list, current_param_list):
            if p_ema.is_floating_point() or p_ema.is_complex():
                p_ema.lerp_(p_model, 1 - decay)
            else:
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """The equal-weight (SWA) running-average rule over lists of tensors, updating in place.

    Returns:
        ``swa_update(averaged_params, current_params, num_averaged)``:
        ``avg += (current - avg) / (num_averaged + 1)``.
    """
    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        n = float(num_averaged.item()) if isinstance(num_averaged, Tensor) else float(num_averaged)
        for p_avg, p_model in zip(averaged_param_list, current_param_list):
            if p_avg.is_floating_point() or p_avg.is_complex():
                p_avg.lerp_(p_model, 1 / (n + 1))
            else:
                p_avg.copy_(p_avg + (p_model - p_avg) / (n + 1))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """The exponential-moving-average rule for one tensor.

    Args:
        decay: the weight of the old average. Default: ``0.999``.

    Returns:
        ``ema_update(ema_param, current_param, num_averaged)`` returning ``decay * ema + (1 - decay) * current``.
    """
    @no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """The equal-weight (SWA) running-average rule for one tensor.

    Returns:
        ``swa_update(averaged_param, current_param, num_averaged)`` returning
        ``avg + (current - avg) / (num_averaged + 1)``.
    """
    @no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A deep copy of ``model`` whose weights are a running average of ``model``'s.

    Call ``update_parameters(model)`` after optimizer steps: the first call copies the
    weights, later ones average them in with ``multi_avg_fn`` (over all tensors at once)
    or ``avg_fn`` (tensor by tensor), by default the equal-weight SWA average. Without
    ``use_buffers`` the buffers are not averaged but copied from ``model`` (recompute
    BatchNorm statistics with :func:`update_bn`); with it they are averaged too. Calling
    the averaged model runs the copy.

    Args:
        model: the model to average.
        device: if given, the copy is kept on this device. Default: ``None``.
        avg_fn: ``avg_fn(averaged, current, num_averaged) -> new averaged`` for one tensor. Default: ``None``.
        multi_avg_fn: ``multi_avg_fn(averaged_list, current_list, num_averaged)`` updating the averaged
            tensors in place. Default: ``None`` (the SWA rule).
        use_buffers: average the buffers as well as the parameters. Default: ``False``.

    Attributes:
        module: the averaged copy.
        n_averaged: an int64 buffer counting the models averaged so far.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        from ember.core import dtype as _dt
        from ember.ops.creation import tensor
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=_dt.long, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        """Runs the averaged copy.

        Args:
            *args: positional inputs of the model.
            **kwargs: keyword inputs of the model.

        Returns:
            What the model returns.
        """
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        """Averages ``model``'s current weights into this one's (the first call copies them).

        Args:
            model: the model being trained (same architecture as the averaged one).
        """
        if self.use_buffers:
            own = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs = itertools.chain(model.parameters(), model.buffers())
        else:
            own, theirs = self.parameters(), model.parameters()
        own_detached, theirs_detached = [], []
        n = int(self.n_averaged.item())
        with no_grad():
            for p_avg, p_model in zip(own, theirs):
                current = p_model.detach().to(p_avg.device)
                own_detached.append(p_avg.detach())
                theirs_detached.append(current)
                if n == 0:
                    p_avg.detach().copy_(current)
            if n > 0:
                if self.multi_avg_fn is not None or self.avg_fn is None:
                    # group by (device, dtype), as a list-at-once rule would fuse them
                    groups = {}
                    for p_avg, p_model in zip(own_detached, theirs_detached):
                        key = (str(p_avg.device), p_avg.dtype)
                        groups.setdefault(key, ([], []))
                        groups[key][0].append(p_avg)
                        groups[key][1].append(p_model)
                    multi = self.multi_avg_fn or get_swa_multi_avg_fn()
                    for (device, _), (avg_list, model_list) in groups.items():
                        multi(avg_list, model_list, self.n_averaged.to(avg_list[0].device))
                else:
                    for p_avg, p_model in zip(own_detached, theirs_detached):
                        p_avg.copy_(self.avg_fn(p_avg, p_model, self.n_averaged.to(p_avg.device)))
            if not self.use_buffers:
                # buffers follow the source model (BatchNorm statistics are recomputed by update_bn)
                for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                    b_avg.detach().copy_(b_model.detach().to(b_avg.device))
            self.n_averaged.add_(1)


@no_grad()
def update_bn(loader, model, device=None):
    """Recomputes the BatchNorm running statistics of ``model`` with one pass over ``loader``.

    Each BatchNorm's statistics are reset and accumulated as a cumulative average
    (``momentum=None``) over the batches; the momenta and the training mode are restored
    afterwards. A model without BatchNorm is left as it is.

    Args:
        loader: an iterable of batches; a list or tuple batch contributes its first element.
        model: the model to update.
        device: if given, each batch is moved there first. Default: ``None``.
    """
    from ember.nn.modules.normalization import _BatchNorm
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for input in loader:
        if isinstance(input, (list, tuple)):
            input = input[0]
        if device is not None:
            input = input.to(device)
        model(input)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each param group's learning rate to ``swa_lr`` over ``anneal_epochs`` steps, then holds it.

    Step t moves the rate a fraction ``f(t / anneal_epochs)`` of the way from where the
    schedule began to ``swa_lr``, with ``f(x) = x`` (``'linear'``) or
    ``f(x) = (1 - cos(pi x)) / 2`` (``'cos'``).

    Args:
        optimizer: the wrapped optimizer.
        swa_lr: the target learning rate, one for all groups or a list with one per group.
        anneal_epochs: the number of steps of the annealing (>= 0). Default: ``10``.
        anneal_strategy: ``'cos'`` or ``'linear'``. Default: ``'cos'``.
        last_epoch: index of the last epoch done; ``-1`` (default) starts the schedule.

    Raises:
        ValueError: on an unknown ``anneal_strategy``, a negative or non-int ``anneal_epochs``, or a
            ``swa_lr`` list of the wrong length.
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        swa_lrs = per_group("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must by one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def state_dict(self):
        """The scheduler's state: its attributes except the optimizer and the (unpicklable) annealing function.

        Returns:
            A dict; the strategy is kept by name under ``_anneal_strategy``.
        """
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        """Restores a state made by :meth:`state_dict`, rebuilding the annealing function.

        Args:
            state_dict: the dict to load.
        """
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        """Computes the learning rates of the current step.

        The rate the schedule started from is recovered from the current one, then moved
        the annealing fraction of this step towards ``swa_lr``.

        Returns:
            A list with one learning rate per param group.
        """
        warn_if_called_outside_step(self)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha) for group, lr in zip(self.optimizer.param_groups, prev_lrs)]
