"""The CPU plugin's compiled (numba) kernels and fused numpy softmax, on inputs big enough
to take the compiled path, against float64 numpy/scipy references; and the thread count."""
import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.special

import ember
import ember.nn.functional as F
from ember.dispatch import threads
from ember.plugins.cpu import compiled

pytest.importorskip("numba")

N = compiled.MIN_SIZE * 2
TOL = {np.float32: dict(rtol=2e-6, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}
SPECIALS = [np.inf, -np.inf, np.nan, 0.0, -0.0, 3.9, -3.9, 4.5, -4.5, 1e-30]


def _input(dtype, shape=(N,), scale=3.0):
    x = np.random.default_rng(0).standard_normal(shape) * scale
    x.reshape(-1)[:len(SPECIALS)] = SPECIALS
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf(dtype):
    x = _input(dtype)
    got = ember.erf(ember.from_numpy(x)).numpy()
    assert got.dtype == dtype
    np.testing.assert_allclose(got, scipy.special.erf(x.astype(np.float64)), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_exact(dtype):
    x = _input(dtype)
    t = ember.from_numpy(x).requires_grad_()
    y = F.gelu(t)
    x64 = x.astype(np.float64)
    cdf = 0.5 * scipy.special.erfc(-x64 / math.sqrt(2))
    with np.errstate(invalid="ignore"):
        want = x64 * cdf  # -inf * 0 is NaN, as PyTorch gives for gelu(-inf)
    assert y.dtype == t.dtype
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=TOL[dtype]["rtol"] * 40 if dtype == np.float32
                               else 1e-12, atol=TOL[dtype]["atol"] * 2)
    y.sum().backward()  # the fused kernel keeps gelu's derivative rule
    finite = np.isfinite(x64)
    grad = cdf + x64 * np.exp(-x64 ** 2 / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(t.grad.numpy()[finite], grad[finite], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim,keepdim", [(1, False), (-1, True), (0, False)])
def test_sum_and_mean_over_a_dim(dtype, dim, keepdim):
    x = np.random.default_rng(1).standard_normal((257, 300)).astype(dtype) + 1.0
    t = ember.from_numpy(x)
    x64 = x.astype(np.float64)
    for fn, ref in (("sum", x64.sum), ("mean", x64.mean)):
        got = getattr(t, fn)(dim, keepdim=keepdim)
        want = ref(axis=dim, keepdims=keepdim)
        assert got.dtype == t.dtype and tuple(got.shape) == want.shape
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6 if dtype == np.float32 else 1e-13)


def test_sum_propagates_nan_and_inf():
    x = np.ones((64, 1024), np.float32)
    x[3, 5], x[7, 0], x[9, 1], x[9, 2] = np.nan, np.inf, np.inf, -np.inf
    got = ember.from_numpy(x).sum(1).numpy()
    assert np.isnan(got[3]) and got[7] == np.inf and np.isnan(got[9]) and got[0] == 1024


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("dim", [-1, 0])
@pytest.mark.parametrize("log", [False, True])
def test_softmax(dtype, dim, log):
    x = np.random.default_rng(2).standard_normal((64, 600)) * 4
    x[5, 7], x[6, :] = np.inf, -np.inf  # PyTorch gives NaN for a slice with +inf or only -inf
    x = x.astype(dtype)
    t = ember.from_numpy(x)
    got = (t.log_softmax(dim) if log else t.softmax(dim)).numpy()
    x64 = x.astype(np.float64)
    with np.errstate(invalid="ignore"):  # PyTorch's definition: shift by the max (inf - inf is NaN)
        shifted = x64 - x64.max(axis=dim, keepdims=True)
        total = np.exp(shifted).sum(axis=dim, keepdims=True)
        want = shifted - np.log(total) if log else np.exp(shifted) / total
    nan_rows = np.isnan(want)
    if dim == -1:
        assert nan_rows[5].all() and nan_rows[6].all()
    assert got.dtype == dtype
    assert np.array_equal(np.isnan(got), nan_rows)
    tol = {np.float16: 2e-3, np.float32: 2e-6, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(got[~nan_rows], want[~nan_rows], rtol=tol, atol=tol)


def test_busy_lock_falls_back_to_numpy():
    x = _input(np.float64)
    with compiled._BUSY:  # another thread inside a compiled loop: this call takes the numpy path
        got = ember.erf(ember.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, scipy.special.erf(x), rtol=1e-12, atol=1e-15)


def test_num_threads(monkeypatch):
    import numba
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
        ember.erf(ember.from_numpy(_input(np.float32)))
        assert numba.get_num_threads() == 1  # the compiled loop ran with ember's count
        for bad, message in ((0, "positive"), (-2, "positive"), (1.5, "int"), (True, "int")):
            with pytest.raises(RuntimeError, match=message):
                ember.set_num_threads(bad)
    finally:
        ember.set_num_threads(before)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads._default() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert threads._default() >= 1


def test_import_compiles_nothing():
    code = "import sys, ember; assert 'numba' not in sys.modules, 'import ember imported numba'"
    subprocess.run([sys.executable, "-c", code], check=True)


class _GeluSums:
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return float(F.gelu(ember.full((N,), float(i + 1))).sum())


def test_dataloader_workers_fork_after_compiled_kernels():
    from ember.utils.data import DataLoader
    F.gelu(ember.from_numpy(_input(np.float32)))  # the parent has used the compiled thread pool
    got = [float(b) for b in DataLoader(_GeluSums(), batch_size=1, num_workers=1)]
    want = [N * x * 0.5 * (1 + math.erf(x / math.sqrt(2))) for x in (1.0, 2.0)]
    np.testing.assert_allclose(got, want, rtol=1e-5)
