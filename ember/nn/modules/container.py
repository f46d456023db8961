"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
from __future__ import annotations

import itertools
import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from ember.core.tensor import Tensor
from ember.nn.modules.module import Module, _indent
from ember.nn.parameter import Parameter

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _abs_index(idx, size: int) -> int:
    idx = operator.index(idx)
    if not -size <= idx < size:
        raise IndexError(f"index {idx} is out of range for a container of length {size}")
    return idx % size if size else idx


def _no_digit_names(module):
    return [n for n in Module.__dir__(module) if not n[:1].isdigit()]


class Sequential(Module):
    """A chain of modules: each one is called on the previous one's output.

    ``Sequential(m0, m1, ...)`` registers the modules under the names ``"0"``, ``"1"``, ...;
    ``Sequential(OrderedDict([("name", module), ...]))`` keeps the given names. It supports
    indexing and slicing (a slice is a new ``Sequential``), ``len``, iteration, ``del``,
    ``+`` (concatenation), ``*`` (repetition) and their in-place forms. Deleting an entry
    renames the remaining modules ``"0"``, ``"1"``, ...

    Args:
        *args: the modules in calling order, or a single ``OrderedDict`` of named modules.

    Shape:
        the input of the first module; the output of the last.
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def _key_at(self, idx) -> str:
        keys = list(self._modules)
        return keys[_abs_index(idx, len(keys))]

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key_at(idx)]

    def __setitem__(self, idx, module) -> None:
        setattr(self, self._key_at(idx), module)

    def __delitem__(self, idx) -> None:
        if isinstance(idx, slice):
            for key in list(self._modules)[idx]:
                delattr(self, key)
        else:
            delattr(self, self._key_at(idx))
        # renumber, so that indices stay 0..len-1 (as PyTorch does)
        self._modules = dict(zip(map(str, range(len(self._modules))), self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other).__name__} is given.")
        return Sequential(*self, *other)

    def __iadd__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but "
                             f"{type(other).__name__} is given.")
        for module in list(other):
            self.append(module)
        return self

    def __mul__(self, other):
        if not isinstance(other, int):
            raise TypeError(f"unsupported operand type(s) for *: {type(self).__name__} and {type(other).__name__}")
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for {type(self).__name__}")
        return Sequential(*(list(self) * other))

    __rmul__ = __mul__

    def __imul__(self, other):
        if not isinstance(other, int) or other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for {type(self).__name__}")
        for module in list(self) * (other - 1):
            self.append(module)
        return self

    def __dir__(self):
        return _no_digit_names(self)

    def append(self, module):
        """Add ``module`` at the end.

        Args:
            module: the module to add (registered under the name ``str(len(self))``).

        Returns:
            This ``Sequential``.
        """
        self.add_module(str(len(self)), module)
        return self

    def insert(self, index: int, module):
        """Insert ``module`` before position ``index`` and renumber the modules ``"0"``, ``"1"``, ...

        Args:
            index: a position in ``[-len(self), len(self)]``; ``len(self)`` appends.
            module: the module to insert; it must be a ``Module``.

        Returns:
            This ``Sequential``.
        """
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        if index < 0:
            index += n
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules = {}
        for i, m in enumerate(modules):
            self.add_module(str(i), m)
        return self

    def extend(self, sequential):
        """Append every module of ``sequential``, in order.

        Args:
            sequential: an iterable of modules (such as another ``Sequential``).

        Returns:
            This ``Sequential``.
        """
        for module in sequential:
            self.append(module)
        return self

    def pop(self, key):
        """Remove and return the module at ``key``; the remaining modules are renumbered.

        Args:
            key: an integer index (negative counts from the end), or a slice.

        Returns:
            The removed module (a ``Sequential`` of them for a slice).
        """
        module = self[key]
        del self[key]
        return module

    def forward(self, input):
        """Run the modules in order, each on the previous one's output.

        Args:
            input: the input of the first module.

        Returns:
            The output of the last module (``input`` itself when the container is empty).
        """
        for module in self._modules.values():
            input = module(input)
        return input


class ModuleList(Module):
    """A list of modules, registered so that ``parameters()``, ``to()`` and ``state_dict()`` see them.

    The modules are named ``"0"``, ``"1"``, ... It supports indexing and slicing (a slice is
    a new ``ModuleList``), assignment, ``del`` (the rest are renumbered), ``len``, iteration
    and ``+``/``+=``. It has no ``forward``: iterate over it in the owner's ``forward``.

    Args:
        modules: an optional iterable of modules to add.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _key(self, idx) -> str:
        return str(_abs_index(idx, len(self._modules)))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[self._key(idx)]

    def __setitem__(self, idx, module) -> None:
        setattr(self, self._key(idx), module)

    def __delitem__(self, idx) -> None:
        if isinstance(idx, slice):
            for key in list(self._modules)[idx]:
                delattr(self, key)
        else:
            delattr(self, self._key(idx))
        self._modules = dict(zip(map(str, range(len(self._modules))), self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        combined = ModuleList()
        for module in itertools.chain(self, other):
            combined.append(module)
        return combined

    def __dir__(self):
        return _no_digit_names(self)

    def insert(self, index: int, module) -> None:
        """Insert ``module`` before position ``index`` and renumber the modules, as ``list.insert`` does.

        Args:
            index: the position; values past either end are clamped, negative ones count from the
                end.
            module: the module to insert.
        """
        n = len(self._modules)
        index = max(0, min(n, index + n if index < 0 else index))
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules = {}
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def append(self, module):
        """Add ``module`` at the end.

        Args:
            module: the module to add.

        Returns:
            This ``ModuleList``.
        """
        self.add_module(str(len(self)), module)
        return self

    def pop(self, key=-1):
        """Remove and return the module at ``key``; the remaining modules are renumbered.

        Args:
            key: the index (default ``-1``, the last module), or a slice.

        Returns:
            The removed module (a ``ModuleList`` of them for a slice).
        """
        module = self[key]
        del self[key]
        return module

    def extend(self, modules):
        """Append every module of ``modules``, in order.

        Args:
            modules: an iterable of modules; a single module (other than a ``ModuleList`` or a
                ``Sequential``) is rejected with ``TypeError``.

        Returns:
            This ``ModuleList``.
        """
        if not isinstance(modules, Iterable) or isinstance(modules, Module) and not isinstance(
                modules, (ModuleList, Sequential)):
            raise TypeError(f"ModuleList.extend should be called with an iterable, but got {type(modules).__name__}")
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self

    def __repr__(self):
        # runs of identical children print once: "(0-2): 3 x Linear(...)"
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        lines = []
        start = 0
        for i in range(1, len(reprs) + 1):
            if i < len(reprs) and reprs[i] == reprs[start]:
                continue
            count = i - start
            text = _indent(reprs[start], 2)
            if count == 1:
                lines.append(f"({start}): {text}")
            else:
                lines.append(f"({start}-{i - 1}): {count} x {text}")
            start = i
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """An ordered dict of modules, registered so that ``parameters()``, ``to()`` and ``state_dict()`` see them.

    It keeps insertion order and supports ``d[key]``, assignment, ``del``, ``in``, ``len`` and
    iteration over the keys. Keys must be valid module names (strings without ``"."``). It
    has no ``forward``.

    Args:
        modules: an optional mapping of names to modules, or an iterable of ``(name, module)``
            pairs.
    """

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str):
        return self._modules[key]

    def __setitem__(self, key: str, module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def pop(self, key: str):
        """Remove the module under ``key`` and return it.

        Args:
            key: the name to remove; a missing key raises ``KeyError``.

        Returns:
            The removed module.
        """
        module = self[key]
        del self[key]
        return module

    def keys(self):
        """Return the names, in insertion order.

        Returns:
            A keys view.
        """
        return self._modules.keys()

    def items(self):
        """Return the ``(name, module)`` pairs, in insertion order.

        Returns:
            An items view.
        """
        return self._modules.items()

    def values(self):
        """Return the modules, in insertion order.

        Returns:
            A values view.
        """
        return self._modules.values()

    def update(self, modules) -> None:
        """Add or replace modules from ``modules``.

        Args:
            modules: a mapping (or ``ModuleDict``) of names to modules, or an iterable of
                ``(name, module)`` pairs; existing names are overwritten.
        """
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleDict.update should be called with an iterable of key/value pairs, but got "
                            f"{type(modules).__name__}")
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        for j, pair in enumerate(modules):
            if not isinstance(pair, Iterable):
                raise TypeError(f"ModuleDict update sequence element #{j} should be Iterable; is "
                                f"{type(pair).__name__}")
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"ModuleDict update sequence element #{j} has length {len(pair)}; 2 is required")
            self[pair[0]] = pair[1]


