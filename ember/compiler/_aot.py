"""Ahead-of-time compiled functions: ``ember.compile(fn, fullgraph=True).aot_compile(example_inputs)``,
``AOTCompiledFunction.save_compiled_function(path)`` and ``ember.compiler.load_compiled_function(file)``.

The artifact is the captured program, not Python code: an ``ember.program`` zip (the format of
``ember.export.save``: JSON graph + ``.npy`` tensors, nothing unpickled) whose description also
holds the guards the program was captured under (input structure, each tensor's shape, dtype,
device and requires_grad, the non-tensor arguments, grad mode) and the modules it reads.
Modules are never stored in the file: one the function reads as a global is looked up by name in
``f_globals`` when loaded (by default the globals of the module that defined the function); one it
reads from a closure must be named in ``external_data`` when saving and given again when loading.
Their parameters are read live at every call. A call whose inputs fail a guard raises
``RuntimeError`` naming the guard (``disable_guard_check()`` turns the check off), as PyTorch's.
"""
from __future__ import annotations

import dataclasses
import importlib
import io
import os

from ember.core.autograd import GRAD_MODE
from ember.core.tensor import Tensor
from ember.utils._pytree import tree_flatten, tree_unflatten

_KIND = "AOTCompiledFunction"


@dataclasses.dataclass
class AOTCompileSaveResult:
    """What ``save_compiled_function`` wrote: ``serialized_data``, the file's bytes."""
    serialized_data: bytes


class _Modules:
    """The root the program's ``get_attr`` nodes read from: the referenced modules, by reference name."""

    def __init__(self, modules):
        from ember.nn.modules.module import Module
        self.root = Module()
        for name, m in modules.items():
            self.root.add_module(name, m)


def _guards_of(args, kwargs, names):
    leaves, spec = tree_flatten((tuple(args), dict(kwargs)))
    tensors, constants, n = [], [], 0
    for i, x in enumerate(leaves):
        if isinstance(x, Tensor):
            name = names[n] if names and n < len(names) else f"arg{n}"
            tensors.append([name, list(x.shape), x.dtype.name, str(x.device), bool(x.requires_grad)])
            n += 1
        else:
            constants.append([i, x])
    return spec, tensors, constants


