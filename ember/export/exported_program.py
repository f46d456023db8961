"""``ember.export.export`` and ``ExportedProgram`` (PyTorch's ``torch.export``).

``export`` captures a module's ``forward`` on example inputs into one graph of dispatched ops
(ember traces by running, on real tensors; the module's parameters, buffers and RNG are put
back afterwards, so exporting changes nothing). The program must be capturable whole: reading
a traced value into Python (``if x.sum() > 0``, ``.item()``) raises, naming the line.
"""
from __future__ import annotations

import collections
import keyword

from ember.core.tensor import Tensor
from ember.dispatch.ops import OpDef
from ember.export import _serialize as ser
from ember.export._program import _TENSOR, Program, capture, graph_key, module_state, restore_state
from ember.export.dynamic_shapes import DimInfo, check_call, normalize
from ember.export.graph_signature import (ConstantArgument, ExportGraphSignature, InputKind, InputSpec,
                                          OutputKind, OutputSpec, TensorArgument)
from ember.fx.graph_module import GraphModule, _install
from ember.utils._pytree import tree_flatten, tree_unflatten


class GuardOnDataDependentSymNode(RuntimeError):
    """Export met control flow or a Python value that depends on tensor data (PyTorch's class of that name)."""


CallSpec = collections.namedtuple("CallSpec", ["in_spec", "out_spec"])
ValueRange = collections.namedtuple("ValueRange", ["lower", "upper"])

_WRITES = ("write_inplace", "_index_put_inplace")


def _export_error(strict):
    if strict:
        from ember._dynamo.exc import Unsupported
        return Unsupported
    return GuardOnDataDependentSymNode


def export(mod, args, kwargs=None, *, dynamic_shapes=None, strict=False, _on_host_read="raise"):
    """Capture ``mod(*args, **kwargs)`` as an ``ExportedProgram``.

    Args:
        mod: the ``ember.nn.Module`` to export.
        args: a tuple of example positional inputs (tensors, nested tuples/lists/dicts, numbers).
        kwargs: a dict of example keyword inputs.
        dynamic_shapes: which input dims may change size: a dict keyed by ``forward``'s
            argument names (or a tuple in argument order) of ``{dim: Dim(...)}`` per tensor,
            or an ``AdditionalInputs``/``ShapesCollection``; see ``ember.export.dynamic_shapes``
            for how ember runs them.
        strict: the error class for a program that cannot be captured: ``Unsupported``
            (PyTorch's strict, TorchDynamo-based export) instead of ``GuardOnDataDependentSymNode``.

    Returns:
        An ``ExportedProgram``.

    Raises:
        ValueError: if ``mod`` is not a Module or ``args`` not a tuple.
        GuardOnDataDependentSymNode: (``Unsupported`` with ``strict``) for data-dependent
            control flow, naming the line of user code.
        UserError: for a ``dynamic_shapes`` that does not fit the inputs.
    """
    from ember.nn.modules.module import Module
    from ember._dynamo.exc import UserError
    if not isinstance(mod, Module):
        raise ValueError(f"Expected `mod` to be an instance of `torch.nn.Module`, got {type(mod)}.")
    if not isinstance(args, tuple):
        raise ValueError(f"Expecting `args` to be a tuple of example positional inputs, got {type(args)}")
    kwargs = dict(kwargs or {})
    if not all(isinstance(k, str) for k in kwargs):
        raise ValueError("Expecting `kwargs` to be a dict with string keys")
    error = _export_error(strict)
    if hasattr(dynamic_shapes, "dynamic_shapes"):   # AdditionalInputs / ShapesCollection: their spec
        dynamic_shapes = dynamic_shapes.dynamic_shapes(mod, args, kwargs)
    state = module_state(mod)
    try:
        program, cap, _ = capture(mod, args, kwargs, root=mod, on_host_read=_on_host_read, error=error,
                                  class_name=type(mod).__name__)
        leaves, _ = tree_flatten((tuple(args), kwargs))
        dynamic = normalize(dynamic_shapes, mod.forward, args, kwargs, leaves, program.paths, UserError)
        restore_state(state)
        generic = _probe_generic(mod, args, kwargs, program, dynamic, error, state)
    finally:
        restore_state(state)
    return ExportedProgram._from_capture(mod, program, cap, dynamic, generic, (args, kwargs))


