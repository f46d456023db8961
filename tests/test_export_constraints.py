"""ember.export.Constraint: the union of the constraint objects a dynamic_shapes spec becomes."""
import math
import typing

import pytest

import ember
from ember.export import Constraint, Dim
from ember.export.dynamic_shapes import (_Constraint, _ConstraintTarget, _DerivedConstraint, _process_dynamic_shapes,
                                         _RelaxedConstraint)


def test_constraint_is_the_union_of_the_three_kinds():
    assert set(typing.get_args(Constraint)) == {_Constraint, _DerivedConstraint, _RelaxedConstraint}
    assert typing.get_origin(Constraint) is typing.Union
    for kind in typing.get_args(Constraint):
        assert issubclass(kind, _ConstraintTarget)
    assert "Constraint" in ember.export.__all__


def test_a_spec_becomes_constraints():
    x, y = ember.randn(4, 8), ember.randn(4)
    batch = Dim("batch", min=2, max=64)
    found = _process_dynamic_shapes({"x": x, "y": y}, {"x": {0: batch, 1: Dim.AUTO}, "y": (batch,)})
    assert [type(c) for c in found] == [_Constraint, _RelaxedConstraint, _Constraint]
    assert all(isinstance(c, typing.get_args(Constraint)) for c in found)
    first, relaxed, second = found
    assert (first.t_id, first.dim, first.name) == (id(x), 0, "batch")
    assert (relaxed.t_id, relaxed.dim) == (id(x), 1) and second.t_id == id(y)
    assert first.constraint_range.vr.lower == 2 and first.constraint_range.vr.upper == 64
    assert first.serializable_spec == {"t_id": id(x), "dim": 0, "min": 2, "max": 64}
    assert _process_dynamic_shapes({"x": x}, None) == []
    assert _process_dynamic_shapes({"x": x}, ({0: Dim.STATIC, 1: None},)) == []  # static dims constrain nothing


def test_comparisons_narrow_the_range():
    x = ember.randn(5)
    (c,) = _process_dynamic_shapes({"x": x}, {"x": {0: Dim("n")}})
    assert c.constraint_range.vr.upper == math.inf
    assert (c >= 3).serializable_spec["min"] == 3
    assert (c > 3).serializable_spec["min"] == 4
    assert (c <= 9).serializable_spec["max"] == 9
    assert (c < 9).serializable_spec["max"] == 8
    assert c.serializable_spec["min"] == 0  # the original is unchanged
    with pytest.raises(TypeError, match="Cannot determine truth value of _Constraint"):
        bool(c)


def test_derived_dims_arithmetic():
    b = Dim("b", min=2, max=64)
    for d, name, lo, hi in ((2 * b, "2*b", 4, 128), (b + 1, "b + 1", 3, 65), (2 * b + 1, "2*b + 1", 5, 129),
                            (b * 3 - 1, "3*b - 1", 5, 191), (2 * (b + 1), "2*b + 2", 6, 130), (b - 1, "b - 1", 1, 63)):
        assert (d.__name__, d.min, d.max, d.root) == (name, lo, hi, b) and isinstance(d, Dim)
    assert (2 * b).fn(5) == 10
    for bad in (lambda: b * b, lambda: b + 1.5, lambda: -1 * b):
        with pytest.raises(NotImplementedError, match="Only increasing linear operations with integer coefficients"):
            bad()


def test_derived_dims_make_derived_constraints():
    b = Dim("b", min=2, max=64)
    x, y = ember.randn(3, 2), ember.randn(6, 2)
    plain, derived = _process_dynamic_shapes({"x": x, "y": y}, {"x": {0: b}, "y": {0: 2 * b}})
    assert isinstance(plain, _Constraint) and isinstance(derived, _DerivedConstraint)
    assert derived.root == _ConstraintTarget(id(x), 0) and derived.fn(3) == 6 and derived.name == "2*b"
    assert (derived.constraint_range.vr.lower, derived.constraint_range.vr.upper) == (4, 128)
    (alone,) = _process_dynamic_shapes({"y": y}, {"y": {0: 2 * b}})
    assert alone.root == "b"   # no input has b itself


def test_export_honours_derived_dims(tmp_path):
    class Shifted(ember.nn.Module):
        def forward(self, x, y):
            return x[1:] + y
    b = Dim("b", min=2, max=64)
    ep = ember.export.export(Shifted(), (ember.randn(5), ember.randn(4)), dynamic_shapes=({0: b + 1}, {0: b}))
    for program in (ep, None):
        if program is None:
            ember.export.save(ep, str(tmp_path / "p.ember"))
            program = ember.export.load(str(tmp_path / "p.ember"))
        x, y = ember.randn(8), ember.randn(7)
        ember.testing.assert_close(program.module()(x, y), x[1:] + y)
        with pytest.raises(AssertionError, match="Guard failed"):
            program.module()(ember.randn(8), ember.randn(6))   # 8 is not b + 1 for b = 6
        with pytest.raises(AssertionError, match="Guard failed"):
            program.module()(ember.randn(70), ember.randn(69))  # b out of its range

    class Unrelated(ember.nn.Module):
        def forward(self, x, y):
            return x.sum() + y.sum()
    with pytest.raises(Exception, match="Constraints violated"):
        ember.export.export(Unrelated(), (ember.randn(3), ember.randn(7)), dynamic_shapes=({0: b}, {0: 2 * b}))
