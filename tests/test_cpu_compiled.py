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

N = compiled._SPAN_MIN_SIZE * 2  # large enough for the elementwise loops to run on threads
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
    before = ember.get_num_threads()
    spans = []
    real = compiled._run
    monkeypatch.setattr(compiled, "_run", lambda fn, *args: (spans.append(args[-1]), real(fn, *args))[1])
    x = ember.from_numpy(_input(np.float32))
    try:
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
        np.testing.assert_allclose(ember.erf(x).numpy(), scipy.special.erf(x.numpy()), atol=1e-6)
        assert spans == []  # one thread: the serial loop ran on the caller alone
        ember.set_num_threads(2)
        np.testing.assert_allclose(ember.erf(x).numpy(), scipy.special.erf(x.numpy()), atol=1e-6)
        assert spans and spans[0] == 2  # two threads: the parallel driver, one chunk each
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


def test_import_leaves_scipy_special_until_a_special_function_runs():
    # scipy.special takes a quarter of a second to import; the CPU kernels look it up lazily
    code = ("import sys, ember; assert 'scipy.special' not in sys.modules, 'import ember imported scipy.special'; "
            "y = ember.special.erfcx(ember.tensor([0.5], dtype=ember.float64)); "
            "assert 'scipy.special' in sys.modules; assert abs(float(y) - 0.6156903441929259) < 1e-12")
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


# ---------------------------------------------------------------- reductions, softmax, exp, the pool
def _loops():
    return compiled._loops()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vectorized_exp(dtype):
    # the whole range, through overflow and the subnormals, and the special values
    top = 89.0 if dtype == np.float32 else 710.0
    bottom = -104.0 if dtype == np.float32 else -746.0
    x = np.concatenate([np.linspace(bottom, top, 200_001), np.random.default_rng(3).standard_normal(5000),
                        [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30, -1e-30]]).astype(dtype)
    out = np.empty_like(x)
    _loops()["exp_into"](x, out, 0, x.size)
    with np.errstate(over="ignore", under="ignore"):
        want = np.exp(x.astype(np.float64)).astype(dtype)   # correctly rounded to dtype, then compared
    tiny = np.finfo(dtype).tiny
    normal = np.isfinite(want) & (want >= tiny)
    rtol = 3e-7 if dtype == np.float32 else 5e-16
    np.testing.assert_allclose(out[normal], want[normal], rtol=rtol, atol=0)
    assert np.array_equal(np.isinf(out), np.isinf(want)) and np.array_equal(np.isnan(out), np.isnan(want))
    sub = ~normal & np.isfinite(want)
    np.testing.assert_allclose(out[sub], want[sub], rtol=0, atol=2 * tiny * np.finfo(dtype).eps)


@pytest.mark.parametrize("threads_", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,dims", [((1024, 300), ()), ((1024, 300), (0, 1)), ((16, 64, 96), (1, 2)),
                                        ((40, 80, 33), (1,)), ((3, 40000), (0,)), ((40, 30, 50), (0, 1)),
                                        ((20, 40, 60), (0, 2)), ((123457,), (0,))])
def test_sum_and_mean_over_dims(dtype, shape, dims, threads_):
    # every path of the compiled sum: all elements, trailing dims (rows), a middle dim split
    # by outer rows, a leading dim split by inner columns, leading dims, and dims that are
    # not one run (numpy's kernel)
    before = ember.get_num_threads()
    ember.set_num_threads(threads_)
    try:
        x = np.random.default_rng(4).standard_normal(shape).astype(dtype) + 0.5
        t = ember.from_numpy(x)
        x64 = x.astype(np.float64)
        axis = dims if dims else None
        for keepdim in (False, True):
            got = t.sum(dims if dims else None, keepdim=keepdim)
            want = x64.sum(axis=axis, keepdims=keepdim)
            assert got.dtype == t.dtype and tuple(got.shape) == want.shape
            scale = np.sqrt(x64.size / max(want.size, 1))
            tol = (2e-6 if dtype == np.float32 else 1e-13) * scale
            np.testing.assert_allclose(got.numpy(), want, rtol=tol, atol=tol)
            got = t.mean(dims if dims else None, keepdim=keepdim)
            np.testing.assert_allclose(got.numpy(), x64.mean(axis=axis, keepdims=keepdim), rtol=tol, atol=tol)
    finally:
        ember.set_num_threads(before)


