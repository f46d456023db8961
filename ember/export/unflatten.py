"""``unflatten``: an exported program as a module hierarchy again.

``ember.export`` records, for every node of the flat graph, the submodule calls in progress
when it was made (``node.meta["nn_module_stack"]``). ``unflatten`` cuts the graph along
them: each run of nodes made by one call of a submodule becomes that submodule's own graph
(an ``InterpreterModule``, a ``GraphModule`` holding the submodule's parameters and
buffers under their local names), and the parent's graph calls it (``call_module``). Calls
of one submodule that run the same code share it; one that runs other code (other shapes
baked in) gets a second module ``name@1`` over the same state. A submodule's
``forward`` takes the values its call read from outside (in first-use order) and returns
the values read after it (one value, or a tuple).
"""
from __future__ import annotations

import abc
import operator

from ember.fx.graph import Graph, map_arg
from ember.fx.graph_module import GraphModule
from ember.utils._pytree import tree_flatten, tree_unflatten


class FlatArgsAdapter(abc.ABC):
    """Adapts inputs whose structure differs from the exported program's to its flat inputs."""

    @abc.abstractmethod
    def adapt(self, target_spec, input_spec, input_args, metadata=None, obj=None) -> list:
        """The flat inputs (leaves in ``target_spec``'s order) for ``input_args`` (leaves of ``input_spec``)."""
        raise NotImplementedError


class InterpreterModule(GraphModule):
    """A submodule of an unflattened program: runs its part of the exported graph."""


class UnflattenedModule(GraphModule):
    """The module ``unflatten`` returns: the exported program's calling convention, with the
    original submodule hierarchy (each submodule runs its part of the graph).

    Args:
        export_module: the ``ExportedProgram``.
        flat_args_adapter: a ``FlatArgsAdapter`` for inputs structured differently from the example's.
    """

    def __init__(self, export_module, flat_args_adapter=None):
        ep = export_module
        state = dict(ep.state_dict)
        state.update(ep.constants)
        graph, attrs = _build((), ep.graph.nodes, None, None, state, "", ep.graph.grad_enabled)
        super().__init__(attrs, graph, class_name="UnflattenedModule")
        for name, t in ep.state_dict.items():   # state the graph never reads is still state
            if not _has(self, name):
                from ember.fx.graph_module import _install
                _install(self, name, t)
        object.__setattr__(self, "_program", ep._program)
        object.__setattr__(self, "_adapter", flat_args_adapter)
        object.__setattr__(self, "module_call_graph", ep.module_call_graph)

    def forward(self, *args, **kwargs):
        """Run the program on inputs structured as the example inputs were."""
        program = self._program
        leaves, spec = tree_flatten((tuple(args), dict(kwargs)))
        if self._adapter is not None and spec != program.in_spec:
            flat = self._adapter.adapt(target_spec=program.in_spec, input_spec=spec, input_args=leaves,
                                       metadata=None, obj=self)
            if len(flat) != program.in_spec.num_leaves:
                raise ValueError(f"flat_args_adapter returned {len(flat)} inputs; the program takes "
                                 f"{program.in_spec.num_leaves}")
            args, kwargs = tree_unflatten(list(flat), program.in_spec)
        tensors = program.flat_inputs(args, kwargs)
        flat_out = self._forward(self, *tensors)
        return tree_unflatten(list(flat_out), program.out_spec)


def unflatten(module, flat_args_adapter=None) -> UnflattenedModule:
    """Rebuild the module hierarchy of an exported program.

    Args:
        module: the ``ExportedProgram``.
        flat_args_adapter: a ``FlatArgsAdapter`` used when a call's inputs are structured
            differently from the example inputs.

    Returns:
        An ``UnflattenedModule``.
    """
    return UnflattenedModule(module, flat_args_adapter)


def _child_of(node, path):
    stack = node.meta.get("nn_module_stack", ())
    if len(stack) > len(path) and tuple(stack[:len(path)]) == path:
        return stack[len(path)]
    return None


def _build(path, nodes, inputs, outputs, state, prefix, grad_enabled):
    """The graph (and its attributes) of the module at ``path`` running ``nodes`` (of the flat graph):
    ``inputs`` become placeholders (None: the flat graph's own), ``outputs`` its result (None: the output node)."""
    g = Graph()
    g.grad_enabled = grad_enabled   # the traced program's starting grad mode (see python_code)
    env, attrs = {}, {}
    for src in (inputs if inputs is not None else [n for n in nodes if n.op == "placeholder"]):
        env[src] = g.placeholder(src.name)

    def value(src):
        found = env.get(src)
        if found is not None:
            return found
        if src.op == "get_attr":
            local = src.target[len(prefix):]
            node = g.get_attr(local)
            attrs[local] = state[src.target] if src.target in state else _lookup(state, src.target)
            env[src] = node
            return node
        raise RuntimeError(f"unflatten: {src.name} is read before it is computed")
    calls = {}
    i = 0
    while i < len(nodes):
        n = nodes[i]
        if n.op in ("placeholder", "get_attr"):
            i += 1
            continue
        if n.op == "output":
            g.output(map_arg(n.args[0], value))
            i += 1
            continue
        child = _child_of(n, path)
        if child is None:
            env[n] = g.node_copy(n, value)
            i += 1
            continue
        j = i
        while j < len(nodes) and nodes[j].op not in ("placeholder", "get_attr", "output") and \
                _child_of(nodes[j], path) == child:
            j += 1
        run = nodes[i:j]
        inside = set(run)
        ins = []
        for r in run:
            for a in r.all_input_nodes:
                local_state = a.op == "get_attr" and a.target.startswith(child + ".")
                if a not in inside and a not in ins and not local_state:
                    ins.append(a)
        outs = [r for r in run if any(u not in inside for u in r.users)]
        sub_graph, sub_attrs = _build(path + (child,), run, ins, outs, state, child + ".", grad_enabled)
        from ember.export._program import graph_key
        key = graph_key(sub_graph)
        seen = calls.setdefault(child, [])
        if key in seen:   # another call of the same code: the same submodule serves it
            local = child[len(prefix):] + (f"@{seen.index(key)}" if seen.index(key) else "")
        else:
            local = child[len(prefix):] + (f"@{len(seen)}" if seen else "")
            seen.append(key)
            attrs[local] = InterpreterModule(sub_attrs, sub_graph, class_name="InterpreterModule")
        call = g.call_module(local, tuple(value(a) for a in ins))
        if len(outs) == 1:
            env[outs[0]] = call
        else:
            for idx, o in enumerate(outs):
                env[o] = g.call_function(operator.getitem, (call, idx))
        i = j
    if outputs is not None:
        g.output(value(outputs[0]) if len(outputs) == 1 else tuple(value(o) for o in outputs))
    return g, attrs


def _lookup(state, target):
    raise KeyError(f"unflatten: the exported program has no state named {target!r}")


def _has(module, dotted) -> bool:
    obj = module
    for part in dotted.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


__all__ = ["FlatArgsAdapter", "InterpreterModule", "UnflattenedModule", "unflatten"]
