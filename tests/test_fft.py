"""ember.fft, stft/istft and the window functions, as PyTorch 2.13: windows against
scipy.signal's definitions, the transforms' norms, n/s padding and trimming, dtype rules and
errors against scipy.fft, round trips, and the stft/istft round trip on every device.
The exception classes and messages were read off PyTorch 2.13 (CPU); the conformance
database (ember/testing/opdb/spectral.py) checks values and gradients op by op."""
import warnings

import numpy as np
import pytest
import scipy.fft as sfft
import scipy.signal

import ember

F = ember.fft
RNG = np.random.default_rng(12)


def _np(t):
    return t.detach().cpu().numpy()


def _tol(dtype):
    return dict(rtol=1e-4, atol=1e-5) if dtype in (ember.float32, ember.complex64) else dict(rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- windows
_SCIPY_WINDOW = {"hann_window": "hann", "hamming_window": "hamming", "blackman_window": "blackman",
                 "bartlett_window": "bartlett"}


@pytest.mark.parametrize("name", sorted(_SCIPY_WINDOW) + ["kaiser_window"])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_scipy(any_device, name, periodic):
    dtype = ember.float32
    for n in (0, 1, 2, 7, 16):
        if name == "kaiser_window":
            got = ember.kaiser_window(n, periodic, 5.5, dtype=dtype, device=any_device)
            want = scipy.signal.get_window(("kaiser", 5.5), n, fftbins=periodic) if n else np.zeros(0)
        else:
            got = getattr(ember, name)(n, periodic=periodic, dtype=dtype, device=any_device)
            want = scipy.signal.get_window(_SCIPY_WINDOW[name], n, fftbins=periodic) if n else np.zeros(0)
        assert got.dtype is dtype and got.device.type == any_device and tuple(got.shape) == (n,)
        np.testing.assert_allclose(_np(got), want, rtol=1e-5, atol=1e-6, err_msg=f"{name}({n}, {periodic})")


def test_windows_in_float64_and_their_parameters(device):
    n = 11
    k = np.arange(n + 1)
    hamming = (0.6 - 0.3 * np.cos(2 * np.pi * k / n))[:n]  # periodic: the first n of n + 1 points
    np.testing.assert_allclose(_np(ember.hamming_window(n, True, 0.6, 0.3, dtype=ember.float64, device=device)),
                               hamming, rtol=1e-12, atol=1e-14)
    kaiser = ember.kaiser_window(n, False, beta=30.0, dtype=ember.float64, device=device)
    np.testing.assert_allclose(_np(kaiser), np.kaiser(n, 30.0), rtol=1e-10, atol=1e-14)
    assert ember.kaiser_window(n, dtype=ember.float64, device=device).dtype is ember.float64
    np.testing.assert_allclose(_np(ember.kaiser_window(n, dtype=ember.float64)),  # default beta 12
                               scipy.signal.get_window(("kaiser", 12.0), n), rtol=1e-10, atol=1e-14)


def test_windows_defaults_dtypes_and_requires_grad():
    w = ember.hann_window(8, requires_grad=True)
    assert w.requires_grad and w.is_leaf and w.dtype is ember.float32
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.blackman_window(4).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    # computed in the dtype itself, as PyTorch does: its half-precision values, read off PyTorch 2.13
    assert ember.hann_window(4, dtype=ember.float16).tolist() == [0.0, 0.499755859375, 1.0, 0.50048828125]
    assert ember.hann_window(4, dtype=ember.bfloat16).tolist() == [0.0, 0.5, 1.0, 0.49609375]


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
                                  "kaiser_window"])
def test_window_errors(name):
    fn = getattr(ember, name)
    with pytest.raises(RuntimeError, match=f"{name} requires non-negative window_length, got window_length=-1"):
        fn(-1)
    with pytest.raises(TypeError, match="window_length"):
        fn(4.0)
    with pytest.raises(RuntimeError, match=f"{name} expects floating point dtypes"):
        fn(4, dtype=ember.int64)
    with pytest.raises(TypeError, match="periodic"):
        fn(4, 1.0)


