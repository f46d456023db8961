"""OpInfos for ``ember.fft`` and ``stft`` / ``istft`` against ``scipy.fft`` (float64).

Complex values travel as real arrays with a trailing dim of 2 (real, imaginary): an op's
complex input is ``view_as_complex`` of its sample and a complex result comes back through
``view_as_real``, so every sample, reference and gradient check is over real arrays (and the
gradients of complex inputs are checked in both their real and imaginary directions).
"""
from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from ember.testing.opinfo import STRIDED, OpInfo, SampleInput as S

OPS = []
DTYPES = ("float32", "float64")  # PyTorch's CPU FFT refuses half precision
TOL = {"float32": (1e-4, 1e-4)}
_NUMPY_KWARGS = {"dim": "axis", "n": "n", "norm": "norm", "s": "s"}


def _pairs(out):
    return np.stack([out.real, out.imag], -1) if np.iscomplexobj(out) else out


def _fft_op(name, complex_input):
    """``ember.fft.<name>`` over real arrays: pairs in (if ``complex_input``), pairs out."""
    def op(x, *args, **kwargs):
        import ember
        if complex_input:
            x = ember.view_as_complex(x)
        out = getattr(ember.fft, name)(x, *args, **kwargs)
        return ember.view_as_real(out) if out.dtype.is_complex else out
    op.__name__ = f"fft_{name}"
    return op


def _fft_ref(name, complex_input, nd):
    fn = getattr(sfft, name)

    def ref(x, *args, **kwargs):
        if complex_input:
            x = x[..., 0] + 1j * x[..., 1]
        kwargs = {(("axes" if nd else "axis") if k == "dim" else k): v for k, v in kwargs.items()}
        return _pairs(fn(x, *args, **kwargs))
    return ref


def _add_fft(name, samples, complex_input, nd=False, dtypes=DTYPES):
    OPS.append(OpInfo(f"fft_{name}", op=_fft_op(name, complex_input), ref=_fft_ref(name, complex_input, nd),
                      samples=samples, dtypes=dtypes, tol=TOL,
                      result_dtype=lambda sample, dtype: "float64" if dtype == "float64" else "float32"))


def _c(mk, *shape):
    """A complex sample: real and imaginary parts in a trailing dim."""
    return mk(*shape, 2, low=-2, high=2)


def _r(mk, *shape):
    return mk(*shape, low=-2, high=2) if mk.is_float else mk(*shape, low=-3, high=4)


# ---------------------------------------------------------------- 1-d
def _fft_real(mk):
    yield S(_r(mk, 8), desc="1d")
    yield S(_r(mk, 3, 5), kwargs={"n": 6, "dim": 0, "norm": "ortho"}, desc="pad_dim0_ortho")
    yield S(_r(mk, 2, 7), kwargs={"n": 4, "norm": "forward"}, desc="trim_forward")
    yield S(_r(mk, 3, 6), desc="strided", layout=STRIDED)


def _c2c_1d(mk):
    yield S(_c(mk, 6), desc="1d")
    yield S(_c(mk, 3, 4), kwargs={"n": 5, "dim": 0, "norm": "ortho"}, desc="pad_dim0_ortho")
    yield S(_c(mk, 2, 7), kwargs={"n": 4, "norm": "forward"}, desc="trim_forward")


def _r2c_1d(mk):
    yield S(_r(mk, 8), desc="even")
    yield S(_r(mk, 3, 5), kwargs={"n": 7, "dim": 0, "norm": "forward"}, desc="pad_dim0_forward")
    yield S(_r(mk, 2, 9), kwargs={"norm": "ortho"}, desc="odd_ortho")


def _c2r_1d(mk):
    yield S(_c(mk, 5), desc="default_n")
    yield S(_c(mk, 3, 4), kwargs={"n": 5, "norm": "ortho"}, desc="odd_n_ortho")
    yield S(_c(mk, 4, 3), kwargs={"n": 8, "dim": 0, "norm": "forward"}, desc="pad_dim0_forward")


_add_fft("fft", _fft_real, False, dtypes=DTYPES + ("int64",))
OPS[-1].name = "fft_fft_real"
_add_fft("fft", _c2c_1d, True)
_add_fft("ifft", _c2c_1d, True)
_add_fft("rfft", _r2c_1d, False, dtypes=DTYPES + ("int64",))
_add_fft("ihfft", _r2c_1d, False)
_add_fft("irfft", _c2r_1d, True)
_add_fft("hfft", _c2r_1d, True)


# ---------------------------------------------------------------- 2-d and n-d
def _c2c_nd(mk):
    yield S(_c(mk, 2, 3, 4), desc="all_dims")
    yield S(_c(mk, 2, 3, 4), kwargs={"s": (3, 5), "dim": (0, 2), "norm": "ortho"}, desc="s_dims_ortho")
    yield S(_c(mk, 3, 4), kwargs={"s": (2, -1), "norm": "forward"}, desc="s_last_forward")


def _c2c_2d(mk):
    yield S(_c(mk, 3, 4), desc="2d")
    yield S(_c(mk, 2, 3, 4), kwargs={"s": (4, 3), "norm": "ortho"}, desc="batched_s_ortho")


def _r2c_nd(mk):
    yield S(_r(mk, 2, 3, 4), desc="all_dims")
    yield S(_r(mk, 3, 4, 2), kwargs={"s": (4, 5), "dim": (0, 1), "norm": "forward"}, desc="s_dims_forward")


def _r2c_2d(mk):
    yield S(_r(mk, 4, 6), desc="2d")
    yield S(_r(mk, 2, 3, 5), kwargs={"s": (2, 4), "norm": "ortho"}, desc="batched_s_ortho")


