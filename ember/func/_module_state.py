"""Modules as functions of their state: ``functional_call`` and ``stack_module_state``."""
from __future__ import annotations

__all__ = ["functional_call", "stack_module_state"]


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True,
                    strict=False):
    """Call ``module`` with the given tensors in place of its own parameters and buffers.

    The module itself is unchanged afterwards; gradients flow to the tensors passed in.

    Args:
        module: the module to call.
        parameter_and_buffer_dicts: a dict from dotted names (as ``named_parameters`` gives them)
            to tensors, or a tuple of such dicts (a name may appear in only one, else
            ``ValueError``). Names the module lacks are set as attributes for the call.
        args: the positional arguments (a non-tuple value is a single argument).
        kwargs: the keyword arguments.
        tie_weights: if True, a value given for one of several tied names (one tensor registered
            under several names) serves them all; different values for tied names raise
            ``ValueError``.
        strict: if True, the dicts must name exactly the module's parameters and buffers
            (else ``RuntimeError`` listing the unexpected and missing keys).

    Returns:
        The module's output.
    """
    from ember.nn.utils.stateless import _functional_call
    return _functional_call(module, parameter_and_buffer_dicts, args, kwargs, tie_weights=tie_weights,
                            strict=strict)


def _stack(tensors, name):
    from ember.ops.shape import stack
    requires = [t.requires_grad for t in tensors]
    if any(requires) and not all(requires):
        raise RuntimeError(f"Expected {name} from each model to have the same .requires_grad")
    result = stack([t.detach() for t in tensors])
    return result.requires_grad_() if all(requires) else result


def stack_module_state(models):
    """Stack the parameters and buffers of identically built models, for ensembling with ``vmap``.

    Args:
        models: a non-empty sequence of modules of one class, all in the same training mode.

    Returns:
        ``(params, buffers)``: dicts from names to tensors with a new leading dimension (one
        entry per model); the stacked parameters are new leaves that require grad when the
        models' do.
    """
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or all(not m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    if len({type(m) for m in models}) != 1:
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    params = {name: _stack([dict(m.named_parameters())[name] for m in models], name)
              for name, _ in models[0].named_parameters()}
    buffers = {name: _stack([dict(m.named_buffers())[name] for m in models], name)
               for name, _ in models[0].named_buffers()}
    return params, buffers
