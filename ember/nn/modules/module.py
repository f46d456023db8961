"""``nn.Module``: the base class of every layer and model.

A Module keeps three ordered registries filled by attribute assignment: ``_parameters``
(``nn.Parameter``), ``_buffers`` (tensors that are state but not learned) and
``_modules`` (child modules). Everything else — iteration, ``state_dict``, device and
dtype moves, train/eval, hooks — walks those registries.
"""
from __future__ import annotations

import itertools
import warnings
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from ember.core import dtype as dt
from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.dispatch.tracing import recorded
from ember.nn.parameter import Buffer, Parameter, is_lazy
from ember.utils.hooks import RemovableHandle, add_hook

__all__ = ["Module", "register_module_forward_pre_hook", "register_module_forward_hook",
           "register_module_full_backward_hook", "register_module_full_backward_pre_hook",
           "register_module_backward_hook", "register_module_buffer_registration_hook",
           "register_module_module_registration_hook", "register_module_parameter_registration_hook"]

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"

# hooks that run around every module call (``nn.modules.module.register_module_*``)
_global_forward_pre_hooks: OrderedDict = OrderedDict()
_global_forward_hooks: OrderedDict = OrderedDict()
_global_forward_hooks_always_called: OrderedDict = OrderedDict()
_global_backward_hooks: OrderedDict = OrderedDict()
_global_backward_pre_hooks: OrderedDict = OrderedDict()
# hooks that see every buffer / submodule / parameter as a module registers it
_global_buffer_registration_hooks: OrderedDict = OrderedDict()
_global_module_registration_hooks: OrderedDict = OrderedDict()
_global_parameter_registration_hooks: OrderedDict = OrderedDict()


def register_module_forward_pre_hook(hook) -> RemovableHandle:
    """Register a hook that runs before the ``forward`` of every module.

    The hook is called as ``hook(module, args)`` with the positional arguments of the call.
    It may return a replacement: a tuple of new positional arguments, or a single value
    (wrapped in a 1-tuple). Global hooks run before the module's own pre-hooks.

    Args:
        hook: the callable to run.

    Returns:
        A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
    """
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook, *, always_call: bool = False) -> RemovableHandle:
    """Register a hook that runs after the ``forward`` of every module.

    The hook is called as ``hook(module, args, output)``; a non-None return value
    replaces the output. Global hooks run before the module's own forward hooks.

    Args:
        hook: the callable to run.
        always_call: if True, the hook also runs (with ``output=None``) when ``forward`` or an
            earlier hook raised an exception.

    Returns:
        A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
    """
    handle = RemovableHandle(_global_forward_hooks, extra_dict=_global_forward_hooks_always_called)
    _global_forward_hooks[handle.id] = hook
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_hook(hook) -> RemovableHandle:
    """Register a backward hook for every module.

    The hook is called as ``hook(module, grad_input, grad_output)`` once the gradients
    with respect to a module's positional tensor inputs are computed; it may return a tuple
    that replaces ``grad_input``. See ``Module.register_full_backward_hook``.

    Args:
        hook: the callable to run.

    Returns:
        A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
    """
    return add_hook(_global_backward_hooks, hook)


def register_module_full_backward_pre_hook(hook) -> RemovableHandle:
    """Register a backward pre-hook for every module.

    The hook is called as ``hook(module, grad_output)`` when the gradients with respect to a
    module's outputs are known, before the gradients of its inputs are computed; it may
    return a tuple that replaces ``grad_output``.

    Args:
        hook: the callable to run.

    Returns:
        A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
    """
    return add_hook(_global_backward_pre_hooks, hook)


def register_module_backward_hook(hook) -> RemovableHandle:
    """Register a backward hook for every module under the deprecated name; ember runs it as a full
    backward hook (as ``Module.register_backward_hook`` does).

    Args:
        hook: called as ``hook(module, grad_input, grad_output)``; it may return a new ``grad_input``.

    Returns:
        A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
    """
    return add_hook(_global_backward_hooks, hook)


def register_module_buffer_registration_hook(hook) -> RemovableHandle:
    """Register a hook that every module calls when it registers a buffer.

    Args:
        hook: called as ``hook(module, name, buffer)``; a non-None return value is registered instead.

    Returns:
        A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
    """
    return add_hook(_global_buffer_registration_hooks, hook)