# ---------------------------------------------------------------- helpers
def test_fftfreq_and_rfftfreq(any_device):
    for n, d in ((5, 1.0), (8, 0.1), (1, 2.0), (0, 1.0)):
        got = F.fftfreq(n, d, device=any_device)
        want = np.fft.fftfreq(n, d) if n else np.zeros(0)  # numpy divides by zero for n = 0
        np.testing.assert_allclose(_np(got), want, rtol=1e-6)
        assert got.dtype is ember.float32 and got.device.type == any_device
        want = np.fft.rfftfreq(n, d) if n else np.array([np.nan])  # 0 * (1 / 0), as PyTorch
        np.testing.assert_allclose(_np(F.rfftfreq(n, d, device=any_device)), want, rtol=1e-6)
    assert F.fftfreq(4, dtype=ember.float16).dtype is ember.float16
    assert F.fftfreq(4, requires_grad=True).requires_grad
    np.testing.assert_allclose(_np(F.fftfreq(4, d=ember.tensor(2.0))), np.fft.fftfreq(4, 2.0))
    # 1 / (n * 0) as PyTorch computes it: infinities, and NaN at frequency 0
    assert [str(v) for v in F.fftfreq(4, 0.0).tolist()] == ["nan", "inf", "-inf", "-inf"]


def test_fftfreq_errors():
    with pytest.raises(RuntimeError, match="fftfreq requires a floating point or complex dtype"):
        F.fftfreq(4, dtype=ember.int64)
    with pytest.raises(RuntimeError, match="rfftfreq requires a floating point or complex dtype"):
        F.rfftfreq(4, dtype=ember.int32)
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        F.fftfreq(-1)
    with pytest.raises(NotImplementedError, match="not implemented for 'ComplexFloat'"):
        F.fftfreq(4, dtype=ember.complex64)
    with pytest.raises(TypeError, match="must be int, not float"):
        F.fftfreq(4.5)


def test_shifts_match_numpy(any_device):
    x = RNG.standard_normal((4, 5, 3)).astype(np.float32)
    t = ember.tensor(x, device=any_device)
    for dim in (None, 1, (0, 2), -1, ()):
        axes = dim if dim != () else ()
        np.testing.assert_array_equal(_np(F.fftshift(t, dim=dim)), np.fft.fftshift(x, axes=axes))
        np.testing.assert_array_equal(_np(F.ifftshift(t, dim)), np.fft.ifftshift(x, axes=axes))
    np.testing.assert_array_equal(_np(F.ifftshift(F.fftshift(t))), x)
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.fftshift(t, dim=3)


# ---------------------------------------------------------------- the transforms
_C2C = ["fft", "ifft"]
_R2C = ["rfft", "ihfft"]
_C2R = ["irfft", "hfft"]
_ND = ["fftn", "ifftn", "fft2", "ifft2", "rfftn", "rfft2", "ihfftn", "ihfft2", "irfftn", "irfft2", "hfftn",
       "hfft2"]


def _input_for(name, shape, dtype=np.float64):
    x = RNG.standard_normal(shape)
    if name in _C2C + _C2R or name.startswith(("fft", "ifft", "irfft", "hfft")):
        x = x + 1j * RNG.standard_normal(shape)
    return x.astype(dtype if not np.iscomplexobj(x) else np.result_type(dtype, np.complex64))


