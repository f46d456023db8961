"""The plugin contract (ember/dispatch/hookspecs.py): hooks called through pluggy's plugin
manager, every implementation matching a spec, kernels checked against their op's signature,
kernel names known for unavailable backends, and Backend's required methods saying who
must write them."""
import types

import numpy as np
import pluggy
import pytest

from ember.dispatch import hookspecs
from ember.dispatch.backend import Backend
from ember.dispatch.hookspecs import hookimpl
from ember.dispatch.ops import OPS
from ember.dispatch.registry import REGISTRY, check_kernel_signature


def test_every_loaded_plugin_implements_only_specified_hooks():
    REGISTRY.load()
    REGISTRY.manager.check_pending()  # raises PluginValidationError for an unknown hook name
    assert {"cpu", "cuda", "rocm"} <= set(REGISTRY.plugin_of.values())


def test_check_pending_catches_a_misspelled_hook():
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    plugin = _module("typo", ember_kernel=lambda backend: {})  # not ember_kernels
    manager.register(plugin, name="typo")
    with pytest.raises(pluggy.PluginValidationError, match="ember_kernel"):
        manager.check_pending()


def test_every_hook_has_a_documented_spec():
    for name in ("ember_backend", "ember_kernels", "ember_kernel_names"):
        spec = getattr(hookspecs, name)
        assert "Returns:" in spec.__doc__ and "Called" in spec.__doc__, name
        assert getattr(spec, "ember_spec")["firstresult"], name


class _Backend(Backend):
    version = "0"

    def __init__(self, device_type):
        self.device_type, self.dispatch_key, self.name = device_type, f"K_{device_type}", f"{device_type}-plugin"

    def from_numpy(self, array, index):
        return np.array(array, copy=True)

    def to_numpy(self, native):
        return native


def _module(name, **hooks):
    """A plugin module (pluggy registers hashable objects, as modules are)."""
    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    return module


def _plugin(device_type, table):
    backend = _Backend(device_type)
    return _module(device_type, ember_backend=lambda: backend, ember_kernels=lambda backend: table)


def _register(device_type, table):
    before = len(REGISTRY.failures)
    REGISTRY.register_plugin(_plugin(device_type, table), f"{device_type}-plugin")
    REGISTRY.backend(device_type)  # available: its kernels are registered now
    failures = REGISTRY.failures[before:]
    del REGISTRY.failures[before:]  # the suite's other tests expect the real plugins' record
    return failures


def test_hooks_are_called_through_the_plugin_manager():
    REGISTRY.load()
    calls = []
    undo = REGISTRY.manager.add_hookcall_monitoring(lambda name, impls, kwargs: calls.append(name),
                                                    lambda outcome, name, impls, kwargs: None)
    try:
        assert _register("contractdev", {"add": lambda x, y: x + y}) == []
    finally:
        undo()
    assert calls == ["ember_backend", "ember_kernels"]
    assert OPS["add"].kernels["K_contractdev"] is not None


@pytest.mark.parametrize("op, kernel, words", [
    ("sum", lambda x, *, dims: x, ["contractbad0-plugin", "'sum'", "'keepdim'"]),
    ("add", lambda x: x, ["contractbad1-plugin", "'add'", "positional", "'y'"]),
    ("cat", lambda x, y, *, dim: x, ["contractbad2-plugin", "'cat'", "*xs"]),
    ("relu", lambda x, *, inplace: x, ["contractbad3-plugin", "'relu'", "'inplace'"]),
    ("no_such_op", lambda x: x, ["contractbad4-plugin", "'no_such_op'"]),
])
def test_a_kernel_that_does_not_fit_its_op_is_reported_by_plugin_op_and_parameter(op, kernel, words):
    index = ["sum", "add", "cat", "relu", "no_such_op"].index(op)
    failures = _register(f"contractbad{index}", {op: kernel})
    assert len(failures) == 1
    message = str(failures[0]) + failures[0].error
    for word in words:
        assert word in message, (word, message)
    assert f"K_contractbad{index}" not in OPS.get(op, OPS["add"]).kernels


def test_wrappers_and_numpy_functions_pass_the_signature_check():
    check_kernel_signature(OPS["sum"], lambda *args, **attrs: None, "p")
    check_kernel_signature(OPS["add"], np.add, "p")
    check_kernel_signature(OPS["cat"], lambda *xs, dim: None, "p")
    check_kernel_signature(OPS["neg"], max, "p")  # no readable signature: positional inputs only
    with pytest.raises(TypeError, match="keyword attributes dims, keepdim"):
        check_kernel_signature(OPS["sum"], max, "p")


def test_a_backend_that_lacks_a_required_method_names_its_plugin():
    class Half(Backend):
        device_type, dispatch_key, name = "half", "Half", "half-plugin"
    with pytest.raises(NotImplementedError, match="'half-plugin' .* must implement Half.from_numpy"):
        Half().from_numpy(np.zeros(1), None)
    with pytest.raises(NotImplementedError, match="must implement Half.to_numpy"):
        Half().to_numpy(None)


def test_a_backend_without_device_type_is_a_reported_failure():
    class Nameless(Backend):
        pass
    plugin = _module("nameless", ember_backend=lambda: Nameless())
    before = len(REGISTRY.failures)
    REGISTRY.register_plugin(plugin, "nameless-plugin")
    assert "must set device_type and dispatch_key" in REGISTRY.failures[before].error
    del REGISTRY.failures[before:]


def test_declared_kernel_names_match_the_registered_tables():
    REGISTRY.probe_all()
    for device_type, backend in REGISTRY.backends.items():
        plugin = REGISTRY._plugins[device_type]
        declared = REGISTRY._hook(plugin, "ember_kernel_names")(backend=backend)
        if declared is None or not backend.is_available():
            continue
        registered = {name for name, op in OPS.items() if backend.dispatch_key in op.kernels}
        assert set(declared) == registered, device_type


def test_coverage_lists_backends_that_are_not_available_here():
    from ember.__main__ import coverage_report, coverage_table
    table = coverage_table()
    assert {"cpu", "cuda", "rocm"} <= set(table)
    assert table["cuda"]["matmul"] == "native" and table["cuda"]["softmax"] == "native"
    assert table["cuda"]["gelu"] == "native" and table["cuda"]["conv"] == "composite"
    assert table["cpu"]["layer_norm"] == "native"  # the CPU plugin's fused kernel (ember/plugins/cpu/training.py)
    report = coverage_report()
    if not REGISTRY.backends["cuda"].is_available():
        assert "cuda*" in report and f"* cuda: {REGISTRY.backends['cuda'].unavailable_reason()}" in report
