"""Training graphs: the forward and the backward captured together, replayed as one autograd node.

When a compiled call records autograd (grad mode on, an input or parameter requires grad), the
capture goes on after the program returns: under the same trace, ``autograd.grad`` runs the
backward of the program's differentiable outputs with respect to the inputs and parameters
that require grad (with ``retain_graph``, so the eager result of the capturing call keeps its
own graph), and the backward rules' ops are recorded too. The joint graph is then split:

* the forward graph computes the outputs and the values the backward reads (*saved*), with
  autograd off — so its elementwise runs may be fused;
* the backward graph takes the saved values and the output gradients and returns one gradient
  per input/parameter.

A replay runs the forward graph inside one custom autograd ``Function`` whose backward runs
the backward graph; autograd then accumulates the parameters' gradients (and fires their
hooks) as in eager mode. Gradients equal eager's: the same ops run in the same order.
"""
from __future__ import annotations

from ember.autograd.function import Function
from ember.core.autograd import GRAD_MODE
from ember.core.tensor import Tensor
from ember.fx.graph import Graph


def wrt_of(root, tensors) -> list:
    """The tensors a training capture differentiates: inputs then parameters that require grad."""
    found = [t for t in tensors if t._rg]
    if root is not None:
        seen = {id(t) for t in found}
        for p in root.parameters():
            if p._rg and id(p) not in seen:
                seen.add(id(p))
                found.append(p)
    return found


def make_then(tracer, wrt):
    """The ``then`` of ``Tracer.trace``: trace the backward of the program's differentiable outputs."""
    from ember.autograd import grad as autograd_grad
    from ember.core.transfer import create
    from ember.utils._pytree import tree_leaves

    def then(result):
        # every output that carries gradients: computed ones, and inputs returned as they are
        outs = [t for t in tree_leaves(result) if isinstance(t, Tensor) and t._rg]
        tracer.diff_outputs = [i for i, t in enumerate(tree_leaves(result)) if isinstance(t, Tensor) and t._rg]
        if not outs or not wrt:
            tracer.joint = False
            return []
        tracer.joint = True
        grads_in = []
        for i, t in enumerate(outs):
            g = tracer.record_function(create.__untraced__, ("full", t.device),
                                       {"shape": tuple(t._data.shape), "value": 1, "dtype": t.dtype})
            # an output gradient is an input of the backward graph, not a constant of it
            node = tracer.env[id(g)]
            node.op, node.target, node.args, node.kwargs = "placeholder", f"grad_out_{i}", (), {}
            node.name = tracer.graph._unique_name(f"grad_out_{i}")
            node.target = node.name
            grads_in.append(g)
        try:
            grads = autograd_grad(outs, wrt, grad_outputs=grads_in, retain_graph=True, allow_unused=True)
        except RuntimeError:   # the program ran its own backward (freeing the graph): forward only
            tracer.joint = False
            return []
        return list(grads)
    return then


class JointEntry:
    """A split training graph: forward and backward runners and how their values connect."""

    def __init__(self, forward, backward, n_user, n_saved, diff_outputs, wrt_inputs, wrt_params, attributes):
        self.forward, self.backward = forward, backward
        self.n_user, self.n_saved = n_user, n_saved
        self.diff_outputs = diff_outputs    # indices of the user outputs that carry gradients
        self.wrt_inputs = wrt_inputs        # indices (in the flat tensor inputs) of differentiated inputs
        self.wrt_params = wrt_params        # dotted names of differentiated parameters
        self.attributes = attributes


def forward_only(graph, capture, tracer):
    """The forward part of a joint capture as a plain graph (for programs with graph breaks)."""
    nodes = graph.nodes
    user = list(nodes[-1].args[0])[:capture.n_outputs]
    fwd = Graph()
    fwd.grad_enabled = graph.grad_enabled
    env = {}
    for n in nodes[:-1]:
        if n in tracer.forward_nodes:
            env[n] = fwd.node_copy(n, lambda a: env[a])
    fwd.output(tuple(env[x] if hasattr(x, "op") else x for x in user))
    return fwd


