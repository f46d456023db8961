"""The compiler front end's errors (PyTorch's ``torch.jit.frontend``)."""
from ember.jit._script import FrontendError, NotSupportedError

__all__ = ["FrontendError", "NotSupportedError"]
