"""Finite-difference checks of analytical gradients (float64 inputs recommended)."""
from __future__ import annotations

import numpy as np

from ember.core.autograd import no_grad
from ember.core.tensor import Tensor


class GradcheckError(RuntimeError):
    pass


def _outputs(fn, inputs):
    out = fn(*inputs)
    return [out] if isinstance(out, Tensor) else [o for o in out if isinstance(o, Tensor)]


def _numerical_jacobians(fn, inputs, eps):
    """d(flattened outputs)/d(each input element), by central differences."""
    from ember.ops.creation import to_numpy
    jacobians = []
    for x in inputs:
        if not (isinstance(x, Tensor) and x.requires_grad):
            jacobians.append(None)
            continue
        columns = []
        flat = x.detach().reshape(-1)
        for i in range(x.numel()):
            # fn runs with grad mode as the caller has it: gradgradcheck's fn calls autograd.grad
            with no_grad():
                orig = flat[i].item()
                flat[i] = orig + eps
            plus = [to_numpy(o.detach()).astype(np.float64).ravel() for o in _outputs(fn, inputs)]
            with no_grad():
                flat[i] = orig - eps
            minus = [to_numpy(o.detach()).astype(np.float64).ravel() for o in _outputs(fn, inputs)]
            with no_grad():
                flat[i] = orig
            columns.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)]))
        jacobians.append(np.stack(columns, axis=1) if columns else np.zeros((0, 0)))
    return jacobians


def _analytical_jacobians(fn, inputs):
    from ember.autograd.api import grad
    from ember.ops.creation import to_numpy, zeros_like
    outputs = _outputs(fn, inputs)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    rows = []
    for k, out in enumerate(outputs):
        flat_out = out.reshape(-1)
        for j in range(out.numel()):
            if not out.requires_grad:
                rows.append([np.zeros(x.numel()) for x in diff])
                continue
            seed = zeros_like(flat_out)
            seed[j] = 1.0
            grads = grad([out], diff, grad_outputs=[seed.reshape(out.shape)], retain_graph=True,
                         allow_unused=True)
            rows.append([np.zeros(x.numel()) if g is None else to_numpy(g.detach()).astype(np.float64).ravel()
                         for x, g in zip(diff, grads)])
    result, col = [], 0
    for x in inputs:
        if not (isinstance(x, Tensor) and x.requires_grad):
            result.append(None)
            continue
        result.append(np.stack([r[col] for r in rows]) if rows else np.zeros((0, x.numel())))
        col += 1
    return result


def _in_real_pairs(func, inputs):
    """``func`` and ``inputs`` with every complex tensor, input or output, as its real pairs (view_as_real).

    The Jacobian of that real function is what PyTorch's convention for complex gradients (the
    conjugate Wirtinger derivative) gives, so complex functions are checked as real ones."""
    from ember.ops.complex import view_as_complex, view_as_real
    complex_at = [isinstance(x, Tensor) and x.dtype.is_complex for x in inputs]
    inputs = tuple(view_as_real(x.detach().resolve_conj()).clone().requires_grad_(x.requires_grad) if c else x
                   for x, c in zip(inputs, complex_at))

    def real_func(*args):
        out = func(*(view_as_complex(a) if c else a for a, c in zip(args, complex_at)))
        pairs = lambda o: view_as_real(o.resolve_conj()) if isinstance(o, Tensor) and o.dtype.is_complex else o  # noqa: E731
        return pairs(out) if isinstance(out, Tensor) else tuple(pairs(o) for o in out)
    return real_func, inputs


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored) -> bool:
    """Compare ``func``'s analytical gradients with central finite differences.

    Complex inputs and outputs are checked through their real and imaginary parts (PyTorch's
    convention for complex gradients).

    Args:
        func: a function of tensors returning a tensor or a tuple of tensors.
        inputs: a tensor or a tuple of them (those requiring grad are checked; use float64 or complex128).
        eps: the finite-difference step.
        atol: the absolute tolerance.
        rtol: the relative tolerance.
        raise_exception: raise ``GradcheckError`` on a mismatch instead of returning False.

    Returns:
        True when every Jacobian matches.
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    func, inputs = _in_real_pairs(func, inputs)
    numerical = _numerical_jacobians(func, inputs, eps)
    analytical = _analytical_jacobians(func, inputs)
    for i, (n, a) in enumerate(zip(numerical, analytical)):
        if n is None:
            continue
        if n.shape != a.shape or not np.allclose(a, n, rtol=rtol, atol=atol):
            err = np.abs(a - n).max() if n.shape == a.shape else float("inf")
            message = (f"Jacobian mismatch for output 0 with respect to input {i}: max abs difference {err:.3g}\n"
                       f"numerical:\n{n}\nanalytical:\n{a}")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, **_ignored) -> bool:
    """Check second derivatives: gradcheck of the function's vector-Jacobian product."""
    from ember.autograd.api import grad
    from ember.ops.random import randn_like
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    outputs = _outputs(func, inputs)
    if grad_outputs is None:
        grad_outputs = [randn_like(o).requires_grad_(True) for o in outputs]
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]

    def vjp(*args):
        xs, gs = args[:len(inputs)], args[len(inputs):]
        outs = _outputs(func, xs)
        d = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        return tuple(g for g in grad(outs, d, grad_outputs=list(gs), create_graph=True, allow_unused=True)
                     if g is not None)

    del diff
    return gradcheck(vjp, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
