"""ember.special and the top-level special functions: the namespace, PyTorch's dtype rules and
errors, edge values, and the gradients the op database cannot check (one argument only).

Numerics on random inputs are in the op database (ember/testing/opdb/special.py, run on every
device by test_conformance.py); PyTorch 2.13's behaviour pinned here was read off a PyTorch
install by hand (the values are small enough to write down).
"""
import math

import numpy as np
import pytest
import scipy.special as sp

import ember
import ember.special as S

# torch.special's public names in PyTorch 2.13 (less its re-exported module helpers)
TORCH_SPECIAL = """airy_ai bessel_j0 bessel_j1 bessel_y0 bessel_y1 chebyshev_polynomial_t chebyshev_polynomial_u
    chebyshev_polynomial_v chebyshev_polynomial_w digamma entr erf erfc erfcx erfinv exp2 expit expm1 gammainc
    gammaincc gammaln hermite_polynomial_h hermite_polynomial_he i0 i0e i1 i1e laguerre_polynomial_l
    legendre_polynomial_p log1p log_ndtr log_softmax logit logsumexp modified_bessel_i0 modified_bessel_i1
    modified_bessel_k0 modified_bessel_k1 multigammaln ndtr ndtri polygamma psi round scaled_modified_bessel_k0
    scaled_modified_bessel_k1 shifted_chebyshev_polynomial_t shifted_chebyshev_polynomial_u
    shifted_chebyshev_polynomial_v shifted_chebyshev_polynomial_w sinc softmax spherical_bessel_j0 xlog1py xlogy
    zeta""".split()

POLYNOMIALS = [n for n in TORCH_SPECIAL if "polynomial" in n]
# unary functions PyTorch has no half-precision kernel for
NO_HALF = """airy_ai bessel_j0 bessel_j1 bessel_y0 bessel_y1 modified_bessel_i0 modified_bessel_i1 modified_bessel_k0
    modified_bessel_k1 scaled_modified_bessel_k0 scaled_modified_bessel_k1 spherical_bessel_j0 erfcx log_ndtr
    ndtri""".split()
UNARY_FLOAT = NO_HALF + "digamma entr erfc gammaln i0 i0e i1 i1e ndtr sinc psi expit erf exp2 expm1 log1p".split()


def t(values, dtype=ember.float32, **kw):
    return ember.tensor(values, dtype=dtype, **kw)


