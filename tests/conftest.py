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


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    ember.manual_seed(0)
    yield
