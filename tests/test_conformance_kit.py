"""The conformance kit as a product: ``pytest --pyargs ember.testing.conformance`` with
ember's pytest plugin (--ember-device, --ember-report), run as a plugin author would run it,
in a subprocess, on the out-of-tree template backend ``counting``."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ember.dispatch.registry import REGISTRY

HERE = Path(__file__).resolve().parent

REGISTRY.load()
pytestmark = [pytest.mark.slow,  # each test runs the kit in a pytest subprocess
              pytest.mark.skipif(
                  "counting" not in REGISTRY.backends or not REGISTRY.backends["counting"].is_available(),
                  reason="the plugin template is not installed (pip install -e examples/plugin-template)")]


def _kit(tmp_path, *args, plant=False):
    env = dict(os.environ, EMBER_MPS_DEVICE=os.environ.get("EMBER_MPS_DEVICE", "cpu"))
    if plant:
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
        args = ("-p", "_wrong_kernel") + args
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rf", "-v", "--pyargs",
           "ember.testing.conformance", *args]
    # from tmp_path: the kit does not depend on ember's tests/ or its pytest settings
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_kit_runs_on_a_plugin_and_writes_a_report(tmp_path):
    report = tmp_path / "out" / "report.json"
    r = _kit(tmp_path, "--ember-device=counting", "-k", "add and not addmm and not addcmul and not addcdiv",
             f"--ember-report={report}")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "test_forward[add-float32-broadcast-counting] PASSED" in r.stdout
    assert "test_grad[add-grad-" in r.stdout and "test_inplace[add-float32-inplace-" in r.stdout
    assert "-cpu]" not in r.stdout
    data = json.loads(report.read_text())
    assert list(data["devices"]) == ["counting"]
    ops = data["devices"]["counting"]
    assert "add" in ops and all("add" in op for op in ops), sorted(ops)  # -k matches index_add too
    assert {"float32", "float64", "int64", "bool"} <= set(ops["add"])
    for by_dtype in (r for op in ops.values() for r in op.values()):
        assert by_dtype["passed"] > 0 and by_dtype["failed"] == 0 and by_dtype["failures"] == []
    assert not list(report.parent.glob(".ember-report-*")), "the temporary file is left behind"


def test_promotion_and_default_device(tmp_path):
    r = _kit(tmp_path, "-k", "promotion")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "test_promotion[cpu] PASSED" in r.stdout


def test_unknown_device_is_a_usage_error(tmp_path):
    r = _kit(tmp_path, "--ember-device=nosuch")
    assert r.returncode == 4, r.stdout[-2000:] + r.stderr[-2000:]
    assert "--ember-device=nosuch" in r.stderr and "counting" in r.stderr


def test_a_wrong_kernel_is_reported_by_name(tmp_path):
    report = tmp_path / "report.json"
    r = _kit(tmp_path, "--ember-device=counting", "-k", "test_forward and (sin-float32 or cos-float32)",
             f"--ember-report={report}", plant=True)
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    assert "FAILED" in r.stdout and "test_forward[sin-float32-" in r.stdout
    assert "sin [ember.sin] dtype=float32 device=counting" in r.stdout
    ops = json.loads(report.read_text())["devices"]["counting"]
    assert all(r["failed"] == 0 for r in ops["cos"].values())
    sin32 = ops["sin"]["float32"]
    assert sin32["failed"] > 0
    failure = sin32["failures"][0]
    assert failure["kind"] == "forward" and failure["sample"]
    assert "device=counting" in failure["message"] and "max abs err" in failure["message"]
    assert "max rel err" in failure["message"]
    # and `python -m ember coverage --report` shows it, by op and dtype
    out = subprocess.run([sys.executable, "-m", "ember", "coverage", "--report", str(report)],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ, EMBER_MPS_DEVICE="cpu"))
    assert out.returncode == 0, out.stderr
    assert "FAILED sin float32 forward" in out.stdout
    assert any(line.split()[:2] == ["sin", "native"] and "FAIL(" in line for line in out.stdout.splitlines())
