"""Dynamic axes: which traced integers (reshape sizes, slice bounds, created shapes) follow an input's size.

ember traces with concrete shapes, so a ``view(x, (6, 8))`` holds the batch size as a plain
number. To keep such numbers right for other sizes, the model is traced again with each dynamic
dimension grown by one and by two: an integer that changes with the dimension is expressed as a
function of it (``a * n + b`` for one dimension, ``c * n1 * n2 ...`` for several), checked against
both variations, and emitted as ONNX shape arithmetic (``Shape``/``Gather``/``Mul``/``Concat``). A
traced number that follows a dynamic size in any other way (a float such as ``1 / n``, a graph
whose ops change) cannot be kept correct, and the export says so instead of writing a wrong model.
"""
from __future__ import annotations

import math

import numpy as np

from ember.core.tensor import Tensor
from ember.fx.graph import Node
from ember.onnx.errors import OnnxExporterError
from ember.utils._pytree import tree_flatten, tree_unflatten


class SymInt(int):
    """A traced integer that depends on dynamic dimensions (it still reads as the traced value).

    ``form`` is ``("lin", symbol, a, b)`` for ``a * symbol + b`` or ``("mono", symbols, c)`` for
    ``c * prod(symbols)``.
    """

    def __new__(cls, value, form):
        obj = super().__new__(cls, value)
        obj.form = form
        return obj

    def __repr__(self):
        return f"SymInt({int(self)}, {self.form})"


class Symbol:
    """A dynamic dimension: its dim_param name, where its runtime size is read, and its traced size."""

    def __init__(self, name, input_index, axis, size):
        self.name, self.input_index, self.axis, self.size = name, input_index, axis, size


def symbols_of(dynamic_inputs, input_tensors):
    """``Symbol`` per distinct dim_param name of the graph inputs.

    Args:
        dynamic_inputs: {input index: {axis: name}}.
        input_tensors: the example tensors of the graph inputs, in order.

    Returns:
        dict name -> Symbol (the first input naming it is where its size is read).
    """
    symbols = {}
    for i in sorted(dynamic_inputs):
        for axis, name in sorted(dynamic_inputs[i].items()):
            size = input_tensors[i].shape[axis]
            if name in symbols and symbols[name].size != size:
                raise OnnxExporterError(f"dynamic axis '{name}' has size {symbols[name].size} in one input and "
                                        f"{size} in another; inputs sharing a dynamic axis name must agree")
            symbols.setdefault(name, Symbol(name, i, axis, size))
    return symbols


def _grown(t: Tensor, axes, new_size):
    """``t`` with each of ``axes`` grown to ``new_size`` by repeating its entries cyclically (values stay valid
    indices, token ids, masks)."""
    import ember
    array = t.detach().cpu().numpy()
    for axis in axes:
        array = np.take(array, np.arange(new_size) % array.shape[axis], axis=axis)
    out = ember.tensor(np.ascontiguousarray(array), dtype=t.dtype, device=t.device)
    return out.requires_grad_(t.requires_grad) if t.is_floating_point() else out


def varied_inputs(args, kwargs, dynamic_inputs, symbol, new_size):
    """``(args, kwargs)`` with every input dimension named ``symbol.name`` grown to ``new_size``."""
    leaves, spec = tree_flatten((tuple(args), dict(kwargs)))
    out, n = [], 0
    for leaf in leaves:
        if isinstance(leaf, Tensor):
            axes = [a for a, name in dynamic_inputs.get(n, {}).items() if name == symbol.name]
            leaf = _grown(leaf, axes, new_size) if axes else leaf
            n += 1
        out.append(leaf)
    return tree_unflatten(out, spec)


def _walk(a, b, path, found, where):
    """Record in ``found[path]`` the integers that differ between the base value ``a`` and a variation ``b``."""
    if isinstance(a, Node) or isinstance(b, Node):
        if not (isinstance(a, Node) and isinstance(b, Node) and a.name == b.name):
            raise _Mismatch(where)
        return
    if type(a) is not type(b):
        raise _Mismatch(where)
    if type(a) in (tuple, list):
        if len(a) != len(b):
            raise _Mismatch(where)
        for i, (x, y) in enumerate(zip(a, b)):
            _walk(x, y, path + (i,), found, where)
    elif isinstance(a, dict):
        if a.keys() != b.keys():
            raise _Mismatch(where)
        for k in a:
            _walk(a[k], b[k], path + (k,), found, where)
    elif isinstance(a, slice):
        for part in ("start", "stop", "step"):
            _walk(getattr(a, part), getattr(b, part), path + (part,), found, where)
    elif type(a) is int:
        if a != b:
            found[path] = b
    elif isinstance(a, np.ndarray):
        if a.shape != b.shape or not np.array_equal(a, b):
            raise _Mismatch(where, "an array constant", soft=True)
    elif isinstance(a, float):
        if a != b and not (a != a and b != b):
            raise _Mismatch(where, f"the number {a!r}", soft=True)
    else:
        try:
            same = a == b
        except Exception:   # objects without equality (devices, dtypes compare fine): same identity only
            same = a is b
        if not (same is True or (isinstance(same, (bool, np.bool_)) and same)):
            raise _Mismatch(where, f"the value {a!r}", soft=True)


class _Mismatch(Exception):
    def __init__(self, where, what="the graph's structure", soft=False):
        super().__init__(where, what)
        self.where, self.what, self.soft = where, what, soft


