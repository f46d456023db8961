"""More of ``torch.export``'s public names over ember's export: the calling-convention records,
dynamic-shape helpers (``ShapesCollection``, ``AdditionalInputs``) and ``draft_export``."""
from __future__ import annotations

import dataclasses
import inspect
import warnings

from ember.core.tensor import Tensor
from ember.utils._pytree import tree_flatten, tree_unflatten


@dataclasses.dataclass
class ModuleCallSignature:
    """How a module of an exported program is called: its inputs' and outputs' graph
    arguments, the pytree specs of ``(args, kwargs)`` and of the result, and the names of
    ``forward``'s parameters."""
    inputs: list
    outputs: list
    in_spec: object
    out_spec: object
    forward_arg_names: list = None


@dataclasses.dataclass
class ModuleCallEntry:
    """One module of an exported program's call graph: its dotted name (``""``: the root) and
    its ``ModuleCallSignature``."""
    fqn: str
    signature: ModuleCallSignature = None


@dataclasses.dataclass
class ExportBackwardSignature:
    """The backward part of a joint exported graph: which output gradient belongs to which
    parameter and user input, and the name of the loss output."""
    gradients_to_parameters: dict
    gradients_to_user_inputs: dict
    loss_output: str


# ---------------------------------------------------------------- dynamic-shape helpers
def _spec_like(mod, args, kwargs, per_tensor):
    """A ``dynamic_shapes`` value shaped like the inputs: ``per_tensor(t)`` at each tensor leaf
    (None elsewhere); a tuple in argument order, or a dict by name when there are kwargs."""
    kwargs = dict(kwargs or {})

    def walk(value):
        if isinstance(value, Tensor):
            return per_tensor(value)
        if type(value) in (tuple, list):
            return type(value)(walk(v) for v in value)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return None
    if not kwargs:
        return tuple(walk(a) for a in args)
    bound = inspect.signature(mod.forward).bind(*args, **kwargs)
    return {name: walk(v) for name, v in bound.arguments.items()}


class ShapesCollection:
    """Dynamic shapes given per tensor object: ``sc[x] = {0: Dim.DYNAMIC}``, then
    ``export(m, args, dynamic_shapes=sc.dynamic_shapes(m, args))`` (or ``dynamic_shapes=sc``)."""

    def __init__(self):
        self._shapes = {}

    def __setitem__(self, t, shape):
        if not isinstance(t, Tensor):
            raise ValueError(f"Cannot assign shape to non-tensor type {type(t)}")
        self._shapes[id(t)] = (t, shape)

    def __getitem__(self, t):
        entry = self._shapes.get(id(t))
        if entry is None or entry[0] is not t:
            self._shapes[id(t)] = (t, {})
            return self._shapes[id(t)][1]
        return entry[1]

    def __len__(self):
        return len(self._shapes)

    def dynamic_shapes(self, m, args, kwargs=None):
        """The ``dynamic_shapes`` spec of ``m(*args, **kwargs)`` from the shapes set here.

        Raises:
            ValueError: if a tensor given a shape is not among the inputs.
        """
        used = set()

        def per_tensor(t):
            entry = self._shapes.get(id(t))
            if entry is not None and entry[0] is t:
                used.add(id(t))
                return entry[1]
            return None
        spec = _spec_like(m, args, kwargs, per_tensor)
        if used != set(self._shapes):
            raise ValueError("Some tensors that were assigned shapes were not found in args. Maybe such tensors "
                             "were copied when passing them as args? Maybe such tensors are contained in classes "
                             "that were not registered with pytree?")
        return spec


class AdditionalInputs:
    """Other inputs the program must accept: the dims whose sizes differ between them and the
    example inputs become ``Dim.DYNAMIC``; pass it as ``export(..., dynamic_shapes=ai)``."""

    def __init__(self):
        self._examples = []

    def add(self, args, kwargs=None) -> None:
        """Add one more set of inputs.

        Args:
            args: a tuple of positional inputs.
            kwargs: a dict of keyword inputs.
        """
        if not isinstance(args, tuple):
            raise ValueError(f"Representative args {args} must be a tuple")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise ValueError(f"Representative kwargs {kwargs} must be None or a dict")
        self._examples.append((args, dict(kwargs or {})))

    def dynamic_shapes(self, m, args, kwargs=None):
        """The ``dynamic_shapes`` spec: ``Dim.DYNAMIC`` for every dim that varies across the inputs.

        Raises:
            ValueError: if the inputs do not all have the same structure and tensor ranks.
        """
        from ember.export.dynamic_shapes import Dim
        leaves, spec = tree_flatten((tuple(args), dict(kwargs or {})))
        shapes = [[tuple(x.shape)] if isinstance(x, Tensor) else None for x in leaves]
        for a, k in self._examples:
            other, other_spec = tree_flatten((tuple(a), k))
            if other_spec != spec:
                raise ValueError("all additional inputs must have the same structure as the example inputs")
            for i, x in enumerate(other):
                if shapes[i] is not None:
                    if not isinstance(x, Tensor) or x.dim() != len(shapes[i][0]):
                        raise ValueError(f"input {i}: the additional inputs' ranks differ from the example's")
                    shapes[i].append(tuple(x.shape))
        marks = []
        for s in shapes:
            if s is None:
                marks.append(None)
            else:
                varying = {d: Dim.DYNAMIC for d in range(len(s[0])) if len({sh[d] for sh in s}) > 1}
                marks.append(varying or None)
        per_leaf = iter(marks)
        filled = tree_unflatten([next(per_leaf) for _ in leaves], spec)
        f_args, f_kwargs = filled
        if not f_kwargs:
            return tuple(f_args)
        bound = inspect.signature(m.forward).bind(*f_args, **f_kwargs)
        return dict(bound.arguments)

    def verify(self, ep) -> None:
        """Run ``ep`` on every added input set (raises where one does not fit the program).

        Args:
            ep: the ``ExportedProgram``.
        """
        module = ep.module()
        for a, k in self._examples:
            module(*a, **k)


