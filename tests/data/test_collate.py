"""default_collate, default_convert and collate with a custom map."""
import collections

import numpy as np
import pytest

import ember
from ember.utils.data import default_collate, default_convert
from ember.utils.data.collate import collate, default_collate_fn_map

Point = collections.namedtuple("Point", ["x", "label"])


def test_tensors_are_stacked_on_a_new_first_dim():
    rows = [ember.randn(2, 3) for _ in range(4)]
    batch = default_collate(rows)
    assert isinstance(batch, ember.Tensor) and batch.shape == (4, 2, 3)
    np.testing.assert_array_equal(batch.numpy(), np.stack([r.numpy() for r in rows]))


def test_inconsistent_tensor_sizes_are_named():
    with pytest.raises(RuntimeError, match=r"\[3\].*\[4\].*entry 1"):
        default_collate([ember.zeros(3), ember.zeros(4)])


def test_mixed_tensor_and_non_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="element 1.*int"):
        default_collate([ember.zeros(3), 5])


def test_numpy_arrays_and_scalars_become_tensors_with_their_dtype():
    arrays = [np.arange(3, dtype=np.int32) + i for i in range(2)]
    batch = default_collate(arrays)
    assert batch.dtype is ember.int32 and batch.tolist() == [[0, 1, 2], [1, 2, 3]]
    scalars = default_collate([np.float64(0.5), np.float64(1.5)])
    assert scalars.dtype is ember.float64 and scalars.tolist() == [0.5, 1.5]
    assert default_collate([np.float32(1), np.float32(2)]).dtype is ember.float32
    zero_d = default_collate([np.array(1.0), np.array(2.0)])
    assert zero_d.shape == (2,) and zero_d.dtype is ember.float64


def test_numpy_text_arrays_are_rejected_naming_the_dtype():
    with pytest.raises(TypeError, match="<U1"):
        default_collate([np.array(["a"]), np.array(["b"])])
    assert default_collate([np.str_("a"), np.str_("b")]) == ["a", "b"]


def test_python_numbers_and_strings():
    ints = default_collate([1, 2, 3])
    assert ints.dtype is ember.int64 and ints.tolist() == [1, 2, 3]
    floats = default_collate([1.0, 2.5])
    assert floats.dtype is ember.float64 and floats.tolist() == [1.0, 2.5]
    bools = default_collate([True, False])
    assert bools.dtype is ember.bool and bools.tolist() == [True, False]
    assert default_collate(["a", "b"]) == ["a", "b"]
    assert default_collate([b"a", b"b"]) == [b"a", b"b"]


def test_dicts_namedtuples_tuples_and_lists_recurse():
    samples = [{"x": ember.full((2,), float(i)), "y": i, "name": f"s{i}", "pair": (i, float(i))} for i in range(3)]
    batch = default_collate(samples)
    assert set(batch) == {"x", "y", "name", "pair"}
    assert batch["x"].tolist() == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    assert batch["y"].tolist() == [0, 1, 2] and batch["name"] == ["s0", "s1", "s2"]
    assert isinstance(batch["pair"], list)  # tuples come back as lists
    assert batch["pair"][0].tolist() == [0, 1, 2] and batch["pair"][1].dtype is ember.float64

    points = default_collate([Point(1.0, 0), Point(2.0, 1)])
    assert type(points) is Point and points.x.tolist() == [1.0, 2.0] and points.label.tolist() == [0, 1]

    lists = default_collate([[1, "a"], [2, "b"]])
    assert isinstance(lists, list) and lists[0].tolist() == [1, 2] and lists[1] == ["a", "b"]


def test_mapping_subclass_type_is_kept():
    batch = default_collate([collections.OrderedDict(a=1), collections.OrderedDict(a=2)])
    assert type(batch) is collections.OrderedDict and batch["a"].tolist() == [1, 2]


def test_sequences_of_different_lengths_are_named():
    with pytest.raises(RuntimeError, match="element 0 has length 2 and element 1 has length 3"):
        default_collate([[1, 2], [1, 2, 3]])


def test_unsupported_type_names_it():
    class Thing:
        pass

    with pytest.raises(TypeError, match="Thing"):
        default_collate([Thing(), Thing()])


def test_collate_with_a_custom_map_entry():
    class Box:
        def __init__(self, v):
            self.v = v

    custom = {**default_collate_fn_map, Box: lambda batch, *, collate_fn_map: sum(b.v for b in batch)}
    out = collate([(Box(1), 1.0), (Box(2), 2.0)], collate_fn_map=custom)
    assert out[0] == 3 and out[1].tolist() == [1.0, 2.0]


def test_default_convert():
    t = ember.ones(2)
    assert default_convert(t) is t
    arr = default_convert(np.arange(3, dtype=np.int16))
    assert isinstance(arr, ember.Tensor) and arr.dtype is ember.int16
    scalar = default_convert(np.float64(2.5))
    assert scalar.dtype is ember.float64 and scalar.shape == ()
    converted = default_convert({"a": np.zeros(2), "b": [np.ones(1), 3], "c": (np.ones(1), "s")})
    assert isinstance(converted["a"], ember.Tensor) and isinstance(converted["b"][0], ember.Tensor)
    assert converted["b"][1] == 3 and isinstance(converted["c"], list) and converted["c"][1] == "s"
    text = np.array(["x"])
    assert default_convert(text) is text
    point = default_convert(Point(np.zeros(1), 1))
    assert type(point) is Point and isinstance(point.x, ember.Tensor)
    assert default_convert("abc") == "abc" and default_convert(5) == 5
