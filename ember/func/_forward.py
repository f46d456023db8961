"""``ember.func``'s forward-mode transforms: ``jvp``, ``jacfwd``, ``linearize`` and ``hessian``.

They run the function on dual tensors (``ember.autograd.forward_ad``): one forward pass per
tangent. ``jacfwd`` pushes the basis tangents through one at a time (a column of the Jacobian
each); ``hessian`` is ``jacfwd`` of a reverse-mode Jacobian. As in PyTorch, forward levels do
not nest, so these transforms do not nest inside each other (``jacfwd(jacrev(f))`` does).
"""
from __future__ import annotations

import ember
from ember.autograd import forward_ad as fwAD
from ember.core import dual as _dual
from ember.core.tensor import Tensor
from ember.utils._pytree import tree_flatten, tree_unflatten

__all__ = ["jvp", "jacfwd", "linearize", "hessian"]


def _check_tensors(leaves, what, name):
    """``what``: the phrase before "only tensors" ("primals to be", "f(*primals) to return")."""
    for leaf in leaves:
        if not isinstance(leaf, Tensor):
            raise RuntimeError(f"{name}: expected {what} only tensors, got unsupported type {type(leaf)}")


def _split_aux(out, has_aux, name):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(f"{name}: output of function f should be a tuple: (output, aux) if has_aux is True")
    return out


def _detach_tree(tree):
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([t.detach() if isinstance(t, Tensor) else t for t in leaves], spec)


def _primal_and_tangent(t, strict=False):
    primal, tangent = fwAD.unpack_dual(t)
    if tangent is None:
        if strict:
            raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is independent of the inputs. "
                               "This is not allowed with strict=True.")
        tangent = ember.zeros_like(primal)
    return primal, tangent


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """The Jacobian-vector product of ``func`` at ``primals`` along ``tangents`` (forward mode).

    Args:
        func: a function of tensors returning a tensor or a nested tuple/list/dict of tensors.
        primals: a tuple of the arguments (each a tensor or a nested container of tensors).
        tangents: the tangents, a tuple of the same structure and shapes as ``primals``.
        strict: raise RuntimeError when an output does not depend on the inputs (no tangent reached it);
            by default such an output gets a zero tangent.
        has_aux: ``func`` returns ``(output, aux)``; ``aux`` is returned as it is.

    Returns:
        ``(output, jvp_out)`` (``(output, jvp_out, aux)`` with ``has_aux``): ``func(*primals)`` and
        its derivative along ``tangents``, of the output's structure.

    Raises:
        RuntimeError: ``primals`` is not a tuple, the structures or shapes differ, or ``func``
            returns something other than tensors.
    """
    name = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{name}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals).")
    flat_primals, primals_spec = tree_flatten(primals)
    flat_tangents, tangents_spec = tree_flatten(tangents)
    if primals_spec != tangents_spec:
        raise RuntimeError(f"{name}: Expected primals and tangents to have the same python structure. For example, "
                           f"if primals is a tuple of 3 tensors, tangents also must be. Got primals with structure "
                           f"{primals_spec} and tangents with structure {tangents_spec}")
    _check_tensors(flat_primals, "primals to be", name)
    _check_tensors(flat_tangents, "tangents to be", name)
    with fwAD.dual_level():
        duals = [fwAD.make_dual(p, t) for p, t in zip(flat_primals, flat_tangents)]
        result = func(*tree_unflatten(duals, primals_spec))
        out, aux = _split_aux(result, has_aux, name)
        flat_out, out_spec = tree_flatten(out)
        _check_tensors(flat_out, "f(*primals) to return", name)
        pairs = [_primal_and_tangent(o, strict) for o in flat_out]
    output = tree_unflatten([p for p, _ in pairs], out_spec)
    jvp_out = tree_unflatten([t for _, t in pairs], out_spec)
    if has_aux:
        return output, jvp_out, _detach_tree(aux)
    return output, jvp_out