def close(actual, expected, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(actual.detach().numpy().astype(np.float64), expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- the namespace
def test_every_torch_special_name_exists():
    assert len(TORCH_SPECIAL) == 56
    assert sorted(S.__all__) == sorted(TORCH_SPECIAL)
    for name in TORCH_SPECIAL:
        fn = getattr(S, name)
        assert callable(fn) and fn.__doc__ and "Returns" in fn.__doc__, name
    assert ember.special is S


@pytest.mark.parametrize("special, top", [
    ("gammaln", "lgamma"), ("psi", "digamma"), ("digamma", "digamma"), ("expit", "sigmoid"), ("erf", "erf"),
    ("erfc", "erfc"), ("erfinv", "erfinv"), ("exp2", "exp2"), ("expm1", "expm1"), ("log1p", "log1p"),
    ("logit", "logit"), ("i0", "i0"), ("sinc", "sinc"), ("xlogy", "xlogy"), ("polygamma", "polygamma"),
    ("multigammaln", "mvlgamma"), ("gammainc", "igamma"), ("gammaincc", "igammac"), ("softmax", "softmax"),
    ("log_softmax", "log_softmax"), ("logsumexp", "logsumexp")])
def test_shared_names_are_the_top_level_functions(special, top):
    assert getattr(S, special) is getattr(ember, top)


def test_top_level_functions_methods_and_inplace_forms():
    for name in "lgamma digamma polygamma mvlgamma i0 sinc erfc xlogy igamma igammac hypot copysign heaviside gcd " \
                "lcm nextafter ldexp".split():
        assert callable(getattr(ember, name)) and callable(getattr(ember.Tensor, name)), name
        assert callable(getattr(ember.Tensor, name + "_")), name
    for name in "logaddexp logaddexp2 frexp".split():  # no in-place forms in PyTorch
        assert callable(getattr(ember, name)) and callable(getattr(ember.Tensor, name))
        assert not hasattr(ember.Tensor, name + "_")
    for name in "erfcx xlog1py zeta bessel_j0 ndtr".split():  # torch.special only
        assert not hasattr(ember, name), name


def test_reused_functions_compute():
    x = t([[0.2, 1.5, -0.7], [2.0, -3.0, 0.4]])
    v = x.numpy().astype(np.float64)
    close(S.expit(x), sp.expit(v))
    close(S.exp2(x), np.exp2(v))
    close(S.expm1(x), np.expm1(v))
    close(S.log1p(x.abs()), np.log1p(np.abs(v)))
    close(S.erf(x), sp.erf(v))
    close(S.erfinv(x / 4), sp.erfinv(v / 4), rtol=1e-4)
    close(S.logit(x.abs() / 4), sp.logit(np.abs(v) / 4), rtol=1e-4)
    close(S.softmax(x, 1), sp.softmax(v, 1))
    close(S.log_softmax(x, dim=0), sp.log_softmax(v, 0))
    assert S.softmax(ember.tensor([1, 2]), 0, dtype=ember.float64).dtype is ember.float64
    close(S.logsumexp(x, 1), sp.logsumexp(v, 1))
    close(S.round(x * 10), np.round(v * 10))
    close(S.round(x, decimals=1), np.round(v, 1))


def test_special_round_refuses_integers():
    assert ember.round(ember.tensor([1, 2])).tolist() == [1, 2]  # the top-level one copies them
    with pytest.raises(NotImplementedError, match="round_vml_cpu.*Long"):
        S.round(ember.tensor([1, 2]))


def test_out_argument():
    x = t([0.5, 1.5])
    out = ember.empty(2)
    assert S.erfcx(x, out=out) is out
    close(out, sp.erfcx([0.5, 1.5]))
    assert S.chebyshev_polynomial_t(x, 3, out=out) is out
    close(out, sp.eval_chebyt(3, [0.5, 1.5]))
    assert ember.polygamma(1, x, out=out) is out
    close(out, sp.polygamma(1, [0.5, 1.5]))
    mantissa, exponent = ember.empty(2), ember.empty(2, dtype=ember.int32)
    r = ember.frexp(t([8.0, 0.3]), out=(mantissa, exponent))
    assert r.mantissa is mantissa and exponent.tolist() == [4, -1]


# ---------------------------------------------------------------- dtype rules
@pytest.mark.parametrize("name", UNARY_FLOAT)
def test_unary_integer_inputs_compute_in_the_default_float(name):
    r = getattr(S, name)(ember.tensor([1, 2]))
    assert r.dtype is ember.float32
    ref = getattr(S, name)(t([1.0, 2.0]))
    np.testing.assert_array_equal(r.numpy(), ref.numpy())
    assert getattr(S, name)(ember.tensor([True, False])).dtype is ember.float32


@pytest.mark.parametrize("name", NO_HALF)
def test_unary_half_precision_raises_where_pytorch_does(name):
    for dtype, title in ((ember.float16, "Half"), (ember.bfloat16, "BFloat16")):
        with pytest.raises(NotImplementedError, match=f'"{name}_cpu" not implemented for \'{title}\''):
            getattr(S, name)(t([0.5], dtype))


@pytest.mark.parametrize("name", "digamma entr erfc gammaln i0 i0e i1 i1e ndtr sinc".split())
def test_unary_half_precision_keeps_its_dtype(name):
    x = t([0.5, 1.25], ember.float16)
    r = getattr(S, name)(x)
    assert r.dtype is ember.float16
    np.testing.assert_allclose(r.numpy().astype(np.float64), getattr(S, name)(x.double()).numpy(), rtol=2e-3)


def test_binary_promotion_and_scalars():
    i, f, h = ember.tensor([1, 2]), t([0.5, 1.5]), t([0.5, 1.5], ember.float16)
    assert ember.xlogy(i, i).dtype is ember.float32
    assert ember.xlogy(f, h).dtype is ember.float32
    assert ember.xlogy(h, h).dtype is ember.float16
    assert ember.xlogy(2, f).dtype is ember.float32 and S.xlogy(f, 2.5).dtype is ember.float32
    assert S.xlog1py(2.5, i).dtype is ember.float32
    assert S.zeta(2, f).dtype is ember.float32 and S.zeta(f.double(), 2).dtype is ember.float64
    assert ember.copysign(i, -0.0).tolist() == [-1.0, -2.0]
    assert ember.copysign(ember.tensor([True, False]), ember.tensor([True, False])).dtype is ember.float32
    assert ember.ldexp(i, i).dtype is ember.float32 and ember.ldexp(h, i).dtype is ember.float16
    assert ember.igamma(i, f).dtype is ember.float32 and ember.hypot(f, h).dtype is ember.float32
    assert ember.gcd(i.to(ember.uint8), i.to(ember.int8)).dtype is ember.int16
    with pytest.raises(NotImplementedError, match="zeta_cpu.*Half"):
        S.zeta(h, h)


@pytest.mark.parametrize("name", ["hypot", "nextafter", "igamma", "igammac", "logaddexp", "logaddexp2"])
def test_float_only_binary_functions(name):
    fn = getattr(ember, name)
    with pytest.raises(NotImplementedError, match=f'"{name}_cpu" not implemented for \'Long\''):
        fn(ember.tensor([1, 2]), ember.tensor([3, 4]))
    with pytest.raises(NotImplementedError, match="Bool"):
        fn(ember.tensor([True]), ember.tensor([False]))
    with pytest.raises(TypeError, match="must be Tensor"):
        fn(t([1.0]), 2.0)
    with pytest.raises(TypeError, match="must be Tensor"):
        fn(2.0, t([1.0]))


@pytest.mark.parametrize("name", ["gcd", "lcm"])
def test_gcd_lcm_are_integer_only(name):
    fn = getattr(ember, name)
    for dtype, title in ((ember.float32, "Float"), (ember.float16, "Half"), (ember.bool, "Bool")):
        with pytest.raises(NotImplementedError, match=f'"{name}_cpu" not implemented for \'{title}\''):
            fn(ember.ones(2, dtype=dtype), ember.ones(2, dtype=dtype))
    with pytest.raises(TypeError, match="must be Tensor"):
        fn(ember.tensor([4]), 2)
    with pytest.raises(RuntimeError):  # PyTorch: the float result can't be cast to Long
        getattr(ember.tensor([4]), name + "_")(ember.tensor([2.0]))


def test_gcd_lcm_with_negatives_and_zeros():
    a = ember.tensor([-4, 0, 0, 6, -7, 12, -9])
    b = ember.tensor([6, 0, -5, -9, 0, 18, -6])
    assert ember.gcd(a, b).tolist() == [2, 0, 5, 3, 7, 6, 3]  # PyTorch 2.13
    assert ember.lcm(a, b).tolist() == [12, 0, 0, 18, 0, 36, 18]
    assert a.gcd(b).tolist() == np.gcd(a.numpy(), b.numpy()).tolist()
    x = a.clone()
    assert x.lcm_(b) is x and x.tolist() == [12, 0, 0, 18, 0, 36, 18]
    # int8 wraps as in PyTorch: lcm(100, 3) = 300 -> 44
    assert ember.lcm(ember.tensor([100], dtype=ember.int8), ember.tensor([3], dtype=ember.int8)).tolist() == [44]


def test_heaviside():
    x = t([-1.5, 0.0, 2.0, float("nan")])
    assert ember.heaviside(x, t([0.5])).tolist() == [0.0, 0.5, 1.0, 0.0]
    assert ember.heaviside(ember.tensor([-2, 0, 3]), ember.tensor([7])).tolist() == [0, 7, 1]
    with pytest.raises(RuntimeError, match="different dtypes"):
        ember.heaviside(x, t([0.5], ember.float64))
    with pytest.raises(TypeError, match="'values'.*must be Tensor"):
        ember.heaviside(x, 0.5)
    y = t([1.0, -1.0], requires_grad=True)
    r = ember.heaviside(y, t([0.5]))
    assert r.requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not implemented"):
        r.sum().backward()


# ---------------------------------------------------------------- frexp and ldexp
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.bfloat16])
def test_frexp_ldexp_round_trip(dtype):
    rng = np.random.default_rng(3)
    values = rng.standard_normal(50) * 10.0 ** rng.integers(-3, 4, 50)
    x = ember.tensor(values).to(dtype)
    mantissa, exponent = ember.frexp(x)
    assert mantissa.dtype is dtype and exponent.dtype is ember.int32
    m = mantissa.float().numpy()
    assert np.all((np.abs(m) >= 0.5) & (np.abs(m) < 1))
    np.testing.assert_array_equal(ember.ldexp(mantissa, exponent).numpy(), x.numpy())
    assert x.frexp().exponent.tolist() == exponent.tolist()


