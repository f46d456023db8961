"""Random numbers: seeding, Generator objects, RNG state, and the distributions.

The suite's autouse fixture seeds the default generator, so every statistical check
below sees the same numbers on every run; the tolerances are several standard errors.
"""
import numpy as np
import pytest
from scipy import stats

import ember

N = 100_000


def draw_all():
    """One of each sampling function, as host arrays."""
    return [
        ember.rand(5).numpy(), ember.randn(2, 3).numpy(), ember.randint(0, 100, (6,)).numpy(),
        ember.randperm(8).numpy(), ember.normal(1.0, 2.0, (4,)).numpy(),
        ember.bernoulli(ember.full((6,), 0.5)).numpy(),
        ember.multinomial(ember.tensor([1.0, 2.0, 3.0]), 4, replacement=True).numpy(),
        ember.empty(3).uniform_(-1, 1).numpy(), ember.empty(3).normal_().numpy(),
    ]


def assert_same_draws(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


# ================================================================ seeding and state
def test_manual_seed_makes_every_sampler_reproducible():
    ember.manual_seed(123)
    first = draw_all()
    ember.manual_seed(123)
    assert_same_draws(first, draw_all())
    ember.manual_seed(124)
    other = draw_all()
    assert not np.array_equal(first[0], other[0]) and not np.array_equal(first[1], other[1])


def test_successive_draws_differ():
    a, b = ember.rand(10).numpy(), ember.rand(10).numpy()
    assert not np.array_equal(a, b)


def test_manual_seed_returns_the_default_generator_and_sets_initial_seed():
    g = ember.manual_seed(77)
    assert g is ember.default_generator
    assert ember.initial_seed() == 77


def test_generator_objects_are_independent_of_the_default_one():
    ember.manual_seed(5)
    expected = ember.rand(4).numpy(), ember.rand(4).numpy()
    ember.manual_seed(5)
    g = ember.Generator().manual_seed(99)
    first = ember.rand(4).numpy()
    ember.rand(4, generator=g)           # does not advance the default generator
    ember.randn(4, generator=g)
    second = ember.rand(4).numpy()
    np.testing.assert_array_equal(first, expected[0])
    np.testing.assert_array_equal(second, expected[1])


def test_a_generator_seeded_like_the_default_gives_the_same_numbers():
    ember.manual_seed(42)
    from_default = ember.randn(6).numpy()
    g = ember.Generator()
    assert g.manual_seed(42) is g and g.initial_seed() == 42
    np.testing.assert_array_equal(ember.randn(6, generator=g).numpy(), from_default)
    g2 = ember.Generator().manual_seed(42)
    np.testing.assert_array_equal(ember.randperm(10, generator=g2).numpy(),
                                  ember.randperm(10, generator=ember.Generator().manual_seed(42)).numpy())


def test_get_and_set_rng_state_replay_the_stream():
    ember.rand(3)
    state = ember.get_rng_state()
    assert isinstance(state, ember.Tensor)
    first = draw_all()
    ember.rand(7)  # move on
    ember.set_rng_state(state)
    assert_same_draws(first, draw_all())


def test_generator_state_roundtrip():
    g = ember.Generator().manual_seed(3)
    ember.rand(5, generator=g)
    state = g.get_state()
    a = ember.randn(5, generator=g).numpy()
    g.set_state(state)
    np.testing.assert_array_equal(ember.randn(5, generator=g).numpy(), a)


def test_like_functions_use_the_stream():
    base = ember.zeros(2, 3, dtype=ember.float64)
    ember.manual_seed(8)
    a, b = ember.rand_like(base).numpy(), ember.randn_like(base).numpy()
    ember.manual_seed(8)
    np.testing.assert_array_equal(ember.rand(2, 3, dtype=ember.float64).numpy(), a)
    np.testing.assert_array_equal(ember.randn(2, 3, dtype=ember.float64).numpy(), b)


# ================================================================ distributions
def test_rand_is_uniform_on_zero_one():
    u = ember.rand(N, dtype=ember.float64).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    assert stats.kstest(u, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("dtype", [ember.float16, ember.bfloat16, ember.float32, ember.float64])
def test_rand_stays_below_one_in_every_float_dtype(dtype):
    u = ember.rand(N, dtype=dtype)
    assert u.dtype is dtype
    values = u.double().numpy()
    assert values.min() >= 0.0 and values.max() < 1.0
    assert abs(values.mean() - 0.5) < 0.01


def test_randn_is_standard_normal():
    z = ember.randn(N, dtype=ember.float64).numpy()
    assert abs(z.mean()) < 0.015 and abs(z.std() - 1.0) < 0.01
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert ember.randn(3, 4).dtype is ember.float32


def test_normal_with_scalar_and_tensor_parameters():
    z = ember.normal(3.0, 0.5, (N,), dtype=ember.float64).numpy()
    assert abs(z.mean() - 3.0) < 0.01 and abs(z.std() - 0.5) < 0.01
    means = ember.tensor([-10.0, 0.0, 10.0], dtype=ember.float64).repeat(N // 3)
    per_element = ember.normal(means, 2.0).numpy().reshape(-1, 3)
    np.testing.assert_allclose(per_element.mean(0), [-10.0, 0.0, 10.0], atol=0.05)
    np.testing.assert_allclose(per_element.std(0), [2.0, 2.0, 2.0], atol=0.05)


def test_randint_covers_its_range_evenly():
    r = ember.randint(3, 10, (N,)).numpy()
    assert r.dtype == np.int64 and r.min() == 3 and r.max() == 9
    counts = np.bincount(r - 3, minlength=7)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_randint_with_large_and_negative_bounds():
    r = ember.randint(-(2 ** 40), 2 ** 40, (1000,)).numpy()
    assert r.min() >= -(2 ** 40) and r.max() < 2 ** 40
    assert (r < 0).any() and (r > 0).any()
    assert set(ember.randint(0, 1, (10,)).tolist()) == {0}


@pytest.mark.parametrize("n", [0, 1, 2, 17, 1000])
def test_randperm_is_a_permutation(n):
    p = ember.randperm(n).numpy()
    np.testing.assert_array_equal(np.sort(p), np.arange(n))


def test_randperm_positions_are_uniform():
    first = np.array([ember.randperm(4)[0].item() for _ in range(2000)])
    assert stats.chisquare(np.bincount(first, minlength=4)).pvalue > 1e-3


def test_bernoulli_frequency_follows_the_probabilities():
    p = ember.tensor([0.1, 0.5, 0.9], dtype=ember.float64).repeat(N // 3)
    draws = ember.bernoulli(p).numpy().reshape(-1, 3)
    assert set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_allclose(draws.mean(0), [0.1, 0.5, 0.9], atol=0.01)
    np.testing.assert_array_equal(ember.bernoulli(ember.tensor([0.0, 1.0])).numpy(), [0.0, 1.0])


def test_multinomial_with_and_without_replacement():
    weights = ember.tensor([1.0, 0.0, 3.0, 6.0])
    draws = ember.multinomial(weights, N, replacement=True).numpy()
    freq = np.bincount(draws, minlength=4) / N
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.3, 0.6], atol=0.01)
    for _ in range(20):
        picked = ember.multinomial(weights, 3).numpy()
        assert len(set(picked.tolist())) == 3 and 1 not in picked
    rows = ember.multinomial(ember.tensor([[1.0, 0.0], [0.0, 1.0]]), 5, replacement=True).numpy()
    np.testing.assert_array_equal(rows, [[0] * 5, [1] * 5])


def test_in_place_samplers():
    t = ember.empty(N, dtype=ember.float64)
    u = t.uniform_(-2.0, 3.0).numpy().copy()
    assert u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.02
    z = t.normal_(1.0, 2.0).numpy().copy()
    assert abs(z.mean() - 1.0) < 0.03 and abs(z.std() - 2.0) < 0.03
    e = t.exponential_(2.0).numpy().copy()
    assert e.min() >= 0.0 and stats.kstest(e, "expon", args=(0, 0.5)).pvalue > 1e-3
    b = ember.empty(N).bernoulli_(0.25).numpy()
    assert abs(b.mean() - 0.25) < 0.01
    ints = ember.empty(1000, dtype=ember.int64).random_(0, 5).numpy()
    assert set(np.unique(ints)) == {0, 1, 2, 3, 4}


def test_random_floats_need_a_floating_dtype():
    with pytest.raises(RuntimeError, match="int64"):
        ember.rand(2, dtype=ember.int64)