def register_module_module_registration_hook(hook) -> RemovableHandle:
    """Register a hook that every module calls when it registers a submodule.

    Args:
        hook: called as ``hook(module, name, submodule)``; a non-None return value is registered instead.

    Returns:
        A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
    """
    return add_hook(_global_module_registration_hooks, hook)


def register_module_parameter_registration_hook(hook) -> RemovableHandle:
    """Register a hook that every module calls when it registers a parameter.

    Args:
        hook: called as ``hook(module, name, param)``; a non-None return value is registered instead.

    Returns:
        A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
    """
    return add_hook(_global_parameter_registration_hooks, hook)


def _registration_hooks(hooks, module, name, value):
    """``value`` after every registration hook in ``hooks`` has seen (and maybe replaced) it."""
    for hook in list(hooks.values()):
        output = hook(module, name, value)
        if output is not None:
            value = output
    return value


class _IncompatibleKeys(namedtuple("_IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it could not match."""
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _indent(text: str, spaces: int) -> str:
    """Indent every line of ``text`` but the first."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    pad = " " * spaces
    return lines[0] + "\n" + "\n".join(pad + line for line in lines[1:])


def _type_name(value) -> str:
    if isinstance(value, Tensor):
        return f"ember.{type(value).__name__}"
    return type(value).__name__


def _check_member_name(kind: str, name, owner, registry):
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f"{kind} name can't contain \".\", got: {name}")
    if name == "":
        raise KeyError(f"{kind} name can't be empty string \"\"")
    if hasattr(owner, name) and name not in registry:
        raise KeyError(f"attribute '{name}' already exists")


class Module:
    """Base class of every layer and model.

    Subclass it, call ``super().__init__()`` first in ``__init__``, assign parameters
    (``nn.Parameter``), buffers and child modules as attributes, and define ``forward``.
    Calling the module runs its forward pre-hooks, ``forward`` and its forward hooks.
    Assigned members are registered in order, so ``parameters()``, ``state_dict()``,
    ``to()`` and ``train()``/``eval()`` reach the whole tree of submodules.

    Args:
        *args: passed on to the next class's ``__init__`` when the subclass sets
            ``call_super_init = True``; otherwise any argument raises ``TypeError``.
        **kwargs: the same, for keyword arguments.

    Attributes:
        training: True in training mode (the default), False after ``eval()``.
    """

    dump_patches = False
    _version = 1
    call_super_init = False

    def __init__(self, *args, **kwargs):
        if not self.call_super_init and (args or kwargs):
            unexpected = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments: "
                            f"{', '.join(unexpected)}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_hooks_with_kwargs"] = OrderedDict()
        d["_forward_hooks_always_called"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_state_dict_hooks"] = OrderedDict()
        d["_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_post_hooks"] = OrderedDict()
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    def forward(self, *args, **kwargs):
        """Compute the module's output; every subclass must override it.

        Call the module itself (``module(x)``) rather than ``forward`` so that hooks run.

        Args:
            *args: the inputs, as the subclass defines them.
            **kwargs: keyword inputs, as the subclass defines them.

        Returns:
            The module's output.
        """
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required \"forward\" function")

    # ------------------------------------------------------------ registration
    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register a tensor that is module state but not a learnable parameter.

        Buffers (running statistics, masks, ...) move with ``to()`` and, when persistent,
        appear in ``state_dict()``. The buffer is reachable as ``self.<name>``.

        Args:
            name: the attribute name; it must not contain ``"."`` or clash with another attribute.
            tensor: the tensor to register, or None for a declared but absent buffer.
            persistent: if False, the buffer is left out of ``state_dict()``. When ``tensor`` is an
                ``nn.Buffer``, its own ``persistent`` flag is used instead.
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_member_name("buffer", name, self, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_type_name(tensor)}' object to buffer '{name}' "
                            f"(ember.Tensor or None required)")
        if isinstance(tensor, Buffer):
            persistent = tensor.persistent
        if _global_buffer_registration_hooks:
            tensor = _registration_hooks(_global_buffer_registration_hooks, self, name, tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param) -> None:
        """Register a parameter under ``name`` (the same as assigning ``self.<name> = param``).

        Args:
            name: the attribute name; it must not contain ``"."`` or clash with another attribute.
            param: an ``nn.Parameter`` that is a leaf tensor, or None for a declared but absent
                parameter (such as ``bias`` when a layer has none).
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_member_name("parameter", name, self, self._parameters)
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_type_name(param)}' object to parameter '{name}' "
                            f"(ember.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
                             f"created explicitly. To express '{name}' as a function of another Tensor, "
                             f"compute the value in the forward() method.")
        if _global_parameter_registration_hooks:
            param = _registration_hooks(_global_parameter_registration_hooks, self, name, param)
        self._parameters[name] = param

    def add_module(self, name: str, module) -> None:
        """Register ``module`` as a child under ``name``, reachable as ``self.<name>``.

        Args:
            name: the attribute name; it must not contain ``"."`` or clash with another attribute.
            module: the child module, or None for an empty slot.
        """
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_type_name(module)} is not a Module subclass")
        _check_member_name("module", name, self, self._modules)
        if _global_module_registration_hooks:
            module = _registration_hooks(_global_module_registration_hooks, self, name, module)
        self._modules[name] = module

    def register_module(self, name: str, module) -> None:
        """Register ``module`` as a child under ``name``; an alias of ``add_module``.

        Args:
            name: the attribute name; it must not contain ``"."`` or clash with another attribute.
            module: the child module, or None for an empty slot.
        """
        self.add_module(name, module)

    # ------------------------------------------------------------ attribute protocol
    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as parameter '{name}' "
                                f"(ember.nn.Parameter or None expected)")
            params[name] = None
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            if _global_module_registration_hooks:
                value = _registration_hooks(_global_module_registration_hooks, self, name, value)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_type_name(value)}' as child module '{name}' "
                                f"(ember.nn.Module or None expected)")
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer):
            if buffers is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            self._forget(name, keep="_buffers")
            self.register_buffer(name, value, value.persistent)
            return
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_type_name(value)}' as buffer '{name}' "
                                f"(ember.Tensor or None expected)")
            if _global_buffer_registration_hooks:
                value = _registration_hooks(_global_buffer_registration_hooks, self, name, value)
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Drop ``name`` from every registry but ``keep`` (and from the instance dict)."""
        d = self.__dict__
        d.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                d[registry].pop(name, None)
        if keep != "_buffers":
            d["_non_persistent_buffers_set"].discard(name)

    def __getattr__(self, name):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            members = d.get(registry)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            members = d.get(registry)
            if members is not None and name in members:
                del members[name]
                if registry == "_buffers":
                    d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        names = set(dir(type(self))) | set(self.__dict__)
        names |= set(self._parameters) | set(self._buffers) | set(self._modules)
        return sorted(n for n in names if not n[:1].isdigit())

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_forward_pre_hooks_with_kwargs", "_forward_hooks_with_kwargs",
                     "_forward_hooks_always_called", "_backward_pre_hooks", "_state_dict_pre_hooks",
                     "_load_state_dict_post_hooks"):
            self.__dict__.setdefault(name, OrderedDict())

    # ------------------------------------------------------------ lookup by dotted path
    def get_submodule(self, target: str) -> "Module":
        """Return the submodule at the dotted path ``target``.

        Args:
            target: a path such as ``"encoder.layers.0"``; ``""`` is this module itself.

        Returns:
            The ``Module`` found there. Raises ``AttributeError`` if a step of the path is missing
            or is not a module.
        """
        if target == "":
            return self
        module = self
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def set_submodule(self, target: str, module: "Module", strict: bool = False) -> None:
        """Replace (or add) the submodule at the dotted path ``target``.

        Args:
            target: a path such as ``"encoder.layers.0"``; its parent path must already exist.
            module: the module to put there.
            strict: if True, the last name of the path must already exist on its parent.
                An existing attribute there that is not a module always raises ``AttributeError``.
        """
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def get_parameter(self, target: str) -> Parameter:
        """Return the parameter at the dotted path ``target``.

        Args:
            target: a path such as ``"encoder.linear.weight"``.

        Returns:
            The ``nn.Parameter``. Raises ``AttributeError`` if the path is missing or names
            something that is not a parameter.
        """
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """Return the buffer at the dotted path ``target``.

        Args:
            target: a path such as ``"bn.running_mean"``.

        Returns:
            The buffer tensor. Raises ``AttributeError`` if the path is missing or names
            something that is not a buffer.
        """
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return getattr(module, name)

    # ------------------------------------------------------------ iteration
    def _named_members(self, members_of, prefix="", recurse=True, remove_duplicate=True):
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        seen = set()
        for module_prefix, module in modules:
            for name, value in members_of(module):
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (module_prefix + "." + name if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Iterate over the parameters as ``(name, parameter)`` pairs, names dotted from this module.

        Args:
            prefix: a string prepended (with a ``"."``) to every name.
            recurse: if True (default), include the parameters of all submodules; otherwise only
                this module's own.
            remove_duplicate: if True (default), a parameter shared by several modules is
                yielded once.

        Returns:
            An iterator of ``(str, Parameter)`` pairs; parameters that are None are skipped.
        """
        return self._named_members(lambda m: m._parameters.items(), prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        """Iterate over the module's parameters (each shared parameter once).

        Args:
            recurse: if True (default), include the parameters of all submodules; otherwise only
                this module's own.

        Returns:
            An iterator of ``nn.Parameter``, in registration order; pass it to an optimizer.
        """
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """Iterate over the buffers as ``(name, tensor)`` pairs, names dotted from this module.

        Args:
            prefix: a string prepended (with a ``"."``) to every name.
            recurse: if True (default), include the buffers of all submodules; otherwise only this
                module's own.
            remove_duplicate: if True (default), a buffer shared by several modules is yielded once.

        Returns:
            An iterator of ``(str, Tensor)`` pairs, persistent or not; buffers that are None are
            skipped.
        """
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        """Iterate over the module's buffers (each shared buffer once).

        Args:
            recurse: if True (default), include the buffers of all submodules; otherwise only this
                module's own.

        Returns:
            An iterator of buffer tensors.
        """
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def named_children(self):
        """Iterate over the direct children as ``(name, module)`` pairs.

        Returns:
            An iterator of ``(str, Module)`` pairs; empty (None) slots are skipped and a child
            registered under two names is yielded once.
        """
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        """Iterate over the direct child modules.

        Returns:
            An iterator of ``Module``; see ``named_children``.
        """
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Iterate over this module and all its submodules, depth first, as ``(name, module)`` pairs.

        This module comes first, under the name ``prefix``.

        Args:
            memo: a set of modules already visited (used by the recursion); those are skipped.
            prefix: the name given to this module and prepended (with a ``"."``) to the others.
            remove_duplicate: if True (default), a module reachable by several paths is yielded
                once.

        Returns:
            An iterator of ``(str, Module)`` pairs.
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if self in memo:
                return
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + "." + name if prefix else name, remove_duplicate)

    def modules(self):
        """Iterate over this module and all its submodules (each once), depth first.

        Returns:
            An iterator of ``Module``, starting with this module.
        """
        for _, module in self.named_modules():
            yield module

    # ------------------------------------------------------------ modes and gradients
    def train(self, mode: bool = True):
        """Set training mode on this module and all its submodules.

        The mode changes what layers such as ``Dropout`` and ``BatchNorm`` do.

        Args:
            mode: True for training mode, False for evaluation mode; it must be a ``bool``.

        Returns:
            This module.
        """
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Set evaluation mode on this module and all its submodules (``train(False)``).

        Returns:
            This module.
        """
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        """Set ``requires_grad`` on every parameter of this module and its submodules.

        Args:
            requires_grad: True to let autograd record operations on the parameters, False to
                freeze them.

        Returns:
            This module.
        """
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @recorded   # under graph capture: one replayed step (it sets .grad attributes)
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter of this module and its submodules.

        Args:
            set_to_none: if True (default), set each ``.grad`` to None; if False, detach it and
                fill it with zeros in place.
        """
        for p in self.parameters():
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

    # ------------------------------------------------------------ moving and casting
    def _apply(self, fn, recurse: bool = True):
        """Replace every parameter's and buffer's value with ``fn(value)``.

        Parameters keep their identity (optimizers holding them stay valid): only their
        data (and their gradient's data) is replaced. Buffers are replaced by the result.
        """
        if recurse:
            for module in self.children():
                module._apply(fn)
        for param in self._parameters.values():
            if param is None:
                continue
            with no_grad():
                new = fn(param)
            if new is not param:
                param.data = new
            if param.grad is not None:
                with no_grad():
                    new_grad = fn(param.grad)
                if new_grad is not param.grad:
                    param.grad.data = new_grad
        for name, buf in self._buffers.items():
            if buf is not None:
                with no_grad():
                    self._buffers[name] = fn(buf)
        return self

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first, recursively) and then on this module.

        Typically used to initialise weights: ``model.apply(init_fn)``.

        Args:
            fn: a callable taking a ``Module``.

        Returns:
            This module.
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs):
        """Move and/or cast the parameters and buffers, in place.

        Accepted forms: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` (the
        tensor's device and dtype), each optionally followed by ``non_blocking``, and the keywords
        ``device=``, ``dtype=``, ``non_blocking=`` and ``memory_format=``. Only floating point
        parameters and buffers change dtype; integer ones (such as ``num_batches_tracked``) keep
        theirs. Parameters keep their identity, so an optimizer holding them stays valid.

        Args:
            *args: a device, a dtype, both, or a tensor, as above, then optionally ``non_blocking``.
            **kwargs: ``device``, ``dtype``; ``non_blocking`` is passed on to each tensor's ``to``, and
                ``memory_format`` to that of each 4-D and 5-D tensor.

        Returns:
            This module.

        Raises:
            TypeError: if ``dtype`` is not a floating point dtype.
            RuntimeError: if a ``copy`` argument is given (as a keyword or a second positional bool).
        """
        from ember.ops.creation import _parse_to, _resolve_dtype
        kwargs = dict(kwargs)
        flags = [a for a in args if isinstance(a, bool)]  # positional: non_blocking, then copy
        if "copy" in kwargs or len(flags) > 1:
            raise RuntimeError(".to() does not accept copy argument")
        non_blocking = bool(kwargs.pop("non_blocking", flags[0] if flags else False))
        memory_format = kwargs.pop("memory_format", None)
        dtype, device, _copy = _parse_to(args, kwargs)
        if dtype is not None:
            dtype = _resolve_dtype(dtype)
            if not (dtype.is_floating_point or dtype.is_complex):
                raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but got desired "
                                f"dtype={dtype}")
        if device is not None:
            from ember.ops.creation import canonical_device
            device = canonical_device(device)

        def convert(t):
            options = {}
            if device is not None and t.device != device:
                options["device"] = device
            if dtype is not None and (t.is_floating_point() or t.is_complex()) and t.dtype is not dtype:
                options["dtype"] = dtype
            if not options:
                return t
            if memory_format is not None and t.dim() in (4, 5):
                options["memory_format"] = memory_format
            return t.to(non_blocking=non_blocking, **options)
        return self._apply(convert)

    def cpu(self):
        """Move every parameter and buffer to the CPU.

        Returns:
            This module.
        """
        return self.to("cpu")

    def cuda(self, device=None):
        """Move every parameter and buffer to a CUDA device.

        Args:
            device: a CUDA device index (``0`` means ``"cuda:0"``) or name; None means ``"cuda"``.

        Returns:
            This module.
        """
        return self._apply(lambda t: t.cuda(device))

    def _cast_floating(self, dtype):
        return self._apply(lambda t: t.to(dtype) if t.is_floating_point() else t)

    def float(self):
        """Cast every floating point parameter and buffer to ``float32``.

        Returns:
            This module.
        """
        return self._cast_floating(dt.float32)

    def double(self):
        """Cast every floating point parameter and buffer to ``float64``.

        Returns:
            This module.
        """
        return self._cast_floating(dt.float64)

    def half(self):
        """Cast every floating point parameter and buffer to ``float16``.

        Returns:
            This module.
        """
        return self._cast_floating(dt.float16)

    def bfloat16(self):
        """Cast every floating point parameter and buffer to ``bfloat16``.

        Returns:
            This module.
        """
        return self._cast_floating(dt.bfloat16)

    def type(self, dst_type):
        """Cast every parameter and buffer, integer ones included, to ``dst_type``.

        Args:
            dst_type: the target dtype.

        Returns:
            This module.
        """
        return self._apply(lambda t: t.type(dst_type))

    def to_empty(self, *, device=None, recurse: bool = True):
        """Replace every parameter and buffer with a new tensor of the same shape and dtype on ``device``.

        The old values are not copied: ember fills the new tensors with zeros. Use it to
        materialise a module on another device before loading a state dict into it.

        Args:
            device: where the new tensors are created; None keeps each tensor's device.
            recurse: if True (default), do the same for all submodules.

        Returns:
            This module.
        """
        from ember.ops.creation import empty_like
        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def share_memory(self):
        """Move the parameters (and their gradients) and buffers into shared memory, in place
        (``Tensor.share_memory_``), so processes given this module train one copy (Hogwild).

        Returns:
            This module.
        """
        for p in self.parameters():
            p.share_memory_()
            if p.grad is not None:
                p.grad.share_memory_()
        for b in self.buffers():
            b.share_memory_()
        return self

    # ------------------------------------------------------------ hooks
    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """Register a hook that runs before every call of this module's ``forward``.

        The hook is called as ``hook(module, args)``, or ``hook(module, args, kwargs)`` with
        ``with_kwargs=True``. It may return replacement inputs: a tuple of positional arguments
        (a single value is wrapped in a 1-tuple), or with ``with_kwargs`` an ``(args, kwargs)``
        pair.

        Args:
            hook: the callable to run.
            prepend: if True, run this hook before the pre-hooks already registered on this module.
            with_kwargs: if True, also pass (and let the hook replace) the keyword arguments.

        Returns:
            A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
        """
        handle = RemovableHandle(self._forward_pre_hooks, extra_dict=self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False):
        """Register a hook that runs after every call of this module's ``forward``.

        The hook is called as ``hook(module, args, output)``, or
        ``hook(module, args, kwargs, output)`` with ``with_kwargs=True``; a non-None return value
        replaces the output.

        Args:
            hook: the callable to run.
            prepend: if True, run this hook before the forward hooks already registered on this
                module.
            with_kwargs: if True, also pass the keyword arguments of the call.
            always_call: if True, the hook also runs (with ``output=None``) when ``forward`` or an
                earlier hook raised an exception.

        Returns:
            A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
        """
        handle = RemovableHandle(self._forward_hooks, extra_dict=[self._forward_hooks_with_kwargs,
                                                                   self._forward_hooks_always_called])
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend: bool = False):
        """Register a hook that runs when the gradients of this module's inputs are computed.

        The hook is called as ``hook(module, grad_input, grad_output)``: tuples with one entry per
        positional argument (None for arguments that are not tensors needing a gradient) and per
        output. It may return a tuple of the same length that replaces ``grad_input``.

        Args:
            hook: the callable to run.
            prepend: if True, run this hook before the backward hooks already registered on this
                module.

        Returns:
            A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
        """
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_backward_hook(self, hook):
        """Register a backward hook under the deprecated name; ember runs it as a full backward hook.

        It emits a ``FutureWarning``; use ``register_full_backward_hook`` instead.

        Args:
            hook: called as ``hook(module, grad_input, grad_output)``.

        Returns:
            A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
        """
        warnings.warn("register_backward_hook is deprecated; use register_full_backward_hook "
                      "(ember runs this hook as a full backward hook)", FutureWarning, stacklevel=2)
        return self.register_full_backward_hook(hook)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False):
        """Register a hook that runs when the gradients of this module's outputs are known.

        The hook is called as ``hook(module, grad_output)`` before the gradients of the inputs
        are computed; it may return a tuple of the same length that replaces ``grad_output``.

        Args:
            hook: the callable to run.
            prepend: if True, run this hook before the backward pre-hooks already registered on
                this module.

        Returns:
            A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
        """
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_state_dict_pre_hook(self, hook):
        """Register a hook that runs before this module adds its entries to a ``state_dict``.

        Args:
            hook: called as ``hook(module, prefix, keep_vars)``; its return value is ignored.

        Returns:
            A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
        """
        handle = RemovableHandle(self._state_dict_pre_hooks)
        self._state_dict_pre_hooks[handle.id] = hook
        return handle

    def register_state_dict_post_hook(self, hook):
        """Register a hook that runs after this module (and its children) filled a ``state_dict``.

        Args:
            hook: called as ``hook(module, state_dict, prefix, local_metadata)``; it may edit
                ``state_dict`` in place or return a replacement for it.

        Returns:
            A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
        """
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    _register_state_dict_hook = register_state_dict_post_hook

    def register_load_state_dict_pre_hook(self, hook):
        """Register a hook that runs before this module loads its own entries in ``load_state_dict``.

        Args:
            hook: called as ``hook(module, state_dict, prefix, local_metadata, strict,
                missing_keys, unexpected_keys, error_msgs)``; it may edit ``state_dict`` and the
                lists in place.

        Returns:
            A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
        """
        handle = RemovableHandle(self._load_state_dict_pre_hooks)
        self._load_state_dict_pre_hooks[handle.id] = hook
        return handle

    def register_load_state_dict_post_hook(self, hook):
        """Register a hook that runs after ``load_state_dict`` loaded this module and its children.

        Args:
            hook: called as ``hook(module, incompatible_keys)``, where ``incompatible_keys`` has the
                ``missing_keys`` and ``unexpected_keys`` lists; it may edit them in place and must
                return None.

        Returns:
            A ``RemovableHandle``; call its ``remove()`` to unregister the hook.
        """
        handle = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

    # ------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        compiled = self.__dict__.get("_compiled_call_impl")
        if compiled is not None:   # Module.compile(): the compiled calls (they run _call_uncompiled)
            return compiled(*args, **kwargs)
        return self._call_uncompiled(*args, **kwargs)

    def compile(self, *args, **kwargs) -> None:
        """Compile this module's calls in place with ``ember.compile`` (same arguments); the module
        keeps its class, parameters and ``state_dict`` keys."""
        from ember._dynamo.api import compile_module_inplace
        compile_module_inplace(self, *args, **kwargs)

    def _call_uncompiled(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks or _global_forward_pre_hooks or _global_forward_hooks
                or _global_backward_hooks or _global_backward_pre_hooks):
            return self.forward(*args, **kwargs)
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hook_id, hook in itertools.chain(_global_forward_pre_hooks.items(), self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of (new_args, "
                                           f"new_kwargs), but got {result!r}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)

        backward_hooks = list(_global_backward_hooks.values()) + list(self._backward_hooks.values())
        backward_pre_hooks = list(_global_backward_pre_hooks.values()) + list(self._backward_pre_hooks.values())
        state = None
        if backward_hooks or backward_pre_hooks:
            from ember.nn.modules._backward_hooks import BackwardHookState
            state = BackwardHookState(self, backward_hooks, backward_pre_hooks)
            args = state.wrap_inputs(args)

        called_always = set()
        try:
            output = self.forward(*args, **kwargs)
            for hook_id, hook in itertools.chain(_global_forward_hooks.items(), self._forward_hooks.items()):
                called_always.add(hook_id)
                if hook_id in self._forward_hooks_with_kwargs:
                    result = hook(self, args, kwargs, output)
                else:
                    result = hook(self, args, output)
                if result is not None:
                    output = result
        except Exception:
            # hooks registered with always_call run even when forward (or a hook) raised
            for hook_id, hook in itertools.chain(_global_forward_hooks.items(), self._forward_hooks.items()):
                always = hook_id in self._forward_hooks_always_called or \
                    hook_id in _global_forward_hooks_always_called
                if always and hook_id not in called_always:
                    try:
                        if hook_id in self._forward_hooks_with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception as hook_error:  # report, but keep the original error
                        warnings.warn(f"forward hook with always_call=True raised: {hook_error!r}")
            raise

        if state is not None:
            output = state.wrap_outputs(output)
        return output

    # ------------------------------------------------------------ state dict
    def get_extra_state(self):
        """Return extra (non-tensor) state to save in ``state_dict``; override it to use it.

        When a subclass overrides it, ``state_dict()`` stores its result under the key
        ``<prefix>_extra_state`` and ``load_state_dict`` hands that value to
        ``set_extra_state``, which the subclass must override too.

        Returns:
            Any picklable object describing the extra state.
        """
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never be called.")

    def set_extra_state(self, state):
        """Restore the extra state returned by ``get_extra_state``; override the two together.

        Args:
            state: the value found under ``<prefix>_extra_state`` in the loaded state dict.
        """
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never be called.")

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """Return every parameter and persistent buffer of the module tree, keyed by dotted name.

        Entries that are None are left out. The values are detached tensors sharing memory with
        the module (with ``keep_vars=True``, the parameters and buffers themselves). A new
        ``OrderedDict`` (when ``destination`` is None) also carries a ``_metadata`` attribute with
        each module's version.

        Args:
            *args: the deprecated positional form ``(destination, prefix, keep_vars)``.
            destination: a mapping to fill and return instead of a new ``OrderedDict``.
            prefix: a string prepended to every key.
            keep_vars: if True, store the tensors themselves instead of detached aliases.

        Returns:
            The filled mapping.
        """
        if args:  # the deprecated positional form state_dict(destination, prefix, keep_vars)
            destination = args[0] if len(args) > 0 else destination
            prefix = args[1] if len(args) > 1 else prefix
            keep_vars = args[2] if len(args) > 2 else keep_vars
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = {"version": self._version}
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            result = hook(self, destination, prefix, local_metadata)
            if result is not None:
                destination = result
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """Copy this module's own entries (not its children's) from ``state_dict``.

        Subclasses override it to convert old formats; it records problems in the lists
        instead of raising.
        """
        for hook in self._load_state_dict_pre_hooks.values():
            hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        assign = local_metadata.get("assign_to_params_buffers", False)
        local = {k: v for k, v in self._parameters.items() if v is not None}
        local.update((k, v) for k, v in self._buffers.items()
                     if v is not None and k not in self._non_persistent_buffers_set)
        for name, current in local.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            incoming = state_dict[key]
            if not isinstance(incoming, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected an ember.Tensor from '
                                  f'the checkpoint but received {type(incoming).__name__}')
                continue
            if is_lazy(current):   # still uninitialized: the value was lazy too (nothing to copy)
                continue
            if is_lazy(incoming):
                error_msgs.append(f"While copying the parameter named \"{key}\", the checkpoint holds an "
                                  f"uninitialized parameter; run a forward pass on the lazy module first.")
                continue
            if tuple(incoming.shape) != tuple(current.shape):
                error_msgs.append(f"size mismatch for {key}: copying a param with shape {incoming.shape} from "
                                  f"checkpoint, the shape in current model is {current.shape}.")
                continue
            try:
                with no_grad():
                    if assign:
                        self._assign_loaded(name, current, incoming)
                    else:
                        current.copy_(incoming)
            except Exception as error:
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions in the model '
                                  f'are {current.shape} and whose dimensions in the checkpoint are '
                                  f'{incoming.shape}, an exception occurred: {error!r}.')
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if not key.startswith(prefix) or key == extra_key:
                    continue
                head, dot, _ = key[len(prefix):].partition(".")
                if (dot and head not in self._modules) or (not dot and head not in local):
                    unexpected_keys.append(key)

    def _assign_loaded(self, name, current, incoming):
        if isinstance(current, Parameter):
            if not isinstance(incoming, Parameter):
                incoming = Parameter(incoming, requires_grad=current.requires_grad)
            else:
                incoming.requires_grad_(current.requires_grad)
            self._parameters[name] = incoming
        else:
            self._buffers[name] = incoming

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy parameters and buffers from ``state_dict`` into this module and its submodules.

        Values are copied in place into the existing tensors (without recording autograd), so
        optimizers holding the parameters stay valid. A value whose shape differs from the
        module's always raises.

        Args:
            state_dict: a mapping from dotted names to tensors, as ``state_dict()`` returns.
            strict: if True (default), a key missing from ``state_dict`` or a key that no module
                expects raises ``RuntimeError``; if False, those keys are only reported.
            assign: if True, the module holds the given tensors (wrapped as ``nn.Parameter`` for
                parameters, keeping the old ``requires_grad``) instead of copying into its own.

        Returns:
            A named tuple ``(missing_keys, unexpected_keys)`` of lists of key names.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys, unexpected_keys, error_msgs = [], [], []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata

        def load(module, entries, prefix):
            local_metadata = dict(metadata.get(prefix[:-1], {})) if metadata is not None else {}
            if assign:
                local_metadata["assign_to_params_buffers"] = True
            module._load_from_state_dict(entries, prefix, local_metadata, True, missing_keys,
                                         unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in entries.items() if k.startswith(child_prefix)}, child_prefix)
            keys = _IncompatibleKeys(missing_keys, unexpected_keys)
            for hook in module._load_state_dict_post_hooks.values():
                if hook(module, keys) is not None:
                    raise RuntimeError("load_state_dict post hooks should return None; edit the key lists in place")

        load(self, state_dict, "")
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: "
                                     + ", ".join(f'"{k}"' for k in unexpected_keys) + ". ")
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: "
                                     + ", ".join(f'"{k}"' for k in missing_keys) + ". ")
        if error_msgs:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(error_msgs))
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # ------------------------------------------------------------ printing
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """Return the text shown inside this module's parentheses in its ``repr``.

        Override it to show the module's settings; the base class returns ``""``.

        Returns:
            A string; it may span several lines.
        """
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): {_indent(repr(module), 2)}" for name, module in self._modules.items()]
        if not children and len(lines) <= 1:
            return f"{self._get_name()}({lines[0] if lines else ''})"
        body = "\n  ".join(lines + children)
        return f"{self._get_name()}(\n  {body}\n)"

    def __getstate__(self):
        return self.__dict__.copy()
