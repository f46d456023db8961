"""The op layer's public names: every ``ember.*`` function and Tensor method, registered
where it is defined.

A hand-written function is registered by the ``public`` decorator on its ``def``, which
names all its forms: ``ember.<name>`` (``function``), ``Tensor.<name>`` (``method``),
``Tensor.<name>_`` (``inplace``: compute the function, then write the result into the
tensor) and other names of the same object (``aliases``), and ``out``: the function form
takes PyTorch's ``out=`` (the method forms do not, as in PyTorch), handled here once for
every op by ``ember.ops.out.write_out``. Functions generated from the op table (the
families of ``ember.dispatch.ops``) are registered by ``export`` with the flags their
``OpDef`` carries. ``ember.ops`` builds its ``__all__`` and the Tensor class's methods
from these tables; two different objects under one name is an error, so every public
name has one definition.
"""
from __future__ import annotations

import functools
import inspect

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


def public(obj=None, *, name=None, function=True, method=False, inplace=False, aliases=(), out=False):
    """Register ``obj`` under its public names; usable as ``@public`` or ``@public(...)``.

    Args:
        name: the public name (default: ``obj.__name__``).
        function: whether ``ember.<name>`` exists.
        method: whether ``Tensor.<name>`` exists (``obj`` takes the tensor first).
        inplace: ``True`` for a ``Tensor.<name>_`` that writes the result into the tensor;
            ``"view"`` for one that makes the tensor take the result's shape (squeeze_).
        aliases: other names of the same function, with the same forms.
        out: whether ``ember.<name>`` takes ``out=`` (a tensor, or a tuple of tensors for
            ops with several results); ``"exact"`` where PyTorch requires ``out`` to have the
            result's dtype (index results: argmax, nonzero, ...). ``obj`` itself must not take it.

    Returns:
        ``obj``, unchanged (the ``out=`` form is a wrapper registered beside it).
    """
    def register(target):
        primary = name or target.__name__
        exposed = with_numpy_names(target) if _takes_dims(target) else target
        as_function = with_out(exposed, primary, exact=out == "exact") if out else exposed
        for each in (primary, *aliases):
            if function:
                _add(FUNCTIONS, each, as_function, "ember function")
            if method:
                _add(METHODS, each, exposed, "Tensor method")
            if inplace:
                INPLACE[each] = (target, "view" if inplace == "view" else "write")
        return target
    return register if obj is None else register(obj)


_NUMPY_NAMES = {"axis": "dim", "keepdims": "keepdim"}


def _takes_dims(fn) -> bool:
    if not inspect.isfunction(fn):
        return False
    params = inspect.signature(fn).parameters
    return any(params.get(ours) is not None and theirs not in params for theirs, ours in _NUMPY_NAMES.items())


def with_numpy_names(fn):
    """``fn`` that also takes numpy's keyword names, ``axis`` for ``dim`` and ``keepdims`` for
    ``keepdim``, as PyTorch's functions and methods do (``x.sum(axis=0)``)."""
    from ember.dispatch.keys import ACTIVE
    point = getattr(fn, "__public_op__", None)
    # a dispatch point: outside every mode, call its body straight away (one wrapper frame, not two)
    body = fn if point is None else point.function

    @functools.wraps(fn)
    def function(*args, **kwargs):
        if kwargs and ("axis" in kwargs or "keepdims" in kwargs):
            for theirs, ours in _NUMPY_NAMES.items():
                if theirs in kwargs:
                    if ours in kwargs:
                        raise TypeError(f"{fn.__name__}() got both '{ours}' and its alias '{theirs}'")
                    kwargs[ours] = kwargs.pop(theirs)
        if ACTIVE.modes:
            return fn(*args, **kwargs)
        return body(*args, **kwargs)
    return function


def with_out(fn, name, exact=False):
    """``fn`` with PyTorch's ``out=`` keyword: compute, then write the result into ``out``."""
    from ember.ops.out import write_out
    from ember.dispatch.public_op import outside_modes
    plain = outside_modes(fn)  # as PyTorch: a call with out= is not autocast

    @functools.wraps(fn)
    def function(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        return write_out(plain(*args, **kwargs), out, name, exact)
    signature = inspect.signature(fn)
    if "out" in signature.parameters:
        raise TypeError(f"{_where(fn)} takes out= itself; register it with out=True and drop the parameter")
    out_param = inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, default=None)
    params = list(signature.parameters.values())
    at = next((i for i, p in enumerate(params) if p.kind == inspect.Parameter.VAR_KEYWORD), len(params))
    function.__signature__ = signature.replace(parameters=params[:at] + [out_param] + params[at:])
    function.__doc__ = _doc_with_out(fn.__doc__ or "")
    function.accepts_out = True
    return function


_OUT_DOC = "out: if given, the result is written into it (resized and cast as PyTorch does) and it is returned."


def _doc_with_out(doc: str) -> str:
    """``doc`` with the ``out`` argument listed at the end of its ``Args:`` section."""
    if "\n        out:" in doc:
        return doc
    lines = doc.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip() == "Args:"), None)
    if start is None:
        return doc.rstrip() + f"\n\n    Args:\n        {_OUT_DOC}\n    "
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return "\n".join(lines[:end] + [f"        {_OUT_DOC}"] + lines[end:])


def export(op, fn):
    """Register a function generated from ``op`` (an ``OpDef``) with the forms the table gives it
    (every family function takes ``out=``, as PyTorch's do)."""
    fn.__name__ = fn.__qualname__ = op.name
    return public(fn, name=op.name, function=op.function, method=op.method, inplace=op.inplace_method,
                  aliases=op.aliases, out=True)
