"""Parametrizations: a module's tensor computed, on every access, from other tensors by small modules.

``register_parametrization(module, "weight", P)`` moves ``module.weight`` to
``module.parametrizations.weight.original`` and gives the module's class (a subclass made
for it, ``Parametrized<Name>``) a property ``weight`` that returns ``P(original)``. Assigning
to ``module.weight`` runs the parametrizations' ``right_inverse`` and stores the result in
``original``. Several parametrizations on one tensor chain in registration order.
"""
from __future__ import annotations

import collections.abc
import copy
from contextlib import contextmanager

from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.nn.modules.container import ModuleDict, ModuleList
from ember.nn.modules.module import Module  # noqa: F401  (PyTorch's parametrize exposes it too)
from ember.nn.parameter import Parameter

__all__ = ["cached", "ParametrizationList", "register_parametrization", "is_parametrized",
           "remove_parametrizations", "type_before_parametrizations", "transfer_parametrizations_and_params"]

_cache_depth = 0
_cache: dict = {}


@contextmanager
def cached():
    """Context manager under which each parametrized tensor is computed once and then reused.

    Useful when a parametrized weight is read many times in one forward (an RNN's steps);
    the cache is dropped when the outermost ``cached()`` block exits.

    Returns:
        The context manager.
    """
    global _cache_depth, _cache
    _cache_depth += 1
    try:
        yield
    finally:
        _cache_depth -= 1
        if not _cache_depth:
            _cache = {}


def _register_parameter_or_buffer(module, name, value):
    if isinstance(value, Parameter):
        module.register_parameter(name, value)
    else:
        module.register_buffer(name, value)


def _check_same(kind, before, after, what):
    """Raise PyTorch's ValueError when a parametrization changes the dtype or shape of a tensor."""
    if before.dtype != after.dtype:
        raise ValueError(f"{what} may not change the dtype of the tensor, unless `unsafe` flag is enabled.\n"
                         f"{kind[0]} dtype: {before.dtype}\n{kind[1]} dtype: {after.dtype}")
    if tuple(before.shape) != tuple(after.shape):
        raise ValueError(f"{what} may not change the shape of the tensor, unless `unsafe` flag is enabled.\n"
                         f"{kind[0]} shape: {before.shape}\n{kind[1]} shape: {after.shape}")


