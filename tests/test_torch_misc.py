"""The smaller torch.* names (issue 13): printing options (against PyTorch's recorded reprs),
the default device, warn-always, matmul precision, thread and build queries, sym_* helpers,
enums, exception classes and memory formats."""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import ember

FIXTURES = Path(__file__).resolve().parent / "fixtures"


# ---------------------------------------------------------------- printing
def test_set_printoptions_matches_pytorch():
    import importlib.util
    spec = importlib.util.spec_from_file_location("record_printoptions", FIXTURES / "record_printoptions.py")
    recorder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recorder)
    cases = json.loads((FIXTURES / "printoptions_cases.json").read_text())
    try:
        for case in cases:
            ember.set_printoptions(**case["options"])
            for array, expected in zip(recorder.arrays(case["options"]), case["reprs"]):
                assert repr(ember.tensor(array)) == expected, case["options"]
    finally:
        ember.set_printoptions(profile="default")
    assert repr(ember.tensor([1.5, 2.25])) == "tensor([1.5000, 2.2500])"
    with pytest.raises(ValueError, match="Invalid profile"):
        ember.set_printoptions(profile="long")


# ---------------------------------------------------------------- default device
def test_default_device_steers_factories_and_blocks_nest():
    assert ember.get_default_device() == ember.device("cpu")
    try:
        ember.set_default_device("opencl")
        assert ember.get_default_device() == ember.device("opencl", 0)
        for made in (ember.zeros(2), ember.tensor([1.0]), ember.randn(3), ember.arange(4), ember.empty(1)):
            assert made.device.type == "opencl"
        assert ember.zeros(2, device="cpu").device.type == "cpu"    # an explicit device wins
        with ember.device("cpu"):
            assert ember.ones(1).device.type == "cpu"
            with ember.device("mps"):
                assert ember.ones(1).device.type == "mps"
            assert ember.ones(1).device.type == "cpu"
        assert ember.ones(1).device.type == "opencl"
    finally:
        ember.set_default_device(None)
    assert ember.ones(1).device.type == "cpu"


def test_default_device_is_per_thread():
    import threading
    seen = []
    ember.set_default_device("opencl")
    try:
        worker = threading.Thread(target=lambda: seen.append(ember.zeros(1).device.type))
        worker.start()
        worker.join()
    finally:
        ember.set_default_device(None)
    assert seen == ["cpu"]


# ---------------------------------------------------------------- switches
def test_warn_always_repeats_one_time_warnings():
    z = ember.tensor([1 + 2j])
    with warnings.catch_warnings():  # the once-per-process warning is given by now
        warnings.simplefilter("ignore")
        z.to(ember.float32)
    assert not ember.is_warn_always_enabled()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        z.to(ember.float32)
    assert not caught
    ember.set_warn_always(True)
    try:
        assert ember.is_warn_always_enabled()
        with pytest.warns(UserWarning, match="discards the imaginary part"):
            z.to(ember.float32)
        with pytest.warns(UserWarning, match="discards the imaginary part"):
            z.to(ember.float32)
    finally:
        ember.set_warn_always(False)


def test_float32_matmul_precision_is_tf32_flag():
    assert ember.get_float32_matmul_precision() == "highest"
    assert ember.backends.cuda.matmul.allow_tf32 is False
    try:
        ember.set_float32_matmul_precision("medium")
        assert ember.get_float32_matmul_precision() == "medium" and ember.backends.cuda.matmul.allow_tf32
        with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
            ember.set_float32_matmul_precision("low")
        assert ember.get_float32_matmul_precision() == "medium"
        ember.backends.cuda.matmul.allow_tf32 = False
        assert ember.get_float32_matmul_precision() == "highest"
        ember.backends.cuda.matmul.allow_tf32 = True
        assert ember.get_float32_matmul_precision() == "high"
    finally:
        ember.set_float32_matmul_precision("highest")
    a, b = np.random.default_rng(0).standard_normal((2, 8, 8)).astype(np.float32)
    np.testing.assert_allclose((ember.tensor(a) @ ember.tensor(b)).numpy(), a.astype(np.float64) @ b, rtol=1e-5)


