"""The conformance kit as a pytest module: every check on the device(s) ``--ember-device`` names.

    pytest --pyargs ember.testing.conformance --ember-device=counting [--ember-report=r.json]

Without ``--ember-device`` the kit runs on ``cpu`` (always available), so a bare run checks
ember itself. ``--ember-device=all`` runs every available device. Test ids read like
``test_forward[add-float32-broadcast-counting]``; filter with ``-k``. The options come from
ember's pytest plugin (``ember.testing.pytest_plugin``), registered on installing ember.
"""
import pytest

from ember.testing import runner

# A kernel that hangs fails with every thread's stack printed instead of blocking the run
# (the mark is inert unless pytest-timeout is installed).
pytestmark = [pytest.mark.timeout(120, method="thread"),
              # numpy's floating-point warnings (log(0), 0/0): PyTorch returns inf/nan silently
              pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")]

_MAKERS = {"test_forward": runner.forward_cases, "test_grad": runner.grad_cases,
           "test_inplace": runner.inplace_cases, "test_view": runner.view_cases}


def pytest_generate_tests(metafunc):
    from ember.testing.pytest_plugin import selected_devices
    devices = selected_devices(metafunc.config)
    if "case" in metafunc.fixturenames:
        make = _MAKERS[metafunc.function.__name__]
        cases = [c for device in devices for c in make(device)]
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])
    elif "ember_device" in metafunc.fixturenames:
        metafunc.parametrize("ember_device", devices)


def test_forward(case):
    case.run()


def test_grad(case):
    case.run()


def test_inplace(case):
    case.run()


def test_view(case):
    case.run()


def test_promotion(ember_device):
    runner.check_promotion(ember_device)
