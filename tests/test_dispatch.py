"""Dispatch: kernel resolution, the CPU fallback and its report, EMBER_* switches, plugin
loading and failures, and the coverage classification.

Fake numpy-backed device types (``_fakedev.py``) implement only a few kernels; their
arrays are not ndarrays, so an op that falls back must really copy to the host and back.
Kernel choices are cached per (op, device type) in ``OpDef.resolved``; tests that change
EMBER_* variables drop those caches before and after.
"""
import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import ember
from ember.dispatch import FallbackWarning, OPS, REGISTRY, coverage, fallback_report, format_fallback_report
from ember.dispatch.ops import COMPOSITE, PRIMITIVE
from _fakedev import BASIC_KERNELS, FakeArray, fake_device, forget_resolution

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def dev():
    return fake_device("fakedev")


@pytest.fixture
def fresh(dev, monkeypatch):
    """A clean slate: no EMBER_* switches, no cached kernel choices for the fake device."""
    monkeypatch.delenv("EMBER_STRICT", raising=False)
    monkeypatch.delenv("EMBER_FORCE_CPU_OPS", raising=False)
    forget_resolution("fakedev")
    yield dev
    monkeypatch.undo()
    forget_resolution("fakedev")


def fallback_calls(op, device="fakedev"):
    return fallback_report().get((op, device), {"calls": 0, "bytes_copied": 0})


# ================================================================ native kernels
def test_native_kernels_run_on_the_device(fresh):
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    x = ember.tensor(a, device="fakedev")
    assert isinstance(x._data, FakeArray) and x.device == ember.device("fakedev:0")
    before = fresh.native_calls["mul"]
    y = x * x + 1
    assert fresh.native_calls["mul"] == before + 1
    assert isinstance(y._data, FakeArray) and y.device == x.device
    np.testing.assert_allclose(y.cpu().numpy(), a * a + 1, rtol=1e-6)
    assert fallback_calls("mul")["calls"] == 0


