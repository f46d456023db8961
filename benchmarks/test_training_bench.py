"""Whole training steps (zero_grad, forward, loss, backward, optimizer step) of small
models, defined once in ``training_workloads.py``:

    mlp_b64 / mlp_b512   MLP 784-256-10, AdamW, batch 64 / 512
    cnn_b64              LeNet-style CNN on 1x28x28, SGD with momentum, batch 64
    transformer_b16      TransformerEncoderLayer(128, 4 heads, ff 256, batch_first), batch 16 x seq 32

The same steps in PyTorch: ``benchmarks/pytorch_reference/bench_torch.py`` (a script in
its own virtual environment; ember never imports torch). Set ``OPENBLAS_NUM_THREADS`` and
pass the same ``--threads`` to that script to compare like with like. Never assert timings.
"""
import pytest

import ember
from training_workloads import WORKLOADS, build


@pytest.mark.parametrize("name", WORKLOADS)
def test_training_step(benchmark, name):
    step = build(ember, name)
    for _ in range(3):          # warm-up: optimizer state, cached kernel choices
        first = step().item()
    benchmark.pedantic(step, rounds=20, iterations=1, warmup_rounds=1)
    last = step().item()
    assert last == last and last < float("inf"), "the step produced a non-finite loss"
    benchmark.extra_info["loss_after_warmup"] = first
