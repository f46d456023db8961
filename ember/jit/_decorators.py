"""The ``torch.jit`` helpers real code is full of, with their documented eager behaviour.

In ordinary Python they change nothing (``annotate`` returns its value, ``ignore``/``export``
mark a function, ``is_scripting()`` is False); during ``ember.jit.script``'s capture,
``is_scripting()`` is True and a function marked ``unused`` raises when called.
"""
from __future__ import annotations

import functools
import inspect
import typing
import warnings
from typing import Any, NamedTuple

from ember.futures import Future   # torch.jit.Future is the futures' Future

Final = typing.Final


class Attribute(NamedTuple):
    """A value with its TorchScript type; assigned to a ScriptModule attribute, the attribute is the value."""
    value: Any
    type: Any


def annotate(the_type, the_value):
    """Give ``the_value`` a type for the compiler; returns ``the_value`` unchanged.

    Args:
        the_type: the type (documentation only in ember).
        the_value: the value.

    Returns:
        ``the_value``.
    """
    return the_value


def export(fn):
    """Mark a Module method to be compiled too: ``ember.jit.script`` exposes it on the ScriptModule.

    Returns:
        ``fn`` itself, marked.
    """
    fn._ember_jit_export = True
    return fn


def _mark_ignored(fn):
    fn._ember_jit_ignore = True
    return fn


def ignore(drop=False, **kwargs):
    """Leave a function to Python: scripted code calls it as ordinary Python (its ops are captured).

    Used as ``@ignore`` or ``@ignore(drop=True)`` (deprecated: the same as ``@unused``).

    Args:
        drop: the deprecated form of ``unused``.

    Returns:
        The function, marked (or a decorator that marks it).
    """
    if callable(drop):
        return _mark_ignored(drop)
    drop_on_export = kwargs.pop("drop_on_export", None)
    if kwargs:
        raise TypeError(f"ignore() got unexpected keyword arguments {sorted(kwargs)}")
    if drop_on_export is not None:
        warnings.warn("ignore(drop_on_export=True) has been deprecated. TorchScript will now drop the function "
                      "call on compilation. Use torch.jit.unused now. {}", category=FutureWarning, stacklevel=2)
        drop = drop_on_export
    elif drop:
        warnings.warn("ignore(True) has been deprecated. TorchScript will now drop the function call on "
                      "compilation. Use torch.jit.unused now. {}", category=FutureWarning, stacklevel=2)
    return unused if drop else _mark_ignored


def unused(fn):
    """Mark a function that scripted code must not run: calling it inside a scripted program raises.

    In ordinary Python the function runs as usual. Properties are accepted too.

    Returns:
        A function with ``fn``'s name and behaviour, that raises ``ember.jit.Error`` when called
        during ``ember.jit.script``'s capture.
    """
    if isinstance(fn, property):
        return property(unused(fn.fget) if fn.fget else None, unused(fn.fset) if fn.fset else None,
                        fn.fdel, fn.__doc__)

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        from ember.jit._script import Error, is_scripting
        if is_scripting():
            raise Error(f"{fn.__qualname__} is marked @ember.jit.unused and cannot run in a scripted program")
        return fn(*args, **kwargs)
    guarded._ember_jit_unused = True
    return guarded


def interface(obj):
    """Declare a class as an interface type; returns the class unchanged.

    Raises:
        RuntimeError: if ``obj`` is not a class.
    """
    if not inspect.isclass(obj):
        raise RuntimeError("interface must be applied to a class")
    obj._ember_jit_interface = True
    return obj