def test_frexp_edges_and_errors():
    m, e = ember.frexp(t([8.0, 0.3, 0.0, -5.0, float("inf"), 1e-45]))
    assert e.tolist() == [4, -1, 0, 3, 0, -148]  # PyTorch 2.13 (a subnormal too)
    assert m.tolist()[:4] == [0.5, pytest.approx(0.6), 0.0, -0.625] and m.tolist()[4] == math.inf
    with pytest.raises(RuntimeError, match="only supports floating-point"):
        ember.frexp(ember.tensor([1, 2]))
    x = t([0.75, 3.0], requires_grad=True)
    ember.frexp(x).mantissa.sum().backward()
    assert x.grad.tolist() == [1.0, 0.25]
    assert ember.ldexp(t([1.0]), ember.tensor([128])).tolist() == [math.inf]  # input * 2 ** other, as PyTorch
    close(ember.ldexp(t([1.0, 3.0]), t([0.5, -2.0])), [2 ** 0.5, 0.75])


# ---------------------------------------------------------------- the gamma family
def test_polygamma_orders():
    x = np.linspace(0.3, 6, 12)
    for n in range(5):
        close(ember.polygamma(n, ember.tensor(x)), sp.polygamma(n, x), rtol=1e-10)
        close(S.polygamma(n, ember.tensor(x, dtype=ember.float32)), sp.polygamma(n, x), rtol=1e-4)
    assert ember.polygamma(1, ember.tensor([1, 2])).dtype is ember.float32
    from_tensor_order = ember.polygamma(ember.tensor(2), ember.tensor([1.5]))  # a 0-d integer tensor as n
    assert from_tensor_order.tolist() == pytest.approx([float(sp.polygamma(2, 1.5))])
    y = ember.tensor(x)
    close(y.polygamma(3), sp.polygamma(3, x), rtol=1e-10)
    assert y.polygamma_(2) is y
    close(y, sp.polygamma(2, x), rtol=1e-10)
    with pytest.raises(RuntimeError, match="does not support negative n"):
        ember.polygamma(-1, y)
    with pytest.raises(TypeError, match="'n'.*must be int, not float"):
        ember.polygamma(2.0, y)


