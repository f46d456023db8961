"""Run OpInfos on a device and compare with the float64 numpy references.

Independent of pytest: every check is a function of (OpInfo, sample, device, dtype)
that returns quietly or raises ``ConformanceError`` (an AssertionError) naming the
op, dtype, device, sample and the size of the error. ``cases(device)`` lists every
check for a device, each with a readable id, for whatever harness runs them.

Checks:
  check_forward   each form of the op (function, aliases, method, operator) against
                  the reference: values within the dtype's tolerance, shape, dtype,
                  and inputs left unchanged
  check_grad      analytical gradient on the device (float64 where supported) against
                  central differences of the float64 reference, for a random upstream
                  gradient
  check_inplace   ``x.op_(...)`` (and ``x op= y``) writes the out-of-place result into
                  x (through views), returns x, and raises where PyTorch does
  check_view      a view shares memory with its base in both directions (and
                  check_view_grad: gradients through in-place ops on views)
  check_promotion promote_types / result_type against PyTorch's table
"""
from __future__ import annotations

import warnings
import zlib

import numpy as np

from ember.testing import dtypes as D
from ember.testing.opinfo import STRIDED, TRANSPOSED, map_arrays


class ConformanceError(AssertionError):
    """A device computed something other than what PyTorch specifies."""


# ---------------------------------------------------------------- devices
def _ember():
    import ember
    return ember


def backend(device: str):
    from ember.dispatch.registry import REGISTRY
    REGISTRY.load()
    return REGISTRY.available_backend(device.split(":")[0])


def supported_dtypes(device: str) -> set:
    return {d.name for d in backend(device).supported_dtypes()}


def grad_dtype(device: str) -> str:
    """The dtype gradients are checked in: float64 where the device has it."""
    return "float64" if "float64" in supported_dtypes(device) else "float32"


def to_numpy(t) -> np.ndarray:
    """A host copy of a tensor's values."""
    return np.array(t.detach().cpu().numpy(), copy=True)


# ---------------------------------------------------------------- building inputs
_GARBAGE = {"bool": True}


def _garbage(dtype_name, for_grad):
    if dtype_name in _GARBAGE:
        return _GARBAGE[dtype_name]
    if D.is_inexact(dtype_name):
        return 0.0 if for_grad else np.nan  # NaN: a kernel reading outside the view shows it
    return 7


class Built:
    """Tensors made from a sample's arrays, and how to get at their leaves' gradients."""

    def __init__(self):
        # (leaf tensor, source array, leaf gradient -> gradient of the array, slot number, untouched)
        self.leaves = []
        # (tensor given to the op, source array, base tensor, untouched); untouched is None or
        # (base -> the base elements outside the view, their original values)
        self.views = []


def build(obj, device, layout, built, requires_grad=False):
    """``obj`` with every array made a tensor on ``device`` in the sample's ``layout``."""
    ember = _ember()
    slot = [0]

    def make(a):
        n = slot[0]
        slot[0] += 1
        name = D.name_of(a.dtype)
        rg = requires_grad and D.is_inexact(name)
        kind = layout if a.ndim else "contiguous"
        if kind == TRANSPOSED and a.ndim < 2:
            kind = STRIDED
        if kind == TRANSPOSED:
            base = ember.tensor(np.array(np.swapaxes(a, -1, -2), order="C"), device=device, requires_grad=rg)
            t = base.transpose(-1, -2)
            untouched = None
            grad_of = lambda g: np.swapaxes(g, -1, -2)  # noqa: E731
        elif kind == STRIDED:
            big = np.full(a.shape[:-1] + (2 * a.shape[-1],), _garbage(name, rg), dtype=a.dtype)
            big[..., ::2] = a
            base = ember.tensor(big, device=device, requires_grad=rg)
            t = base[..., ::2]
            untouched = (lambda b: b[..., 1::2], big[..., 1::2].copy())
            grad_of = lambda g: g[..., ::2]  # noqa: E731
        else:
            base = t = ember.tensor(np.array(a, order="C"), device=device, requires_grad=rg)
            untouched = None
            grad_of = lambda g: g  # noqa: E731
        if rg:
            built.leaves.append((base, a, grad_of, n, untouched))
        built.views.append((t, a, base, untouched))
        return t

    return map_arrays(obj, make)