@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
@pytest.mark.parametrize("name", _C2C + _R2C + _C2R + _ND)
def test_transforms_match_scipy_in_every_norm(name, norm):
    x = _input_for(name, (4, 6))
    got = getattr(F, name)(ember.tensor(x), norm=norm)
    want = getattr(sfft, name)(x, norm=norm)
    assert tuple(got.shape) == want.shape
    assert got.dtype is (ember.complex128 if np.iscomplexobj(want) else ember.float64)
    np.testing.assert_allclose(_np(got), want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", _C2C + _R2C + _C2R)
def test_n_pads_and_trims(name):
    x = _input_for(name, (3, 6))
    for n in (3, 6, 9):
        for dim in (0, -1):
            got = getattr(F, name)(ember.tensor(x), n=n, dim=dim)
            np.testing.assert_allclose(_np(got), getattr(sfft, name)(x, n=n, axis=dim), rtol=1e-10, atol=1e-10,
                                       err_msg=f"n={n} dim={dim}")


@pytest.mark.parametrize("name", _ND)
def test_s_and_dim(name):
    x = _input_for(name, (3, 4, 5))
    for s, dim in (((2, 6), (0, 2)), ((4, 3), None), (None, (1,)), ((5,), (-1,)), ((-1, 3), (0, 1))):
        if name.endswith("2") and dim is not None and len(dim) != 2:
            continue
        kwargs = {"s": s} if s is not None else {}
        if dim is not None:
            kwargs["dim"] = dim
        got = getattr(F, name)(ember.tensor(x), **kwargs)
        scipy_s = None if s is None else tuple(x.shape[d] if v == -1 else v
                                                for v, d in zip(s, dim or range(x.ndim - len(s), x.ndim)))
        want = getattr(sfft, name)(x, s=scipy_s, **({"axes": dim} if dim is not None else {}))
        np.testing.assert_allclose(_np(got), want, rtol=1e-10, atol=1e-10, err_msg=f"s={s} dim={dim}")


def test_dtype_rules():
    x32 = ember.randn(8)
    assert F.fft(x32).dtype is ember.complex64 and F.rfft(x32).dtype is ember.complex64
    assert F.fft(x32.double()).dtype is ember.complex128
    assert F.irfft(F.rfft(x32)).dtype is ember.float32 and F.hfft(F.rfft(x32.double())).dtype is ember.float64
    ints = ember.arange(8)
    assert F.fft(ints).dtype is ember.complex64 and F.rfft(ints.bool()).dtype is ember.complex64
    assert F.irfft(ints).dtype is ember.float32  # a real input to a c2r transform: promoted to complex
    np.testing.assert_allclose(_np(F.fft(ints)), np.fft.fft(np.arange(8)), rtol=1e-5, atol=1e-5)
    ember.set_default_dtype(ember.float64)
    try:
        assert F.fft(ints).dtype is ember.complex128
    finally:
        ember.set_default_dtype(ember.float32)
    assert F.fftn(ember.tensor(1.5)).dtype is ember.complex64  # 0-d: nothing to transform, a complex copy
    assert F.fftn(x32, dim=()).tolist() == x32.to(ember.complex64).tolist()


def test_transform_errors():
    x = ember.randn(4, 6)
    with pytest.raises(RuntimeError, match='Invalid normalization mode: "bad"'):
        F.fft(x, norm="bad")
    with pytest.raises(RuntimeError, match="Unsupported dtype Half"):
        F.fft(x.half())
    with pytest.raises(RuntimeError, match="Unsupported dtype BFloat16"):
        F.rfft(x.bfloat16())
    with pytest.raises(RuntimeError, match="rfft expects a real input tensor, but got ComplexFloat"):
        F.rfft(x.to(ember.complex64))
    with pytest.raises(RuntimeError, match="ihfftn expects a real input tensor, but got ComplexDouble"):
        F.ihfftn(x.to(ember.complex128))
    for bad in (0, -1):
        with pytest.raises(RuntimeError, match=rf"Invalid number of data points \({bad}\) specified"):
            F.fft(x, n=bad)
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\) specified"):
        F.irfft(x[:, :1])  # the default n = 2 * (1 - 1)
    with pytest.raises(RuntimeError, match=r"Invalid number of data points \(0\) specified"):
        F.fft(ember.randn(0))
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.fft(x, dim=2)
    with pytest.raises(IndexError, match="tensor has no dimensions"):
        F.fft(ember.tensor(1.0))
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.fft2(x[0])
    with pytest.raises(RuntimeError, match="Got shape with 3 values but input tensor only has 2 dimensions"):
        F.fftn(x, s=(3, 4, 5))
    with pytest.raises(RuntimeError, match="dim and shape arguments must have the same length"):
        F.fftn(x, s=(3, 4), dim=(0,))
    with pytest.raises(RuntimeError, match="FFT dims must be unique"):
        F.fftn(x, dim=(0, -2))
    with pytest.raises(RuntimeError, match="rfftn must transform at least one axis"):
        F.rfftn(x, dim=())
    with pytest.raises(TypeError, match="argument 'n' must be int, not float"):
        F.fft(x, n=3.5)
    with pytest.raises(TypeError, match="argument 'dim' must be int, not tuple"):
        F.fft(x, dim=(0,))
    with pytest.raises(TypeError, match="argument 's' must be tuple of ints"):
        F.fftn(x, s=(3, None))


