"""Dynamic dimensions for ``ember.export`` (PyTorch's ``Dim``, ``Dim.AUTO``/``STATIC``/``DYNAMIC``, ``dims``).

ember's graphs hold concrete shapes, so a dimension declared dynamic is handled honestly:

* at export, the program is traced a second time with that dimension one larger (or one
  smaller). When both graphs are the same program (no op depends on the size: Linear, ReLU,
  convolutions, most of a transformer), the dimension is *generic* and the graph runs for
  any size in the declared range, also after ``ember.export.load``;
* otherwise (a ``view`` to a fixed shape, BatchNorm's division by the batch size, a random
  draw of the input's shape) the graph is specialised to the example's size. A call with
  another size re-captures the program from the original module (cached per shape) while it
  is alive; a loaded program has no module to re-capture, and raises ``RuntimeError``
  naming the dimension.

``Dim.AUTO`` dims that turn out specialised become static (guarded), as PyTorch's automatic
dynamic shapes do.
"""
from __future__ import annotations

import inspect

from ember.core.tensor import Tensor
from ember.export._constraints import (Constraint, StrictMinMaxConstraint, ValueRanges,  # noqa: F401
                                      _Constraint, _ConstraintTarget, _DerivedConstraint, _process_dynamic_shapes,
                                      _RelaxedConstraint)


class DimHint:
    """``Dim.AUTO``, ``Dim.STATIC`` or ``Dim.DYNAMIC``: let export decide, force static, require dynamic."""

    def __init__(self, kind: str):
        self.kind = kind

    def __repr__(self):
        return f"DimHint({self.kind})"


class Dim:
    """A named dynamic dimension of example inputs; the same ``Dim`` on two inputs means equal sizes.

    Args:
        name: the dimension's name (shown in errors).
        min: the smallest size allowed (default 0).
        max: the largest size allowed (default unbounded).
    """
    AUTO = DimHint("AUTO")
    STATIC = DimHint("STATIC")
    DYNAMIC = DimHint("DYNAMIC")

    def __init__(self, name: str, *, min: int | None = None, max: int | None = None):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Dim name must be a valid identifier, got {name!r}")
        lo = 0 if min is None else int(min)
        hi = None if max is None else int(max)
        if lo < 0 or (hi is not None and hi < lo):
            raise ValueError(f"Upper bound ({hi}) must be >= lower bound ({lo}) for Dim {name!r}, "
                             f"and the lower bound must be non-negative")
        self.__name__ = name
        self.min = lo
        self.max = hi

    def __repr__(self):
        bounds = (f", min={self.min}" if self.min else "") + (f", max={self.max}" if self.max is not None else "")
        return f"Dim({self.__name__!r}{bounds})"

    # ---- derived dims: ``2 * B + 1`` is a dim whose size is that function of B's
    def _derive(self, coeff, offset):
        root = getattr(self, "root", None) or self
        c0, o0 = getattr(self, "coeff", 1), getattr(self, "offset", 0)
        return _DerivedDim(root, c0 * coeff, o0 * coeff + offset)

    def __add__(self, other):
        if type(other) is not int:
            raise NotImplementedError(f"Attempted to add {other} to {self.__name__}, where an integer was expected. "
                                      f"(Only increasing linear operations with integer coefficients are supported.)")
        return self._derive(1, other)

    __radd__ = __add__

    def __sub__(self, other):
        if type(other) is not int:
            raise NotImplementedError(f"Attempted to subtract {other} from {self.__name__}, where an integer was "
                                      f"expected. (Only increasing linear operations with integer coefficients are "
                                      f"supported.)")
        return self._derive(1, -other)

    def __mul__(self, other):
        if type(other) is not int or other <= 0:
            raise NotImplementedError(f"Attempted to multiply {other} with {self.__name__}, where a positive integer "
                                      f"was expected. (Only increasing linear operations with integer coefficients "
                                      f"are supported.)")
        return self._derive(other, 0)

    __rmul__ = __mul__


class _DerivedDim(Dim):
    """``coeff * root + offset`` for a root ``Dim``: a dimension whose size follows the root's."""

    def __init__(self, root: Dim, coeff: int, offset: int):
        self.root, self.coeff, self.offset = root, coeff, offset
        term = root.__name__ if coeff == 1 else f"{coeff}*{root.__name__}"
        self.__name__ = term if offset == 0 else f"{term} {'+' if offset > 0 else '-'} {abs(offset)}"
        self.min = coeff * root.min + offset
        self.max = None if root.max is None else coeff * root.max + offset

    def fn(self, size):
        """The derived size for a size of the root."""
        return self.coeff * size + self.offset

    def __repr__(self):
        return self.__name__


