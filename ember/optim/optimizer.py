"""The Optimizer base class: parameter groups, per-parameter state, checkpoints, hooks.

A concrete optimizer implements two methods and nothing else:

* ``init_state(param, group) -> dict`` -- the state a parameter starts with (tensors such
  as ``exp_avg``; ``step`` as a float32 0-d tensor), called before its first update;
* ``update(param, grad, state, group)`` -- one step for one parameter, written with
  in-place ember ops so it runs on any device.

``Optimizer.step`` does the looping: it evaluates the closure under ``enable_grad``,
then under ``no_grad`` visits every parameter that has a gradient. The state dict has
PyTorch's layout (``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index]}]}``)
so checkpoints move between ember and PyTorch.
"""
from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from copy import deepcopy
from itertools import chain

from ember.core import dtype as _dt
from ember.core.autograd import enable_grad, set_grad_enabled
from ember.core.tensor import Tensor
from ember.ops.sparse import SparseTensor
from ember.dispatch.tracing import recorded
from ember.utils.hooks import RemovableHandle, add_hook

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Marks a default that every parameter group must set itself (e.g. a required lr)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_global_step_pre_hooks: OrderedDict = OrderedDict()
_global_step_post_hooks: OrderedDict = OrderedDict()


def register_optimizer_step_pre_hook(hook) -> RemovableHandle:
    """Run ``hook(optimizer, args, kwargs)`` before every optimizer's step.

    Global pre-hooks run before the optimizer's own ones. A hook may return ``None`` or a
    pair ``(new_args, new_kwargs)`` that replaces the arguments passed on to ``step``.

    Args:
        hook: the callable to register.

    Returns:
        A handle whose ``remove()`` unregisters the hook.
    """
    return add_hook(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook) -> RemovableHandle:
    """Run ``hook(optimizer, args, kwargs)`` after every optimizer's step.

    Global post-hooks run after the optimizer's own ones; their return value is ignored.

    Args:
        hook: the callable to register.

    Returns:
        A handle whose ``remove()`` unregisters the hook.
    """
    return add_hook(_global_step_post_hooks, hook)


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return obj.type()
    return f"{type(obj).__module__}.{type(obj).__qualname__}" if type(obj).__module__ != "builtins" \
        else type(obj).__qualname__


def scalar(value) -> float:
    """A hyper-parameter as a Python float (groups may hold 1-element tensors, e.g. lr).

    Args:
        value: a number or a 1-element tensor.

    Returns:
        ``value.item()`` for a tensor, else ``value`` unchanged.
    """
    return float(value.item()) if isinstance(value, Tensor) else value


def check_lr(lr):
    """PyTorch's lr check, shared by every optimizer: a 1-element tensor or a number >= 0.

    Args:
        lr: the learning rate to validate.

    Raises:
        ValueError: if ``lr`` is a tensor with more than one element, or is negative.
    """
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def check_at_least(value, minimum_ok: float, what: str):
    """Raise ``ValueError("Invalid {what}: {value}")`` unless ``value >= minimum_ok``.

    Args:
        value: the hyper-parameter to validate.
        minimum_ok: the smallest accepted value.
        what: the name used in the error message.
    """
    if not minimum_ok <= value:
        raise ValueError(f"Invalid {what}: {value}")


def check_betas(betas):
    """Checks that the first two entries of ``betas`` lie in ``[0, 1)``.

    Args:
        betas: the sequence of momentum coefficients.

    Raises:
        ValueError: naming the index of the first coefficient out of range.
    """
    for i, beta in enumerate(betas[:2]):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def step_tensor(value: float = 0.0) -> Tensor:
    """The ``state['step']`` counter: a float32 0-d CPU tensor, as PyTorch keeps it.

    Args:
        value: the initial count. Default: ``0.0``.

    Returns:
        A new 0-d float32 tensor.
    """
    from ember.ops.creation import tensor
    return tensor(float(value), dtype=_dt.float32)


def increment_step(state) -> float:
    """``state['step'] += 1``; returns the new count as a Python float.

    Args:
        state: a parameter's state dict holding a ``'step'`` tensor, which is incremented in place.

    Returns:
        The new step count as a float.
    """
    from ember.core.call import write_inplace
    step_t = state["step"]
    # one scalar write (what add_(1) leaves, rounded to the counter's dtype the same way) without
    # the public op's dispatch: this runs once per parameter per step
    write_inplace(step_t, step_t.item() + 1)
    return step_t.item()


