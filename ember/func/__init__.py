"""``ember.func``: function transforms over modules (PyTorch's ``torch.func``)."""
from ember.func._module_state import functional_call, stack_module_state  # noqa: F401
from ember.func._forward import hessian, jacfwd, jvp, linearize  # noqa: F401
from ember.func._vmap import vmap  # noqa: F401
from ember.func._batching import debug_unwrap  # noqa: F401
from ember.func._reverse import grad, grad_and_value, jacrev, vjp  # noqa: F401
from ember.func._functionalize import functionalize, rearrange, replace_all_batch_norm_modules_  # noqa: F401

__all__ = ["functional_call", "stack_module_state", "jvp", "jacfwd", "linearize", "hessian",
           "vmap", "debug_unwrap", "grad", "grad_and_value", "vjp", "jacrev",
           "functionalize", "rearrange", "replace_all_batch_norm_modules_"]