def test_threads_and_build_queries():
    from ember import _torch_misc
    assert ember.get_num_interop_threads() >= 1
    assert ember.init_num_threads() is None
    state = dict(_torch_misc._INTEROP)
    try:
        _torch_misc._INTEROP.update(threads=None, set=False)
        with pytest.raises(RuntimeError, match="Expected positive number of threads"):
            ember.set_num_interop_threads(0)
        ember.set_num_interop_threads(3)
        assert ember.get_num_interop_threads() == 3
        with pytest.raises(RuntimeError, match="cannot set number of interop threads"):
            ember.set_num_interop_threads(2)
    finally:
        _torch_misc._INTEROP.update(state)
    assert ember.has_lapack and ember.has_spectral and not ember.has_mkl and not ember.has_openmp
    assert ember.GradScaler is ember.amp.GradScaler


# ---------------------------------------------------------------- symbolic-size helpers on numbers
def test_sym_helpers_on_plain_numbers():
    assert ember.sym_int(3.7) == 3 and ember.sym_int(-3.7) == -3 and type(ember.sym_int(2.0)) is int
    assert ember.sym_float(3) == 3.0 and type(ember.sym_float(3)) is float
    assert ember.sym_max(2, 3.0) == 3.0 and type(ember.sym_max(3, 2.0)) is float and ember.sym_min(2, 3) == 2
    assert ember.sym_not(True) is False and ember.sym_ite(False, "a", "b") == "b"
    assert ember.sym_sqrt(2) == math.sqrt(2) and ember.sym_sum([1, 2, 3]) == 6 and ember.sym_sum([]) == 0
    assert ember.sym_fresh_size(5) == 5
    assert ember.sym_constrain_range(2, min=0, max=3) is None
    with pytest.raises(RuntimeError, match=r"Invalid value range for 5 between \[-9223372036854775808, 3\]."):
        ember.sym_constrain_range(5, max=3)
    with pytest.raises(RuntimeError, match=r"Invalid value range for -1 between \[0, 9223372036854775807\]."):
        ember.sym_constrain_range_for_size(-1)
    with pytest.raises(AssertionError):
        ember.sym_max(1, "a")
    n = ember.SymInt(4)
    assert n + 1 == 5 and 2 * n == 8 and int(n) == 4 and n.bit_length() == 3 and ember.sym_max(n, 7) == 7
    assert ember.SymFloat(2.5) * 2 == 5.0 and not ember.SymBool(False)


# ---------------------------------------------------------------- enums, exceptions, memory formats
def test_enums_exceptions_and_memory_formats():
    assert ember.SUM is ember.AggregationType.SUM and ember.AVG.value == 1 and ember.SUM.value == 0
    assert ember.Tag.pointwise.name == "pointwise" and len(ember.Tag) == 20
    assert issubclass(ember.OutOfMemoryError, RuntimeError) and issubclass(ember.AcceleratorError, RuntimeError)
    assert issubclass(ember.FatalError, Exception) and not issubclass(ember.FatalError, RuntimeError)
    assert ember.JITException is ember.jit.Error
    assert isinstance(ember.channels_last, ember.memory_format) and repr(ember.contiguous_format) == \
        "ember.contiguous_format"
    import pickle
    assert pickle.loads(pickle.dumps(ember.preserve_format)) is ember.preserve_format
    fut = ember.fork(lambda a, b: a + b, 2, 3)
    assert isinstance(fut, ember.Future) and ember.wait(fut) == 5


# ---------------------------------------------------------------- poisson, binomial
def test_poisson_and_binomial_moments_and_generator():
    rates = ember.full((20000,), 3.5)
    draws = ember.poisson(rates)
    assert draws.dtype is ember.float32 and float(draws.min()) >= 0
    assert abs(float(draws.mean()) - 3.5) < 0.08 and abs(float(draws.var()) - 3.5) < 0.2
    big = ember.poisson(ember.full((20000,), 40.0, dtype=ember.float64))
    assert big.dtype is ember.float64 and abs(float(big.mean()) - 40) < 0.3
    counts = ember.binomial(ember.full((20000,), 50.0), ember.tensor([0.3]))
    assert abs(float(counts.mean()) - 15) < 0.15 and abs(float(counts.var()) - 10.5) < 0.6
    assert bool((counts == counts.round()).all()) and float(counts.max()) <= 50
    g = ember.Generator().manual_seed(3)
    first = ember.poisson(ember.full((6,), 4.0), generator=g)
    g.manual_seed(3)
    assert ember.equal(first, ember.poisson(ember.full((6,), 4.0), generator=g))
    with pytest.raises(RuntimeError, match="invalid Poisson rate"):
        ember.poisson(ember.tensor([-1.0]))
    with pytest.raises(ValueError, match="binomial only supports floating-point dtypes for count, got: Long"):
        ember.binomial(ember.tensor([10]), ember.tensor([0.5]))


# ---------------------------------------------------------------- datapipes
def test_datapipes_functional_forms_and_validation():
    from ember.utils.data import (DataChunk, IterDataPipe, argument_validation, functional_datapipe,
                                  guaranteed_datapipes_determinism, non_deterministic, runtime_validation,
                                  runtime_validation_disabled)
    from ember.utils.data.datapipes.iter import IterableWrapper as W
    from ember.utils.data.datapipes.map import SequenceWrapper
    assert list(W(range(10)).map(lambda x: x * 2).filter(lambda x: x % 3 == 0).batch(2)) == [[0, 6], [12, 18]]
    assert isinstance(next(iter(W(range(4)).batch(3))), DataChunk)
    assert list(W(range(10)).batch(3, drop_last=True).unbatch()) == list(range(9))
    evens, odds = W(range(6)).demux(2, lambda x: x % 2)
    assert list(evens) == [0, 2, 4] and list(odds) == [1, 3, 5]
    assert list(W([1, 2]).mux(W([10, 20, 30]))) == [1, 10, 2, 20]
    assert list(W(range(10)).groupby(lambda x: x % 3, group_size=2))[:2] == [[0, 3], [1, 4]]
    assert sorted(W(range(10)).shuffle()) == list(range(10))
    assert list(W(range(10)).shuffle().set_seed(1)) == list(W(range(10)).shuffle().set_seed(1))
    batches = list(W([[1, 2], [3, 4]]).batch(2).collate())
    np.testing.assert_array_equal(batches[0][0].numpy(), [1, 3])
    m = SequenceWrapper([1, 2, 3])
    assert m.map(lambda x: x + 1)[2] == 4 and m.batch(2)[1] == [3] and len(m.concat(m)) == 6

    @functional_datapipe("twice_for_test")
    class Twice(IterDataPipe):
        def __init__(self, source):
            self.source = source

        def __iter__(self):
            for x in self.source:
                yield x
                yield x
    assert list(W([1, 2]).twice_for_test()) == [1, 1, 2, 2]
    del IterDataPipe.functions["twice_for_test"]

    class Ints(IterDataPipe[int]):
        def __init__(self, xs):
            self.xs = xs

        @runtime_validation
        def __iter__(self):
            yield from self.xs
    assert Ints([1]).type is int
    with pytest.raises(RuntimeError, match="Expected an instance as subtype of <class 'int'>, but found a"):
        list(Ints([1, "a"]))
    with runtime_validation_disabled():
        assert list(Ints([1, "a"])) == [1, "a"]

    class Strs(IterDataPipe[str]):
        def __iter__(self):
            yield "a"

    class Take(IterDataPipe):
        @argument_validation
        def __init__(self, dp: IterDataPipe[int]):
            self.dp = dp
    Take(Ints([1]))
    with pytest.raises(TypeError, match="Expected argument 'dp' as a IterDataPipe"):
        Take([1])
    with pytest.raises(TypeError, match="as a subtype of hint"):
        Take(Strs())

    @non_deterministic
    class Rand(IterDataPipe):
        def __iter__(self):
            yield 1
    assert list(Rand()) == [1]
    with guaranteed_datapipes_determinism(), pytest.raises(TypeError, match="is non-deterministic"):
        Rand()
    assert DataChunk([1, 2]).as_str() == "[1, 2]"


# ---------------------------------------------------------------- histogramdd
@pytest.mark.parametrize("device", ["cpu"])  # a composite of conformance-checked ops: one device suffices
def test_histogramdd_matches_numpy(device):
    rng = np.random.default_rng(5)
    points = rng.standard_normal((500, 3))
    weights = rng.random(500)
    hist, edges = ember.histogramdd(ember.tensor(points, device=device), bins=[4, 3, 5],
                                    weight=ember.tensor(weights, device=device), density=True)
    ref, ref_edges = np.histogramdd(points, bins=[4, 3, 5], weights=weights, density=True)
    np.testing.assert_allclose(hist.cpu().numpy(), ref, rtol=1e-10)
    for got, want in zip(edges, ref_edges):
        np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-12)
    given = [ember.tensor([-1.0, 0.0, 2.0], dtype=ember.float64, device=device),
             ember.tensor([-3.0, 3.0], dtype=ember.float64, device=device)]
    hist, _ = ember.histogramdd(ember.tensor(points[:, :2], device=device), bins=given)
    ref, _ = np.histogramdd(points[:, :2], bins=[[-1.0, 0.0, 2.0], [-3.0, 3.0]])
    np.testing.assert_array_equal(hist.cpu().numpy(), ref)
    hist, _ = ember.histogramdd(ember.tensor(points, device=device), bins=2, range=[0, 1, 0, 1, 0, 1])
    ref, _ = np.histogramdd(points, bins=2, range=[(0, 1)] * 3)
    np.testing.assert_array_equal(hist.cpu().numpy(), ref)
    with pytest.raises(RuntimeError, match="The size of bins must be equal to the innermost dimension"):
        ember.histogramdd(ember.tensor(points), bins=[2])
    with pytest.raises(NotImplementedError, match="not implemented for 'Int'"):
        ember.histogramdd(ember.zeros(3, 2, dtype=ember.int32), bins=2)


