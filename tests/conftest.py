"""Shared fixtures: the devices the suite runs on (every available backend)."""
import os

import pytest

import ember


def available_devices():
    """Device types whose backend loaded and is available here (cpu first)."""
    from ember.dispatch.registry import REGISTRY
    REGISTRY.load()
    found = [t for t, b in REGISTRY.backends.items() if b.is_available()]
    wanted = os.environ.get("EMBER_TEST_DEVICES")
    if wanted:
        found = [d for d in found if d in wanted.split(",")]
    return sorted(found, key=lambda d: d != "cpu")


DEVICES = available_devices()


def _has_float64(device):
    from ember.dispatch.registry import REGISTRY
    return ember.float64 in REGISTRY.available_backend(device).supported_dtypes()


# Tests that need float64 on the device itself use ``device`` (the devices that have it).
# A device without float64 (mps, as in PyTorch) runs the tests written for ``any_device``:
# the nn and optim tests take their float64 references on the CPU / in numpy and check
# that device in float32; their (device, float64) cases are skipped below.
FLOAT64_DEVICES = [d for d in DEVICES if _has_float64(d)]


@pytest.fixture(params=FLOAT64_DEVICES)
def device(request):
    return request.param


@pytest.fixture(params=DEVICES)
def any_device(request):
    """Every available device, for tests that need nothing beyond float32."""
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0)
    yield


def _unsupported_dtype(device, params):
    """The first ember dtype among a test's parameters that ``device`` does not support."""
    from ember.dispatch.registry import REGISTRY
    supported = REGISTRY.available_backend(device).supported_dtypes()
    for value in params.values():
        if isinstance(value, ember.dtype) and value not in supported:
            return value
    return None


def pytest_collection_modifyitems(items):
    """A test parametrized with a device (``device`` or ``any_device``) and a dtype that
    device lacks (mps: float64, as in PyTorch) does not apply there: skip it, naming both.
    Which dtypes a backend supports is its own declaration (Backend.supported_dtypes),
    tested by the conformance suite."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        device = params.get("device", params.get("any_device"))
        if isinstance(device, str) and device in DEVICES:
            missing = _unsupported_dtype(device, params)
            if missing is not None:
                item.add_marker(pytest.mark.skip(reason=f"{device} does not support {missing}"))