def _probe_generic(mod, args, kwargs, program, dynamic, error, state) -> set:
    """The dynamic dims whose size no op depends on: re-trace with each one changed, compare graphs."""
    groups = {}
    for i, found in enumerate(dynamic):
        for d, info in found.items():
            groups.setdefault(info.name, (info, []))[1].append((i, d))
    if not groups:
        return set()
    from ember.core.autograd import no_grad
    from ember.ops.creation import arange
    from ember.ops.shape import cat
    reference = graph_key(program.graph)
    leaves, spec = tree_flatten((tuple(args), dict(kwargs)))
    tensor_slots = [k for k, x in enumerate(leaves) if isinstance(x, Tensor)]
    generic = set()
    for name, (info, members) in groups.items():
        i0, d0 = members[0]
        root = dynamic[i0][d0].root_of(program.inputs[i0][1][d0])   # a derived dim's sizes follow its root's
        new = root + 1 if info.max is None or root + 1 <= info.max else root - 1
        if new < max(info.min, 1) or new == root:
            generic.add(name)   # no other size is allowed: nothing can differ
            continue
        probe = list(leaves)
        with no_grad():
            for i, d in members:
                t = probe[tensor_slots[i]]
                size, resized = program.inputs[i][1][d], dynamic[i][d].size_of(new)
                idx = arange(min(resized, size), device=t.device)
                if resized > size:
                    idx = cat([idx, arange(size - 1, size, device=t.device).expand(resized - size)])
                changed = t.index_select(d, idx)
                probe[tensor_slots[i]] = changed.requires_grad_(True) if t.requires_grad else changed
        p_args, p_kwargs = tree_unflatten(probe, spec)
        try:
            other, _, _ = capture(mod, p_args, p_kwargs, root=mod, on_host_read="raise", error=error)
        except Exception:
            continue   # the program cannot run with another size: specialised
        finally:
            restore_state(state)
        if graph_key(other.graph) == reference:
            generic.add(name)
    return generic


def _root_of(node):
    """The tensor an in-place write finally lands in (through views, aliases and earlier writes)."""
    while node.op == "call_function" and node.args and hasattr(node.args[0], "op"):
        t = node.target
        name = t.name if isinstance(t, OpDef) else ser._NAME_OF_FUNCTION.get(id(t))
        if name in _WRITES or name == "_memory_alias" or (isinstance(t, OpDef) and (t.view or t.inplace)):
            node = node.args[0]
        else:
            break
    return node


def _rename(graph, node, name):
    """Give a get_attr node PyTorch's lifted-input name (``p_0_weight``)."""
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    if keyword.iskeyword(base) or base in graph._names:
        base = graph._unique_name(base)
    else:
        graph._names[base] = 0
    node.name = base


