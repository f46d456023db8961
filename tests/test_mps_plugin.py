"""The ``mps`` backend plugin (MLX) beyond the conformance suite: availability, float64,
laziness and its bound, memory helpers, views without aliasing, random streams.

Off Apple hardware these run on MLX's CPU device (``EMBER_MPS_DEVICE=cpu``, which
``make test`` sets); without it only the availability tests run.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

import ember
from ember.dispatch.ops import OPS, PRIMITIVE
from ember.dispatch.registry import REGISTRY
from ember.dispatch.table import coverage
from ember.testing import dtypes as D

FLOAT64_MESSAGE = ("Cannot convert a MPS Tensor to float64 dtype as the MPS framework doesn't support float64. "
                   "Please use float32 instead.")

needs_mps = pytest.mark.skipif(not ember.backends.mps.is_available(),
                               reason=f"mps unavailable: {ember.backends.mps.unavailable_reason()}")


def _run_python(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k != "EMBER_MPS_DEVICE"}
    env.update(env_changes)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _mlx_missing():
    import importlib.util
    return importlib.util.find_spec("mlx") is None


# ---------------------------------------------------------------- availability
@pytest.mark.skipif(sys.platform == "darwin", reason="on a Mac with Metal, mps is available without the variable")
@pytest.mark.skipif(_mlx_missing(), reason="MLX is not installed")
def test_unavailable_off_apple_without_the_variable():
    out = _run_python(
        "import sys, ember\n"
        "print('mlx imported by import ember:', 'mlx.core' in sys.modules)\n"
        "print('available:', ember.backends.mps.is_available())\n"
        "print('built:', ember.backends.mps.is_built())\n"
        "print('count:', ember.mps.device_count())\n"
        "print('reason:', ember.backends.mps.unavailable_reason())\n"
        "try:\n"
        "    ember.ones(2, device='mps')\n"
        "except RuntimeError as e:\n"
        "    print('error:', e)\n")
    assert "mlx imported by import ember: False" in out
    assert "available: False" in out and "built: True" in out and "count: 0" in out
    reason = out.split("reason: ", 1)[1].splitlines()[0]
    assert "Apple silicon" in reason and "EMBER_MPS_DEVICE=cpu" in reason
    assert f"error: device 'mps' is not available: {reason}" in out


@pytest.mark.skipif(_mlx_missing(), reason="MLX is not installed")
def test_the_variable_selects_mlx_cpu_device_and_rejects_unknown_values():
    out = _run_python("import ember\nprint(ember.backends.mps.is_available(), ember.ones(2, device='mps').sum().item())",
                      EMBER_MPS_DEVICE="cpu")
    assert out.split() == ["True", "2.0"]
    out = _run_python("import ember\nprint(ember.backends.mps.unavailable_reason())", EMBER_MPS_DEVICE="tpu")
    assert "EMBER_MPS_DEVICE='tpu' is not understood" in out


def test_without_mlx_the_reason_says_how_to_install_it():
    out = _run_python("import sys\nsys.modules['mlx'] = sys.modules['mlx.core'] = None  # as if not installed\n"
                      "import ember\n"
                      "print(ember.backends.mps.is_built(), ember.backends.mps.is_available())\n"
                      "print(ember.backends.mps.unavailable_reason())", EMBER_MPS_DEVICE="cpu")
    built_available, reason = out.splitlines()[:2]
    assert built_available == "False False"
    assert reason.startswith("MLX is not installed") and "pip install ember[mps]" in reason


def test_kernel_names_need_no_mlx():
    from ember.plugins.mps.kernels import kernel_names
    listing = ("from ember.dispatch.registry import REGISTRY\n"
               "names = REGISTRY.kernel_names('mps')\n"
               "print(len(names), 'softmax' in names, 'mlx.core' in sys.modules)\n")
    out = _run_python("import sys\n" + listing)
    assert out.split() == [str(len(kernel_names())), "True", "False"]  # listed without importing MLX
    out = _run_python("import sys\nsys.modules['mlx'] = sys.modules['mlx.core'] = None  # as if not installed\n"
                      + listing)
    assert out.split()[:2] == [str(len(kernel_names())), "True"]


@needs_mps
def test_kernel_names_are_the_kernel_table():
    from ember.plugins.mps import fused, kernels
    from ember.plugins.mps.primitives import MlxKernels
    REGISTRY.backend("mps")  # registers the kernel table
    assert set(kernels.kernel_names()) == REGISTRY.kernel_names("mps")
    # every primitive MlxKernels implements is listed (an unlisted one would never be registered)
    assert {name for name in OPS if hasattr(MlxKernels(), name)} == set(kernels.PRIMITIVES) & set(OPS)
    assert all(callable(getattr(fused, name)) for name in kernels.FUSED)


@needs_mps
def test_plugin_listing_and_coverage():
    backend = REGISTRY.backend("mps")
    info = backend.describe()
    assert info["available"] and info["dispatch_key"] == "MPS" and info["devices"] == 1
    assert info["version"].startswith("mlx ")
    table = coverage("mps")
    primitives = [name for name, op in OPS.items() if op.kind == PRIMITIVE]
    from ember.plugins.mps.kernels import CPU_FALLBACK  # primitives MLX has nothing for, by design
    # no other primitive falls back
    assert [name for name in primitives if table[name] != "native" and name not in CPU_FALLBACK] == []
    assert all(table[name] == "fallback" for name in CPU_FALLBACK if name in table)
    for fused in ("softmax", "log_softmax", "conv", "conv_transpose", "max_pool", "adam_step"):
        if fused in OPS:
            assert table[fused] == "native", fused


# ---------------------------------------------------------------- dtypes
@needs_mps
def test_supported_dtypes_exclude_float64():
    names = {d.name for d in REGISTRY.backend("mps").supported_dtypes()}
    assert names == {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
                     "complex64",  # MLX has complex64, not complex128 (as it has no float64)
                     "uint16", "uint32", "uint64"}  # MLX's own unsigned types (no float8)


@needs_mps
@pytest.mark.parametrize("make", [
    lambda: ember.zeros(3, dtype=ember.float64, device="mps"),
    lambda: ember.tensor([1.0, 2.0], dtype=ember.float64, device="mps"),
    lambda: ember.tensor(np.arange(3.0), device="mps"),  # numpy's float64 data
    lambda: ember.arange(3, dtype=ember.float64, device="mps"),
    lambda: ember.randn(3, dtype=ember.float64, device="mps"),
    lambda: ember.ones(3, dtype=ember.float64).to("mps"),
    lambda: ember.ones(3, device="mps").double(),
    lambda: ember.ones(3, device="mps").to(ember.float64),
    lambda: ember.ones(3, device="mps").sum(dtype=ember.float64),
], ids=["zeros", "tensor", "numpy_data", "arange", "randn", "to_device", "double", "to_dtype", "sum_dtype"])
def test_float64_raises_pytorchs_type_error(make):
    with pytest.raises(TypeError) as info:
        make()
    assert str(info.value) == FLOAT64_MESSAGE


@needs_mps
@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
                                   "float32"])
def test_round_trip_is_exact(dtype):
    rng = np.random.default_rng(1)
    values = (rng.standard_normal((3, 5)) * 50).astype(D.NUMPY[dtype])
    t = ember.tensor(values, device="mps")
    assert t.dtype is getattr(ember, dtype if dtype != "bool" else "bool") and t.device.type == "mps"
    back = t.cpu().numpy()
    assert back.dtype == values.dtype
    np.testing.assert_array_equal(back, values)


@needs_mps
def test_python_floats_default_to_float32_and_item_tolist():
    t = ember.tensor([[1.5, 2.5], [3.0, 4.0]], device="mps")
    assert t.dtype is ember.float32 and str(t.device) == "mps:0"
    assert t.sum().item() == 11.0 and t.tolist() == [[1.5, 2.5], [3.0, 4.0]]
    assert "device='mps:0'" in repr(t)


# ---------------------------------------------------------------- kernels MLX lacks
@needs_mps
def test_integer_matmul_and_einsum_are_exact():
    rng = np.random.default_rng(2)
    a = rng.integers(-2**20, 2**20, (3, 4, 5))
    b = rng.integers(-2**20, 2**20, (5, 2))
    got = (ember.tensor(a, device="mps") @ ember.tensor(b, device="mps")).cpu().numpy()
    np.testing.assert_array_equal(got, a @ b)  # ~2**42: beyond float32 (and float64 sums of it stay exact)
    got = ember.einsum("bij,jk->bki", ember.tensor(a, device="mps"), ember.tensor(b, device="mps"))
    np.testing.assert_array_equal(got.cpu().numpy(), np.einsum("bij,jk->bki", a, b))
    sq = rng.integers(-9, 9, (2, 3, 3))
    np.testing.assert_array_equal(ember.einsum("bii->b", ember.tensor(sq, device="mps")).cpu().numpy(),
                                  np.einsum("bii->b", sq))


@needs_mps
def test_data_dependent_shapes():
    x = np.array([[0, 3, 0], [2, 0, 2]])
    t = ember.tensor(x, device="mps")
    np.testing.assert_array_equal(ember.nonzero(t).cpu().numpy(), np.argwhere(x))
    values, inverse, counts = ember.unique(t, return_inverse=True, return_counts=True)
    want_v, want_i, want_c = np.unique(x, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(values.cpu().numpy(), want_v)
    np.testing.assert_array_equal(inverse.cpu().numpy(), want_i.reshape(x.shape))
    np.testing.assert_array_equal(counts.cpu().numpy(), want_c)
    assert ember.nonzero(ember.zeros(2, 0, device="mps")).shape == (0, 2)


# ---------------------------------------------------------------- random numbers
@needs_mps
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_random_stream_matches_the_cpu(dtype):
    d = getattr(ember, dtype)
    for draw in (ember.rand, ember.randn):
        ember.manual_seed(123)
        on_cpu = draw(5, 7, dtype=d)
        ember.mps.manual_seed(123)
        on_mps = draw(5, 7, dtype=d, device="mps")
        np.testing.assert_array_equal(on_mps.cpu().numpy(), on_cpu.numpy())
    ember.manual_seed(5)
    a = ember.randint(0, 100, (50,), device="mps")
    ember.manual_seed(5)
    np.testing.assert_array_equal(a.cpu().numpy(), ember.randint(0, 100, (50,)).numpy())


# ---------------------------------------------------------------- views without aliasing
@needs_mps
def test_inplace_on_views_changes_the_base():
    assert REGISTRY.backend("mps").aliasing_views is False
    base = ember.zeros(3, 4, device="mps")
    base[1].fill_(2.0)
    base[:, 3].add_(1.0)
    base.t()[0].mul_(0)
    base.diagonal()[1:].sub_(5)
    expected = np.zeros((3, 4), np.float32)
    expected[1] = 2.0
    expected[:, 3] += 1.0
    expected[:, 0] = 0
    expected[1, 1] -= 5
    expected[2, 2] -= 5
    np.testing.assert_array_equal(base.cpu().numpy(), expected)


@needs_mps
def test_writes_to_the_base_reach_live_views():
    base = ember.arange(12.0, device="mps").reshape(3, 4)
    row, col, diag, flat = base[1], base[:, 2], base.diagonal(), base.view(-1)
    base.add_(100)
    base[0, 0] = -1.0
    np.testing.assert_array_equal(row.cpu().numpy(), np.arange(4, 8) + 100)
    np.testing.assert_array_equal(col.cpu().numpy(), [102, 106, 110])
    np.testing.assert_array_equal(diag.cpu().numpy(), [-1, 105, 110])
    assert flat[0].item() == -1.0
    a, b = base[0, :2], base[0, 1:]  # siblings overlapping in one element
    a.fill_(7.0)
    np.testing.assert_array_equal(b.cpu().numpy(), [7.0, 102.0, 103.0])


@needs_mps
def test_detach_and_data_alias_the_base():
    base = ember.zeros(2, 3, device="mps")
    alias = base.detach()
    alias[1] = 5.0
    base.data[0, 0] = 1.0
    np.testing.assert_array_equal(base.cpu().numpy(), [[1, 0, 0], [5, 5, 5]])


@needs_mps
def test_autograd_through_inplace_on_a_view():
    x = ember.tensor([1.0, 2.0, 3.0], device="mps", requires_grad=True)
    y = x * 1
    y[1:].mul_(3)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [1.0, 3.0, 3.0])
    np.testing.assert_array_equal(y.detach().cpu().numpy(), [1.0, 6.0, 9.0])


# ---------------------------------------------------------------- laziness
@pytest.fixture
def window():
    """The plugin's evaluation window, restored after the test."""
    w = REGISTRY.backend("mps").window
    interval = w.interval
    yield w
    w.interval = interval


