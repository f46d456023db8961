"""``ember.compiler``'s switches: stance, default backend, guard filters, numpy wrapping."""
from __future__ import annotations

import functools
import inspect

from ember._dynamo.eval_frame import STANCES, Stance


class set_stance:
    """Set the compiler's stance: now (a call), inside a block (``with``) or a function's calls
    (a decorator).

    Args:
        stance: ``"default"``; ``"force_eager"`` (compiled functions run eagerly);
            ``"eager_on_recompile"`` (graphs already captured are replayed, new inputs run
            eagerly); ``"fail_on_recompile"`` (a capture after the first raises
            ``RuntimeError``); ``"eager_then_compile"``/``"aot_eager_then_compile"`` (a compiled
            function's first call runs eagerly, later calls capture).
        skip_guard_eval_unsafe: a function with one guard key replays its graphs without
            computing the key (unsafe: inputs the graphs do not fit give wrong results).
        force_backend: with ``"default"``, the backend every capture uses.

    Raises:
        RuntimeError: inside a capture, for an unknown stance, or ``force_backend`` with another stance.
    """

    def __init__(self, stance: str = "default", *, skip_guard_eval_unsafe: bool = False, force_backend=None):
        from ember._dynamo.api import is_compiling
        if is_compiling():
            raise RuntimeError("attempted to set_stance in a torch.compile region")
        if force_backend is not None and stance != "default":
            raise RuntimeError("non-default stance cannot have force_backend set")
        if stance not in STANCES:
            raise RuntimeError(f"invalid torch.compile stance {stance!r}; valid stances: {', '.join(STANCES)}")
        if force_backend is not None:
            from ember._dynamo.api import _check
            _check(force_backend, None, None)
        self.stance = (stance, skip_guard_eval_unsafe, force_backend)
        self.prev = _set(self.stance)

    def __call__(self, fn):
        _set(self.prev)   # as a decorator the stance applies to fn's calls only

        @functools.wraps(fn)
        def with_stance(*args, **kwargs):
            prev = _set(self.stance)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(prev)
        return with_stance

    def __enter__(self):
        _set(self.stance)
        return self

    def __exit__(self, *exc):
        _set(self.prev)
        return False


def _set(stance):
    prev = (Stance.stance, Stance.skip_guard_eval_unsafe, Stance.backend)
    Stance.stance, Stance.skip_guard_eval_unsafe, Stance.backend = stance
    return prev


def get_default_backend():
    """The backend ``ember.compile`` uses when none is given (initially ``"inductor"``).

    Returns:
        A backend name or callable.
    """
    return Stance.default_backend


def set_default_backend(backend) -> None:
    """Set the backend ``ember.compile`` uses when none is given (None: back to ``"inductor"``).

    Args:
        backend: a backend name, a callable backend, or None.

    Raises:
        ember._dynamo.exc.InvalidBackend: for an unknown name.
    """
    if backend is None:
        backend = "inductor"
    from ember._dynamo.api import _check
    _check(backend, None, None)
    Stance.default_backend = backend


def is_exporting() -> bool:
    """Whether ``ember.export`` is capturing a program right now.

    Returns:
        True inside the exported program's traced run.
    """
    from ember.export._program import EXPORTING
    return EXPORTING[0] > 0


def compile(*args, **kwargs):
    """``ember.compile`` (the same arguments).

    Returns:
        What ``ember.compile`` returns.
    """
    from ember._dynamo.api import compile as compile_
    return compile_(*args, **kwargs)


def cudagraph_mark_step_begin() -> None:
    """Mark the start of an iteration for CUDA-graph trees. ember's compiled code records no
    CUDA graphs (``mode="reduce-overhead"`` compiles as ``"default"``), so there are no
    recorded outputs to free and nothing changes."""
    return None


# ---------------------------------------------------------------- guard filters (options={"guard_filter_fn": ...})
def skip_guard_on_globals_unsafe(guard_entries) -> list:
    """Guard filter: drop the guards on global state (grad mode, active modes, autocast).

    Args:
        guard_entries: the ``GuardFilterEntry`` list.

    Returns:
        One keep-flag per entry.
    """
    return [not entry.is_global for entry in guard_entries]


