"""Inference tensors: what ``ember.inference_mode()`` allocates, and PyTorch's rules for them
outside the mode (no in-place update, no saving for backward, no requires_grad)."""
import numpy as np
import pytest

import ember

SAVE_MSG = "Inference tensors cannot be saved for backward"
INPLACE_MSG = "Inplace update to inference tensor outside InferenceMode is not allowed"


def test_factories_and_op_results_inside_are_inference_tensors():
    x = ember.ones(3)
    with ember.inference_mode():
        made = ember.ones(3)
        computed = x * 2
        from_data = ember.tensor([1.0, 2.0])
        assert ember.is_inference_mode_enabled()
    assert made.is_inference() and ember.is_inference(made)
    assert computed.is_inference() and from_data.is_inference()
    assert not x.is_inference() and not ember.is_inference(x)
    np.testing.assert_allclose(computed.numpy(), 2 * np.ones(3))


def test_views_follow_their_base():
    x = ember.randn(4, 3)
    with ember.inference_mode():
        normal_view = x[1:3]
        detached = x.detach()
        made = ember.zeros(4, 3)
        inference_view = made.t()
    assert not normal_view.is_inference() and not detached.is_inference()
    assert inference_view.is_inference()
    assert made[0].is_inference()  # a view taken outside the mode of an inference tensor


def test_no_grad_and_nested_false_give_normal_tensors():
    x = ember.ones(2)
    with ember.no_grad():
        assert not (x * 2).is_inference()
    with ember.inference_mode():
        with ember.inference_mode(False):
            normal = x * 2
            assert not ember.is_inference_mode_enabled() and ember.is_grad_enabled()
        inner = x * 3
    assert not normal.is_inference() and inner.is_inference()


def test_decorator_form_makes_inference_tensors():
    @ember.inference_mode()
    def f(t):
        return t + 1
    assert f(ember.ones(2)).is_inference()


def test_inplace_rules():
    x = ember.ones(3)
    with ember.inference_mode():
        a = ember.ones(3)
        x.add_(1)       # normal tensors may be updated inside the mode and stay normal
        a.mul_(3)       # inference tensors may be updated inside the mode
    assert not x.is_inference()
    np.testing.assert_allclose(x.numpy(), 2 * np.ones(3))
    np.testing.assert_allclose(a.numpy(), 3 * np.ones(3))
    for update in (lambda: a.add_(1), lambda: a.zero_(), lambda: a.copy_(x), lambda: a[0:2].mul_(2),
                   lambda: a.__setitem__(0, 5.0)):
        with pytest.raises(RuntimeError, match=INPLACE_MSG):
            update()
    np.testing.assert_allclose(a.numpy(), 3 * np.ones(3))  # nothing was written
    x.copy_(a)  # an inference tensor may be the source of a normal tensor's update
    np.testing.assert_allclose(x.numpy(), 3 * np.ones(3))
    c = a.clone()
    assert not c.is_inference()
    c.add_(1)
    np.testing.assert_allclose(c.numpy(), 4 * np.ones(3))


def test_saving_for_backward_outside_is_refused():
    with ember.inference_mode():
        b = ember.randn(3)
    w = ember.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=SAVE_MSG):
        w * b  # mul saves both inputs
    with pytest.raises(RuntimeError, match=SAVE_MSG):
        w.exp() * b
    y = w + b  # add saves nothing: allowed, and the gradient flows to w
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.ones(3))
    with ember.inference_mode():
        with ember.inference_mode(False):
            with pytest.raises(RuntimeError, match=SAVE_MSG):
                b * w
    wc = b.clone() * w  # the documented way out: a clone is a normal tensor
    assert wc.requires_grad


def test_requires_grad_rules():
    with ember.inference_mode():
        r = ember.ones(2, requires_grad=True)  # allowed inside the mode
        a = ember.ones(2)
        a.requires_grad_()
        assert a.requires_grad and a.is_inference()
        b = ember.ones(2)
        with ember.enable_grad():  # inside inference mode nothing is recorded even so
            e = r * 2
            assert ember.is_grad_enabled()
    assert r.requires_grad and r.is_inference() and not e.requires_grad
    with pytest.raises(RuntimeError, match="Setting requires_grad=True on inference tensor outside InferenceMode"):
        b.requires_grad_()
    with pytest.raises(RuntimeError, match="Setting requires_grad=True on inference tensor outside InferenceMode"):
        b.requires_grad = True
    b.requires_grad_(False)
    assert not b.requires_grad


def test_parameters_and_modules_in_inference_mode():
    lin = ember.nn.Linear(3, 2)
    x = ember.randn(4, 3)
    with ember.inference_mode():
        out = lin(x)
        p = ember.nn.Parameter(ember.ones(2))
    assert out.is_inference() and not out.requires_grad
    assert not lin.weight.is_inference()
    assert p.is_inference() and p.requires_grad
    ref = x.numpy() @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_other_threads_are_not_in_inference_mode():
    import threading
    seen = []
    with ember.inference_mode():
        t = threading.Thread(target=lambda: seen.append((ember.ones(1) * 2).is_inference()))
        t.start()
        t.join()
    assert seen == [False]


def test_is_inference_takes_a_tensor():
    with pytest.raises(TypeError, match="must be Tensor, not int"):
        ember.is_inference(3)


def test_every_device(any_device):
    x = ember.ones(3, device=any_device)
    with ember.inference_mode():
        y = x + 1
        v = x[0:2]
    assert y.is_inference() and not v.is_inference()
    with pytest.raises(RuntimeError, match=INPLACE_MSG):
        y.add_(1)
    np.testing.assert_allclose(y.cpu().numpy(), 2 * np.ones(3))
    if any_device != "cpu":
        assert not y.cpu().is_inference()  # a copy made outside the mode (on cpu, .cpu() is y itself)