def _upcast(a):
    """Reference inputs: floats to float64, integers to int64, bool kept."""
    if a.dtype == np.bool_:
        return np.array(a)
    if D.is_complex_array(a):
        return a.astype(np.complex128)
    if D.is_float_array(a):
        return a.astype(np.float64)
    return a.astype(np.int64)


def reference(op, sample, dtype, arrays=None):
    """Run the numpy reference on a sample (or on replacement ``arrays``)."""
    inp, args, kwargs = arrays if arrays is not None else (sample.input, sample.args, sample.kwargs)
    inp, args, kwargs = map_arrays((inp, args, kwargs), _upcast)
    if op.ref_dtype:
        kwargs = dict(kwargs, test_dtype=dtype)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's "mean of empty slice" and such
        return op.ref(inp, *args, **kwargs)


# ---------------------------------------------------------------- outputs
def _flatten_outputs(out):
    from ember.core.tensor import Tensor
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten_outputs(o)]
    raise TypeError(f"an op returned {type(out).__name__}, not a tensor or a sequence of tensors")


def _flatten_reference(out):
    if isinstance(out, (tuple, list)):
        return [r for o in out for r in _flatten_reference(o)]
    return [np.asarray(out)]


def _expected_dtypes(op, sample, dtype, n):
    r = op.expected_dtypes(sample, dtype)
    if isinstance(r, str):
        return [r] * n
    if len(r) != n:
        raise ConformanceError(f"{op.name}: the OpInfo lists {len(r)} result dtypes for {n} outputs")
    return list(r)


def _context(op, variant, dtype, device, sample):
    return f"{op.name} [{variant}] dtype={dtype} device={device} sample='{sample.desc}'"


def assert_matches_reference(actual, expected, dtype, rtol, atol, where):
    """``actual`` (host array of ``dtype``) against the float64/integer ``expected``."""
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        raise ConformanceError(f"{where}: shape {list(actual.shape)}, expected {list(expected.shape)}")
    if D.is_complex(dtype) or actual.dtype.kind == "c" or expected.dtype.kind == "c":
        return _assert_matches_complex(actual, expected, rtol, atol, where)
    if not D.is_float(dtype):
        want = expected.astype(D.NUMPY[dtype])
        bad = actual != want
        if bad.any():
            i = tuple(int(v) for v in np.argwhere(bad)[0])
            err = np.abs(actual.astype(np.float64) - want.astype(np.float64))
            rel = err / np.maximum(np.abs(want.astype(np.float64)), 1.0)
            raise ConformanceError(f"{where}: {int(bad.sum())} of {bad.size} elements differ (exact dtype); "
                                   f"max abs err {err.max():.6g}, max rel err {rel.max():.6g}; "
                                   f"at {list(i)} got {actual[i]!r}, expected {want[i]!r}")
        return
    a = actual.astype(np.float64)
    e = expected.astype(np.float64)
    with np.errstate(all="ignore"):
        in_dtype = e.astype(D.NUMPY[dtype]).astype(np.float64)
        e = np.where(np.isinf(in_dtype) & np.isfinite(e), in_dtype, e)  # overflow in the dtype is the answer
        finite = np.isfinite(a) & np.isfinite(e)
        diff = np.where(finite, np.abs(a - e), 0.0)
        rel = np.where(finite, diff / np.maximum(np.abs(e), np.finfo(np.float64).tiny), 0.0)
        bad_value = finite & (diff > atol + rtol * np.abs(e))
        bad_special = ~finite & ~(np.isnan(a) & np.isnan(e)) & (a != e)  # NaN or inf where the other is not
    bad = bad_value | bad_special
    if bad.any():
        i = tuple(int(v) for v in np.argwhere(bad)[0])
        special = f", {int(bad_special.sum())} NaN/inf mismatches" if bad_special.any() else ""
        raise ConformanceError(
            f"{where}: {int(bad.sum())} of {bad.size} elements out of tolerance (rtol={rtol}, atol={atol}){special}; "
            f"max abs err {float(diff.max(initial=0.0)):.6g}, max rel err {float(rel.max(initial=0.0)):.6g}; "
            f"at {list(i)} got {a[i]!r}, expected {e[i]!r}")


