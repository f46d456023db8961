"""``ember.autograd``: grad, backward, custom Functions, gradcheck, grad modes."""
from ember.core.autograd import (  # noqa: F401
    no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
)
from ember.autograd.api import backward, grad  # noqa: F401
from ember.autograd.function import Function, FunctionCtx, once_differentiable  # noqa: F401
from ember.autograd.gradcheck import gradcheck, gradgradcheck, GradcheckError  # noqa: F401
from ember.autograd import graph  # noqa: F401
from ember.autograd import functional  # noqa: F401,E402  (jacobian, hessian, vjp, jvp, hvp, vhp)
