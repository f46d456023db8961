"""The op table is the single source: every primitive's meta function predicts what its
kernel returns, every float primitive has a derivative or says it has none, and the public
names generated from it (and registered by @public) are defined once."""
import inspect

import numpy as np
import pytest

import ember
from ember.core import dtype as dt
from ember.dispatch.meta import TensorMeta
from ember.dispatch.ops import COMPOSITE, FLOAT_UNARY, OPS, PRIMITIVE
from ember.ops import public as registry
from ember.testing import runner


# ---------------------------------------------------------------- meta functions against the CPU kernels
def _meta_of(value):
    if isinstance(value, (np.ndarray, np.generic)):
        return TensorMeta(np.shape(value), dt.from_numpy_dtype(value.dtype))
    if isinstance(value, tuple):
        return tuple(_meta_of(v) for v in value)
    return value


def _agrees(predicted, actual) -> bool:
    if actual is None:  # an in-place kernel that wrote into its inputs
        return True
    if isinstance(actual, tuple):
        return isinstance(predicted, tuple) and len(predicted) == len(actual) and all(
            _agrees(p, a) for p, a in zip(predicted, actual))
    return (isinstance(predicted, TensorMeta) and predicted.dtype is actual.dtype
            and len(predicted.shape) == len(actual.shape)
            and all(p is None or p == a for p, a in zip(predicted.shape, actual.shape)))


class _Recorder:
    """Wraps every CPU kernel: checks the op's meta against what the kernel returned, and
    notes which ops ran and whether they produced floating-point results."""

    def __init__(self):
        self.mismatches, self.ran, self.float_results = [], set(), set()

    def wrap(self, op, kernel):
        def run(*args, **attrs):
            out = kernel(*args, **attrs)
            self.ran.add(op.name)
            actual = _meta_of(out)
            predicted = op.meta(*(_meta_of(a) for a in args), **attrs)
            if not _agrees(predicted, actual) and len(self.mismatches) < 20:
                self.mismatches.append(f"{op.name}{tuple(_meta_of(a) for a in args)} {attrs}: "
                                       f"meta {predicted}, kernel {actual}")
            outs = actual if isinstance(actual, tuple) else (actual,)
            if any(isinstance(o, TensorMeta) and o.dtype.is_floating_point for o in outs):
                self.float_results.add(op.name)
            return out
        return run


@pytest.fixture(scope="module")
def recorded():
    """Run one forward sample per (op, dtype) and one gradient sample per op of the
    conformance database on the CPU, through recording kernels."""
    recorder = _Recorder()
    cpu_key = "CPU"
    for op in OPS.values():
        kernel = op.kernels.get(cpu_key)
        op.resolved.clear()
        if kernel is not None:
            op.resolved["cpu"] = recorder.wrap(op, kernel)
    try:
        seen = set()
        for case in runner.forward_cases("cpu") + runner.grad_cases("cpu"):
            key = (case.op.name, case.kind, case.dtype)
            if key in seen:
                continue
            seen.add(key)
            case.run()
        for dtype in (ember.float16, ember.bfloat16, ember.float32, ember.float64):  # the random stream
            ember.rand(3, 2, dtype=dtype), ember.randn(5, dtype=dtype)
    finally:
        for op in OPS.values():
            op.resolved.clear()
    return recorder


def test_meta_functions_predict_the_kernels(recorded):
    assert not recorded.mismatches, "meta functions that disagree with the CPU kernel:\n" + \
        "\n".join(recorded.mismatches)


def test_the_conformance_database_runs_every_primitive(recorded):
    missed = {op.name for op in OPS.values() if op.kind == PRIMITIVE} - recorded.ran
    assert not missed, f"primitives no conformance sample reaches: {sorted(missed)}"


def test_every_float_primitive_has_a_rule_or_says_it_has_none(recorded):
    takes_tensors = {name for name, op in OPS.items() if op.params.positional or op.params.varargs}
    lacking = [name for name in sorted(recorded.float_results & takes_tensors)
               if OPS[name].rule is None and OPS[name].differentiable]
    assert not lacking, (f"float primitives with neither a derivative (ember/ops/derivatives.py) nor "
                         f"differentiable=False: {lacking}")


def test_meta_knows_data_dependent_sizes():
    x = TensorMeta((3, 4), dt.float32)
    assert OPS["nonzero"].meta(x).shape == (None, 2)
    values, inverse, counts = OPS["unique"].meta(x, return_inverse=True, return_counts=True)
    assert values.shape == (None,) and inverse.shape == (3, 4) and counts.dtype is dt.int64


