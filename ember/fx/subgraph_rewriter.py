"""``replace_pattern``: find a traced pattern in a graph and put a traced replacement in its place."""
from __future__ import annotations

from typing import NamedTuple

from ember.fx.graph import Node, map_arg


class Match(NamedTuple):
    """One place the pattern was found: the node that gave the pattern's result, and the map
    from pattern nodes to the graph's nodes."""
    anchor: Node
    nodes_map: dict


def _graph_of(obj):
    from ember.fx.graph import Graph
    from ember.fx.graph_module import GraphModule
    if isinstance(obj, Graph):
        return obj
    if isinstance(obj, GraphModule):
        return obj.graph
    from ember.fx.proxy import symbolic_trace_module
    return symbolic_trace_module(obj).graph


def _same_target(a, b) -> bool:
    if a is b:
        return True
    try:
        return a == b
    except Exception:   # noqa: BLE001 - targets that cannot be compared are different
        return False


def _match(pn, gn, mapping, pattern_out_users, graph_users_ok) -> bool:
    if pn in mapping:
        return mapping[pn] is gn
    if pn.op == "placeholder":
        mapping[pn] = gn
        return True
    if pn.op != gn.op or not _same_target(pn.target, gn.target):
        return False
    if len(pn.args) != len(gn.args) or set(pn.kwargs) != set(gn.kwargs):
        return False
    mapping[pn] = gn
    for pa, ga in list(zip(pn.args, gn.args)) + [(pn.kwargs[k], gn.kwargs[k]) for k in pn.kwargs]:
        if not _match_arg(pa, ga, mapping, pattern_out_users, graph_users_ok):
            del mapping[pn]
            return False
    return True


def _match_arg(pa, ga, mapping, a, b) -> bool:
    if isinstance(pa, Node):
        return isinstance(ga, Node) and _match(pa, ga, mapping, a, b)
    if type(pa) in (tuple, list):
        return type(ga) is type(pa) and len(pa) == len(ga) and all(_match_arg(x, y, mapping, a, b)
                                                                    for x, y in zip(pa, ga))
    if isinstance(ga, Node):
        return False
    try:
        return bool(pa == ga)
    except Exception:   # noqa: BLE001
        return False


def replace_pattern(gm, pattern, replacement) -> list:
    """Replace every (non-overlapping) occurrence of ``pattern`` in ``gm``'s graph with
    ``replacement``; ``gm`` is recompiled.

    Args:
        gm: the ``GraphModule`` to rewrite.
        pattern: a function (or module, or graph) traced symbolically; its inputs match
            any value, its other nodes must match ops, targets and constants exactly.
        replacement: a function (or module, or graph) with the same inputs, traced the same way.

    Returns:
        The list of ``Match`` records, one per replaced occurrence.

    Raises:
        ValueError: if the pattern does not return exactly one value.
    """
    graph = gm.graph
    p_graph, r_graph = _graph_of(pattern), _graph_of(replacement)
    p_nodes = p_graph.nodes
    p_inputs = [n for n in p_nodes if n.op == "placeholder"]
    p_out = next(n for n in p_nodes if n.op == "output")
    if not isinstance(p_out.args[0], Node):
        raise ValueError("replace_pattern expects a pattern that returns one value")
    p_anchor = p_out.args[0]
    p_internal = [n for n in p_nodes if n.op not in ("placeholder", "output")]
    matches, taken = [], set()
    for gn in reversed(graph.nodes):
        if gn in taken or gn.op in ("placeholder", "output"):
            continue
        mapping = {}
        if not _match(p_anchor, gn, mapping, None, None):
            continue
        inner = [mapping[n] for n in p_internal if n in mapping]
        if len(inner) != len(p_internal) or any(n in taken for n in inner):
            continue
        # the pattern's intermediate values must not be read outside the match
        inside = set(inner)
        if any(u not in inside for n in inner if n is not gn for u in n.users):
            continue
        matches.append(Match(gn, dict(mapping)))
        taken |= inside
    for m in matches:
        anchor = m.anchor
        env = {}
        r_inputs = [n for n in r_graph.nodes if n.op == "placeholder"]
        for rp, pp in zip(r_inputs, p_inputs):
            env[rp] = m.nodes_map[pp]
        result = None
        with graph.inserting_before(anchor):
            for rn in r_graph.nodes:
                if rn.op == "placeholder":
                    continue
                if rn.op == "output":
                    result = map_arg(rn.args[0], lambda n: env[n])
                    continue
                if rn.op == "get_attr" and gm is not None:
                    _copy_attr(r_graph, gm, rn.target, replacement)
                env[rn] = graph.node_copy(rn, lambda n: env[n])
        anchor.replace_all_uses_with(result)
        for pn in reversed(p_internal):
            node = m.nodes_map[pn]
            if not node.users:
                graph.erase_node(node)
    gm.recompile()
    return matches


def _copy_attr(r_graph, gm, target, replacement):
    from ember.nn.modules.module import Module
    if isinstance(replacement, Module) and not hasattr(gm, target):
        from ember.fx.graph_module import _fetch, _install
        _install(gm, target, _fetch(replacement, target))


__all__ = ["Match", "replace_pattern"]
