"""``ember.onnx.export``: capture the model, translate its graph, write an ONNX model file."""
from __future__ import annotations

import contextlib
import enum
import os
import tempfile
import warnings

import numpy as np

from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.onnx.errors import OnnxExporterError
from ember.utils._pytree import tree_flatten

# the onnx package (the ember[onnx] extra) is imported by the functions that write models, so that
# ``import ember.onnx`` (is_in_onnx_export, TrainingMode) works without it

#: PyTorch 2.13's default opset, and the range this exporter writes
DEFAULT_OPSET, MIN_OPSET, MAX_OPSET = 20, 11, 23

_EXPORTING = [False]


class TrainingMode(enum.IntEnum):
    """The mode the model is exported in: ``EVAL`` (the default), ``PRESERVE`` (as it is) or ``TRAINING``."""
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    """How ops are exported; ember writes standard ONNX ops only (``ONNX``)."""
    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


def is_in_onnx_export() -> bool:
    """Whether an ``ember.onnx.export`` call is running (its capture of the model).

    Returns:
        True inside ``export``, False otherwise.
    """
    return _EXPORTING[0]


@contextlib.contextmanager
def select_model_mode_for_export(model, mode):
    """A context that puts ``model`` in the train/eval mode ``mode`` asks for and restores it afterwards.

    Args:
        model: an ``ember.nn.Module``.
        mode: a ``TrainingMode``.

    Yields:
        None.
    """
    if not isinstance(mode, TrainingMode):
        raise TypeError(f"'mode' should be a ember.onnx.TrainingMode enum, but got '{type(mode)}'.")
    was_training = getattr(model, "training", None)
    if mode != TrainingMode.PRESERVE and was_training is not None:
        model.train(mode == TrainingMode.TRAINING)
    try:
        yield
    finally:
        if mode != TrainingMode.PRESERVE and was_training is not None:
            model.train(was_training)


class ONNXProgram:
    """The result of ``export(..., dynamo=True)``: the ONNX model, savable and runnable (onnxruntime).

    Args:
        model: the ``onnx.ModelProto``.
    """

    def __init__(self, model):
        self.model_proto = model
        self._session = None

    @property
    def model(self):
        """The ``onnx.ModelProto``."""
        return self.model_proto

    def save(self, destination, *, include_initializers=True, keep_initializers_as_inputs=False,
             external_data=None):
        """Write the model to ``destination`` (a path or a binary file object).

        Args:
            destination: file path or writable binary file.
            include_initializers: keep the weights in the file (else they are graph inputs to be fed).
            keep_initializers_as_inputs: also list the weights as graph inputs.
            external_data: store the weights in a side file next to ``destination`` (None: only when over 2 GB).
        """
        import onnx
        model = onnx.ModelProto()
        model.CopyFrom(self.model_proto)
        if keep_initializers_as_inputs or not include_initializers:   # weights left out become inputs to feed
            _initializers_as_inputs(model)
        if not include_initializers:
            del model.graph.initializer[:]
        _write(model, destination, external_data)

    def __call__(self, *args, **kwargs):
        """Run the model in onnxruntime on ember tensors (or arrays).

        Returns:
            A list of ember tensors, one per graph output.
        """
        import ember
        import onnxruntime
        if self._session is None:
            self._session = onnxruntime.InferenceSession(self.model_proto.SerializeToString(),
                                                         providers=["CPUExecutionProvider"])
        leaves, _ = tree_flatten((tuple(args), dict(kwargs)))
        arrays = [x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x) for x in leaves
                  if isinstance(x, (Tensor, np.ndarray))]
        names = [i.name for i in self._session.get_inputs()]
        outs = self._session.run(None, dict(zip(names, arrays)))
        return [ember.from_numpy(np.ascontiguousarray(o)) for o in outs]

    def __repr__(self):
        from onnx import printer
        return f"ONNXProgram(\n{printer.to_text(self.model_proto.graph)}\n)"


def _initializers_as_inputs(model):
    from onnx import helper
    existing = {i.name for i in model.graph.input}
    for init in model.graph.initializer:
        if init.name not in existing:
            model.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))


