"""dtypes, PyTorch's type promotion, the default dtype, and device names.

The promotion tables below were written down from PyTorch's behaviour; they are the
specification, not a re-derivation of ember's rules.
"""
import numpy as np
import pytest

import ember

ALL = [ember.bool, ember.uint8, ember.int8, ember.int16, ember.int32, ember.int64,
       ember.float16, ember.bfloat16, ember.float32, ember.float64]
SHORT = {"b": ember.bool, "u8": ember.uint8, "i8": ember.int8, "i16": ember.int16, "i32": ember.int32,
         "i64": ember.int64, "f16": ember.float16, "bf16": ember.bfloat16, "f32": ember.float32,
         "f64": ember.float64}


@pytest.fixture
def restore_default_dtype():
    saved = ember.get_default_dtype()
    yield
    ember.set_default_dtype(saved)


# ================================================================ the dtypes
@pytest.mark.parametrize("dtype, itemsize, floating, signed, np_dtype", [
    (ember.bool, 1, False, False, np.bool_), (ember.uint8, 1, False, False, np.uint8),
    (ember.int8, 1, False, True, np.int8), (ember.int16, 2, False, True, np.int16),
    (ember.int32, 4, False, True, np.int32), (ember.int64, 8, False, True, np.int64),
    (ember.float16, 2, True, True, np.float16), (ember.bfloat16, 2, True, True, None),
    (ember.float32, 4, True, True, np.float32), (ember.float64, 8, True, True, np.float64),
])
def test_dtype_facts_and_tensors_of_every_dtype(dtype, itemsize, floating, signed, np_dtype):
    assert dtype.itemsize == itemsize
    assert dtype.is_floating_point is floating
    assert dtype.is_signed is signed
    assert not dtype.is_complex
    t = ember.tensor([0, 1, 1], dtype=dtype)
    assert t.dtype is dtype and t.element_size() == itemsize
    assert t.is_floating_point() is floating
    if np_dtype is not None:
        assert t.numpy().dtype == np.dtype(np_dtype)
    np.testing.assert_array_equal(t.numpy().astype(np.float64), [0, 1, 1])


def test_aliases_are_the_same_objects():
    assert ember.float is ember.float32 and ember.double is ember.float64 and ember.half is ember.float16
    assert ember.short is ember.int16 and ember.int is ember.int32 and ember.long is ember.int64
    assert repr(ember.float32) == "ember.float32"
    assert len(set(map(id, ALL))) == 10


def test_dtypes_pickle_to_the_same_object():
    import pickle
    for d in ALL:
        assert pickle.loads(pickle.dumps(d)) is d


def test_numeric_info():
    assert ember.finfo(ember.float32).eps == 2.0 ** -23
    assert ember.finfo(ember.float16).max == 65504.0
    assert ember.finfo(ember.bfloat16).eps == 2.0 ** -7
    assert ember.finfo().bits == 32
    assert ember.iinfo(ember.int8).max == 127 and ember.iinfo(ember.uint8).min == 0
    assert ember.iinfo(ember.int64).max == 2 ** 63 - 1
    assert not ember.can_cast(ember.float32, ember.int32) and ember.can_cast(ember.int32, ember.float32)
    with pytest.raises(TypeError):
        ember.finfo(ember.int32)


# ================================================================ promotion
# PyTorch's torch.promote_types, row dtype with column dtype.
PROMOTE_TABLE = """
          b    u8    i8   i16   i32   i64   f16  bf16   f32   f64
    b     b    u8    i8   i16   i32   i64   f16  bf16   f32   f64
   u8    u8    u8   i16   i16   i32   i64   f16  bf16   f32   f64
   i8    i8   i16    i8   i16   i32   i64   f16  bf16   f32   f64
  i16   i16   i16   i16   i16   i32   i64   f16  bf16   f32   f64
  i32   i32   i32   i32   i32   i32   i64   f16  bf16   f32   f64
  i64   i64   i64   i64   i64   i64   i64   f16  bf16   f32   f64
  f16   f16   f16   f16   f16   f16   f16   f16   f32   f32   f64
 bf16  bf16  bf16  bf16  bf16  bf16  bf16   f32  bf16   f32   f64
  f32   f32   f32   f32   f32   f32   f32   f32   f32   f32   f64
  f64   f64   f64   f64   f64   f64   f64   f64   f64   f64   f64
"""


