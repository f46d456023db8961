"""``functionalize``, ``rearrange`` (einops patterns) and ``replace_all_batch_norm_modules_``."""
from __future__ import annotations

import functools
import keyword

from ember.core.tensor import Tensor
from ember.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["functionalize", "rearrange", "replace_all_batch_norm_modules_"]

_REMOVE = ("mutations", "mutations_and_views")


# ---------------------------------------------------------------- functionalize
def functionalize(func, *, remove="mutations"):
    """``func`` run so that its in-place ops never touch its inputs' memory until it returns.

    The function runs on private copies of its tensor inputs, so every mutation and view inside it is
    of a tensor nobody else holds (its outputs never alias the inputs); then, as PyTorch's
    functionalized programs do, each input that ``func`` mutated is given its new value once, with
    ``copy_``. The results are those of ``func``.

    Args:
        func: a function of tensors (and other values, nested in tuples/lists/dicts too).
        remove: ``'mutations'`` or ``'mutations_and_views'`` (outputs are then never views of the
            inputs either; with private copies both hold).

    Returns:
        The functionalized function.

    Raises:
        RuntimeError: for another ``remove``.
    """
    if remove not in _REMOVE:
        raise RuntimeError(f"functionalize(f, remove='mutations'): received invalid argument for remove={remove}. "
                           f"Valid options are:\n     remove='mutations': all inplace and out= operators will be "
                           f"removed from the program, and replaced with their out-of-place equivalents.\n     "
                           f"remove='mutations_and_views': In addition to the above, all aliasing operators {{view}} "
                           f"will be replaced with their non-aliasing counterparts, {{view}}_copy.\n")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        flat, spec = tree_flatten((args, kwargs))
        private = [x.clone() if isinstance(x, Tensor) else x for x in flat]
        args2, kwargs2 = tree_unflatten(private, spec)
        out = func(*args2, **kwargs2)
        for x, c in zip(flat, private):
            if isinstance(x, Tensor) and c._version is not None and c._version.value > 0:
                x.copy_(c)  # the input mutation, applied once at the end
        return out
    return wrapped


# ---------------------------------------------------------------- rearrange
def _parse_side(side, what):
    """The elements of one side of a pattern: names, ``('group', [names])``, ``'...'`` and ``1`` (a unit dim)."""
    elements, group = [], None
    text = side.replace("(", " ( ").replace(")", " ) ")
    for token in text.split():
        if token == "(":
            if group is not None:
                raise ValueError(f"Nested parentheses are not allowed in the rearrange pattern '{what}'")
            group = []
        elif token == ")":
            if group is None:
                raise ValueError(f"Unbalanced parentheses in the rearrange pattern '{what}'")
            elements.append(("group", group) if group else 1)
            group = None
        else:
            if token == "...":
                item = "..."
            elif token == "1":
                item = 1
            elif token.isidentifier() and not keyword.iskeyword(token):
                item = token
            else:
                raise ValueError(f"Invalid axis identifier '{token}' in the rearrange pattern '{what}'")
            (group if group is not None else elements).append(item)
    if group is not None:
        raise ValueError(f"Unbalanced parentheses in the rearrange pattern '{what}'")
    return elements


def _names(elements):
    found = []
    for e in elements:
        for item in (e[1] if isinstance(e, tuple) else [e]):
            if item != 1:
                found.append(item)
    return found