class AOTCompiledFunction:
    """A function compiled ahead of time (``ember.compile(fn, fullgraph=True).aot_compile(...)`` or
    ``ember.compiler.load_compiled_function``): calling it checks the guards and runs the program.
    """

    def __init__(self, graph, constants, modules, refs, guards, out_spec, grad_enabled, module_name, qualname):
        from ember._dynamo.eval_frame import _Attributes
        from ember.fx.graph_module import compile_code, python_code
        graph.grad_enabled = grad_enabled
        self._graph, self._constants, self._refs = graph, constants, refs
        self._guards, self._out_spec, self._grad_enabled = guards, out_spec, grad_enabled
        self._module_name, self.__qualname__ = module_name, qualname
        self.__name__ = qualname.rpartition(".")[2]
        self._root = _Modules(modules).root
        self._attributes = _Attributes(self._root, constants)
        self._run = compile_code(python_code(graph), label=f"aot_compiled.{self.__name__}")
        self._guard_check_enabled = True

    # ------------------------------------------------------------ calling
    def _failed_guard(self, args, kwargs):
        """The first guard the call fails (its description), or None."""
        spec, tensor_guards, constant_guards = self._guards
        leaves, call_spec = tree_flatten((tuple(args), dict(kwargs)))
        if call_spec != spec:
            return f"the structure of the arguments differs from the compiled one ({spec})"
        tensors = [x for x in leaves if isinstance(x, Tensor)]
        if len(tensors) != len(tensor_guards):
            return f"expected {len(tensor_guards)} tensor arguments, got {len(tensors)}"
        for t, (name, shape, dtype, device, rg) in zip(tensors, tensor_guards):
            where = f"tensor 'L['{name}']'"
            if t.ndim != len(shape):
                return f"{where} rank mismatch. expected {len(shape)}, actual {t.ndim}"
            for d, (want, got) in enumerate(zip(shape, t.shape)):
                if want != got:
                    return f"{where} size mismatch at index {d}. expected {want}, actual {got}"
            if t.dtype.name != dtype:
                return f"{where} dtype mismatch. expected {dtype}, actual {t.dtype.name}"
            if str(t.device) != device:
                return f"{where} device mismatch. expected {device}, actual {t.device}"
            if bool(t.requires_grad) != rg:
                return f"{where} requires_grad mismatch. expected {rg}, actual {bool(t.requires_grad)}"
        for i, want in constant_guards:
            if leaves[i] != want or type(leaves[i]) is not type(want):
                return f"argument {i} == {want!r} (got {leaves[i]!r})"
        if GRAD_MODE.enabled != self._grad_enabled:
            return f"grad mode mismatch. expected {self._grad_enabled}, actual {GRAD_MODE.enabled}"
        return None

    def guard_check(self, *args, **kwargs) -> bool:
        """Whether a call with these arguments passes every guard.

        Returns:
            A bool.
        """
        return self._failed_guard(args, kwargs) is None

    def disable_guard_check(self) -> None:
        """Stop checking guards at calls (unsafe: inputs unlike the example ones give wrong results)."""
        self._guard_check_enabled = False

    def __call__(self, *args, **kwargs):
        if self._guard_check_enabled:
            reason = self._failed_guard(args, kwargs)
            if reason is not None:
                raise RuntimeError(f"GuardManager check failed, reason: {reason}")
        tensors = [x for x in tree_flatten((tuple(args), dict(kwargs)))[0] if isinstance(x, Tensor)]
        flat = self._run(self._attributes, *tensors)
        return tree_unflatten(list(flat), self._out_spec)

    # ------------------------------------------------------------ saving and loading
    def save_compiled_function(self, path, external_data=None) -> AOTCompileSaveResult:
        """Write the compiled program to ``path`` (atomically: a temporary file, then a rename).

        Args:
            path: the file to write.
            external_data: ``{key: object}`` naming the modules the function reads from a closure
                (give the same dict to ``load_compiled_function``).

        Returns:
            An ``AOTCompileSaveResult`` holding the bytes written.

        Raises:
            RuntimeError: if the function reads a module from a closure that ``external_data``
                does not name.
        """
        from ember.serialization.checkpoint import _write_atomically
        result = type(self).serialize(self, external_data)
        _write_atomically(os.fspath(path), lambda out: out.write(result.serialized_data))
        return result

    @classmethod
    def serialize(cls, fn: "AOTCompiledFunction", external_data=None) -> AOTCompileSaveResult:
        """The file bytes of ``fn`` (see ``save_compiled_function``)."""
        from ember.export import _serialize as ser
        by_id = {id(v): k for k, v in (external_data or {}).items()}
        refs = []
        for name, (kind, key) in fn._refs.items():
            module = getattr(fn._root, name)
            if kind == "external" and by_id.get(id(module)) is None:
                raise RuntimeError(f"Failed to serialize the following objects: [{module}]\nPlease mark these as "
                                   f"external data by using `external_data={{'key': ...}}`")
            refs.append([name, kind, by_id.get(id(module), key) if kind == "external" else key])
        writer = ser._Writer()
        spec, tensors, constants = fn._guards
        description = {
            "kind": _KIND, "module": fn._module_name, "qualname": fn.__qualname__,
            "graph": ser.graph_to_json(fn._graph, writer),
            "constants": {k: ser.tensor_to_json(t, writer) for k, t in fn._constants.items()},
            "modules": refs, "grad_enabled": fn._grad_enabled,
            "out_spec": ser.spec_to_json(fn._out_spec, writer),
            "guards": {"in_spec": ser.spec_to_json(spec, writer), "tensors": tensors,
                       "constants": [[i, writer.value(v, f"argument {i}")] for i, v in constants]}}
        buf = io.BytesIO()
        ser.write_archive(buf, description, writer)
        return AOTCompileSaveResult(buf.getvalue())

    @classmethod
    def deserialize(cls, data: bytes, f_globals=None, external_data=None) -> "AOTCompiledFunction":
        """The compiled function a file's bytes hold (see ``ember.compiler.load_compiled_function``)."""
        from ember.export import _serialize as ser
        archive, description = ser.read_archive(io.BytesIO(bytes(data)), (_KIND,))
        reader = ser._Reader(archive)
        constants = {k: ser.tensor_from_json(j, reader) for k, j in description["constants"].items()}
        modules, refs = {}, {}
        scope = f_globals
        for name, kind, key in description["modules"]:
            if kind == "external":
                if key not in (external_data or {}):
                    raise RuntimeError(f"Missing required external reference to data: {key}. Please load AOT "
                                       f"compiled function with `external_data=<external data dictionary>`")
                modules[name] = external_data[key]
            else:
                if scope is None:
                    scope = importlib.import_module(description["module"]).__dict__
                if key not in scope:
                    raise NameError(f"name {key!r} is not defined in the globals the compiled function is "
                                    f"loaded with (f_globals)")
                modules[name] = scope[key]
            refs[name] = (kind, key)
        attributes = dict(constants)
        for name, m in modules.items():
            for pname, t in list(m.named_parameters()) + list(m.named_buffers()):
                attributes[f"{name}.{pname}"] = t
        graph = ser.graph_from_json(description["graph"], reader, attributes)
        guards = description["guards"]
        guard_spec = ser.spec_from_json(guards["in_spec"], reader)
        guard_constants = [(i, reader.value(v)) for i, v in guards["constants"]]
        return cls(graph, constants, modules, refs, (guard_spec, guards["tensors"], guard_constants),
                   ser.spec_from_json(description["out_spec"], reader), bool(description["grad_enabled"]),
                   description["module"], description["qualname"])


