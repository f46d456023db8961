"""Forward-mode AD (ember.autograd.forward_ad): every op of the op database against float64
central differences of its numpy reference along a random tangent, plus PyTorch's rules for
levels, make_dual/unpack_dual, views and in-place ops."""
import zlib

import numpy as np
import pytest

import ember
import ember.autograd.forward_ad as fwAD
from ember.testing import dtypes as D
from ember.testing import runner
from ember.testing.opdb import OP_DB
from ember.testing.opinfo import map_arrays

from conftest import DEVICES

# the JVP cases: each differentiable op's first float64 sample (the op's other samples
# exercise the same rules); a few ops whose samples sit on kinks are left to the checks below
_CASES = [(op, op.samples("float64")[0]) for op in OP_DB
          if op.supports_grad and "float64" in op.dtypes and op.samples("float64")]
# as_strided (and unfold, made of it) views the storage of the input's base, and the base of the view
# make_dual returns has no tangent (as in PyTorch): see test_as_strided_of_a_dual_base below
_VIEWS_OF_THE_STORAGE = {"as_strided", "unfold"}
_CASES = [(op, s) for op, s in _CASES if s.grad and op.name not in _VIEWS_OF_THE_STORAGE]
_COMPLEX_CASES = [(op, op.samples("complex128")[0]) for op in OP_DB
                  if op.supports_grad and "complex128" in op.dtypes and op.samples("complex128")]
_COMPLEX_CASES = [(op, s) for op, s in _COMPLEX_CASES if s.grad]


def _jvp_check(op, sample, device, eps=1e-6):
    rng = np.random.default_rng(zlib.crc32(f"jvp/{op.name}/{sample.desc}".encode()))
    tangents = []

    def tangent_for(a):
        if D.is_inexact_array(a):
            v = rng.standard_normal(a.shape)
            if D.is_complex_array(a):
                v = v + 1j * rng.standard_normal(a.shape)
            tangents.append(v)
            return v
        tangents.append(None)
        return a

    arrays = (sample.input, sample.args, sample.kwargs)
    map_arrays(arrays, tangent_for)
    upcast = map_arrays(arrays, runner._upcast)
    counter = iter(range(10 ** 6))

    def shifted(sign):
        k = iter(tangents)
        return map_arrays(upcast, lambda a: a + sign * eps * v if (v := next(k)) is not None else a)

    plus = runner._flatten_reference(runner.reference(op, sample, "float64", shifted(1)))
    minus = runner._flatten_reference(runner.reference(op, sample, "float64", shifted(-1)))
    fn = runner.variants(op, sample)[0][1]
    with fwAD.dual_level():
        def make(a):
            t = ember.tensor(np.array(a), device=device)
            v = tangents[next(counter)]
            if v is None:
                return t
            return fwAD.make_dual(t, ember.tensor(np.asarray(v, dtype=a.dtype), device=device))
        inp, args, kwargs = map_arrays(arrays, make)
        outs = runner._flatten_outputs(fn(inp, *args, **kwargs))
        got = [fwAD.unpack_dual(o).tangent for o in outs]
    dtype = runner.grad_dtype(device)
    rtol, atol = (op.grad_tol if dtype == "float64" else None) or runner.GRAD_TOLERANCES[dtype]
    for k, (o, g) in enumerate(zip(outs, got)):
        if not (o.dtype.is_floating_point or o.dtype.is_complex):
            assert g is None, f"{op.name}: a tangent on non-float output {k}"
            continue
        want = (plus[k] - minus[k]) / (2 * eps)
        where = f"{op.name} ({sample.desc}) output {k} tangent on {device}"
        if g is None:
            assert np.allclose(want, 0, atol=atol), f"{where}: no tangent, expected max {np.abs(want).max():.3g}"
            continue
        assert tuple(g.shape) == tuple(o.shape), f"{where}: shape {list(g.shape)} vs {list(o.shape)}"
        runner.assert_matches_reference(runner.to_numpy(g), want, dtype, rtol, atol, where)


@pytest.mark.parametrize("op,sample", _CASES, ids=[f"{op.name}-{s.desc}" for op, s in _CASES])
def test_jvp_matches_finite_differences(op, sample):
    _jvp_check(op, sample, "cpu")


