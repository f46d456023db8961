"""The constraint objects a ``dynamic_shapes`` spec turns into (PyTorch's ``torch.export.Constraint``).

Each names one dimension of one example input (``t_id``: the tensor's ``id``, ``dim``) and
what is known of its size: ``_Constraint`` a named ``Dim`` with its range, ``_DerivedConstraint``
a dim whose size is a function of another's (``root``), ``_RelaxedConstraint`` a dim left to
export (``Dim.AUTO``/``Dim.DYNAMIC``). ``Constraint`` is their union, for type hints and
``isinstance`` checks.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Union


@dataclasses.dataclass(frozen=True)
class ValueRanges:
    """A closed integer range ``[lower, upper]``; ``upper`` may be ``math.inf``."""
    lower: int
    upper: Any

    def __and__(self, other: "ValueRanges") -> "ValueRanges":
        return ValueRanges(max(self.lower, other.lower), min(self.upper, other.upper))

    def __contains__(self, value) -> bool:
        return self.lower <= value <= self.upper

    def __repr__(self):
        return f"VR[{self.lower}, {self.upper}]"


@dataclasses.dataclass(frozen=True)
class StrictMinMaxConstraint:
    """The range a dynamic dimension must stay in (``vr``); ``warn_only`` is always False in export."""
    vr: ValueRanges
    warn_only: bool = False


@dataclasses.dataclass
class _ConstraintTarget:
    """One dimension of one example input: the tensor's ``id`` and the dim index."""
    t_id: int
    dim: int


@dataclasses.dataclass
class _Constraint(_ConstraintTarget):
    """A named ``Dim`` on a target, with its allowed range (``constraint_range.vr``).

    Comparing it with an int (``c >= 4``, ``c < 10``) gives a copy with the range narrowed.
    """
    name: str
    constraint_range: StrictMinMaxConstraint

    def _clone_with_range(self, lower=0, upper=None):
        narrowed = self.constraint_range.vr & ValueRanges(lower, math.inf if upper is None else upper)
        return _Constraint(self.t_id, self.dim, self.name, StrictMinMaxConstraint(narrowed))

    def __ge__(self, lower):
        return self._clone_with_range(lower=lower)

    def __gt__(self, lower):
        return self._clone_with_range(lower=lower + 1)

    def __le__(self, upper):
        return self._clone_with_range(upper=upper)

    def __lt__(self, upper):
        return self._clone_with_range(upper=upper - 1)

    def __bool__(self):
        # ``a <= c <= b`` would silently keep only one side: refuse, as PyTorch does
        raise TypeError("Cannot determine truth value of _Constraint. If you are trying to combine "
                        "_Constraint's with logical connectives, you can specify them separately instead.")

    @property
    def serializable_spec(self) -> dict:
        """``{"t_id", "dim", "min", "max"}``: the constraint as plain values."""
        vr = self.constraint_range.vr
        return {"t_id": self.t_id, "dim": self.dim, "min": vr.lower, "max": vr.upper}


@dataclasses.dataclass
class _DerivedConstraint(_ConstraintTarget):
    """A dim whose size is ``fn(size of root)``: ``root`` is the target (or named root) it derives from."""
    name: str
    constraint_range: StrictMinMaxConstraint
    root: Any
    fn: Callable

    @property
    def serializable_spec(self) -> dict:
        """``{"t_id", "dim", "min", "max"}``: the constraint as plain values."""
        vr = self.constraint_range.vr
        return {"t_id": self.t_id, "dim": self.dim, "min": vr.lower, "max": vr.upper}


@dataclasses.dataclass
class _RelaxedConstraint(_ConstraintTarget):
    """A dim marked ``Dim.AUTO`` or ``Dim.DYNAMIC``: its range is left for export to find."""

    @property
    def serializable_spec(self) -> dict:
        """``{"t_id", "dim"}``."""
        return {"t_id": self.t_id, "dim": self.dim}


Constraint = Union[_Constraint, _DerivedConstraint, _RelaxedConstraint]


def _process_dynamic_shapes(combined_args: dict, dynamic_shapes) -> list:
    """The constraints a ``dynamic_shapes`` spec puts on ``combined_args`` (argument name -> value).

    Args:
        combined_args: the program's arguments by name (nested tuples, lists and dicts allowed).
        dynamic_shapes: the spec, in any of ``ember.export.export``'s forms (a dict by argument
            name, or a tuple/list in argument order), or None.

    Returns:
        A list of ``Constraint``: one per dynamic dimension, in argument order. A dim whose
        ``Dim`` is derived (``2 * B``) gets a ``_DerivedConstraint`` whose root is the first
        target of ``B`` (``B``'s name when no input uses ``B`` itself).
    """
    from ember.core.tensor import Tensor
    from ember.export.dynamic_shapes import Dim

    if dynamic_shapes is None:
        return []
    if isinstance(dynamic_shapes, dict):
        pairs = [(combined_args[k], v) for k, v in dynamic_shapes.items() if k in combined_args]
    else:
        pairs = list(zip(combined_args.values(), dynamic_shapes))
    plain, derived, roots = [], [], {}

    def walk(value, spec):
        if spec is None:
            return
        if isinstance(value, Tensor):
            items = spec.items() if isinstance(spec, dict) else enumerate(spec)
            for d, s in items:
                d = d % max(value.ndim, 1)
                if s is None or s is Dim.STATIC:
                    continue
                if s is Dim.AUTO or s is Dim.DYNAMIC:
                    plain.append(_RelaxedConstraint(id(value), d))
                elif isinstance(s, Dim):
                    vr = StrictMinMaxConstraint(ValueRanges(s.min, math.inf if s.max is None else s.max))
                    root = getattr(s, "root", None)
                    if root is None:
                        roots.setdefault(s.__name__, _ConstraintTarget(id(value), d))
                        plain.append(_Constraint(id(value), d, s.__name__, vr))
                    else:
                        derived.append((len(plain), _DerivedConstraint(id(value), d, s.__name__, vr, root, s.fn)))
                        plain.append(None)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, spec.get(k))
        elif isinstance(value, (tuple, list)):
            for v, s in zip(value, spec):
                walk(v, s)

    for value, spec in pairs:
        walk(value, spec)
    for slot, c in derived:  # roots by target once every plain Dim has been seen
        c.root = roots.get(c.root.__name__, c.root.__name__)
        plain[slot] = c
    return plain