def _promote_cases():
    lines = PROMOTE_TABLE.strip().splitlines()
    columns = lines[0].split()
    for line in lines[1:]:
        row, *cells = line.split()
        for col, cell in zip(columns, cells):
            yield SHORT[row], SHORT[col], SHORT[cell]


@pytest.mark.parametrize("a, b, expected", list(_promote_cases()))
def test_promote_types_table(a, b, expected):
    assert ember.promote_types(a, b) is expected
    # tensors with dimensions take part fully: the op's result has the promoted dtype
    x, y = ember.ones(2, dtype=a), ember.ones(2, dtype=b)
    assert ember.result_type(x, y) is expected
    if not (a is ember.bool and b is ember.bool):
        assert (x + y).dtype is expected
    assert (x * y).dtype is expected
    assert (x == y).dtype is ember.bool


# (operands, result): 0-d tensors and Python scalars only matter when of a higher category
RESULT_TYPE_CASES = [
    (lambda: (ember.ones(2, dtype=ember.uint8), ember.tensor(1, dtype=ember.int8)), ember.uint8),
    (lambda: (ember.ones(2, dtype=ember.int8), ember.tensor(1, dtype=ember.int64)), ember.int8),
    (lambda: (ember.ones(2, dtype=ember.int32), ember.tensor(1.0, dtype=ember.float64)), ember.float64),
    (lambda: (ember.ones(2, dtype=ember.float16), ember.tensor(1.0, dtype=ember.float64)), ember.float16),
    (lambda: (ember.ones(2, dtype=ember.bool), ember.tensor(1, dtype=ember.int16)), ember.int16),
    (lambda: (ember.ones(2, dtype=ember.bfloat16), ember.tensor(1.0, dtype=ember.float16)), ember.bfloat16),
    (lambda: (ember.tensor(1, dtype=ember.uint8), ember.tensor(1, dtype=ember.int8)), ember.int16),
    (lambda: (ember.tensor(1, dtype=ember.int32), ember.tensor(1.0, dtype=ember.float16)), ember.float16),
    (lambda: (ember.tensor(1, dtype=ember.int32), 2.5), ember.float32),
    (lambda: (ember.tensor(1.0, dtype=ember.float64), 2), ember.float64),
    (lambda: (ember.ones(2, dtype=ember.int8), 1000), ember.int8),
    (lambda: (ember.ones(2, dtype=ember.uint8), True), ember.uint8),
    (lambda: (ember.ones(2, dtype=ember.bool), True), ember.bool),
    (lambda: (ember.ones(2, dtype=ember.bool), 2), ember.int64),
    (lambda: (ember.ones(2, dtype=ember.bool), 2.5), ember.float32),
    (lambda: (ember.ones(2, dtype=ember.int16), 2.5), ember.float32),
    (lambda: (ember.ones(2, dtype=ember.float16), 2.5), ember.float16),
    (lambda: (ember.ones(2, dtype=ember.bfloat16), 2.5), ember.bfloat16),
    (lambda: (ember.ones(2, dtype=ember.float64), 2.5), ember.float64),
    (lambda: (2, 2.5), ember.float32),
    (lambda: (True, 3), ember.int64),
    (lambda: (True, False), ember.bool),
]


@pytest.mark.parametrize("operands, expected", RESULT_TYPE_CASES)
def test_result_type_with_zero_dim_tensors_and_python_scalars(operands, expected):
    args = operands()
    assert ember.result_type(*args) is expected
    a, b = args
    if isinstance(a, ember.Tensor) and not (expected is ember.bool):
        assert (a * b).dtype is expected
        assert (b * a).dtype is expected


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("scalar", [True, 3, 2.5])
def test_ops_with_python_scalars_keep_the_tensor_dtype_within_its_category(dtype, scalar):
    t = ember.ones(3, dtype=dtype)
    if isinstance(scalar, bool):
        expected = dtype
    elif isinstance(scalar, int):
        expected = ember.int64 if dtype is ember.bool else dtype
    else:
        expected = dtype if dtype.is_floating_point else ember.float32
    assert ember.result_type(t, scalar) is expected
    if expected is not ember.bool:
        assert (t * scalar).dtype is expected
        assert (scalar + t).dtype is expected
    assert ember.where(t > 0, t, scalar).dtype is expected