class ExportedProgram:
    """A captured program: its graph, signature and state (PyTorch's ``torch.export.ExportedProgram``).

    Call it through ``.module()``; save it with ``ember.export.save``.
    """

    def __init__(self, program, graph_signature, state_dict, constants, dynamic, generic, range_constraints,
                 example_inputs=None, original=None, training_flags=None):
        self._program = program
        self._graph_signature = graph_signature
        self._state_dict = state_dict
        self._constants = constants
        self._dynamic = dynamic
        self._generic = set(generic)
        self._range_constraints = range_constraints
        self._example_inputs = example_inputs
        self._original = original            # the exported module, while it is alive (re-capture)
        self._training_flags = training_flags
        self._specialized = {}               # input shapes -> Program captured for them

    @classmethod
    def _from_capture(cls, mod, program, cap, dynamic, generic, example_inputs):
        graph = program.graph
        params = dict(mod.named_parameters(remove_duplicate=False))
        buffers = dict(mod.named_buffers(remove_duplicate=False))
        non_persistent = set()
        for prefix, m in mod.named_modules():
            for b in getattr(m, "_non_persistent_buffers_set", ()):
                non_persistent.add(f"{prefix}.{b}" if prefix else b)
        # inputs: parameters, buffers, constants, then the user's inputs (PyTorch's order)
        by_kind = {InputKind.PARAMETER: [], InputKind.BUFFER: [], InputKind.CONSTANT_TENSOR: []}
        for node in graph.nodes:
            if node.op != "get_attr":
                continue
            if node.target in params:
                kind, prefix, persistent = InputKind.PARAMETER, "p_", None
            elif node.target in buffers:
                kind, prefix, persistent = InputKind.BUFFER, "b_", node.target not in non_persistent
            else:
                kind, prefix, persistent = InputKind.CONSTANT_TENSOR, "c_", None
            _rename(graph, node, prefix + node.target.replace(".", "_").lstrip("_"))
            by_kind[kind].append(InputSpec(kind, TensorArgument(node.name), node.target, persistent))
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        user = []
        k = 0
        for path, value in zip(program.paths, program.constants):
            if value is _TENSOR:
                user.append(InputSpec(InputKind.USER_INPUT, TensorArgument(placeholders[k].name), None))
                k += 1
            else:
                user.append(InputSpec(InputKind.USER_INPUT, ConstantArgument(path, value), None))
        input_specs = by_kind[InputKind.PARAMETER] + by_kind[InputKind.BUFFER] + \
            by_kind[InputKind.CONSTANT_TENSOR] + user
        output_specs = _mutation_specs(graph, params, buffers) + _user_output_specs(graph)
        program.graph_module.recompile()
        dynamic_dims = {}
        for found, node in zip(dynamic, placeholders):
            if found:
                dynamic_dims[node.name] = {d: info for d, info in found.items()}
        signature = ExportGraphSignature(input_specs, output_specs, dynamic_dims)
        state_dict = {name: p for name, p in params.items()}
        state_dict.update({name: b for name, b in buffers.items() if name not in non_persistent})
        constants = {name: b for name, b in buffers.items() if name in non_persistent}
        constants.update({name: t for name, t in cap.attributes.items() if name not in params and name not in buffers})
        ranges = {}
        for found in dynamic:
            for info in found.values():
                ranges[info.name] = ValueRange(info.min, info.max if info.max is not None else float("inf"))
        flags = {name: m.training for name, m in mod.named_modules()}
        return cls(program, signature, state_dict, constants, dynamic, generic, ranges, example_inputs,
                   original=mod, training_flags=flags)

    # ------------------------------------------------------------ PyTorch's attributes
    @property
    def module_call_graph(self) -> list:
        """The calling convention of the exported module: one ``ModuleCallEntry`` (fqn ``""``)
        whose signature holds the user inputs' and outputs' names and the pytree specs."""
        from ember.export._extra import ModuleCallEntry, ModuleCallSignature
        sig = self._graph_signature
        names = _param_names_of(self._original) if self._original is not None else []
        return [ModuleCallEntry("", ModuleCallSignature(
            inputs=[s.arg for s in sig.input_specs if s.kind is InputKind.USER_INPUT],
            outputs=[s.arg for s in sig.output_specs if s.kind is OutputKind.USER_OUTPUT],
            in_spec=self._program.in_spec, out_spec=self._program.out_spec, forward_arg_names=names))]

    @property
    def graph_module(self) -> GraphModule:
        """The ``GraphModule``: ``forward`` takes the flat tensor inputs and returns the flat outputs."""
        return self._program.graph_module

    @property
    def graph(self):
        """The graph of dispatched ops."""
        return self._program.graph

    @property
    def graph_signature(self) -> ExportGraphSignature:
        """What each input and output of the graph is."""
        return self._graph_signature

    @property
    def state_dict(self) -> dict:
        """Parameters and persistent buffers, by dotted name (the module's own tensors)."""
        return self._state_dict

    @property
    def constants(self) -> dict:
        """Non-persistent buffers and captured tensor constants, by name."""
        return self._constants

    @property
    def tensor_constants(self) -> dict:
        """Alias of ``constants``."""
        return self._constants

    @property
    def range_constraints(self) -> dict:
        """Dynamic dim name -> ``ValueRange(lower, upper)``."""
        return self._range_constraints

    @property
    def example_inputs(self):
        """The ``(args, kwargs)`` the program was exported with (None after ``load``)."""
        return self._example_inputs

    @property
    def call_spec(self) -> CallSpec:
        """The tree specs of the inputs ``(args, kwargs)`` and of the result."""
        return CallSpec(self._program.in_spec, self._program.out_spec)

    @property
    def dialect(self) -> str:
        """The op set of the graph (PyTorch's name for its core op set)."""
        return "ATEN"

    def parameters(self):
        """The parameters, in signature order."""
        for _, p in self.named_parameters():
            yield p

    def named_parameters(self):
        """``(name, parameter)`` pairs."""
        for name in self._graph_signature.parameters:
            yield name, self._state_dict[name]

    def buffers(self):
        """The buffers, in signature order."""
        for _, b in self.named_buffers():
            yield b

    def named_buffers(self):
        """``(name, buffer)`` pairs."""
        for name in self._graph_signature.buffers:
            yield name, self._state_dict.get(name, self._constants.get(name))

    def module(self, check_guards=True):
        """A Module that runs the program with the original calling convention.

        Args:
            check_guards: check input shapes against the exported ones (PyTorch's guards).

        Returns:
            A ``GraphModule`` sharing this program's state tensors (calls in train mode update
            BatchNorm's running statistics in ``state_dict``).
        """
        return _ExportedModule(self, check_guards)

    def run_decompositions(self, decomp_table=None, decompose_custom_triton_ops=False) -> "ExportedProgram":
        """A program whose ops of ``decomp_table`` are replaced by the ops of their decompositions.

        Args:
            decomp_table: ``{op: function}`` (a ``CustomDecompTable`` or dict keyed by op-table
                ops); None: ``default_decompositions()`` (every composite op into primitives).
            decompose_custom_triton_ops: accepted for PyTorch's signature (ember has no Triton ops).

        Returns:
            A new ``ExportedProgram`` over the same state and signature.
        """
        from ember.export.decomp_utils import default_decompositions
        table = default_decompositions() if decomp_table is None else decomp_table
        table = dict(table.materialize() if hasattr(table, "materialize") else table)
        if not any(n.op == "call_function" and _in_table(n.target, table) for n in self.graph.nodes):
            other = ExportedProgram(self._program, self._graph_signature, self._state_dict, self._constants,
                                    self._dynamic, self._generic, self._range_constraints, self._example_inputs,
                                    self._original, self._training_flags)
            other._specialized = self._specialized
            return other
        return self._decomposed(table)

    def _decomposed(self, table):
        from ember.fx.capture import Tracer
        from ember.fx.interpreter import Interpreter
        old = self._program
        gm = old.graph_module
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        if self._example_inputs is not None:
            tensors = old.flat_inputs(*self._example_inputs, check_constants=False)
        else:   # a loaded program: inputs of the recorded shapes (the decompositions do not read values)
            from ember.ops.creation import zeros
            tensors = [zeros(shape, dtype=dtype, device=device) for _, shape, dtype, device in old.inputs]

        class Decompose(Interpreter):
            def call_function(self, target, args, kwargs):
                if _in_table(target, table):
                    return table[target](*args, **kwargs)
                return super().call_function(target, args, kwargs)
        mod = self._original if self._original is not None else gm
        state = module_state(gm)
        try:
            tracer = Tracer(gm, on_host_read="raise", error=GuardOnDataDependentSymNode)
            runner = Decompose(gm)
            cap = tracer.trace(lambda *ts: runner.run(*ts), tensors, {}, [n.name for n in placeholders])
        finally:
            restore_state(state)
        new_gm = GraphModule(cap.attributes, cap.graph, class_name=gm._class_name)
        program = Program(new_gm, old.in_spec, old.out_spec, old.inputs, old.constants, old.paths)
        # a decomposition may bake a dynamic dim's size in (a view to the input's shape): such a
        # dim is no longer generic (other sizes re-capture from the module)
        baked = _int_constants(cap.graph)
        generic = set(self._generic)
        for i, found in enumerate(self._dynamic):
            for d, info in found.items():
                if info.name in generic and old.inputs[i][1][d] in baked:
                    generic.discard(info.name)
        other = ExportedProgram._from_capture(mod, program, cap, self._dynamic, generic, self._example_inputs)
        other._original = self._original
        return other

    def validate(self) -> None:
        """Check the graph's consistency (``Graph.lint``)."""
        self.graph.lint()

    def __call__(self, *args, **kwargs):
        """Not callable, as in PyTorch: run the program through ``.module()``."""
        raise RuntimeError("Unable to call ExportedProgram directly. You should use `exported_program.module()` "
                           "instead.")

    def __str__(self):
        code = self.graph_module.print_readable(print_output=False)
        body = "".join("    " + line + "\n" for line in code.splitlines())
        return f"ExportedProgram:\n{body}\nGraph signature: {self._graph_signature}\n" \
               f"Range constraints: {self._range_constraints}\n"

    def __repr__(self):
        return self.__str__()

    # ------------------------------------------------------------ running
    def _run(self, args, kwargs, check_guards):
        program = self._program
        tensors = program.flat_inputs(args, kwargs, check_constants=check_guards)
        changed = check_call(tensors, program.inputs, self._dynamic, self._generic, check_guards)
        if not changed or changed <= self._generic:
            return program.run(tensors)
        key = tuple(tuple(t.shape) for t in tensors)
        special = self._specialized.get(key)
        if special is not None:
            return special.run(tensors)
        if self._original is None:
            names = ", ".join(sorted(changed - self._generic))
            raise RuntimeError(
                f"the exported graph is specialised to the example size of {names}: its ops depend on that size "
                f"(ember's graphs hold concrete shapes), and this program was loaded from a file, so there is no "
                f"module to re-capture it from for input shapes {list(key)}. Export again from the model with "
                f"these shapes (or without the size-dependent code).")
        return self._recapture(key, args, kwargs)

    def _recapture(self, key, args, kwargs):
        mod = self._original
        flags = {name: m.training for name, m in mod.named_modules()}
        for name, m in mod.named_modules():
            m.training = self._training_flags.get(name, m.training)
        try:
            program, _, result = capture(mod, args, kwargs, root=mod, on_host_read="raise",
                                         error=GuardOnDataDependentSymNode, class_name=type(mod).__name__)
        finally:
            for name, m in mod.named_modules():
                m.training = flags[name]
        self._specialized[key] = program
        return result

    # ------------------------------------------------------------ files
    def _to_json(self, writer) -> dict:
        tensors = {}
        state_names = set(self._state_dict)
        attrs = dict(self._state_dict)
        attrs.update(self._constants)
        first = {}
        for name, t in attrs.items():
            from ember.nn.parameter import Parameter
            if id(t) in first:   # one tensor under two names (tied weights) stays one tensor
                tensors[name] = {"alias": first[id(t)], "persistent": name in state_names}
                continue
            first[id(t)] = name
            kind = "parameter" if isinstance(t, Parameter) else ("buffer" if name in state_names or
                                                                 name in self._graph_signature.buffers else "constant")
            tensors[name] = ser.tensor_to_json(t, writer, kind=kind, persistent=name in state_names)
        sig = self._graph_signature

        def arg_json(a):
            if isinstance(a, TensorArgument):
                return {"tensor": a.name}
            return {"constant": a.name, "value": writer.value(a.value, f"constant {a.name}")}
        dynamic = [{str(d): [i.name, i.min, i.max, i.auto, i.coeff, i.offset] for d, i in found.items()}
                   for found in self._dynamic]
        return {"kind": "ExportedProgram", "tensors": tensors, "program": self._program.to_json(writer),
                "signature": {
                    "inputs": [[s.kind.name, arg_json(s.arg), s.target, s.persistent] for s in sig.input_specs],
                    "outputs": [[s.kind.name, arg_json(s.arg), s.target] for s in sig.output_specs]},
                "dynamic": dynamic, "generic": sorted(self._generic)}

    @classmethod
    def _from_json(cls, description, reader):
        tensors = {name: ser.tensor_from_json(j, reader) for name, j in description["tensors"].items()
                   if "alias" not in j}
        for name, j in description["tensors"].items():
            if "alias" in j:
                if j["alias"] not in tensors:
                    raise ser.SerializeError(f"tensor {name!r} aliases {j['alias']!r}, which the file does not hold")
                tensors[name] = tensors[j["alias"]]
        program = Program.from_json(description["program"], reader, tensors)
        state_dict = {n: t for n, t in tensors.items() if description["tensors"][n].get("persistent")}
        constants = {n: t for n, t in tensors.items() if n not in state_dict}

        def arg_of(j):
            if "tensor" in j:
                return TensorArgument(j["tensor"])
            return ConstantArgument(j["constant"], reader.value(j["value"]))
        sig = description["signature"]
        inputs = [InputSpec(InputKind[k], arg_of(a), t, p) for k, a, t, p in sig["inputs"]]
        outputs = [OutputSpec(OutputKind[k], arg_of(a), t) for k, a, t in sig["outputs"]]
        dynamic = [{int(d): DimInfo(*v) for d, v in found.items()} for found in description["dynamic"]]
        placeholders = [n.name for n in program.graph.nodes if n.op == "placeholder"]
        signature = ExportGraphSignature(inputs, outputs, {p: f for p, f in zip(placeholders, dynamic) if f})
        ranges = {}
        for found in dynamic:
            for info in found.values():
                ranges[info.name] = ValueRange(info.min, info.max if info.max is not None else float("inf"))
        return cls(program, signature, state_dict, constants, dynamic, description["generic"], ranges)


