"""Call a module with some of its parameters and buffers replaced, leaving the module unchanged."""
from __future__ import annotations

import contextlib
import warnings

__all__ = ["functional_call"]


def _owner(module, key):
    """(the submodule holding ``key``, the attribute name)."""
    path, _, name = key.rpartition(".")
    return (module.get_submodule(path) if path else module), name


def _tied_groups(module):
    """Names of every parameter and buffer, grouped by the tensor object they share."""
    groups = {}
    for name, tensor in list(module.named_parameters(remove_duplicate=False)) + \
            list(module.named_buffers(remove_duplicate=False)):
        groups.setdefault(id(tensor), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def _with_tied(module, values):
    """``values`` extended to every name tied to a given one (PyTorch's ``tie_weights``)."""
    values = dict(values)
    for names in _tied_groups(module):
        given = [n for n in names if n in values]
        if not given:
            continue
        first = values[given[0]]
        if any(values[n] is not first for n in given[1:]):
            raise ValueError(f"functional_call got multiple values for keys {sorted(given)}, which are tied. "
                             f"Consider using tie_weights=False")
        for n in names:
            values[n] = first
    return values


@contextlib.contextmanager
def _reparametrize_module(module, values, tie_weights=True, strict=False):
    """Within the block, ``module``'s tensors named in ``values`` are those values."""
    if tie_weights:
        values = _with_tied(module, values)
    if strict:
        expected = {n for n, _ in module.named_parameters(remove_duplicate=False)} | \
            {n for n, _ in module.named_buffers(remove_duplicate=False)}
        unexpected = sorted(set(values) - expected)
        missing = sorted(expected - set(values))
        if unexpected or missing:
            lines = []
            if unexpected:
                lines.append("Unexpected key(s): " + ", ".join(f"'{k}'" for k in unexpected) + ".")
            if missing:
                lines.append("Missing key(s): " + ", ".join(f"'{k}'" for k in missing) + ".")
            raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t" + "\n\t".join(lines))
    from ember.nn.utils import parametrize
    saved = []   # (owner, name, registry or None, previous value, had the attribute)
    cache = contextlib.ExitStack()
    cached_before = []   # (cache slot, previous entry) when a parametrized tensor is replaced
    try:
        for key, value in values.items():
            owner, name = _owner(module, key)
            if parametrize.is_parametrized(owner, name):
                # a parametrized tensor is a property: serve the value from the parametrization cache
                if not parametrize._cache_depth:
                    cache.enter_context(parametrize.cached())
                slot = (id(owner), name)
                cached_before.append((slot, parametrize._cache.get(slot)))
                parametrize._cache[slot] = value
                continue
            for registry in ("_parameters", "_buffers"):
                slots = owner.__dict__[registry]
                if name in slots:
                    saved.append((owner, name, registry, slots[name], True))
                    slots[name] = value   # any tensor may sit in the slot while the call runs
                    break
            else:
                had = name in owner.__dict__
                saved.append((owner, name, None, owner.__dict__.get(name), had))
                owner.__dict__[name] = value
        yield
    finally:
        for slot, previous in reversed(cached_before):
            if previous is None:
                parametrize._cache.pop(slot, None)
            else:
                parametrize._cache[slot] = previous
        cache.close()
        for owner, name, registry, previous, had in reversed(saved):
            if registry is not None:
                owner.__dict__[registry][name] = previous
            elif had:
                owner.__dict__[name] = previous
            else:
                owner.__dict__.pop(name, None)


def _merge(parameter_and_buffer_dicts):
    if isinstance(parameter_and_buffer_dicts, dict):
        return parameter_and_buffer_dicts
    merged, repeated = {}, []
    for d in parameter_and_buffer_dicts:
        for key, value in d.items():
            if key in merged:
                repeated.append(key)
            merged[key] = value
    if repeated:
        raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
    return merged


def _functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True,
                     strict=False):
    values = _merge(parameter_and_buffer_dicts)
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize_module(module, values, tie_weights=tie_weights, strict=strict):
        return module(*args, **(kwargs or {}))


def functional_call(module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """Call ``module`` with the tensors in ``parameters_and_buffers`` in place of its own (deprecated name).

    Use ``ember.func.functional_call``; this one emits a ``FutureWarning`` and then does the same.

    Args:
        module: the module to call.
        parameters_and_buffers: a dict from dotted names (as in ``named_parameters``) to tensors.
        args: the positional arguments (a single non-tuple value is one argument).
        kwargs: the keyword arguments.
        tie_weights: if True, a value given for one of several tied names is used for all of them.
        strict: if True, the dict must name exactly the module's parameters and buffers.

    Returns:
        The module's output.
    """
    warnings.warn("`nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 and will be removed "
                  "in a future version of PyTorch. Please use `ember.func.functional_call` instead which is a "
                  "drop-in replacement.", FutureWarning, stacklevel=2)
    return _functional_call(module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=strict)
