"""Autograd: gradients, grad modes, hooks, higher order, custom Functions, gradcheck,
in-place operations and version counters.

Gradients are compared with analytic derivatives computed in float64 numpy on random
inputs; float64 tensors are used where the comparison is tight.
"""
import numpy as np
import pytest

import ember
from ember.autograd import Function, gradcheck, gradgradcheck, GradcheckError

RNG = np.random.default_rng(2024)
F64 = dict(rtol=1e-10, atol=1e-12)


def leaf(shape=(5,), low=-2.0, high=2.0, dtype=ember.float64):
    return ember.tensor(RNG.uniform(low, high, shape), dtype=dtype, requires_grad=True)


def values(t):
    return t.detach().cpu().numpy().astype(np.float64)


# ================================================================ first derivatives
def test_gradient_of_a_composite_expression_matches_the_analytic_one():
    x, y = leaf(), leaf(low=0.5, high=2.0)
    loss = (x * y + x.exp() / y - (x * x).sin()).sum()
    loss.backward()
    xv, yv = values(x), values(y)
    np.testing.assert_allclose(values(x.grad), yv + np.exp(xv) / yv - 2 * xv * np.cos(xv * xv), **F64)
    np.testing.assert_allclose(values(y.grad), xv - np.exp(xv) / yv ** 2, **F64)


def test_backward_with_an_explicit_gradient():
    x = leaf((2, 3))
    v = RNG.standard_normal((2, 3))
    (x * x * 3).backward(gradient=ember.tensor(v))
    np.testing.assert_allclose(values(x.grad), 6 * values(x) * v, **F64)


def test_gradients_of_broadcast_inputs_are_summed_back():
    a, b = leaf((3, 1)), leaf((4,))
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(values(a.grad), np.full((3, 1), values(b).sum()), **F64)
    np.testing.assert_allclose(values(b.grad), np.full(4, values(a).sum()), **F64)


def test_gradient_keeps_the_leaf_dtype_across_casts():
    x = ember.tensor([1.0, 2.0], dtype=ember.float32, requires_grad=True)
    (x.double() * ember.tensor([3.0, 4.0], dtype=ember.float64)).sum().backward()
    assert x.grad.dtype is ember.float32
    np.testing.assert_array_equal(values(x.grad), [3.0, 4.0])


def test_grad_accumulates_over_backward_calls_until_reset():
    x = leaf()
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(values(x.grad), np.full(5, 5.0))
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_allclose(values(x.grad), 2 * values(x), **F64)


def test_accumulating_a_broadcast_gradient():
    x = leaf((3,))
    x.sum().backward()   # sum's backward hands out a broadcast view of one value
    x.sum().backward()
    np.testing.assert_array_equal(values(x.grad), [2.0, 2.0, 2.0])
    x.grad.zero_()       # .grad is an ordinary writable tensor
    np.testing.assert_array_equal(values(x.grad), [0.0, 0.0, 0.0])


def test_leaves_get_gradients_of_their_own():
    a, b = leaf((2,)), leaf((2,))
    g = ember.tensor([1.0, 2.0], dtype=ember.float64)
    (a + b).backward(g)  # add's backward gives both inputs the same gradient tensor
    assert a.grad is not b.grad and a.grad is not g
    (a + b).backward(g)
    np.testing.assert_array_equal(values(a.grad), [2.0, 4.0])
    np.testing.assert_array_equal(values(b.grad), [2.0, 4.0])
    np.testing.assert_array_equal(values(g), [1.0, 2.0])  # the caller's gradient is untouched
    a.grad.mul_(0)
    np.testing.assert_array_equal(values(b.grad), [2.0, 4.0])


def test_a_tensor_used_twice_gets_both_contributions():
    x = leaf()
    y = x * 2
    (y * y + y).sum().backward()
    np.testing.assert_allclose(values(x.grad), 8 * values(x) + 2, **F64)


def test_only_tensors_that_require_grad_get_gradients():
    x, c = leaf(), ember.tensor(RNG.standard_normal(5))
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad
    np.testing.assert_allclose(values(x.grad), values(c), **F64)


def test_non_leaf_grad_is_not_kept_without_retain_grad():
    x = leaf()
    y = x * 2
    y.sum().backward()
    assert y.grad is None and not y.retains_grad


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf()
    y = x * 2
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward()
    np.testing.assert_allclose(values(y.grad), 2 * values(y), **F64)
    np.testing.assert_allclose(values(x.grad), 8 * values(x), **F64)


