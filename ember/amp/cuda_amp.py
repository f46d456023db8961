"""``ember.cuda.amp`` (``torch.cuda.amp``): the deprecated cuda forms of ``ember.amp``."""
from ember.amp.deprecated import CudaAutocast as autocast, CudaGradScaler as GradScaler  # noqa: F401
from ember.amp.deprecated import cuda_custom_bwd as custom_bwd, cuda_custom_fwd as custom_fwd  # noqa: F401

__all__ = ["autocast", "GradScaler", "custom_fwd", "custom_bwd"]