def test_every_op_declares_a_meta_and_parsed_signature():
    for op in OPS.values():
        assert callable(op.meta), op.name
        params = inspect.signature(op.meta).parameters
        kinds = {p.kind for p in params.values()}
        takes_all = inspect.Parameter.VAR_KEYWORD in kinds
        for keyword in op.params.keywords:
            assert takes_all or keyword in params, f"meta of {op.name} lacks attribute {keyword}"


def test_composites_have_a_decomposition():
    for op in OPS.values():
        if op.kind == COMPOSITE and op.name != "adam_step":  # the optimizer runs adam's generic update
            assert callable(op.decomposition), op.name


# ---------------------------------------------------------------- public names
def test_every_public_name_is_defined_once():
    # registering a second object under a taken name raises: try it
    with pytest.raises(RuntimeError, match="two definitions of ember function 'add'"):
        registry.public(lambda input: input, name="add")
    assert registry.FUNCTIONS["add"] is ember.add


def test_all_holds_exactly_the_public_names():
    assert set(ember.ops.__all__) == set(registry.FUNCTIONS)
    assert not [n for n in ember.ops.__all__ if n.startswith("_")]
    assert not [n for n in ember.__all__ if n.startswith("_")]
    assert len(set(ember.__all__)) == len(ember.__all__)
    for name in ("OPS", "call", "cast", "public", "write_out", "run_composite", "sum_to_shape"):
        assert name not in ember.ops.__all__ and name not in ember.__all__, name
    for name in ember.__all__:
        assert getattr(ember, name) is not None, name
    namespace = {}
    exec("from ember import *", namespace)  # every listed name exists
    assert set(namespace) - {"__builtins__"} == set(ember.__all__)


def test_a_family_op_gets_its_function_methods_in_place_form_and_aliases():
    op = OPS["asin"]
    assert op.family == FLOAT_UNARY
    assert ember.asin is ember.arcsin and ember.Tensor.asin is ember.Tensor.arcsin
    assert ember.asin.__wrapped__ is ember.Tensor.asin  # the function form adds out=, the method does not
    x = ember.tensor([0.5, -0.25])
    expected = np.arcsin(np.array([0.5, -0.25], dtype=np.float32))
    np.testing.assert_allclose(x.clone().arcsin_().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(ember.asin(ember.tensor([1, 0])).numpy(), np.arcsin([1.0, 0.0]), rtol=1e-6)
    assert ember.asin(ember.tensor([1, 0])).dtype is ember.float32  # ints computed in the default float dtype
    assert "inverse sine" in ember.asin.__doc__


def test_generated_families_write_into_out():
    x = ember.tensor([1.0, 4.0])
    out = ember.empty(2)
    assert ember.sqrt(x, out=out) is out
    np.testing.assert_allclose(out.numpy(), [1.0, 2.0])
    flags = ember.empty(2, dtype=ember.bool)
    assert ember.lt(x, 2.0, out=flags) is flags and flags.tolist() == [True, False]
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        ember.sqrt(x, out=ember.empty(2, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        ember.exp(ember.ones(2, requires_grad=True), out=ember.empty(2))
    resized = ember.empty(0)
    ember.floor(ember.tensor([[1.5], [2.5]]), out=resized)
    assert resized.shape == (2, 1) and resized.tolist() == [[1.0], [2.0]]
    with pytest.warns(UserWarning, match="was resized"):
        ember.floor(x, out=ember.empty(3))


def test_fmax_and_fmin_ignore_nan():
    a = ember.tensor([1.0, float("nan"), float("nan"), 3.0])
    b = ember.tensor([float("nan"), 2.0, float("nan"), 1.0])
    np.testing.assert_array_equal(ember.fmax(a, b).numpy(), np.fmax(a.numpy(), b.numpy()))
    np.testing.assert_array_equal(ember.fmin(a, b).numpy(), np.fmin(a.numpy(), b.numpy()))
    np.testing.assert_array_equal(ember.maximum(a, b).numpy(), np.maximum(a.numpy(), b.numpy()))
    assert ember.fmax(ember.tensor([1, 5]), 3).tolist() == [3, 5]


def _public_functions():
    for name in ember.__all__:
        obj = getattr(ember, name)
        if callable(obj) and not isinstance(obj, ember.dtype) and not inspect.ismodule(obj):
            yield name, obj


def test_public_functions_have_docstrings():
    names = list(_public_functions())
    documented = [n for n, obj in names if (obj.__doc__ or "").strip()]
    share = len(documented) / len(names)
    missing = sorted(n for n, obj in names if not (obj.__doc__ or "").strip())
    assert share >= 0.95, f"{share:.0%} of {len(names)} public ember functions have a docstring; missing: {missing}"
