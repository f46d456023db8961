"""The DataPipe base classes, ``DataChunk``, and the decorators of ``torch.utils.data``.

A pipe class registered with ``@functional_datapipe("name")`` becomes a method of every pipe of
its kind: ``source.name(*args)`` is ``Class(source, *args)``. A pipe's element type is the
parameter of its base (``class Ints(IterDataPipe[int])``): ``runtime_validation`` checks what
``__iter__`` yields against it and ``argument_validation`` checks pipes passed as arguments.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import typing

from ember.utils.data.dataset import Dataset, IterableDataset

__all__ = ["IterDataPipe", "MapDataPipe", "DFIterDataPipe", "DataChunk", "functional_datapipe",
           "argument_validation", "runtime_validation", "runtime_validation_disabled",
           "guaranteed_datapipes_determinism", "non_deterministic"]

_FLAGS = {"runtime_validation": True, "determinism": False}


def _element_type(cls):
    """The type parameter of the DataPipe base a class names (``IterDataPipe[int]`` -> int), or Any."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            if isinstance(origin, type) and issubclass(origin, (IterDataPipe, MapDataPipe)):
                args = typing.get_args(base)
                if args and not isinstance(args[0], typing.TypeVar):
                    return args[0]
    return typing.Any


def _is_subtype(value_type, wanted) -> bool:
    if wanted is typing.Any:
        return True
    if value_type is typing.Any:  # an untyped pipe may hold anything: accepted
        return True
    origin = typing.get_origin(wanted)
    if origin is typing.Union:
        return any(_is_subtype(value_type, w) for w in typing.get_args(wanted))
    wanted_class = origin or wanted
    value_class = typing.get_origin(value_type) or value_type
    return isinstance(value_class, type) and isinstance(wanted_class, type) and issubclass(value_class, wanted_class)


def _is_instance(value, wanted) -> bool:
    if wanted is typing.Any:
        return True
    origin = typing.get_origin(wanted)
    if origin is typing.Union:
        return any(_is_instance(value, w) for w in typing.get_args(wanted))
    return isinstance(value, origin or wanted)


class _Functional:
    """A pipe class bound to a source pipe: calling it builds the pipe on that source."""

    def __init__(self, cls, source):
        self.cls, self.source = cls, source

    def __call__(self, *args, **kwargs):
        return self.cls(self.source, *args, **kwargs)


class _PipeBase:
    functions: dict

    @property
    def type(self):
        """The pipe's element type (its base's type parameter; ``typing.Any`` if none)."""
        return _element_type(type(self))

    def __getattr__(self, name):
        cls = type(self).functions.get(name)
        if cls is None:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}")
        return _Functional(cls, self)

    @classmethod
    def register_datapipe_as_function(cls, function_name, cls_to_register):
        """Make ``cls_to_register`` the method ``function_name`` of every pipe of this kind.

        Args:
            function_name: the method's name.
            cls_to_register: the pipe class; its first argument is the source pipe.

        Raises:
            Exception: if the name is registered already.
        """
        if function_name in cls.functions:
            raise Exception(f"Unable to add DataPipe function name {function_name} as it is already taken")
        cls.functions[function_name] = cls_to_register

    def __repr__(self):
        return type(self).__qualname__

    __str__ = __repr__


class IterDataPipe(_PipeBase, IterableDataset):
    """An iterable-style DataPipe: a dataset read by iterating over it, with functional forms
    (``.map``, ``.filter``, ``.batch``, ``.shuffle``...) that build new pipes on it."""
    functions: dict = {}


class MapDataPipe(_PipeBase, Dataset):
    """A map-style DataPipe: ``pipe[i]`` and ``len(pipe)``, with functional forms (``.map``,
    ``.batch``, ``.concat``, ``.zip``, ``.shuffle``)."""
    functions: dict = {}


class DFIterDataPipe(IterDataPipe):
    """An iterable DataPipe whose elements are data frames (the base of PyTorch's dataframe pipes)."""

    def _is_dfpipe(self):
        return True


class DataChunk(list):
    """A list that a pipe yields as one element (a batch), kept distinct from a plain list.

    Args:
        items: the elements.
    """

    def __init__(self, items=()):
        super().__init__(items)
        self.items = self

    def as_str(self, indent: str = "") -> str:
        """The chunk as text: ``indent`` and the elements, comma-separated, in brackets."""
        return indent + "[" + ", ".join(str(i) for i in iter(self)) + "]"

    def __iter__(self):
        yield from super().__iter__()

    def raw_iterator(self):
        """An iterator over the elements."""
        yield from super().__iter__()