def skip_all_guards_unsafe(guard_entries) -> list:
    """Guard filter: drop every guard (the first graph is replayed for any input of the same structure).

    Args:
        guard_entries: the ``GuardFilterEntry`` list.

    Returns:
        One keep-flag per entry (all False).
    """
    return [False for _ in guard_entries]


def keep_tensor_guards_unsafe(guard_entries, keep_parameters: bool = False) -> list:
    """Guard filter: keep only the guards on tensors (shape, dtype, device, requires_grad).

    Args:
        guard_entries: the ``GuardFilterEntry`` list.
        keep_parameters: keep the guards on the module's parameters too.

    Returns:
        One keep-flag per entry.
    """
    from ember.nn.parameter import Parameter
    return [entry.guard_type == "TENSOR_MATCH" and (keep_parameters or not isinstance(entry.value, Parameter))
            for entry in guard_entries]


def keep_portable_guards_unsafe(guard_entries) -> list:
    """Guard filter: keep the guards on global context and on the inputs' tensor metadata.

    Args:
        guard_entries: the ``GuardFilterEntry`` list.

    Returns:
        One keep-flag per entry.
    """
    return [entry.guard_type in ("GLOBAL_STATE", "SHAPE_ENV") or
            (entry.guard_type == "TENSOR_MATCH" and not entry.is_global) for entry in guard_entries]


def skip_guard_on_all_nn_modules_unsafe(guard_entries) -> list:
    """Guard filter: drop the guards on module state (``training`` flags, parameters).

    Args:
        guard_entries: the ``GuardFilterEntry`` list.

    Returns:
        One keep-flag per entry.
    """
    return [not entry.orig_guard.source.is_unspecialized_nn_module() for entry in guard_entries]


def skip_guard_on_inbuilt_nn_modules_unsafe(guard_entries) -> list:
    """Guard filter: drop the guards on module state when every module is one of ember's own
    (``nn.Linear`` ...), keeping them for user-defined modules.

    Args:
        guard_entries: the ``GuardFilterEntry`` list.

    Returns:
        One keep-flag per entry.
    """
    return [not entry.orig_guard.source.is_unspecialized_builtin_nn_module() for entry in guard_entries]


# ---------------------------------------------------------------- functions
def wrap_numpy(fn):
    """Make a function of numpy arrays a function of tensors: tensor arguments arrive as
    arrays (copied to the host), array results come back as tensors on the inputs' device.
    Inside a compiled program the call is one node of the graph.

    Args:
        fn: a function taking and returning ``numpy.ndarray`` values (nested in lists,
            tuples and dicts allowed).

    Returns:
        The wrapped function.
    """
    import numpy as np
    from ember.core.tensor import Tensor
    from ember.utils._pytree import tree_map

    def run(*args, **kwargs):
        devices = [x.device for x in _leaves((args, kwargs)) if isinstance(x, Tensor)]
        a, k = tree_map(lambda x: x.detach().cpu().numpy() if isinstance(x, Tensor) else x, (args, kwargs))
        out = fn(*a, **k)

        def back(x):
            if isinstance(x, np.ndarray):
                import ember
                t = ember.from_numpy(np.ascontiguousarray(x))
                return t.to(devices[0]) if devices else t
            return x
        return tree_map(back, out)
    from ember._dynamo.decorators import allow_in_graph
    return allow_in_graph(functools.wraps(fn)(run))


def _leaves(tree):
    from ember.utils._pytree import tree_flatten
    return tree_flatten(tree)[0]


