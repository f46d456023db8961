"""The dtype of an einsum over integer or bool operands, as PyTorch's contraction order gives it.

PyTorch sums out a subscript that only one operand (so far) has with ``sum``, which widens integers and bool
to int64, and contracts shared subscripts with ``bmm``, which keeps the dtype (and refuses bool, and operands
of different dtypes). Walking the operands left to right as it does tells which of the two each step is.
"""
from __future__ import annotations

from ember.core import dtype as dt


def einsum_dtype(equation: str, dtype):
    """The result dtype of ``einsum(equation)`` on operands of ``dtype`` (``equation`` explicit, with
    ``->``), or the exception PyTorch raises for it (returned, not raised)."""
    if dtype.is_floating_point or dtype.is_complex:
        return dtype
    lhs, out = equation.split("->")
    terms = lhs.split(",")
    last = {}
    for i, term in enumerate(terms):
        for c in term:
            last[c] = i
    wide = dt.int64

    def summed_alone(term, i, present):
        return any(c not in out and last[c] == i and c not in present for c in term)
    if len(terms) == 1:
        return wide if set(terms[0]) - set(out) else dtype
    current = wide if summed_alone(terms[0], 0, "") else dtype
    held = set(terms[0]) - {c for c in terms[0] if c not in out and last[c] == 0}
    for i, term in enumerate(terms[1:], start=1):
        other = wide if summed_alone(term, i, held) else dtype
        contracted = {c for c in term if c in held and c not in out and last[c] == i}
        if contracted:
            if other is not current:
                names = {dt.int64: "Long", dt.int32: "Int", dt.int16: "Short", dt.int8: "Char", dt.uint8: "Byte",
                         dt.bool_: "Bool"}
                return RuntimeError(f"expected scalar type {names.get(current, current.name)} but found "
                                    f"{names.get(other, other.name)}")
            if dtype is dt.bool_:
                return NotImplementedError("\"bmm\" not implemented for 'Bool'")
        else:
            current = dt.promote_types(current, other)
        held = (held | set(term)) - {c for c in held | set(term) if c not in out and last[c] <= i}
    return current