def _write(model, f, external_data=None):
    """Serialize ``model`` to a path (atomically: a temporary file replaced into place) or a file object."""
    import onnx
    big = model.ByteSize() > 2 ** 31 - 1 if external_data is None else bool(external_data)
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".onnx-", suffix=".tmp", dir=folder)
        os.close(fd)
        try:
            if big:
                onnx.save_model(model, tmp, save_as_external_data=True, all_tensors_to_one_file=True,
                                location=os.path.basename(path) + ".data")
            else:
                with open(tmp, "wb") as out:
                    out.write(model.SerializeToString())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
    elif hasattr(f, "write"):
        if big and external_data:
            raise OnnxExporterError("external_data=True needs a file path to put the weights beside")
        f.write(model.SerializeToString())
    else:
        raise TypeError(f"f must be a file path or a writable binary file object, got {type(f).__name__}")


def _dynamic_axes_by_name(dynamic_axes, names):
    """{value name: {axis: dim_param}} from PyTorch's ``dynamic_axes`` forms (a dict or a list of axes)."""
    out = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in names:
            warnings.warn(f"dynamic_axes names '{name}', which is not an input or output name of the exported "
                          f"graph ({', '.join(names)}); it is ignored", UserWarning, stacklevel=3)
            continue
        if isinstance(axes, dict):
            out[name] = {int(a): str(n) for a, n in axes.items()}
        else:
            out[name] = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
    return out


def _shapes_to_axes(dynamic_shapes, input_names):
    """``dynamic_shapes`` (dynamo's form: per input, {axis: name or Dim}) as ``dynamic_axes``."""
    def dim_name(d, default):
        if d is None:
            return None
        if isinstance(d, str):
            return d
        return getattr(d, "__name__", None) or getattr(d, "name", None) or default
    items = dynamic_shapes.items() if isinstance(dynamic_shapes, dict) else zip(input_names, dynamic_shapes)
    out = {}
    for name, spec in items:
        if spec is None:
            continue
        pairs = spec.items() if isinstance(spec, dict) else enumerate(spec)
        axes = {int(a): dim_name(d, f"{name}_dim_{a}") for a, d in pairs}
        axes = {a: n for a, n in axes.items() if n is not None}
        if axes:
            out[name] = axes
    return out


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None, output_names=None,
           opset_version=None, dynamo=True, external_data=True, dynamic_shapes=None, optimize=True,
           verify=False, export_params=True, keep_initializers_as_inputs=False, dynamic_axes=None,
           training=TrainingMode.EVAL, operator_export_type=OperatorExportTypes.ONNX, do_constant_folding=True):
    """Export a model (or function of tensors) to an ONNX model, written to ``f``.

    The model runs once on ``args`` under ember's graph capture (in eval mode unless ``training`` says
    otherwise); every captured op is written as standard ONNX ops, parameters and buffers as
    initializers. Python that reads tensor values (data-dependent control flow) cannot be exported.

    Args:
        model: an ``ember.nn.Module`` or a function of tensors.
        args: the example positional arguments (a tensor or a tuple; a trailing dict holds keyword arguments).
        f: a file path or a writable binary file; None writes nothing (the returned program holds the model).
        kwargs: example keyword arguments.
        verbose: print the exported graph.
        input_names: names of the graph inputs, in order of the tensors in ``args``/``kwargs``.
        output_names: names of the graph outputs, in order of the flattened result.
        opset_version: the ai.onnx opset (11 to 23; default 20).
        dynamo: return an ``ONNXProgram`` (True, PyTorch's default) or None (the classic exporter's result).
        external_data: store weights beside the model file when the model exceeds protobuf's 2 GB limit.
        dynamic_shapes: dynamo's form of ``dynamic_axes``: per input, {axis: name}.
        optimize: drop pass-through ``Identity`` nodes.
        verify: run the written model in onnxruntime on ``args`` and check it against the eager result.
        export_params: write parameters and buffers as initializers (False: they become graph inputs).
        keep_initializers_as_inputs: also list the initializers as graph inputs.
        dynamic_axes: {input or output name: {axis: dim name} or [axes]}: dimensions of symbolic size.
        training: a ``TrainingMode``.
        operator_export_type: ``OperatorExportTypes.ONNX`` (standard ONNX ops only).
        do_constant_folding: precompute nodes whose inputs are all constants (transposed weights ...).

    Returns:
        An ``ONNXProgram`` when ``dynamo`` is true, else None.

    Raises:
        UnsupportedOperatorError: for a captured op without an ONNX translation (the message names it).
        OnnxExporterError: for data-dependent Python control flow and other impossible exports.
        ValueError: for an opset outside the supported range.
    """
    from ember.nn.modules.module import Module
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset_version {opset} is not supported: ember.onnx.export writes opsets "
                         f"{MIN_OPSET} to {MAX_OPSET}")
    if operator_export_type != OperatorExportTypes.ONNX:
        raise ValueError(f"operator_export_type={OperatorExportTypes(operator_export_type).name}: ember writes "
                         f"standard ONNX operators only (OperatorExportTypes.ONNX); it has no ATen ops to fall "
                         f"back to")
    if isinstance(args, Tensor):
        args = (args,)
    from ember.onnx._observer import exportable_defaults   # an ExportableModule fills what is not given
    args, kwargs, input_names, output_names, dynamic_shapes = exportable_defaults(
        model, tuple(args), kwargs, input_names, output_names, dynamic_shapes)
    args = tuple(args)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict):   # the classic exporter's trailing dict of keyword arguments
        kwargs = {**args[-1], **kwargs}
        args = args[:-1]
    from ember.onnx._modules import modules_as_nodes
    mode = training if isinstance(training, TrainingMode) else TrainingMode(int(training))
    ctx = select_model_mode_for_export(model, mode) if isinstance(model, Module) else contextlib.nullcontext()
    with ctx, no_grad(), modules_as_nodes(model):
        _EXPORTING[0] = True
        try:
            def build(params, as_inputs):
                return _build(model, args, kwargs, opset, input_names, output_names, dynamic_axes, dynamic_shapes,
                              params, as_inputs, do_constant_folding, optimize)
            model_proto = build(export_params, keep_initializers_as_inputs)
            # the returned program always holds the weights (export_params shapes the file only)
            full = model_proto if export_params else (build(True, False) if dynamo or verify else None)
            if verify:
                _verify(model, args, kwargs, full)
        finally:
            _EXPORTING[0] = False
    if verbose:
        from onnx import printer
        print(printer.to_text(model_proto.graph))
    if f is not None:
        _write(model_proto, f, None if external_data else False)
    return ONNXProgram(full) if dynamo else None


