"""PyTorch 2.13's last dtypes: uint16/32/64, the five float8 types, float4_e2m1fn_x2, and hash_tensor.

The cases (tests/fixtures/limited_dtype_cases.py) replay on every device against PyTorch's recorded
answers (tests/fixtures/limited_dtypes.json, from record_limited_dtypes.py). Where PyTorch raises
NotImplementedError ember may raise it too or give the exact answer (the case computed in int64 or
float32 and cast back). A device without a dtype (float8 and float4 off the CPU; every limited
dtype on the counting template plugin) raises TypeError naming the dtype and the device instead.
"""
import builtins
import io
import json
import math
import sys
import zipfile
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import ember
from ember.dispatch.registry import REGISTRY

FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
import limited_dtype_cases as cases  # noqa: E402

RECORD = json.loads((FIXTURES / "limited_dtypes.json").read_text())
# float results computed by a different library (numpy vs PyTorch's SLEEF): within a few ulps
_FLOAT_RTOL = {"float16": 1e-3, "float32": 2e-6, "float64": 1e-12}


def _decode(row):
    d = getattr(ember, row["dtype"])
    raw = np.frombuffer(bytes.fromhex(row["hex"]), dtype=np.uint8)
    return (raw.astype(bool) if d is ember.bool else raw.view(d.numpy)).reshape(row["shape"])


def _same_py(a, b):
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same_py(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def _assert_matches(expected, got, name):
    enc = cases.encode(ember, got)
    if "py" in expected:
        want = float("nan") if expected["py"] == "nan" else expected["py"]
        assert _same_py(want, got), f"{name}: expected {want!r}, got {got!r}"
        return
    if "dtype_value" in expected:
        assert enc == expected, f"{name}: expected {expected}, got {enc}"
        return
    assert enc.get("dtype") == expected["dtype"] and enc.get("shape") == expected["shape"], \
        f"{name}: expected {expected['dtype']}{expected['shape']}, got {enc.get('dtype')}{enc.get('shape')}"
    if name in cases.SHAPE_ONLY:
        return
    want, have = _decode(expected), _decode(enc)
    if expected["dtype"] in _FLOAT_RTOL:
        np.testing.assert_allclose(have, want, rtol=_FLOAT_RTOL[expected["dtype"]], equal_nan=True, err_msg=name)
    else:  # integers, bool, float8 and float4: bit for bit
        assert have.tobytes() == want.tobytes(), \
            f"{name}: expected {want.astype(np.float64) if want.dtype.itemsize == 1 else want}, got {have}"


def _check_case(name, dtype_name, device, row):
    ctx = cases.Context(ember, dtype_name, device)
    try:
        got, error = cases.CASES[name](ctx), None
    except Exception as e:  # noqa: BLE001  (compared with PyTorch's class below)
        got, error = None, e
    have = REGISTRY.available_backend(device).supported_dtypes()
    if name in ("from_f64", "to_f64") and ember.float64 not in have:
        return  # (mps has no float64, as in PyTorch)
    supported = getattr(ember, dtype_name) in have
    if not supported and isinstance(error, TypeError):
        assert dtype_name in str(error) and device in str(error), f"{name}: {error}"
        return
    if "error" not in row:
        assert error is None, f"{name}: PyTorch gives {row}, ember raised {error!r}"
        _assert_matches(row, got, name)
        return
    expected = getattr(builtins, row["error"])
    if error is None:
        assert row["error"] == "NotImplementedError" and "ref" in row, \
            f"{name}: PyTorch raises {row['error']}, ember returned {got!r}"
        _assert_matches(row["ref"], got, name)
        return
    assert isinstance(error, expected) and (expected is not RuntimeError or not isinstance(error, NotImplementedError)), \
        f"{name}: PyTorch raises {row['error']}, ember raised {error!r}"


@pytest.mark.parametrize("dtype_name", cases.DTYPES)
def test_cases_replay_pytorch(dtype_name, any_device):
    failures = []
    for name, row in RECORD["cases"][dtype_name].items():
        try:
            _check_case(name, dtype_name, any_device, row)
        except Exception as e:  # noqa: BLE001  (every differing case is listed, not just the first)
            failures.append(f"{name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    assert not failures, f"{len(failures)} case(s) differ from PyTorch:\n" + "\n".join(failures)


# ---------------------------------------------------------------- dtype objects, promotion, limits
def test_promote_types_matches_pytorch_for_every_pair():
    for pair, want in RECORD["promote"].items():
        a, b = (getattr(ember, n) for n in pair.split(","))
        if want.startswith("RuntimeError"):
            with pytest.raises(RuntimeError) as e:
                ember.promote_types(a, b)
            if "INTERNAL ASSERT" not in want:  # (PyTorch's float4 message is an internal assertion)
                assert str(e.value) == want.split(": ", 1)[1], pair
        else:
            assert ember.promote_types(a, b) is getattr(ember, want), pair


def test_binary_ops_promote_or_raise_as_pytorch():
    u = ember.tensor([1, 2], dtype=ember.uint16)
    with pytest.raises(RuntimeError, match="attempted to promote UInt16 and Long"):
        u + ember.tensor([1, 2])
    assert (u * ember.tensor(2.5)).dtype is ember.float32  # a 0-d float of a higher kind wins
    assert (u * 2).dtype is ember.uint16 and (u * 2).tolist() == [2, 4]
    f8 = ember.tensor([1.0, 2.0]).to(ember.float8_e4m3fn)
    with pytest.raises(RuntimeError, match="Promotion for Float8 Types is not supported, attempted to promote "
                                           "Float8_e4m3fn and Float8_e5m2"):
        f8 * f8.to(ember.float8_e5m2)
    assert ember.result_type(f8, 1.0) is ember.float8_e4m3fn


@pytest.mark.parametrize("name, floating, signed, itemsize", [
    ("uint16", False, False, 2), ("uint32", False, False, 4), ("uint64", False, False, 8),
    ("float8_e4m3fn", True, True, 1), ("float8_e8m0fnu", True, False, 1), ("float4_e2m1fn_x2", True, True, 1)])
def test_dtype_properties(name, floating, signed, itemsize):
    d = getattr(ember, name)
    assert (d.is_floating_point, d.is_signed, d.itemsize, d.is_complex) == (floating, signed, itemsize, False)
    assert RECORD["info"][name].get("props", [floating, signed, itemsize, False]) == [floating, signed, itemsize,
                                                                                      False]
    assert repr(d) == f"ember.{name}" and d.to_real() is d
    with pytest.raises(RuntimeError, match="Unknown Complex ScalarType"):
        d.to_complex()
    assert d not in ember.core.dtype.ALL_DTYPES  # kept out of the sweeps over the ordinary dtypes


@pytest.mark.parametrize("name", cases.DTYPES)
def test_finfo_iinfo_match_pytorch(name):
    d, want = getattr(ember, name), RECORD["info"][name]
    if "error" in want:
        with pytest.raises(TypeError):
            ember.finfo(d)
        return
    info = ember.finfo(d) if d.is_floating_point else ember.iinfo(d)
    for key, value in want.items():
        if key != "props":
            assert getattr(info, key) == value, (name, key)


# ---------------------------------------------------------------- hash_tensor
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.int32, ember.int64, ember.bool,
                                   ember.uint8, ember.float16])
