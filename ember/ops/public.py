"""The op layer's public names: every ``ember.*`` function and Tensor method, registered
where it is defined.

A hand-written function is registered by the ``public`` decorator on its ``def``, which
names all its forms: ``ember.<name>`` (``function``), ``Tensor.<name>`` (``method``),
``Tensor.<name>_`` (``inplace``: compute the function, then write the result into the
tensor) and other names of the same object (``aliases``). Functions generated from the op
table (the families of ``ember.dispatch.ops``) are registered by ``export`` with the
flags their ``OpDef`` carries. ``ember.ops`` builds its ``__all__`` and the Tensor class's
methods from these tables; two different objects under one name is an error, so every
public name has one definition.
"""
from __future__ import annotations

FUNCTIONS: dict = {}   # ember.<name> -> object
METHODS: dict = {}     # Tensor.<name> -> function (or property)
INPLACE: dict = {}     # Tensor.<name>_ is generated: name -> (function, kind); kind "write" or "view"


def _add(table, name, obj, what):
    found = table.get(name)
    if found is not None and found is not obj:
        raise RuntimeError(f"two definitions of {what} '{name}': {_where(found)} and {_where(obj)}")
    table[name] = obj


def _where(obj):
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def public(obj=None, *, name=None, function=True, method=False, inplace=False, aliases=()):
    """Register ``obj`` under its public names; usable as ``@public`` or ``@public(...)``.

    Args:
        name: the public name (default: ``obj.__name__``).
        function: whether ``ember.<name>`` exists.
        method: whether ``Tensor.<name>`` exists (``obj`` takes the tensor first).
        inplace: ``True`` for a ``Tensor.<name>_`` that writes the result into the tensor;
            ``"view"`` for one that makes the tensor take the result's shape (squeeze_).
        aliases: other names of the same function, with the same forms.
    """
    def register(target):
        primary = name or target.__name__
        for each in (primary, *aliases):
            if function:
                _add(FUNCTIONS, each, target, "ember function")
            if method:
                _add(METHODS, each, target, "Tensor method")
            if inplace:
                INPLACE[each] = (target, "view" if inplace == "view" else "write")
        return target
    return register if obj is None else register(obj)


def export(op, fn):
    """Register a function generated from ``op`` (an ``OpDef``) with the forms the table gives it."""
    fn.__name__ = fn.__qualname__ = op.name
    return public(fn, name=op.name, function=op.function, method=op.method, inplace=op.inplace_method,
                  aliases=op.aliases)