def _assert_matches_complex(actual, expected, rtol, atol, where):
    """Complex values: |actual - expected| within atol + rtol * |expected|; where either is not finite,
    each part must agree (NaN with NaN)."""
    a = actual.astype(np.complex128)
    e = expected.astype(np.complex128)
    with np.errstate(all="ignore"):
        finite = np.isfinite(a) & np.isfinite(e)
        diff = np.where(finite, np.abs(a - e), 0.0)
        bad_value = finite & (diff > atol + rtol * np.abs(e))
        same_part = lambda x, y: (x == y) | (np.isnan(x) & np.isnan(y))  # noqa: E731
        bad_special = ~finite & ~(same_part(a.real, e.real) & same_part(a.imag, e.imag))
    bad = bad_value | bad_special
    if bad.any():
        i = tuple(int(v) for v in np.argwhere(bad)[0])
        special = f", {int(bad_special.sum())} NaN/inf mismatches" if bad_special.any() else ""
        raise ConformanceError(
            f"{where}: {int(bad.sum())} of {bad.size} complex elements out of tolerance (rtol={rtol}, atol={atol})"
            f"{special}; max abs err {float(diff.max(initial=0.0)):.6g}; at {list(i)} got {a[i]!r}, "
            f"expected {e[i]!r}")


def _compare_outputs(op, sample, dtype, device, variant, out, ref):
    outs = _flatten_outputs(out)
    refs = _flatten_reference(ref)
    where = _context(op, variant, dtype, device, sample)
    if len(outs) != len(refs):
        raise ConformanceError(f"{where}: {len(outs)} outputs, expected {len(refs)}")
    for k, (t, r, want) in enumerate(zip(outs, refs, _expected_dtypes(op, sample, dtype, len(refs)))):
        at = f"{where} output {k}" if len(outs) > 1 else where
        if t.dtype.name != want:
            raise ConformanceError(f"{at}: result dtype {t.dtype.name}, expected {want} (PyTorch's promotion)")
        if t.device.type != device.split(":")[0]:
            raise ConformanceError(f"{at}: result on device {t.device}, expected {device}")
        rtol, atol = D.tolerance(want, op.tol)
        assert_matches_reference(to_numpy(t), r, want, rtol, atol, at)


def _check_inputs_unchanged(op, sample, dtype, device, variant, built):
    for t, a, base, _ in built.views:
        now = to_numpy(t)
        if now.shape != a.shape or not np.array_equal(now, a, equal_nan=D.is_inexact_array(a)):
            raise ConformanceError(f"{_context(op, variant, dtype, device, sample)}: the op modified its input "
                                   f"of shape {list(a.shape)} (out-of-place ops must not)")


# ---------------------------------------------------------------- forward
def variants(op, sample):
    """The callable forms of ``op`` that apply to ``sample``: [(label, fn(input, *args, **kw))]."""
    ember = _ember()
    found = []
    is_array = isinstance(sample.input, np.ndarray)
    if op.op is not None and (is_array or op.scalar_input or isinstance(sample.input, (list, tuple))):
        fn = getattr(ember, op.op) if isinstance(op.op, str) else op.op
        found.append((f"ember.{op.op}" if isinstance(op.op, str) else "function", fn))
        for alias in op.aliases:
            found.append((f"ember.{alias}", getattr(ember, alias)))
    if op.method and is_array:
        name = op.method
        found.append((f"Tensor.{name}", lambda x, *a, **k: getattr(x, name)(*a, **k)))
    if op.operator is not None and not sample.kwargs:
        found.append((f"operator.{op.operator.__name__}", op.operator))
    return found


