"""The OpenCL plugin's own behaviour (the op-by-op checks are the conformance suite's).

Device listing and selection, the availability reason when pyopencl is missing or no
device matches (in subprocesses, so this process's plugin state is untouched), dtype
errors, memory accounting, views that alias one buffer, the program cache, Philox on
the device, and that nothing falls back to the CPU.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
from ember.dispatch import fallback_report, reset_fallback_report
from ember.dispatch.ops import OPS, PRIMITIVE
from ember.dispatch.registry import REGISTRY
from ember.dispatch.table import coverage

REGISTRY.load()
BACKEND = REGISTRY.backends.get("opencl")
REASON = "the opencl plugin is not installed" if BACKEND is None else BACKEND.unavailable_reason()
needs_opencl = pytest.mark.skipif(REASON is not None, reason=f"opencl unavailable: {REASON}")


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter with extra environment variables; its stdout."""
    full = dict(os.environ, **env)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            env=full, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def state():
    from ember.plugins.opencl import runtime
    return runtime.state(0)


# ---------------------------------------------------------------- availability and devices
def test_unavailable_without_pyopencl_with_the_reason():
    out = run_python("""
        import sys
        sys.modules["pyopencl"] = None          # import pyopencl now raises ImportError
        import ember
        from ember.dispatch.registry import REGISTRY
        REGISTRY.load()
        b = REGISTRY.backends["opencl"]
        print("available", b.is_available())
        print("reason", b.unavailable_reason())
        print("cpu", float((ember.ones(2) * 3).sum()))
        try:
            ember.ones(2, device="opencl")
        except RuntimeError as e:
            print("error", e)
    """)
    assert "available False" in out
    assert "reason pyopencl is not importable" in out and "pip install ember[opencl]" in out
    assert "cpu 6.0" in out                       # the other backends are unaffected
    assert "error device 'opencl' is not available: pyopencl is not importable" in out


def test_kernel_names_need_no_pyopencl():
    out = run_python("""
        import sys
        sys.modules["pyopencl"] = None          # import pyopencl now raises ImportError
        from ember.dispatch.registry import REGISTRY
        names = REGISTRY.kernel_names("opencl")
        print(len(names), "matmul" in names, "softmax" in names)
    """)
    from ember.plugins.opencl.kernels import kernel_names
    assert out.split() == [str(len(kernel_names())), "True", "True"]


@needs_opencl
def test_kernel_names_are_the_registered_kernel_table():
    from ember.plugins.opencl.kernels import kernel_names, kernel_table
    REGISTRY.backend("opencl")  # registers the kernel table
    assert list(kernel_names()) == list(kernel_table())
    assert set(kernel_names()) == REGISTRY.kernel_names("opencl")


@needs_opencl
def test_device_selection_by_environment():
    out = run_python("""
        from ember.dispatch.registry import REGISTRY
        REGISTRY.load()
        print(REGISTRY.backends["opencl"].unavailable_reason())
    """, EMBER_OPENCL_DEVICE="no-such-device")
    assert "EMBER_OPENCL_DEVICE='no-such-device' matches no OpenCL device" in out and "found:" in out
    name = state().name.split()[0]
    out = run_python("""
        import ember
        print(ember.ones(3, device="opencl").sum().item())
    """, EMBER_OPENCL_DEVICE=f"0:0,{name}")
    assert out.strip() == "3.0"


@needs_opencl
def test_device_listing_and_indices():
    n = BACKEND.device_count()
    assert n >= 1
    names = BACKEND.device_names()
    assert len(names) == n and names[0].startswith("opencl:0 ")
    x = ember.ones(2, device="opencl")
    assert x.device == ember.device("opencl:0") and x.get_device() == 0
    with pytest.raises(RuntimeError, match=f"opencl:{n}"):
        ember.ones(2, device=f"opencl:{n}")
    info = BACKEND.describe()
    assert info["available"] and info["devices"] == n and "pyopencl" in info["version"]


# ---------------------------------------------------------------- dtypes
@needs_opencl
def test_float64_missing_extension_is_a_type_error_naming_dtype_and_device():
    out = run_python("""
        import ember
        from ember.dispatch.registry import REGISTRY
        print(sorted(d.name for d in REGISTRY.available_backend("opencl").supported_dtypes()))
        for make in (lambda: ember.tensor([1.0], dtype=ember.float64, device="opencl"),
                     lambda: ember.zeros(2, dtype=ember.float64).to("opencl")):
            try:
                make()
            except TypeError as e:
                print("TypeError", e)
        print(ember.tensor([1.5, 2.0], device="opencl").sum().item())
    """, EMBER_OPENCL_NO_FP64="1")
    assert "'float64'" not in out.splitlines()[0] and "'float32'" in out.splitlines()[0]
    errors = [line for line in out.splitlines() if line.startswith("TypeError")]
    assert len(errors) == 2
    for line in errors:
        assert "float64" in line and "opencl:0" in line and state().name in line and "cl_khr_fp64" in line
    assert out.splitlines()[-1] == "3.5"