def test_retained_grad_is_of_the_value_after_an_inplace_change():
    x = leaf((2,))
    y = x.clone()
    y.retain_grad()
    y.mul_(2)
    (y * 3).sum().backward()
    np.testing.assert_array_equal(values(y.grad), [3.0, 3.0])
    np.testing.assert_array_equal(values(x.grad), [6.0, 6.0])


def test_backward_restricted_to_inputs():
    x, w = leaf(), leaf()
    (x * w).sum().backward(inputs=[x])
    assert w.grad is None
    np.testing.assert_allclose(values(x.grad), values(w), **F64)


# ================================================================ retain_graph
def test_second_backward_needs_retain_graph():
    x = leaf()
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = values(x.grad)
    y.backward()
    np.testing.assert_allclose(values(x.grad), 2 * first, **F64)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_graph_without_saved_tensors_can_run_twice():
    x = leaf()
    y = (x + x).sum()  # add saves nothing: PyTorch allows this too
    y.backward()
    y.backward()
    np.testing.assert_allclose(values(x.grad), np.full(5, 4.0))


# ================================================================ grad modes
def test_no_grad_context_and_decorator():
    x = leaf()
    with ember.no_grad():
        assert not ember.is_grad_enabled()
        y = x * 2
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf

    @ember.no_grad()
    def double(t):
        return t * 2
    assert not double(x).requires_grad
    assert ember.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf()
    with ember.no_grad():
        with ember.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_set_grad_enabled_as_function_and_context_manager():
    x = leaf()
    try:
        ember.set_grad_enabled(False)
        assert not ember.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        ember.set_grad_enabled(True)
    assert ember.is_grad_enabled()
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    with ember.no_grad():
        with ember.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not ember.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with ember.no_grad():
            raise ValueError("boom")
    assert ember.is_grad_enabled()


def test_inference_mode():
    x = leaf()
    with ember.inference_mode():
        assert ember.is_inference_mode_enabled() and not ember.is_grad_enabled()
        y = x * 2
    assert not ember.is_inference_mode_enabled() and ember.is_grad_enabled()
    assert not y.requires_grad

    @ember.inference_mode()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    with ember.inference_mode(False):
        assert (x * 2).requires_grad


def test_autograd_namespace_has_the_grad_modes():
    assert ember.autograd.no_grad is ember.no_grad
    assert ember.autograd.enable_grad is ember.enable_grad


# ================================================================ detach and requires_grad
def test_detach_and_requires_grad_flags():
    x = leaf()
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    d.requires_grad_()
    assert d.requires_grad and d.is_leaf
    plain = ember.ones(2)
    plain.requires_grad = True
    assert plain.requires_grad and plain.is_leaf
    y = x * 2
    y.detach_()
    assert not y.requires_grad and y.grad_fn is None


def test_requires_grad_false_on_a_non_leaf_raises():
    y = leaf() * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


# ================================================================ hooks
def test_leaf_hook_replaces_the_gradient_and_can_be_removed():
    x = leaf()
    seen = []
    handle = x.register_hook(lambda g: g * 10)
    observer = x.register_hook(lambda g: seen.append(values(g)))  # returning None keeps g
    (x * 3).sum().backward()
    np.testing.assert_allclose(values(x.grad), np.full(5, 30.0))
    np.testing.assert_allclose(seen[0], np.full(5, 30.0))  # hooks run in order of registration
    handle.remove()
    observer.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(values(x.grad), np.full(5, 3.0))
    assert len(seen) == 1


def test_non_leaf_hook_changes_what_flows_upstream():
    x = leaf()
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(values(g)) or g * 10)
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * values(y), **F64)
    np.testing.assert_allclose(values(y.grad), 20 * values(y), **F64)  # retain_grad sees the hooked grad
    np.testing.assert_allclose(values(x.grad), 60 * values(y), **F64)


def test_hook_handle_removal_on_a_non_leaf():
    x = leaf()
    y = x * 1
    handle = y.register_hook(lambda g: g * 0)
    handle.remove()
    y.sum().backward()
    np.testing.assert_allclose(values(x.grad), np.ones(5))


def test_hook_needs_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.ones(2).register_hook(lambda g: g)


# ================================================================ autograd.grad and higher order
def test_autograd_grad_returns_gradients_without_touching_dot_grad():
    x, y = leaf(), leaf()
    out = (x * y * y).sum()
    gx, gy = ember.autograd.grad(out, (x, y))
    assert x.grad is None and y.grad is None
    np.testing.assert_allclose(values(gx), values(y) ** 2, **F64)
    np.testing.assert_allclose(values(gy), 2 * values(x) * values(y), **F64)
    assert not gx.requires_grad


