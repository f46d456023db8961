"""``ember.autograd``: grad, backward, custom Functions, gradcheck, grad modes."""
from ember.core.autograd import (  # noqa: F401
    no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
)
from ember.autograd.api import backward, grad  # noqa: F401
from ember.autograd.function import Function, FunctionCtx, once_differentiable  # noqa: F401
from ember.autograd.gradcheck import gradcheck, gradgradcheck, GradcheckError  # noqa: F401
from ember.autograd import graph  # noqa: F401
from ember.autograd import forward_ad  # noqa: F401
from ember.autograd import grad_mode  # noqa: F401
from ember.autograd.anomaly import detect_anomaly, set_detect_anomaly  # noqa: F401
from ember.autograd.grad_mode import enforce_grad_layout_policy, set_multithreading_enabled  # noqa: F401
from ember.autograd._legacy import NestedIOFunction, Variable, variable  # noqa: F401
from ember.autograd import functional  # noqa: F401,E402  (jacobian, hessian, vjp, jvp, hvp, vhp)
