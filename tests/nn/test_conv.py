"""Convolutions (functional and modules) against float64 numpy references, on every device."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.dispatch.ops import OPS

from layer_refs import (RNG, assert_close, check_layer, conv_ref, conv_transpose_ref, float_dtype, host, tensor,
                        tolerances)

DTYPES = [ember.float32, ember.float64]

CONV2D_CASES = [
    # x shape, w shape, bias, stride, padding, dilation, groups
    ((2, 3, 7, 8), (4, 3, 3, 3), True, (1, 1), (0, 0), (1, 1), 1),
    ((2, 3, 7, 8), (4, 3, 3, 2), True, (2, 1), (1, 2), (1, 1), 1),
    ((1, 4, 9, 8), (6, 2, 3, 3), True, (1, 2), (2, 1), (2, 1), 2),
    ((2, 4, 6, 6), (8, 1, 3, 3), False, (1, 1), (1, 1), (1, 1), 4),   # depthwise
    ((2, 2, 6, 6), (3, 2, 2, 2), True, (2, 2), (0, 0), (1, 1), 1),    # kernel == stride
    ((1, 2, 5, 5), (3, 2, 1, 1), True, (1, 1), (0, 0), (1, 1), 1),    # 1x1
]


def _case_id(case):
    return f"x{case[0]}-w{case[1]}-s{case[3]}-p{case[4]}-d{case[5]}-g{case[6]}"


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CONV2D_CASES, ids=_case_id)
def test_conv2d_matches_reference(any_device, dtype, case):
    device = any_device
    xs, ws, has_bias, stride, padding, dilation, groups = case
    rng = RNG(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0]) if has_bias else None
    arrays = [x, w, b] if has_bias else [x, w]

    def run(x, w, b=None):
        return F.conv2d(x, w, b, stride, padding, dilation, groups)

    def ref(x, w, b=None):
        return conv_ref(x, w, b, stride, padding, dilation, groups)
    check_layer(run, ref, arrays, device, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_conv1d_and_conv3d(any_device, dtype):
    device = any_device
    rng = RNG(1)
    x, w, b = rng.standard_normal((2, 4, 11)), rng.standard_normal((6, 2, 3)), rng.standard_normal(6)
    check_layer(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
                lambda x, w, b: conv_ref(x, w, b, (2,), (1,), (2,), 2), [x, w, b], device, dtype)
    x, w, b = rng.standard_normal((1, 2, 4, 5, 4)), rng.standard_normal((3, 2, 2, 3, 2)), rng.standard_normal(3)
    check_layer(lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=1),
                lambda x, w, b: conv_ref(x, w, b, (1, 2, 1), (1, 1, 1), (1, 1, 1), 1), [x, w, b], device, dtype)


@pytest.mark.parametrize("kernel,dilation", [((3, 3), (1, 1)), ((4, 3), (1, 1)), ((2, 3), (3, 2))])
def test_conv2d_padding_same_and_valid(any_device, kernel, dilation):
    device = any_device
    rng = RNG(2)
    x, w = rng.standard_normal((2, 3, 7, 8)), rng.standard_normal((4, 3) + kernel)
    out = check_layer(lambda x, w: F.conv2d(x, w, padding="same", dilation=dilation),
                      lambda x, w: _same_ref(x, w, dilation), [x, w], device)
    assert tuple(out.shape) == (2, 4, 7, 8)
    check_layer(lambda x, w: F.conv2d(x, w, padding="valid", dilation=dilation),
                lambda x, w: conv_ref(x, w, None, (1, 1), (0, 0), dilation, 1), [x, w], device)


def _same_ref(x, w, dilation):
    """'same': total padding d*(k-1) per dim, the odd element on the right."""
    pads = []
    for i in range(2):
        total = dilation[i] * (w.shape[2 + i] - 1)
        pads.append((total // 2, total - total // 2))
    xp = np.pad(x, [(0, 0), (0, 0)] + pads)
    return conv_ref(xp, w, None, (1, 1), (0, 0), dilation, 1)


def test_conv2d_unbatched_input(any_device):
    device = any_device
    rng = RNG(3)
    x, w = rng.standard_normal((3, 6, 5)), rng.standard_normal((2, 3, 3, 3))
    check_layer(lambda x, w: F.conv2d(x, w, padding=1),
                lambda x, w: conv_ref(x[None], w, None, (1, 1), (1, 1), (1, 1), 1)[0], [x, w], device)


CONV_T_CASES = [
    # x shape, w shape, stride, padding, output_padding, dilation, groups
    ((2, 4, 5, 6), (4, 3, 3, 3), (1, 1), (0, 0), (0, 0), (1, 1), 1),
    ((2, 4, 5, 6), (4, 3, 3, 2), (2, 2), (1, 1), (1, 1), (1, 1), 1),
    ((2, 4, 5, 6), (4, 2, 3, 3), (2, 3), (1, 2), (1, 2), (1, 1), 2),
    ((1, 4, 4, 5), (4, 2, 3, 3), (2, 2), (2, 2), (1, 0), (2, 3), 1),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", CONV_T_CASES,
                         ids=lambda c: f"x{c[0]}-w{c[1]}-s{c[2]}-p{c[3]}-op{c[4]}-d{c[5]}-g{c[6]}")
def test_conv_transpose2d_matches_reference(any_device, dtype, case):
    device = any_device
    xs, ws, stride, padding, output_padding, dilation, groups = case
    rng = RNG(4)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1] * groups)
    check_layer(lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
                lambda x, w, b: conv_transpose_ref(x, w, b, stride, padding, output_padding, dilation, groups),
                [x, w, b], device, dtype)


def test_conv_transpose1d_and_3d(any_device):
    device = any_device
    rng = RNG(5)
    x, w, b = rng.standard_normal((2, 3, 6)), rng.standard_normal((3, 4, 3)), rng.standard_normal(4)
    check_layer(lambda x, w, b: F.conv_transpose1d(x, w, b, stride=3, padding=1, output_padding=2),
                lambda x, w, b: conv_transpose_ref(x, w, b, (3,), (1,), (2,), (1,), 1), [x, w, b], device)
    x, w = rng.standard_normal((1, 2, 3, 2, 3)), rng.standard_normal((2, 3, 2, 2, 2))
    check_layer(lambda x, w: F.conv_transpose3d(x, w, None, stride=2),
                lambda x, w: conv_transpose_ref(x, w, None, (2,) * 3, (0,) * 3, (0,) * 3, (1,) * 3, 1),
                [x, w], device)


# ---------------------------------------------------------------- the composites (run where no fused kernel is)
@pytest.mark.parametrize("case", CONV2D_CASES[:4], ids=_case_id)
def test_conv_composite_matches_reference(any_device, case):
    device = any_device
    xs, ws, _, stride, padding, dilation, groups = case
    rng = RNG(6)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    check_layer(lambda x, w, b: OPS["conv"].decomposition(x, w, b, stride=stride, padding=padding,
                                                          dilation=dilation, groups=groups),
                lambda x, w, b: conv_ref(x, w, b, stride, padding, dilation, groups), [x, w, b], device)


@pytest.mark.parametrize("case", CONV_T_CASES, ids=lambda c: f"s{c[2]}-p{c[3]}-op{c[4]}-d{c[5]}-g{c[6]}")
def test_conv_transpose_composite_matches_reference(any_device, case):
    device = any_device
    xs, ws, stride, padding, output_padding, dilation, groups = case
    rng = RNG(7)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1] * groups)
    check_layer(lambda x, w, b: OPS["conv_transpose"].decomposition(
                    x, w, b, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
                    groups=groups),
                lambda x, w, b: conv_transpose_ref(x, w, b, stride, padding, output_padding, dilation, groups),
                [x, w, b], device)


def test_conv_double_backward_matches_composite(any_device):
    """The derivative rules are themselves differentiable: grad-of-grad agrees with the composite's."""
    device = any_device
    rng = RNG(8)
    x0, w0 = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((4, 1, 3, 2))
    results = []
    for fn in (lambda x, w: F.conv2d(x, w, None, 2, 1, (1, 2), 2),
               lambda x, w: OPS["conv"].decomposition(x, w, None, stride=(2, 2), padding=(1, 1),
                                                      dilation=(1, 2), groups=2)):
        x, w = tensor(x0, device), tensor(w0, device)
        y = fn(x, w)
        gx, gw = ember.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        results.append((host(gx), host(gw), host(x.grad), host(w.grad)))
    for a, b in zip(*results):
        assert_close(a, b, *tolerances(float_dtype(device)))