def test_gamma_edges():
    digamma = ember.digamma(t([0.0, -0.0, -1.0, -1.5]))
    assert digamma.tolist()[:2] == [-math.inf, math.inf]  # PyTorch: the sign of the zero picks the side
    assert math.isnan(digamma.tolist()[2])
    lgamma = ember.lgamma(t([-1.5, -2.5, 0.0, -1.0, -math.inf, math.inf]))
    close(lgamma[:2], sp.gammaln([-1.5, -2.5]))
    assert lgamma.tolist()[2:] == [math.inf] * 4  # C's (and PyTorch's) lgamma(-inf) is +inf, scipy's -inf


def test_mvlgamma():
    x = np.array([2.5, 3.0, 7.25])
    for p in (1, 2, 4):
        close(ember.mvlgamma(ember.tensor(x), p), [sp.multigammaln(v, p) for v in x], rtol=1e-10)
    close(S.multigammaln(ember.tensor([3, 4]), 2), [sp.multigammaln(3, 2), sp.multigammaln(4, 2)])
    assert ember.tensor(x).mvlgamma(p=3).dtype is ember.float64
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        ember.mvlgamma(ember.tensor(x), 0)


def test_double_backward_through_lgamma():
    x = ember.tensor([0.7, 2.5], dtype=ember.float64, requires_grad=True)
    (g,) = ember.autograd.grad(ember.lgamma(x).sum(), x, create_graph=True)
    (gg,) = ember.autograd.grad(g.sum(), x)
    close(g, sp.digamma([0.7, 2.5]), rtol=1e-10)
    close(gg, sp.polygamma(1, [0.7, 2.5]), rtol=1e-10)