def test_autograd_grad_with_grad_outputs():
    x = leaf((3,))
    v = RNG.standard_normal(3)
    (g,) = ember.autograd.grad(x.sin(), x, grad_outputs=ember.tensor(v))
    np.testing.assert_allclose(values(g), np.cos(values(x)) * v, **F64)


def test_autograd_grad_allow_unused():
    x, unused = leaf(), leaf()
    out = (x * 2).sum()
    gx, gu = ember.autograd.grad(out, [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(values(gx), np.full(5, 2.0))
    with pytest.raises(RuntimeError, match="index 1 appears to not have been used"):
        ember.autograd.grad((x * 2).sum(), [x, unused])


@pytest.mark.parametrize("fn, d1, d2", [
    (lambda t: t.sin() * t.exp(),
     lambda v: np.exp(v) * (np.sin(v) + np.cos(v)),
     lambda v: 2 * np.exp(v) * np.cos(v)),
    (lambda t: t ** 3 - 2 * t,
     lambda v: 3 * v ** 2 - 2,
     lambda v: 6 * v),
    (lambda t: t.tanh(),
     lambda v: 1 - np.tanh(v) ** 2,
     lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
    (lambda t: (t * t + 1).log(),
     lambda v: 2 * v / (v * v + 1),
     lambda v: 2 * (1 - v * v) / (v * v + 1) ** 2),
    (lambda t: t.sigmoid(),
     lambda v: (s := 1 / (1 + np.exp(-v))) * (1 - s),
     lambda v: (s := 1 / (1 + np.exp(-v))) * (1 - s) * (1 - 2 * s)),
])
def test_double_backward_matches_analytic_second_derivatives(fn, d1, d2):
    x = leaf((6,))
    (g,) = ember.autograd.grad(fn(x).sum(), x, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(values(g), d1(values(x)), rtol=1e-9, atol=1e-12)
    (h,) = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(values(h), d2(values(x)), rtol=1e-9, atol=1e-12)


def test_third_derivative_and_backward_of_a_gradient():
    x = leaf((4,))
    (g1,) = ember.autograd.grad((x ** 4).sum(), x, create_graph=True)
    (g2,) = ember.autograd.grad(g1.sum(), x, create_graph=True)
    g2.sum().backward()
    np.testing.assert_allclose(values(g2), 12 * values(x) ** 2, **F64)
    np.testing.assert_allclose(values(x.grad), 24 * values(x), **F64)


def test_hessian_vector_product_of_a_quadratic_form():
    n = 4
    a = RNG.standard_normal((n, n))
    A = ember.tensor(a)
    x, v = leaf((n,)), RNG.standard_normal(n)
    f = (x @ (A @ x))  # x^T A x: gradient (A + A^T) x, Hessian A + A^T
    (g,) = ember.autograd.grad(f, x, create_graph=True)
    (hv,) = ember.autograd.grad(g, x, grad_outputs=ember.tensor(v))
    np.testing.assert_allclose(values(g), (a + a.T) @ values(x), **F64)
    np.testing.assert_allclose(values(hv), (a + a.T) @ v, **F64)


def test_backward_with_create_graph_makes_a_differentiable_grad():
    x = leaf((3,))
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (gg,) = ember.autograd.grad(x.grad.sum(), x)
    np.testing.assert_allclose(values(gg), 6 * values(x), **F64)


# ================================================================ custom Functions
class ScaledSquare(Function):
    """y = k * x**2 with a non-tensor argument k."""

    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return x * x * k

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2 * x * ctx.k, None


class MulWithIndex(Function):
    """Two outputs, the second (an index tensor) non-differentiable; records needs_input_grad."""
    needs = None

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        MulWithIndex.needs = ctx.needs_input_grad
        index = ember.tensor([0, 1])
        ctx.mark_non_differentiable(index)
        return a * b, index

    @staticmethod
    def backward(ctx, grad, grad_index):
        a, b = ctx.saved_tensors
        return (grad * b if ctx.needs_input_grad[0] else None,
                grad * a if ctx.needs_input_grad[1] else None)


def test_function_with_saved_tensors_and_a_non_tensor_argument():
    x = leaf()
    y = ScaledSquare.apply(x, 3.0)
    assert y.requires_grad and "ScaledSquare" in y.grad_fn.name()
    np.testing.assert_allclose(values(y), 3 * values(x) ** 2, **F64)
    y.sum().backward()
    np.testing.assert_allclose(values(x.grad), 6 * values(x), **F64)


def test_function_needs_input_grad_and_mark_non_differentiable():
    a, b = leaf((2,)), ember.tensor(RNG.standard_normal(2))
    out, index = MulWithIndex.apply(a, b)
    assert MulWithIndex.needs == (True, False)
    assert out.requires_grad and not index.requires_grad
    out.sum().backward()
    np.testing.assert_allclose(values(a.grad), values(b), **F64)


class RecordsGradMode(Function):
    seen = None

    @staticmethod
    def forward(ctx, x):
        inner = x * 2
        RecordsGradMode.seen = (ember.is_grad_enabled(), inner.requires_grad)
        return inner

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


def test_function_runs_forward_without_recording_inner_ops():
    x = leaf()
    y = RecordsGradMode.apply(x)
    assert RecordsGradMode.seen == (False, False)
    assert y.requires_grad and ember.is_grad_enabled()
    (edge, _), = y.grad_fn.next_functions  # one edge, straight to x's AccumulateGrad
    assert isinstance(edge, ember.autograd.graph.AccumulateGrad) and edge.variable is x


def test_function_backward_twice_needs_retain_graph():
    x = leaf()
    y = ScaledSquare.apply(x, 2.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_function_passes_gradcheck_and_gradgradcheck():
    x = leaf((4,))
    assert gradcheck(lambda t: ScaledSquare.apply(t, 1.5), (x,))
    assert gradgradcheck(lambda t: ScaledSquare.apply(t, 1.5), (x,))


# ================================================================ gradcheck
def test_gradcheck_accepts_correct_gradients():
    x, y = leaf((3,)), leaf((3,), low=0.5)
    assert gradcheck(lambda a, b: (a * b).exp() / b, (x, y))
    assert gradgradcheck(lambda a, b: (a * b).sin() * a, (x, y))


class WrongGradient(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x  # should be 2 * x


class FirstOrderOnly(Function):
    """Correct first derivative, computed without a graph: its second derivative is wrong."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ember.tensor(3 * x.detach().numpy() ** 2)


def test_gradcheck_rejects_a_wrong_gradient():
    x = leaf((3,))
    assert gradcheck(WrongGradient.apply, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(WrongGradient.apply, (x,))


def test_gradgradcheck_rejects_a_wrong_second_derivative():
    x = leaf((3,), low=0.5)
    assert gradcheck(FirstOrderOnly.apply, (x,))
    assert gradgradcheck(FirstOrderOnly.apply, (x,), raise_exception=False) is False


# ================================================================ in-place operations
def test_inplace_on_a_non_leaf():
    x = leaf()
    y = x * 2
    y.mul_(x)  # y = 2 x^2
    y.add_(1)
    assert y.grad_fn is not None and y._version_value == 2
    y.sum().backward()
    np.testing.assert_allclose(values(x.grad), 4 * values(x), **F64)


def test_inplace_on_a_view_of_a_non_leaf_updates_the_base_gradient():
    x = leaf((4,))
    y = x * 2
    view = y[1:3]
    view.mul_(x[1:3])  # y = [2x0, 2x1^2, 2x2^2, 2x3]
    assert y.grad_fn.name() == "CopySlices"
    (y * ember.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    xv = values(x)
    np.testing.assert_allclose(values(x.grad), [2.0, 8 * xv[1], 12 * xv[2], 8.0], **F64)


def test_inplace_through_chained_views():
    x = leaf((4,))
    y = x * 1
    y.view(2, 2).t()[0].mul_(3)  # the first column of the 2x2 view: elements 0 and 2
    (y * y).sum().backward()
    xv = values(x)
    np.testing.assert_allclose(values(x.grad), 2 * xv * np.array([9.0, 1.0, 9.0, 1.0]), **F64)


def test_setitem_on_a_non_leaf():
    x = leaf((4,))
    y = x * 2
    y[0] = 5.0                 # a constant: no gradient reaches x[0]
    y[2:] = x[:2] * 10         # a tensor: gradient reaches x[:2]
    y.sum().backward()
    np.testing.assert_allclose(values(x.grad), [10.0, 12.0, 0.0, 0.0])
    np.testing.assert_allclose(values(y), [5.0, 2 * values(x)[1], 10 * values(x)[0], 10 * values(x)[1]], **F64)


def test_writing_into_a_tensor_that_does_not_require_grad():
    x = leaf((4,))
    buffer = ember.zeros(2, 4, dtype=ember.float64)
    buffer[1] = x
    buffer[0] = x * 2
    assert buffer.requires_grad
    (buffer * buffer).sum().backward()
    np.testing.assert_allclose(values(x.grad), 10 * values(x), **F64)


def test_copy_of_a_leaf_into_a_plain_tensor():
    x = leaf((4,))
    target = ember.zeros(3, 4, dtype=ember.float64)
    target.copy_(x)  # broadcast over the rows
    (target * 3).sum().backward()
    np.testing.assert_allclose(values(x.grad), np.full(4, 9.0))


@pytest.mark.parametrize("overwrite", [lambda t: t.zero_(), lambda t: t.fill_(5.0),
                                       lambda t: t.copy_(ember.ones(4, dtype=ember.float64))])
def test_overwriting_a_non_leaf_with_a_constant_stops_the_gradient(overwrite):
    x = leaf((4,))
    y = x * 2
    overwrite(y)
    assert y.requires_grad
    (y * 3).sum().backward()
    np.testing.assert_array_equal(values(x.grad), np.zeros(4))


def test_zero_of_a_view_stops_the_gradient_there_only():
    x = leaf((4,))
    y = x * 2
    y[1:3].zero_()
    y.sum().backward()
    np.testing.assert_array_equal(values(x.grad), [2.0, 0.0, 0.0, 2.0])


def test_a_view_sees_inplace_changes_of_its_base_in_its_gradient():
    x = leaf((4,))
    y = x * 2
    view = y[:2]          # made before the in-place op on the base
    y.mul_(3)
    view.sum().backward()
    np.testing.assert_array_equal(values(x.grad), [6.0, 6.0, 0.0, 0.0])


def test_a_view_sees_inplace_changes_through_a_sibling_view():
    x = leaf((4,))
    y = x * 2
    first, second = y[:2], y[1:3]
    second.mul_(x[1:3])
    (first * first).sum().backward()
    xv = values(x)
    # first = [2 x0, 2 x1^2]: d/dx of (4 x0^2 + 4 x1^4)
    np.testing.assert_allclose(values(x.grad), [8 * xv[0], 16 * xv[1] ** 3, 0.0, 0.0], **F64)


def test_leaf_inplace_rules():
    x = leaf()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x[0] = 1.0
    with ember.no_grad():
        x.add_(1)        # allowed outside autograd (how optimizers update parameters)
        x[0] = 0.0
    assert x.is_leaf and x.requires_grad and values(x)[0] == 0.0


# ================================================================ version counters
def test_modifying_a_saved_input_is_detected_at_backward():
    x = leaf()
    y = x * 1
    z = y * y            # saves y
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*version 1; expected version 0"):
        z.sum().backward()


def test_modifying_a_saved_output_is_detected_at_backward():
    x = leaf()
    y = x.exp()          # saves its output
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_modifying_a_saved_tensor_through_a_view_or_detach_is_detected():
    x = leaf()
    y = x * 1
    z = y.sin()
    y[1:3].mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()
    y2 = x * 1
    z2 = y2.sin()
    y2.detach().add_(1)  # detach shares the version counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z2.sum().backward()


def test_modifying_a_tensor_that_was_not_saved_is_fine():
    x = leaf()
    y = x * 1
    z = y + 2            # add saves nothing
    w = y * x            # mul saves y and x ...
    y.add_(1)
    z.sum().backward(retain_graph=True)
    np.testing.assert_allclose(values(x.grad), np.ones(5))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        w.sum().backward()  # ... so this one notices


def test_version_counter_counts_writes():
    t = ember.zeros(3)
    v = t[1:]
    start = t._version_value
    t.add_(1)
    v.mul_(2)
    t[0] = 4.0
    assert t._version_value == start + 3 and v._version_value == t._version_value


def test_grad_mode_is_per_thread():
    # as PyTorch's: no_grad() in one thread leaves the others recording; a new thread starts with grad on
    import threading
    seen = {}

    def worker():
        x = ember.ones(2, requires_grad=True)
        seen["enabled"], seen["records"] = ember.is_grad_enabled(), (x * 2).requires_grad
        with ember.no_grad():
            seen["inner"] = ember.is_grad_enabled()

    with ember.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        assert not ember.is_grad_enabled()
    assert seen == {"enabled": True, "records": True, "inner": False}
    assert ember.is_grad_enabled()
