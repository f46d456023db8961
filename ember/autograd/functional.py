"""``ember.autograd.functional``: derivatives of a whole Python function (vjp, jvp, jacobian, hessian,
vhp, hvp), built on ``ember.autograd.grad``.

Reverse mode is one backward pass per output element (``jacobian``) or per product (``vjp``,
``vhp``). Forward-mode products (``jvp``, ``hvp``, ``strategy="forward-mode"``) use the
double-backward trick: the backward pass ``u -> J^T u`` is linear in ``u``, so differentiating it
with respect to a dummy ``u`` gives ``J v``. Every backward rule is written in ember ops, so all
of this runs on every device and, with ``create_graph=True``, differentiates again.
"""
from __future__ import annotations

from ember.autograd.api import grad as _grad
from ember.core.autograd import enable_grad, is_grad_enabled, set_grad_enabled
from ember.core.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

_STRATEGIES = ("forward-mode", "reverse-mode")


# ---------------------------------------------------------------- argument handling
def _as_tuple(value, arg_name, fn_name):
    """``(was a tuple, value as a tuple)``, every entry checked to be a Tensor."""
    if isinstance(value, tuple):
        for i, entry in enumerate(value):
            if not isinstance(entry, Tensor):
                raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                                f"but the value at index {i} has type {type(entry)}.")
        return True, value
    if not isinstance(value, Tensor):
        raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but the "
                        f"given {arg_name} has type {type(value)}.")
    return False, (value,)


def _unpack(result, was_tuple):
    """Undo ``_as_tuple``: one level (``was_tuple`` a bool) or two (a pair: outputs, inputs)."""
    if isinstance(was_tuple, tuple):
        outer, inner = was_tuple
        if not inner:
            result = tuple(entry[0] for entry in result)
        return result if outer else result[0]
    return result if was_tuple else result[0]


def _prepare(tensors, create_graph, need_graph):
    """Fresh differentiable handles on ``tensors``: a view when building a graph through a tensor that
    already requires grad (so the caller's graph is kept), else a detached leaf."""
    prepared = []
    for t in tensors:
        if create_graph and t.requires_grad:
            prepared.append(t.view_as(t))
        else:
            prepared.append(t.detach().requires_grad_(need_graph))
    return tuple(prepared)


def _finish(tensors, create_graph):
    """Detach results unless the caller asked for a graph through them (nested tuples too)."""
    if isinstance(tensors, Tensor):
        return tensors if create_graph else tensors.detach()
    if isinstance(tensors, tuple):
        return tuple(_finish(t, create_graph) for t in tensors)
    return tensors


def _check_v(v, others, others_tuple):
    if len(others) != len(v):
        if others_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(others)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (entry, other) in enumerate(zip(v, others)):
        if tuple(entry.shape) != tuple(other.shape):
            prefix = f"Entry {i} in v" if others_tuple else "v"
            raise RuntimeError(f"{prefix} has invalid size: should be {other.shape} but got {entry.shape}.")


