"""ember's pytest plugin (entry point ``pytest11: ember``): run the conformance kit on a backend.

    pytest --pyargs ember.testing.conformance --ember-device=counting --ember-report=report.json

Options (unused, and free, in any other pytest run: nothing is imported until they are given):
  --ember-device=NAME   the device type the kit runs on, or ``all`` for every available
                        device; the default is ``cpu``
  --ember-report=FILE   write a JSON report: per device, op and dtype, the passed / failed /
                        skipped counts and each failure's message (op, dtype, sample, max abs
                        and rel error, as the runner reports them). Written atomically.
"""
from __future__ import annotations

import json
import os
import tempfile

import pytest

_KEY = "ember_case"


def pytest_addoption(parser):
    group = parser.getgroup("ember", "ember conformance kit")
    group.addoption("--ember-device", action="store", default=None, metavar="NAME",
                    help="device type to run ember.testing.conformance on, or 'all' (default: cpu)")
    group.addoption("--ember-report", action="store", default=None, metavar="FILE.json",
                    help="write a JSON conformance report (per device, op, dtype) to FILE.json")


def selected_devices(config) -> list:
    """The device types named by --ember-device (``all``: every available one, cpu first)."""
    from ember.dispatch.registry import REGISTRY
    REGISTRY.load()
    wanted = config.getoption("ember_device") or "cpu"
    available = sorted((t for t, b in REGISTRY.backends.items() if b.is_available()), key=lambda d: d != "cpu")
    if wanted == "all":
        return available
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    for name in names:
        if name.split(":")[0] not in available:
            known = ", ".join(sorted(REGISTRY.backends)) or "none"
            raise pytest.UsageError(f"--ember-device={name}: no available ember backend of that type "
                                    f"(loaded: {known}; available: {', '.join(available) or 'none'}; "
                                    f"see `python -m ember`)")
    return names


def pytest_configure(config):
    if config.getoption("ember_device", None):
        selected_devices(config)  # a device that is not there: a usage error, before collecting
    path = config.getoption("ember_report", None)
    if path and not hasattr(config, "workerinput"):  # pytest-xdist: the controller writes it
        config.pluginmanager.register(_Reporter(path), "ember-report")


def _case_meta(item):
    """(device, op, dtype, kind, sample) of a conformance test item, or None."""
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    case = params.get("case")
    if case is not None and hasattr(case, "kind") and hasattr(case, "device"):
        dtype = case.dtype
        if dtype is None:  # gradient checks run in the device's gradient dtype
            from ember.testing.runner import grad_dtype
            dtype = grad_dtype(case.device)
        sample = getattr(case.sample, "desc", None) or ""
        return dict(device=case.device, op=case.op.name, dtype=dtype, kind=case.kind, sample=sample, id=case.id)
    device = params.get("ember_device")
    if device is not None and item.name.startswith("test_promotion"):
        return dict(device=device, op="promotion", dtype="all", kind="promotion", sample="", id=item.name)
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if item.config.getoption("ember_report", None) is None:
        return
    meta = _case_meta(item)
    if meta is None:
        return
    if call.excinfo is not None and report.failed:
        meta = dict(meta, message=str(call.excinfo.value).strip()[:2000])
    report.user_properties.append((_KEY, meta))


class _Reporter:
    def __init__(self, path):
        self.path = path
        self.devices = {}

    def pytest_runtest_logreport(self, report):
        meta = next((v for k, v in report.user_properties if k == _KEY), None)
        if meta is None:
            return
        # a case counts once: its call phase, or the setup phase when that failed or skipped
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = report.outcome
        elif report.when == "teardown" and report.failed:
            outcome = "failed"
        else:
            return
        entry = (self.devices.setdefault(meta["device"], {}).setdefault(meta["op"], {})
                 .setdefault(meta["dtype"], {"passed": 0, "failed": 0, "skipped": 0, "failures": []}))
        entry[outcome] += 1
        if outcome == "failed":
            message = meta.get("message") or str(report.longrepr).strip().splitlines()[-1:]
            entry["failures"].append({"id": meta["id"], "kind": meta["kind"], "sample": meta["sample"],
                                      "message": message if isinstance(message, str) else "".join(message)})

    def pytest_sessionfinish(self, session):
        data = {"format": "ember-conformance-report/1", "devices": _sorted(self.devices)}
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ember-report-", suffix=".json", dir=directory)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=False)
                f.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_line(f"ember conformance report: {self.path}")


def _sorted(devices):
    return {d: {op: dict(sorted(by_dtype.items())) for op, by_dtype in sorted(ops.items())}
            for d, ops in devices.items()}