# ---------------------------------------------------------------- edge values
def test_edge_values():
    nan, inf = float("nan"), float("inf")
    r = ember.xlogy(t([0.0, 0.0, 1.0, 0.0]), t([nan, 0.0, 0.0, 2.0]))
    assert math.isnan(r.tolist()[0]) and r.tolist()[1:] == [0.0, -inf, 0.0]
    assert S.xlog1py(t([0.0, 2.0]), t([-1.0, 0.0])).tolist() == [0.0, 0.0]
    assert S.entr(t([0.0, -1.0, inf])).tolist() == [0.0, -inf, -inf]
    assert S.sinc(t([0.0])).tolist() == [1.0]
    assert S.spherical_bessel_j0(t([0.0, inf])).tolist() == [1.0, 0.0]
    assert S.ndtri(t([0.0, 1.0])).tolist() == [-inf, inf]
    close(S.log_ndtr(t([-40.0], ember.float64)), sp.log_ndtr([-40.0]), rtol=1e-10)  # the far tail, no -inf
    assert S.erfcx(t([-30.0])).tolist() == [inf]
    assert ember.logaddexp(t([inf, -inf, 1.0]), t([inf, -inf, 1.0])).tolist() == [inf, -inf,
                                                                                   pytest.approx(1 + math.log(2))]
    assert ember.logaddexp2(t([-inf, 3.0]), t([-inf, 3.0])).tolist() == [-inf, 4.0]
    close(ember.logaddexp(t([1000.0, -1000.0]), t([0.0, -1001.0])), np.logaddexp([1000.0, -1000.0], [0, -1001.0]))
    assert ember.nextafter(t([1.0], ember.float16), t([2.0], ember.float16)).item() == 1.0009765625
    assert ember.nextafter(t([1.0], ember.bfloat16), t([2.0], ember.bfloat16)).item() == 1.0078125
    assert ember.nextafter(t([0.0]), t([-1.0])).item() == -1.401298464324817e-45
    assert ember.copysign(t([1.0, 1.0]), t([-0.0, nan])).tolist() == [-1.0, 1.0]
    assert S.bessel_y0(t([0.0])).tolist() == [-inf] and S.modified_bessel_k0(t([0.0])).tolist() == [inf]


