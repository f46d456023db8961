"""The fusion pass of ``ember.compile``: runs of elementwise ops become one generated kernel.

A *run* is a sequence of consecutive ``call_function`` nodes of elementwise op-table ops
(the ``same``/``elementwise``/``where``/``cast`` metas) over one device, whose results all
have one shape, whose tensor inputs from outside the run have that shape or are 0-d, and
that autograd does not record (no input requires grad under grad mode: a fused kernel has no
derivative, so training graphs keep those ops unfused). Consecutive nodes only: nothing is
moved across an in-place write. A run of two or more ops that the device's fusion compiler
supports (``ember.dispatch.fusion``) is compiled into one kernel and replaced by one node.
"""
from __future__ import annotations

import operator

from ember.core.call import _wrapper
from ember.dispatch import meta as M
from ember.dispatch.fusion import FusedProgram, Step
from ember.dispatch.ops import OpDef
from ember.dispatch.registry import REGISTRY
from ember.fx.graph import Node

_ELEMENTWISE_METAS = {M.same, M.elementwise, M.where, M.cast, M.compare, M.to_bool, M.to_real}
# `same`-meta ops that are not elementwise (they move or select elements)
_NOT_ELEMENTWISE = {"clone", "flip", "roll", "tril", "triu", "scatter", "copy_", "index_put", "softmax",
                    "log_softmax", "cumsum", "cumprod"}
_SCALARS = (bool, int, float)


class FusedKernel:
    """A graph node's target: runs a compiled ``FusedProgram`` on tensors, returns a tuple of tensors."""

    def __init__(self, kernel, program: FusedProgram, device):
        self.kernel, self.program, self.device = kernel, program, device
        self._wrap = _wrapper(device.type)
        self.__name__ = "fused_" + "_".join(s.op for s in program.steps[:4])

    def __call__(self, *tensors):
        outs = self.kernel(*[t._data for t in tensors])
        return tuple(self._wrap(o, self.device) for o in outs)

    def __repr__(self):
        return f"<fused kernel of {len(self.program.steps)} ops on {self.device}>"


def _is_elementwise(node: Node) -> bool:
    if node.op != "call_function" or not isinstance(node.target, OpDef):
        return False
    op = node.target
    return op.meta in _ELEMENTWISE_METAS and op.name not in _NOT_ELEMENTWISE and not op.inplace \
        and not op.view and "val" in node.meta


def _records_grad(node: Node) -> bool:
    if not node.meta.get("grad_enabled", False):
        return False
    return any(n.meta.get("requires_grad") for n in node.all_input_nodes)


def fuse_elementwise(graph, min_ops: int = 2) -> int:
    """Replace fusible runs in ``graph`` by fused-kernel nodes; returns how many runs were fused."""
    fused = 0
    run = []
    for node in graph.nodes + [None]:
        if node is not None and _fusible(node) and (not run or _extends(run, node)):
            run.append(node)
            continue
        if len(run) >= min_ops and _fuse(graph, run, run[0].meta["val"][0], run[0].meta["val"][2]):
            fused += 1
        run = [node] if node is not None and _fusible(node) else []
    return fused


def _fusible(node) -> bool:
    return _is_elementwise(node) and not _records_grad(node) and \
        _inputs_fit(node, node.meta["val"][0], ()) and _compiler_supports(node, node.meta["val"][2])


def _extends(run, node) -> bool:
    shape, _, device = run[0].meta["val"]
    return node.meta["val"][0] == shape and node.meta["val"][2] == device and _inputs_fit(node, shape, run)


def _inputs_fit(node, shape, run) -> bool:
    members = set(run)
    for a in node.args:
        if isinstance(a, Node):
            if a in members:
                continue
            val = a.meta.get("val")
            if val is None or not (val[0] == shape or val[0] == ()) or val[2] != node.meta["val"][2]:
                return False
        elif not isinstance(a, _SCALARS):
            return False
    return True


_COMPILERS = {}


def _compiler(device):
    key = device.type
    if key not in _COMPILERS:
        _COMPILERS[key] = REGISTRY.fusion_compiler(key)
    return _COMPILERS[key]


def _compiler_supports(node, device) -> bool:
    compiler = _compiler(device)
    if compiler is None:
        return False
    in_dtypes = tuple(a.meta["val"][1] if isinstance(a, Node) else type(a) for a in node.args)
    try:
        return bool(compiler.supports(node.target.name, dict(node.kwargs), node.meta["val"][1], in_dtypes))
    except Exception:
        return False


def _fuse(graph, run, shape, device) -> bool:
    members = {n: i for i, n in enumerate(run)}
    inputs, steps = [], []
    index_of = {}
    for n in run:
        refs = []
        for a in n.args:
            if isinstance(a, Node) and a in members:
                refs.append(("step", members[a]))
            elif isinstance(a, Node):
                if a not in index_of:
                    index_of[a] = len(inputs)
                    inputs.append(a)
                refs.append(("input", index_of[a]))
            else:
                refs.append(("const", a))
        steps.append(Step(n.target.name, refs, dict(n.kwargs), n.meta["val"][1]))
    outputs = [i for i, n in enumerate(run) if any(u not in members for u in n.users)]
    if not outputs:
        return False
    program = FusedProgram([a.meta["val"][1] for a in inputs], steps, outputs, shape)
    try:
        kernel = _compiler(device).compile(program)
    except Exception:   # a program the compiler turns down at compile time stays unfused
        return False
    target = FusedKernel(kernel, program, device)
    last = run[-1]
    with graph.inserting_after(last):
        call = graph.call_function(target, tuple(inputs))
        call.meta["grad_enabled"] = last.meta.get("grad_enabled")
    results = []
    with graph.inserting_after(call):
        for k, i in enumerate(outputs):
            item = graph.call_function(operator.getitem, (call, k))
            item.meta.update(run[i].meta)
            results.append(item)
    for k, i in enumerate(outputs):
        run[i].replace_all_uses_with(results[k])
    for n in reversed(run):
        graph.erase_node(n)
    return True