def split(graph, capture, tracer):
    """(forward graph, backward graph, number of saved values) of a joint capture."""
    nodes = graph.nodes
    output = nodes[-1]
    flat = list(output.args[0])
    user, grads = flat[:capture.n_outputs], flat[capture.n_outputs:]
    forward_set = tracer.forward_nodes
    backward_nodes = [n for n in nodes[:-1] if n not in forward_set]
    saved = []
    for n in backward_nodes:
        for inp in n.all_input_nodes:
            if inp in forward_set and inp.op != "get_attr" and inp not in saved:
                saved.append(inp)
    for g in grads:   # a gradient that is a forward value itself (identity backward)
        if hasattr(g, "op") and g in forward_set and g.op != "get_attr" and g not in saved:
            saved.append(g)

    fwd = Graph()
    fwd.grad_enabled = False
    env = {}
    for n in nodes[:-1]:
        if n in forward_set:
            env[n] = fwd.node_copy(n, lambda a: env[a])
            env[n].meta["grad_enabled"] = False
    fwd.output(tuple(env[x] if hasattr(x, "op") else x for x in user) + tuple(env[s] for s in saved))

    bwd = Graph()
    bwd.grad_enabled = False
    benv = {}
    for i, s in enumerate(saved):
        benv[s] = bwd.placeholder(f"saved_{i}")
        benv[s].meta = dict(s.meta)
    for n in nodes[:-1]:
        if n.op == "get_attr":
            benv[n] = bwd.node_copy(n, lambda a: benv[a])
    for n in backward_nodes:
        benv[n] = bwd.node_copy(n, lambda a: benv[a])
    bwd.output(tuple(benv[g] if hasattr(g, "op") else g for g in grads))
    bwd.eliminate_dead_code()
    fwd.eliminate_dead_code()
    return fwd, bwd, len(saved)


class _CompiledStep(Function):
    """The autograd node of a replayed training graph."""

    @staticmethod
    def forward(ctx, entry, n_inputs, *tensors):
        flat = entry.forward(entry.attributes, *tensors[:n_inputs])
        ctx.entry = entry
        ctx.saved = flat[entry.n_user:]
        ctx.n_inputs = n_inputs
        # an output that is an input, or the same tensor twice, must come back as a new tensor:
        # the autograd node takes ownership of its outputs (grad_fn, output number)
        seen = {id(t) for t in tensors}
        user = list(flat[:entry.n_user])
        for i, t in enumerate(user):
            if isinstance(t, Tensor):
                if id(t) in seen:
                    user[i] = t.detach()
                seen.add(id(user[i]))
        ctx.like = [user[i] for i in entry.diff_outputs]
        diff = set(entry.diff_outputs)
        ctx.mark_non_differentiable(*[t for i, t in enumerate(user) if i not in diff and isinstance(t, Tensor)])
        return tuple(user)

    @staticmethod
    def backward(ctx, *grads):
        entry = ctx.entry
        from ember.ops.creation import zeros_like
        chosen = [grads[i] if grads[i] is not None else zeros_like(ctx.like[k])
                  for k, i in enumerate(entry.diff_outputs)]
        saved, ctx.saved = ctx.saved, None
        result = entry.backward(entry.attributes, *saved, *chosen)
        n_inputs = ctx.n_inputs
        out = [None, None] + [None] * n_inputs
        for k, i in enumerate(entry.wrt_inputs):
            out[2 + i] = result[k]
        return tuple(out) + tuple(result[len(entry.wrt_inputs):])


def run_joint(entry, tensors, root):
    """Replay a training graph: the user outputs (flat), recorded as one autograd node."""
    params = [_fetch(root, name) for name in entry.wrt_params]
    if not GRAD_MODE.enabled:
        return entry.forward(entry.attributes, *tensors)[:entry.n_user]
    return _CompiledStep.apply(entry, len(tensors), *tensors, *params)


def _fetch(root, name):
    obj = root
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj
