"""pad, interpolate / Upsample, unfold / fold, pixel_shuffle against float64 numpy references."""
import itertools
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

from layer_refs import RNG, adaptive_pool_ref, assert_close, check_layer, host, tensor

DTYPES = [ember.float32, ember.float64]


# ---------------------------------------------------------------- pad
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_pad_modes(any_device, dtype, mode, np_mode):
    device = any_device
    x = RNG(0).standard_normal((2, 3, 4, 5))
    check_layer(lambda x: F.pad(x, (1, 2, 3, 0), mode=mode),
                lambda x: np.pad(x, [(0, 0), (0, 0), (3, 0), (1, 2)], mode=np_mode), [x], device, dtype)
    x1 = RNG(1).standard_normal((2, 3, 5))
    check_layer(lambda x: F.pad(x, (4, 2), mode=mode),
                lambda x: np.pad(x, [(0, 0), (0, 0), (4, 2)], mode=np_mode), [x1], device, dtype)


def test_pad_constant_and_negative(any_device):
    device = any_device
    x = RNG(2).standard_normal((2, 3, 4, 5))
    check_layer(lambda x: F.pad(x, (1, 2, 0, 3), value=1.5),
                lambda x: np.pad(x, [(0, 0), (0, 0), (0, 3), (1, 2)], constant_values=1.5), [x], device)
    check_layer(lambda x: F.pad(x, (-1, 2, 1, -2)),
                lambda x: np.pad(x, [(0, 0), (0, 0), (1, 0), (0, 2)])[:, :, :-2, 1:], [x], device)
    check_layer(lambda x: F.pad(x, (1, 1, 1, 1, 1, 1)),
                lambda x: np.pad(x, [(0, 0), (1, 1), (1, 1), (1, 1)]), [x], device)
    ints = ember.arange(6, device=device).reshape(2, 3)
    padded = F.pad(ints, (1, 0), value=-1)
    assert padded.dtype is ember.int64
    np.testing.assert_array_equal(padded.cpu().numpy(), [[-1, 0, 1, 2], [-1, 3, 4, 5]])


def test_pad_errors(any_device):
    device = any_device
    x = ember.randn(2, 3, 5, device=device)
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1, 2, 3))
    with pytest.raises(RuntimeError, match="Padding length should be less than or equal to two times the input "
                                           "dimension but got padding length 8 and input of dimension 3"):
        F.pad(x, (1,) * 8)
    with pytest.raises(RuntimeError, match=r"Padding size should be less than the corresponding input dimension, "
                                           r"but got: padding \(5, 2\) at dimension 2 of input \[2, 3, 5\]"):
        F.pad(x, (5, 2), mode="reflect")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode mirror"):
        F.pad(x, (1, 1), mode="mirror")


# ---------------------------------------------------------------- interpolate
def _nearest_ref(x, out_sizes, scales=None):
    out = x
    for i, o in enumerate(out_sizes):
        size = x.shape[2 + i]
        ratio = 1 / scales[i] if scales else size / o
        idx = np.minimum(np.floor(np.arange(o) * ratio).astype(int), size - 1)
        out = np.take(out, idx, axis=2 + i)
    return out


def _linear_matrix(size, out, align_corners, scale=None):
    """(out, size) matrix of 1-d linear interpolation weights."""
    m = np.zeros((out, size))
    for j in range(out):
        if align_corners:
            src = j * (size - 1) / (out - 1) if out > 1 else 0.0
        else:
            ratio = 1 / scale if scale else size / out
            src = max((j + 0.5) * ratio - 0.5, 0.0)
        lo = min(int(math.floor(src)), size - 1)
        hi = min(lo + 1, size - 1)
        frac = src - lo
        m[j, lo] += 1 - frac
        m[j, hi] += frac
    return m


def _cubic_matrix(size, out, align_corners):
    a = -0.75

    def weight(d):
        d = abs(d)
        if d <= 1:
            return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
        if d < 2:
            return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a
        return 0.0
    m = np.zeros((out, size))
    for j in range(out):
        src = j * (size - 1) / (out - 1) if align_corners else (j + 0.5) * size / out - 0.5
        base = math.floor(src)
        for tap in range(-1, 3):
            m[j, min(max(base + tap, 0), size - 1)] += weight(src - (base + tap))
    return m