@needs_mps
def test_results_stay_lazy_until_a_value_is_needed(window):
    window.flush(wait=True)
    x = ember.ones(4, device="mps")
    y = (x * 2 + 1).exp()
    assert len(window.pending) >= 3  # recorded, not evaluated: no flush happened
    assert y.sum().item() == pytest.approx(4 * np.exp(3.0), rel=1e-6)  # item() evaluates
    z = x + 1
    ember.mps.synchronize()  # evaluates every pending result
    assert window.pending == []
    np.testing.assert_array_equal(z.cpu().numpy(), [2, 2, 2, 2])


def _inplace_loop_memory(steps):
    """Active MLX memory after ``steps`` in-place updates that each pin a fresh input, nothing read back."""
    import mlx.core as mx
    ember.mps.synchronize()
    p = ember.zeros(1024, device="mps")
    start = mx.get_active_memory()
    for _ in range(steps):
        x = ember.tensor(np.full(1024, 1.0, np.float32), device="mps")  # 4 KiB, materialized
        p.add_(x, alpha=0.001)
    grown = mx.get_active_memory() - start
    assert p[0].item() == pytest.approx(steps * 0.001, rel=1e-4)
    return grown


@needs_mps
def test_pending_graph_is_bounded_in_a_loop_that_never_reads(window):
    # every x stays referenced by p's unevaluated graph unless something evaluates it:
    # without the window, memory grows by 4 KiB a step (the control below shows it)
    grown = _inplace_loop_memory(2000)
    assert grown < 2 * (window.interval + 64) * 4096, f"{grown} bytes pending after 2000 steps"