class ParametrizationList(ModuleList):
    """The chain of parametrizations of one tensor, holding the unparametrized tensor(s).

    ``original`` is the stored tensor (a Parameter or a buffer, as the tensor was); when the
    first parametrization's ``right_inverse`` returns a sequence, the tensors are stored as
    ``original0``, ``original1``, ... and the first parametrization takes them all. Built by
    ``register_parametrization``; not meant to be made by hand.

    Args:
        modules: the parametrizations, applied in order.
        original: the tensor being parametrized; it is replaced by ``right_inverse``'s result.
        unsafe: if True, skip the checks that the chain keeps the tensor's dtype and shape.

    Returns:
        The list module.
    """

    def __init__(self, modules, original, unsafe=False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        original_shape, original_dtype = tuple(original.shape), original.dtype
        with no_grad():
            new = original
            for module in reversed(self):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass
        if not isinstance(new, Tensor) and not isinstance(new, collections.abc.Sequence):
            raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                             f"Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if not unsafe:
                _check_same(("original", "right_inverse(original)"), original, new,
                            "When `right_inverse` outputs one tensor, it")
            with no_grad():
                original.data = new.detach()   # keep the same object: optimizers may hold it
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, value in enumerate(new):
                if not isinstance(value, Tensor):
                    raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors (list, "
                                     f"tuple...). Got element {i} of the sequence with type {type(value).__name__}.")
                if isinstance(original, Parameter):
                    value = Parameter(value.detach(), original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", value)
        if not unsafe:
            z = self()
            if not isinstance(z, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got {type(z).__name__}.")
            if z.dtype != original_dtype:
                raise ValueError(f"Registering a parametrization may not change the dtype of the tensor, unless "
                                 f"`unsafe` flag is enabled.\nunparametrized dtype: {original_dtype}\n"
                                 f"parametrized dtype: {z.dtype}")
            if tuple(z.shape) != original_shape:
                raise ValueError(f"Registering a parametrization may not change the shape of the tensor, unless "
                                 f"`unsafe` flag is enabled.\nunparametrized shape: {original.shape}\n"
                                 f"parametrized shape: {z.shape}")

    def right_inverse(self, value) -> None:
        """Store ``value`` as the parametrized tensor: run every ``right_inverse``, last to first.

        Args:
            value: the new value of the parametrized tensor.

        Raises:
            RuntimeError: if a parametrization in the chain has no ``right_inverse``.
            ValueError: if the result does not fit the stored tensor(s).
        """
        with no_grad():
            for module in reversed(self):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not implement "
                                       f"right_inverse.")
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
                if not self.unsafe:
                    _check_same(("original", "right_inverse(original)"), self.original, value,
                                "When `right_inverse` outputs one tensor, it")
                self.original.data = value.detach()
            else:
                if not isinstance(value, collections.abc.Sequence):
                    raise ValueError(f"'right_inverse' must return a sequence of tensors. Got "
                                     f"{type(value).__name__}.")
                if len(value) != self.ntensors:
                    raise ValueError(f"'right_inverse' must return a sequence of tensors of length "
                                     f"{self.ntensors}. Got a sequence of length {len(value)}.")
                for i, tensor in enumerate(value):
                    original = getattr(self, f"original{i}")
                    if not isinstance(tensor, Tensor):
                        raise ValueError(f"`right_inverse` must return a sequence of tensors. Got element {i} "
                                         f"of type {type(tensor).__name__}")
                    if not self.unsafe:
                        _check_same((f"original{i}", f"right_inverse(...)[{i}]"), original, tensor,
                                    f"Tensor {i} returned by `right_inverse`")
                    original.data = tensor.detach()

    def forward(self):
        """Compute the parametrized tensor from the stored one(s).

        Returns:
            The tensor: the chain applied to ``original`` (or to ``original0, original1, ...``).
        """
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _parametrized_getstate(self):
    raise RuntimeError("Serialization of parametrized modules is only supported through state_dict(). See:\n"
                       "https://pytorch.org/tutorials/beginner/saving_loading_models.html"
                       "#saving-loading-a-general-checkpoint-for-inference-and-or-resuming-training")


def _parametrized_deepcopy(self, memo):
    # the class's __getstate__ refuses pickling; deepcopy copies the instance dict directly
    result = type(self).__new__(type(self))
    memo[id(self)] = result
    for key, value in self.__dict__.items():
        result.__dict__[key] = copy.deepcopy(value, memo)
    return result


def _inject_new_class(module) -> None:
    """Give ``module`` a class of its own (``Parametrized<Name>``) to hold the properties."""
    cls = module.__class__
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,),
                            {"__getstate__": _parametrized_getstate, "__deepcopy__": _parametrized_deepcopy})


def _inject_property(module, tensor_name) -> None:
    """Add the property ``tensor_name`` (computed by the parametrizations) to ``module``'s own class."""

    def get_parametrized(self):
        parametrization = self.parametrizations[tensor_name]
        if _cache_depth:
            key = (id(self), tensor_name)
            tensor = _cache.get(key)
            if tensor is None:
                tensor = parametrization()
                _cache[key] = tensor
            return tensor
        return parametrization()

    def set_original(self, value):
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get_parametrized, set_original))


