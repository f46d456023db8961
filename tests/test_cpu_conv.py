"""The CPU plugin's conv and pooling kernels (ember/plugins/cpu/conv.py) against float64
numpy references, on both of their paths: the compiled one (numba loops + BLAS) and the
numpy one (what runs without numba, or for geometries the loops do not take).

The references here are written independently of the kernels: a loop over kernel offsets
of the zero-padded input, accumulated in float64."""
import itertools

import numpy as np
import pytest

import ember
from ember.plugins.cpu import conv as K

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
numba = pytest.importorskip("numba")


@pytest.fixture(params=["compiled", "compiled_serial", "numpy"])
def path(request, monkeypatch):
    """Run the test on one path (the compiled loops on threads or on the caller, or numpy); on a
    compiled one, fail unless a compiled loop ran."""
    ran = []
    real_over = K._over

    def counting_over(name, total, elements, *args):
        ran.append(name)
        return real_over(name, total, elements, *args)

    real_samples = K._per_sample

    def counting_samples(name, *args):
        ran.append(name)
        return real_samples(name, *args)

    monkeypatch.setattr(K, "_over", counting_over)
    monkeypatch.setattr(K, "_per_sample", counting_samples)
    real_channels = K._by_channels

    def counting_channels(*args):
        ran.append("conv_channels")
        return real_channels(*args)

    monkeypatch.setattr(K, "_by_channels", counting_channels)
    # the tests' small inputs take the threaded drivers, or never
    monkeypatch.setattr(K, "PARALLEL_ELEMENTS", 0 if request.param == "compiled" else 1 << 62)
    monkeypatch.setattr(K, "PARALLEL_WORK", 0 if request.param == "compiled" else 1 << 62)
    monkeypatch.setitem(K._LOOPS, "available", request.param != "numpy")
    yield request.param
    if request.param != "numpy":
        assert ran, "the compiled path did not run"
    else:
        assert not ran


# ---------------------------------------------------------------- float64 references
def _padded(x, padding):
    return np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + [(p, p) for p in padding])


def _window(x, offsets, stride, dilation, out):
    """x[..., o*d + t*s ...] for t over the output positions: one kernel offset's input slice."""
    return x[(slice(None), slice(None)) + tuple(
        slice(o * d, o * d + (n - 1) * s + 1, s) for o, s, d, n in zip(offsets, stride, dilation, out))]


