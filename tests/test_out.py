"""``out=``: every public ember function that takes it (PyTorch's list) writes its result
into ``out`` and returns it, on every device, with PyTorch's rules: a wrong shape is
resized (warning when ``out`` was not empty), a dtype that cannot hold the result raises,
autograd raises, several results take a tuple. The arguments of each op come from the
conformance database's samples, or from the table below for ops it has none for."""
import inspect
import warnings

import numpy as np
import pytest

import ember
from ember.testing import runner
from ember.testing.opdb import OP_DB


def _takes_out(name):
    fn = getattr(ember, name)
    return callable(fn) and getattr(fn, "accepts_out", False)


OUT_OPS = sorted(n for n in ember.__all__ if _takes_out(n))

def _spd(d):
    """A symmetric positive-definite 3x3 matrix (for the decompositions)."""
    return ember.tensor([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]], device=d)


# (args, kwargs) built on the device, for ops whose database entries do not apply
_EXPLICIT = {
    "arange": lambda d: ((5,), dict(device=d)),
    "hash_tensor": lambda d: ((ember.arange(6, device=d).reshape(2, 3), 1), {}),
    "linspace": lambda d: ((0.0, 1.0, 5), dict(device=d)),
    "logspace": lambda d: ((0.0, 1.0, 4), dict(device=d)),
    "eye": lambda d: ((3,), dict(device=d)),
    "zeros": lambda d: ((2, 3), dict(device=d)),
    "ones": lambda d: ((2, 3), dict(device=d)),
    "full": lambda d: (((2, 3), 1.5), dict(device=d)),
    "empty": lambda d: ((0,), dict(device=d)),
    "rand": lambda d: ((2, 3), dict(device=d)),
    "randn": lambda d: ((2, 3), dict(device=d)),
    "randint": lambda d: ((0, 10, (2, 3)), dict(device=d)),
    "randperm": lambda d: ((6,), dict(device=d)),
    "normal": lambda d: ((ember.zeros(4, device=d), ember.ones(4, device=d)), {}),
    "bernoulli": lambda d: ((ember.full((2, 3), 0.5, device=d),), {}),
    "multinomial": lambda d: ((ember.tensor([0.2, 0.3, 0.5], device=d), 4, True), {}),
    "hstack": lambda d: (([ember.ones(2, device=d), ember.zeros(3, device=d)],), {}),
    "vstack": lambda d: (([ember.ones(2, device=d), ember.zeros(2, device=d)],), {}),
    "stack": lambda d: (([ember.ones(2, device=d), ember.zeros(2, device=d)],), {}),
    "cat": lambda d: (([ember.ones(2, device=d), ember.zeros(3, device=d)],), {}),
    "concat": lambda d: (([ember.ones(2, device=d), ember.zeros(3, device=d)],), {}),
    "concatenate": lambda d: (([ember.ones(2, device=d), ember.zeros(3, device=d)],), {}),
    "bucketize": lambda d: ((ember.tensor([0.5, 2.5], device=d), ember.tensor([0.0, 1.0, 2.0], device=d)), {}),
    "searchsorted": lambda d: ((ember.tensor([0.0, 1.0, 2.0], device=d), ember.tensor([0.5, 2.5], device=d)), {}),
    "nonzero": lambda d: ((ember.tensor([[0.0, 1.0], [2.0, 0.0]], device=d),), {}),
    "tensordot": lambda d: ((ember.ones(2, 3, device=d), ember.ones(3, 4, device=d)), dict(dims=1)),
    "aminmax": lambda d: ((ember.tensor([[3.0, 1.0], [2.0, 5.0]], device=d),), dict(dim=1)),
    "kthvalue": lambda d: ((ember.tensor([[3.0, 1.0, 2.0]], device=d), 2), dict(dim=1)),
    "median": lambda d: ((ember.tensor([[3.0, 1.0, 2.0]], device=d),), dict(dim=1)),
    "max": lambda d: ((ember.tensor([[3.0, 1.0, 2.0]], device=d),), dict(dim=1)),
    "min": lambda d: ((ember.tensor([[3.0, 1.0, 2.0]], device=d),), dict(dim=1)),
    "sort": lambda d: ((ember.tensor([[3.0, 1.0, 2.0]], device=d),), {}),
    "topk": lambda d: ((ember.tensor([[3.0, 1.0, 2.0]], device=d), 2), {}),
    "msort": lambda d: ((ember.tensor([[3.0, 1.0], [2.0, 0.0]], device=d),), {}),
    "addbmm": lambda d: ((ember.ones(2, 4, device=d), ember.ones(3, 2, 5, device=d), ember.ones(3, 5, 4, device=d)),
                         dict(beta=0.5, alpha=2)),
    "addmv": lambda d: ((ember.ones(2, device=d), ember.ones(2, 3, device=d), ember.ones(3, device=d)), {}),
    "addcdiv": lambda d: ((ember.ones(3, device=d), ember.full((3,), 2.0, device=d), ember.full((3,), 4.0, device=d)),
                          dict(value=3)),
    "addcmul": lambda d: ((ember.ones(3, device=d), ember.full((3,), 2.0, device=d), ember.full((3,), 4.0, device=d)),
                          dict(value=3)),
    "clamp_max": lambda d: ((ember.tensor([1.0, 5.0], device=d), 2.0), {}),
    "clamp_min": lambda d: ((ember.tensor([1.0, 5.0], device=d), 2.0), {}),
    "diag": lambda d: ((ember.tensor([1.0, 2.0], device=d),), {}),
    "float_power": lambda d: ((ember.tensor([1.0, 2.0], device=d), 2),
                              {}) if d != "mps" else ((ember.tensor([1, 2], device="cpu"), 2), {}),
    "fmax": lambda d: ((ember.tensor([1.0, float("nan")], device=d), ember.tensor([0.0, 2.0], device=d)), {}),
    "fmin": lambda d: ((ember.tensor([1.0, float("nan")], device=d), ember.tensor([0.0, 2.0], device=d)), {}),
    "inner": lambda d: ((ember.ones(2, 3, device=d), ember.ones(4, 3, device=d)), {}),
    "vdot": lambda d: ((ember.tensor([1.0, 2.0], device=d), ember.tensor([3.0, 4.0], device=d)), {}),
    "isneginf": lambda d: ((ember.tensor([1.0, -float("inf")], device=d),), {}),
    "isposinf": lambda d: ((ember.tensor([1.0, float("inf")], device=d),), {}),
    "nanmean": lambda d: ((ember.tensor([1.0, float("nan"), 3.0], device=d),), {}),
    "nansum": lambda d: ((ember.tensor([1.0, float("nan"), 3.0], device=d),), {}),
    "deg2rad": lambda d: ((ember.tensor([180.0, -90.0], device=d),), {}),
    "rad2deg": lambda d: ((ember.tensor([3.0, -1.5], device=d),), {}),
    "logit": lambda d: ((ember.tensor([0.25, 0.5, 0.9], device=d),), dict(eps=1e-6)),
    "sgn": lambda d: ((ember.tensor([-2.0, 0.0, 3.0], device=d),), {}),
    "signbit": lambda d: ((ember.tensor([-2.0, -0.0, 0.0, 3.0], device=d),), {}),
    "take": lambda d: ((ember.tensor([[1.0, 2.0], [3.0, 4.0]], device=d), ember.tensor([0, 3], device=d)), {}),
    "polygamma": lambda d: ((1, ember.tensor([0.5, 2.0], device=d)), {}),  # (n, input): the order first
    # decompositions (ember.linalg's top-level forms)
    "cholesky": lambda d: ((_spd(d),), {}), "inverse": lambda d: ((_spd(d),), {}),
    "cholesky_inverse": lambda d: ((ember.linalg.cholesky(_spd(d)),), {}),
    "cholesky_solve": lambda d: ((ember.ones(3, 2, device=d), ember.linalg.cholesky(_spd(d))), {}),
    "qr": lambda d: ((_spd(d),), {}), "svd": lambda d: ((_spd(d),), {}), "slogdet": lambda d: ((_spd(d),), {}),
    "geqrf": lambda d: ((_spd(d),), {}), "matrix_power": lambda d: ((_spd(d), 2), {}),
    "orgqr": lambda d: (tuple(ember.geqrf(_spd(d))), {}),
    "ormqr": lambda d: ((*ember.geqrf(_spd(d)), ember.ones(3, 2, device=d)), {}),
    "triangular_solve": lambda d: ((ember.ones(3, 2, device=d), _spd(d).triu()), {}),
    "lu_solve": lambda d: ((ember.ones(3, 2, device=d), *ember.linalg.lu_factor(_spd(d))), {}),
    "lu_unpack": lambda d: (tuple(ember.linalg.lu_factor(_spd(d))), {}),
    "chain_matmul": lambda d: ((_spd(d), _spd(d)), {}), "nuclear_norm": lambda d: ((_spd(d),), {}),
    "frobenius_norm": lambda d: ((_spd(d), (0, 1)), {}),
    "cross": lambda d: ((ember.tensor([1.0, 2.0, 3.0], device=d), ember.tensor([0.0, 1.0, 0.5], device=d)),
                        dict(dim=0)),
    # stacking forms and the copying forms of the view ops
    "column_stack": lambda d: (([ember.ones(2, device=d), ember.zeros(2, 3, device=d)],), {}),
    "row_stack": lambda d: (([ember.ones(2, device=d), ember.zeros(2, device=d)],), {}),
    "dstack": lambda d: (([ember.ones(2, device=d), ember.zeros(2, device=d)],), {}),
    "diagflat": lambda d: ((ember.tensor([1.0, 2.0], device=d),), dict(offset=1)),
    "alias_copy": lambda d: ((_m(d),), {}), "detach_copy": lambda d: ((_m(d),), {}),
    "t_copy": lambda d: ((_m(d),), {}),
    "diagonal_copy": lambda d: ((_m(d),), dict(offset=1)),
    "diagonal_scatter": lambda d: ((_m(d), ember.ones(2, device=d)), dict(offset=1)),
    "expand_copy": lambda d: ((ember.ones(1, 3, device=d), (2, 3)), {}),
    "narrow_copy": lambda d: ((_m(d), 1, 0, 2), {}),
    "permute_copy": lambda d: ((_m(d), (1, 0)), {}),
    "select_copy": lambda d: ((_m(d), 0, 1), {}),
    "select_scatter": lambda d: ((_m(d), ember.ones(3, device=d), 0, 1), {}),
    "slice_copy": lambda d: ((_m(d), 1, 0, 2), {}),
    "slice_scatter": lambda d: ((_m(d), ember.ones(2, 2, device=d), 1, 0, 2), {}),
    "squeeze_copy": lambda d: ((ember.ones(2, 1, 3, device=d),), {}),
    "transpose_copy": lambda d: ((_m(d), 0, 1), {}),
    "unsqueeze_copy": lambda d: ((_m(d), 0), {}),
    "view_copy": lambda d: ((_m(d), (3, 2)), {}),
    "view_as_complex_copy": lambda d: ((ember.tensor([[1.0, 2.0], [3.0, 4.0]], device=d),), {}),
    "view_as_real_copy": lambda d: ((ember.view_as_complex(ember.tensor([[1.0, 2.0], [3.0, 4.0]], device=d)),), {}),
}