@pytest.mark.parametrize("norm", ["backward", "ortho", "forward"])
def test_round_trips(any_device, norm):
    x = ember.tensor(RNG.standard_normal((3, 7)), dtype=ember.float32, device=any_device)
    z = ember.complex(x, ember.tensor(RNG.standard_normal((3, 7)), dtype=ember.float32, device=any_device))
    tol = _tol(ember.float32)
    for n in (7, 8):  # odd and even signal lengths: irfft needs n to know which
        xn = F.irfft(F.rfft(x, n=n, norm=norm), n=n, norm=norm)
        np.testing.assert_allclose(_np(xn)[:, :7], _np(x), **tol)
        np.testing.assert_allclose(_np(F.hfft(F.ihfft(x, norm=norm), n=7, norm=norm)), _np(x), **tol)
    np.testing.assert_allclose(_np(F.ifft(F.fft(z, norm=norm), norm=norm)), _np(z), **tol)
    np.testing.assert_allclose(_np(F.ifftn(F.fftn(z, norm=norm), norm=norm)), _np(z), **tol)
    np.testing.assert_allclose(_np(F.irfftn(F.rfftn(x, norm=norm), s=(3, 7), norm=norm)), _np(x), **tol)
    np.testing.assert_allclose(_np(F.irfft2(F.rfft2(x, norm=norm), s=x.shape, norm=norm)), _np(x), **tol)


def test_rfft_gradient_counts_the_hermitian_half():
    # d/dx of sum(Re rfft(x)) for x of even length 6: the one-sided spectrum holds frequencies 0..3
    x = ember.tensor(RNG.standard_normal(6), requires_grad=True)
    ember.view_as_real(F.rfft(x))[..., 0].sum().backward()
    want = np.cos(2 * np.pi * np.outer(np.arange(4), np.arange(6)) / 6).sum(0)
    np.testing.assert_allclose(_np(x.grad), want, rtol=1e-12, atol=1e-12)
    # irfft's gradient doubles the bins whose mirror image is implied (1 .. n - n//2 - 1)
    h = ember.tensor(RNG.standard_normal(4) + 0j, requires_grad=True)
    F.irfft(h, n=6).sum().backward()
    np.testing.assert_allclose(_np(h.grad), [1, 0, 0, 0], atol=1e-12)  # sum of the signal = bin 0 / n * n


# ---------------------------------------------------------------- stft / istft
def _frames_reference(x, n_fft, hop, window):
    padded = np.pad(x, (n_fft // 2, n_fft // 2), mode="reflect")
    n_frames = 1 + (len(padded) - n_fft) // hop
    frames = np.stack([padded[t * hop:t * hop + n_fft] * window for t in range(n_frames)])
    return np.fft.rfft(frames).T


def test_stft_matches_a_framed_rfft(any_device):
    x = RNG.standard_normal(64).astype(np.float32)
    w = ember.hann_window(16, device=any_device)
    spec = ember.stft(ember.tensor(x, device=any_device), 16, hop_length=4, window=w, return_complex=True)
    assert spec.dtype is ember.complex64 and tuple(spec.shape) == (9, 17)
    np.testing.assert_allclose(_np(spec), _frames_reference(x, 16, 4, _np(w)), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("hop,win_length", [(4, 16), (2, 8), (5, 12)])
def test_stft_istft_round_trip(any_device, hop, win_length):
    x = ember.tensor(RNG.standard_normal((2, 80)), dtype=ember.float32, device=any_device)
    w = ember.hann_window(win_length, device=any_device)
    spec = x.stft(16, hop_length=hop, win_length=win_length, window=w, return_complex=True)
    y = spec.istft(16, hop_length=hop, win_length=win_length, window=w, length=80)
    assert tuple(y.shape) == (2, 80) and y.dtype is ember.float32
    np.testing.assert_allclose(_np(y), _np(x), rtol=1e-4, atol=1e-4)
    full = ember.stft(x[0], 16, hop_length=hop, win_length=win_length, window=w, onesided=False,
                      return_complex=True)
    assert full.shape[0] == 16
    np.testing.assert_allclose(_np(ember.istft(full, 16, hop, win_length, w, length=80)), _np(x[0]), rtol=1e-4,
                               atol=1e-4)


def test_stft_forms_and_warnings():
    x = ember.randn(100)
    w = ember.hann_window(16)
    with pytest.warns(UserWarning, match="deprecated"):
        pairs = ember.stft(x, 16, window=w, return_complex=False)
    assert tuple(pairs.shape) == (9, 26, 2) and pairs.dtype is ember.float32
    with pytest.warns(UserWarning, match="A window was not provided"):
        plain = ember.stft(x, 16, return_complex=True)
    np.testing.assert_allclose(_np(plain), _np(ember.stft(x, 16, window=ember.ones(16), return_complex=True)))
    normalized = ember.stft(x, 16, window=w, normalized=True, return_complex=True)
    np.testing.assert_allclose(_np(normalized) * 4, _np(ember.stft(x, 16, window=w, return_complex=True)),
                               rtol=1e-5, atol=1e-5)
    # complex inputs are two-sided and need no return_complex
    assert tuple(ember.stft(x.to(ember.complex64), 16, window=w).shape) == (16, 26)
    for mode in ("constant", "replicate", "circular"):
        assert tuple(ember.stft(x, 16, window=w, pad_mode=mode, return_complex=True).shape) == (9, 26)
    assert tuple(ember.stft(x, 16, window=w, center=False, return_complex=True).shape) == (9, 22)
    assert ember.stft(x.double(), 16, window=w, return_complex=True).dtype is ember.complex128


def test_stft_errors():
    x = ember.randn(100)
    w = ember.hann_window(16)
    with pytest.raises(RuntimeError, match="stft requires the return_complex parameter be given for real inputs"):
        ember.stft(x, 16, window=w)
    with pytest.raises(RuntimeError, match="Cannot have onesided output if window or input is complex"):
        ember.stft(x.to(ember.complex64), 16, window=w, onesided=True)
    with pytest.raises(RuntimeError, match="expected 0 < n_fft < 100, but got n_fft=0"):
        ember.stft(x, 0, window=w, return_complex=True)
    with pytest.raises(RuntimeError, match="expected 0 < n_fft < 100, but got n_fft=200"):
        ember.stft(x, 200, center=False, return_complex=True, window=ember.ones(200))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        ember.stft(x, 200, return_complex=True, window=ember.ones(200))
    with pytest.raises(RuntimeError, match="expected hop_length > 0, but got hop_length=0"):
        ember.stft(x, 16, hop_length=0, window=w, return_complex=True)
    with pytest.raises(RuntimeError, match="expected 0 < win_length <= n_fft, but got win_length=20"):
        ember.stft(x, 16, win_length=20, window=ember.ones(20), return_complex=True)
    with pytest.raises(RuntimeError, match="expected a 1D window tensor of size equal to win_length=8"):
        ember.stft(x, 16, win_length=8, window=w, return_complex=True)
    with pytest.raises(RuntimeError, match="expected a 1D or 2D tensor"):
        ember.stft(x.reshape(2, 5, 10), 4, window=ember.ones(4), return_complex=True)
    with pytest.raises(RuntimeError, match="expected a tensor of floating point or complex values"):
        ember.stft(x.int(), 16, window=w, return_complex=True)
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode bad"):
        ember.stft(x, 16, window=w, pad_mode="bad", return_complex=True)


def test_istft_forms_and_errors():
    x = ember.randn(100)
    w = ember.hann_window(16)
    spec = ember.stft(x, 16, window=w, return_complex=True)
    with pytest.warns(UserWarning, match="shorter than the length parameter"):
        longer = ember.istft(spec, 16, window=w, length=120)
    # the signal, then the 8 samples of centre padding that remain, then zeros (as PyTorch)
    assert tuple(longer.shape) == (120,) and np.all(_np(longer)[108:] == 0) and np.all(_np(longer)[100:108] != 0)
    np.testing.assert_allclose(_np(longer)[:100], _np(x), rtol=1e-4, atol=1e-4)
    assert tuple(ember.istft(spec, 16, window=w, length=90).shape) == (90,)
    assert tuple(ember.istft(spec[None], 16, window=w).shape) == (1, 100)
    two_sided = ember.stft(x, 16, window=w, onesided=False, return_complex=True)
    back = ember.istft(two_sided, 16, window=w, return_complex=True)
    assert back.dtype is ember.complex64
    np.testing.assert_allclose(_np(back).real, _np(x), rtol=1e-4, atol=1e-4)
    with pytest.raises(RuntimeError, match="istft requires a complex-valued input tensor"):
        ember.istft(ember.view_as_real(spec), 16, window=w)
    with pytest.raises(RuntimeError, match="to match n_fft when onesided=False, but got 9"):
        ember.istft(spec, 16, window=w, onesided=False)
    with pytest.raises(RuntimeError, match="Cannot have onesided output if window or input is complex"):
        ember.istft(spec, 16, window=w, return_complex=True)
    with pytest.raises(RuntimeError, match="window overlap add min"):
        ember.istft(spec, 16, window=w, center=False)  # the periodic Hann window is 0 at the first sample


def test_stft_align_to_window():
    x = RNG.standard_normal(50).astype(np.float32)
    w = np.hanning(9)[:8].astype(np.float32)  # any 8-point window
    spec = ember.stft(ember.tensor(x), 16, hop_length=4, win_length=8, window=ember.tensor(w), center=False,
                      align_to_window=True, return_complex=True)
    # frame t holds x[4t : 4t + 8] under the window, 4 zeros of frame before and after it
    frames = np.stack([np.pad(x[4 * t:4 * t + 8] * w, (4, 4)) for t in range(11)])
    assert tuple(spec.shape) == (9, 11)
    np.testing.assert_allclose(_np(spec), np.fft.rfft(frames).T, rtol=1e-4, atol=1e-4)
    with pytest.raises(RuntimeError, match="align_to_window should only be set when center = false"):
        ember.stft(ember.tensor(x), 16, window=ember.ones(16), align_to_window=False, return_complex=True)


def test_out_arguments():
    x = ember.randn(6)
    out = ember.empty(0, dtype=ember.complex64)
    assert F.rfft(x, out=out) is out and tuple(out.shape) == (4,)
    np.testing.assert_allclose(_np(out), np.fft.rfft(_np(x)), rtol=1e-5, atol=1e-5)
    freqs = ember.empty(5)
    assert F.fftfreq(5, out=freqs) is freqs
    np.testing.assert_allclose(_np(freqs), np.fft.fftfreq(5), rtol=1e-6)