def script_if_tracing(fn):
    """Compile ``fn`` only when called inside a trace.

    ember cannot keep Python control flow in a graph, so inside ``ember.jit.trace`` the call's
    ops are recorded like the rest of the trace; outside it ``fn`` runs as is.

    Returns:
        A function that calls ``fn``.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    wrapper.__original_fn = fn
    wrapper.__script_if_tracing_wrapper = True
    return wrapper


def _isinstance(obj, target_type) -> bool:
    origin = typing.get_origin(target_type)
    args = typing.get_args(target_type)
    if target_type in (list, dict, tuple, typing.List, typing.Dict, typing.Tuple, typing.Optional):
        name = getattr(target_type, "__name__", None) or getattr(target_type, "_name", str(target_type))
        raise RuntimeError(f"Attempted to use {name} without a contained type. Please add a contained type, "
                           f"e.g. {name}[int]")
    if origin is None:
        return builtins_isinstance(obj, target_type)
    if origin is list:
        return builtins_isinstance(obj, list) and all(_isinstance(x, args[0]) for x in obj)
    if origin is dict:
        return builtins_isinstance(obj, dict) and all(_isinstance(k, args[0]) and _isinstance(v, args[1])
                                                      for k, v in obj.items())
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return builtins_isinstance(obj, tuple) and all(_isinstance(x, args[0]) for x in obj)
        return builtins_isinstance(obj, tuple) and len(obj) == len(args) and \
            all(_isinstance(x, t) for x, t in zip(obj, args))
    if origin is typing.Union or str(origin) == "types.UnionType":
        return any(_isinstance(obj, t) for t in args)
    return builtins_isinstance(obj, origin)


builtins_isinstance = isinstance


def isinstance(obj, target_type) -> bool:  # noqa: A001  (PyTorch's name)
    """``isinstance`` that understands container types: ``List[int]``, ``Dict[str, Tensor]``, ``Optional[...]``.

    Args:
        obj: the value.
        target_type: a class or a typing generic with its element types.

    Returns:
        Whether ``obj`` is of that type (containers checked element by element).

    Raises:
        RuntimeError: for a bare container type (``list`` without its element type).
    """
    return _isinstance(obj, target_type)


def fork(func, *args, **kwargs) -> Future:
    """Run ``func(*args, **kwargs)`` and return a ``Future`` of its result.

    ember runs it synchronously (the result is the same; the call just does not overlap the
    caller's work).
    """
    fut = Future()
    try:
        fut.set_result(func(*args, **kwargs))
    except Exception as e:
        fut.set_exception(e)
    return fut


def wait(future):
    """The value of a ``Future`` from ``fork``."""
    return future.wait()


_ONEDNN = [False]


def enable_onednn_fusion(enabled: bool) -> None:
    """Set the oneDNN fusion flag of the TorchScript CPU fuser (ember's jit graphs run unfused either way)."""
    _ONEDNN[0] = bool(enabled)


def onednn_fusion_enabled() -> bool:
    """The flag ``enable_onednn_fusion`` set."""
    return _ONEDNN[0]


_FUSION_STRATEGY = [[("STATIC", 2), ("DYNAMIC", 10)]]


def set_fusion_strategy(strategy):
    """Set the fuser's specialisation strategy: a list of ``("STATIC" | "DYNAMIC", depth)``; returns the old one."""
    warnings.warn("`ember.jit.set_fusion_strategy` is deprecated. Please use `ember.compile` instead.",
                  DeprecationWarning, stacklevel=2)
    for entry in strategy:
        if not (builtins_isinstance(entry, tuple) and len(entry) == 2 and entry[0] in ("STATIC", "DYNAMIC")
                and builtins_isinstance(entry[1], int)):
            raise RuntimeError(f"fusion strategy entries are (\"STATIC\" or \"DYNAMIC\", depth), got {entry!r}")
    old = _FUSION_STRATEGY[0]
    _FUSION_STRATEGY[0] = list(strategy)
    return old


class strict_fusion:
    """Context manager asserting that the enclosed ops fuse; ember's jit does not fuse, and outside a
    scripted or traced program PyTorch's check does nothing either."""

    def __init__(self):
        from ember.jit._script import is_scripting
        if not is_scripting():
            warnings.warn("Only works in script mode", stacklevel=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
