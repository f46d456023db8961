"""Reverse-mode transforms: ``grad``, ``grad_and_value``, ``vjp`` and ``jacrev``.

They run ember's autograd on *physical* tensors. Each differentiated input becomes a fresh graph
input holding its values with the batch dims of every active vmap in front (expanded where it is not
batched there, so each sample has its own gradient), and is handed to the function re-wrapped. The
function's outputs are made physical the same way, and one backward pass gives every sample's
gradient at once: that is what makes ``vmap(grad(f))`` per-sample gradients one vectorized pass.

The backward pass always builds its graph (when grad mode is on), so a transform inside another
(``grad(grad(f))``, ``jacrev(jacrev(f))``) differentiates through it; a result whose graph reaches
nothing but the transform's own inputs is detached, as PyTorch's results are.
"""
from __future__ import annotations

import functools

from ember.core.autograd import GRAD_MODE, AccumulateGrad, run_backward
from ember.core.dual import DUAL, set_tangent, tangent_of
from ember.core.tensor import Tensor
from ember.func import _batching as B
from ember.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["grad", "grad_and_value", "vjp", "jacrev"]


# ---------------------------------------------------------------- graph inputs and results
class _Inputs:
    """The differentiated inputs of one transform call: fresh graph inputs at the physical level."""

    def __init__(self, tensors, levels, what):
        self.levels = levels
        self.leaves = []      # what the gradient is taken with respect to
        self.wrapped = []     # what the function sees
        for x in tensors:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{what}: Expected the differentiated inputs to be Tensors, got {type(x)}")
            physical = B.to_physical(x, levels)
            if physical.requires_grad:
                leaf = physical.clone()  # an outer transform or autograd sees through it
            else:
                leaf = _keep_tangent(physical, physical.detach().requires_grad_())
            self.leaves.append(leaf)
            # the function gets its own copy: its in-place ops must not move the gradient's target
            self.wrapped.append(B.from_physical(leaf.clone(), levels))
        self.own = {id(t) for t in self.leaves}


def _keep_tangent(source, target):
    """``target`` with ``source``'s forward-mode tangent (jacfwd over these transforms): detach drops it."""
    if DUAL.level is not None:
        tangent = tangent_of(source)
        if tangent is not None:
            set_tangent(target, tangent)
    return target


def _reaches_outside(t, own) -> bool:
    """Whether ``t``'s graph reaches a graph input other than ``own`` (ids of this transform's leaves)."""
    if t.grad_fn is None:
        return t._rg and id(t) not in own
    seen, stack = set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if type(node) is AccumulateGrad:
            if id(node.variable) not in own:
                return True
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node.next_edges:
            if edge is not None:
                stack.append(edge[0])
    return False


def _own_nodes(inputs):
    """Ids of the transform's fresh graph inputs (an input cloned from an outer graph links to it: not own)."""
    return {id(leaf) for leaf in inputs.leaves if leaf.grad_fn is None}


def _finish(t, own):
    """A transform's result: detached unless its graph reaches beyond the transform's own inputs."""
    if not isinstance(t, Tensor):
        return t
    if type(t) is B.BatchedTensor:
        return B.wrap(_finish(t._value, own), t._level)
    if (t._rg or t.grad_fn is not None) and not _reaches_outside(t, own):
        return _keep_tangent(t, t.detach())
    return t


def _backward(outputs, cotangents, inputs: _Inputs):
    """Gradients (physical, one per input leaf; zeros where unused) of ``outputs`` weighted by ``cotangents``."""
    roots, grads = [], []
    for o, v in zip(outputs, cotangents):
        if o._rg or o.grad_fn is not None:
            roots.append(o)
            grads.append(v)
    found = [None] * len(inputs.leaves)
    if roots:
        previous = GRAD_MODE.enabled
        found = run_backward(roots, grads, retain_graph=True, create_graph=previous, inputs=inputs.leaves,
                             allow_unused=True, accumulate=False)
    import ember
    return [ember.zeros_like(leaf) if g is None else g for g, leaf in zip(found, inputs.leaves)]


def _check_argnums(argnums, args, what):
    many = isinstance(argnums, tuple)
    nums = argnums if many else (argnums,)
    if many and not nums:
        raise RuntimeError(f"{what}: argnums must be non-empty")
    for n in nums:
        if not isinstance(n, int):
            raise RuntimeError(f"{what}: Got type {type(n)} for argnum, expected int or tuple of ints")
        if not -len(args) <= n < len(args):
            raise RuntimeError(f"Got argnum={n}, but only {len(args)} positional inputs")
    nums = tuple(n % len(args) for n in nums)
    if len(set(nums)) != len(nums):
        raise RuntimeError(f"{what}: argnums must be unique, got {argnums}")
    return nums, many