def rearrange(tensor, pattern, **axes_lengths):
    """Reorder, split and merge a tensor's dims by an einops pattern, e.g. ``'b (h w) c -> b h w c'``.

    Args:
        tensor: a tensor, or a list/tuple of tensors of one shape (stacked along a new first dim).
        pattern: ``'<input dims> -> <output dims>'``: names, ``(a b)`` groups (merged dims), ``...`` for
            the other dims, ``1`` or ``()`` for a size-1 dim.
        **axes_lengths: sizes of names in groups that cannot be inferred.

    Returns:
        The rearranged tensor (a view where reshapes allow it).

    Raises:
        ValueError: for a malformed pattern, names on one side only, a dim count that does not match, or
            sizes that do not fit.
    """
    import ember
    if isinstance(tensor, (list, tuple)):
        tensor = ember.stack(list(tensor))
    if pattern.count("->") != 1:
        raise ValueError(f"Pattern must contain a single '->' separator: '{pattern}'")
    left_text, right_text = pattern.split("->")
    left, right = _parse_side(left_text, pattern), _parse_side(right_text, pattern)
    left_names, right_names = _names(left), _names(right)
    for side, names in (("left", left_names), ("right", right_names)):
        if len(set(names)) != len(names):
            raise ValueError(f"Indexing expression contains duplicate dimensions on the {side}: '{pattern}'")
    if set(left_names) != set(right_names):
        raise ValueError(f"Identifiers only on one side of rearrange expression (should be on both): "
                         f"{set(left_names) ^ set(right_names)}")
    for name in axes_lengths:
        if name not in left_names:
            raise ValueError(f"Axis '{name}' given in axes_lengths does not appear in the pattern '{pattern}'")
    shape = tuple(tensor.shape)
    ellipsis = "..." in left_names
    fixed = len(left) - (1 if ellipsis else 0)
    if (not ellipsis and fixed != len(shape)) or (ellipsis and fixed > len(shape)):
        raise ValueError(f"Number of dimensions in pattern ({fixed}) must be equal to the number of dimensions in "
                         f"the tensor ({len(shape)})")
    ellipsis_names = [f"...{i}" for i in range(len(shape) - fixed)] if ellipsis else []

    # sizes of the elementary axes, in input order
    sizes, order = dict(axes_lengths), []
    dim = 0
    for e in left:
        if e == "...":
            for name in ellipsis_names:
                sizes[name] = shape[dim]
                order.append(name)
                dim += 1
            continue
        items = e[1] if isinstance(e, tuple) else [e]
        total = shape[dim]
        known, unknown = 1, []
        for item in items:
            if item == 1:
                continue
            if item in sizes:
                known *= sizes[item]
            else:
                unknown.append(item)
        if len(unknown) > 1:
            raise ValueError(f"cannot infer the sizes of two dimensions at once {' and '.join(unknown)} (dim {dim} "
                             f"has size {total}): give one in axes_lengths")
        if unknown:
            if known == 0 or total % known:
                raise ValueError(f"dim {dim} of size {total} cannot be split into sizes with product divisible by "
                                 f"{known}")
            sizes[unknown[0]] = total // known
        elif known != total:
            raise ValueError(f"dim {dim} has size {total}, but the pattern's sizes multiply to {known}")
        order += [item for item in items if item != 1]
        dim += 1

    x = tensor.reshape(tuple(sizes[n] for n in order)) if tuple(sizes[n] for n in order) != shape else tensor
    expanded = []
    for e in right:
        if e == "...":
            expanded += ellipsis_names
        elif isinstance(e, tuple):
            expanded += [n for item in e[1] for n in (ellipsis_names if item == "..." else [item]) if n != 1]
        elif e != 1:
            expanded.append(e)
    perm = [order.index(n) for n in expanded]
    if perm != list(range(len(perm))):
        x = x.permute(perm)
    out_shape = []
    for e in right:
        if e == "...":
            out_shape += [sizes[n] for n in ellipsis_names]
        elif e == 1:
            out_shape.append(1)
        elif isinstance(e, tuple):
            size = 1
            for item in e[1]:
                for n in (ellipsis_names if item == "..." else [item]):
                    size *= 1 if n == 1 else sizes[n]
            out_shape.append(size)
        else:
            out_shape.append(sizes[e])
    return x.reshape(tuple(out_shape)) if tuple(out_shape) != tuple(x.shape) else x


# ---------------------------------------------------------------- batch norm without running statistics
def replace_all_batch_norm_modules_(root):
    """Make every batch-norm module under ``root`` use batch statistics only, in place (for ``vmap``).

    Each one's ``running_mean``, ``running_var`` and ``num_batches_tracked`` become None and its
    ``track_running_stats`` False, so no module updates a buffer from inside a vmapped function.

    Args:
        root: an ``nn.Module``.

    Returns:
        ``root`` itself.
    """
    from ember.nn.modules.normalization import _BatchNorm
    for module in root.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