def _require_grad(tensors, kind, strict):
    """In strict mode, refuse an entry that is None or does not require grad (PyTorch's messages)."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is "
                               f"not allowed in strict mode.")
        if t.requires_grad:
            continue
        if kind == "hessian":
            raise RuntimeError(f"The hessian of the user-provided function with respect to input {i} is "
                               f"independent of the input. This is not allowed in strict mode. You should ensure "
                               f"that your function is thrice differentiable and that the hessian depends on the "
                               f"inputs.")
        if kind == "jacobian":
            raise RuntimeError(f"While computing the hessian, found that the jacobian of the user-provided function "
                               f"with respect to input {i} is independent of the input. This is not allowed in "
                               f"strict mode. You should ensure that your function is twice differentiable and "
                               f"that the jacobian depends on the inputs (this would be violated by a linear "
                               f"function for example).")
        if kind == "grad_inputs":
            raise RuntimeError(f"The gradient with respect to input {i} is independent of the inputs of the "
                               f"user-provided function. This is not allowed in strict mode.")
        raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The outputs must "
                           f"be computed in a differentiable manner from the input when running in strict mode.")


_ZERO_FILL_ERRORS = {
    "back": "The output of the user-provided function is independent of input {i}. This is not allowed in "
            "strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the grad_outputs when "
                  "using the double backward trick to compute forward mode gradients. This is not allowed in "
                  "strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. This is not allowed "
                   "in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} in the "
                         "grad_jacobian. This is not allowed in strict mode as it prevents from using the double "
                         "backward trick to replace forward mode AD.",
}


def _zeros_for_none(grads, refs, strict, stage):
    """Gradients with each None (independent input) replaced by zeros, or an error in strict mode."""
    from ember.ops.creation import zeros_like
    filled = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_ZERO_FILL_ERRORS[stage].format(i=i))
            g = zeros_like(ref)
        filled.append(g)
    return tuple(filled)


def _backward(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """``autograd.grad`` over the outputs that require grad; None for inputs they do not reach."""
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else tuple(grad_outputs)
    kept = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not kept:
        return (None,) * len(inputs)
    return tuple(_grad([o for o, _ in kept], list(inputs), [g for _, g in kept], retain_graph=retain_graph,
                       create_graph=create_graph, allow_unused=True))


def _prepare_v(v, refs, refs_tuple, fn_name, create_graph, none_message):
    if v is None:
        if len(refs) != 1 or refs[0].numel() != 1:
            raise RuntimeError(none_message)
        return None
    _, v = _as_tuple(v, "v", fn_name)
    v = _prepare(v, create_graph, need_graph=False)
    _check_v(v, refs, refs_tuple)
    return v


_V_NONE_OUTPUT = ("The vector v can only be None if the user-provided function returns a single Tensor with a "
                  "single element.")
_V_NONE_INPUT = ("The vector v can only be None if the input to the user-provided function is a single Tensor with "
                 "a single element.")


# ---------------------------------------------------------------- products
def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """The vector-Jacobian product ``v^T J`` of ``func`` at ``inputs``.

    Args:
        func: a function of tensors returning a tensor or a tuple of tensors.
        inputs: the point, a tensor or a tuple of tensors.
        v: the vector, shaped as ``func``'s output(s); may be None only for a one-element output.
        create_graph: if True, the results are differentiable (for higher derivatives).
        strict: if True, raise ``RuntimeError`` when an output does not depend on the inputs,
            instead of returning zeros.

    Returns:
        ``(func_output, vjp)``, ``vjp`` shaped as ``inputs``.
    """
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vjp")
        _require_grad(outputs, "outputs", strict)
        v = _prepare_v(v, outputs, outputs_tuple, "vjp", create_graph, _V_NONE_OUTPUT)
        with set_grad_enabled(create_graph or is_grad_enabled()):
            result = _zeros_for_none(_backward(outputs, inputs, v, create_graph=create_graph), inputs, strict,
                                     "back")
    return _unpack(_finish(outputs, create_graph), outputs_tuple), _unpack(_finish(result, create_graph),
                                                                           inputs_tuple)


def _forward_product(outputs, inputs, v, create_graph, strict):
    """``J v`` by the double-backward trick (``outputs`` already computed from ``inputs`` under grad)."""
    from ember.ops.creation import zeros_like
    with enable_grad():
        # the backward is linear in these: their value never enters the result (zeros keep it finite)
        dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        grad_inputs = _backward(outputs, inputs, dummies, create_graph=True)
        _require_grad(grad_inputs, "grad_inputs", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        return _zeros_for_none(_backward(grad_inputs, dummies, v, create_graph=create_graph), outputs, strict,
                               "back_trick")


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """The Jacobian-vector product ``J v`` of ``func`` at ``inputs`` (by the double-backward trick).

    Args:
        func: a function of tensors returning a tensor or a tuple of tensors.
        inputs: the point, a tensor or a tuple of tensors.
        v: the tangent, shaped as ``inputs``; may be None only for a one-element input.
        create_graph: if True, the results are differentiable.
        strict: if True, raise ``RuntimeError`` when an output does not depend on the inputs.

    Returns:
        ``(func_output, jvp)``, ``jvp`` shaped as ``func``'s output(s).
    """
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _prepare_v(v, inputs, inputs_tuple, "jvp", create_graph, _V_NONE_INPUT)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jvp")
        _require_grad(outputs, "outputs", strict)
    result = _forward_product(outputs, inputs, v, create_graph, strict)
    return _unpack(_finish(outputs, create_graph), outputs_tuple), _unpack(_finish(result, create_graph),
                                                                           outputs_tuple)


# ---------------------------------------------------------------- jacobian, hessian
def _reverse_jacobian(outputs, inputs, create_graph, strict):
    """One backward pass per output element: row ``j`` of each block ``d outputs[i] / d inputs[k]``."""
    from ember.ops.creation import zeros_like
    from ember.ops.shape import stack
    blocks = []
    for i, out in enumerate(outputs):
        rows = [[] for _ in inputs]
        flat = out.reshape(-1)
        for j in range(out.numel()):
            grads = _backward((flat[j],), inputs, retain_graph=True, create_graph=create_graph)
            for k, (g, inp) in enumerate(zip(grads, inputs)):
                if g is None:
                    if strict:
                        raise RuntimeError(f"Output {i} of the user-provided function is independent of input "
                                           f"{k}. This is not allowed in strict mode.")
                    g = zeros_like(inp)
                elif strict and create_graph and not g.requires_grad:
                    raise RuntimeError(f"The jacobian of the user-provided function is independent of input {k}. "
                                       f"This is not allowed in strict mode when create_graph=True.")
                rows[k].append(g)
        blocks.append(tuple(_stack_rows(rows[k], out, inp, stack, zeros_like) for k, inp in enumerate(inputs)))
    return tuple(blocks)


def _stack_rows(rows, out, inp, stack, zeros_like):
    shape = tuple(out.shape) + tuple(inp.shape)
    if not rows:   # an empty output: an empty block
        from ember.ops.creation import zeros
        return zeros(shape, dtype=inp.dtype, device=inp.device)
    return stack(rows, 0).reshape(shape)


def _forward_jacobian(func, inputs):
    """Column by column: one forward-mode product (double-backward trick) per input element."""
    from ember.ops.creation import zeros_like
    from ember.ops.shape import stack
    with enable_grad():
        inputs = _prepare(inputs, False, need_graph=True)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
        # the backward pass, linear in the dummies, built once; each column differentiates it again
        dummies = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
        grad_inputs = _backward(outputs, inputs, dummies, create_graph=True)
    columns = [[[] for _ in inputs] for _ in outputs]
    for k, inp in enumerate(inputs):
        for e in range(inp.numel()):
            tangent = [zeros_like(t) for t in inputs]
            tangent[k] = tangent[k].reshape(-1).index_fill(0, _index(e, inp), 1.0).reshape(inp.shape)
            products = _zeros_for_none(_backward(grad_inputs, dummies, tangent, retain_graph=True), outputs,
                                       False, "back_trick")
            for i, p in enumerate(products):
                columns[i][k].append(p.detach())
    blocks = []
    for i, out in enumerate(outputs):
        row = []
        for k, inp in enumerate(inputs):
            shape = tuple(out.shape) + tuple(inp.shape)
            if not columns[i][k] or out.numel() == 0:
                from ember.ops.creation import zeros
                row.append(zeros(shape, dtype=out.dtype, device=out.device))
                continue
            # columns[i][k][e] is d out / d inp.flat[e]: stack them last, then restore the input's shape
            row.append(stack([c.reshape(-1) for c in columns[i][k]], -1).reshape(shape))
        blocks.append(tuple(row))
    return outputs_tuple, tuple(blocks)


def _index(e, like):
    from ember.ops.creation import tensor
    return tensor([e], device=like.device)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``.

    Args:
        func: a function of tensors returning a tensor or a tuple of tensors.
        inputs: the point, a tensor or a tuple of tensors.
        create_graph: if True, the Jacobian is differentiable (reverse mode only).
        strict: if True, raise ``RuntimeError`` when an output is independent of an input instead
            of returning zeros (not with ``vectorize=True`` or forward mode).
        vectorize: PyTorch's switch to batch the products; ember computes the same Jacobian with
            one product per row (or column). Forward mode requires it, as in PyTorch.
        strategy: ``"reverse-mode"`` (one backward pass per output element) or ``"forward-mode"``
            (one forward-mode product per input element, needs ``vectorize=True``).

    Returns:
        The Jacobian: for one input and one output a tensor of shape ``output.shape + input.shape``;
        a tuple over inputs and/or outputs (outputs outer) when either was a tuple.
    """
    if strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` and '
                                      '`strategy="forward-mode"` are not supported together (yet). Please either '
                                      'set `create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` are '
                               'not supported together (yet). Please either set `strict=False` or '
                               '`strategy="reverse-mode"`.')
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian is only "
                                      "implemented for `vectorize=True`.")
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        outputs_tuple, blocks = _forward_jacobian(func, inputs)
        return _unpack(blocks, (outputs_tuple, inputs_tuple))
    with enable_grad():
        inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        outputs_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
        _require_grad(outputs, "outputs", strict)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                               "supported together. Please either set `strict=False` or `vectorize=False`.")
        blocks = _reverse_jacobian(outputs, inputs, create_graph, strict)
    return _unpack(_finish(blocks, create_graph), (outputs_tuple, inputs_tuple))


def _scalar_output(out, fn_name, strict):
    outputs_tuple, outputs = _as_tuple(out, "outputs of the user-provided function", fn_name)
    _require_grad(outputs, "outputs", strict)
    if outputs_tuple or not isinstance(out, Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if out.numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn_name} should contain a single element")
    return outputs_tuple, outputs


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of the scalar function ``func`` at ``inputs`` (the Jacobian of its gradient).

    Args:
        func: a function of tensors returning a one-element tensor.
        inputs: the point, a tensor or a tuple of tensors.
        create_graph: if True, the Hessian is differentiable.
        strict: if True, raise ``RuntimeError`` when the gradient or Hessian is independent of an input.
        vectorize: as in ``jacobian``.
        outer_jacobian_strategy: the strategy of the outer Jacobian (``"reverse-mode"`` or
            ``"forward-mode"``); the inner gradient is always reverse mode.

    Returns:
        The Hessian: a tensor of shape ``input.shape + input.shape`` for one input, else a tuple of
        tuples, entry ``[i][j]`` being the block of inputs ``i`` and ``j``.
    """
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def single_output(*args):
        out = func(*args)
        _scalar_output(out, "hessian", strict)
        return out.squeeze()

    def gradient(*args):
        grads = jacobian(single_output, args, create_graph=True)
        _require_grad(grads, "jacobian", strict)
        return grads

    blocks = jacobian(gradient, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    return _unpack(blocks, (inputs_tuple, inputs_tuple))


def _gradient_at(func, inputs, v, name, create_graph, strict):
    """What vhp and hvp start from (under enable_grad): the prepared inputs and ``v``, the scalar
    output, and its gradient with a graph (to be differentiated once more)."""
    inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
    inputs = _prepare(inputs, create_graph, need_graph=True)
    v = _prepare_v(v, inputs, inputs_tuple, name, create_graph, _V_NONE_INPUT)
    outputs_tuple, outputs = _scalar_output(func(*inputs), name, strict)
    gradient = _backward(outputs, inputs, create_graph=True)
    _require_grad(gradient, "jacobian", strict)
    return inputs_tuple, inputs, v, outputs_tuple, outputs, gradient


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """The vector-Hessian product ``v^T H`` of the scalar function ``func`` at ``inputs``.

    Args:
        func: a function of tensors returning a one-element tensor.
        inputs: the point, a tensor or a tuple of tensors.
        v: the vector, shaped as ``inputs``; may be None only for a one-element input.
        create_graph: if True, the results are differentiable.
        strict: if True, raise ``RuntimeError`` when the gradient or Hessian is independent of an input.

    Returns:
        ``(func_output, vhp)``, ``vhp`` shaped as ``inputs``.
    """
    with enable_grad():
        inputs_tuple, inputs, v, outputs_tuple, outputs, gradient = _gradient_at(func, inputs, v, "vhp",
                                                                                 create_graph, strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        result = _zeros_for_none(_backward(gradient, inputs, v, create_graph=create_graph), inputs, strict,
                                 "double_back")
    return _unpack(_finish(outputs, create_graph), outputs_tuple), _unpack(_finish(result, create_graph),
                                                                           inputs_tuple)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """The Hessian-vector product ``H v`` of the scalar function ``func`` at ``inputs``.

    Computed as a forward-mode product of the gradient (the double-backward trick), so it is the
    transpose of ``vhp`` (equal for a twice continuously differentiable ``func``).

    Args:
        func: a function of tensors returning a one-element tensor.
        inputs: the point, a tensor or a tuple of tensors.
        v: the vector, shaped as ``inputs``; may be None only for a one-element input.
        create_graph: if True, the results are differentiable.
        strict: if True, raise ``RuntimeError`` when the gradient or Hessian is independent of an input.

    Returns:
        ``(func_output, hvp)``, ``hvp`` shaped as ``inputs``.
    """
    from ember.ops.creation import zeros_like
    with enable_grad():
        inputs_tuple, inputs, v, outputs_tuple, outputs, gradient = _gradient_at(func, inputs, v, "hvp",
                                                                                 create_graph, strict)
        dummies = tuple(zeros_like(t).requires_grad_(True) for t in inputs)
        double_back = _backward(gradient, inputs, dummies, create_graph=True)
        _require_grad(gradient, "hessian", strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        result = _zeros_for_none(_backward(double_back, dummies, v, create_graph=create_graph), inputs, strict,
                                 "double_back_trick")
    return _unpack(_finish(outputs, create_graph), outputs_tuple), _unpack(_finish(result, create_graph),
                                                                           inputs_tuple)
