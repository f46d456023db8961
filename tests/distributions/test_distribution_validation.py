"""Argument and sample validation: the exception class and message PyTorch 2.13 raises for each
expression of tests/fixtures/distribution_error_cases.py (recorded in distribution_errors.json by
tests/fixtures/record_distribution_errors.py), and the validate_args switches."""
import json
import pathlib
import sys
import warnings

import pytest

import ember
import ember.distributions as D

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
from distribution_error_cases import CASES  # noqa: E402

RECORDED = json.loads((FIXTURES / "distribution_errors.json").read_text())["errors"]


@pytest.mark.parametrize("expression", CASES)
def test_errors_are_pytorchs(expression):
    expected_class, expected_message = RECORDED[expression]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as caught:
            eval(expression, {"torch": ember, "D": D})
    assert type(caught.value).__name__ == expected_class
    assert str(caught.value) == expected_message.replace("torch.Size", "ember.Size")


def test_validate_args_switches():
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    assert D.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    D.Normal(0.0, 1.0, validate_args=False).log_prob(ember.tensor(float("nan")))  # no check
    try:
        D.Distribution.set_default_validate_args(False)
        assert D.Normal(0.0, -1.0).scale.item() == -1.0
        assert not D.Normal(0.0, 1.0)._validate_args
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    # expand keeps the flag
    assert not D.Normal(0.0, 1.0, validate_args=False).expand([3])._validate_args


def test_shapes_expand_and_sample_n():
    d = D.Normal(ember.zeros(3, 1), 1.0)
    assert d.batch_shape == (3, 1) and d.event_shape == ()
    e = d.expand([2, 3, 4])
    assert e.batch_shape == (2, 3, 4) and e.sample().shape == (2, 3, 4)
    assert e.sample((5,)).shape == (5, 2, 3, 4)
    with pytest.warns(UserWarning, match="sample_n will be deprecated"):
        assert d.sample_n(2).shape == (2, 3, 1)
    mvn = D.MultivariateNormal(ember.zeros(2), ember.eye(2)).expand([4])
    assert mvn.batch_shape == (4,) and mvn.event_shape == (2,) and mvn.rsample((3,)).shape == (3, 4, 2)
    ind = D.Independent(D.Normal(ember.zeros(4, 3), 1.0), 1)
    assert ind.batch_shape == (4,) and ind.event_shape == (3,) and ind.log_prob(ind.sample()).shape == (4,)
    assert D.Dirichlet(ember.ones(2, 3)).expand([5, 2]).sample().shape == (5, 2, 3)
    assert D.Normal(0.0, 1.0).mean.dtype == ember.float32
    for dist in (D.Normal(0.0, 1.0), D.Bernoulli(0.3), D.Gamma(2.0, 1.0), D.Categorical(ember.ones(3))):
        assert repr(dist).startswith(type(dist).__name__ + "(")
        assert dist.support is not None and isinstance(dist.arg_constraints, dict)
    assert D.Normal.has_rsample and not D.Bernoulli.has_rsample and D.Bernoulli.has_enumerate_support
    assert D.Gamma(1.0, 1.0).has_rsample and not D.Poisson(1.0).has_rsample


def test_public_names_are_documented():
    import inspect
    missing = []
    for name in D.__all__:
        obj = getattr(D, name)
        if not (inspect.getdoc(obj) or "").strip():
            missing.append(name)
        if isinstance(obj, type):
            for attr, value in vars(obj).items():
                if not attr.startswith("_") and (callable(value) or isinstance(value, property)):
                    if not (inspect.getdoc(getattr(obj, attr)) or "").strip():
                        missing.append(f"{name}.{attr}")
    assert not missing, missing
    assert sorted(D.__all__) == sorted(set(D.__all__))
    for name in ("Normal", "Wishart", "LKJCholesky", "GeneralizedPareto", "kl_divergence", "biject_to",
                 "identity_transform", "CumulativeDistributionTransform", "ExponentialFamily"):
        assert name in D.__all__
    assert ember.distributions is D
