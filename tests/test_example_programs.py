"""The real-world-style programs in examples/ run and learn on cpu, opencl and mps.

Each program is run unchanged as ``__main__`` (``runpy``) with tiny settings, all of
them in one subprocess (one ember import for the lot; the Hogwild and DataLoader
programs start their own worker processes from it). Every program ends by printing
``first_loss=... last_loss=...`` (the RL programs: ``first_return=... last_return=...``),
and the test checks that the loss fell (the return rose).

The same files run under PyTorch with only their ``import ember`` lines changed.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # trains eight programs on three devices

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DEVICES = ("cpu", "opencl", "mps")

# program -> argv (on every device); tiny, so that the whole file stays within about a minute
RUNS = {
    "word_language_model": ["--model", "LSTM", "--epochs", "2", "--sentences", "60", "--emsize", "16", "--nhid",
                            "16", "--nlayers", "1", "--bptt", "12", "--batch-size", "8", "--lr", "5",
                            "--dropout", "0", "--log-interval", "1000"],
    "word_language_model_transformer": ["--model", "Transformer", "--epochs", "2", "--sentences", "60",
                                        "--emsize", "16", "--nhid", "32", "--nlayers", "1", "--bptt", "12",
                                        "--batch-size", "8", "--lr", "2", "--dropout", "0", "--log-interval", "1000"],
    "time_sequence_prediction": ["--steps", "2", "--waves", "4", "--length", "10", "--hidden", "8", "--max-iter",
                                 "3", "--future", "3"],
    # the episodes sample from the CPU generator, so every device sees the same ones
    "reinforce": ["--episodes", "16", "--lr", "0.06", "--hidden", "32", "--dropout", "0", "--max-steps", "30",
                  "--seed", "1", "--log-interval", "1000"],
    "actor_critic": ["--episodes", "12", "--lr", "0.03", "--hidden", "32", "--max-steps", "25", "--seed", "4",
                     "--log-interval", "1000"],
    "char_gpt": ["--max-iters", "8", "--eval-interval", "8", "--eval-iters", "2", "--batch-size", "4",
                 "--block-size", "16", "--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--chars", "2000",
                 "--warmup-iters", "1", "--learning-rate", "2e-2", "--gradient-accumulation-steps", "2"],
    "dataloader_workers": ["--samples", "64", "--epochs", "2", "--batch-size", "16", "--hidden", "16",
                           "--num-workers", "2"],
    "packed_sequences": ["--steps", "10", "--batch-size", "16", "--hidden", "16", "--max-len", "6", "--lr", "3e-2",
                         "--log-every", "1000"],
    "hogwild": ["--num-processes", "2", "--epochs", "1", "--samples", "300"],
}
# extra configurations on the CPU only: other model types and flags of the same programs
CPU_ONLY = {
    "word_language_model_gru_tied": ["--model", "GRU", "--tied", "--epochs", "2", "--sentences", "60", "--emsize",
                                     "16", "--nhid", "16", "--nlayers", "1", "--bptt", "12", "--batch-size", "8",
                                     "--lr", "5", "--dropout", "0", "--log-interval", "1000"],
    "char_gpt_compiled": ["--compile", "--max-iters", "8", "--eval-interval", "8", "--eval-iters", "2",
                          "--batch-size", "4", "--block-size", "16", "--n-layer", "1", "--n-head", "2", "--n-embd",
                          "16", "--chars", "2000", "--warmup-iters", "1", "--learning-rate", "2e-2"],
}

DRIVER = r"""
import contextlib, io, json, runpy, sys, time, traceback
jobs = json.loads(sys.argv[1])
results = []
for name, script, device, argv in jobs:
    out = io.StringIO()
    start, cpu_start = time.time(), time.process_time()
    error = None
    sys.argv = [script, *argv, "--device", device]
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(script, run_name="__main__")
    except BaseException:
        error = traceback.format_exc()
    results.append(dict(name=name, device=device, seconds=time.time() - start,
                        cpu_seconds=time.process_time() - cpu_start, error=error,
                        last_line=(out.getvalue().strip().splitlines() or [""])[-1]))
print(json.dumps(results))
"""


def _script(name):
    for base in ("word_language_model", "char_gpt"):
        if name.startswith(base):
            return str(EXAMPLES / f"{base}.py")
    return str(EXAMPLES / f"{name}.py")


@pytest.fixture(scope="module")
def results():
    jobs = [(name, _script(name), device, argv) for name, argv in RUNS.items() for device in DEVICES]
    jobs += [(name, _script(name), "cpu", argv) for name, argv in CPU_ONLY.items()]
    env = dict(os.environ, EMBER_MPS_DEVICE="cpu", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(jobs)], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.strip().splitlines()
    return {(r["name"], r["device"]): r for r in json.loads(lines[-1])}


def _parse(line):
    """{'first_loss': ..., 'last_loss': ...} (or the return pair) from a program's final line."""
    return {key: float(value) for key, value in (item.split("=") for item in line.split())}


CASES = [(name, device) for name in RUNS for device in DEVICES] + [(name, "cpu") for name in CPU_ONLY]


@pytest.mark.parametrize("name, device", CASES, ids=[f"{n}-{d}" for n, d in CASES])
def test_program_learns(results, name, device):
    result = results[(name, device)]
    assert result["error"] is None, result["error"]
    values = _parse(result["last_line"])
    if "first_loss" in values:   # actor-critic reports its critic's loss
        assert 0 < values["last_loss"] < 0.9 * values["first_loss"], values
    else:                        # REINFORCE: the episodes get longer
        assert values["last_return"] > 1.2 * values["first_return"], values