@needs_mps
def test_without_the_window_the_graph_would_grow(window):
    window.interval = 10 ** 9  # the control: nothing evaluates inside the loop
    grown = _inplace_loop_memory(2000)
    assert grown >= 2000 * 4096 * 0.9


@needs_mps
def test_training_loop_memory_stays_flat(window):
    import mlx.core as mx
    ember.manual_seed(0)
    model = ember.nn.Sequential(ember.nn.Linear(16, 32), ember.nn.ReLU(), ember.nn.Linear(32, 4)).to("mps")
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    total = ember.zeros((), device="mps")
    memory = []
    for _ in range(200):
        x = ember.tensor(rng.standard_normal((8, 16), dtype=np.float32), device="mps")
        loss = (model(x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        total = total + loss.detach()  # never read inside the loop
        memory.append(mx.get_active_memory())
    assert max(memory[150:]) < max(memory[:50]) + 256 * 1024, [memory[i] for i in (0, 49, 99, 149, 199)]
    assert np.isfinite(total.item())


# ---------------------------------------------------------------- memory helpers
@needs_mps
def test_memory_helpers():
    ember.mps.synchronize()
    before = ember.mps.current_allocated_memory()
    t = ember.ones(256, 1024, device="mps")  # 1 MiB
    ember.mps.synchronize()
    after = ember.mps.current_allocated_memory()
    assert after - before >= 1 << 20
    assert ember.mps.driver_allocated_memory() >= after
    del t
    ember.mps.synchronize()
    assert ember.mps.current_allocated_memory() <= after - (1 << 20)  # its buffer went to MLX's cache
    assert ember.mps.driver_allocated_memory() >= ember.mps.current_allocated_memory() + (1 << 20)
    ember.mps.empty_cache()  # gives the cache back
    assert ember.mps.driver_allocated_memory() - ember.mps.current_allocated_memory() < (1 << 20)
    assert ember.mps.recommended_max_memory() > 0
    assert ember.mps.device_count() == 1


@needs_mps
def test_event_times_the_work_between_records():
    start, end = ember.mps.Event(enable_timing=True), ember.mps.Event(enable_timing=True)
    start.record()
    (ember.ones(64, 64, device="mps") @ ember.ones(64, 64, device="mps")).sum()
    end.record()
    assert start.elapsed_time(end) >= 0.0


@needs_mps
def test_kernels_can_be_pinned_to_an_mlx_device():
    # what EMBER_MPS_DEVICE=cpu does on a Mac, where MLX's default device is the GPU
    import mlx.core as mx
    from ember.plugins.mps.kernels import on_device
    from ember.plugins.mps.primitives import MlxKernels
    add = on_device(MlxKernels().add, mx, mx.cpu)
    out = add(mx.array([1.0, 2.0]), 3.0)
    assert out.tolist() == [4.0, 5.0] and add.__wrapped__ is mx.add


@needs_mps
@pytest.mark.parametrize("sample", ["randint", "randperm", "bernoulli", "multinomial", "uniform_", "normal_",
                                    "exponential_", "dropout"])
def test_samplers_match_the_cpu(sample):
    # these draw float64 numbers, which mps lacks: they are drawn on the CPU and moved
    def run(device):
        ember.manual_seed(7)
        if sample == "randint":
            return ember.randint(-5, 1000, (40,), device=device)
        if sample == "randperm":
            return ember.randperm(30, device=device)
        if sample == "bernoulli":
            return ember.bernoulli(ember.full((40,), 0.3, device=device))
        if sample == "multinomial":
            return ember.multinomial(ember.tensor([1.0, 2.0, 0.0, 5.0], device=device), 3)
        if sample == "dropout":
            return ember.nn.functional.dropout(ember.ones(40, device=device), 0.5, training=True)
        return getattr(ember.empty(40, device=device), sample)()
    on_mps, on_cpu = run("mps"), run("cpu")
    assert on_mps.device.type == "mps" and on_mps.dtype is on_cpu.dtype
    np.testing.assert_array_equal(on_mps.cpu().numpy(), on_cpu.numpy())


@needs_mps
def test_modules_initialise_on_mps():
    layer = ember.nn.Linear(8, 3, device="mps")
    assert layer.weight.device.type == "mps" and layer.weight.dtype is ember.float32
    assert float(layer.weight.abs().max()) <= 8 ** -0.5


# ---------------------------------------------------------------- fused kernels in a model
@needs_mps
def test_small_cnn_trains_like_on_the_cpu():
    # conv, conv_transpose, max_pool, log_softmax and adam_step run as fused MLX kernels on mps
    nn = ember.nn

    def run(device):
        ember.manual_seed(11)
        model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(2),
                              nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1),
                              nn.Flatten(), nn.Linear(3 * 8 * 8, 5)).to(device)
        opt = ember.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
        rng = np.random.default_rng(4)
        losses = []
        for _ in range(3):
            x = ember.tensor(rng.standard_normal((6, 2, 8, 8), dtype=np.float32), device=device)
            y = ember.tensor(rng.integers(0, 5, 6), device=device)
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.detach().cpu().numpy() for p in model.parameters()]

    mps_losses, mps_params = run("mps")
    cpu_losses, cpu_params = run("cpu")
    np.testing.assert_allclose(mps_losses, cpu_losses, rtol=1e-4)
    for got, want in zip(mps_params, cpu_params):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