def aot_compile(compiled, example_inputs) -> AOTCompiledFunction:
    """Capture ``compiled``'s function on ``example_inputs`` (``((args...), {kwargs})``) now."""
    from ember._dynamo.exc import Unsupported
    from ember.fx.capture import Tracer, input_names_of
    if not compiled.fullgraph:
        raise RuntimeError("Graph breaks are not supported with aot compile. Please use "
                           "ember.compile(fullgraph=True).")
    if not (isinstance(example_inputs, tuple) and len(example_inputs) == 2 and isinstance(example_inputs[0], tuple)
            and isinstance(example_inputs[1], dict)):
        raise TypeError("aot_compile() expects example_inputs as a tuple ((args...), {kwargs})")
    args, kwargs = example_inputs
    fn = compiled._fn
    found = _referenced_modules(fn)
    modules = {name: m for name, (m, _, _) in found.items()}
    refs = {name: (kind, key) for name, (_, kind, key) in found.items()}
    root = _Modules(modules).root
    tracer = Tracer(root, on_host_read="raise", error=Unsupported)
    names = input_names_of(fn, args, kwargs)
    capture = tracer.trace(fn, args, kwargs, names)
    graph = capture.graph
    graph.eliminate_dead_code()
    constants = {k: v for k, v in capture.attributes.items() if k.startswith("_tensor_constant")}
    guards = _guards_of(args, kwargs, names)
    return AOTCompiledFunction(graph, constants, modules, refs, guards, capture.out_spec, GRAD_MODE.enabled,
                               getattr(fn, "__module__", "__main__") or "__main__",
                               getattr(fn, "__qualname__", type(fn).__name__))


def _referenced_modules(fn):
    """``{reference name: (module, kind, key)}`` for the ``nn.Module`` objects ``fn`` reads: its
    globals (kind ``global``, key the global's name) and closure cells (kind ``external``: the key
    is the ``external_data`` entry ``save_compiled_function`` must be given for it)."""
    from ember.nn.modules.module import Module
    found = {}
    code = getattr(fn, "__code__", None)
    if code is None:
        return found
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if isinstance(value, Module):
            found[f"closure_{name}"] = (value, "external", None)
    g = getattr(fn, "__globals__", {})
    for name in code.co_names:
        if isinstance(g.get(name), Module):
            found[f"global_{name}"] = (g[name], "global", name)
    return found


def load_compiled_function(file, *, f_globals=None, external_data=None):
    """Load a function saved by ``AOTCompiledFunction.save_compiled_function``.

    Args:
        file: a binary file object open for reading, holding the saved function.
        f_globals: the globals to look up the modules the function read as globals (default:
            those of the module that defined it, imported by name).
        external_data: ``{key: object}``, the modules named in ``external_data`` when saving.

    Returns:
        An ``AOTCompiledFunction``: calling it checks the guards and runs the compiled program.

    Raises:
        RuntimeError: if a module named in ``external_data`` at save time is missing.
        ember.export.SerializeError: if the file is not a saved compiled function.
    """
    return AOTCompiledFunction.deserialize(file.read(), f_globals, external_data)
