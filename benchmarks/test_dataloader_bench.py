"""DataLoader throughput: one shuffled epoch over a TensorDataset of 20,000 x 64 float32
samples (with int64 labels) in batches of 128, loaded in the main process and by 2 workers.

Samples per second = 20,000 / the epoch time pytest-benchmark reports (also stored in
``extra_info``). Worker start-up is part of each epoch, as it is without persistent
workers. Never assert timings.
"""
import pytest

import ember
from ember.utils.data import DataLoader, TensorDataset

SAMPLES, FEATURES, BATCH = 20_000, 64, 128


@pytest.fixture(scope="module")
def dataset():
    ember.manual_seed(0)
    return TensorDataset(ember.randn(SAMPLES, FEATURES), ember.randint(0, 10, (SAMPLES,)))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataloader_epoch(benchmark, dataset, num_workers):
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=num_workers)

    def epoch():
        seen = 0
        for x, _ in loader:
            seen += x.shape[0]
        return seen

    seen = benchmark.pedantic(epoch, rounds=3, iterations=1, warmup_rounds=0)
    assert seen == SAMPLES  # the epoch delivered every sample (a correctness check, not a timing)
    benchmark.extra_info["samples_per_second"] = SAMPLES / benchmark.stats.stats.mean
