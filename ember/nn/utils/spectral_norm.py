"""The older, hook-based spectral norm: ``weight = weight_orig / sigma`` set before each forward.

``sigma`` is estimated by power iteration on the buffers ``<name>_u`` and ``<name>_v``; in
training mode each forward takes ``n_power_iterations`` more steps, in eval mode none.
"""
from __future__ import annotations

import ember
from ember.core.autograd import no_grad
from ember.nn import functional as F
from ember.nn.parameter import Parameter
from ember.nn.utils import _norms

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


class SpectralNorm:
    """The forward pre-hook of ``spectral_norm``.

    Args:
        name: the weight's name.
        n_power_iterations: power-iteration steps per forward in training mode.
        dim: the dimension that becomes the rows of the matrix.
        eps: added to norms to avoid dividing by zero.

    Returns:
        The hook object.
    """

    _version = 1

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        self.name = name
        self.dim = dim
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight):
        """Return ``weight`` as the matrix whose spectral norm is taken (rows along ``dim``).

        Args:
            weight: the weight.

        Returns:
            A 2-D tensor.
        """
        return _norms.reshape_weight_to_matrix(weight, self.dim)

    def compute_weight(self, module, do_power_iteration):
        """Return ``weight_orig / sigma``, first refining ``u`` and ``v`` in place if asked.

        Args:
            module: the module.
            do_power_iteration: whether to take ``n_power_iterations`` steps first.

        Returns:
            The normalized weight.
        """
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        matrix = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with no_grad():
                detached = matrix.detach()
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(ember.mv(detached.mH, u), dim=0, eps=self.eps))
                    u.copy_(F.normalize(ember.mv(detached, v), dim=0, eps=self.eps))
        # clones: the buffers change in place at the next forward, the graph must keep these values
        u, v = u.clone(), v.clone()
        sigma = ember.vdot(u, ember.mv(matrix, v))
        return weight / sigma

    def remove(self, module) -> None:
        """Turn the current normalized weight into a plain Parameter and drop the other tensors.

        Args:
            module: the module.
        """
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        """Install spectral norm on ``module.<name>``.

        Args:
            module: the module.
            name: the weight's name.
            n_power_iterations: power-iteration steps per forward in training mode.
            dim: the dimension that becomes the rows of the matrix.
            eps: added to norms to avoid dividing by zero.

        Returns:
            The installed hook.
        """
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        with no_grad():
            matrix = fn.reshape_weight_to_matrix(weight.detach())
            h, w = matrix.shape
            u = F.normalize(ember.randn(h, dtype=weight.dtype, device=weight.device), dim=0, eps=fn.eps)
            v = F.normalize(ember.randn(w, dtype=weight.dtype, device=weight.device), dim=0, eps=fn.eps)
        delattr(module, fn.name)
        module.register_parameter(fn.name + "_orig", weight)
        # a plain attribute (not a parameter): the hook recomputes it before every forward
        setattr(module, fn.name, weight.detach())
        module.register_buffer(fn.name + "_u", u)
        module.register_buffer(fn.name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its spectral norm before every forward (hook-based).

    The learned tensor becomes ``<name>_orig``; the power-iteration vectors are the buffers
    ``<name>_u`` and ``<name>_v``. Prefer ``ember.nn.utils.parametrizations.spectral_norm``.

    Args:
        module: the module.
        name: the weight's name (default ``"weight"``).
        n_power_iterations: power-iteration steps per forward in training mode (default 1).
        eps: added to norms to avoid dividing by zero.
        dim: the dimension that becomes the rows of the matrix; default 0 (1 for transposed
            convolutions).

    Returns:
        ``module``.
    """
    SpectralNorm.apply(module, name, n_power_iterations, _norms.spectral_norm_dim(module, dim), eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``module.<name>`` becomes a plain Parameter with its current value.

    Args:
        module: the module.
        name: the weight's name.

    Returns:
        ``module``.

    Raises:
        ValueError: if ``module`` has no spectral norm on ``name``.
    """
    return _norms.remove_norm_hook(module, name, SpectralNorm, "spectral_norm")