def _separable(x, matrices):
    out = x
    for i, m in enumerate(matrices):
        out = np.moveaxis(np.tensordot(out, m, axes=([2 + i], [1])), -1, 2 + i)
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_interpolate_nearest(any_device, dtype):
    device = any_device
    x = RNG(3).standard_normal((2, 3, 4, 5))
    check_layer(lambda x: F.interpolate(x, scale_factor=2), lambda x: _nearest_ref(x, (8, 10), (2, 2)), [x], device,
                dtype)
    check_layer(lambda x: F.interpolate(x, size=(7, 3)), lambda x: _nearest_ref(x, (7, 3)), [x], device, dtype)
    check_layer(lambda x: F.interpolate(x, scale_factor=(1.5, 0.5)), lambda x: _nearest_ref(x, (6, 2), (1.5, 0.5)),
                [x], device, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("out_size", [(7, 9), (3, 2)])
def test_interpolate_bilinear(any_device, dtype, align_corners, out_size):
    device = any_device
    x = RNG(4).standard_normal((2, 3, 4, 5))
    check_layer(lambda x: F.interpolate(x, size=out_size, mode="bilinear", align_corners=align_corners),
                lambda x: _separable(x, [_linear_matrix(4, out_size[0], align_corners),
                                         _linear_matrix(5, out_size[1], align_corners)]), [x], device, dtype)


def test_interpolate_linear_bicubic_area(any_device):
    device = any_device
    rng = RNG(5)
    x = rng.standard_normal((2, 3, 5))
    check_layer(lambda x: F.interpolate(x, scale_factor=2.5, mode="linear"),
                lambda x: _separable(x, [_linear_matrix(5, 12, False, 2.5)]), [x], device)
    x = rng.standard_normal((1, 2, 4, 5))
    for align_corners in (False, True):
        check_layer(lambda x: F.interpolate(x, size=(7, 6), mode="bicubic", align_corners=align_corners),
                    lambda x: _separable(x, [_cubic_matrix(4, 7, align_corners), _cubic_matrix(5, 6, align_corners)]),
                    [x], device)
    x = rng.standard_normal((2, 3, 7, 9))
    check_layer(lambda x: F.interpolate(x, size=(3, 4), mode="area"),
                lambda x: adaptive_pool_ref(x, (3, 4), "mean")[0], [x], device)


def test_interpolate_errors(any_device):
    device = any_device
    x = ember.randn(1, 1, 4, 4, device=device)
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="Got 4D input, but linear mode needs 3D input"):
        F.interpolate(x, scale_factor=2, mode="linear")


def test_upsample_modules(any_device):
    device = any_device
    x = RNG(6).standard_normal((2, 3, 4, 5))
    t = tensor(x, device)
    assert_close(nn.Upsample(scale_factor=2)(t), _nearest_ref(x, (8, 10), (2, 2)), 1e-12, 1e-12)
    assert_close(nn.UpsamplingNearest2d(size=(7, 3))(t), _nearest_ref(x, (7, 3)), 1e-12, 1e-12)
    assert_close(nn.UpsamplingBilinear2d(scale_factor=2)(t),
                 _separable(x, [_linear_matrix(4, 8, True), _linear_matrix(5, 10, True)]), 1e-12, 1e-12)
    assert_close(nn.Upsample(size=(6, 7), mode="bilinear")(t),
                 _separable(x, [_linear_matrix(4, 6, False), _linear_matrix(5, 7, False)]), 1e-12, 1e-12)
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"