def _out_size(spatial, kernel, stride, padding, dilation):
    return tuple((spatial[i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                 for i in range(len(kernel)))


def ref_conv(x, w, b, stride, padding, dilation, groups=1):
    xp = _padded(x, padding)
    kernel = w.shape[2:]
    out = _out_size(x.shape[2:], kernel, stride, padding, dilation)
    n, c = x.shape[:2]
    o = w.shape[0]
    cg, og = c // groups, o // groups
    y = np.zeros((n, o) + out)
    for offsets in itertools.product(*[range(k) for k in kernel]):
        piece = _window(xp, offsets, stride, dilation, out)
        for g in range(groups):
            wk = w[(slice(g * og, (g + 1) * og), slice(None)) + offsets].astype(np.float64)
            y[:, g * og:(g + 1) * og] += np.einsum("oc,nc...->no...", wk, piece[:, g * cg:(g + 1) * cg])
    if b is not None:
        y += b.astype(np.float64).reshape((-1,) + (1,) * len(kernel))
    return y


def ref_conv_transpose(x, w, b, stride, padding, output_padding, dilation):
    """groups 1: each input element spreads w * x over its output window."""
    n, c_in = x.shape[:2]
    c_out = w.shape[1]
    kernel = w.shape[2:]
    spatial = x.shape[2:]
    full = tuple((spatial[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 + output_padding[i]
                 for i in range(len(kernel)))
    y = np.zeros((n, c_out) + full)
    for offsets in itertools.product(*[range(k) for k in kernel]):
        key = (slice(None), slice(None)) + tuple(
            slice(o * d, o * d + (s_ - 1) * s + 1, s) for o, s, d, s_ in zip(offsets, stride, dilation, spatial))
        y[key] += np.einsum("co,nc...->no...", w[(slice(None), slice(None)) + offsets].astype(np.float64),
                            x.astype(np.float64))
    y = y[(slice(None), slice(None)) + tuple(slice(p, f - p) for p, f in zip(padding, full))]
    if b is not None:
        y += b.astype(np.float64).reshape((-1,) + (1,) * len(kernel))
    return y


def ref_max_pool(x, kernel, stride, padding, dilation, out):
    """(values, row-major indices): the first maximum of each window, the first NaN if any."""
    nd = len(kernel)
    spatial = x.shape[2:]
    values = np.empty(x.shape[:2] + out, x.dtype)
    indices = np.empty(x.shape[:2] + out, np.int64)
    for pos in itertools.product(*[range(o) for o in out]):
        best = np.full(x.shape[:2], -np.inf)
        where = np.full(x.shape[:2], -1, np.int64)
        for offsets in itertools.product(*[range(k) for k in kernel]):
            at = [pos[i] * stride[i] - padding[i] + offsets[i] * dilation[i] for i in range(nd)]
            if not all(0 <= at[i] < spatial[i] for i in range(nd)):
                continue
            v = x[(slice(None), slice(None)) + tuple(at)].astype(np.float64)
            flat = int(np.ravel_multi_index(at, spatial))
            take = (v > best) | (np.isnan(v) & ~np.isnan(best)) | (where < 0)
            best, where = np.where(take, v, best), np.where(take, flat, where)
        values[(slice(None), slice(None)) + pos] = best
        indices[(slice(None), slice(None)) + pos] = where
    return values, indices


def _rand(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------- conv
CONV_CASES = [  # (x shape, weight shape, stride, padding, dilation)
    ((8, 1, 28, 28), (6, 1, 5, 5), (1, 1), (2, 2), (1, 1)),      # LeNet conv1
    ((8, 6, 14, 14), (16, 6, 5, 5), (1, 1), (0, 0), (1, 1)),     # LeNet conv2
    ((4, 3, 17, 15), (5, 3, 3, 4), (2, 3), (1, 2), (2, 1)),      # odd strides, padding, dilation
    ((4, 8, 12, 12), (6, 8, 12, 12), (1, 1), (2, 2), (1, 1)),    # kernel larger than output: im2row
    ((6, 4, 200), (7, 4, 5), (2,), (3,), (2,)),                  # 1-d
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "x".join(map(str, c[0])))
def test_conv_matches_reference(path, case, dtype):
    rng = np.random.default_rng(0)
    xs, ws, stride, padding, dilation = case
    x, w, b = _rand(rng, xs, dtype), _rand(rng, ws, dtype), _rand(rng, ws[:1], dtype)
    got = K.conv(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=1)
    assert got.dtype == dtype and got.flags.c_contiguous
    np.testing.assert_allclose(got, ref_conv(x, w, b, stride, padding, dilation), **_tol(dtype))
    got = K.conv(x, w, None, stride=stride, padding=padding, dilation=dilation, groups=1)
    np.testing.assert_allclose(got, ref_conv(x, w, None, stride, padding, dilation), **_tol(dtype))


def test_conv_takes_strided_views(path):
    """The weight gradient passes batch-and-channel-swapped views: the kernels must read them."""
    rng = np.random.default_rng(1)
    x, w = _rand(rng, (6, 8, 14, 14)).transpose(1, 0, 2, 3), _rand(rng, (6, 16, 12, 12)).transpose(1, 0, 2, 3)
    got = K.conv(x, w, None, stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1)
    np.testing.assert_allclose(got, ref_conv(x, w, None, (1, 1), (1, 1), (1, 1)), rtol=1e-4, atol=1e-4)


def test_conv_groups_and_half_precision_take_the_numpy_path():
    rng = np.random.default_rng(2)
    x, w = _rand(rng, (4, 6, 10, 10)), _rand(rng, (9, 2, 3, 3))
    got = K.conv(x, w, None, stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=3)
    np.testing.assert_allclose(got, ref_conv(x, w, None, (1, 1), (1, 1), (1, 1), groups=3), rtol=1e-4, atol=1e-4)
    x, w = _rand(rng, (8, 3, 16, 16), np.float16), _rand(rng, (4, 3, 3, 3), np.float16)
    got = K.conv(x, w, None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.astype(np.float64), ref_conv(x, w, None, (1, 1), (0, 0), (1, 1)),
                               rtol=1e-2, atol=2e-2)


TRANSPOSE_CASES = [  # (x shape, weight shape, stride, padding, output_padding, dilation)
    ((8, 16, 10, 10), (16, 6, 5, 5), (1, 1), (0, 0), (0, 0), (1, 1)),    # LeNet conv2's input gradient
    ((4, 5, 9, 11), (5, 3, 3, 4), (2, 3), (1, 2), (1, 2), (2, 1)),
    ((6, 4, 50), (4, 7, 5), (3,), (2,), (1,), (1,)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", TRANSPOSE_CASES, ids=lambda c: "x".join(map(str, c[0])))
def test_conv_transpose_matches_reference(path, case, dtype):
    rng = np.random.default_rng(3)
    xs, ws, stride, padding, output_padding, dilation = case
    x, w, b = _rand(rng, xs, dtype), _rand(rng, ws, dtype), _rand(rng, ws[1:2], dtype)
    for bias in (b, None):
        got = K.conv_transpose(x, w, bias, stride=stride, padding=padding, output_padding=output_padding,
                               dilation=dilation, groups=1)
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref_conv_transpose(x, w, bias, stride, padding, output_padding, dilation),
                                   **_tol(dtype))


# ---------------------------------------------------------------- max pooling
POOL_CASES = [  # (x shape, kernel, stride, padding, dilation, ceil_mode)
    ((8, 6, 28, 28), (2, 2), (2, 2), (0, 0), (1, 1), False),     # compiled
    ((8, 16, 11, 9), (2, 2), (1, 2), (0, 0), (1, 1), False),     # compiled, overlapping rows
    ((8, 16, 11, 9), (2, 2), (2, 2), (0, 0), (1, 1), True),      # partial last window: numpy
    ((4, 8, 15, 13), (3, 3), (2, 2), (1, 1), (1, 1), False),     # numpy
]


def _pool_out(shape, kernel, stride, padding, dilation, ceil_mode):
    out = []
    for i in range(len(kernel)):
        span = shape[2 + i] + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1
        o = (-(-span // stride[i]) if ceil_mode else span // stride[i]) + 1
        if ceil_mode and (o - 1) * stride[i] >= shape[2 + i] + padding[i]:
            o -= 1
        out.append(o)
    return tuple(out)


@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: "x".join(map(str, c[0])) + f"k{c[1][0]}s{c[2][0]}")
def test_max_pool_matches_reference(case):
    rng = np.random.default_rng(4)
    shape, kernel, stride, padding, dilation, ceil_mode = case
    x = _rand(rng, shape)
    x.reshape(-1)[rng.choice(x.size, 40, replace=False)] = np.nan     # the first NaN of a window wins
    x.reshape(-1)[rng.choice(x.size, 40, replace=False)] = -np.inf
    x[0, 0] = -np.inf                                                  # a plane of -inf: the first element
    x[1, 1, :4, :4] = 1.0                                              # ties: the first maximum
    out = _pool_out(shape, kernel, stride, padding, dilation, ceil_mode)
    values, indices = K.max_pool(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                                 output_size=out)
    want_values, want_indices = ref_max_pool(x, kernel, stride, padding, dilation, out)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(indices, want_indices)
    assert values.dtype == x.dtype and indices.dtype == np.int64


def test_max_pool_2x2_runs_compiled(path):
    rng = np.random.default_rng(5)
    x = _rand(rng, (8, 6, 28, 28), np.float64)
    values, indices = K.max_pool(x, kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1),
                                 output_size=(14, 14))
    want_values, want_indices = ref_max_pool(x, (2, 2), (2, 2), (0, 0), (1, 1), (14, 14))
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(indices, want_indices)


@pytest.mark.parametrize("overlapping", [False, True])
def test_max_pool_backward_adds_at_the_indices(path, overlapping):
    rng = np.random.default_rng(6)
    x = _rand(rng, (8, 6, 28, 28))
    kernel, stride = ((3, 3), (1, 1)) if overlapping else ((2, 2), (2, 2))
    out = _pool_out(x.shape, kernel, stride, (0, 0), (1, 1), False)
    _, indices = ref_max_pool(x, kernel, stride, (0, 0), (1, 1), out)
    g = _rand(rng, x.shape[:2] + out)
    want = np.zeros((48, 28 * 28))
    np.add.at(want, (np.arange(48)[:, None], indices.reshape(48, -1)), g.reshape(48, -1).astype(np.float64))
    got = K.max_pool_backward(g, indices, input_shape=x.shape, kernel=kernel, stride=stride, dilation=(1, 1))
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want.reshape(x.shape), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- through ember's autograd
def test_lenet_block_gradients_match_reference(path):
    """conv2d -> max_pool2d -> sum of squares: every gradient (input, weight, bias) from the
    CPU kernels against float64 numpy gradients."""
    rng = np.random.default_rng(7)
    x, w, b = _rand(rng, (8, 3, 16, 16)), _rand(rng, (6, 3, 5, 5)) * 0.2, _rand(rng, (6,))
    xt, wt, bt = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
    y = ember.nn.functional.max_pool2d(ember.nn.functional.conv2d(xt, wt, bt, padding=2), 2)
    (y * y).sum().backward()

    conv = ref_conv(x, w, b, (1, 1), (2, 2), (1, 1))                       # (8, 6, 16, 16)
    pooled, where = ref_max_pool(conv, (2, 2), (2, 2), (0, 0), (1, 1), (8, 8))
    np.testing.assert_allclose(y.detach().numpy(), pooled, rtol=1e-4, atol=1e-4)
    g_conv = np.zeros((48, 256))
    np.add.at(g_conv, (np.arange(48)[:, None], where.reshape(48, -1)), 2 * pooled.reshape(48, -1))
    g_conv = g_conv.reshape(conv.shape)
    xp = _padded(x, (2, 2))
    g_w = np.zeros(w.shape)
    g_xp = np.zeros(xp.shape)
    for i, j in itertools.product(range(5), range(5)):
        g_w[:, :, i, j] = np.einsum("nohw,nchw->oc", g_conv, xp[:, :, i:i + 16, j:j + 16])
        g_xp[:, :, i:i + 16, j:j + 16] += np.einsum("nohw,oc->nchw", g_conv, w[:, :, i, j].astype(np.float64))
    scale = np.abs(g_w).max()
    np.testing.assert_allclose(wt.grad.numpy(), g_w, rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(bt.grad.numpy(), g_conv.sum((0, 2, 3)), rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(xt.grad.numpy(), g_xp[:, :, 2:-2, 2:-2], rtol=1e-4,
                               atol=1e-4 * np.abs(g_xp).max())


def test_max_pool_double_backward_still_differentiates():
    """With create_graph the rule runs in ember ops (the fused backward is not differentiable):
    d/dg of <max_pool_backward(g), v> is v gathered at the picked positions."""
    rng = np.random.default_rng(8)
    x = ember.tensor(_rand(rng, (4, 3, 12, 12)), requires_grad=True)
    y = ember.nn.functional.max_pool2d(x, 2)
    g = ember.tensor(_rand(rng, tuple(y.shape)), requires_grad=True)
    (gx,) = ember.autograd.grad(y, x, g, create_graph=True)
    v = _rand(rng, tuple(x.shape))
    (gg,) = ember.autograd.grad((gx * ember.tensor(v)).sum(), g)
    _, where = ref_max_pool(x.detach().numpy(), (2, 2), (2, 2), (0, 0), (1, 1), (6, 6))
    want = np.take_along_axis(v.reshape(12, -1), where.reshape(12, -1), 1).reshape(tuple(y.shape))
    np.testing.assert_allclose(gg.numpy(), want, rtol=1e-6)