def _mutation_specs(graph, params, buffers) -> list:
    last = {}
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        name = ser._NAME_OF_FUNCTION.get(id(node.target))
        if name not in _WRITES and not (isinstance(node.target, OpDef) and node.target.inplace):
            continue
        root = _root_of(node)
        if root.op == "get_attr":
            kind = OutputKind.PARAMETER_MUTATION if root.target in params else \
                (OutputKind.BUFFER_MUTATION if root.target in buffers else None)
            if kind is not None:
                last[root.target] = (kind, node)
        elif root.op == "placeholder":
            last[root.target] = (OutputKind.USER_INPUT_MUTATION, node)
    return [OutputSpec(kind, TensorArgument(node.name), target) for target, (kind, node) in last.items()]


def _user_output_specs(graph) -> list:
    output = next(n for n in graph.nodes if n.op == "output")
    specs = []
    for i, a in enumerate(output.args[0]):
        arg = TensorArgument(a.name) if hasattr(a, "op") else ConstantArgument(f"output{i}", a)
        specs.append(OutputSpec(OutputKind.USER_OUTPUT, arg, None))
    return specs


class _ExportedModule(GraphModule):
    """``ExportedProgram.module()``: runs the program with the original calling convention."""

    def __init__(self, ep, check_guards):
        attrs = dict(ep.state_dict)
        attrs.update(ep.constants)
        super().__init__(attrs, ep.graph, class_name="GraphModule")
        for name, t in ep.state_dict.items():   # state the graph does not read is still state
            if not _has(self, name):
                _install(self, name, t)
        object.__setattr__(self, "_ep", ep)
        object.__setattr__(self, "_check_guards", check_guards)

    def forward(self, *args, **kwargs):
        """Run the exported program on inputs structured as the example inputs were."""
        return self._ep._run(args, kwargs, self._check_guards)

    def train(self, mode=True):
        """Not available: the graph was captured in one mode (PyTorch raises the same)."""
        raise NotImplementedError("Calling train() is not supported yet.")

    def eval(self):
        """Not available: the graph was captured in one mode (PyTorch raises the same)."""
        raise NotImplementedError("Calling eval() is not supported yet.")