@pytest.mark.parametrize("op,sample", _COMPLEX_CASES, ids=[f"{op.name}-{s.desc}" for op, s in _COMPLEX_CASES])
def test_jvp_complex_matches_finite_differences(op, sample):
    _jvp_check(op, sample, "cpu")


# ---------------------------------------------------------------- nn functions (fused composites on
# some devices, decompositions on others) on every device, against central differences on the CPU
F = ember.nn.functional
_FUNCTIONAL = {
    "softmax": (lambda x: F.softmax(x, dim=-1), [(3, 5)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), [(4, 3)]),
    "gelu": (lambda x: F.gelu(x), [(7,)]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [(7,)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [(2, 4), (3, 4), (3,)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1), [(1, 2, 5, 5), (3, 2, 3, 3), (3,)]),
    "conv_transpose1d": (lambda x, w: F.conv_transpose1d(x, w, stride=2), [(1, 2, 4), (2, 3, 3)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    "batch_norm": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [(5, 3), (3,), (3,)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [(1, 2, 4, 4)]),
    "bmm": (lambda a, b: ember.bmm(a, b), [(2, 3, 4), (2, 4, 2)]),
    "where_index": (lambda x, y: ember.where(x > 0, x, y)[1:, ::2].sum(0), [(3, 4), (3, 4)]),
    "mse_loss": (lambda x, y: F.mse_loss(x.tanh(), y), [(3, 4), (3, 4)]),
    "binary_cross_entropy": (lambda x, y: F.binary_cross_entropy(x.sigmoid(), y.sigmoid()), [(5,), (5,)]),
}


@pytest.mark.parametrize("name", sorted(_FUNCTIONAL))
def test_jvp_nn_functions(name, any_device):
    fn, shapes = _FUNCTIONAL[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    xs = [rng.standard_normal(s) for s in shapes]
    if name == "max_pool2d":  # no ties: the max is differentiable
        xs = [rng.permutation(32).reshape(shapes[0]) * 0.1]
    vs = [rng.standard_normal(s) for s in shapes]
    eps = 1e-6

    def at(sign):
        return runner.to_numpy(fn(*[ember.tensor(x + sign * eps * v) for x, v in zip(xs, vs)]))
    want = (at(1) - at(-1)) / (2 * eps)
    dtype = ember.float64 if runner.grad_dtype(any_device) == "float64" else ember.float32
    with fwAD.dual_level():
        duals = [fwAD.make_dual(ember.tensor(x, dtype=dtype, device=any_device),
                                ember.tensor(v, dtype=dtype, device=any_device)) for x, v in zip(xs, vs)]
        out = fn(*duals)
        tangent = fwAD.unpack_dual(out).tangent
    assert tangent is not None, f"{name}: no tangent on {any_device}"
    rtol, atol = runner.GRAD_TOLERANCES[runner.grad_dtype(any_device)]
    runner.assert_matches_reference(runner.to_numpy(tangent), want, runner.grad_dtype(any_device), rtol, atol,
                                    f"{name} tangent on {any_device}")


# ---------------------------------------------------------------- levels, make_dual, unpack_dual
def _t(*shape, seed=0):
    return ember.tensor(np.random.default_rng(seed).standard_normal(shape))


def test_make_dual_needs_a_level_and_unpack_outside_gives_none():
    x = _t(3)
    with pytest.raises(RuntimeError, match="no level exists"):
        fwAD.make_dual(x, _t(3))
    primal, tangent = fwAD.unpack_dual(x)
    assert primal is x and tangent is None
    assert isinstance(fwAD.unpack_dual(x), fwAD.UnpackedDualTensor)


def test_levels_do_not_nest_and_exit_checks():
    with fwAD.dual_level() as level:
        assert level == 0
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            fwAD.enter_dual_level()
    with pytest.raises(RuntimeError, match="Dual level must be a positive number"):
        fwAD.exit_dual_level()
    assert fwAD.enter_dual_level() == 0
    fwAD.exit_dual_level(level=0)


def test_make_dual_checks_shape_and_dtype():
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match=r"of size \[3\] while the given forward gradient is of size \[4\]"):
            fwAD.make_dual(_t(3), _t(4))
        with pytest.raises(ValueError, match="Expected primal to be floating point or complex, but got: ember.int64"):
            fwAD.make_dual(ember.arange(3), _t(3))
        with pytest.raises(ValueError, match="Expected tangent to be floating point or complex"):
            fwAD.make_dual(_t(3), ember.arange(3))


def test_tangents_end_with_the_level_and_non_float_results_have_none():
    x, v = _t(3), _t(3, seed=1)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        y = d * 2
        np.testing.assert_allclose(fwAD.unpack_dual(y).tangent.numpy(), 2 * v.numpy())
        assert fwAD.unpack_dual(d > 0).tangent is None
        assert fwAD.unpack_dual(d.argmax()).tangent is None
        assert fwAD.unpack_dual(x).tangent is None       # make_dual gives a new tensor
        primal = fwAD.unpack_dual(d).primal
        assert fwAD.unpack_dual(primal).tangent is None
        assert fwAD.unpack_dual(d.detach()).tangent is None
    assert fwAD.unpack_dual(y).tangent is None


def test_make_dual_is_a_view_for_reverse_mode():
    x = _t(3).requires_grad_()
    with fwAD.dual_level():
        d = fwAD.make_dual(x, _t(3, seed=1))
        (d * d).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())


def test_inplace_ops_and_views_carry_tangents(any_device):
    x, v = _t(3).float().to(any_device), _t(3, seed=1).float().to(any_device)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        c = d.clone()
        c.mul_(3)
        host = runner.to_numpy
        np.testing.assert_allclose(host(fwAD.unpack_dual(c).tangent), 3 * host(v), rtol=1e-6)
        # a view of a plain tensor written with a dual value: the base gets a tangent, zero elsewhere
        b = ember.zeros(3, device=any_device)
        b[1:].copy_(d[:2])
        np.testing.assert_allclose(host(fwAD.unpack_dual(b).tangent), [0, *host(v)[:2]])
        # writing into a view of a dual tensor updates the base's tangent
        e = d * 1
        e[0:1].mul_(5)
        want = host(v).copy()
        want[0] *= 5
        np.testing.assert_allclose(host(fwAD.unpack_dual(e).tangent), want, rtol=1e-6)
        # a broadcast tangent is written in place too
        f = d + ember.zeros(2, 3, device=any_device)
        f.mul_(2)
        np.testing.assert_allclose(host(fwAD.unpack_dual(f).tangent), 2 * np.broadcast_to(host(v), (2, 3)),
                                   rtol=1e-6)
        # a view's tangent is a view of its base's tangent
        view = e[1:]
        assert fwAD.unpack_dual(view).tangent._base is not None


def test_as_strided_of_a_dual_base():
    x, v = _t(6), _t(6, seed=1)
    with fwAD.dual_level():
        base = fwAD.make_dual(x, v) * 1
        windows = base.as_strided((3, 2), (2, 1))
        tangent = fwAD.unpack_dual(windows).tangent
    np.testing.assert_allclose(tangent.numpy(), np.lib.stride_tricks.as_strided(
        v.numpy(), (3, 2), (16, 8)))


def test_custom_function_jvp_and_its_absence():
    class Square(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_forward(x)
            return x * x

        @staticmethod
        def jvp(ctx, t):
            (x,) = ctx.saved_tensors
            return 2 * x * t

    class Double(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    x, v = _t(3), _t(3, seed=1)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, v)
        tangent = fwAD.unpack_dual(Square.apply(d)).tangent
        np.testing.assert_allclose(tangent.numpy(), 2 * x.numpy() * v.numpy())
        with pytest.raises(NotImplementedError, match="You must implement the jvp function"):
            Double.apply(d)
        assert fwAD.unpack_dual(Double.apply(x)).tangent is None   # no tangent in: no jvp needed


def test_tangents_move_with_the_tensor(any_device):
    x, v = _t(3).float(), _t(3, seed=1).float()
    with fwAD.dual_level():
        moved = fwAD.make_dual(x, v).to(any_device) * 3
        back = moved.cpu()
        np.testing.assert_allclose(fwAD.unpack_dual(back).tangent.numpy(), 3 * v.numpy(), rtol=1e-6)
        assert fwAD.unpack_dual(moved).tangent.device == moved.device


def test_reverse_over_forward():
    # d/dx <u, J_sin(x) v> = -sin(x) * u * v
    x = _t(4).requires_grad_()
    v, u = _t(4, seed=1), _t(4, seed=2)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(fwAD.make_dual(x, v).sin()).tangent
    (g,) = ember.autograd.grad((tangent * u).sum(), x)
    np.testing.assert_allclose(g.numpy(), -np.sin(x.detach().numpy()) * u.numpy() * v.numpy(), rtol=1e-10)


def test_forward_over_reverse_uses_saved_output_tangents():
    # the Hessian-vector product of sum(exp(x) * tanh(x)) along v; exp's and tanh's backward read their outputs
    x, v = _t(4), _t(4, seed=1)
    with fwAD.dual_level():
        d = fwAD.make_dual(x.clone().requires_grad_(), v)
        with ember.enable_grad():
            d_leaf = d
            (g,) = ember.autograd.grad((ember.exp(d_leaf) * ember.tanh(d_leaf)).sum(), d_leaf, create_graph=True)
        hvp = fwAD.unpack_dual(g).tangent
    a = x.numpy()
    e, t = np.exp(a), np.tanh(a)
    second = e * t + 2 * e * (1 - t ** 2) + e * (-2 * t * (1 - t ** 2))
    np.testing.assert_allclose(hvp.detach().numpy(), second * v.numpy(), rtol=1e-9)


def test_only_rare_ops_use_the_double_vjp_fallback():
    import ember.ops.jvp_rules as rules
    common = {"add", "mul", "matmul", "sum", "exp", "softmax", "conv", "layer_norm", "index", "view", "where"}
    assert not common & set(rules.DOUBLE_VJP)
    from ember.dispatch.ops import OPS
    missing = [n for n, o in OPS.items() if o.rule is not None and o.jvp is None]
    assert not missing, f"differentiable ops without a forward rule: {missing}"


# ---------------------------------------------------------------- ember.func
func = ember.func


def test_func_jvp_and_errors():
    x, v = _t(3, 2), _t(3, 2, seed=1)
    out, tangent = func.jvp(lambda a: (a.sin() * 2).sum(0), (x,), (v,))
    np.testing.assert_allclose(tangent.numpy(), (2 * np.cos(x.numpy()) * v.numpy()).sum(0))
    np.testing.assert_allclose(out.numpy(), (2 * np.sin(x.numpy())).sum(0))
    out, tangent, aux = func.jvp(lambda a: (a * 3, a.sum()), (x,), (v,), has_aux=True)
    np.testing.assert_allclose(tangent.numpy(), 3 * v.numpy())
    assert aux.shape == ()
    with pytest.raises(RuntimeError, match="The output of f is independent of the inputs"):
        func.jvp(lambda a: ember.ones(2), (x,), (v,), strict=True)
    _, zero = func.jvp(lambda a: ember.ones(2), (x,), (v,))
    assert not zero.numpy().any()
    with pytest.raises(RuntimeError, match=r"should be a tuple: \(output, aux\) if has_aux is True"):
        func.jvp(lambda a: a * 2, (x,), (v,), has_aux=True)
    with pytest.raises(RuntimeError, match="Expected primals to be a tuple"):
        func.jvp(lambda a: a, x, v)
    with pytest.raises(RuntimeError, match="same python structure"):
        func.jvp(lambda a: a, (x,), (v, v))
    with pytest.raises(RuntimeError, match="different size"):
        func.jvp(lambda a: a, (x,), (_t(3),))
    with pytest.raises(RuntimeError, match=r"expected f\(\*primals\) to return only tensors, got unsupported type"):
        func.jvp(lambda a: 1.0, (x,), (v,))


def test_jacfwd_shapes_argnums_pytrees_and_aux():
    x = _t(3, 2)
    jac = func.jacfwd(lambda a: (a.sin() * 2).sum(0))(x)
    want = np.zeros((2, 3, 2))
    for i in range(3):
        for j in range(2):
            want[j, i, j] = 2 * np.cos(x.numpy()[i, j])
    np.testing.assert_allclose(jac.numpy(), want)
    assert not jac.requires_grad
    a, b = _t(2), _t(2, seed=1)
    ja, jb = func.jacfwd(lambda p, q: (p * q).sum(), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ja.numpy(), b.numpy())
    np.testing.assert_allclose(jb.numpy(), a.numpy())
    tree = func.jacfwd(lambda p: {"double": p * 2, "total": p.sum()})(a)
    np.testing.assert_allclose(tree["double"].numpy(), 2 * np.eye(2))
    np.testing.assert_allclose(tree["total"].numpy(), [1, 1])
    jac, aux = func.jacfwd(lambda p: (p * 2, p.cos()), has_aux=True)(a)
    np.testing.assert_allclose(aux.numpy(), np.cos(a.numpy()))
    dropout = lambda p: ember.nn.functional.dropout(p, 0.5)  # noqa: E731
    with pytest.raises(RuntimeError, match="called random operation while in randomness error mode"):
        func.jacfwd(dropout)(ember.ones(6))
    same = func.jacfwd(dropout, randomness="same")(ember.ones(6)).numpy()
    assert np.count_nonzero(same - np.diag(np.diag(same))) == 0   # one mask for every column: diagonal
    assert set(np.diag(same)) <= {0.0, 2.0}
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        func.jacfwd(lambda p: p, randomness="sometimes")


def test_linearize_and_hessian():
    x, v = _t(3, 2), _t(3, 2, seed=1)
    out, jvp_fn = func.linearize(lambda a: a.exp().sum(0), x)
    np.testing.assert_allclose(jvp_fn(v).numpy(), (np.exp(x.numpy()) * v.numpy()).sum(0))
    with pytest.raises(RuntimeError, match="doesn't match the shape"):
        jvp_fn(_t(2))
    y = _t(3)
    h = func.hessian(lambda a: (a.sin() * a).sum())(y)
    a = y.numpy()
    np.testing.assert_allclose(h.numpy(), np.diag(2 * np.cos(a) - a * np.sin(a)), atol=1e-12)
    m = _t(3, 3, seed=3)
    h2 = func.hessian(lambda p: (p @ m @ p).tanh())(y)
    # central differences of the reverse-mode gradient
    def grad_at(p):
        p = ember.tensor(p).requires_grad_()
        return ember.autograd.grad((p @ m @ p).tanh(), p)[0].numpy()
    eps = 1e-6
    want = np.stack([(grad_at(a + eps * e) - grad_at(a - eps * e)) / (2 * eps) for e in np.eye(3)], 1)
    np.testing.assert_allclose(h2.numpy(), want, rtol=1e-6, atol=1e-8)


# a representative op of each rule kind, on the other devices (the CPU runs them all above)
_ON_DEVICES = ("exp tanh sigmoid abs add mul div pow maximum where sum amax prod cumsum matmul bmm "
               "permute cat getitem gather scatter sort index_select softmax lgamma").split()
_DEVICE_CASES = [(op, s) for op, s in _CASES if op.name in _ON_DEVICES]


_OTHER_DEVICES = [d for d in DEVICES if d != "cpu"]  # the CPU runs every op in test_jvp_matches_finite_differences


@pytest.mark.parametrize("other_device", _OTHER_DEVICES)
@pytest.mark.parametrize("op,sample", _DEVICE_CASES, ids=[f"{op.name}-{s.desc}" for op, s in _DEVICE_CASES])
def test_jvp_on_other_devices(op, sample, other_device):
    if runner.grad_dtype(other_device) != "float64":
        sample = runner._rounded_sample(sample, "float32")
    _jvp_check(op, sample, other_device)


def test_compiled_functions_run_eagerly_under_forward_ad():
    f = ember.compile(lambda a: (a.sin() * a).exp().sum())
    x, v = _t(4), _t(4, seed=1)
    f(x)  # captured once outside forward AD
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(f(fwAD.make_dual(x, v))).tangent
    a = x.numpy()
    want = (np.exp(np.sin(a) * a) * (np.cos(a) * a + np.sin(a)) * v.numpy()).sum()
    np.testing.assert_allclose(tangent.numpy(), want)