def test_full_sum_propagates_nan_and_inf():
    x = np.ones(1 << 17, np.float32)
    t = ember.from_numpy(x)
    assert float(t.sum()) == x.size
    x[100] = np.inf
    assert float(ember.from_numpy(x).sum()) == np.inf
    x[-1] = -np.inf
    assert np.isnan(float(ember.from_numpy(x).sum()))


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,dim", [((8, 50, 97), 1), ((4, 100_000), -1), ((5000, 1), -1), ((2, 3, 16384), 0)])
def test_softmax_shapes(monkeypatch, dtype, shape, dim, threaded):
    # a middle and a leading dim (moved last and back), long rows (the blocked float64 sum),
    # rows of one element; with -inf entries that are not the whole row; on one thread, and
    # (threaded: every size) on the drivers
    monkeypatch.setattr(compiled, "_ROWS_MIN_SIZE", 0 if threaded else 1 << 62)
    x = np.random.default_rng(5).standard_normal(shape) * 3
    x.reshape(-1)[::7] = -np.inf if shape[dim] > 1 else 0.0
    x = x.astype(dtype)
    x64 = x.astype(np.float64)
    t = ember.from_numpy(x).requires_grad_()
    with np.errstate(divide="ignore"):
        shifted = x64 - x64.max(axis=dim, keepdims=True)
        total = np.exp(shifted).sum(axis=dim, keepdims=True)
        want_log = shifted - np.log(total)
    want = np.exp(shifted) / total
    tol = 3e-6 if dtype == np.float32 else 1e-12
    y = t.softmax(dim)
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=tol, atol=tol * 1e-3)
    got_log = t.log_softmax(dim).detach().numpy()
    assert np.array_equal(np.isneginf(got_log), np.isneginf(want_log))
    finite = np.isfinite(want_log)
    np.testing.assert_allclose(got_log[finite], want_log[finite], rtol=tol, atol=tol)
    # backward goes through softmax's derivative rule, whichever kernel made the output
    w = np.random.default_rng(6).standard_normal(shape)
    (y * ember.from_numpy(w.astype(dtype))).sum().backward()
    want_grad = want * (w - (want * w).sum(axis=dim, keepdims=True))
    np.testing.assert_allclose(t.grad.numpy(), want_grad, rtol=tol * 10, atol=tol * 10)


def test_softmax_threads_agree():
    x = np.random.default_rng(7).standard_normal((512, 257)).astype(np.float32)
    before = ember.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            ember.set_num_threads(n)
            results.append(ember.softmax(ember.from_numpy(x), -1).numpy())
    finally:
        ember.set_num_threads(before)
    assert all(np.array_equal(results[0], r) for r in results[1:])  # rows are independent of the split


def test_two_python_threads_at_once():
    import threading

    # one gets numba's parallel layer, the other runs the serial loops; both finish
    x = np.random.default_rng(8).standard_normal((2048, 512)).astype(np.float32)
    want = x.astype(np.float64).sum(1)
    results = [None, None]

    def work(k):
        results[k] = [ember.from_numpy(x).sum(1).numpy() for _ in range(20)]
    workers = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for r in results:
        for got in r:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


class _Softmaxes:
    def __len__(self):
        return 2

    def __getitem__(self, i):
        x = ember.full((64, 1024), float(i))
        return float(ember.softmax(x, -1).sum() + x.sum(1).sum())


def test_dataloader_workers_fork_after_a_parallel_region():
    from ember.utils.data import DataLoader
    # the parent has run a parallel region (numba's OpenMP threads exist): a forked worker must
    # take the serial loops, or GNU OpenMP kills it
    ember.softmax(ember.randn(512, 512), -1)
    got = [float(b) for b in DataLoader(_Softmaxes(), batch_size=1, num_workers=1)]
    np.testing.assert_allclose(got, [64 + 0.0, 64 + 64 * 1024.0], rtol=1e-6)


@pytest.mark.parametrize("shape,dims", [((300, 257), (1,)), ((16, 40, 96), (1, 2)), ((40, 33, 80), (2,))])
def test_amax_amin_over_trailing_dims(shape, dims):
    x = np.random.default_rng(9).standard_normal(shape).astype(np.float32)
    flat = x.reshape(-1, math.prod(shape[d] for d in dims))
    flat[3, 5], flat[4, :], flat[5, 9], flat[6, 1], flat[7, 2:4] = np.nan, -np.inf, np.inf, -np.inf, [np.inf, np.nan]
    flat[8, :] = -0.0
    t = ember.from_numpy(x)
    for fn, ref in (("amax", np.max), ("amin", np.min)):
        for keepdim in (False, True):
            got = getattr(t, fn)(dims, keepdim=keepdim).numpy()
            want = ref(x, axis=dims, keepdims=keepdim)
            assert got.dtype == np.float32 and np.array_equal(got, want, equal_nan=True), fn
    values, indices = t.max(dims[0]) if len(dims) == 1 else (None, None)
    if values is not None:
        assert np.array_equal(values.numpy(), x.max(axis=dims[0]), equal_nan=True)


