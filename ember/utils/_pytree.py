"""Nested containers as flat lists and back (PyTorch's ``torch.utils._pytree``, the part graph
capture and export use): tuples, lists, dicts, namedtuples and ``None`` are containers;
everything else is a leaf.
"""
from __future__ import annotations


class TreeSpec:
    """The shape of a nested container: its type, its keys (dicts) or fields, its children's specs.

    A leaf's spec is ``LeafSpec()``: ``type`` None and no children.
    """
    __slots__ = ("type", "context", "children_specs", "num_leaves")

    def __init__(self, type_, context, children_specs):
        self.type = type_
        self.context = context
        self.children_specs = list(children_specs)
        self.num_leaves = 1 if type_ is None else sum(c.num_leaves for c in self.children_specs)

    def is_leaf(self) -> bool:
        """Whether this spec stands for one leaf."""
        return self.type is None

    def __eq__(self, other):
        return (isinstance(other, TreeSpec) and self.type is other.type and self.context == other.context
                and self.children_specs == other.children_specs)

    def __hash__(self):
        return hash((self.type, _hashable(self.context), tuple(self.children_specs)))

    def __repr__(self):
        if self.type is None:
            return "*"
        inner = ", ".join(map(repr, self.children_specs))
        return f"TreeSpec({self.type.__name__}, {self.context!r}, [{inner}])"


def LeafSpec() -> TreeSpec:
    """The spec of a single leaf."""
    return TreeSpec(None, None, ())


# dataclass types registered as containers (ember.export.register_dataclass): type -> field names
_DATACLASSES: dict = {}


def _hashable(context):
    return tuple(context) if isinstance(context, list) else context


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(type(obj), "_fields")


def tree_flatten(tree):
    """``tree``'s leaves, depth first, and the spec that rebuilds it.

    Args:
        tree: a leaf, or a tuple / list / dict / namedtuple / None of trees.

    Returns:
        ``(leaves, spec)``.
    """
    leaves = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves) -> TreeSpec:
    if tree is None:
        return TreeSpec(type(None), None, ())
    if _is_namedtuple(tree):
        return TreeSpec(type(tree), None, [_flatten(v, leaves) for v in tree])
    if type(tree) in (tuple, list):
        return TreeSpec(type(tree), None, [_flatten(v, leaves) for v in tree])
    if isinstance(tree, dict):
        keys = list(tree)
        return TreeSpec(dict, keys, [_flatten(tree[k], leaves) for k in keys])
    if _DATACLASSES:
        fields = _DATACLASSES.get(type(tree))
        if fields is not None:
            return TreeSpec(type(tree), list(fields), [_flatten(getattr(tree, f), leaves) for f in fields])
    leaves.append(tree)
    return LeafSpec()


def tree_unflatten(leaves, spec: TreeSpec):
    """The tree of shape ``spec`` holding ``leaves`` (the inverse of ``tree_flatten``).

    Args:
        leaves: as many values as ``spec.num_leaves``.
        spec: a ``TreeSpec`` from ``tree_flatten``.

    Returns:
        The rebuilt tree.

    Raises:
        ValueError: if the number of leaves does not match the spec.
    """
    leaves = list(leaves)
    if len(leaves) != spec.num_leaves:
        raise ValueError(f"treespec expects {spec.num_leaves} leaves, but {len(leaves)} were given")
    it = iter(leaves)
    return _unflatten(it, spec)


def _unflatten(it, spec):
    if spec.type is None:
        return next(it)
    if spec.type is type(None):
        return None
    children = [_unflatten(it, c) for c in spec.children_specs]
    if spec.type is dict:
        return dict(zip(spec.context, children))
    if spec.type in (tuple, list):
        return spec.type(children)
    if spec.type in _DATACLASSES:
        return spec.type(**dict(zip(spec.context, children)))
    return spec.type(*children)  # a namedtuple


def tree_map(fn, tree):
    """``tree`` with every leaf replaced by ``fn(leaf)``."""
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def tree_leaves(tree) -> list:
    """``tree``'s leaves, depth first."""
    return tree_flatten(tree)[0]
