"""Shared pieces of the weight-norm and spectral-norm reparametrizations (both styles)."""
from __future__ import annotations


def norm_except_dim(v, dim):
    """The 2-norm of ``v`` over every dimension but ``dim``, shaped to broadcast against ``v``.

    ``dim == -1`` means the norm of the whole tensor (a 0-d tensor), as PyTorch's weight norm
    reads it.
    """
    if dim == -1:
        return v.norm()
    dims = [d for d in range(v.ndim) if d != dim]
    return (v * v).sum(dim=dims, keepdim=True).sqrt() if dims else v.abs()


def weight_norm(v, g, dim):
    """``v`` rescaled so its norm over the dimensions other than ``dim`` is ``g``."""
    return v * (g / norm_except_dim(v, dim))


def reshape_weight_to_matrix(weight, dim):
    """``weight`` as a matrix whose rows run along ``dim`` (the spectral norm is of this matrix)."""
    if dim != 0:
        weight = weight.permute(dim, *[d for d in range(weight.ndim) if d != dim])
    return weight.reshape(weight.shape[0], -1)


def spectral_norm_dim(module, dim):
    """The default ``dim`` of spectral norm: 1 for transposed convolutions (their output channels), else 0."""
    if dim is not None:
        return dim
    from ember.nn.modules.conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
    return 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)) else 0


def remove_norm_hook(module, name, hook_type, label):
    """Remove ``module``'s forward pre-hook of ``hook_type`` on parameter ``name`` (the old hook-style
    weight/spectral norms), leaving a plain Parameter; returns ``module``.

    Raises:
        ValueError: if there is none (``label`` names the norm in the message).
    """
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, hook_type) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"{label} of '{name}' not found in {module}")