def functional_datapipe(name: str, enable_df_api_tracing=False):
    """Class decorator: register the pipe under the functional name ``name``.

    Args:
        name: the method name (``source.name(...)``).
        enable_df_api_tracing: accepted for PyTorch's signature.

    Returns:
        The decorator (it returns the class).
    """
    def register(cls):
        if issubclass(cls, IterDataPipe):
            IterDataPipe.register_datapipe_as_function(name, cls)
        elif issubclass(cls, MapDataPipe):
            MapDataPipe.register_datapipe_as_function(name, cls)
        else:
            raise TypeError("`functional_datapipe` can only decorate IterDataPipe or MapDataPipe")
        return cls
    return register


# ---------------------------------------------------------------- typing and determinism
def argument_validation(f):
    """Decorator of a pipe's ``__init__``: arguments annotated ``IterDataPipe[T]`` (or ``MapDataPipe[T]``)
    must be such pipes with elements of type ``T``.

    Raises:
        TypeError: (at call time) for an argument that is not a pipe, or whose type does not match.
    """
    signature = inspect.signature(f)
    hints = {}

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        if not hints:  # resolved at the first call (string annotations may name later definitions)
            hints.update(typing.get_type_hints(f, localns={"IterDataPipe": IterDataPipe, "MapDataPipe": MapDataPipe}))
        bound = signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            hint = hints.get(name)
            origin = typing.get_origin(hint) or hint
            if not (isinstance(origin, type) and issubclass(origin, (IterDataPipe, MapDataPipe))):
                continue
            if not isinstance(value, origin):
                raise TypeError(f"Expected argument '{name}' as a {origin.__name__}, but found {type(value)}")
            wanted = (typing.get_args(hint) or (typing.Any,))[0]
            if not _is_subtype(value.type, wanted):
                raise TypeError(f"Expected type of argument '{name}' as a subtype of hint {wanted}, but found "
                                f"{value.type}")
        return f(*args, **kwargs)
    return wrapper


def runtime_validation(f):
    """Decorator of a pipe's ``__iter__``: each element it yields must be of the pipe's type.

    Raises:
        TypeError: if it decorates anything but ``__iter__``.
        RuntimeError: (while iterating) for an element of another type.
    """
    if f.__name__ != "__iter__":
        raise TypeError(f"Can not decorate function {f.__name__} with 'runtime_validation'")

    @functools.wraps(f)
    def wrapper(self):
        wanted = self.type
        for item in f(self):
            if _FLAGS["runtime_validation"] and not _is_instance(item, wanted):
                raise RuntimeError(f"Expected an instance as subtype of {wanted}, but found {item}({type(item)})")
            yield item
    return wrapper


class runtime_validation_disabled(contextlib.ContextDecorator):
    """Context manager (or decorator): ``runtime_validation`` checks nothing inside it."""

    def __enter__(self):
        self.previous = _FLAGS["runtime_validation"]
        _FLAGS["runtime_validation"] = False
        return self

    def __exit__(self, *exc):
        _FLAGS["runtime_validation"] = self.previous
        return False


class guaranteed_datapipes_determinism(contextlib.ContextDecorator):
    """Context manager (or decorator): making a pipe marked ``non_deterministic`` inside it raises."""

    def __enter__(self):
        self.previous = _FLAGS["determinism"]
        _FLAGS["determinism"] = True
        return self

    def __exit__(self, *exc):
        _FLAGS["determinism"] = self.previous
        return False


def non_deterministic(arg):
    """Mark a pipe class as non-deterministic (its order or values vary between runs), or, given a
    function of the constructor's arguments, as non-deterministic when that function says so.

    Args:
        arg: the pipe class, or ``fn(*args, **kwargs) -> bool``.

    Returns:
        The class, made to raise ``TypeError`` on construction inside ``guaranteed_datapipes_determinism``.
    """
    if isinstance(arg, type):
        if not issubclass(arg, (IterDataPipe, MapDataPipe)):
            raise TypeError(f"Only `IterDataPipe` or `MapDataPipe` can be decorated with `non_deterministic`, "
                            f"but {arg.__name__} is found")
        return _guarded(arg, lambda *a, **k: True)
    if not callable(arg):
        raise TypeError(f"non_deterministic expects a DataPipe class or a function, got {type(arg)}")
    return lambda cls: _guarded(cls, arg)


def _guarded(cls, decides):
    original = cls.__new__

    def __new__(klass, *args, **kwargs):
        if _FLAGS["determinism"] and decides(*args, **kwargs):
            raise TypeError(f"{cls.__name__} is non-deterministic, but you set 'guaranteed_datapipes_determinism'. "
                            f"You can turn off determinism for this DataPipe if that is acceptable for your "
                            f"application")
        return original(klass) if original is object.__new__ else original(klass, *args, **kwargs)
    cls.__new__ = __new__
    cls._nondeterministic = True
    return cls