def _hooked(step):
    """Wrap an optimizer class's ``step`` so the step hooks run around it (once per call).

    Under graph capture the step is one recorded node, replayed as a call: it keeps Python
    state (the ``state`` dicts, step counts) that a graph of tensor ops cannot hold."""
    @functools.wraps(step)
    @recorded
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("_in_step"):
            return step(self, *args, **kwargs)  # a subclass's step calling super().step()
        self._opt_called = True  # read by the LR schedulers' call-order warning
        for hook in chain(_global_step_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, new_kwargs), "
                                       f"but got {result}.")
                args, kwargs = result
        self._in_step = True
        try:
            out = step(self, *args, **kwargs)
        finally:
            self._in_step = False
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_step_post_hooks.values()):
            hook(self, args, kwargs)
        return out
    wrapper._ember_hooked = True
    return wrapper


class Optimizer:
    """Base class of all optimizers.

    ``params`` is an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts that
    each define a parameter group (``{'params': [...], 'lr': ...}``); ``defaults`` holds
    the options a group does not set itself.

    Subclasses implement ``init_state`` and ``update``; this class keeps the groups and the
    per-parameter ``state``, runs ``step`` and the hooks, and saves and loads checkpoints.

    Args:
        params: the parameters to optimize: an iterable of tensors, of ``(name, tensor)`` pairs, or of
            parameter-group dicts. It must not be empty, nor a single tensor.
        defaults: the default value of each option (``lr``, ...) for groups that do not set it; a value
            of ``required`` makes the option mandatory in every group.

    Attributes:
        param_groups: the list of parameter-group dicts.
        state: a dict mapping each parameter to its state dict.
        defaults: the ``defaults`` given.
    """

    # sparse ``.grad`` (embedding(sparse=True)): refused with this message unless the update handles it
    _supports_sparse_grad = False
    _sparse_grad_error = "{name} does not support sparse gradients"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_ember_hooked", False):
            cls.step = _hooked(step)

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self._init_hooks()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {_typename(params)}")
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def _init_hooks(self):
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())

    # ---------------------------------------------------------------- pickling / printing
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_hooks()
        self.defaults.setdefault("differentiable", False)

    def __repr__(self):
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # ---------------------------------------------------------------- parameter groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (with its own options) to optimize from now on.

        Options the group leaves out are filled in from ``defaults``.

        Args:
            param_group: a dict with a ``'params'`` entry (a tensor, or a list of tensors or of
                ``(name, tensor)`` pairs, but not a set) and any per-group options.

        Raises:
            TypeError: if ``param_group`` is not a dict, ``params`` is a set or holds something other than
                tensors.
            ValueError: if a parameter is a non-leaf tensor (unless ``differentiable``), already belongs to
                another group, a required option is missing, or named and unnamed groups are mixed.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)
        tensors, names = [], []
        for param in params:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not self.defaults.get("differentiable", None) and not (param.is_leaf or param._retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter "
                                 f"{name}")
            param_group.setdefault(name, default)

        if len(tensors) != len(set(tensors)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        existing = set()
        for group in self.param_groups:
            existing.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(f"all optimizer param groups should be with/without names. cannot add param "
                                 f"group {which} to the optimizer")
        if not existing.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ---------------------------------------------------------------- gradients and steps
    @recorded   # under graph capture: one replayed step (it sets .grad attributes)
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to ``None`` (default) or to zeros in place.

        Args:
            set_to_none: if ``True`` (default) the ``grad`` attributes are set to ``None``; if ``False`` the
                existing gradients are detached from any graph and filled with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    def _check_grad_layouts(self, group: dict) -> None:
        """Raise PyTorch's error for a gradient layout this optimizer cannot update, for the whole group
        before any of its parameters moves (a sparse ``.grad`` unless ``_supports_sparse_grad``)."""
        if not self._supports_sparse_grad:
            for p in group["params"]:
                if type(p.grad) is SparseTensor:
                    raise RuntimeError(self._sparse_grad_error.format(name=type(self).__name__))

    def init_state(self, param: Tensor, group: dict) -> dict:
        """The state ``param`` starts with; called before its first update.

        Args:
            param: the parameter.
            group: the parameter group ``param`` belongs to.

        Returns:
            A dict of initial state (empty in this base class).
        """
        return {}

    def update(self, param: Tensor, grad: Tensor, state: dict, group: dict) -> None:
        """Apply one step to ``param`` in place, updating ``state`` in place.

        Args:
            param: the parameter to update.
            grad: its gradient.
            state: its state dict, as created by ``init_state``.
            group: the parameter group holding the options.

        Raises:
            NotImplementedError: in this base class; subclasses override it.
        """
        raise NotImplementedError(f"{type(self).__name__} implements neither step() nor update()")

    def step(self, closure=None):
        """One optimization step over every parameter with a gradient; returns the closure's loss.

        Parameters whose ``grad`` is ``None`` are skipped. The registered step pre- and post-hooks
        run around the step.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss; it runs with
                gradients enabled, before any parameter is updated.

        Returns:
            The value returned by ``closure``, or ``None`` without one.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with set_grad_enabled(bool(self.defaults.get("differentiable", False))):
            for group in self.param_groups:
                self._check_grad_layouts(group)
                for p in group["params"]:
                    grad = p.grad
                    if grad is None:
                        continue
                    if p in self.state:
                        state = self.state[p]
                    else:
                        state = self.init_state(p, group)
                    self.update(p, grad, state, group)
                    if state and p not in self.state:
                        self.state[p] = state  # an optimizer with nothing to keep (SGD) stores nothing
        return loss

    # ---------------------------------------------------------------- hooks
    def register_step_pre_hook(self, hook) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs before each step; it may return new (args, kwargs).

        Args:
            hook: the callable to register.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        return self._add_hook(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs after each step.

        Args:
            hook: the callable to register; its return value is ignored.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        return self._add_hook(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Registers ``hook(optimizer)``, called at the start of :meth:`state_dict`.

        Args:
            hook: the callable to register; its return value is ignored.
            prepend: if ``True``, the hook runs before those already registered. Default: ``False``.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        return self._add_hook(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Registers ``hook(optimizer, state_dict)``, called on the result of :meth:`state_dict`.

        A hook may return a dict, which then replaces the state dict being returned.

        Args:
            hook: the callable to register.
            prepend: if ``True``, the hook runs before those already registered. Default: ``False``.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        return self._add_hook(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Registers ``hook(optimizer, state_dict)``, called before :meth:`load_state_dict` loads anything.

        The hook receives a shallow copy of the state dict being loaded; if it returns a dict,
        that dict is loaded instead.

        Args:
            hook: the callable to register.
            prepend: if ``True``, the hook runs before those already registered. Default: ``False``.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        return self._add_hook(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """Registers ``hook(optimizer)``, called once :meth:`load_state_dict` has loaded the state.

        Args:
            hook: the callable to register; its return value is ignored.
            prepend: if ``True``, the hook runs before those already registered. Default: ``False``.

        Returns:
            A handle whose ``remove()`` unregisters the hook.
        """
        return self._add_hook(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    @staticmethod
    def _add_hook(hooks: OrderedDict, hook, prepend: bool = False) -> RemovableHandle:
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    # ---------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [...]}``; parameters are numbered in group order.

        The state tensors are the live ones (as in PyTorch); save or deep-copy the result
        to keep a snapshot.

        Returns:
            A dict with ``'state'`` (each parameter's state, keyed by its index) and ``'param_groups'``
            (each group's options, with ``'params'`` replaced by the list of indices).
        """
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index_of: dict[int, int] = {}
        next_index = 0
        packed_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                if id(p) not in index_of:
                    index_of[id(p)] = next_index
                    next_index += 1
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            packed_groups.append(packed)
        packed_state = {(index_of[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": packed_groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state dict made by ``state_dict()`` here or by PyTorch's optimizer of the same kind.

        State tensors are moved to each parameter's device (floating ones to its dtype,
        ``step`` kept as is) and copied, so the loaded optimizer never shares buffers with
        the one that saved.

        Args:
            state_dict: the dict to load; its groups must match this optimizer's groups in number and size.
                Options it lacks are filled in from ``defaults``.

        Raises:
            ValueError: if the number of groups or the size of a group differs.
        """
        state_dict = state_dict.copy()
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for group, saved in zip(groups, saved_groups):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        state = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = _cast_state(param, value)
            else:
                state[key] = value

        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            for name, default in self.defaults.items():  # options older checkpoints lack
                if default is not required:
                    saved.setdefault(name, default)
            new_groups.append(saved)
        self.__setstate__({"state": state, "param_groups": new_groups})
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)


Optimizer.step = _hooked(Optimizer.step)


# Per-parameter counters kept as CPU float32 scalars (read with .item() each step), which
# loading leaves where and as they are.
_SCALAR_STATE = ("step", "mu_product")


def _cast_state(param: Tensor, value, key=None):
    """A loaded state value, placed for ``param``: its device, its dtype if floating, always a copy."""
    if isinstance(value, Tensor):
        if key in _SCALAR_STATE:
            out = value
        elif param.dtype.is_floating_point:
            out = value.to(dtype=param.dtype, device=param.device)
        else:
            out = value.to(device=param.device)
        return out.clone() if out is value else out
    if isinstance(value, dict):
        casted = {k: _cast_state(param, v, k) for k, v in value.items()}
        if isinstance(casted.get("step"), (int, float)):  # very old checkpoints count steps in a number
            casted["step"] = step_tensor(casted["step"])
        return casted
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_state(param, v) for v in value)
    return value
