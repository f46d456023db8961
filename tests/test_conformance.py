"""The cross-backend conformance suite over every available device.

The op database and the checks live in ``ember.testing`` (no pytest there); this file
only parametrizes them: one test per (op, sample, dtype, device), with ids such as
``test_forward[add-float32-broadcast-cpu]``. Run one backend with
``EMBER_TEST_DEVICES=opencl pytest tests/test_conformance.py``.
"""
import subprocess
import sys

import numpy as np
import pytest

import ember
from conftest import DEVICES
from ember.testing import opdb, runner
from ember.testing.opinfo import OpInfo, SampleInput
from ember.testing.views import ViewCase


# A case takes well under a second. A kernel that hangs (seen: MLX on empty inputs) fails
# with every thread's stack printed instead of blocking the run forever ("thread": a hang in
# C code never returns to Python for a signal-based timeout to fire).
pytestmark = pytest.mark.timeout(120, method="thread")


def _params(make):
    cases = [c for device in DEVICES for c in make(device)]
    return dict(argnames="case", argvalues=cases, ids=[c.id for c in cases])


@pytest.mark.parametrize(**_params(runner.forward_cases))
def test_forward(case):
    case.run()


@pytest.mark.parametrize(**_params(runner.grad_cases))
def test_grad(case):
    case.run()


@pytest.mark.parametrize(**_params(runner.inplace_cases))
def test_inplace(case):
    case.run()


@pytest.mark.parametrize(**_params(runner.view_cases))
def test_view(case):
    case.run()


def test_promotion(device):
    runner.check_promotion(device)


# ---------------------------------------------------------------- the database itself
def test_database_covers_the_public_ops():
    missing = set(opdb.REQUIRED_FUNCTIONS) - opdb.covered_functions()
    assert not missing, f"ops without an OpInfo: {sorted(missing)}"
    missing = set(opdb.REQUIRED_METHODS) - opdb.covered_methods()
    assert not missing, f"Tensor methods without an OpInfo: {sorted(missing)}"
    missing = set(opdb.REQUIRED_INPLACE) - opdb.covered_inplace()
    assert not missing, f"in-place methods without an OpInfo: {sorted(missing)}"
    for name in opdb.REQUIRED_FUNCTIONS:
        assert callable(getattr(ember, name, None)), f"ember.{name} does not exist"
    for name in opdb.REQUIRED_METHODS + opdb.REQUIRED_INPLACE:
        assert callable(getattr(ember.Tensor, name, None)), f"Tensor.{name} does not exist"


@pytest.mark.parametrize("op", opdb.OP_DB, ids=[op.name for op in opdb.OP_DB])
def test_opinfo_is_well_formed(op):
    assert op.dtypes and set(op.dtypes) <= set(runner.D.ALL + runner.D.COMPLEX), op.dtypes
    if op.supports_grad:
        assert {"float64", "complex128"} & set(op.dtypes), "gradients are checked in float64 (or complex128)"
    for dtype in op.dtypes:
        samples = op.samples(dtype)
        assert samples, f"no samples for {dtype}"
        assert len({s.desc for s in samples}) == len(samples)
        for s in samples:  # reproducible: the same arrays every time
            again = next(t for t in op.samples(dtype) if t.desc == s.desc)
            assert _same_arrays(s.input, again.input)


def _same_arrays(a, b):
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=runner.D.is_inexact_array(a))
    if isinstance(a, (list, tuple)):
        return all(_same_arrays(x, y) for x, y in zip(a, b))
    return a == b


# ---------------------------------------------------------------- the checks can fail
def _bad_op(**overrides):
    spec = dict(ref=np.sin, dtypes=("float32", "float64"),
                samples=lambda mk: [SampleInput(mk(3, 4), desc="plain")])
    spec.update(overrides)
    return OpInfo("sin", **spec)


def test_forward_check_reports_wrong_values():
    op = _bad_op(ref=np.cos)
    with pytest.raises(AssertionError, match=r"sin \[ember.sin\] dtype=float32 device=cpu sample='plain'.*"
                                             r"max abs err .*max rel err"):
        runner.check_forward(op, op.samples("float32")[0], "cpu", "float32")


def test_forward_check_reports_wrong_dtype():
    op = _bad_op(result_dtype="float64")
    with pytest.raises(AssertionError, match="result dtype float32, expected float64"):
        runner.check_forward(op, op.samples("float32")[0], "cpu", "float32")


def test_grad_check_reports_wrong_gradient():
    op = _bad_op(op=lambda x: ember.sin(x).detach() + 0 * x)  # right values, zero gradient
    with pytest.raises(AssertionError, match=r"sin \[backward\] dtype=float64 device=cpu sample='plain' "
                                             r"gradient of input 0"):
        runner.check_grad(op, op.samples("float64")[0], "cpu")


def test_inplace_check_reports_missing_error():
    op = _bad_op(op="add", ref=np.add, inplace="add_",
                 samples=lambda mk: [SampleInput(mk(3, 1), mk(3, 4), desc="grows")])
    runner.check_inplace(op, op.samples("float32")[0], "cpu", "float32")  # add_ raises, as PyTorch's does
    op.inplace = "contiguous"  # a method that raises nothing
    with pytest.raises(AssertionError, match="PyTorch raises"):
        runner.check_inplace(op, op.samples("float32")[0], "cpu", "float32")


def test_view_check_reports_a_copy():
    copy = ViewCase("clone", (3, 4), lambda b: b.clone(), lambda a: a)
    with pytest.raises(AssertionError, match="view 'clone'"):
        runner.check_view(copy, "cpu", "float32")


def test_suite_does_not_need_pytest():
    code = "import sys, ember.testing.runner as r; r.cases('cpu'); sys.exit('pytest' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_missing_kernel_is_reported_with_the_op_name():
    """A backend without a kernel for an op (and no CPU fallback) fails that op's cases
    with an error naming the op and the device."""
    from _fakedev import fake_device
    fake_device("kitmissing", allow_cpu_fallback=False)  # basic kernels only: no sin
    op = opdb.BY_NAME["sin"]
    sample = op.samples("float32")[0]
    with pytest.raises(runner.ConformanceError, match=r"sin \[ember.sin\] dtype=float32 device=kitmissing.*"
                                                      r"NotImplementedError: op 'sin' has no kernel"):
        runner.check_forward(op, sample, "kitmissing", "float32")