def _verify(model, args, kwargs, model_proto):
    expected, _ = tree_flatten(model(*args, **kwargs))
    got = ONNXProgram(model_proto)(*args, **kwargs)
    for i, (e, g) in enumerate(zip([x for x in expected if isinstance(x, Tensor)], got)):
        e = e.detach().cpu().numpy()
        g = g.numpy()
        tol = 1e-3 if e.dtype in (np.float16,) else 1e-4
        if e.shape != g.shape or not np.allclose(e, g, rtol=tol, atol=tol, equal_nan=True):
            raise OnnxExporterError(f"verify: output {i} of the exported model differs from the eager result "
                                    f"(largest difference {np.max(np.abs(e - g)) if e.shape == g.shape else 'shape'})")


def _build(model, args, kwargs, opset, input_names, output_names, dynamic_axes, dynamic_shapes, export_params,
           keep_initializers_as_inputs, do_constant_folding, optimize):
    import onnx
    from onnx import helper

    from ember.fx.graph import Node
    from ember.onnx import _dynamic
    from ember.onnx._capture import capture
    from ember.onnx._emitter import Emitter, onnx_type
    from ember.onnx._translate import Aliasing, DynamicValueError, run_node
    from ember.onnx import _ops_translate  # noqa: F401  (the translations of ember.onnx.ops' nodes)
    cap = capture(model, args, kwargs, OnnxExporterError)
    graph = cap.graph
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    in_names = [(input_names[i] if input_names and i < len(input_names) else n.target)
                for i, n in enumerate(placeholders)]
    # None results (attention weights not asked for) are not outputs of the ONNX graph
    out_leaves = [x for x in next(n for n in graph.nodes if n.op == "output").args[0] if x is not None]
    out_names = [(output_names[i] if output_names and i < len(output_names) else
                  ("output" if len(out_leaves) == 1 else f"output_{i}")) for i in range(len(out_leaves))]
    if len(set(in_names + out_names)) != len(in_names) + len(out_names):
        raise OnnxExporterError(f"input and output names must be distinct: {in_names} {out_names}")
    if dynamic_shapes is not None:
        dynamic_axes = {**_shapes_to_axes(dynamic_shapes, in_names), **(dynamic_axes or {})}
    axes = _dynamic_axes_by_name(dynamic_axes, in_names + out_names)
    inputs_tensors = [t for t in tree_flatten((tuple(args), dict(kwargs)))[0] if isinstance(t, Tensor)]
    dynamic_inputs = {i: axes[name] for i, name in enumerate(in_names) if name in axes}
    for i, spec in dynamic_inputs.items():
        for a in list(spec):
            ndim = len(inputs_tensors[i].shape)
            if not -ndim <= a < ndim:
                raise OnnxExporterError(f"dynamic_axes: input '{in_names[i]}' has {ndim} dimensions, no axis {a}")
            if a < 0:
                spec[a + ndim] = spec.pop(a)
    symbols = _dynamic.symbols_of(dynamic_inputs, inputs_tensors)
    node_syms, shape_syms, problems, variants = {}, {}, {}, {}
    if symbols:
        variations = {}
        # the extra traces leave no trace of their own: buffers (running statistics) and the random stream
        # are put back after each, so the export runs the model once, as PyTorch's does
        import ember
        buffers = [(b, b.detach().clone()) for b in model.buffers()] if hasattr(model, "buffers") else []
        rng = ember.get_rng_state()
        for name, sym in symbols.items():
            pair = []
            for grow in (1, 2):
                a2, k2 = _dynamic.varied_inputs(args, kwargs, dynamic_inputs, sym, sym.size + grow)
                try:
                    pair.append(capture(model, a2, k2, OnnxExporterError))
                finally:
                    for b, saved in buffers:
                        b.copy_(saved)
                    ember.set_rng_state(rng)
            variations[name] = tuple(pair)
        node_syms, shape_syms, problems, variants = _dynamic.analyse(cap, variations, symbols)

    em = Emitter(opset, symbols, in_names)
    em.variants = variants
    env = {}
    graph_inputs, graph_outputs, param_inputs = [], [], []
    for name in in_names + out_names:
        em.reserve(name)
    for i, n in enumerate(placeholders):
        shape = shape_syms.get(n.name) or n.meta["val"][0]
        dims = [dynamic_inputs.get(i, {}).get(a, int(s)) for a, s in enumerate(shape)]
        graph_inputs.append(helper.make_tensor_value_info(in_names[i], onnx_type(n.meta["val"][1]), dims))
        env[n.name] = in_names[i]
    parameter_names = set()
    for n in graph.nodes:
        if n.op != "get_attr":
            continue
        t = cap.attributes[n.target]
        array = t.detach().cpu().numpy()
        # the state_dict name, unless an input already has it
        name = em.reserve(n.target) if n.target not in em._used else em.fresh(n.target)
        is_state = not n.target.startswith("_tensor_constant")
        if is_state and not export_params:
            param_inputs.append(helper.make_tensor_value_info(name, onnx_type(t.dtype), list(array.shape)))
        else:
            em.initializers[name] = np.array(array, copy=True)
            if is_state:
                parameter_names.add(name)
        env[n.name] = name
    aliasing = Aliasing(em, env, shape_syms, node_syms)
    poisoned = {}   # ONNX value -> why it is wrong at other sizes of a dynamic axis
    for n in graph.nodes:
        if n.op != "call_function":
            continue
        try:
            value = run_node(em, n, env, shape_syms, node_syms)
        except DynamicValueError as e:
            problems[n.name] = str(e)
            value = run_node(em, n, env, shape_syms, node_syms, check=False)
        if n.name in problems:
            for v in value if isinstance(value, list) else [value]:
                poisoned[v] = problems[n.name]
        env[n.name] = value
        if aliasing.is_write(n):
            aliasing.write(n, value)
        aliasing.record(n)
    sym_names = {}   # an output dimension that follows a dynamic one gets the symbol's name
    for name, sym in symbols.items():
        sym_names[("lin", name, 1, 0)] = name
    for i, leaf in enumerate(out_leaves):
        if isinstance(leaf, Node):
            value = env[leaf.name]
            if isinstance(value, list):
                raise OnnxExporterError(f"output {i} is a multi-output node")
            d, shape = leaf.meta["val"][1], shape_syms.get(leaf.name) or leaf.meta["val"][0]
        else:
            array = np.asarray(leaf)
            value, d, shape = em.const(array, "output_constant"), None, array.shape
        em.nodes.append(helper.make_node("Identity", [value], [out_names[i]], name=em.fresh(f"n_{out_names[i]}")))
        named = axes.get(out_names[i], {})
        dims = []
        for a, s in enumerate(shape):
            if a in named or a - len(shape) in named:
                dims.append(named.get(a, named.get(a - len(shape))))
            elif isinstance(s, _dynamic.SymInt):
                dims.append(sym_names.get(s.form, f"{out_names[i]}_dim_{a}"))
            else:
                dims.append(int(s))
        elem = onnx_type(d) if d is not None else helper.np_dtype_to_tensor_dtype(np.asarray(leaf).dtype)
        graph_outputs.append(helper.make_tensor_value_info(out_names[i], elem, dims))

    nodes, initializers = em.nodes, em.initializers
    if poisoned:   # only an error where an output depends on it (not, say, a running-statistics update)
        for node in _prune(nodes, {}, out_names)[0]:
            for name in node.output:
                if name in poisoned:
                    raise OnnxExporterError(poisoned[name])
    if do_constant_folding:
        # weights listed as inputs stay overridable: nothing derived from them is precomputed
        frozen = parameter_names if keep_initializers_as_inputs else set()
        nodes = _fold_constants(nodes, initializers, em, set(out_names), frozen)
    if optimize:
        nodes = _drop_identities(nodes, set(in_names) | set(out_names))
    nodes, initializers = _prune(nodes, initializers, out_names)
    em.initializers = initializers
    graph_proto = helper.make_graph(nodes, "main_graph", graph_inputs + param_inputs,
                                    graph_outputs, initializer=em.tensors())
    opsets = [helper.make_opsetid("", opset)]
    opsets += [helper.make_opsetid(d, v) for d, v in sorted(getattr(em, "custom_domains", {}).items())]
    import ember
    model_proto = helper.make_model(graph_proto, opset_imports=opsets, producer_name="ember",
                                    producer_version=ember.__version__,
                                    ir_version=helper.find_min_ir_version_for(opsets, True))
    if keep_initializers_as_inputs:
        _initializers_as_inputs(model_proto)
    try:
        onnx.checker.check_model(model_proto)
    except onnx.checker.ValidationError as e:
        raise OnnxExporterError(f"the exported model does not pass onnx.checker: {e}") from e
    return model_proto


