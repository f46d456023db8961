"""``ember.func``: function transforms over modules (PyTorch's ``torch.func``)."""
from ember.func._module_state import functional_call, stack_module_state  # noqa: F401

__all__ = ["functional_call", "stack_module_state"]