def test_conv_grad_only_for_inputs_that_need_it(any_device):
    device = any_device
    x = ember.randn(2, 3, 5, 5, device=device)
    w = ember.randn(4, 3, 3, 3, device=device, requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad is not None and tuple(w.grad.shape) == (4, 3, 3, 3)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("make,match", [
    (lambda d: F.conv2d(ember.randn(2, 3, 7, 8, device=d), ember.randn(4, 2, 3, 3, device=d)),
     r"expected input\[2, 3, 7, 8\] to have 2 channels, but got 3"),
    (lambda d: F.conv2d(ember.randn(2, 3, 2, 2, device=d), ember.randn(4, 3, 3, 3, device=d)),
     r"Kernel size can't be greater than actual input size"),
    (lambda d: F.conv2d(ember.randn(3, 7, device=d), ember.randn(4, 3, 3, 3, device=d)),
     r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[3, 7\]"),
    (lambda d: F.conv2d(ember.randn(2, 3, 7, 8, device=d), ember.randn(4, 3, 3, 3, device=d), stride=2,
                        padding="same"), "padding='same' is not supported for strided convolutions"),
    (lambda d: F.conv2d(ember.randn(2, 3, 7, 8, device=d), ember.randn(4, 3, 3, 3, device=d), padding="full"),
     "Invalid padding string 'full'"),
    (lambda d: F.conv2d(ember.randn(2, 4, 7, 8, device=d), ember.randn(3, 2, 3, 3, device=d), groups=2),
     r"expected weight to be divisible by 2 at dimension 0, but got weight of size \[3, 2, 3, 3\]"),
    (lambda d: F.conv2d(ember.randn(2, 3, 7, 8, device=d), ember.randn(4, 3, 3, 3, device=d),
                        ember.randn(3, device=d)), r"expected bias to be 1-dimensional with 4 elements"),
    (lambda d: F.conv2d(ember.randn(2, 3, 7, 8, device=d), ember.randn(4, 3, 3, 3, device=d).half()),
     r"Input type \(ember.float32\) and weight type \(ember.float16\) should be the same"),
    (lambda d: F.conv_transpose2d(ember.randn(2, 4, 5, 6, device=d), ember.randn(4, 3, 3, 3, device=d),
                                  output_padding=1), "output padding must be smaller than either stride or dilation"),
])
def test_conv_errors(any_device, make, match):
    device = any_device
    with pytest.raises(RuntimeError, match=match):
        make(device)


# ---------------------------------------------------------------- modules
def test_conv2d_module_parameters_and_init():
    m = nn.Conv2d(3, 8, (3, 5), stride=2, padding=1, groups=1)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert tuple(m.weight.shape) == (8, 3, 3, 5) and tuple(m.bias.shape) == (8,)
    bound = 1 / math.sqrt(3 * 3 * 5)  # kaiming_uniform_(a=sqrt(5)) and the bias rule give the same bound
    w, b = host(m.weight), host(m.bias)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert w.std() > bound / 3  # really spread over the range, not zeros
    assert m.stride == (2, 2) and m.padding == (1, 1) and m.kernel_size == (3, 5)
    assert repr(m) == "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 1))"
    assert nn.Conv2d(4, 4, 3, groups=2, bias=False).weight.shape == (4, 2, 3, 3)
    assert nn.ConvTranspose2d(4, 6, 3, groups=2).weight.shape == (4, 3, 3, 3)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")


@pytest.mark.parametrize("mode,np_mode", [("zeros", "constant"), ("reflect", "reflect"), ("replicate", "edge"),
                                          ("circular", "wrap")])
def test_conv2d_module_padding_modes(any_device, mode, np_mode):
    device = any_device
    m = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode).to(device).to(float_dtype(device))
    x = RNG(9).standard_normal((2, 2, 5, 6))
    w, b = host(m.weight), host(m.bias)
    expected = conv_ref(np.pad(x, [(0, 0), (0, 0), (1, 1), (2, 2)], mode=np_mode), w, b, (1, 1), (0, 0), (1, 1), 1)
    out = m(tensor(x, device))
    assert_close(out, expected, 1e-9, 1e-10)


def test_conv1d_module_same_padding_replicate(any_device):
    device = any_device
    m = nn.Conv1d(2, 3, 4, padding="same", padding_mode="replicate").to(device).to(float_dtype(device))
    x = RNG(10).standard_normal((2, 2, 7))
    expected = conv_ref(np.pad(x, [(0, 0), (0, 0), (1, 2)], mode="edge"), host(m.weight), host(m.bias), (1,), (0,),
                        (1,), 1)
    assert_close(m(tensor(x, device)), expected, 1e-9, 1e-10)


def test_conv_transpose2d_module_output_size(any_device):
    device = any_device
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).to(device).to(float_dtype(device))
    x = RNG(11).standard_normal((2, 2, 4, 5))
    for size, op in (((7, 9), (0, 0)), ((8, 10), (1, 1)), ((2, 3, 8, 9), (1, 0))):
        out = m(tensor(x, device), output_size=size)
        expected = conv_transpose_ref(x, host(m.weight), host(m.bias), (2, 2), (1, 1), op, (1, 1), 1)
        assert_close(out, expected, 1e-9, 1e-10)
    with pytest.raises(ValueError, match="requested an output size of"):
        m(tensor(x, device), output_size=(10, 10))