def is_parametrized(module, tensor_name=None) -> bool:
    """Whether ``module`` has a parametrization (on ``tensor_name``, when given).

    Args:
        module: the module.
        tensor_name: a parameter or buffer name, or None for any.

    Returns:
        True if ``module.parametrizations`` holds ``tensor_name`` (or anything, when None).
    """
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if parametrizations is None or not isinstance(parametrizations, ModuleDict):
        return False
    if tensor_name is None:
        return len(parametrizations) > 0
    return tensor_name in parametrizations


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Parametrize ``module``'s tensor ``tensor_name`` by the module ``parametrization``.

    After it, ``module.<tensor_name>`` is ``parametrization(original)``, recomputed on each access
    (once per ``cached()`` block), with ``original`` stored at
    ``module.parametrizations.<tensor_name>.original``. If ``parametrization`` has a
    ``right_inverse``, it is applied to the current tensor to obtain ``original`` (it may return
    a sequence of tensors: then they become ``original0, original1, ...``), and assignments to
    ``module.<tensor_name>`` go through it. Registering on an already parametrized tensor
    appends to its chain.

    Args:
        module: the module owning the tensor.
        tensor_name: the name of a parameter or buffer of ``module`` (or of a parametrized tensor).
        parametrization: the module computing the tensor.
        unsafe: if True, do not check that the parametrization keeps the tensor's dtype and shape.

    Returns:
        ``module``.

    Raises:
        ValueError: if ``module`` has no tensor ``tensor_name``, or (unless ``unsafe``) the
            parametrization changes its dtype or shape.
    """
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            y = getattr(module, tensor_name)
            x = parametrization(y)
            if not isinstance(x, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got {type(x).__name__}.")
            _check_same(("unparametrized", "parametrized"), y, x, "Registering a parametrization")
            if hasattr(parametrization, "right_inverse"):
                z = parametrization.right_inverse(x)
                if not isinstance(z, Tensor):
                    raise ValueError(f"parametrization.right_inverse must return a tensor. Got: "
                                     f"{type(z).__name__}")
                _check_same(("input", "right_inverse(input)"), x, z,
                            "The tensor returned by parametrization.right_inverse")
        chain = module.parametrizations[tensor_name]
        chain.append(parametrization)
        chain.unsafe |= unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        chain = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = chain
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with "
                         f"name '{tensor_name}'")
    return module


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Remove the parametrizations of ``module.<tensor_name>``, making it a plain tensor again.

    Args:
        module: the module.
        tensor_name: the parametrized tensor's name.
        leave_parametrized: if True, the tensor keeps its current parametrized value (written into
            the original Parameter object, so optimizers keep working); if False it goes back to
            the stored ``original``.

    Returns:
        ``module`` (with its original class again when no parametrization is left).

    Raises:
        ValueError: if the tensor is not parametrized, or is stored as several tensors and
            ``leave_parametrized`` is False.
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    chain = module.parametrizations[tensor_name]
    if chain.is_tensor:
        original = chain.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
                original.data = value.detach()
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized "
                             "in terms of a sequence of tensors.")
        with no_grad():
            value = getattr(module, tensor_name).detach()
        if isinstance(chain.original0, Parameter):
            original = Parameter(value, chain.original0.requires_grad)
        else:
            original = value
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]
    return module


def type_before_parametrizations(module) -> type:
    """The class of ``module`` before any parametrization was registered on it.

    Args:
        module: the module.

    Returns:
        Its class, or the class that ``register_parametrization`` subclassed.
    """
    if is_parametrized(module):
        return module.__class__.__bases__[0]
    return type(module)


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Copy the parametrizations (and their stored tensors) of ``from_module`` to ``to_module``.

    Args:
        from_module: a parametrized module.
        to_module: the module to parametrize alike; its own tensor of each name must exist.
        tensor_name: the one tensor to transfer, or None for all of them.

    Returns:
        ``to_module``.
    """
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        if not hasattr(to_module, name):
            setattr(to_module, name, Parameter(getattr(from_module, name)))
        for parametrization in from_module.parametrizations[name]:
            if not (is_parametrized(to_module, name) and parametrization in to_module.parametrizations[name]):
                register_parametrization(to_module, name, parametrization)
        source, target = from_module.parametrizations[name], to_module.parametrizations[name]
        with no_grad():
            if source.is_tensor:
                target.original.data = source.original.detach().clone()
            else:
                for i in range(source.ntensors):
                    getattr(target, f"original{i}").data = getattr(source, f"original{i}").detach().clone()
    return to_module
