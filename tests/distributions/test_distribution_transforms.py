"""Transforms (inverse, log|det J| against a numerical Jacobian, shapes, caching), constraints,
and biject_to / transform_to."""

import numpy as np
import pytest

import ember
import ember.distributions as D
from ember.distributions import constraints as C
from ember.distributions import transforms as T

RNG = np.random.default_rng(7)


def _f(x):
    return ember.tensor(x, dtype=ember.float64)


# (transform, input sampler (numpy, one event), event dims of x)
_BIJECTIONS = [
    ("Exp", T.ExpTransform(), lambda: RNG.normal(size=(3,)), 0),
    ("Sigmoid", T.SigmoidTransform(), lambda: RNG.normal(size=(3,)), 0),
    ("Tanh", T.TanhTransform(), lambda: RNG.normal(size=(3,)), 0),
    ("Softplus", T.SoftplusTransform(), lambda: RNG.normal(size=(3,)), 0),
    ("Affine", T.AffineTransform(_f([1.0, -2.0, 0.5]), _f([2.0, -0.5, 3.0])), lambda: RNG.normal(size=(3,)), 0),
    ("Affine_event", T.AffineTransform(1.0, _f([2.0, -0.5, 3.0]), event_dim=1), lambda: RNG.normal(size=(3,)), 1),
    ("Power", T.PowerTransform(_f(2.5)), lambda: RNG.uniform(0.5, 2.0, size=(3,)), 0),
    ("StickBreaking", T.StickBreakingTransform(), lambda: RNG.normal(size=(3,)), 1),
    ("CorrCholesky", T.CorrCholeskyTransform(), lambda: RNG.normal(size=(3,)), 1),
    ("Compose", T.ComposeTransform([T.AffineTransform(0.5, 2.0), T.ExpTransform(), T.PowerTransform(_f(0.5))]),
     lambda: RNG.normal(size=(3,)), 0),
    ("Independent", T.IndependentTransform(T.SigmoidTransform(), 1), lambda: RNG.normal(size=(3,)), 1),
    ("Reshape", T.ReshapeTransform((2, 3), (6,)), lambda: RNG.normal(size=(2, 3)), 2),
    ("Cat", T.CatTransform([T.ExpTransform(), T.AffineTransform(1.0, 3.0)], dim=0, lengths=[2, 1]),
     lambda: RNG.normal(size=(3,)), 0),
    ("Stack", T.StackTransform([T.ExpTransform(), T.SigmoidTransform(), T.TanhTransform()], dim=0),
     lambda: RNG.normal(size=(3,)), 0),
    ("CDF", T.CumulativeDistributionTransform(D.Normal(_f(0.5), _f(2.0))), lambda: RNG.normal(size=(3,)), 0),
]


def _numeric_log_abs_det(fn, x, event_dim, h=1e-6):
    """log|det J| of an event map by central differences (the identity for the unused part of the
    output of stick breaking / Cholesky maps is handled by taking the free coordinates)."""
    flat = x.ravel()
    cols = []
    for i in range(flat.size):
        e = np.zeros_like(flat)
        e[i] = h
        cols.append((fn((flat + e).reshape(x.shape)) - fn((flat - e).reshape(x.shape))).ravel() / (2 * h))
    return np.linalg.slogdet(np.stack(cols, -1))[1]


@pytest.mark.parametrize("name, t, sample, event_dim", _BIJECTIONS, ids=[b[0] for b in _BIJECTIONS])
def test_bijection_inverse_and_jacobian(name, t, sample, event_dim):
    assert t.bijective
    x_np = sample()
    x = _f(x_np)
    y = t(x)
    assert bool(t.codomain.check(y).all())
    np.testing.assert_allclose(t.inv(y).numpy(), x_np, rtol=1e-7, atol=1e-9)
    assert tuple(t.forward_shape(x.shape)) == tuple(y.shape)
    assert tuple(t.inverse_shape(y.shape)) == tuple(x.shape)
    ladj = t.log_abs_det_jacobian(x, y).numpy()

    def fn(v):
        out = t(_f(v)).numpy()
        if name == "StickBreaking":
            return out[:-1]  # the last coordinate is determined by the others
        if name == "CorrCholesky":
            return out[np.tril_indices(out.shape[-1], -1)]  # the free (strictly lower) entries
        return out

    if event_dim == 0:  # elementwise: the Jacobian is diagonal
        eps = 1e-6
        expected = np.log(np.abs((fn(x_np + eps) - fn(x_np - eps)) / (2 * eps)))
        np.testing.assert_allclose(ladj, expected, rtol=1e-5, atol=1e-6)
    else:
        # CorrCholesky's density is with respect to the strictly lower entries (fn returns those)
        expected = _numeric_log_abs_det(fn, x_np, event_dim)
        np.testing.assert_allclose(ladj, expected, rtol=1e-5, atol=1e-6)