def test_hash_tensor_against_numpy(dtype, any_device):
    rng = np.random.default_rng(3)
    values = rng.standard_normal((5, 6, 3)) * 100
    x = ember.tensor(values).to(dtype)
    host = x.numpy()
    wide = host.astype(np.float64 if x.is_floating_point() else np.int64).view(np.uint64)
    x = x.to(any_device)
    for dim, keepdim in [(None, False), (0, False), ((0, 2), True), (-1, False), ((), False)]:
        got = ember.hash_tensor(x, dim, keepdim=keepdim) if dim is not None else x.hash_tensor(keepdim=keepdim)
        axes = None if dim in (None, ()) else dim
        want = np.bitwise_xor.reduce(wide, axis=axes, keepdims=keepdim) if axes is not None else \
            np.bitwise_xor.reduce(wide.reshape(-1)).reshape((1, 1, 1) if keepdim else ())
        assert got.dtype is ember.uint64 and got.device.type == any_device
        np.testing.assert_array_equal(got.cpu().numpy(), want)


def test_hash_tensor_errors():
    x = ember.ones(2, 3)
    with pytest.raises(RuntimeError, match="Unknown hash_tensor mode: 1"):
        x.hash_tensor(mode=1)
    with pytest.raises(RuntimeError, match="numel\\(\\) == 0"):
        ember.empty(0).hash_tensor()
    with pytest.raises(IndexError, match="dim 0 to have non-zero size"):
        ember.empty(0, 3).hash_tensor(0)
    with pytest.raises(IndexError):
        x.hash_tensor(2)
    with pytest.raises(NotImplementedError):
        ember.ones(2, dtype=ember.complex64).hash_tensor()
    out = ember.empty((), dtype=ember.uint64)
    assert ember.hash_tensor(x, out=out) is out and out.item() == 0  # six equal values xor to zero


