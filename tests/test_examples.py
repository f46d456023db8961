"""The programs in examples/ train: each one's loss falls, on every available device, and a
non-CPU device follows the CPU's loss curve.

Each example is ordinary PyTorch code apart from its imports; ``main(argv)`` returns the
per-step losses. The configurations here are small so that the whole file runs in
seconds; the CNN and the Transformer run a smaller configuration off the CPU.
"""
import importlib.util
import os
import pathlib
import warnings

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # trains the example programs on every device

EXAMPLES_DIR = pathlib.Path(__file__).resolve().parent.parent / "examples"

# name -> (argv on the CPU, argv on other devices)
SMALL = ["--log-every", "1000"]
CONFIGS = {
    "regression_mlp": (
        ["--samples", "512", "--hidden", "32", "--lr", "2e-2", "--steps", "40"],
        ["--samples", "256", "--hidden", "32", "--lr", "2e-2", "--steps", "25"],
    ),
    "mlp_classifier": (
        ["--samples", "512", "--hidden", "32", "--lr", "1e-2", "--steps", "30"],
        ["--samples", "256", "--hidden", "32", "--lr", "1e-2", "--steps", "20"],
    ),
    "lenet_cnn": (   # one full batch, so that 25 steps of SGD get past the initial plateau
        ["--samples", "32", "--batch-size", "32", "--lr", "0.035", "--steps", "25"],
        ["--samples", "16", "--batch-size", "16", "--lr", "0.035", "--steps", "25"],
    ),
    "transformer_classifier": (
        ["--samples", "256", "--batch-size", "16", "--seq-len", "12", "--d-model", "32",
         "--dim-feedforward", "64", "--layers", "1", "--dropout", "0", "--lr", "3e-3", "--steps", "30"],
        ["--samples", "64", "--batch-size", "16", "--seq-len", "8", "--d-model", "16", "--nhead", "2",
         "--dim-feedforward", "32", "--layers", "1", "--dropout", "0", "--lr", "1e-2", "--steps", "25"],
    ),
    "lstm_sequence": (
        ["--batch-size", "16", "--seq-len", "15", "--hidden", "16", "--steps", "30"],
        ["--batch-size", "16", "--seq-len", "10", "--hidden", "16", "--steps", "20"],
    ),
}


def load_example(name):
    """The module examples/<name>.py (examples/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"ember_example_{name}", EXAMPLES_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name, device, small=None, extra=()):
    cpu_args, other_args = CONFIGS[name]
    if small is None:
        small = device != "cpu"
    argv = (other_args if small else cpu_args) + SMALL + ["--device", device, *extra]
    return load_example(name).main(argv)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_example_loss_falls(name, any_device, capsys):
    device = any_device
    losses = run_example(name, device)
    out = capsys.readouterr().out
    last_line = out.strip().splitlines()[-1]
    assert last_line == f"final loss {losses[-1]:.4f} (first loss {losses[0]:.4f})"
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < 0.75 * losses[0], f"{name} on {device}: loss went {losses[0]:.4f} -> {losses[-1]:.4f}"


# Examples with no randomness on the device (no dropout; data, shuffling and initial
# weights all come from the CPU generator), so every device sees the same inputs and
# starts from the same weights: only rounding may differ.
DETERMINISTIC = ("regression_mlp", "lstm_sequence")


def assert_follows(device_losses, cpu_losses, device):
    assert len(device_losses) == len(cpu_losses)
    np.testing.assert_allclose(device_losses, cpu_losses, rtol=2e-2, atol=2e-3,
                               err_msg=f"loss curve on {device} departs from the CPU's")
    assert device_losses[-1] == pytest.approx(cpu_losses[-1], rel=2e-2, abs=2e-3)


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_device_matches_cpu(name, any_device, capsys):
    """On cpu: a second run reproduces the first bit for bit. Elsewhere: the device's loss
    curve matches the CPU's within float32 rounding."""
    device = any_device
    cpu_losses = run_example(name, "cpu", small=True)
    device_losses = run_example(name, device, small=True)
    if device == "cpu":
        assert device_losses == cpu_losses
    else:
        assert_follows(device_losses, cpu_losses, device)


def test_comparison_runs_on_a_non_cpu_device(monkeypatch, capsys):
    """The comparison above on a device that is not the CPU even when no accelerator is
    installed: a fake device (tests/_fakedev.py) runs a few kernels natively and sends the
    rest through the CPU fallback, copying every array to the host and back."""
    from _fakedev import fake_device, forget_resolution
    from ember.dispatch import FallbackWarning

    monkeypatch.delenv("EMBER_STRICT", raising=False)
    monkeypatch.delenv("EMBER_FORCE_CPU_OPS", raising=False)
    backend = fake_device("fakeexamples")
    forget_resolution("fakeexamples")
    cpu_losses = run_example("regression_mlp", "cpu", small=True, extra=["--steps", "10"])
    before = sum(backend.native_calls.values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        fake_losses = run_example("regression_mlp", "fakeexamples", small=True, extra=["--steps", "10"])
    assert sum(backend.native_calls.values()) > before   # it really ran there
    assert_follows(fake_losses, cpu_losses, "fakeexamples")
    assert os.environ.get("EMBER_STRICT") is None