# ---------------------------------------------------------------- cond
def test_cond_runs_one_branch_eagerly_and_captures_both():
    calls = []

    def yes(a):
        calls.append("yes")
        return a.sin()

    def no(a):
        calls.append("no")
        return a.cos()
    x = ember.tensor([1.0, 2.0])
    np.testing.assert_allclose(ember.cond(x.sum() > 0, yes, no, (x,)).numpy(), np.sin([1.0, 2.0]), rtol=1e-6)
    assert calls == ["yes"]
    assert ember.cond(False, lambda a: a + 1, lambda a: a - 1, [x]).tolist() == [0.0, 1.0]

    class Branchy(ember.nn.Module):
        def forward(self, a):
            return ember.cond(a.sum() > 0, lambda t: (t.sin(), t * 2), lambda t: (t.cos(), t * 3), (a,))
    program = ember.export.export(Branchy(), (x,))
    code = program.graph_module.code
    assert "sin" in code and "cos" in code and "where" in code        # both branches are in the graph
    for sample in (x, -x):
        got = program.module()(sample)
        want = (np.sin, 2) if float(sample.sum()) > 0 else (np.cos, 3)
        np.testing.assert_allclose(got[0].numpy(), want[0](sample.numpy()), rtol=1e-6)
        np.testing.assert_allclose(got[1].numpy(), want[1] * sample.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="Expected pred to be bool or single-element tensor"):
        ember.cond(ember.tensor([True, False]), yes, no, (x,))

    class Mismatched(ember.nn.Module):
        def forward(self, a):
            return ember.cond(a.sum() > 0, lambda t: t, lambda t: t.sum(), (a,))
    with pytest.raises(RuntimeError, match="of the same shape and dtype"):
        ember.export.export(Mismatched(), (x,))


# ---------------------------------------------------------------- lobpcg
def test_lobpcg_finds_extreme_eigenpairs():
    import scipy.linalg
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    spectrum = np.linspace(1.0, 30.0, 30)
    a = (q * spectrum) @ q.T                              # well separated: quick convergence
    ember.manual_seed(0)
    E, X = ember.lobpcg(ember.tensor(a), k=2)
    np.testing.assert_allclose(E.numpy(), [30.0, 29.0], rtol=1e-6)
    np.testing.assert_allclose(a @ X.numpy(), X.numpy() * E.numpy(), atol=1e-5)
    E, _ = ember.lobpcg(ember.tensor(np.stack([a, 2 * a])), k=1, largest=False)
    np.testing.assert_allclose(E.numpy(), [[1.0], [2.0]], rtol=1e-6)
    b = np.diag(rng.uniform(1.0, 2.0, 30))
    E, _ = ember.lobpcg(ember.tensor(a), B=ember.tensor(b), X=ember.tensor(rng.standard_normal((30, 3))))
    np.testing.assert_allclose(E.numpy(), scipy.linalg.eigh(a, b, eigvals_only=True)[::-1][:3], rtol=1e-6)
    with pytest.raises(ValueError, match="smaller than 3 x the number of requested eigenpairs"):
        ember.lobpcg(ember.eye(5), k=2)


def test_set_flush_denormal():
    import platform
    tiny = ember.tensor([1e-39], dtype=ember.float32)
    assert (tiny * 1.0).item() != 0.0
    supported = ember.set_flush_denormal(True)
    try:
        assert supported == (platform.machine().lower() in ("x86_64", "amd64"))
        if supported:
            assert (tiny * 1.0).item() == 0.0 and (tiny + 0.0).item() == 0.0
    finally:
        ember.set_flush_denormal(False)
    assert (tiny * 1.0).item() != 0.0