def _argnums_tuple(argnums, n_args, name):
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    if not nums:
        raise RuntimeError(f"{name}: argnums must be non-empty")
    for a in nums:
        if not isinstance(a, int):
            raise RuntimeError(f"{name}: argnums must be int or Tuple[int, ...], got: {type(a)}")
        if not -n_args <= a < n_args:
            raise RuntimeError(f"Got argnum={a}, but only {n_args} positional inputs")
    return single, tuple(a % n_args for a in nums)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """A function computing the Jacobian of ``func`` with respect to argument(s) ``argnums``, by forward mode.

    Args:
        func: a function of tensors returning a tensor or a nested container of tensors.
        argnums: the position (int) or positions (tuple) of the arguments to differentiate.
        has_aux: ``func`` returns ``(output, aux)``; the Jacobian function then returns ``(jacobian, aux)``.
        randomness: ``'error'`` (the default): a random op in ``func`` raises RuntimeError; ``'same'``:
            random ops draw the same numbers for every column of the Jacobian (the random state is
            replayed); ``'different'``: each column draws afresh.

    Returns:
        A function of ``func``'s arguments returning the Jacobian: per output (of the output's
        structure) a tensor of shape ``output.shape + input.shape``; a tuple over the inputs when
        ``argnums`` is a tuple.
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or 'same'. Got {randomness}")

    def jacobian(*args):
        single, nums = _argnums_tuple(argnums, len(args), "jacfwd")
        flat_inputs = []
        for a in nums:
            leaves, _ = tree_flatten(args[a])
            _check_tensors(leaves, "inputs to be", "jacfwd")
            flat_inputs.append(leaves)
        every = [t for leaves in flat_inputs for t in leaves]
        state = ember.random.get_rng_state() if randomness != "different" else None
        columns = []      # per input leaf: per basis vector, the flat output tangents
        out_spec = outputs = aux = None
        for k, x in enumerate(every):
            per_basis = []
            n = x.numel()
            for i in range(max(n, 0)):
                if state is not None:
                    ember.random.set_rng_state(state)
                basis = ember.zeros(n, dtype=x.dtype, device=x.device)
                basis[i] = 1
                tangents = [basis.reshape(x.shape) if j == k else ember.zeros_like(t) for j, t in enumerate(every)]
                flat_out, out_spec, outputs, aux = _run_dual(func, args, nums, flat_inputs, tangents, has_aux)
                if randomness == "error" and not ember.equal(ember.random.get_rng_state(), state):
                    raise RuntimeError("vmap: called random operation while in randomness error mode. Please either "
                                       "use the 'same' or 'different' randomness flags on vmap or perform the "
                                       "randomness operation out of vmap")
                per_basis.append([t for _, t in flat_out])
            if n == 0:
                flat_out, out_spec, outputs, aux = _run_dual(func, args, nums, flat_inputs,
                                                             [ember.zeros_like(t) for t in every], has_aux)
            columns.append(per_basis)
        if outputs is None:  # no input tensors at all
            raise RuntimeError("jacfwd: expected at least one input tensor to differentiate")
        # jac[o][k]: output o's Jacobian with respect to input leaf k, shape o.shape + x.shape
        jacs_per_output = []
        for o, out in enumerate(outputs):
            per_input = []
            for k, x in enumerate(every):
                cols = [column[o] for column in columns[k]]
                if cols:
                    jac = ember.stack(cols, dim=-1)
                else:
                    jac = ember.zeros(tuple(out.shape) + (0,), dtype=out.dtype, device=out.device)
                per_input.append(jac.reshape(tuple(out.shape) + tuple(x.shape)))
            jacs_per_output.append(per_input)
        # regroup: the output structure outermost, then the argnums structure
        results = []
        for per_input in jacs_per_output:
            it = iter(per_input)
            grouped = []
            for a, leaves in zip(nums, flat_inputs):
                _, spec = tree_flatten(args[a])
                grouped.append(tree_unflatten([next(it) for _ in leaves], spec))
            results.append(grouped[0] if single else tuple(grouped))
        jac = tree_unflatten(results, out_spec)
        if not any(t.requires_grad for t in every):  # (hessian's inner pass records a graph of its own)
            leaves, spec = tree_flatten(jac)
            jac = tree_unflatten([t.detach() for t in leaves], spec)
        if has_aux:
            return jac, aux
        return jac
    return jacobian


def _run_dual(func, args, nums, flat_inputs, tangents, has_aux):
    """Run ``func`` once with the chosen arguments made dual: (flat (primal, tangent) pairs, spec, primals, aux)."""
    with fwAD.dual_level():
        it = iter(tangents)
        call_args = list(args)
        for a, leaves in zip(nums, flat_inputs):
            _, spec = tree_flatten(args[a])
            call_args[a] = tree_unflatten([fwAD.make_dual(t, next(it)) for t in leaves], spec)
        result = func(*call_args)
        out, aux = _split_aux(result, has_aux, "jvp(f, primals, tangents)")
        flat_out, out_spec = tree_flatten(out)
        _check_tensors(flat_out, "outputs of the function to be", "jacfwd")
        pairs = [_primal_and_tangent(o) for o in flat_out]
    return pairs, out_spec, [p for p, _ in pairs], (_detach_tree(aux) if has_aux else None)


def linearize(func, *primals):
    """``func``'s output at ``primals`` and a function giving its JVP there along any tangents.

    Args:
        func: a function of tensors returning a tensor or a nested container of tensors.
        primals: the arguments to linearize at.

    Returns:
        ``(output, jvp_fn)``: ``func(*primals)`` and ``jvp_fn(*tangents)``, which returns the
        derivative of the output along tangents of the primals' structure and shapes.
    """
    output = func(*primals)
    flat_primals, primals_spec = tree_flatten(primals)
    _check_tensors(flat_primals, "primals to be", "linearize")
    # the primal values are fixed: tangents go through the same function at a detached copy
    frozen = tree_unflatten([p.detach() for p in flat_primals], primals_spec)

    def jvp_fn(*tangents):
        flat_tangents, tangents_spec = tree_flatten(tangents)
        if tangents_spec != primals_spec:
            raise RuntimeError(f"Expected the tangents to have the structure of the primals ({primals_spec}), "
                               f"got {tangents_spec}")
        for i, (t, p) in enumerate(zip(flat_tangents, flat_primals)):
            if not isinstance(t, Tensor):
                raise RuntimeError(f"tangent:{i} is {type(t).__name__}, not a tensor")
            if tuple(t.shape) != tuple(p.shape):
                raise RuntimeError(f"tangent:{i} with shape {t.shape} in flattened pytree doesn't match the shape "
                                   f"{p.shape} of the corresponding primal.")
        return jvp(func, frozen, tangents)[1]
    return output, jvp_fn


def _differentiable_alias(t):
    """``t`` detached and requiring grad, keeping its forward-AD tangent (``jacfwd`` of ``hessian``)."""
    tangent = fwAD.unpack_dual(t).tangent
    fresh = t.detach().requires_grad_(True)
    if tangent is not None:
        _dual.set_tangent(fresh, tangent)
    return fresh


def _jacrev(func, argnums):
    """A reverse-mode Jacobian, one backward pass per output element (used by ``hessian``)."""
    def jacobian(*args):
        single, nums = _argnums_tuple(argnums, len(args), "hessian")
        inputs = []
        call_args = list(args)
        for a in nums:
            leaves, spec = tree_flatten(args[a])
            _check_tensors(leaves, "inputs to be", "hessian")
            fresh = [t if t.requires_grad else _differentiable_alias(t) for t in leaves]
            inputs.append((fresh, spec))
            call_args[a] = tree_unflatten(fresh, spec)
        with ember.enable_grad():
            out = func(*call_args)
            if not isinstance(out, Tensor):
                raise RuntimeError("hessian: expected the function to return a single tensor")
            every = [t for fresh, _ in inputs for t in fresh]
            flat_out = out.reshape(-1)
            rows = []
            for i in range(flat_out.numel()):
                grads = ember.autograd.grad(flat_out[i], every, retain_graph=True, create_graph=True,
                                            allow_unused=True)
                rows.append([ember.zeros_like(x) if g is None else g for g, x in zip(grads, every)])
        jacs = []
        for k, x in enumerate(every):
            if rows:
                jac = ember.stack([r[k] for r in rows], 0)
            else:
                jac = ember.zeros((0,) + tuple(x.shape), dtype=x.dtype, device=x.device)
            jacs.append(jac.reshape(tuple(out.shape) + tuple(x.shape)))
        it = iter(jacs)
        grouped = [tree_unflatten([next(it) for _ in fresh], spec) for fresh, spec in inputs]
        return grouped[0] if single else tuple(grouped)
    return jacobian


def hessian(func, argnums=0):
    """A function computing the Hessian of a scalar-valued ``func``: ``jacfwd`` of its reverse-mode Jacobian.

    Args:
        func: a function of tensors returning one tensor.
        argnums: the position (int) or positions (tuple) of the arguments to differentiate.

    Returns:
        A function of ``func``'s arguments returning the Hessian, of shape
        ``output.shape + input.shape + input.shape`` (nested tuples for tuple ``argnums``).
    """
    return jacfwd(_jacrev(func, argnums), argnums)