@pytest.mark.parametrize("dims", [(1,), (0,), (0, 1), (1, 2)])
def test_sums_split_across_threads(monkeypatch, dims):
    """The threaded sum paths (taken from 512K elements) on a small input: same values as float64."""
    monkeypatch.setattr(compiled, "_REDUCE_MIN_SIZE", 0)
    monkeypatch.setattr(compiled, "MIN_SIZE", 0)
    previous = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        x = np.random.default_rng(3).standard_normal((64, 48, 8)).astype(np.float32)
        got = ember.from_numpy(x).sum(dim=dims).numpy()
    finally:
        ember.set_num_threads(previous)
    np.testing.assert_allclose(got, x.astype(np.float64).sum(axis=dims), rtol=1e-5, atol=1e-5)


def _base_kernels():
    from ember.plugins.cpu.kernels import kernel_table
    return kernel_table()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threaded_binary_ops_match_numpy_bit_for_bit(monkeypatch, dtype):
    """add/sub/mul/div on large same-shape operands run on two threads: numpy's results exactly,
    into a new array, into the left operand (a * b + c), into the right one (x - a * b), and
    numpy's buffered result when the output overlaps an operand in part."""
    calls = []
    real = compiled._run
    monkeypatch.setattr(compiled, "_run", lambda fn, *args: (calls.append(args[-2]), real(fn, *args))[1])
    previous = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        rng = np.random.default_rng(5)
        n = compiled._BINARY_MIN_SIZE + 7
        a, b, c = (rng.standard_normal(n).astype(dtype) for _ in range(3))
        b[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30]
        a[:3] = [0.0, 1.0, -np.inf]
        A, B, C = (ember.from_numpy(v.copy()) for v in (a, b, c))
        with np.errstate(all="ignore"):
            for name, fn in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.divide)):
                got = getattr(ember, name)(A, B).numpy()
                assert got.dtype == dtype and np.array_equal(got, fn(a, b), equal_nan=True), name
            fma = A * B + C  # outside an assert statement: pytest's rewriting names the product
            assert np.array_equal(fma.numpy(), a * b + c, equal_nan=True)
            right = b.copy()
            _base_kernels()["sub"].into(right, a, right)  # the CPU table's (threaded) sub
            assert np.array_equal(right, a - b, equal_nan=True)
            assert {0, 1, 2} <= set(calls)  # a new array, into the left operand, into the right one
            X = ember.from_numpy(c.copy())
            X[1:].add_(X[:-1])
            want = c.copy()
            np.add(want[1:], want[:-1], out=want[1:])
            assert np.array_equal(X.numpy(), want)
    finally:
        ember.set_num_threads(previous)


@pytest.mark.parametrize("threaded", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_philox_uniform_matches_the_reference_stream(monkeypatch, dtype, threaded):
    # the compiled uniforms are ember.dispatch.philox's stream bit for bit: sizes that end inside a
    # counter block, and offsets whose counter carries into its second word
    from ember.dispatch.philox import philox_words, SIGNIFICAND_BITS
    from ember.dispatch.ops import OPS
    monkeypatch.setattr(compiled, "_RANDOM_MIN_SIZE", 0 if threaded else 1 << 62)
    kernel = OPS["philox_uniform"].resolved.get("cpu") or ember.dispatch.table.resolve(OPS["philox_uniform"], "cpu")
    dt = getattr(ember, dtype)
    bits = SIGNIFICAND_BITS[dtype]
    for n, seed, offset in ((compiled.MIN_SIZE, 5, 0), (compiled.MIN_SIZE + 3, 2**64 + 17, 2**64 - 2),
                            (3 * compiled.MIN_SIZE + 1, 123, 2**70 + 9)):
        got = kernel(shape=(n,), dtype=dt, seed=seed, offset=offset, index=None)
        want = (philox_words(n, seed, offset) >> np.uint64(64 - bits)).astype(np.float64) * 2.0 ** -bits
        assert got.dtype == dt.numpy
        np.testing.assert_array_equal(got.astype(np.float64), want)