def _has(module, dotted) -> bool:
    obj = module
    for part in dotted.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


# ---------------------------------------------------------------- save / load
def save(ep, f, *, extra_files=None, opset_version=None, pickle_protocol=2) -> None:
    """Write ``ep`` to ``f`` (a path or a binary file) as a safe zip: JSON graph and ``.npy`` tensors.

    Args:
        ep: the ``ExportedProgram``.
        f: a path (written atomically) or a writable binary file.
        extra_files: ``{name: str or bytes}`` stored beside the program.
        opset_version: accepted for PyTorch's signature; ember's op table has one version.
        pickle_protocol: accepted for PyTorch's signature; nothing is pickled.

    Raises:
        SerializeError: naming a graph target or constant a program file cannot hold.
    """
    if not isinstance(ep, ExportedProgram):
        raise TypeError(f"The 'ep' parameter must be an instance of 'ExportedProgram', got '{type(ep).__name__}' "
                        f"instead.")
    writer = ser._Writer()
    description = ep._to_json(writer)
    if opset_version:
        description["opset_version"] = dict(opset_version)
    ser.write_archive(f, description, writer, extra_files)


def load(f, *, extra_files=None, expected_opset_version=None) -> ExportedProgram:
    """Read an ``ExportedProgram`` written by ``ember.export.save`` (no pickle: JSON and ``.npy`` only).

    Args:
        f: a path or a readable binary file.
        extra_files: ``{name: ...}``; filled in place with the stored extra files' text.
        expected_opset_version: checked against the saved ``opset_version`` when both are given.

    Returns:
        The program; it runs without the model's Python class.

    Raises:
        SerializeError: for a file that is not an ember program or names anything but ember ops.
    """
    archive, description = ser.read_archive(f, ("ExportedProgram",), extra_files)
    saved = description.get("opset_version")
    if expected_opset_version and saved and dict(expected_opset_version) != saved:
        raise ser.SerializeError(f"opset version {saved} of the file differs from the expected "
                                 f"{dict(expected_opset_version)}")
    try:
        return ExportedProgram._from_json(description, ser._Reader(archive))
    except ser.SerializeError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ser.SerializeError(f"malformed ember program file: {type(e).__name__}: {e}") from None


def _param_names_of(mod) -> list:
    import inspect as _inspect
    try:
        return list(_inspect.signature(mod.forward).parameters)
    except (TypeError, ValueError):
        return []


def _in_table(target, table) -> bool:
    try:
        return target in table   # op-table ops, and recorded functions (ember.onnx.ops.aten_decompositions())
    except TypeError:
        return False


def _int_constants(graph) -> set:
    """The ints among the graph's constant arguments, except dimension indices (``dim=``)."""
    found = set()

    def walk(a):
        if isinstance(a, bool):
            return
        if isinstance(a, int):
            found.add(a)
        elif isinstance(a, (tuple, list)):
            for x in a:
                walk(x)
    for n in graph.nodes:
        if n.op == "call_function":
            for a in n.args:
                walk(a)
            for k, v in n.kwargs.items():
                if "dim" not in k and "axis" not in k:
                    walk(v)
    return found
