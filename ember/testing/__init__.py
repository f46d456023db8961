"""ember's cross-backend conformance suite.

``ember.testing.opdb.OP_DB`` describes every public op (samples, dtypes, float64 numpy
reference, result dtype, differentiability); ``ember.testing.runner`` checks a device
against it: ``for case in runner.cases("cpu"): case.run()``. Nothing here depends on
pytest, so any harness (tests/test_conformance.py, a backend's own CI) can drive it.
Only the two pytest modules import pytest, when pytest loads them: ``pytest_plugin`` (the
``--ember-device``/``--ember-report`` options, registered as a pytest11 entry point) and
``conformance``, the kit: ``pytest --pyargs ember.testing.conformance --ember-device=NAME``.
"""
from ember.testing.opinfo import OpInfo, SampleInput  # noqa: F401
from ember.testing.comparison import assert_close, make_tensor  # noqa: F401  (torch.testing's helpers)
from ember.testing.runner import (  # noqa: F401
    Case, ConformanceError, cases, check_forward, check_grad, check_inplace, check_promotion, check_view,
    check_view_grad,
)
