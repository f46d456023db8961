"""Training steps under autocast (bfloat16 on the CPU; float16 + GradScaler on opencl and mps)
beside their float32 versions: benchmarks/amp_training.py builds both. Never asserted."""
import pytest
from amp_training import build

import ember


def _available(device):
    try:
        return ember.dispatch.registry.REGISTRY.backend(device).is_available()
    except RuntimeError:  # no plugin for it
        return False


DEVICES = [d for d in ("cpu", "opencl", "mps") if _available(d)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("amp", [False, True], ids=["float32", "autocast"])
@pytest.mark.parametrize("name", ["mlp", "transformer"])
def test_training_step(benchmark, name, amp, device):
    step = build(name, device, amp)
    step()
    benchmark(step)