def dims(*names: str, min: int | None = None, max: int | None = None) -> tuple:
    """One ``Dim`` per name, all with the same bounds."""
    return tuple(Dim(name, min=min, max=max) for name in names)


class DimInfo:
    """A normalised dynamic dim: its group name (equal names: equal root sizes), the root's bounds,
    whether AUTO, and for a derived dim its size as ``coeff * root + offset``."""

    def __init__(self, name, lo, hi, auto, coeff=1, offset=0):
        self.name, self.min, self.max, self.auto = name, lo, hi, auto
        self.coeff, self.offset = coeff, offset

    def root_of(self, size):
        """The root's size for this dim's ``size`` (None if no root size gives it)."""
        root, rest = divmod(size - self.offset, self.coeff)
        return None if rest else root

    def size_of(self, root):
        """This dim's size for the root's size ``root``."""
        return self.coeff * root + self.offset

    def __repr__(self):
        return f"Dim({self.name!r}" + (f", min={self.min}" if self.min else "") + \
            (f", max={self.max}" if self.max is not None else "") + ")"


def normalize(dynamic_shapes, fn, args, kwargs, leaves, paths, error):
    """Per tensor leaf (in flat order), ``{dim index: DimInfo}`` from PyTorch's spec forms.

    ``dynamic_shapes`` is a dict keyed by ``forward``'s argument names, or a tuple/list in
    argument order; each tensor's entry is a dict ``{dim: Dim | Dim.AUTO | Dim.DYNAMIC |
    Dim.STATIC | None}`` or a tuple/list with one entry per dim; nested inputs take nested specs.
    """
    if dynamic_shapes is None:
        return [{} for x in leaves if isinstance(x, Tensor)]
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise error(f"cannot match dynamic_shapes to the arguments: {e}") from None
    arguments = bound.arguments
    if isinstance(dynamic_shapes, dict):
        unknown = [k for k in dynamic_shapes if k not in arguments]
        if unknown:
            raise error(f"When `dynamic_shapes` is specified as a dict, its top-level keys must be the arg names "
                        f"{list(arguments)} of `inputs`, but here they are {list(dynamic_shapes)}; {unknown} "
                        f"name no argument")
        specs = {name: dynamic_shapes.get(name) for name in arguments}
    elif isinstance(dynamic_shapes, (tuple, list)):
        if len(dynamic_shapes) != len(arguments):
            raise error(f"dynamic_shapes has {len(dynamic_shapes)} entries but the program takes "
                        f"{len(arguments)} arguments ({list(arguments)})")
        specs = dict(zip(arguments, dynamic_shapes))
    else:
        raise error(f"dynamic_shapes must be a dict, tuple or list, got {type(dynamic_shapes).__name__}")

    by_tensor = {}
    anonymous = [0]

    def one_dim(spec, path, d, size):
        if spec is None or spec is Dim.STATIC:
            return None
        if isinstance(spec, _DerivedDim):
            root = spec.root
            info = DimInfo(root.__name__, root.min, root.max, False, spec.coeff, spec.offset)
            value = info.root_of(size)
            if value is None or value < info.min or (info.max is not None and value > info.max):
                raise error(f"Constraints violated ({spec.__name__})! The example input {path} has size {size} in "
                            f"dim {d}, which is not {spec.__name__} for {root.__name__} in [{info.min}, "
                            f"{info.max if info.max is not None else 'inf'}]")
            return info
        if isinstance(spec, Dim):
            info = DimInfo(spec.__name__, spec.min, spec.max, False)
        elif spec is Dim.AUTO or spec is Dim.DYNAMIC:
            anonymous[0] += 1
            info = DimInfo(f"{path.replace('[', '_').replace(']', '').replace(chr(39), '')}_dim{d}", 0, None,
                           spec is Dim.AUTO)
        else:
            raise error(f"dynamic_shapes entry for {path} dim {d} must be a Dim, Dim.AUTO, Dim.DYNAMIC, "
                        f"Dim.STATIC or None, got {spec!r}")
        if size < info.min or (info.max is not None and size > info.max):
            raise error(f"Constraints violated ({info.name})! The example input {path} has size {size} in dim {d}, "
                        f"outside the range [{info.min}, {info.max if info.max is not None else 'inf'}] of "
                        f"{info.name}")
        return info

    def walk(value, spec, path):
        if isinstance(value, Tensor):
            if spec is None:
                return
            if isinstance(spec, dict):
                items = spec.items()
            elif isinstance(spec, (tuple, list)):
                if len(spec) != value.ndim:
                    raise error(f"dynamic_shapes entry for {path} has {len(spec)} dims; the tensor has {value.ndim}")
                items = enumerate(spec)
            else:
                raise error(f"dynamic_shapes entry for the tensor {path} must be a dict or tuple, got {spec!r}")
            found = {}
            for d, s in items:
                if not isinstance(d, int) or not -value.ndim <= d < value.ndim:
                    raise error(f"dynamic_shapes for {path}: dim {d!r} is out of range for a {value.ndim}-d tensor")
                info = one_dim(s, path, d % value.ndim, value.shape[d])
                if info is not None:
                    found[d % value.ndim] = info
            by_tensor[id(value)] = found
        elif type(value) in (tuple, list) or (isinstance(value, tuple) and hasattr(type(value), "_fields")):
            if spec is None:
                return
            if not isinstance(spec, (tuple, list)) or len(spec) != len(value):
                raise error(f"dynamic_shapes entry for {path} must be a tuple/list of {len(value)} entries, got {spec!r}")
            for i, (v, s) in enumerate(zip(value, spec)):
                walk(v, s, f"{path}[{i}]")
        elif isinstance(value, dict):
            if spec is None:
                return
            if not isinstance(spec, dict) or set(spec) - set(value):
                raise error(f"dynamic_shapes entry for {path} must be a dict with keys among {list(value)}, got {spec!r}")
            for k, v in value.items():
                walk(v, spec.get(k), f"{path}[{k!r}]")
        elif spec is not None and not (isinstance(spec, dict) and not spec):
            raise error(f"dynamic_shapes gives dims for {path}, which is not a tensor ({type(value).__name__})")

    for name, value in arguments.items():
        walk(value, specs.get(name), name)

    # the same Dim on two inputs must have the same example size
    result, sizes = [], {}
    for x, path in zip(leaves, paths):
        if not isinstance(x, Tensor):
            continue
        found = by_tensor.get(id(x), {})
        for d, info in found.items():
            root = info.root_of(x.shape[d])
            first = sizes.setdefault(info.name, (root, path, d))
            if first[0] != root:
                raise error(f"Constraints violated ({info.name})! {path}.size()[{d}] = {x.shape[d]} does not match "
                            f"{first[1]}.size()[{first[2]}]: they give {info.name} = {root} and {first[0]}")
        result.append(found)
    return result