def _m(d):
    """A 2x3 float matrix with distinct values (for the view-copy forms)."""
    return ember.arange(6.0, device=d).reshape(2, 3)
_RANDOM = {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial"}


def _database_args(name, device):
    """(args, kwargs) of the first float32 (or other supported) sample of ``name``'s entries."""
    have = runner.supported_dtypes(device)
    for op in OP_DB:
        if not isinstance(op.op, str) or (op.op != name and name not in op.aliases):
            continue
        for dtype in ("float32", "int64", "bool") + op.dtypes:
            if dtype not in op.dtypes or dtype not in have:
                continue
            for sample in op.samples(dtype):
                if sample.layout != "contiguous" or not isinstance(sample.input, np.ndarray):
                    continue
                if any(isinstance(v, ember.dtype) for v in sample.kwargs.values()):
                    continue
                built = runner.Built()
                inp, args, kwargs = runner.build((sample.input, sample.args, sample.kwargs), device,
                                                 sample.layout, built)
                return (inp, *args), kwargs
    return None


def _args(name, device):
    explicit = _EXPLICIT.get(name)
    if explicit is not None:
        return explicit(device)
    found = _database_args(name, device)
    if found is None:
        raise AssertionError(f"no arguments known for ember.{name}: add it to _EXPLICIT in tests/test_out.py")
    return found


def _call(name, args, kwargs, **extra):
    if name in _RANDOM:
        ember.manual_seed(7)
    return getattr(ember, name)(*args, **kwargs, **extra)


def _empty_like(t, shape=None):
    return ember.empty(t.shape if shape is None else shape, dtype=t.dtype, device=t.device)


def _values(t):
    return runner.to_numpy(t.float() if t.dtype in (ember.float16, ember.bfloat16) else t)


def _same(a, b):
    assert a.dtype is b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(_values(a), _values(b))


def test_out_ops_are_exactly_pytorchs():
    """The functions with out= are PyTorch's (checked against a list recorded from PyTorch 2.13)."""
    assert {"add", "sum", "max", "sort", "zeros", "arange", "matmul", "where", "sqrt", "eq"} <= set(OUT_OPS)
    for name in ("relu", "clone", "reshape", "isnan", "softmax_", "zeros_like", "argsort", "rand_like"):
        assert name not in OUT_OPS
    for name in OUT_OPS:
        fn = getattr(ember, name)
        assert "out" in inspect.signature(fn).parameters, name
        method = getattr(ember.Tensor, name, None)
        if method is not None and callable(method):  # methods take no out=, as in PyTorch
            assert "out" not in inspect.signature(method).parameters, name


@pytest.mark.parametrize("name", OUT_OPS)
def test_out_is_written_and_returned(name, any_device):
    args, kwargs = _args(name, any_device)
    expected = _call(name, args, kwargs)
    several = isinstance(expected, tuple)
    parts = expected if several else (expected,)
    outs = tuple(_empty_like(p) for p in parts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an out of the right shape is written without a warning
        got = _call(name, args, kwargs, out=outs if several else outs[0])
    got_parts = got if several else (got,)
    assert all(g is o for g, o in zip(got_parts, outs)), "out itself must be returned"
    if several:
        assert type(got) is type(expected)
    for g, e in zip(got_parts, parts):
        _same(g, e)
    # an empty out of another shape is resized without a word; a non-empty one with a warning
    resized = tuple(_empty_like(p, (0,)) for p in parts)
    _call(name, args, kwargs, out=resized if several else resized[0])
    for r, e in zip(resized, parts):
        _same(r, e)
    if all(p.numel() != 1 for p in parts):
        wrong = tuple(_empty_like(p, (1,)) for p in parts)
        with pytest.warns(UserWarning, match="was resized"):
            _call(name, args, kwargs, out=wrong if several else wrong[0])


def test_out_dtype_and_device_rules():
    x = ember.tensor([1.5, 2.5])
    into_float64 = ember.empty(2, dtype=ember.float64)
    assert ember.add(x, 1, out=into_float64) is into_float64 and into_float64.tolist() == [2.5, 3.5]
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        ember.add(x, 1, out=ember.empty(2, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="expected out tensor to have dtype int64, but got int32"):
        ember.argmax(x, out=ember.empty((), dtype=ember.int32))
    with pytest.raises(RuntimeError, match="expected out tensor to have dtype float32, but got float64"):
        ember.max(ember.ones(2, 3), 1, out=(ember.empty(2, dtype=ember.float64), ember.empty(2, dtype=ember.int64)))
    with pytest.raises(TypeError, match="must be a tuple of 2 Tensors"):
        ember.sort(x, out=ember.empty(2))
    with pytest.raises(TypeError, match="argument 'out' must be Tensor"):
        ember.exp(x, out=[1, 2])
    with pytest.raises(TypeError, match="unexpected keyword argument 'out'"):
        ember.relu(x, out=ember.empty(2))  # PyTorch's relu has no out=


def test_out_refuses_autograd():
    leaf = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="add\\(\\): functions with out=... arguments don't support automatic "
                                           "differentiation, but one of the arguments requires grad"):
        ember.add(leaf, 1, out=ember.empty(2))
    with ember.no_grad():
        out = ember.empty(2)
        assert ember.add(leaf, 1, out=out) is out and out.tolist() == [2.0, 2.0]


def test_out_may_be_a_view_and_writes_through_it():
    base = ember.zeros(2, 3)
    ember.mul(ember.ones(3), 4, out=base[1])
    assert base.tolist() == [[0.0, 0.0, 0.0], [4.0, 4.0, 4.0]]