# ---------------------------------------------------------------- gradients of one argument
def _numeric(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


def test_zeta_and_incomplete_gamma_gradients():
    x = ember.tensor([2.5, 3.0, 4.5], dtype=ember.float64)
    q = ember.tensor([0.7, 1.5, 2.0], dtype=ember.float64, requires_grad=True)
    S.zeta(x, q).sum().backward()
    close(q.grad, _numeric(lambda v: sp.zeta(x.numpy(), v), q.detach().numpy()), rtol=1e-6)
    a = ember.tensor([0.8, 2.0, 3.5], dtype=ember.float64)
    for fn, ref in ((ember.igamma, sp.gammainc), (ember.igammac, sp.gammaincc)):
        z = ember.tensor([0.5, 1.5, 4.0], dtype=ember.float64, requires_grad=True)
        fn(a, z).sum().backward()
        close(z.grad, _numeric(lambda v: ref(a.numpy(), v), z.detach().numpy()), rtol=1e-6)
    x.requires_grad_()
    with pytest.raises(NotImplementedError, match="the derivative for 'zeta' is not implemented"):
        S.zeta(x, q).sum().backward()
    with pytest.raises(NotImplementedError, match="the derivative for 'igamma: input' is not implemented"):
        S.gammainc(x, q).sum().backward()
    with pytest.raises(NotImplementedError, match="the derivative for 'igammac: input' is not implemented"):
        ember.igammac(x, q).sum().backward()


def test_logaddexp_gradients_at_ties():
    a = ember.tensor([1.5, -2.0], dtype=ember.float64, requires_grad=True)
    b = ember.tensor([1.5, 3.0], dtype=ember.float64, requires_grad=True)
    ember.logaddexp(a, b).sum().backward()
    close(a.grad, [0.5, sp.expit(-5.0)], rtol=1e-12)
    close(b.grad, [0.5, sp.expit(5.0)], rtol=1e-12)
    a.grad = b.grad = None
    ember.logaddexp2(a, b).sum().backward()
    close(a.grad, [0.5, 1 / (1 + 2.0 ** 5)], rtol=1e-12)


def test_gradients_at_zero():
    x = ember.tensor([0.0], dtype=ember.float64, requires_grad=True)
    for fn, want in ((S.i1, 0.5), (S.i1e, 0.5), (S.sinc, 0.0)):
        (g,) = ember.autograd.grad(fn(x).sum(), x)
        assert g.tolist() == [want], fn
    y = ember.tensor([0.0, -1.0], requires_grad=True)
    ember.copysign(y, t([-1.0, 1.0])).sum().backward()
    assert y.grad.tolist() == [0.0, -1.0]  # PyTorch 2.13


@pytest.mark.parametrize("name", NO_HALF[:12] + POLYNOMIALS[:1])
def test_not_differentiable_functions_give_no_graph(name):
    x = t([0.5, 0.75], requires_grad=True)
    r = getattr(S, name)(x, 3) if "polynomial" in name else getattr(S, name)(x)
    assert not r.requires_grad and r.grad_fn is None


# ---------------------------------------------------------------- polynomials
@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomial_degrees(name):
    fn = getattr(S, name)
    x = t([0.25, 0.5, 0.75])
    np.testing.assert_array_equal(fn(x, 2.5).numpy(), fn(x, 2).numpy())  # a fractional degree truncates
    assert fn(x, -1).tolist() == [0.0, 0.0, 0.0]
    assert fn(x, 0).tolist() == [1.0, 1.0, 1.0]
    n = ember.tensor([0, 3, -2])
    np.testing.assert_array_equal(fn(x, n).numpy(), [1.0, fn(x[1:2], 3).item(), 0.0])
    assert fn(0.5, ember.tensor([2, 3])).dtype is ember.float32
    assert fn(ember.tensor([1, 2]), 3).dtype is ember.float32
    assert fn(x.double(), n).dtype is ember.float64
    with pytest.raises(NotImplementedError, match=f'"{name}_cpu" not implemented for \'Half\''):
        fn(x.half(), 3)


# ---------------------------------------------------------------- native kernels off the CPU
def test_edge_values_on_every_device(any_device):
    """The edges the opencl C expressions spell out themselves (others take the CPU's kernels)."""
    nan, inf = float("nan"), float("inf")

    def on(values, dtype=ember.float32):
        return ember.tensor(values, dtype=dtype, device=any_device)
    r = ember.xlogy(on([0.0, 0.0, 2.0]), on([nan, 0.0, 0.5])).cpu().tolist()
    assert math.isnan(r[0]) and r[1:] == [0.0, pytest.approx(2 * math.log(0.5))]
    r = S.xlog1py(on([0.0, 0.0]), on([nan, -1.0])).cpu().tolist()
    assert math.isnan(r[0]) and r[1] == 0.0
    r = S.entr(on([0.0, -1.0, nan, 0.5])).cpu().tolist()
    assert r[:2] == [0.0, -inf] and math.isnan(r[2]) and r[3] == pytest.approx(0.5 * math.log(2))
    assert S.sinc(on([0.0, 0.5])).cpu().tolist() == [1.0, pytest.approx(2 / math.pi)]
    assert S.spherical_bessel_j0(on([0.0, inf, 1e-6])).cpu().tolist() == [1.0, 0.0, 1.0]
    assert S.ndtr(on([0.0, -inf, inf])).cpu().tolist() == [0.5, 0.0, 1.0]
    assert ember.copysign(on([2.0, 3.0]), on([-0.0, 0.0])).cpu().tolist() == [-2.0, 3.0]
    assert ember.lgamma(on([1.0, 0.0, -2.0, -inf])).cpu().tolist() == [0.0, inf, inf, inf]
    r = ember.digamma(on([0.0, -0.0, -1.0, 1.0, -2.5, 1e-8])).cpu().tolist()
    assert r[:2] == [-inf, inf] and math.isnan(r[2])
    assert r[3:] == pytest.approx([-0.5772156649, sp.digamma(-2.5), sp.digamma(1e-8)], rel=1e-5)
    assert ember.hypot(on([3e30, 0.0]), on([4e30, -2.0])).cpu().tolist() == [pytest.approx(5e30), 2.0]
    r = ember.i0(on([0.0, inf, 30.0, -2.5])).cpu().tolist()  # I(inf) is NaN in PyTorch (Cephes)
    assert r[0] == 1.0 and math.isnan(r[1]) and r[2:] == pytest.approx([sp.i0(30.0), sp.i0(-2.5)], rel=1e-5)
    r = S.i1e(on([-inf, 0.0, -2.0, 25.0])).cpu().tolist()
    assert r[:2] == [0.0, 0.0] and r[2:] == pytest.approx([sp.i1e(-2.0), sp.i1e(25.0)], rel=1e-5)
    r = S.erfcx(on([-30.0, 30.0, 0.0, 5.0])).cpu().tolist()
    assert r[0] == inf and r[1:] == pytest.approx([sp.erfcx(30.0), 1.0, sp.erfcx(5.0)], rel=1e-5)
    r = S.log_ndtr(on([-40.0, -10.0, 3.0, inf, -inf])).cpu().tolist()
    assert r[:3] == pytest.approx(list(sp.log_ndtr([-40.0, -10.0, 3.0])), rel=1e-5) and r[3:] == [0.0, -inf]
    r = S.zeta(on([2.0, 1.0, 0.5, 2.0, 3.0]), on([1.0, 2.0, 2.0, -1.0, 2.5])).cpu().tolist()
    assert r[0] == pytest.approx(math.pi ** 2 / 6) and r[1] == inf and math.isnan(r[2]) and r[3] == inf
    assert r[4] == pytest.approx(sp.zeta(3.0, 2.5), rel=1e-5)
    r = ember.polygamma(1, on([1.0, -1.5, 0.0])).cpu().tolist()
    assert r == [pytest.approx(math.pi ** 2 / 6), pytest.approx(sp.polygamma(1, -1.5), rel=1e-5), inf]
    a = ember.tensor([-4, 0, 0, 6, -7], device=any_device)
    b = ember.tensor([6, 0, -5, -9, 0], device=any_device)
    assert ember.gcd(a, b).cpu().tolist() == [2, 0, 5, 3, 7]
    assert ember.lcm(a, b).cpu().tolist() == [12, 0, 0, 18, 0]
    small = ember.tensor([100, -12], dtype=ember.int8, device=any_device)
    assert ember.lcm(small, ember.tensor([3, 8], dtype=ember.int8, device=any_device)).cpu().tolist() == [44, 24]


def test_node_names_are_pytorchs():
    x = t([0.5, 1.5], requires_grad=True)
    assert S.i0e(x).grad_fn.name() == "SpecialI0EBackward0"
    assert S.xlog1py(x, x).grad_fn.name() == "SpecialXlog1PyBackward0"
    assert S.gammaln(x).grad_fn.name() == "LgammaBackward0"
    assert ember.polygamma(2, x).grad_fn.name() == "PolygammaBackward0"
    assert ember.hypot(x, x).grad_fn.name() == "HypotBackward0"