class _GradMode:
    """Grad mode on for the function (a transform ignores an outer no_grad, as PyTorch's do)."""

    def __enter__(self):
        self.previous = GRAD_MODE.enabled
        GRAD_MODE.enabled = True

    def __exit__(self, *exc):
        GRAD_MODE.enabled = self.previous


def _replace_args(args, nums, diff_trees):
    args = list(args)
    for n, tree in zip(nums, diff_trees):
        args[n] = tree
    return tuple(args)


# ---------------------------------------------------------------- grad and grad_and_value
def grad_and_value(func, argnums=0, has_aux=False):
    """A function returning both the gradient of ``func``'s scalar output and the output itself.

    Args:
        func: a function returning a one-element (0-d) tensor, or ``(output, aux)`` when ``has_aux``.
        argnums: the positional argument (int) or arguments (tuple of ints) to differentiate; each
            may be a nested tuple/list/dict of tensors.
        has_aux: whether ``func`` also returns an auxiliary value (returned as it is, detached).

    Returns:
        A function of ``func``'s arguments returning ``(grads, output)``, or ``(grads, (output, aux))``;
        ``grads`` has the structure of the differentiated argument(s) (a tuple for a tuple ``argnums``).

    Raises:
        RuntimeError: if the output is not a scalar tensor, ``has_aux`` output is not a pair, or
            ``argnums`` is out of range.
    """
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        what = "grad_and_value(f)(*args)"
        nums, many = _check_argnums(argnums, args, what)
        flats, specs = zip(*(tree_flatten(args[n]) for n in nums))
        with _GradMode():
            inputs = _Inputs([x for f in flats for x in f], B.active_levels(), what)
            trees, k = [], 0
            for f, spec in zip(flats, specs):
                trees.append(tree_unflatten(inputs.wrapped[k:k + len(f)], spec))
                k += len(f)
            out = func(*_replace_args(args, nums, trees), **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError(f"{what}: output of function f should be a tuple: (output, aux) if "
                                       f"has_aux is True")
                out, aux = out
            if not isinstance(out, Tensor):
                raise RuntimeError(f"{what}: Expected f(*args) to return a Tensor, got {type(out)}")
            if out.ndim != 0:
                raise RuntimeError(f"{what}: Expected f(*args) to return a scalar Tensor, got tensor with "
                                   f"{out.ndim} dims. Maybe you wanted to use the vjp or jacrev APIs instead?")
            physical = B.to_physical(out, inputs.levels)
            import ember
            found = _backward([physical], [ember.ones_like(physical)], inputs)
        own = _own_nodes(inputs)
        grads = [_finish(B.from_physical(g, inputs.levels), own) for g in found]
        result, k = [], 0
        for f, spec in zip(flats, specs):
            result.append(tree_unflatten(grads[k:k + len(f)], spec))
            k += len(f)
        grads = tuple(result) if many else result[0]
        value = _finish(out, own)
        if has_aux:
            return grads, (value, _finish_tree(aux, own))
        return grads, value
    return wrapper


def _finish_tree(tree, own):
    flat, spec = tree_flatten(tree)
    return tree_unflatten([_finish(t, own) for t in flat], spec)


def grad(func, argnums=0, has_aux=False):
    """The gradient of a function with a scalar output, as a function.

    Args:
        func: a function returning a one-element (0-d) tensor, or ``(output, aux)`` when ``has_aux``.
        argnums: the positional argument (int) or arguments (tuple of ints) to differentiate.
        has_aux: whether ``func`` also returns an auxiliary value.

    Returns:
        A function of ``func``'s arguments returning the gradient (the structure of the differentiated
        argument(s)), or ``(gradient, aux)`` when ``has_aux``.

    Raises:
        RuntimeError: as for ``grad_and_value``.
    """
    inner = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        grads, value = inner(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return wrapper


# ---------------------------------------------------------------- vjp
def vjp(func, *primals, has_aux=False):
    """``func``'s outputs at ``primals`` and a function computing vector-Jacobian products there.

    Args:
        func: a function of tensors (or nested tuples/lists/dicts of them) returning tensors.
        *primals: the point to linearize at.
        has_aux: whether ``func`` returns ``(output, aux)``.

    Returns:
        ``(output, vjp_fn)`` or ``(output, vjp_fn, aux)``. ``vjp_fn(cotangents)`` takes cotangents of
        the output's structure and shapes and returns a tuple with one gradient per primal; it may be
        called several times and under ``vmap``.

    Raises:
        RuntimeError: if ``func`` returns a non-tensor, or ``has_aux`` output is not a pair.
    """
    what = "vjp(f, *primals)"
    flats, specs = zip(*(tree_flatten(p) for p in primals)) if primals else ((), ())
    with _GradMode():
        inputs = _Inputs([x for f in flats for x in f], B.active_levels(), what)
        trees, k = [], 0
        for f, spec in zip(flats, specs):
            trees.append(tree_unflatten(inputs.wrapped[k:k + len(f)], spec))
            k += len(f)
        out = func(*trees)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError(f"{what}: output of function f should be a tuple: (output, aux) if has_aux is "
                                   f"True")
            out, aux = out
        flat_out, out_spec = tree_flatten(out)
        for o in flat_out:
            if not isinstance(o, Tensor):
                raise RuntimeError(f"{what}: Expected f to be a function that has only Tensors as outputs, got "
                                   f"{type(o)}")
        physical = [B.to_physical(o, inputs.levels) for o in flat_out]
    own = _own_nodes(inputs)
    shapes = [o.shape for o in flat_out]

    def vjp_fn(cotangents):
        """Vector-Jacobian products of the linearized function.

        Args:
            cotangents: tensors of the outputs' structure and shapes.

        Returns:
            A tuple with one gradient per primal (each of that primal's structure).
        """
        flat_v, v_spec = tree_flatten(cotangents)
        if v_spec != out_spec:
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as pytree structure of "
                               f"outputs to the function. cotangents: {v_spec}, primal output: {out_spec}")
        for i, (v, shape) in enumerate(zip(flat_v, shapes)):
            if v.shape != shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {v.shape} and output[{i}] "
                                   f"has a shape of {shape}.")
        with _GradMode():
            vs = [B.to_physical(v, inputs.levels) for v in flat_v]
            found = _backward(physical, vs, inputs)
        grads = [_finish(B.from_physical(g, inputs.levels), own) for g in found]
        result, k = [], 0
        for f, spec in zip(flats, specs):
            result.append(tree_unflatten(grads[k:k + len(f)], spec))
            k += len(f)
        return tuple(result)

    value = _finish_tree(out, own)
    if has_aux:
        return value, vjp_fn, _finish_tree(aux, own)
    return value, vjp_fn