def _c2r_nd(mk):
    yield S(_c(mk, 2, 3, 3), desc="all_dims")
    yield S(_c(mk, 3, 2, 4), kwargs={"s": (4, 5), "dim": (0, 2), "norm": "ortho"}, desc="s_dims_ortho")


def _c2r_2d(mk):
    yield S(_c(mk, 4, 3), desc="2d")
    yield S(_c(mk, 2, 3, 4), kwargs={"s": (3, 5), "norm": "forward"}, desc="batched_s_forward")


for _name, _samples, _complex in (("fftn", _c2c_nd, True), ("ifftn", _c2c_nd, True), ("fft2", _c2c_2d, True),
                                  ("ifft2", _c2c_2d, True), ("rfftn", _r2c_nd, False), ("rfft2", _r2c_2d, False),
                                  ("ihfftn", _r2c_nd, False), ("ihfft2", _r2c_2d, False),
                                  ("irfftn", _c2r_nd, True), ("irfft2", _c2r_2d, True), ("hfftn", _c2r_nd, True),
                                  ("hfft2", _c2r_2d, True)):
    _add_fft(_name, _samples, _complex, nd=True)


# ---------------------------------------------------------------- shifts
def _shift_samples(mk):
    yield S(_r(mk, 4, 5), desc="all_dims")
    yield S(_r(mk, 4, 5), kwargs={"dim": 1}, desc="dim")
    yield S(_r(mk, 3, 4, 5), kwargs={"dim": (0, -1)}, desc="dims")


def _shift_op(name):
    def op(x, **kwargs):
        import ember
        return getattr(ember.fft, name)(x, **kwargs)
    op.__name__ = f"fft_{name}"
    return op


def _shift_ref(name):
    fn = getattr(np.fft, name)

    def ref(x, dim=None):
        return fn(x, axes=dim)
    return ref


for _name in ("fftshift", "ifftshift"):
    OPS.append(OpInfo(f"fft_{_name}", op=_shift_op(_name), ref=_shift_ref(_name), samples=_shift_samples,
                      dtypes=("float32", "float64", "int64")))


# ---------------------------------------------------------------- stft / istft
def _hann(n, dtype):
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(dtype)


def _stft_ref(x, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode="reflect",
              normalized=False, onesided=True):
    """Frames of the (padded) signal times the window, through scipy's FFT."""
    hop = hop_length or n_fft // 4
    win = window if window is not None else np.ones(win_length or n_fft)
    left = (n_fft - len(win)) // 2
    win = np.pad(win, (left, n_fft - len(win) - left))
    if center:
        x = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)], mode=pad_mode)
    n_frames = 1 + (x.shape[-1] - n_fft) // hop
    frames = np.stack([x[..., t * hop:t * hop + n_fft] for t in range(n_frames)], -2) * win
    norm = "ortho" if normalized else "backward"
    spectrum = sfft.rfft(frames, norm=norm) if onesided else sfft.fft(frames, norm=norm)
    return _pairs(np.swapaxes(spectrum, -1, -2))


def _stft_op(x, *args, **kwargs):
    import ember
    return ember.view_as_real(ember.stft(x, *args, return_complex=True, **kwargs))


def _stft_samples(mk):
    yield S(_r(mk, 40), 8, kwargs={"hop_length": 2, "window": _hann(8, mk.np_dtype)}, desc="hann")
    yield S(_r(mk, 2, 30), 6, kwargs={"window": _hann(4, mk.np_dtype), "win_length": 4, "center": False,
                                      "normalized": True}, desc="batched_short_window_normalized")
    yield S(_r(mk, 24), 8, kwargs={"hop_length": 3, "window": np.ones(8, mk.np_dtype), "pad_mode": "constant",
                                   "onesided": False},
            desc="constant_pad_two_sided")


def _istft_ref(spec, n_fft, hop_length=None, window=None, center=True, length=None):
    """Overlap-add of the frames' inverse real FFTs, divided by the summed squared window."""
    spec = spec[..., 0] + 1j * spec[..., 1]
    hop = hop_length or n_fft // 4
    win = window if window is not None else np.ones(n_fft)
    frames = sfft.irfft(np.swapaxes(spec, -1, -2), n=n_fft) * win
    n_frames = frames.shape[-2]
    total = n_fft + hop * (n_frames - 1)
    y = np.zeros(frames.shape[:-2] + (total,))
    envelope = np.zeros(total)
    for t in range(n_frames):
        y[..., t * hop:t * hop + n_fft] += frames[..., t, :]
        envelope[t * hop:t * hop + n_fft] += win * win
    start = n_fft // 2 if center else 0
    end = start + length if length is not None else (total - n_fft // 2 if center else total)
    return y[..., start:end] / envelope[start:end]


def _istft_op(spec, *args, **kwargs):
    import ember
    return ember.istft(ember.view_as_complex(spec), *args, **kwargs)


def _istft_samples(mk):
    yield S(_c(mk, 5, 9), 8, kwargs={"hop_length": 2, "window": _hann(8, mk.np_dtype)}, desc="hann")
    yield S(_c(mk, 2, 4, 7), 6, kwargs={"hop_length": 2, "window": _hann(6, mk.np_dtype), "length": 12},
            desc="batched_length")


OPS.append(OpInfo("stft", op=_stft_op, ref=_stft_ref, samples=_stft_samples, dtypes=DTYPES, tol=TOL,
                  result_dtype=lambda sample, dtype: dtype))
OPS.append(OpInfo("istft", op=_istft_op, ref=_istft_ref, samples=_istft_samples, dtypes=DTYPES, tol=TOL,
                  result_dtype=lambda sample, dtype: dtype))