def check_forward(op, sample, device, dtype):
    """Every form of the op on ``device`` against the reference (values, shape, dtype)."""
    forms = variants(op, sample)
    if not forms:
        raise ConformanceError(f"{op.name}: sample '{sample.desc}' applies to no form of the op")
    ref = reference(op, sample, dtype)
    for label, fn in forms:
        built = Built()
        inp, args, kwargs = build((sample.input, sample.args, sample.kwargs), device, sample.layout, built)
        try:
            out = fn(inp, *args, **kwargs)
        except Exception as e:
            raise ConformanceError(f"{_context(op, label, dtype, device, sample)}: raised "
                                   f"{type(e).__name__}: {e}") from e
        _compare_outputs(op, sample, dtype, device, label, out, ref)
        _check_inputs_unchanged(op, sample, dtype, device, label, built)


# ---------------------------------------------------------------- gradients
def _float_slots(sample):
    """The float arrays of a sample (in ``map_arrays`` order) and their slot numbers."""
    found = []
    counter = [0]

    def visit(a):
        if D.is_inexact_array(a):
            found.append(counter[0])
        counter[0] += 1
        return a
    map_arrays((sample.input, sample.args, sample.kwargs), visit)
    return found


def _replace_slot(obj, slot, value):
    counter = [0]

    def visit(a):
        n = counter[0]
        counter[0] += 1
        return value if n == slot else a
    return map_arrays(obj, visit)


def _get_slot(obj, slot):
    found = []
    counter = [0]

    def visit(a):
        if counter[0] == slot:
            found.append(a)
        counter[0] += 1
        return a
    map_arrays(obj, visit)
    return found[0]


def numerical_grads(op, sample, upstream, float_outputs, eps=1e-6):
    """d(sum_k <ref_k, upstream_k>)/d(each float array), by central differences in float64."""
    base = map_arrays((sample.input, sample.args, sample.kwargs), _upcast)

    def loss(arrays):
        # a complex output y with upstream v contributes Re(sum(conj(v) * y)), PyTorch's convention
        refs = _flatten_reference(reference(op, sample, "float64", arrays))
        return sum(float(np.sum(np.real(np.conj(g) * refs[k]))) for k, g in zip(float_outputs, upstream))

    grads = {}
    for slot in _float_slots(sample):
        x = _get_slot(base, slot)
        # complex inputs: d/d(real part) + 1j * d/d(imaginary part)
        directions = (1.0, 1j) if x.dtype.kind == "c" else (1.0,)
        g = np.zeros(x.shape, dtype=np.complex128 if x.dtype.kind == "c" else np.float64)
        flat = x.reshape(-1)
        for i in range(flat.size):
            for direction in directions:
                for sign in (1, -1):
                    moved = flat.copy()
                    moved[i] += sign * eps * direction
                    g.flat[i] += direction * sign * loss(_replace_slot(base, slot, moved.reshape(x.shape))) / (2 * eps)
        grads[slot] = g
    return grads


GRAD_TOLERANCES = {"float64": (1e-5, 1e-6), "float32": (2e-3, 2e-3)}


