"""Plugin discovery: the pluggy manager, the ``ember.backends`` entry points, and the
backends they provide. Loaded once, at first use; a plugin that fails to load is
recorded with its error and never breaks the others.

Loading a plugin only imports its module and asks for its Backend. Whether the device
is usable (which may mean importing a large library and probing a driver, as the CUDA
plugin does) is asked the first time that device type is looked up, and its kernels are
registered then: CPU-only work never pays for the probes of other backends.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
import traceback

import pluggy

from ember.core import device as device_module
from ember.dispatch import hookspecs
from ember.dispatch.ops import OPS

ENTRY_POINT_GROUP = "ember.backends"
# Used only when ember runs from a source tree that was never pip-installed.
_BUILTIN_MODULES = {"cpu": "ember.plugins.cpu", "cuda": "ember.plugins.cuda", "rocm": "ember.plugins.rocm",
                    "mps": "ember.plugins.mps"}


class PluginFailure:
    def __init__(self, name, error, detail):
        self.name, self.error, self.detail = name, error, detail

    def __str__(self):
        return (f"ember backend plugin '{self.name}' failed to load: {self.error}. "
                f"To skip it, select the plugins to load, e.g. EMBER_BACKENDS=cpu")


class Registry:
    def __init__(self):
        self.manager = None
        self.backends = {}      # device type -> Backend (available or not)
        self.plugin_of = {}     # device type -> plugin (entry point) name
        self.failures = []      # PluginFailure
        self._fusion = {}       # device type -> FusionCompiler or None (asked on first use)
        self.skipped = []       # entry points not selected by EMBER_BACKENDS
        self._pending = {}      # device type -> (plugin, name): kernels not registered yet
        self._plugins = {}      # device type -> plugin module

    # ---- discovery
    def load(self):
        if self.manager is not None:
            return
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        selected = os.environ.get("EMBER_BACKENDS")
        selected = {s.strip() for s in selected.split(",") if s.strip()} if selected else None
        candidates = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
        for name, module in _BUILTIN_MODULES.items():
            candidates.setdefault(name, module)
        for name, source in sorted(candidates.items(), key=lambda kv: kv[0] != "cpu"):
            # the CPU backend is the reference every other one is checked against: always loaded
            if selected is not None and name not in selected and name != "cpu":
                self.skipped.append(name)
                continue
            self._load_plugin(name, source)

    def _hook(self, plugin, name):
        """The hook ``name`` of one plugin, called through the plugin manager (so a failing
        plugin is attributed to itself and never breaks the others)."""
        others = [p for p in self.manager.get_plugins() if p is not plugin]
        return self.manager.subset_hook_caller(name, remove_plugins=others)

    def _load_plugin(self, name, source):
        try:
            plugin = importlib.import_module(source) if isinstance(source, str) else source.load()
            self.manager.register(plugin, name=name)
            backend = self._hook(plugin, "ember_backend")()
            if backend is None:
                raise TypeError("its ember_backend hook returned nothing (is it marked with @hookimpl?)")
            if not backend.device_type or not backend.dispatch_key:
                raise TypeError(f"its Backend {type(backend).__name__} must set device_type and dispatch_key")
        except Exception as exc:  # a broken plugin must not break ember
            if self.manager.get_plugin(name) is not None:
                self.manager.unregister(name=name)
            self.failures.append(PluginFailure(name, f"{type(exc).__name__}: {exc}",
                                               traceback.format_exc()))
            return
        self.backends[backend.device_type] = backend
        device_module.register_device_type(backend.device_type)
        self.plugin_of[backend.device_type] = name
        self._plugins[backend.device_type] = plugin
        self._pending[backend.device_type] = (plugin, name)  # registered at the first lookup

    def _register_pending(self, device_type):
        plugin, name = self._pending[device_type]
        backend = self.backends[device_type]
        try:
            available = backend.is_available()
        except Exception as exc:  # unavailable_reason must not raise; if it does, say so
            del self._pending[device_type]
            self.failures.append(PluginFailure(name, f"availability check failed: {type(exc).__name__}: {exc}",
                                               traceback.format_exc()))
            return
        if available:  # an unavailable device stays pending: it is asked again at the next lookup
            del self._pending[device_type]
            self._register_kernels(plugin, backend, name)

    def _register_kernels(self, plugin, backend, name):
        try:
            table = self._hook(plugin, "ember_kernels")(backend=backend)
            if table is None:
                raise TypeError("its ember_kernels hook returned no kernel table")
            for op_name, kernel in table.items():
                op = OPS.get(op_name)
                if op is None:
                    raise KeyError(f"plugin '{name}' registers a kernel for unknown op '{op_name}'")
                check_kernel_signature(op, kernel, name)
                op.kernels[backend.dispatch_key] = kernel
                op.resolved.clear()
        except Exception as exc:
            self.failures.append(PluginFailure(name, f"kernel registration failed: {type(exc).__name__}: {exc}",
                                               traceback.format_exc()))

    def kernel_names(self, device_type) -> frozenset | None:
        """The op names a backend has kernels for, available or not (None: it cannot say)."""
        self.load()
        backend = self.backends[device_type]
        if device_type not in self._pending:  # registered: read the dispatch table itself
            return frozenset(n for n, op in OPS.items() if backend.dispatch_key in op.kernels)
        names = self._hook(self._plugins[device_type], "ember_kernel_names")(backend=backend)
        return None if names is None else frozenset(names)

    def fusion_compiler(self, device_type):
        """The backend's ``FusionCompiler`` (``ember.dispatch.fusion``), or None: asked once per
        device type, the first time a compiled graph runs there."""
        if device_type not in self._fusion:
            backend = self.available_backend(device_type)
            compiler = None
            plugin = self._plugins.get(device_type)
            if plugin is not None:
                try:
                    compiler = self._hook(plugin, "ember_fusion_compiler")(backend=backend)
                except Exception as exc:  # a broken compiler must not break compiled graphs: run unfused
                    self.failures.append(PluginFailure(device_type, f"fusion compiler failed: "
                                                       f"{type(exc).__name__}: {exc}", traceback.format_exc()))
            self._fusion[device_type] = compiler
        return self._fusion[device_type]

    def register_plugin(self, plugin, name):
        """Register a plugin object at run time (tests, notebooks)."""
        self.load()
        self._load_plugin(name, _Loaded(plugin))

    # ---- lookup
    def backend(self, device_type: str):
        backend = self.backends.get(device_type)
        if backend is None:
            self.load()
            backend = self.backends.get(device_type)
            if backend is None:
                known = ", ".join(sorted(self.backends)) or "none"
                failed = "".join(f"; {f}" for f in self.failures)
                raise RuntimeError(f"no ember backend provides device type '{device_type}' "
                                   f"(loaded backends: {known}{failed})")
        if device_type in self._pending:
            self._register_pending(device_type)
        return backend

    def probe_all(self):
        """Load every plugin, check each device's availability and register its kernels."""
        self.load()
        for device_type in list(self._pending):
            self.backend(device_type)

    def available_backend(self, device_type: str):
        backend = self.backend(device_type)
        reason = backend.unavailable_reason()
        if reason is not None:
            raise RuntimeError(f"device '{device_type}' is not available: {reason}")
        return backend