def test_true_division_of_integers_gives_the_default_float():
    assert (ember.tensor([1, 2]) / 2).dtype is ember.float32
    assert (ember.tensor([1, 2]) / ember.tensor([2, 4])).dtype is ember.float32
    np.testing.assert_array_equal((ember.tensor([1, 2]) / 2).numpy(), [0.5, 1.0])


def test_python_ints_wrap_around_in_small_integer_dtypes():
    # PyTorch converts the scalar to the tensor's dtype with wrap-around; numpy 2 would raise
    t = ember.tensor([1, 2], dtype=ember.int8)
    assert (t + 1000).tolist() == [-23, -22]
    assert (ember.tensor([1, 2], dtype=ember.uint8) * 300).tolist() == [44, 88]
    assert (ember.tensor([100], dtype=ember.int8) + ember.tensor([100], dtype=ember.int8)).tolist() == [-56]


def test_casts_between_categories():
    f = ember.tensor([-2.7, -0.5, 0.0, 0.5, 2.7])
    assert f.to(ember.int32).tolist() == [-2, 0, 0, 0, 2]
    assert f.to(ember.bool).tolist() == [True, True, False, True, True]
    assert ember.tensor([0, 3]).to(ember.bool).tolist() == [False, True]
    assert ember.tensor([True, False]).to(ember.float32).tolist() == [1.0, 0.0]
    # bfloat16 keeps 8 significant bits
    assert ember.tensor([1.0 + 2 ** -9], dtype=ember.bfloat16).item() == 1.0
    assert ember.tensor([1.0 + 2 ** -7], dtype=ember.bfloat16).item() == 1.0 + 2 ** -7


# ================================================================ the default dtype
def test_default_dtype_drives_float_inference(restore_default_dtype):
    assert ember.get_default_dtype() is ember.float32
    ember.set_default_dtype(ember.float64)
    assert ember.get_default_dtype() is ember.float64
    assert ember.tensor([1.5]).dtype is ember.float64
    assert ember.zeros(2).dtype is ember.float64
    assert ember.arange(1.0).dtype is ember.float64
    assert ember.rand(2).dtype is ember.float64
    assert (ember.tensor([1]) / 2).dtype is ember.float64
    assert ember.result_type(ember.tensor([1]), 1.0) is ember.float64
    assert (ember.ones(1, dtype=ember.float16) * 2.5).dtype is ember.float16
    assert ember.tensor([1, 2]).dtype is ember.int64


def test_default_dtype_must_be_floating(restore_default_dtype):
    with pytest.raises(TypeError, match="floating"):
        ember.set_default_dtype(ember.int64)
    assert ember.get_default_dtype() is ember.float32


# ================================================================ devices
def test_device_parsing():
    d = ember.device("cuda:1")
    assert d.type == "cuda" and d.index == 1
    assert d == ember.device("cuda", 1)
    assert str(d) == "cuda:1" and repr(d) == "device(type='cuda', index=1)"
    cpu = ember.device("cpu")
    assert cpu.type == "cpu" and cpu.index is None
    assert str(cpu) == "cpu" and repr(cpu) == "device(type='cpu')"
    assert ember.device(cpu) == cpu
    assert ember.device("cuda:0") != ember.device("cuda:1") and ember.device("cuda") != ember.device("cuda:0")
    assert {ember.device("cuda:1"): "x"}[ember.device("cuda", 1)] == "x"


@pytest.mark.parametrize("text", ["cuda:", ":1", "cuda:1:2", "cuda:-1", "cuda:x", ""])
def test_invalid_device_strings(text):
    with pytest.raises(RuntimeError, match="Invalid device string"):
        ember.device(text)


def test_device_index_given_twice():
    with pytest.raises(RuntimeError, match="cuda:1"):
        ember.device("cuda:1", 0)


def test_tensor_device_compares_with_device_objects_not_strings():
    t = ember.zeros(2)
    assert t.device == ember.device("cpu")
    # as PyTorch's: a device never equals a string (compare str(device) or device.type)
    assert t.device != "cpu" and not (t.device == "cpu") and str(t.device) == "cpu"
    assert t.device != "cuda:0"
    assert ember.zeros(2, device=ember.device("cpu")).device == t.device
    assert t.is_cpu and not t.is_cuda


def test_unknown_device_type():
    with pytest.raises(RuntimeError, match="nonexistent"):
        ember.zeros(2, device="nonexistent")