def substitute_in_graph(original_fn, *, can_constant_fold_through: bool = False, skip_signature_check: bool = False):
    """Register a Python replacement of ``original_fn`` used while a program is captured.

    The returned decorator takes the replacement and returns a function that calls the
    replacement inside a capture and ``original_fn`` outside it.

    Args:
        original_fn: the function to replace while capturing.
        can_constant_fold_through: with only constant (non-tensor) arguments, call
            ``original_fn`` itself even while capturing.
        skip_signature_check: do not require the replacement's signature to equal ``original_fn``'s.

    Returns:
        The decorator.

    Raises:
        TypeError: if ``original_fn`` is not callable, or the signatures differ.
    """
    if not callable(original_fn):
        raise TypeError(f"original_fn must be callable, got {original_fn!r}")

    def decorate(replacement):
        if not skip_signature_check:
            try:
                a, b = inspect.signature(original_fn), inspect.signature(replacement)
            except (TypeError, ValueError):
                a = b = None
            if a is not None and a != b:
                raise TypeError(f"Signature mismatch between {original_fn} and {replacement}: {a} != {b}")
        from ember._dynamo.api import is_compiling
        from ember.core.tensor import Tensor

        @functools.wraps(original_fn)
        def substituted(*args, **kwargs):
            if is_compiling():
                if can_constant_fold_through and not any(isinstance(x, Tensor) for x in _leaves((args, kwargs))):
                    return original_fn(*args, **kwargs)
                return replacement(*args, **kwargs)
            return original_fn(*args, **kwargs)
        substituted.__torch_dynamo_polyfill__ = replacement
        return substituted
    return decorate


def nested_compile_region(fn=None, *, options=None, max_reuse_entries: int = 8, reuse_hash_fn=None):
    """Mark a function as a region a compiled program calls repeatedly. Eagerly it is ``fn``;
    ember captures each call's ops into the enclosing graph, which gives the same results
    (its compiled code is not shared between calls).

    Args:
        fn: the function (omitted: returns the decorator).
        options: accepted for PyTorch's signature.
        max_reuse_entries: accepted for PyTorch's signature.
        reuse_hash_fn: accepted for PyTorch's signature.

    Returns:
        The marked function (or the decorator).
    """
    def decorate(f):
        @functools.wraps(f)
        def region(*args, **kwargs):
            return f(*args, **kwargs)
        region._ember_nested_compile_region = True
        return region
    return decorate(fn) if fn is not None else decorate


# ---------------------------------------------------------------- cache artifacts
class CacheInfo:
    """What a cache-artifact blob holds: ``artifacts`` maps a kind (``"ember_code"``: the
    compiled Python code of ``ember.compile``'s graphs) to the keys of its entries."""

    def __init__(self, artifacts=None):
        import collections
        self.artifacts = collections.defaultdict(list, artifacts or {})

    @property
    def ember_code_artifacts(self) -> list:
        """The source-hash keys of the compiled graph code."""
        return list(self.artifacts.get("ember_code", []))

    def __repr__(self):
        return f"CacheInfo(artifacts={dict(self.artifacts)!r})"


_FORMAT = "ember-compile-cache-1"


def save_cache_artifacts():
    """Serialize the compiled code of every graph ``ember.compile`` built in this process.

    Returns:
        ``(bytes, CacheInfo)``, or None when nothing was compiled.
    """
    import base64
    import json
    import marshal
    import sys
    from ember.fx.graph_module import COMPILED_CODE
    if not COMPILED_CODE:
        return None
    doc = {"format": _FORMAT, "python": list(sys.version_info[:2]),
           "ember_code": {k: base64.b64encode(marshal.dumps(c)).decode() for k, c in COMPILED_CODE.items()}}
    return json.dumps(doc).encode(), CacheInfo({"ember_code": sorted(COMPILED_CODE)})


def load_cache_artifacts(serialized_artifacts: bytes):
    """Load artifacts from ``save_cache_artifacts``: graphs captured later whose generated code
    is one of them reuse the saved code object instead of compiling it.

    Args:
        serialized_artifacts: the bytes ``save_cache_artifacts`` returned.

    Returns:
        The ``CacheInfo`` of what was loaded, or None for artifacts of another Python version.

    Raises:
        ValueError: for bytes that are not ember compile-cache artifacts.
    """
    import base64
    import json
    import marshal
    import sys
    from ember.fx.graph_module import LOADED_CODE
    try:
        doc = json.loads(bytes(serialized_artifacts).decode())
        ok = doc.get("format") == _FORMAT
    except (ValueError, UnicodeDecodeError, AttributeError):
        ok = False
    if not ok:
        raise ValueError("not ember compile-cache artifacts (save_cache_artifacts() makes them)")
    if list(doc["python"]) != list(sys.version_info[:2]):
        return None   # code objects are specific to a Python version
    for key, blob in doc["ember_code"].items():
        LOADED_CODE[key] = marshal.loads(base64.b64decode(blob))
    return CacheInfo({"ember_code": sorted(doc["ember_code"])})