def check_grad(op, sample, device):
    """Analytical gradients on the device against float64 central differences of the reference.

    ``sample`` comes from ``op.samples("float64")``; on a device without float64 its
    float arrays are rounded to float32 first (the reference then sees the rounded values).
    """
    ember = _ember()
    gdtype = grad_dtype(device)
    if gdtype != "float64":
        sample = _rounded_sample(sample, gdtype)
    variant = "backward"
    where = _context(op, variant, gdtype, device, sample)
    built = Built()
    inp, args, kwargs = build((sample.input, sample.args, sample.kwargs), device, sample.layout, built,
                              requires_grad=True)
    fn = variants(op, sample)[0][1]
    try:
        out = fn(inp, *args, **kwargs)
    except Exception as e:
        raise ConformanceError(f"{where}: forward raised {type(e).__name__}: {e}") from e
    outs = _flatten_outputs(out)
    float_outputs = [k for k, t in enumerate(outs) if t.dtype.is_floating_point or t.dtype.is_complex]
    rng = np.random.default_rng(zlib.crc32(f"{op.name}/{sample.desc}".encode()))
    upstream = [rng.standard_normal(tuple(outs[k].shape)) + (1j * rng.standard_normal(tuple(outs[k].shape))
                                                              if outs[k].dtype.is_complex else 0)
                for k in float_outputs]
    roots = [(outs[k], g) for k, g in zip(float_outputs, upstream) if outs[k].requires_grad]
    numeric = numerical_grads(op, sample, upstream, float_outputs)
    if roots:
        try:
            ember.autograd.backward([t for t, _ in roots],
                                    [ember.tensor(g, dtype=t.dtype, device=t.device) for t, g in roots])
        except Exception as e:
            raise ConformanceError(f"{where}: backward raised {type(e).__name__}: {e}") from e
    rtol, atol = op.grad_tol or GRAD_TOLERANCES[gdtype]
    for leaf, array, grad_of, slot, untouched in built.leaves:
        want = numeric[slot]
        at = f"{where} gradient of input {slot} (shape {list(array.shape)})"
        if leaf.grad is None:
            if not roots or np.all(want == 0) or want.size == 0:
                continue
            raise ConformanceError(f"{at}: no gradient reached the input (output requires_grad="
                                   f"{[t.requires_grad for t in outs]}), expected max |grad| "
                                   f"{np.abs(want).max():.6g}")
        if leaf.grad.dtype is not leaf.dtype:
            raise ConformanceError(f"{at}: gradient dtype {leaf.grad.dtype.name}, input dtype {leaf.dtype.name}")
        full = to_numpy(leaf.grad)
        if full.shape != tuple(leaf.shape):
            raise ConformanceError(f"{at}: gradient shape {list(full.shape)}, input shape {list(leaf.shape)}")
        if untouched is not None:  # a strided view: the skipped elements get no gradient
            skipped = untouched[0](full)
            if np.any(skipped != 0):
                raise ConformanceError(f"{at}: elements outside the strided view got gradient "
                                       f"{np.abs(skipped).max():.6g}")
        assert_matches_reference(grad_of(full), want, gdtype, rtol, atol, at)


def _rounded_sample(sample, dtype):
    from ember.testing.opinfo import SampleInput
    complex_dtype = "complex64" if dtype == "float32" else "complex128"
    r = lambda a: a.astype(D.NUMPY[dtype]) if D.is_float_array(a) else \
        a.astype(D.NUMPY[complex_dtype]) if D.is_complex_array(a) else a  # noqa: E731
    return SampleInput(map_arrays(sample.input, r), *map_arrays(sample.args, r), desc=sample.desc,
                       kwargs=map_arrays(sample.kwargs, r), layout=sample.layout, grad=sample.grad)


# ---------------------------------------------------------------- in place
def inplace_applies(op, sample) -> bool:
    return bool(op.inplace or op.inplace_operator) and sample.inplace and isinstance(sample.input, np.ndarray)


