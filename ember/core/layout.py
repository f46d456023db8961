"""Memory layouts (``torch.layout``): ember's tensors are all dense and strided."""
from __future__ import annotations


class layout:
    """How a tensor's elements are laid out in memory; ``ember.strided`` is the one ember has.

    Args:
        name: the layout's name, as ``str()`` shows it after ``ember.``.
    """
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"ember.{self.name}"

    __str__ = __repr__

    def __reduce__(self):
        return (_by_name, (self.name,))


def _by_name(name: str) -> layout:
    return _LAYOUTS[name]  # unpickling gives the same object


#: dense tensors addressed through strides (``Tensor.layout`` of every ember tensor)
strided = layout("strided")
_LAYOUTS = {"strided": strided}