def test_inverse_transform_and_cache():
    t = T.ExpTransform()
    assert t.inv.inv is t and t.inv == T.ExpTransform().inv
    x = _f([0.3, -0.2])
    np.testing.assert_allclose(t.inv.log_abs_det_jacobian(t(x), x).numpy(), -x.numpy())
    cached = T.TanhTransform(cache_size=1)
    x = ember.tensor([30.0], dtype=ember.float64)
    y = cached(x)
    assert cached.inv(y) is x  # without the cache, atanh(1.0) would be infinite
    assert T.TanhTransform().inv(y).isinf().all()
    assert T.ExpTransform().with_cache(1)._cache_size == 1
    assert T.identity_transform(x) is x and T.identity_transform.bijective
    assert T.AbsTransform()(_f([-2.0])).item() == 2.0 and not T.AbsTransform().bijective
    assert T.AffineTransform(0.0, -2.0).sign == -1 and T.ExpTransform().sign == 1
    s = T.SoftmaxTransform()(_f([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(s.numpy(), np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())
    L = T.LowerCholeskyTransform()(_f(RNG.normal(size=(3, 3))))
    assert bool(C.lower_cholesky.check(L))
    P = T.PositiveDefiniteTransform()(_f(RNG.normal(size=(3, 3))))
    assert bool(C.positive_definite.check(P))
    np.testing.assert_allclose(T.PositiveDefiniteTransform().inv(P).numpy(),
                               T.LowerCholeskyTransform().inv(ember.linalg.cholesky(P)).numpy(), atol=1e-10)


_CONSTRAINTS = [
    C.real, C.positive, C.nonnegative, C.greater_than(1.5), C.greater_than_eq(-1.0), C.less_than(2.0),
    C.interval(-1.0, 3.0), C.half_open_interval(0.0, 2.0), C.unit_interval, C.simplex, C.real_vector,
    C.independent(C.positive, 1), C.corr_cholesky, C.cat([C.real, C.positive], -1, [1, 2]),
    C.stack([C.positive, C.unit_interval, C.real], -1),
]


@pytest.mark.parametrize("constraint", _CONSTRAINTS, ids=[repr(c) for c in _CONSTRAINTS])
def test_biject_to_and_transform_to(constraint):
    for registry in (D.biject_to, D.transform_to):
        t = registry(constraint)
        x = _f(RNG.normal(size=(3,)) * 2)
        y = t(x)
        assert bool(constraint.check(y).all()), (constraint, y)
        if registry is D.biject_to:
            assert t.bijective
            np.testing.assert_allclose(t.inv(y).numpy(), x.numpy(), rtol=1e-6, atol=1e-8)
    # a TransformedDistribution through it scores its own samples
    t = D.biject_to(constraint)
    base = D.Independent(D.Normal(_f(np.zeros(3)), 1.0), 1)
    dist = D.TransformedDistribution(base, [t])
    sample = dist.sample((4,))
    assert np.isfinite(dist.log_prob(sample).numpy()).all()


def test_transform_to_matrices():
    y = D.transform_to(C.lower_cholesky)(_f(RNG.normal(size=(2, 3, 3))))
    assert C.lower_cholesky.check(y).tolist() == [True, True]
    y = D.transform_to(C.positive_definite)(_f(RNG.normal(size=(3, 3))))
    assert bool(C.positive_definite.check(y))
    with pytest.raises(NotImplementedError, match="Cannot transform _LowerCholesky constraints"):
        D.biject_to(C.lower_cholesky)


def test_constraint_checks():
    x = _f([-1.0, 0.0, 0.5, 1.0, 2.0, float("nan")])
    assert C.real.check(x).tolist() == [True] * 5 + [False]
    assert C.positive.check(x).tolist() == [False, False, True, True, True, False]
    assert C.unit_interval.check(x).tolist() == [False, True, True, True, False, False]
    assert C.half_open_interval(0.0, 1.0).check(x).tolist() == [False, True, True, False, False, False]
    assert C.boolean.check(x).tolist() == [False, True, False, True, False, False]
    assert C.nonnegative_integer.check(x).tolist() == [False, True, False, True, True, False]
    assert C.integer_interval(0, 1).check(x).tolist() == [False, True, False, True, False, False]
    assert C.simplex.check(_f([[0.2, 0.8], [0.5, 0.6]])).tolist() == [True, False]
    assert C.one_hot.check(_f([[0.0, 1.0], [1.0, 1.0]])).tolist() == [True, False]
    assert C.multinomial(3).check(_f([[1.0, 2.0], [2.0, 2.0]])).tolist() == [True, False]
    assert C.lower_triangular.check(_f([[[1.0, 0.0], [2.0, -1.0]], [[1.0, 1.0], [0.0, 1.0]]])).tolist() == [True,
                                                                                                            False]
    assert C.symmetric.check(_f([[1.0, 2.0], [2.0, 1.0]])).item()
    assert not C.positive_definite.check(_f([[1.0, 2.0], [2.0, 1.0]])).item()
    assert C.positive_semidefinite.check(_f([[1.0, 1.0], [1.0, 1.0]])).item()
    assert C.square.check(_f(np.zeros((2, 3)))).item() is False
    assert C.independent(C.real, 1).event_dim == 1 and C.simplex.event_dim == 1 and C.corr_cholesky.event_dim == 2
    assert C.is_dependent(C.dependent) and not C.is_dependent(C.real)
    assert C.nonnegative_integer.is_discrete and not C.real.is_discrete
    with pytest.raises(ValueError, match="Cannot determine validity of dependent constraint"):
        C.dependent.check(x)
    assert repr(C.interval(0, 1)) == "Interval(lower_bound=0, upper_bound=1)"
    assert repr(C.independent(C.real, 1)) == "IndependentConstraint(Real(), 1)"
    assert isinstance(D.Uniform.support, C._DependentProperty)
    mix = C.MixtureSameFamilyConstraint(C.positive)
    assert mix.check(_f([1.0, -1.0])).tolist() == [True, False]