def check_inplace(op, sample, device, dtype):
    """``x.op_(*args)`` writes op(x, *args) into x, or raises where PyTorch does.

    PyTorch raises RuntimeError when the result type cannot be cast to x's dtype (a
    float result into an integer tensor) or when broadcasting would change x's shape.
    """
    ref = _flatten_reference(reference(op, sample, dtype))[0]
    result_dtype = _expected_dtypes(op, sample, dtype, 1)[0]
    x_dtype = D.name_of(sample.input.dtype)
    must_fail = not D.can_cast(result_dtype, x_dtype) or ref.shape != sample.input.shape
    forms = []
    if op.inplace:
        name = op.inplace
        forms.append((f"Tensor.{name}", lambda x, *a, **k: getattr(x, name)(*a, **k)))
    if op.inplace_operator is not None and not sample.kwargs:
        forms.append((f"operator.{op.inplace_operator.__name__}", op.inplace_operator))
    for label, fn in forms:
        where = _context(op, label, dtype, device, sample)
        built = Built()
        inp, args, kwargs = build((sample.input, sample.args, sample.kwargs), device, sample.layout, built)
        base, untouched = built.views[0][2], built.views[0][3]
        if must_fail:
            try:
                fn(inp, *args, **kwargs)
            except RuntimeError:
                continue
            except Exception as e:
                raise ConformanceError(f"{where}: raised {type(e).__name__}: {e}; PyTorch raises RuntimeError "
                                       f"(result {result_dtype} {list(ref.shape)} into {x_dtype} "
                                       f"{list(sample.input.shape)})") from e
            raise ConformanceError(f"{where}: wrote a {result_dtype} result of shape {list(ref.shape)} into a "
                                   f"{x_dtype} tensor of shape {list(sample.input.shape)}; PyTorch raises "
                                   f"RuntimeError")
        try:
            out = fn(inp, *args, **kwargs)
        except Exception as e:
            raise ConformanceError(f"{where}: raised {type(e).__name__}: {e}") from e
        if out is not inp:
            raise ConformanceError(f"{where}: the in-place op did not return its input tensor")
        if inp.dtype.name != x_dtype:
            raise ConformanceError(f"{where}: the in-place op changed the dtype to {inp.dtype.name}")
        rtol, atol = D.tolerance(x_dtype, op.tol)
        assert_matches_reference(to_numpy(inp), ref, x_dtype, rtol, atol, where)
        if untouched is not None:
            rest = untouched[0](to_numpy(base))
            if not np.array_equal(rest, untouched[1], equal_nan=D.is_inexact(x_dtype)):
                raise ConformanceError(f"{where}: the in-place op on a strided view wrote outside the view")


# ---------------------------------------------------------------- views
def check_view(case, device, dtype):
    """A view and its base see each other's in-place writes (PyTorch's aliasing).

    1. the view's values are the base's at the view's positions;
    2. an in-place op on the view changes the base there, and nowhere else;
    3. later in-place writes to the base (an op, then __setitem__) show in the view;
    4. with autograd, the gradient through an in-place op on a view of a non-leaf.
    """
    ember = _ember()
    where = f"view '{case.name}' dtype={dtype} device={device}"
    rng = np.random.default_rng(3)
    n = int(np.prod(case.shape))
    base_np = (rng.permutation(n) + 1).reshape(case.shape).astype(D.NUMPY[dtype])
    positions = np.asarray(case.positions(np.arange(n).reshape(case.shape)))
    base = ember.tensor(base_np, device=device)
    view = case.make(base)
    _expect(view, base_np.reshape(-1)[positions], dtype, f"{where}: values of the view")
    if case.writable:
        view.add_(10)
        expected = base_np.copy().reshape(-1)
        expected[positions] += 10
        _expect(base, expected.reshape(case.shape), dtype, f"{where}: base after an in-place op on the view")
        base_np = expected.reshape(case.shape)
    else:  # elements share memory: PyTorch refuses to write (RuntimeError), and nothing changes
        try:
            view.add_(10)
        except RuntimeError:
            pass
        except Exception as e:
            raise ConformanceError(f"{where}: an in-place op on an overlapping view raised {type(e).__name__}: "
                                   f"{e}; PyTorch raises RuntimeError") from e
        else:
            raise ConformanceError(f"{where}: an in-place op on an overlapping view (several elements, one "
                                   f"memory location) did not raise; PyTorch raises RuntimeError")
        _expect(base, base_np, dtype, f"{where}: base after a refused in-place op on an overlapping view")
    base.mul_(2)
    _expect(view, (base_np * 2).reshape(-1)[positions], dtype, f"{where}: view after base.mul_(2)")
    fresh = (rng.permutation(n) + 3).reshape(case.shape).astype(D.NUMPY[dtype])
    base[...] = ember.tensor(fresh, device=device)
    _expect(view, fresh.reshape(-1)[positions], dtype, f"{where}: view after base[...] = new values")
    if case.writable:
        view.zero_()
        expected = fresh.copy().reshape(-1)
        expected[positions] = 0
        _expect(base, expected.reshape(case.shape), dtype, f"{where}: base after view.zero_()")
        values = (rng.permutation(positions.size) + 5).reshape(positions.shape).astype(D.NUMPY[dtype])
        view[...] = ember.tensor(values, device=device)
        expected[positions] = values
        _expect(base, expected.reshape(case.shape), dtype, f"{where}: base after view[...] = values")


