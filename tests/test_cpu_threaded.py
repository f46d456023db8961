"""Large elementwise arithmetic in spans on the CPU thread pool (plugins/cpu/threaded.py): the
same bits as numpy's single call, on every path the wrapper takes or declines."""
import numpy as np
import pytest

import ember
from ember.plugins.cpu import threaded

N = threaded.MIN_SIZE * 2 + 3  # not a multiple of the span count


@pytest.fixture
def two_threads():
    before = ember.get_num_threads()
    ember.set_num_threads(2)
    yield
    ember.set_num_threads(before)


@pytest.fixture
def spans_seen(monkeypatch):
    seen = []
    real = threaded.parallel_for
    monkeypatch.setattr(threaded, "parallel_for", lambda fn, n: (seen.append(n), real(fn, n)))
    return seen


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_spans_give_numpys_bits(two_threads, spans_seen, dtype, op):
    rng = np.random.default_rng(1)
    x, y = (rng.standard_normal(N).astype(dtype) for _ in range(2))
    ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}[op]
    fn = getattr(ember, op)
    np.testing.assert_array_equal(fn(ember.from_numpy(x), ember.from_numpy(y)).numpy(), ufunc(x, y))
    np.testing.assert_array_equal(fn(ember.from_numpy(x), 0.75).numpy(), ufunc(x, dtype(0.75)))
    inplace = ember.from_numpy(x.copy())
    getattr(inplace, op + "_")(ember.from_numpy(y))
    np.testing.assert_array_equal(inplace.numpy(), ufunc(x, y))
    assert spans_seen and all(n >= 2 for n in spans_seen)


def test_other_layouts_take_the_single_call(two_threads, spans_seen):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1024, 600)).astype(np.float32)
    row = rng.standard_normal(600).astype(np.float32)
    np.testing.assert_array_equal((ember.from_numpy(x).t() * 2).numpy(), x.T * 2)  # strided
    np.testing.assert_array_equal((ember.from_numpy(x) + ember.from_numpy(row)).numpy(), x + row)  # broadcast
    small = rng.standard_normal(100).astype(np.float32)
    np.testing.assert_array_equal((ember.from_numpy(small) * 3).numpy(), small * 3)
    assert spans_seen == []


def test_one_thread_takes_the_single_call(spans_seen):
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        x = np.arange(N, dtype=np.float32)
        np.testing.assert_array_equal((ember.from_numpy(x) * ember.from_numpy(x)).numpy(), x * x)
    finally:
        ember.set_num_threads(before)
    assert spans_seen == []