# ---------------------------------------------------------------- jacrev
def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """The Jacobian of ``func`` by reverse mode: ``vmap`` of ``vjp`` over the rows of an identity.

    Args:
        func: a function of tensors returning a tensor or a nested tuple/list/dict of tensors (or
            ``(output, aux)`` when ``has_aux``).
        argnums: the positional argument(s) to differentiate (int or tuple of ints).
        has_aux: whether ``func`` returns an auxiliary value too.
        chunk_size: how many rows of the Jacobian each vectorized pass computes (None: all; 1: a loop).
        _preallocate_and_copy: accepted for PyTorch compatibility; the result is the same.

    Returns:
        A function of ``func``'s arguments returning the Jacobian: for each output, a tensor of shape
        ``output.shape + input.shape`` (a tuple over inputs when ``argnums`` is a tuple), in the
        output's structure; with ``has_aux``, ``(jacobian, aux)``.

    Raises:
        ValueError: for a bad ``chunk_size``.
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import ember
        from ember.func._vmap import vmap
        nums, many = _check_argnums(argnums, args, "jacrev(f)(*args)")

        def partial(*diff):
            return func(*_replace_args(args, nums, diff), **kwargs)
        got = vjp(partial, *(args[n] for n in nums), has_aux=has_aux)
        out, vjp_fn = got[0], got[1]
        flat_out, out_spec = tree_flatten(out)
        sizes = [o.numel() for o in flat_out]
        total = sum(sizes)
        # the identity's rows, split into one cotangent per output
        basis, start = [], 0
        for o, n in zip(flat_out, sizes):
            eye = ember.eye(total, dtype=o.dtype, device=o.device)
            basis.append(eye[:, start:start + n].reshape((total,) + tuple(o.shape)))
            start += n
        rows = vmap(vjp_fn, chunk_size=chunk_size)(tree_unflatten(basis, out_spec))
        flat_in = [tree_flatten(r) for r in rows]   # per argnum: (leaves [total, *in], spec)
        jac_leaves, start = [], 0
        for o, n in zip(flat_out, sizes):
            per_arg = []
            for leaves, spec in flat_in:
                per_arg.append(tree_unflatten([g[start:start + n].reshape(tuple(o.shape) + tuple(g.shape[1:]))
                                               for g in leaves], spec))
            jac_leaves.append(tuple(per_arg) if many else per_arg[0])
            start += n
        jac = tree_unflatten(jac_leaves, out_spec)
        return (jac, got[2]) if has_aux else jac
    return wrapper