def check_view_grad(case, device):
    """Gradient through an in-place multiply on a view of a non-leaf tensor (CopySlices)."""
    ember = _ember()
    dtype = grad_dtype(device)
    where = f"view '{case.name}' backward dtype={dtype} device={device}"
    rng = np.random.default_rng(5)
    n = int(np.prod(case.shape))
    positions = np.asarray(case.positions(np.arange(n).reshape(case.shape)))
    x_np = rng.standard_normal(case.shape)
    leaf = ember.tensor(x_np, dtype=getattr(ember, dtype), device=device, requires_grad=True)
    y = leaf * 1.0
    view = case.make(y)
    w_np = rng.standard_normal(tuple(view.shape))
    view.mul_(ember.tensor(w_np, dtype=leaf.dtype, device=device))
    g_np = rng.standard_normal(case.shape)
    try:
        y.backward(ember.tensor(g_np, dtype=leaf.dtype, device=device))
    except Exception as e:
        raise ConformanceError(f"{where}: backward raised {type(e).__name__}: {e}") from e
    scale = np.ones(n)
    scale[positions.reshape(-1)] = w_np.reshape(-1)
    rtol, atol = GRAD_TOLERANCES[dtype]
    if leaf.grad is None:
        raise ConformanceError(f"{where}: no gradient reached the leaf")
    assert_matches_reference(to_numpy(leaf.grad), g_np * scale.reshape(case.shape), dtype, rtol, atol, where)
    y_expected = x_np.reshape(-1).copy()
    y_expected[positions.reshape(-1)] *= w_np.reshape(-1)
    assert_matches_reference(to_numpy(y), y_expected.reshape(case.shape), dtype, rtol, atol, f"{where}: forward values")


def _expect(t, expected, dtype, where):
    assert_matches_reference(to_numpy(t), expected, dtype, 0.0, 0.0, where)


# ---------------------------------------------------------------- promotion
def check_promotion(device):
    """``ember.promote_types`` and ``ember.result_type`` against PyTorch's rules, for every
    pair of dtypes the device has, as dimensioned tensors, 0-d tensors and Python scalars."""
    ember = _ember()
    have = [d for d in D.ALL + D.COMPLEX if d in supported_dtypes(device)]
    samples = {d: (np.zeros(2, dtype=D.NUMPY[d]), np.zeros((), dtype=D.NUMPY[d])) for d in have}
    tensors = {d: tuple(ember.tensor(a, device=device) for a in arrays) for d, arrays in samples.items()}
    bad = []
    for a in have:
        for b in have:
            got = ember.promote_types(getattr(ember, a), getattr(ember, b)).name
            if got != D.promote_types(a, b):
                bad.append(f"promote_types({a}, {b}) = {got}, expected {D.promote_types(a, b)}")
            for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)):
                want = D.result_type(samples[a][i], samples[b][j])
                got = ember.result_type(tensors[a][i], tensors[b][j]).name
                if got != want:
                    bad.append(f"result_type({a}{' 0-d' * i}, {b}{' 0-d' * j}) = {got}, expected {want}")
        for scalar in (True, 2, 2.5, 1.5j):
            for i in (0, 1):
                want = D.result_type(samples[a][i], scalar)
                got = ember.result_type(tensors[a][i], scalar).name
                if got != want:
                    bad.append(f"result_type({a}{' 0-d' * i}, {scalar!r}) = {got}, expected {want}")
    if bad:
        raise ConformanceError(f"promotion on device={device}: {len(bad)} wrong: " + "; ".join(bad[:10]))


