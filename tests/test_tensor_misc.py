"""Strided views and the smaller Tensor methods (issue 13): as_strided and its forms, unfold,
empty_strided / new_empty_strided / empty_permuted, checked against float64 numpy on random inputs."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided as np_as_strided

import ember

RNG = np.random.default_rng(7)


def _np(t):
    return t.detach().cpu().numpy()


def _windows(x, size, step):
    return np.stack([x[i:i + size] for i in range(0, len(x) - size + 1, step)])


@pytest.mark.parametrize("device", ["cpu", "opencl", "mps"])
def test_as_strided_views_the_storage_and_writes_reach_it(device):
    base = RNG.standard_normal(12)
    x = ember.tensor(base, dtype=ember.float32, device=device)
    v = x.as_strided((3, 4), (3, 1), 1)
    ref = np_as_strided(base[1:], (3, 4), (24, 8))
    np.testing.assert_allclose(_np(v), ref, rtol=1e-6)
    assert v.stride() == (3, 1) and v.storage_offset() == 1
    v[2, 3] = 100.0                       # storage element 1 + 2*3 + 3 = 10
    assert _np(x)[10] == 100.0
    # a view's as_strided counts from its base's storage, offset defaulting to the view's own
    tail = x[4:]
    np.testing.assert_allclose(_np(tail.as_strided((2,), (2,))), _np(x)[[4, 6]])
    np.testing.assert_allclose(_np(tail.as_strided((2,), (2,), 0)), _np(x)[[0, 2]])


def test_as_strided_of_a_transposed_result_uses_its_memory_order():
    a = ember.tensor(RNG.standard_normal((3, 4)))
    t = a.t() * 2                          # numpy keeps the transposed (column-major) layout
    memory = np.asarray(_np(t)).ravel(order="K")
    np.testing.assert_allclose(_np(t.as_strided((2, 3), (3, 1))), memory[:6].reshape(2, 3))


def test_as_strided_gradient_adds_where_elements_overlap():
    values = RNG.standard_normal(7)
    x = ember.tensor(values, requires_grad=True)
    y = ember.as_strided(x, (4, 3), (1, 1))          # every window of 3
    w = RNG.standard_normal((4, 3))
    (y * ember.tensor(w)).sum().backward()
    expected = np.zeros(7)
    for i in range(4):
        expected[i:i + 3] += w[i]
    np.testing.assert_allclose(_np(x.grad), expected, rtol=1e-12)


def test_as_strided_errors_name_the_values():
    x = ember.zeros(9)
    with pytest.raises(RuntimeError, match="requiring a storage size of 40 are out of bounds for storage of size 36"):
        x.as_strided((2,), (1,), 8)
    with pytest.raises(RuntimeError, match=r"Negative strides are not supported at the moment, got strides: \[1, -1\]"):
        x.as_strided((2, 2), (1, -1))
    with pytest.raises(RuntimeError, match="mismatch in length of strides and shape"):
        x.as_strided((2, 2), (1,))


def test_as_strided_inplace_copy_and_scatter():
    base = RNG.standard_normal(10)
    x = ember.tensor(base)
    c = ember.as_strided_copy(x, (2, 2), (1, 3), 2)
    np.testing.assert_allclose(_np(c), np_as_strided(base[2:], (2, 2), (8, 24)))
    c[0, 0] = 5.0
    assert _np(x)[2] == base[2]            # a copy: the input is untouched
    src = RNG.standard_normal(3)
    out = ember.as_strided_scatter(x, ember.tensor(src), (3,), (3,), 1)
    expected = base.copy()
    expected[[1, 4, 7]] = src
    np.testing.assert_allclose(_np(out), expected)
    np.testing.assert_allclose(_np(x), base)
    y = ember.tensor(base)
    assert y.as_strided_((5,), (2,)) is y and y.shape == (5,) and y.stride() == (2,)
    np.testing.assert_allclose(_np(y), base[::2])


@pytest.mark.parametrize("device", ["cpu", "mps"])
def test_unfold_is_a_view_with_windows(device):
    values = RNG.standard_normal((3, 10))
    x = ember.tensor(values, dtype=ember.float64 if device == "cpu" else ember.float32, device=device)
    u = x.unfold(1, 4, 3)
    assert u.shape == (3, 3, 4) and u.stride() == (10, 3, 1)
    np.testing.assert_allclose(_np(u), np.stack([_windows(r, 4, 3) for r in values]), rtol=1e-6)
    u[1, 2, 0] = -7.0                      # row 1, element 6
    assert _np(x)[1, 6] == -7.0
    np.testing.assert_allclose(_np(ember.unfold_copy(x, 0, 2, 1)), np.moveaxis(
        np.stack([_np(x)[0:2], _np(x)[1:3]]), 1, -1), rtol=1e-6)
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 1 is 10 but size is 11"):
        x.unfold(1, 11, 1)
    with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
        x.unfold(0, 1, 0)


def test_unfold_gradient_and_double_backward():
    values = RNG.standard_normal(6)
    x = ember.tensor(values, requires_grad=True)
    (g,) = ember.autograd.grad((x.unfold(0, 3, 1) ** 2).sum(), x, create_graph=True)
    counts = np.array([1, 2, 3, 3, 2, 1])
    np.testing.assert_allclose(_np(g), 2 * values * counts, rtol=1e-12)
    (gg,) = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(_np(gg), 2 * counts, rtol=1e-12)


def test_strided_factories():
    e = ember.empty_strided((2, 3), (1, 2))
    assert e.shape == (2, 3) and e.stride() == (1, 2) and not e.is_contiguous()
    p = ember.empty_permuted((2, 3, 4), (2, 0, 1), dtype=ember.float64)
    assert p.shape == (2, 3, 4) and p.stride() == (3, 1, 6) and p.dtype is ember.float64
    n = ember.ones(2, dtype=ember.int32).new_empty_strided((3, 2), (1, 3))
    assert n.dtype is ember.int32 and n.stride() == (1, 3)
    with pytest.raises(RuntimeError, match="Duplicate dim not allowed"):
        ember.empty_permuted((2, 3), (0, 0))
    m = ember.empty_strided((2, 2), (2, 1), device="mps")
    assert m.stride() == (2, 1) and m.device.type == "mps"


# ---------------------------------------------------------------- resizing and storage identity
def test_resize_keeps_storage_elements_and_grows():
    values = RNG.standard_normal(6)
    w = ember.tensor(values)
    assert w.resize_(2, 2) is w and w.shape == (2, 2)
    np.testing.assert_allclose(_np(w), values[:4].reshape(2, 2))
    w.resize_(6)                                   # back within the storage: the old elements again
    np.testing.assert_allclose(_np(w), values)
    w.resize_(3, 3)                                # beyond it: a larger storage, new elements zero
    np.testing.assert_allclose(_np(w).reshape(-1), np.concatenate([values, np.zeros(3)]))
    v = ember.tensor(values)[1:]
    v.resize_(2)
    assert v.storage_offset() == 1
    np.testing.assert_allclose(_np(v), values[1:3])
    np.testing.assert_allclose(_np(ember.arange(3.0).resize_as_(ember.zeros(1, 3))), [[0.0, 1.0, 2.0]])
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        ember.zeros(3, requires_grad=True).resize_(2)
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        r = ember.tensor(values).resize(3, 2)
    np.testing.assert_allclose(_np(r), values.reshape(3, 2))
    with pytest.raises(RuntimeError, match="autograd's resize can only change the shape"), \
            pytest.warns(UserWarning):
        ember.zeros(4).resize(5)


def test_set_and_is_set_to():
    x = ember.tensor(RNG.standard_normal(10), dtype=ember.float32)
    y = ember.empty(0).set_(x)
    assert y.is_set_to(x) and x.is_set_to(y) and y.data_ptr() == x.data_ptr()
    assert not x.is_set_to(x[1:]) and x.is_set_to(x.view(10))
    z = ember.empty(0).set_(x.untyped_storage(), 2, (2, 2), (1, 2))
    np.testing.assert_allclose(_np(z), np_as_strided(_np(x)[2:], (2, 2), (4, 8)))
    z[0, 0] = 9.0
    assert _np(x)[2] == 9.0
    assert ember.empty(3).set_().shape == (0,)
    with pytest.raises(RuntimeError, match="Expected object of scalar type"):
        ember.empty(0, dtype=ember.int64).set_(x)


def test_nonzero_static_slice_inverse_and_small_methods():
    a = ember.tensor([[0, 1], [2, 0]])
    np.testing.assert_array_equal(_np(ember.nonzero_static(a, size=4)), [[0, 1], [1, 0], [-1, -1], [-1, -1]])
    np.testing.assert_array_equal(_np(a.nonzero_static(size=1, fill_value=7)), [[0, 1]])
    x = ember.arange(10.0)
    back = ember.slice_inverse(x[2:8:2], x, 0, 2, 8, 2)
    assert back.shape == (10,) and back.data_ptr() == x.data_ptr()
    z = ember.tensor([1 + 2j, -3j])
    assert z.conj_physical_() is z
    np.testing.assert_array_equal(_np(z), [1 - 2j, 3j])
    assert not ember.is_distributed(x) and not x.is_distributed()
    t = ember.tensor([-1.0, 0.2, 0.7])
    np.testing.assert_allclose(_np(t.hardshrink(0.5)), [-1.0, 0.0, 0.7])
    np.testing.assert_allclose(_np(t.prelu(ember.tensor([0.25]))), [-0.25, 0.2, 0.7])
    ember.manual_seed(0)
    assert int(ember.tensor([0.0, 1.0, 0.0]).multinomial(1)) == 1
    p = ember.ones(3, requires_grad=True)
    assert p.grad_dtype is ember.float32 and p.name is None and p.output_nr == 0
    assert [t.output_nr for t in ember.linalg.qr(ember.randn(3, 3, requires_grad=True))] == [0, 1]
    with pytest.warns(UserWarning, match="volatile was removed"):
        assert p.volatile is False
    with pytest.raises(RuntimeError, match="reinforce\\(\\) was removed"):
        p.reinforce(1.0)
    with pytest.raises(AssertionError, match="XPU"):
        p.xpu()
    with pytest.raises(RuntimeError, match="IPU"):
        p.ipu()

    class Tagged(ember.Tensor):
        pass
    sub = p.as_subclass(Tagged)
    assert type(sub) is Tagged and sub.data_ptr() == p.data_ptr()
    (sub * 3).sum().backward()
    np.testing.assert_allclose(_np(p.grad), [3.0, 3.0, 3.0])
    loaded = ember.zeros(3).module_load(ember.ones(3))
    np.testing.assert_allclose(_np(loaded), [1.0, 1.0, 1.0])


def test_frombuffer_and_from_file(tmp_path):
    import array
    buf = array.array("i", range(6))
    t = ember.frombuffer(buf, dtype=ember.int32, count=3, offset=4)
    np.testing.assert_array_equal(_np(t), [1, 2, 3])
    t[0] = 77                                      # shares the buffer's memory
    assert buf[1] == 77
    with pytest.raises(ValueError, match="must be a multiple of element size"):
        ember.frombuffer(b"abc", dtype=ember.int32)
    with pytest.warns(UserWarning, match="not writable"):
        assert ember.frombuffer(b"ab", dtype=ember.uint8).tolist() == [97, 98]
    values = RNG.standard_normal(10).astype(np.float32)
    path = tmp_path / "values.bin"
    values.tofile(path)
    np.testing.assert_array_equal(_np(ember.from_file(str(path), size=4)), values[:4])
    shared = ember.from_file(str(path), shared=True, size=12)   # grows the file to 12 elements
    shared[0] = 5.0
    on_disk = np.fromfile(path, dtype=np.float32)
    assert on_disk.shape == (12,) and on_disk[0] == 5.0
    with pytest.raises(RuntimeError, match="is smaller than the required mapping size"):
        ember.from_file(str(path), size=40)
    with pytest.raises(RuntimeError, match="unable to open file"):
        ember.from_file(str(tmp_path / "absent.bin"), size=1)


# ---------------------------------------------------------------- shared memory across processes
def _hogwild_step(t, results):
    t.add_(1.0)                       # an in-place update, as a Hogwild worker's optimizer step
    results.put(bool(t.is_shared()))


def _scale_received(inbox, results):
    t = inbox.get()
    t.mul_(10.0)
    results.put(float(t.sum()))


@pytest.mark.parametrize("strategy", ["file_descriptor", "file_system"])
def test_share_memory_is_seen_by_other_processes(strategy):
    import ember.multiprocessing as mp
    assert mp.get_all_sharing_strategies() == {"file_descriptor", "file_system"}
    before = mp.get_sharing_strategy()
    mp.set_sharing_strategy(strategy)
    try:
        ctx = mp.get_context("fork")
        values = RNG.standard_normal(4).astype(np.float32)
        t = ember.tensor(values)
        assert not t.is_shared()
        view = t[1:]
        assert t.share_memory_() is t and t.is_shared() and view.is_shared()
        results = ctx.Queue()
        worker = ctx.Process(target=_hogwild_step, args=(t, results))
        worker.start()
        worker.join()
        assert results.get() is True
        np.testing.assert_allclose(_np(t), values + 1, rtol=1e-6)
        inbox = ctx.Queue()
        worker = ctx.Process(target=_scale_received, args=(inbox, results))
        worker.start()
        u = ember.ones(3).share_memory_()
        inbox.put(u)                  # sent through a pipe: as a handle to the shared block
        assert results.get() == 30.0
        worker.join()
        np.testing.assert_array_equal(_np(u), [10.0, 10.0, 10.0])
        with pytest.raises(AssertionError):
            mp.set_sharing_strategy("carrier_pigeon")
    finally:
        mp.set_sharing_strategy(before)


# ---------------------------------------------------------------- fake quantization
def _fake_quantize_ref(x, scale, zero_point, qmin, qmax):
    q = np.rint(x / scale + zero_point)            # numpy's rint rounds half to even, as PyTorch
    return (np.clip(q, qmin, qmax) - zero_point) * scale, ((q >= qmin) & (q <= qmax)).astype(x.dtype)


def test_fake_quantize_per_tensor_and_per_channel():
    x = RNG.standard_normal((4, 6)) * 2
    t = ember.tensor(x, requires_grad=True)
    out = ember.fake_quantize_per_tensor_affine(t, 0.25, 3, -8, 7)
    ref, mask = _fake_quantize_ref(x, 0.25, 3, -8, 7)
    np.testing.assert_allclose(_np(out), ref, rtol=1e-12)
    out.backward(ember.ones_like(out))
    np.testing.assert_array_equal(_np(t.grad), mask)              # straight through where not clamped
    same = ember.fake_quantize_per_tensor_affine(t, ember.tensor([0.25]), ember.tensor([3], dtype=ember.int32), -8, 7)
    np.testing.assert_allclose(_np(same), ref, rtol=1e-12)
    half = ember.fake_quantize_per_tensor_affine(ember.tensor([2.5, 3.5, -0.5]), 1.0, 0, -10, 10)
    assert half.tolist() == [2.0, 4.0, 0.0] and not np.signbit(_np(half)).any()
    scale, zero = RNG.uniform(0.05, 0.5, 6), RNG.integers(-3, 3, 6)
    w = ember.tensor(x, requires_grad=True)
    out = ember.fake_quantize_per_channel_affine(w, ember.tensor(scale), ember.tensor(zero, dtype=ember.int32), 1,
                                                 -8, 7)
    ref, mask = _fake_quantize_ref(x, scale, zero, -8, 7)
    np.testing.assert_allclose(_np(out), ref, rtol=1e-12)
    out.sum().backward()
    np.testing.assert_array_equal(_np(w.grad), mask)
    with pytest.raises(RuntimeError, match="`quant_min` should be less than or equal to `quant_max`"):
        ember.fake_quantize_per_tensor_affine(t, 0.5, 2, 5, 0)
    with pytest.raises(RuntimeError, match="`zero_point` must be between `quant_min` and `quant_max`"):
        ember.fake_quantize_per_tensor_affine(t, 0.5, 9, 0, 5)
    with pytest.raises(RuntimeError, match="Zero-point must be Int32, Float or Half, found Long"):
        ember.fake_quantize_per_channel_affine(w, ember.tensor(scale), ember.tensor(zero), 1, -8, 7)
    with pytest.raises(RuntimeError, match="dimensions of scale and zero-point are not consistent"):
        ember.fake_quantize_per_channel_affine(w, ember.tensor(scale), ember.tensor(zero, dtype=ember.int32), 0,
                                               -8, 7)


@pytest.mark.parametrize("device", ["cpu", "mps"])
def test_inplace_geometry_changes_keep_the_storage(device):
    a = ember.arange(10.0, device=device)
    a.as_strided_((5,), (2,))
    assert a.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0]
    a.as_strided_((3,), (1,), 1)                   # still the whole original storage behind it
    assert a.tolist() == [1.0, 2.0, 3.0] and a.storage_offset() == 1
    w = ember.arange(6.0, device=device)
    w.resize_(2, 2)
    w.resize_(6)
    assert w.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
