"""The FFT primitives (``fft_c2c``, ``fft_r2c``, ``fft_c2r``) over an array module: a mixin of
``XpKernels`` (``ember/plugins/xp.py``), so cpu, cuda and rocm share them.

On numpy the transforms run in ``scipy.fft`` (float32 stays float32, and it is faster than
``numpy.fft``); on cupy in ``cupy.fft`` (cuFFT). Both take the same ``norm`` names, and the
primitives' ``normalization`` (the scaling of the result: none, ``1/sqrt(n)`` or ``1/n``)
maps onto them per direction.
"""
from __future__ import annotations

# primitive normalization -> the library's norm= for a forward (e^-i) or inverse (e^+i) transform
_FORWARD_NORM = {"none": "backward", "by_root_n": "ortho", "by_n": "forward"}
_INVERSE_NORM = {"none": "forward", "by_root_n": "ortho", "by_n": "backward"}


class SpectralKernels:
    """FFT kernels; expects ``self.xp`` (numpy or cupy)."""

    def _fft_module(self):
        found = getattr(self, "_fft_lib", None)
        if found is None:
            if self.xp.__name__ == "numpy":
                import scipy.fft as found
            else:
                found = self.xp.fft
            self._fft_lib = found
        return found

    def fft_c2c(self, x, *, dims, normalization, forward):
        lib = self._fft_module()
        if forward:
            return lib.fftn(x, axes=dims, norm=_FORWARD_NORM[normalization])
        return lib.ifftn(x, axes=dims, norm=_INVERSE_NORM[normalization])

    def fft_r2c(self, x, *, dims, normalization, forward):
        lib = self._fft_module()
        # the e^+i transform of a real signal is the conjugate of the e^-i one
        out = lib.rfftn(x, axes=dims, norm=_FORWARD_NORM[normalization])
        return out if forward else self.xp.conj(out)

    def fft_c2r(self, x, *, dims, normalization, forward, last_dim_size):
        lib = self._fft_module()
        sizes = [x.shape[d] for d in dims[:-1]] + [last_dim_size]
        # the e^-i transform of a Hermitian signal is the e^+i transform of its conjugate
        source = self.xp.conj(x) if forward else x
        return lib.irfftn(source, s=sizes, axes=dims, norm=_INVERSE_NORM[normalization])
