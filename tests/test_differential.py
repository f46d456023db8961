"""ember against PyTorch's recorded behaviour, on every available device.

For each device, ``python -m tests.differential.replay`` replays the cases of
``tests/differential/cases.py`` against the outcomes PyTorch 2.13.0 gave for them
(``tests/differential/pytorch_2_13.npz``) and this test fails on any difference, listing
the first ones. The replay runs in a subprocess, and itself runs its cases in a worker
process, so that a backend library that kills its process (a SIGFPE inside MLX, say)
fails the cases involved instead of the test session.

The fixture is recorded by hand, never by the tests (which must not import PyTorch):

    python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch==2.13.0 numpy
    /tmp/torch-venv/bin/python -m tests.differential.record_pytorch
"""
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DEVICES

ROOT = Path(__file__).resolve().parent.parent
SHOWN = 30
# Devices whose whole replay takes well under 30 s here (measured: cpu 4 s, counting 4 s,
# mps on MLX's CPU 13 s). The others (opencl on PoCL: 35 to 60 s, much of it compiling
# kernels) and devices not measured are in the slow tier.
QUICK = {"cpu", "counting", "mps"}


def _params():
    return [pytest.param(d, id=d, marks=() if d in QUICK else pytest.mark.slow) for d in DEVICES]


@pytest.mark.parametrize("replay_device", _params())
def test_matches_recorded_pytorch(replay_device, tmp_path):
    report_path = tmp_path / f"differential-{replay_device}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.differential.replay", "--device", replay_device,
         "--report", str(report_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    output = (proc.stdout[-2000:] + proc.stderr[-3000:]).strip()
    if proc.returncode < 0:
        pytest.fail(f"the replay on {replay_device} was killed by "
                    f"{signal.Signals(-proc.returncode).name}:\n{output}")
    assert report_path.exists(), f"the replay wrote no report (exit status {proc.returncode}):\n{output}"
    report = json.loads(report_path.read_text())
    assert report["error"] is None, f"the replay on {replay_device} stopped: {report['error']}"
    assert report["not_reached"] == 0, f"{report['not_reached']} cases were never run:\n{output}"
    if report["failed"]:
        lines = [f"{f['id']}: {f['code']}  [{', '.join(f['dtypes'])}]\n"
                 f"      {f['reason']}\n      expected {f['expected']}\n      got      {f['got']}"
                 for f in report["failures"][:SHOWN]]
        families = ", ".join(f"{k} {v}" for k, v in report["failed_by_family"].items())
        pytest.fail(f"{report['failed']} of {report['run']} cases differ from PyTorch on {replay_device} "
                    f"({report['skipped']} skipped; by family: {families}); the first {len(lines)}:\n"
                    + "\n".join(lines), pytrace=False)
    assert report["passed"] == report["run"]