def test_autograd_runs_on_the_device(fresh):
    a = RNG.uniform(-1, 1, 4)
    x = ember.tensor(a, device="fakedev", requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        ((x.exp() * x).sum()).backward()
    assert x.grad.device == x.device
    np.testing.assert_allclose(x.grad.cpu().numpy(), np.exp(a) * (1 + a), rtol=1e-12)


# ================================================================ the CPU fallback
def test_missing_kernel_falls_back_with_one_warning_and_is_counted(fresh):
    ember.dispatch.reset_fallback_report()
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    x = ember.tensor(a, device="fakedev")
    host_copies = fresh.to_host_calls
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = x.sin()
        z = y.sin()
    fallbacks = [w for w in caught if issubclass(w.category, FallbackWarning)]
    assert len(fallbacks) == 1
    assert "'sin'" in str(fallbacks[0].message) and "'fakedev'" in str(fallbacks[0].message)
    assert fresh.native_calls["sin"] == 0 and fresh.to_host_calls >= host_copies + 2
    assert y.device == x.device and isinstance(z._data, FakeArray)
    np.testing.assert_allclose(z.cpu().numpy(), np.sin(np.sin(a)), rtol=1e-6)
    # two calls, each copying a 2x3 float32 input in and its output back: 2 * (24 + 24) bytes
    assert fallback_calls("sin") == {"calls": 2, "bytes_copied": 96}
    assert "sin" in format_fallback_report() and "fakedev" in format_fallback_report()


def test_fallback_report_can_be_reset(fresh):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        ember.ones(3, device="fakedev").cos()
    assert fallback_calls("cos")["calls"] >= 1
    ember.dispatch.reset_fallback_report()
    assert fallback_report() == {}
    assert "no op fell back" in format_fallback_report()


def test_fallback_of_an_inplace_kernel_writes_where_views_see_it(fresh):
    # index_put has no fake kernel: the CPU runs it on a copy, the result must reach x's memory
    x = ember.zeros(4, device="fakedev")
    view = x[0:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        x[ember.tensor([0, 3], device="fakedev")] = 5.0
    np.testing.assert_array_equal(x.cpu().numpy(), [5.0, 0.0, 0.0, 5.0])
    np.testing.assert_array_equal(view.cpu().numpy(), [5.0, 0.0])


def test_fallback_with_several_outputs(fresh):
    a = RNG.permutation(6).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        values_, indices = ember.tensor(a, device="fakedev").sort()
    assert values_.device == indices.device == ember.device("fakedev:0")
    np.testing.assert_array_equal(values_.cpu().numpy(), np.sort(a))
    np.testing.assert_array_equal(indices.cpu().numpy(), np.argsort(a))


def test_strict_mode_turns_the_fallback_into_an_error(fresh, monkeypatch):
    monkeypatch.setenv("EMBER_STRICT", "1")
    forget_resolution("fakedev", "tanh")
    with pytest.raises(NotImplementedError, match="op 'tanh' has no kernel for device 'fakedev'.*"
                                                  "fakedev-plugin.*EMBER_STRICT=1"):
        ember.ones(2, device="fakedev").tanh()
    monkeypatch.delenv("EMBER_STRICT")
    forget_resolution("fakedev", "tanh")
    with pytest.warns(FallbackWarning, match="tanh"):
        out = ember.ones(2, device="fakedev").tanh()
    np.testing.assert_allclose(out.cpu().numpy(), np.tanh([1.0, 1.0]), rtol=1e-6)


def test_strict_mode_still_runs_native_kernels(fresh, monkeypatch):
    monkeypatch.setenv("EMBER_STRICT", "1")
    forget_resolution("fakedev")
    t = ember.ones(2, device="fakedev")
    np.testing.assert_array_equal((t + t).cpu().numpy(), [2.0, 2.0])


def test_force_cpu_ops_sends_chosen_ops_through_the_fallback(fresh, monkeypatch):
    monkeypatch.setenv("EMBER_FORCE_CPU_OPS", "add, mul")
    forget_resolution("fakedev", "add", "mul")
    ember.dispatch.reset_fallback_report()
    a = RNG.standard_normal(3)
    x = ember.tensor(a, device="fakedev")
    native_adds = fresh.native_calls["add"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = x + x
        z = x * 2
    assert not [w for w in caught if issubclass(w.category, FallbackWarning)]  # asked for: no warning
    assert fresh.native_calls["add"] == native_adds
    assert fallback_calls("add")["calls"] == 1 and fallback_calls("mul")["calls"] == 1
    np.testing.assert_allclose(y.cpu().numpy(), 2 * a)
    np.testing.assert_allclose(z.cpu().numpy(), 2 * a)
    assert y.device == x.device
    # on the CPU itself the switch changes nothing
    assert (ember.ones(2) + ember.ones(2)).tolist() == [2.0, 2.0]


def test_view_ops_never_fall_back():
    fake_device("fakeviewless", kernels=tuple(k for k in BASIC_KERNELS if k != "permute"))
    x = ember.ones(2, 3, device="fakeviewless")
    with pytest.raises(NotImplementedError, match="op 'permute'.*view ops cannot fall back"):
        x.permute(1, 0)


def test_composites_run_on_a_device_without_their_kernel(fresh):
    a = RNG.standard_normal((2, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        out = ember.tensor(a, device="fakedev").softmax(-1)
    assert fresh.native_calls["softmax"] == 0
    ref = np.exp(a) / np.exp(a).sum(-1, keepdims=True)
    np.testing.assert_allclose(out.cpu().numpy(), ref, rtol=1e-12)


def test_a_backend_may_override_a_composite():
    dev = fake_device("fakefused", kernels=BASIC_KERNELS + ("softmax",))
    a = RNG.standard_normal((3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        out = ember.tensor(a, device="fakefused").softmax(dim=1)
    assert dev.native_calls["softmax"] == 1
    np.testing.assert_allclose(out.cpu().numpy(), np.exp(a) / np.exp(a).sum(1, keepdims=True), rtol=1e-12)


# ================================================================ coverage
def test_coverage_classifies_every_op(dev):
    fake_device("fakenofallback", allow_cpu_fallback=False)
    with_fallback, without = coverage("fakedev"), coverage("fakenofallback")
    assert set(with_fallback) == set(OPS) == set(without)
    for name, op in OPS.items():
        if name in BASIC_KERNELS:
            expected = expected_strict = "native"
        elif op.kind == COMPOSITE:
            expected = expected_strict = "composite"
        elif op.view:
            expected = expected_strict = "missing"
        else:
            expected, expected_strict = "fallback", "missing"
        assert with_fallback[name] == expected, name
        assert without[name] == expected_strict, name


def test_coverage_of_the_cpu_backend():
    cpu = coverage("cpu")
    assert all(cpu[op.name] == "native" for op in OPS.values() if op.kind == PRIMITIVE)
    assert set(cpu.values()) <= {"native", "composite"}


# ================================================================ plugin loading
class BrokenPlugin:
    @ember.dispatch.hookspecs.hookimpl
    def ember_backend(self):
        raise ImportError("fakelib is not installed")


def test_a_plugin_that_fails_to_load_is_reported_and_breaks_nothing(dev):
    before = len(REGISTRY.failures)
    REGISTRY.register_plugin(BrokenPlugin(), "broken-test-plugin")
    try:
        failure = REGISTRY.failures[-1]
        assert len(REGISTRY.failures) == before + 1
        assert failure.name == "broken-test-plugin"
        assert "ImportError: fakelib is not installed" in failure.error
        assert "EMBER_BACKENDS" in str(failure)
        # the others still work
        assert (ember.ones(2) * 3).tolist() == [3.0, 3.0]
        assert (ember.ones(2, device="fakedev") * 3).cpu().tolist() == [3.0, 3.0]
        with pytest.raises(RuntimeError, match="broken-test-plugin"):
            ember.zeros(1, device="nosuchdevice")  # the error lists failed plugins
    finally:
        REGISTRY.failures[before:] = []


# A real entry-point discovery in a fresh interpreter: a package whose dist-info declares
# two ember.backends entry points, one that works and one that fails at import.
_PLUGIN_MODULE = '''
import numpy as np
from ember.dispatch.backend import Backend
from ember.dispatch.hookspecs import hookimpl


class EpBackend(Backend):
    device_type = "epdev"
    dispatch_key = "EpDev"
    name = "epdev"
    version = "1.0"

    def from_numpy(self, array, index):
        return np.array(array, copy=True)

    def to_numpy(self, native):
        return native


@hookimpl
def ember_backend():
    return EpBackend()


@hookimpl
def ember_kernels(backend):
    from ember.plugins.cpu.kernels import kernel_table
    return kernel_table()
'''

_PROBE = '''
import json, ember
from ember.dispatch.registry import REGISTRY
ok = (ember.ones(2) + 1).tolist() == [2.0, 2.0]
try:
    on_ep = (ember.ones(2, device="epdev") * 2).cpu().tolist()
except RuntimeError as exc:
    on_ep = str(exc)
print(json.dumps({"backends": sorted(REGISTRY.backends), "skipped": sorted(REGISTRY.skipped),
                  "failures": {f.name: f.error for f in REGISTRY.failures}, "cpu_ok": ok, "on_ep": on_ep}))
'''


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    (site / "ember_ep_plugin.py").write_text(_PLUGIN_MODULE)
    (site / "ember_ep_broken.py").write_text("raise ImportError('needs a GPU library that is missing')\n")
    info = site / "ember_ep_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ember-ep-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""
        [ember.backends]
        epdev = ember_ep_plugin
        epbroken = ember_ep_broken
    """))
    return site


def _probe(site, backends=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMBER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site)] + [p for p in [env.get("PYTHONPATH")] if p])
    if backends is not None:
        env["EMBER_BACKENDS"] = backends
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_entry_point_plugins_load_and_a_broken_one_is_reported(plugin_site):
    report = _probe(plugin_site)
    assert {"cpu", "epdev"} <= set(report["backends"])
    assert "ImportError: needs a GPU library that is missing" in report["failures"]["epbroken"]
    assert report["cpu_ok"] and report["on_ep"] == [2.0, 2.0]


def test_ember_backends_selects_the_plugins_to_load(plugin_site):
    report = _probe(plugin_site, backends="epdev")
    assert "epbroken" in report["skipped"] and "epbroken" not in report["failures"]
    assert report["on_ep"] == [2.0, 2.0]
    # the CPU backend is the reference: always loaded, even when not listed
    assert "cpu" in report["backends"] and report["cpu_ok"]
    only_cpu = _probe(plugin_site, backends="cpu")
    assert {"epdev", "epbroken"} <= set(only_cpu["skipped"])
    assert "epdev" not in only_cpu["backends"] and only_cpu["cpu_ok"]
    assert "epdev" in only_cpu["on_ep"]  # the error names the device type asked for