def test_conv_module_trains(any_device):
    """A step of gradient descent on a conv layer lowers a simple loss."""
    device = any_device
    m = nn.Conv2d(1, 2, 3).to(device)
    x = ember.randn(4, 1, 6, 6, device=device)
    target = ember.randn(4, 2, 4, 4, device=device)
    losses = []
    for _ in range(3):
        loss = ((m(x) - target) ** 2).mean()
        m.zero_grad()
        loss.backward()
        with ember.no_grad():
            for p in m.parameters():
                p -= 0.1 * p.grad
        losses.append(loss.item())
    assert losses[2] < losses[0]


def test_composites_run_on_a_backend_without_fused_kernels():
    """A backend with only basic kernels runs conv / conv_transpose / fold / pooling as composites
    (everything else falling back to the CPU) and gets the reference's values and gradients."""
    import warnings

    from _fakedev import fake_device
    backend = fake_device("fakelayers")
    rng = RNG(12)
    x, w, b = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    wt = rng.standard_normal((4, 3, 3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_layer(lambda x, w, b: F.conv2d(x, w, b, 2, 1, (1, 2), 2),
                    lambda x, w, b: conv_ref(x, w, b, (2, 2), (1, 1), (1, 2), 2), [x, w, b], "fakelayers")
        check_layer(lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1),
                    lambda x, w: conv_transpose_ref(x, w, None, (2, 2), (1, 1), (1, 1), (1, 1), 1), [x, wt],
                    "fakelayers")
        out = F.max_pool2d(tensor(x, "fakelayers"), 2, return_indices=True)[1]
        assert out.device.type == "fakelayers"
        cols = F.unfold(tensor(x, "fakelayers"), 2, stride=2)
        assert_close(F.fold(cols, (6, 5), 2, stride=2), np.pad(x[:, :, :6, :4], [(0, 0)] * 3 + [(0, 1)]), 0, 0)
    assert backend.native_calls["matmul"] > 0  # the composite's own matmuls ran on the device
    assert "conv" not in backend.native_calls and "conv_transpose" not in backend.native_calls
