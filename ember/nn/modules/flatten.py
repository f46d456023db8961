"""Flatten and Unflatten layers."""
from __future__ import annotations

from ember.nn.modules.module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flattens a contiguous range of dimensions into one.

    With the defaults every dimension but the first (the batch) is flattened.

    Args:
        start_dim: the first dimension to flatten (default: 1).
        end_dim: the last dimension to flatten, inclusive (default: -1).

    Shape:
        input ``(*, S_start, ..., S_end, *)``, output ``(*, S_start * ... * S_end, *)``.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        """Flatten dims ``start_dim`` to ``end_dim`` of ``input``.

        Args:
            input: a tensor with at least the dims named.

        Returns:
            The flattened tensor.
        """
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        """Show ``start_dim`` and ``end_dim``."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands one dimension into several: the inverse of ``Flatten``.

    Args:
        dim: the dimension to expand (an int; named dimensions are not supported).
        unflattened_size: the new sizes, a tuple or list of ints whose product is the size of
            ``dim``; one of them may be -1 and is then inferred.

    Shape:
        input ``(*, S_dim, *)``, output ``(*, U_1, ..., U_n, *)`` where
        ``unflattened_size = (U_1, ..., U_n)``.
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if isinstance(dim, str):
            raise NotImplementedError("named-dimension Unflatten is not supported by ember")
        if not isinstance(dim, int):
            raise TypeError(f"invalid argument: 'dim' must be int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or \
                not all(isinstance(s, int) for s in unflattened_size):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        """Expand dim ``dim`` of ``input`` into ``unflattened_size``.

        Args:
            input: the tensor to reshape.

        Returns:
            The reshaped tensor.
        """
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        """Show ``dim`` and ``unflattened_size``."""
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