def check_kernel_signature(op, kernel, plugin_name):
    """Raise TypeError unless ``kernel`` accepts ``op``'s calling convention.

    A kernel written as ``(*args, **kwargs)`` (a wrapper) is accepted as is; one that names
    its parameters must take the op's positional inputs and every keyword attribute.
    """
    try:
        sig = inspect.signature(kernel)
    except (TypeError, ValueError):  # a builtin without a signature (numpy ufuncs): positional only
        if op.params.keywords:
            raise TypeError(f"plugin '{plugin_name}': the kernel for op '{op.name}' must take the keyword "
                            f"attributes {', '.join(op.params.keywords)}") from None
        return
    kinds = {p.name: p.kind for p in sig.parameters.values()}
    takes_var_positional = inspect.Parameter.VAR_POSITIONAL in kinds.values()
    takes_var_keyword = inspect.Parameter.VAR_KEYWORD in kinds.values()
    positional = [n for n, k in kinds.items()
                  if k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    needed = len(op.params.positional)
    if not takes_var_positional:
        if len(positional) < needed:
            missing = op.params.positional[len(positional)]
            raise TypeError(f"plugin '{plugin_name}': the kernel for op '{op.name}' takes {len(positional)} "
                            f"positional input(s); the op passes {needed} (missing '{missing}'), "
                            f"signature {op.signature}")
        if op.params.varargs is not None:
            raise TypeError(f"plugin '{plugin_name}': the kernel for op '{op.name}' must take "
                            f"*{op.params.varargs} (signature {op.signature})")
    if takes_var_keyword:
        return
    for keyword in op.params.keywords:
        if keyword not in kinds or kinds[keyword] == inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(f"plugin '{plugin_name}': the kernel for op '{op.name}' has no keyword parameter "
                            f"'{keyword}' (signature {op.signature})")
    required = [n for n, p in sig.parameters.items()
                if p.default is inspect.Parameter.empty and p.kind == inspect.Parameter.KEYWORD_ONLY
                and n not in op.params.keywords]
    if required:
        raise TypeError(f"plugin '{plugin_name}': the kernel for op '{op.name}' requires keyword parameter "
                        f"'{required[0]}', which the op does not pass (signature {op.signature})")


class _Loaded:
    def __init__(self, plugin):
        self.plugin = plugin

    def load(self):
        return self.plugin


REGISTRY = Registry()
def _discover_plugins() -> str:
    """Load the plugins; what failed, for the error about an unknown device type."""
    REGISTRY.load()
    return "".join(f"; {f}" for f in REGISTRY.failures)


device_module.discover_plugins = _discover_plugins  # ember.device("name") asks the plugins about unknown types
