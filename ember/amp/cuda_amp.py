"""``ember.cuda.amp`` (``torch.cuda.amp``): the deprecated cuda forms of ``ember.amp``."""
from ember.amp.deprecated import CudaAutocast as autocast, CudaGradScaler as GradScaler  # noqa: F401
from ember.amp.deprecated import cuda_custom_bwd as custom_bwd, cuda_custom_fwd as custom_fwd  # noqa: F401

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd", "amp_definitely_not_available"]


def amp_definitely_not_available() -> bool:
    """Whether no device here can run mixed precision the cuda way: no usable GPU (PyTorch also asks
    for XLA, which ember has not).

    Returns:
        True without a usable GPU.
    """
    import ember
    return not ember.cuda.is_available()
