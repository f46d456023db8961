"""ember/_blas_spin.py sets OpenBLAS's spin only while numpy loads, and never over a user's own."""
import os
import subprocess
import sys

import pytest

# records the variable at the moment numpy is first looked for, and after ``import ember``
_PROBE = """
import os, sys
seen = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" and not seen:
            seen.append(os.environ.get("OPENBLAS_THREAD_TIMEOUT"))
        return None
sys.meta_path.insert(0, Watch())
{pre}
import ember
print(seen[0] if seen else "-", os.environ.get("OPENBLAS_THREAD_TIMEOUT"))
"""


def _run(env_extra, pre=""):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "GOTO_THREAD_TIMEOUT")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", _PROBE.format(pre=pre)], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


@pytest.mark.slow
def test_set_while_numpy_loads_then_removed():
    from ember._blas_spin import SPIN_LOG2_CYCLES
    assert _run({}) == [str(SPIN_LOG2_CYCLES), "None"]


@pytest.mark.slow
def test_a_users_setting_and_an_earlier_numpy_are_left_alone():
    assert _run({"OPENBLAS_THREAD_TIMEOUT": "22"}) == ["22", "22"]
    # numpy imported before ember: OpenBLAS has read its settings already, so nothing is set
    assert _run({}, pre="import numpy") == ["None", "None"]