# ---------------------------------------------------------------- draft export
class FailureType:
    DATA_DEPENDENT_ERROR = "DATA_DEPENDENT_ERROR"


@dataclasses.dataclass
class FailureReport:
    """One problem ``draft_export`` worked around: its kind and where it happened."""
    failure_type: str
    data: dict

    def print(self, str_to_filename=None) -> str:
        return f"{self.failure_type}: {self.data.get('message', '')}"


class DraftExportReport:
    """What ``draft_export`` met: the failures it worked around (empty when the program exported cleanly)."""

    def __init__(self, failures):
        self.failures = list(failures)

    def successful(self) -> bool:
        """Whether the program exported without working around anything."""
        return not self.failures

    def __str__(self):
        if self.successful():
            return "No issues found: the program exported without baking in any data-dependent value."
        lines = [f"{len(self.failures)} issue(s) found during export; the graph was specialized to the example "
                 f"inputs' values at:"]
        lines += [f"  {i + 1}. {f.print()}" for i, f in enumerate(self.failures)]
        return "\n".join(lines)


def draft_export(mod, args, kwargs=None, *, dynamic_shapes=None, preserve_module_call_signature=(), strict=False,
                 prefer_deferred_runtime_asserts_over_guards=False):
    """``export`` that does not stop at data-dependent code: where the program reads a tensor's
    values into Python, the value the example inputs give is baked into the graph, and the place
    is recorded in ``ep._report`` (a ``DraftExportReport``).

    Args:
        mod: the Module.
        args: the example positional inputs (a tuple).
        kwargs: the example keyword inputs.
        dynamic_shapes: as ``export``'s.
        preserve_module_call_signature: accepted for PyTorch's signature (ember's graph is flat).
        strict: as ``export``'s.
        prefer_deferred_runtime_asserts_over_guards: accepted for PyTorch's signature.

    Returns:
        The ``ExportedProgram``, with ``_report``.
    """
    from ember.export.exported_program import export
    from ember.fx.capture import TracerWarning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TracerWarning)
        ep = export(mod, args, kwargs, dynamic_shapes=dynamic_shapes, strict=strict, _on_host_read="constant")
    failures, seen = [], set()
    for w in caught:
        if issubclass(w.category, TracerWarning):
            message = str(w.message)
            if message not in seen:
                seen.add(message)
                failures.append(FailureReport(FailureType.DATA_DEPENDENT_ERROR, {"message": message}))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    ep._report = DraftExportReport(failures)
    return ep


__all__ = ["AdditionalInputs", "DraftExportReport", "ExportBackwardSignature", "ModuleCallEntry",
           "ModuleCallSignature", "ShapesCollection", "draft_export"]


def register_dataclass(cls, *, serialized_type_name=None) -> None:
    """Let ``export`` (and ember's pytree functions) take and return instances of dataclass
    ``cls``: its fields are flattened as children, in declaration order.

    Args:
        cls: a ``@dataclasses.dataclass`` class.
        serialized_type_name: the name the type would have in a saved program (recorded on the class).

    Raises:
        ValueError: if ``cls`` is not a dataclass.
    """
    from ember.utils import _pytree
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise ValueError(f"field_names must be specified with a list of all fields used to initialize {cls}, "
                         f"as it is not a dataclass.")
    if cls in _pytree._DATACLASSES:
        warnings.warn(f"{cls} is already registered as a pytree node; registering it again replaces it",
                      UserWarning, stacklevel=2)
    _pytree._DATACLASSES[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    if serialized_type_name is not None:
        cls._ember_serialized_type_name = serialized_type_name