def check_call(tensors, inputs, dynamic, generic, check_guards=True):
    """Check a call's tensor shapes against the exported ones; returns the names of the dims that differ.

    Raises:
        AssertionError: PyTorch's guard failure, naming the input and dim, for a static dim of
            another size, a dynamic dim out of its range, or two dims of one ``Dim`` that differ.
    """
    changed, seen = set(), {}
    for t, (path, shape, _dtype, _device), dyn in zip(tensors, inputs, dynamic):
        actual = tuple(t.shape)
        if len(actual) != len(shape):
            if check_guards:
                raise AssertionError(f"Guard failed: {path}.dim() == {len(shape)}")
            changed.add(f"{path}.dim()")
            continue
        for d, (want, got) in enumerate(zip(shape, actual)):
            info = dyn.get(d)
            if info is None or (info.auto and info.name not in generic):
                if want != got:
                    if check_guards:
                        raise AssertionError(f"Guard failed: {path}.size()[{d}] == {want}")
                    changed.add(f"{path}.size()[{d}]")
                continue
            root = info.root_of(got)
            if check_guards and root is None:
                raise AssertionError(f"Guard failed: ({path}.size()[{d}] - {info.offset}) % {info.coeff} == 0")
            if check_guards and root < info.min:
                raise AssertionError(f"Guard failed: {path}.size()[{d}] >= {info.size_of(info.min)}")
            if check_guards and info.max is not None and root > info.max:
                raise AssertionError(f"Guard failed: {path}.size()[{d}] <= {info.size_of(info.max)}")
            first = seen.setdefault(info.name, (root, path, d, info))
            if check_guards and first[0] != root:
                raise AssertionError(f"Guard failed: {path}.size()[{d}] == {first[1]}.size()[{first[2]}]"
                                     + ("" if info.coeff == first[3].coeff and info.offset == first[3].offset
                                        else f" (as {info.name} = {first[0]})"))
            if want != got:
                changed.add(info.name)
    return changed