def _form(base, per_symbol, symbols):
    """The expression of a traced integer from its values under each symbol's two variations, or None."""
    moved = {name: vals for name, vals in per_symbol.items() if vals[0] != base or vals[1] != base}
    if len(moved) == 1:
        (name, (v1, v2)), = moved.items()
        n = symbols[name].size
        a = v1 - base
        b = base - a * n
        if a * (n + 2) + b == v2:
            return ("lin", name, a, b)
        return None
    names = tuple(sorted(moved))
    prod = math.prod(symbols[s].size for s in names)
    if prod == 0 or base % prod:
        return None
    c = base // prod
    for s in names:
        for grow, value in zip((1, 2), moved[s]):
            if c * prod // symbols[s].size * (symbols[s].size + grow) != value:
                return None
    return ("mono", names, c)


#: attributes derived from the others and the input's shape, which a translation recomputes (or reads from
#: the variations) rather than emitting: their changes are not a problem
DERIVED = {"max_pool": ("kwargs", "output_size")}


def _shape_of(node):
    val = node.meta.get("val")
    return tuple(val[0]) if val is not None else None


def analyse(base, variations, symbols):
    """Mark the traced integers of ``base`` (a Capture) that follow the dynamic dimensions.

    Args:
        base: the Capture of the example inputs.
        variations: {symbol name: (Capture grown by 1, Capture grown by 2)}.
        symbols: {name: Symbol}.

    Returns:
        ``(node_syms, shape_syms, problems, variants)``: {node name: {argument path: SymInt}}, {node name: shape tuple
        with SymInt where a dimension of the node's value follows a dynamic dimension} and {node name: why
        its translation would be wrong at other sizes} (a traced float or array that changes with a dynamic
        dimension, an integer shape arithmetic cannot express): an error only if the outputs need that node;
        and {node name: the node's counterparts in the variations}.

    Raises:
        OnnxExporterError: when the graph itself changes with a dynamic dimension.
    """
    problems = {}
    base_nodes = list(base.graph.nodes)
    variants = {n.name: [] for n in base_nodes}
    values = {}   # (node index, path) -> {symbol: (v1, v2)}
    shapes = {}   # (node index, axis) -> {symbol: (v1, v2)}
    for name, pair in variations.items():
        for which, cap in enumerate(pair):
            nodes = list(cap.graph.nodes)
            if len(nodes) != len(base_nodes):
                raise OnnxExporterError(
                    f"the captured graph changes with the size of dynamic axis '{name}' ({len(base_nodes)} nodes "
                    f"at size {symbols[name].size}, {len(nodes)} at size {symbols[name].size + which + 1}): the "
                    f"model's Python depends on that size (a Python loop over it, such as an RNN's time steps, "
                    f"unrolls into the graph), so no single ONNX graph holds it")
            for i, (a, b) in enumerate(zip(base_nodes, nodes)):
                variants[a.name].append(b)
                found = {}
                try:
                    if a.op != b.op or a.target is not b.target and a.target != b.target:
                        raise _Mismatch(a)
                    _walk(a.args, b.args, ("args",), found, a)
                    _walk(a.kwargs, b.kwargs, ("kwargs",), found, a)
                except _Mismatch as e:
                    if e.soft:
                        problems.setdefault(a.name, (
                            f"{e.what} at graph node {a.name} ({a.format_node()}) changes with the size of dynamic "
                            f"axis '{name}': ember traces with concrete values, and this one cannot be kept "
                            f"correct for other sizes"))
                        continue
                    raise OnnxExporterError(
                        f"{e.what} at graph node {a.name} ({a.format_node()}) changes with the size of dynamic "
                        f"axis '{name}': ember traces with concrete values, and this one cannot be kept "
                        f"correct for other sizes") from None
                derived = DERIVED.get(getattr(a.target, "name", None))
                for path, v in found.items():
                    if derived and path[:len(derived)] == derived:
                        continue
                    values.setdefault((i, path), {}).setdefault(name, [None, None])[which] = v
                sa, sb = _shape_of(a), _shape_of(b)
                if sa is not None and sb is not None and len(sa) == len(sb):
                    for axis, (x, y) in enumerate(zip(sa, sb)):
                        if x != y:
                            shapes.setdefault((i, axis), {}).setdefault(name, [None, None])[which] = y
    node_syms, shape_syms = {}, {}
    for (i, path), per in values.items():
        node = base_nodes[i]
        base_value = _get(node, path)
        per = {s: tuple(base_value if v is None else v for v in vals) for s, vals in per.items()}
        form = _form(base_value, per, symbols)
        if form is None:
            problems.setdefault(node.name, (
                f"the integer {base_value} at graph node {node.name} ({node.format_node()}) changes with the dynamic "
                f"axes {sorted(per)} in a way the export cannot express as shape arithmetic"))
            continue
        node_syms.setdefault(node.name, {})[path] = SymInt(base_value, form)
    for (i, axis), per in shapes.items():
        node = base_nodes[i]
        dims = list(shape_syms.get(node.name, _shape_of(node)))
        per = {s: tuple(dims[axis] if v is None else v for v in vals) for s, vals in per.items()}
        form = _form(int(dims[axis]), per, symbols)
        dims[axis] = SymInt(int(dims[axis]), form or ("unknown",))
        shape_syms[node.name] = tuple(dims)
    return node_syms, shape_syms, problems, variants


def _get(node, path):
    value = node.args if path[0] == "args" else node.kwargs
    for p in path[1:]:
        value = getattr(value, p) if isinstance(value, slice) else value[p]
    return value


def substitute(value, syms, path):
    """``value`` (a node's args or kwargs) with the integers at ``syms``' paths replaced by their SymInts."""
    if path in syms:
        return syms[path]
    if type(value) in (tuple, list):
        return type(value)(substitute(v, syms, path + (i,)) for i, v in enumerate(value))
    if isinstance(value, dict):
        return {k: substitute(v, syms, path + (k,)) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(*(substitute(getattr(value, p), syms, path + (p,)) for p in ("start", "stop", "step")))
    return value