# ops whose result is not a function of their inputs' values alone, or that would grow the file
_NO_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
            "Expand", "ConstantOfShape", "Tile", "Range"}


def _fold_constants(nodes, initializers, em, keep, frozen):
    """Replace nodes whose inputs are all initializers by initializers of their results."""
    import onnx
    from onnx import helper
    from onnx.reference import ReferenceEvaluator
    out = []
    for node in nodes:
        ins = [i for i in node.input if i]
        if node.op_type in _NO_FOLD or keep.intersection(node.output) or not ins or \
                not all(i in initializers and i not in frozen for i in ins):
            out.append(node)
            continue
        graph = helper.make_graph(
            [node], "fold",
            [helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(initializers[i].dtype), None)
             for i in dict.fromkeys(ins)],
            [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output])
        proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", em.opset)])
        try:
            results = ReferenceEvaluator(proto).run(None, {i: initializers[i] for i in dict.fromkeys(ins)})
        except Exception:   # a node the reference runtime cannot evaluate stays as it is
            out.append(node)
            continue
        for name, value in zip(node.output, results):
            initializers[name] = np.asarray(value)
    return out


def _drop_identities(nodes, keep):
    """Remove ``Identity`` nodes between two values, renaming their readers to the source; an output's
    ``Identity`` goes too where the value it copies is another node's output used for nothing else."""
    rename, out = {}, []
    for node in nodes:
        for j, name in enumerate(node.input):
            if name in rename:
                node.input[j] = rename[name]
        if node.op_type == "Identity" and node.output[0] not in keep:
            rename[node.output[0]] = node.input[0]
            continue
        out.append(node)
    produced = {o: node for node in out for o in node.output}
    copied = {}
    for node in out:
        if node.op_type == "Identity" and node.output[0] in keep:
            copied.setdefault(node.input[0], []).append(node)
    for source, copies in copied.items():
        producer = produced.get(source)
        if producer is None or producer.op_type == "Identity" or len(copies) != 1 or source in keep:
            continue
        name = copies[0].output[0]
        for node in out:
            for j, value in enumerate(node.input):
                if value == source:
                    node.input[j] = name
        producer.output[list(producer.output).index(source)] = name
        out.remove(copies[0])
    return out


def _prune(nodes, initializers, outputs):
    """Drop nodes and initializers no graph output depends on."""
    needed = set(outputs)
    kept = []
    for node in reversed(nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    kept.reverse()
    return kept, {k: v for k, v in initializers.items() if k in needed}