# ---------------------------------------------------------------- unfold / fold
def _unfold_ref(x, k, d, p, s):
    xp = np.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])])
    oh = (xp.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (xp.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    n, c = x.shape[:2]
    out = np.zeros((n, c, k[0], k[1], oh, ow))
    for i, j, a, b in itertools.product(range(k[0]), range(k[1]), range(oh), range(ow)):
        out[:, :, i, j, a, b] = xp[:, :, a * s[0] + i * d[0], b * s[1] + j * d[1]]
    return out.reshape(n, c * k[0] * k[1], oh * ow)


def _fold_ref(cols, size, k, d, p, s):
    n, ck, _ = cols.shape
    c = ck // (k[0] * k[1])
    full = (size[0] + 2 * p[0], size[1] + 2 * p[1])
    oh = (full[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (full[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    blocks = cols.reshape(n, c, k[0], k[1], oh, ow)
    out = np.zeros((n, c) + full)
    for i, j, a, b in itertools.product(range(k[0]), range(k[1]), range(oh), range(ow)):
        out[:, :, a * s[0] + i * d[0], b * s[1] + j * d[1]] += blocks[:, :, i, j, a, b]
    return out[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_unfold(any_device, dtype):
    device = any_device
    x = RNG(7).standard_normal((2, 3, 6, 7))
    check_layer(lambda x: F.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
                lambda x: _unfold_ref(x, (2, 3), (1, 2), (1, 1), (2, 1)), [x], device, dtype)
    check_layer(lambda x: F.unfold(x, 2, stride=2), lambda x: _unfold_ref(x[None], (2, 2), (1, 1), (0, 0), (2, 2))[0],
                [x[0]], device, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_fold(any_device, dtype):
    device = any_device
    rng = RNG(8)
    cols = rng.standard_normal((2, 3 * 4, 16))
    check_layer(lambda c: F.fold(c, (7, 8), (2, 2), padding=1, stride=2, dilation=(1, 2)),
                lambda c: _fold_ref(c, (7, 8), (2, 2), (1, 2), (1, 1), (2, 2)), [cols], device, dtype)
    cols = rng.standard_normal((2 * 4, 30))
    check_layer(lambda c: F.fold(c, (6, 7), 2), lambda c: _fold_ref(c[None], (6, 7), (2, 2), (1, 1), (0, 0),
                                                                    (1, 1))[0], [cols], device, dtype)
    with pytest.raises(RuntimeError, match="expected size of input's dimension 2 to match the calculated number "
                                           "of sliding blocks"):
        F.fold(ember.randn(2, 12, 20, device=device), (7, 8), (2, 2), padding=1, stride=2, dilation=(1, 2))


def test_fold_of_unfold_counts_overlaps(any_device):
    device = any_device
    x = ember.ones(1, 2, 5, 5, device=device)
    counts = F.fold(F.unfold(x, 3, padding=1), (5, 5), 3, padding=1).cpu().numpy()
    expected = np.outer([2, 3, 3, 3, 2], [2, 3, 3, 3, 2])
    np.testing.assert_allclose(counts[0, 0], expected)


# ---------------------------------------------------------------- pixel shuffle
def _pixel_shuffle_ref(x, r):
    n, c, h, w = x.shape
    out = np.zeros((n, c // (r * r), h * r, w * r))
    for ch, i, j in itertools.product(range(c // (r * r)), range(r), range(r)):
        out[:, ch, i::r, j::r] = x[:, ch * r * r + i * r + j]
    return out


def test_pixel_shuffle_and_unshuffle(any_device):
    device = any_device
    x = RNG(9).standard_normal((2, 8, 3, 4))
    check_layer(lambda x: F.pixel_shuffle(x, 2), lambda x: _pixel_shuffle_ref(x, 2), [x], device)
    y = _pixel_shuffle_ref(x, 2)
    check_layer(lambda y: F.pixel_unshuffle(y, 2), lambda y: _unshuffle_ref(y, 2), [y], device)
    assert_close(nn.PixelUnshuffle(2)(nn.PixelShuffle(2)(tensor(x, device))), x, 0, 0)
    assert_close(nn.PixelShuffle(2)(tensor(x[0], device)), _pixel_shuffle_ref(x[:1], 2)[0], 0, 0)
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(ember.randn(1, 6, 2, 2, device=device), 2)


def _unshuffle_ref(y, r):
    n, c, h, w = y.shape
    out = np.zeros((n, c * r * r, h // r, w // r))
    for ch, i, j in itertools.product(range(c), range(r), range(r)):
        out[:, ch * r * r + i * r + j] = y[:, ch, i::r, j::r]
    return out


# ---------------------------------------------------------------- affine_grid / grid_sample
def _source(coord, size, padding_mode, align_corners):
    """The documented pixel coordinate of a normalized one, with border / reflection handling."""
    c = (coord + 1) / 2 * (size - 1) if align_corners else ((coord + 1) * size - 1) / 2
    if padding_mode == "border":
        return min(max(c, 0.0), size - 1.0)
    if padding_mode == "reflection":
        lo, hi = (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)
        while c < lo or c > hi:  # mirror at the ends until inside
            c = 2 * lo - c if c < lo else 2 * hi - c
        return min(max(c, 0.0), size - 1.0)
    return c


def _grid_sample_ref(x, grid, mode, padding_mode, align_corners):
    n, c, h, w = x.shape
    ho, wo = grid.shape[1:3]
    out = np.zeros((n, c, ho, wo))

    def pixel(b, yy, xx):
        return x[b, :, yy, xx] if 0 <= yy < h and 0 <= xx < w else np.zeros(c)
    for b, i, j in itertools.product(range(n), range(ho), range(wo)):
        sx = _source(grid[b, i, j, 0], w, padding_mode, align_corners)
        sy = _source(grid[b, i, j, 1], h, padding_mode, align_corners)
        if mode == "nearest":
            out[b, :, i, j] = pixel(b, int(np.round(sy)), int(np.round(sx)))
            continue
        x0, y0 = math.floor(sx), math.floor(sy)
        fx, fy = sx - x0, sy - y0
        out[b, :, i, j] = (pixel(b, y0, x0) * (1 - fy) * (1 - fx) + pixel(b, y0, x0 + 1) * (1 - fy) * fx
                           + pixel(b, y0 + 1, x0) * fy * (1 - fx) + pixel(b, y0 + 1, x0 + 1) * fy * fx)
    return out


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_bilinear(any_device, padding_mode, align_corners):
    device = any_device
    rng = RNG(10)
    x, grid = rng.standard_normal((2, 3, 4, 5)), rng.uniform(-1.4, 1.4, (2, 3, 4, 2))
    check_layer(lambda x, g: F.grid_sample(x, g, padding_mode=padding_mode, align_corners=align_corners),
                lambda x, g: _grid_sample_ref(x, g, "bilinear", padding_mode, align_corners), [x, grid], device)


def test_grid_sample_nearest(any_device):
    device = any_device
    rng = RNG(11)
    x, grid = rng.standard_normal((2, 3, 4, 5)), rng.uniform(-1.4, 1.4, (2, 3, 4, 2))
    for padding_mode in ("zeros", "border", "reflection"):
        check_layer(lambda x: F.grid_sample(x, tensor(grid, device, grad=False), "nearest", padding_mode),
                    lambda x: _grid_sample_ref(x, grid, "nearest", padding_mode, False), [x], device)


def test_affine_grid(any_device):
    device = any_device
    theta = RNG(12).standard_normal((2, 2, 3))
    for align_corners in (False, True):
        xs = np.linspace(-1, 1, 5) if align_corners else (np.arange(5) * 2 + 1) / 5 - 1
        ys = np.linspace(-1, 1, 4) if align_corners else (np.arange(4) * 2 + 1) / 4 - 1

        def ref(th):
            base = np.stack(list(np.meshgrid(xs, ys)) + [np.ones((4, 5))], -1)  # (H, W, 3): (x, y, 1)
            return np.einsum("hwk,nik->nhwi", base, th)
        check_layer(lambda th: F.affine_grid(th, (2, 3, 4, 5), align_corners=align_corners), ref, [theta], device)
    identity = tensor([[[1.0, 0, 0], [0, 1.0, 0]]], device, grad=False)
    x = RNG(13).standard_normal((1, 2, 4, 5))
    resampled = F.grid_sample(tensor(x, device), F.affine_grid(identity, (1, 2, 4, 5), align_corners=False),
                              align_corners=False)
    assert_close(resampled, x, 1e-12, 1e-12)  # the identity map samples every pixel centre
    assert tuple(F.affine_grid(ember.randn(2, 3, 4, device=device), (2, 1, 2, 3, 4)).shape) == (2, 2, 3, 4, 3)


def test_padding_and_fold_modules(any_device):
    device = any_device
    x = RNG(14).standard_normal((2, 3, 4, 5))
    t = tensor(x, device)
    spec = [(0, 0), (0, 0), (3, 4), (1, 2)]
    assert_close(nn.ZeroPad2d((1, 2, 3, 4))(t), np.pad(x, spec), 0, 0)
    assert_close(nn.ConstantPad2d((1, 2, 3, 4), 2.5)(t), np.pad(x, spec, constant_values=2.5), 0, 0)
    assert_close(nn.ReflectionPad2d((1, 2, 3, 2))(t), np.pad(x, [(0, 0), (0, 0), (3, 2), (1, 2)], "reflect"), 0, 0)
    assert_close(nn.ReplicationPad2d(2)(t), np.pad(x, [(0, 0), (0, 0), (2, 2), (2, 2)], "edge"), 0, 0)
    assert_close(nn.CircularPad1d(2)(tensor(x[0], device)), np.pad(x[0], [(0, 0), (0, 0), (2, 2)], "wrap"), 0, 0)
    assert_close(nn.ZeroPad3d(1)(t), np.pad(x, [(0, 0), (1, 1), (1, 1), (1, 1)]), 0, 0)
    assert repr(nn.ZeroPad2d(2)) == "ZeroPad2d((2, 2, 2, 2))"
    assert repr(nn.ConstantPad1d((1, 2), 3.5)) == "ConstantPad1d(padding=(1, 2), value=3.5)"
    cols = nn.Unfold((2, 3), padding=1)(t)
    assert_close(cols, _unfold_ref(x, (2, 3), (1, 1), (1, 1), (1, 1)), 0, 0)
    assert_close(nn.Fold((4, 5), (2, 3), padding=1)(cols), _fold_ref(host(cols), (4, 5), (2, 3), (1, 1), (1, 1),
                                                                      (1, 1)), 1e-12, 1e-12)
