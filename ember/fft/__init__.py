"""``ember.fft``: discrete Fourier transforms and their helpers, as ``torch.fft``.

The transforms are defined in ``ember.ops.spectral`` (over the ``fft_c2c`` / ``fft_r2c`` /
``fft_c2r`` primitives of the op table); this module only re-exports them under PyTorch's names.
"""
from ember.ops.spectral import (fft, fft2, fftfreq, fftn, fftshift, hfft, hfft2, hfftn, ifft, ifft2, ifftn,
                                ifftshift, ihfft, ihfft2, ihfftn, irfft, irfft2, irfftn, rfft, rfft2, rfftfreq,
                                rfftn)

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
           "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]