@needs_opencl
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16_bit_floats_round_like_numpy(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(1000).astype(np.float32)
    b = rng.standard_normal(1000).astype(np.float32)
    d = getattr(ember, dtype)
    x, y = ember.tensor(a, dtype=d, device="opencl"), ember.tensor(b, dtype=d, device="opencl")
    got = (x * y + x).float().cpu().numpy()
    ref = (ember.tensor(a, dtype=d) * ember.tensor(b, dtype=d) + ember.tensor(a, dtype=d)).float().numpy()
    np.testing.assert_array_equal(got, ref)  # float math, one rounding to the 16-bit type per op
    assert x.dtype is d and x.cpu().dtype is d


# ---------------------------------------------------------------- memory
@needs_opencl
def test_memory_stats_count_allocations_and_peak():
    BACKEND.synchronize()
    before = BACKEND.memory_stats(0)["allocated_bytes.all.current"]
    BACKEND.reset_peak(0)
    x = ember.empty(256, 1024, device="opencl")       # 1 MiB of float32
    y = x + 1                                          # another MiB
    during = BACKEND.memory_stats(0)
    assert during["allocated_bytes.all.current"] >= before + 2 * 2 ** 20
    del x, y
    after = BACKEND.memory_stats(0)
    assert after["allocated_bytes.all.current"] == before
    assert after["allocated_bytes.all.peak"] >= before + 2 * 2 ** 20


# ---------------------------------------------------------------- views are metadata over one buffer
@needs_opencl
def test_views_alias_the_buffer_and_writes_reach_the_base(monkeypatch):
    base = ember.arange(24.0, device="opencl").reshape(4, 6)
    views = {"slice": base[1:3, ::2], "transpose": base.t(), "diagonal": base.diagonal(),
             "expand": base[0].expand(3, 6), "view": base.view(6, 4), "permute": base.permute(1, 0)}
    for name, v in views.items():
        assert v._data.storage is base._data.storage, name
    reads = []
    monkeypatch.setattr(BACKEND, "to_numpy", lambda native: reads.append(native) or np.zeros(0))
    views["slice"].add_(100)
    views["diagonal"].mul_(-1)
    views["transpose"][0, 1] = 7.0
    monkeypatch.undo()
    assert not reads, "an in-place write through a view copied to the host"
    expected = np.arange(24.0).reshape(4, 6)
    expected[1:3, ::2] += 100
    np.fill_diagonal(expected, -np.diagonal(expected))
    expected[1, 0] = 7.0
    np.testing.assert_array_equal(base.cpu().numpy(), expected)
    assert not base.t().is_contiguous() and base.t().stride() == (1, 6)


# ---------------------------------------------------------------- programs and kernels
@needs_opencl
def test_programs_are_built_once_and_reused_for_every_shape():
    s = state()
    x = ember.ones(5, device="opencl")
    (x * 3).sum()
    built = len(s.programs)
    for shape in [(7,), (3, 4), (2, 3, 5)]:
        y = ember.ones(*shape, device="opencl")
        (y * 3).sum()
        (y.transpose(0, -1) * 3).sum()   # strided: the same program, strides are arguments
    assert len(s.programs) == built


@needs_opencl
def test_every_primitive_has_a_native_kernel_and_nothing_falls_back():
    table = coverage("opencl")
    from ember.plugins.opencl.kernels import CPU_FALLBACK  # special functions without a kernel, by design
    missing = [name for name, op in OPS.items()
               if op.kind == PRIMITIVE and table[name] != "native" and name not in CPU_FALLBACK]
    assert not missing
    assert all(table[name] == "fallback" for name in CPU_FALLBACK if name in table)
    assert table["softmax"] == table["log_softmax"] == "native"
    reset_fallback_report()
    x = ember.randn(4, 5, device="opencl", requires_grad=True)
    loss = (x.softmax(1) * x[[0, 2]].sum(0)).sum() + x.sort(1).values.cumsum(1).amax()
    loss.backward()
    ember.unique(x.detach().round()), ember.nonzero(x.detach() > 0)
    assert not any(dev == "opencl" for _, dev in fallback_report())


@needs_opencl
def test_random_stream_matches_the_cpu():
    ember.manual_seed(7)
    u_cpu = ember.rand(1001, dtype=ember.float64).numpy()
    n_cpu = ember.randn(1001, dtype=ember.float64).numpy()
    f_cpu = ember.rand(33).numpy()
    ember.manual_seed(7)
    u_dev = ember.rand(1001, dtype=ember.float64, device="opencl").cpu().numpy()
    n_dev = ember.randn(1001, dtype=ember.float64, device="opencl").cpu().numpy()
    f_dev = ember.rand(33, device="opencl").cpu().numpy()
    np.testing.assert_array_equal(u_dev, u_cpu)         # the Philox words, bit for bit
    np.testing.assert_array_equal(f_dev, f_cpu)
    np.testing.assert_allclose(n_dev, n_cpu, rtol=1e-13, atol=1e-13)  # device libm: within an ulp or so


@needs_opencl
def test_out_of_range_index_raises_index_error():
    x = ember.arange(5, device="opencl")
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 5"):
        x[ember.tensor([1, 5], device="opencl")]
    np.testing.assert_array_equal(x[ember.tensor([-1, 0], device="opencl")].cpu().numpy(), [4, 0])


@needs_opencl
def test_large_reductions_and_sorts_match_numpy():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 40000)).astype(np.float32)
    x = ember.tensor(a, device="opencl")
    np.testing.assert_allclose(x.sum().item(), a.astype(np.float64).sum(), rtol=1e-5)
    np.testing.assert_allclose(x.sum(1).cpu().numpy(), a.astype(np.float64).sum(1), rtol=1e-5)
    assert x.argmax().item() == int(a.argmax())
    values, indices = x[:, :3000].sort(1, descending=True, stable=True)
    np.testing.assert_array_equal(values.cpu().numpy(), -np.sort(-a[:, :3000], axis=1, kind="stable"))
    b = ember.tensor(rng.integers(0, 7, 5000), device="opencl")
    values, inverse, counts = ember.unique(b, return_inverse=True, return_counts=True)
    v, i, c = np.unique(b.cpu().numpy(), return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(values.cpu().numpy(), v)
    np.testing.assert_array_equal(inverse.cpu().numpy(), i)
    np.testing.assert_array_equal(counts.cpu().numpy(), c)