def _describe_parameter(p) -> str:
    if not isinstance(p, Tensor):
        return f"Object of type: {type(p).__name__}"
    size = "x".join(str(s) for s in p.shape)
    device = "" if p.device.type == "cpu" else f" ({p.device})"
    kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
    return f"{kind} containing: [{p.dtype!r} of size {size}{device}]"


class ParameterList(Module):
    """A list of parameters, registered so that ``parameters()``, ``to()`` and ``state_dict()`` see them.

    A plain tensor added to it is wrapped in ``nn.Parameter`` (sharing its memory). It
    supports indexing and slicing, assignment, ``len``, iteration and ``+=``. It cannot be
    called.

    Args:
        values: an optional iterable of tensors or parameters to add.
    """

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self += values

    def _key(self, idx) -> str:
        return str(_abs_index(idx, self._size))

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)([self[i] for i in range(self._size)[idx]])
        return getattr(self, self._key(idx))

    def __setitem__(self, idx, param) -> None:
        key = self._key(idx)
        if isinstance(param, Tensor) and not isinstance(param, Parameter):
            param = Parameter(param)
        setattr(self, key, param)

    def __len__(self) -> int:
        return self._size

    def __iter__(self):
        return iter(self[i] for i in range(self._size))

    def __iadd__(self, parameters):
        return self.extend(parameters)

    def __dir__(self):
        return _no_digit_names(self)

    def append(self, value):
        """Add ``value`` at the end (a plain tensor is wrapped in ``nn.Parameter``).

        Args:
            value: the parameter or tensor to add.

        Returns:
            This ``ParameterList``.
        """
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values):
        """Append every entry of ``values``, in order.

        Args:
            values: an iterable of parameters or tensors; a single tensor is rejected with
                ``TypeError``.

        Returns:
            This ``ParameterList``.
        """
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got "
                            f"{type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        """Describe each entry (kind, dtype, size and non-CPU device), one per line.

        Returns:
            The text shown inside the ``repr``.
        """
        return "\n".join(f"  ({i}): {_describe_parameter(p)}" for i, p in enumerate(self))

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """An ordered dict of parameters, registered so that ``parameters()``, ``to()`` and ``state_dict()`` see them.

    Keys must be strings; a plain tensor stored in it is wrapped in ``nn.Parameter`` (sharing
    its memory). It supports ``d[key]``, assignment, ``del``, ``in``, ``len``, iteration over
    the keys, ``reversed`` and ``|``/``|=``. It cannot be called.

    Args:
        parameters: an optional mapping of names to tensors, or an iterable of
            ``(name, tensor)`` pairs.
    """

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}
        if parameters is not None:
            self.update(parameters)

    def _check_key(self, key):
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {type(key).__name__}")

    def __getitem__(self, key: str):
        self._check_key(key)
        if key not in self._keys:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        self._check_key(key)
        self._keys[key] = None
        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        setattr(self, key, value)

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(list(self._keys))

    def __contains__(self, key) -> bool:
        return key in self._keys

    def copy(self):
        """Return a new ``ParameterDict`` holding the same parameter objects (a shallow copy).

        Returns:
            The copy.
        """
        return ParameterDict(OrderedDict((k, self[k]) for k in self._keys))

    def setdefault(self, key: str, default=None):
        """Return the entry under ``key``, storing ``default`` there first if the key is missing.

        Args:
            key: the name to look up.
            default: the value to store when ``key`` is missing.

        Returns:
            The entry under ``key``.
        """
        if key not in self:
            self[key] = default
        return self[key]

    def clear(self) -> None:
        """Remove every entry."""
        for key in list(self._keys):
            del self[key]

    def pop(self, key: str):
        """Remove the entry under ``key`` and return it.

        Args:
            key: the name to remove; a missing key raises ``KeyError``.

        Returns:
            The removed parameter.
        """
        value = self[key]
        del self[key]
        return value

    def popitem(self):
        """Remove and return the most recently inserted entry.

        Returns:
            A ``(key, parameter)`` pair. Raises ``KeyError`` when the dict is empty.
        """
        if not self._keys:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(self._keys))
        return key, self.pop(key)

    def get(self, key: str, default=None):
        """Return the entry under ``key``, or ``default`` if there is none.

        Args:
            key: the name to look up.
            default: the value returned for a missing key.

        Returns:
            The parameter, or ``default``.
        """
        return self[key] if key in self else default

    def fromkeys(self, keys, default=None):
        """Return a new ``ParameterDict`` with every name of ``keys`` mapped to ``default``.

        Args:
            keys: an iterable of names.
            default: the value stored under every name (a plain tensor is wrapped in a new
                ``nn.Parameter`` for each name).

        Returns:
            The new ``ParameterDict``; this one is unchanged.
        """
        return ParameterDict((k, default) for k in keys)

    def keys(self):
        """Return the names, in insertion order.

        Returns:
            A keys view.
        """
        return self._keys.keys()

    def items(self):
        """Iterate over the ``(name, parameter)`` pairs, in insertion order.

        Returns:
            A generator of pairs.
        """
        return ((k, self[k]) for k in self._keys)

    def values(self):
        """Iterate over the parameters, in insertion order.

        Returns:
            A generator of parameters.
        """
        return (self[k] for k in self._keys)

    def update(self, parameters) -> None:
        """Add or replace entries from ``parameters``.

        Args:
            parameters: a mapping (or ``ParameterDict``) of names to tensors, or an iterable of
                ``(name, tensor)`` pairs. Mappings other than ``dict``, ``OrderedDict`` and
                ``ParameterDict`` are added in sorted key order.
        """
        if not isinstance(parameters, Iterable):
            raise TypeError(f"ParametersDict.update should be called with an iterable of key/value pairs, but "
                            f"got {type(parameters).__name__}")
        if isinstance(parameters, (Mapping, ParameterDict)):
            items = parameters.items()
            if not isinstance(parameters, (OrderedDict, ParameterDict, dict)):
                items = sorted(items)
            for key, value in items:
                self[key] = value
            return
        for j, pair in enumerate(parameters):
            pair = tuple(pair)
            if len(pair) != 2:
                raise ValueError(f"ParameterDict update sequence element #{j} has length {len(pair)}; "
                                 f"2 is required")
            self[pair[0]] = pair[1]

    def __or__(self, other):
        out = self.copy()
        out.update(other)
        return out

    def __ror__(self, other):
        out = ParameterDict(other)
        out.update(self)
        return out

    def __ior__(self, other):
        self.update(other)
        return self

    def extra_repr(self) -> str:
        """Describe each entry (kind, dtype, size and non-CPU device), one per line.

        Returns:
            The text shown inside the ``repr``.
        """
        return "\n".join(f"  ({k}): {_describe_parameter(v)}" for k, v in self.items())

    def __call__(self, *args, **kwargs):
        raise RuntimeError("ParameterDict should not be called.")