# ---------------------------------------------------------------- numpy, printing, serialization
@pytest.mark.parametrize("np_dtype, name", [(np.uint16, "uint16"), (np.uint32, "uint32"), (np.uint64, "uint64"),
                                            (ml_dtypes.float8_e4m3fn, "float8_e4m3fn"),
                                            (ml_dtypes.float8_e5m2fnuz, "float8_e5m2fnuz"),
                                            (ml_dtypes.float8_e8m0fnu, "float8_e8m0fnu")])
def test_numpy_interop(np_dtype, name):
    a = np.array([1, 2, 4, 8], dtype=np.float32).astype(np_dtype)
    t = ember.from_numpy(a)
    assert t.dtype is getattr(ember, name) and t.numpy().dtype == np.dtype(np_dtype)
    a[0] = a[3]  # from_numpy shares memory
    assert t[0].item() == 8
    assert ember.tensor(a).dtype is t.dtype and ember.as_tensor(a).numpy() is not None


def test_uint64_holds_values_beyond_int64():
    big = 2 ** 63 + 5
    t = ember.tensor([1, big, 2 ** 64 - 1], dtype=ember.uint64)
    assert t.tolist() == [1, big, 2 ** 64 - 1] and t[1].item() == big
    assert repr(t) == "tensor([                   1,  9223372036854775813, 18446744073709551615],\n" \
                      "       dtype=ember.uint64)"


@pytest.mark.parametrize("name", cases.DTYPES)
def test_save_load_round_trip_in_pytorchs_format(name):
    d = getattr(ember, name)
    t = ember.zeros(2, 3, dtype=d) if name in cases.FLOAT4 else cases.Context(ember, name, "cpu").mk(
        cases.values(name, 6, 5)).reshape(2, 3)
    buf = io.BytesIO()
    ember.save({"t": t, "view": t[1]}, buf)
    pickled = next(zipfile.ZipFile(io.BytesIO(buf.getvalue())).read(n) for n in
                   zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist() if n.endswith("data.pkl"))
    assert b"_rebuild_tensor_v3" in pickled and b"UntypedStorage" in pickled  # as PyTorch writes these dtypes
    buf.seek(0)
    back = ember.load(buf)
    assert back["t"].dtype is d and back["t"].shape == (2, 3)
    assert back["t"].numpy().view(np.uint8).tobytes() == t.numpy().view(np.uint8).tobytes()
    assert back["view"].numpy().view(np.uint8).tobytes() == t[1].numpy().view(np.uint8).tobytes()


def test_safetensors_tags():
    from ember.serialization import safetensors_io
    tensors = {"u16": ember.tensor([1, 65535], dtype=ember.uint16), "u64": ember.tensor([2 ** 63], dtype=ember.uint64),
               "f8": ember.tensor([1.5, -448.0]).to(ember.float8_e4m3fn),
               "e5": ember.tensor([1.5, 57344.0]).to(ember.float8_e5m2)}
    data = safetensors_io.save(tensors)
    header = data[8:8 + int.from_bytes(data[:8], "little")].decode()
    assert all(f'"dtype":"{tag}"' in header for tag in ("U16", "U64", "F8_E4M3", "F8_E5M2"))
    back = safetensors_io.load(data)
    for k, t in tensors.items():
        assert back[k].dtype is t.dtype and back[k].numpy().tobytes() == t.numpy().tobytes()


def test_float8_conversion_of_every_float32_pattern_class():
    # every float8 bit pattern survives float8 -> float32 -> float8 exactly (nan stays nan)
    for name in cases.FLOAT8:
        d = getattr(ember, name)
        patterns = ember.arange(256, dtype=ember.int64).to(ember.uint8).view(d)
        back = patterns.to(ember.float32).to(d).view(ember.uint8).numpy()
        wide = patterns.to(ember.float32).numpy()
        keep = ~np.isnan(wide)
        assert (back[keep] == np.arange(256)[keep]).all(), name