# ---------------------------------------------------------------- the list of checks
class Case:
    """One check: ``run()`` it; ``id`` reads like ``add-float32-broadcast-cpu``."""
    __slots__ = ("id", "kind", "op", "sample", "dtype", "device")

    def __init__(self, kind, op, sample, dtype, device):
        self.kind, self.op, self.sample, self.dtype, self.device = kind, op, sample, dtype, device
        label = {"forward": dtype, "grad": "grad", "inplace": f"{dtype}-inplace",
                 "view": dtype, "view_grad": "grad"}[kind]
        desc = getattr(sample, "desc", None)
        name = op.name
        self.id = "-".join(p for p in (name, label, desc, device) if p)

    def run(self):
        if self.kind == "forward":
            check_forward(self.op, self.sample, self.device, self.dtype)
        elif self.kind == "grad":
            check_grad(self.op, self.sample, self.device)
        elif self.kind == "inplace":
            check_inplace(self.op, self.sample, self.device, self.dtype)
        elif self.kind == "view":
            check_view(self.op, self.device, self.dtype)
        else:
            check_view_grad(self.op, self.device)

    def __repr__(self):
        return f"Case({self.id})"


def _runs_on(sample, have, arrays_may_be_float64=False) -> bool:
    """Whether the device has every dtype a sample uses: its arrays' (float64 ones are
    rounded to float32 for gradient checks on devices without it) and any dtype keyword
    (``sum(x, dtype=...)``)."""
    found = set()

    def visit(a):
        found.add(D.name_of(a.dtype))
        return a
    map_arrays((sample.input, sample.args, sample.kwargs), visit)
    if arrays_may_be_float64:
        found.discard("float64")
        if "complex128" in found:
            found.discard("complex128")
            found.add("complex64")
    found.update(v.name for v in sample.kwargs.values() if type(v).__name__ == "dtype" and hasattr(v, "name"))
    return found <= have


def forward_cases(device, ops=None):
    from ember.testing.opdb import OP_DB
    have = supported_dtypes(device)
    return [Case("forward", op, s, dtype, device)
            for op in (OP_DB if ops is None else ops) if op.op is not None or op.method
            for dtype in op.dtypes if dtype in have
            for s in op.samples(dtype) if _runs_on(s, have)]


def grad_cases(device, ops=None):
    from ember.testing.opdb import OP_DB
    have = supported_dtypes(device)
    return [Case("grad", op, s, None, device)
            for op in (OP_DB if ops is None else ops) if op.supports_grad and _grad_sample_dtype(op)
            for s in op.samples(_grad_sample_dtype(op)) if s.grad and _float_slots(s) and _runs_on(s, have, True)]


def _grad_sample_dtype(op):
    """The dtype whose samples gradients are checked on: float64, or complex128 for complex-only ops."""
    return next((d for d in ("float64", "complex128") if d in op.dtypes), None)


def inplace_cases(device, ops=None):
    from ember.testing.opdb import OP_DB
    have = supported_dtypes(device)
    return [Case("inplace", op, s, dtype, device)
            for op in (OP_DB if ops is None else ops) if op.inplace or op.inplace_operator
            for dtype in op.inplace_dtypes if dtype in have
            for s in op.samples(dtype) if inplace_applies(op, s) and _runs_on(s, have)]


VIEW_DTYPES = ("float32", "int64")


def view_cases(device):
    from ember.testing.views import VIEW_CASES
    have = supported_dtypes(device)
    cases = [Case("view", v, None, dtype, device) for v in VIEW_CASES for dtype in VIEW_DTYPES if dtype in have]
    cases += [Case("view_grad", v, None, None, device) for v in VIEW_CASES if v.writable]
    return cases


def cases(device):
    """Every conformance check for ``device``."""
    return forward_cases(device) + grad_cases(device) + inplace_cases(device) + view_cases(device)


__all__ = ["ConformanceError", "check_forward", "check_grad", "check_inplace", "check_view", "check_view_grad",
           "check_promotion", "cases", "forward_cases", "grad_cases", "inplace_cases", "view_cases", "Case",
           "assert_matches_reference"]
