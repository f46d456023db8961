"""The older, hook-based weight norm: ``weight`` recomputed from ``weight_g`` and ``weight_v`` before each forward."""
from __future__ import annotations

import warnings

from ember.nn.parameter import Parameter
from ember.nn.utils import _norms

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


class WeightNorm:
    """The forward pre-hook that sets ``module.<name> = g * v / ||v||`` before each call.

    Args:
        name: the weight's name.
        dim: the dimension kept by the norm (-1: the whole tensor).

    Returns:
        The hook object.
    """

    def __init__(self, name: str, dim: int):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        """Return the weight from the module's ``<name>_g`` and ``<name>_v``.

        Args:
            module: the module.

        Returns:
            The weight tensor.
        """
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return _norms.weight_norm(v, g, self.dim)

    @staticmethod
    def apply(module, name, dim):
        """Install weight norm on ``module.<name>``: split it into ``_g`` and ``_v`` and add the hook.

        Args:
            module: the module.
            name: the weight's name.
            dim: the dimension kept by the norm.

        Returns:
            The installed hook.
        """
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(_norms.norm_except_dim(weight, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module) -> None:
        """Turn the current weight back into a plain Parameter and drop ``_g`` and ``_v``.

        Args:
            module: the module.
        """
        weight = self.compute_weight(module).detach()
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` with parameters ``<name>_g`` and ``<name>_v``.

    Deprecated in favour of ``ember.nn.utils.parametrizations.weight_norm`` (it emits a
    ``FutureWarning``). The weight is recomputed by a forward pre-hook before every call.

    Args:
        module: the module.
        name: the weight's name (default ``"weight"``).
        dim: the dimension kept by the norm; None for one magnitude for the whole tensor.

    Returns:
        ``module``.
    """
    warnings.warn("`nn.utils.weight_norm` is deprecated in favor of "
                  "`nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``module.<name>`` becomes a plain Parameter with its current value.

    Args:
        module: the module.
        name: the weight's name.

    Returns:
        ``module``.

    Raises:
        ValueError: if ``module`` has no weight norm on ``name``.
    """
    return _norms.remove_norm_hook(module, name, WeightNorm, "weight_norm")
