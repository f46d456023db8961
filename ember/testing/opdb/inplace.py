"""OpInfos for ops that exist only in place: zero_, fill_, copy_.

(The in-place forms of out-of-place ops are the ``inplace=`` fields of their OpInfos.)
"""
from __future__ import annotations

import numpy as np

from ember.testing import dtypes as D
from ember.testing import samples as smp
from ember.testing.opinfo import STRIDED, TRANSPOSED, OpInfo, SampleInput as S

OPS = []


def _fill_samples(mk):
    value = mk.scalar("float") if mk.is_float else True if mk.is_bool else 3
    yield S(mk(3, 4), value, desc="scalar")
    yield S(mk(), value, desc="0d")
    yield S(mk(0, 3), value, desc="empty")
    yield S(mk(4, 3), value, desc="transposed", layout=TRANSPOSED)
    yield S(mk(2, 5), value, desc="strided", layout=STRIDED)
    yield S(mk(3, 4), mk(), desc="0d_tensor_value")
    yield S(mk(3, 4), np.array(2, dtype=np.int64), desc="0d_int64_tensor_value")
    if not mk.is_float:
        yield S(mk(3, 4), 2.0, desc="float_value_whole")


def _copy_samples(mk):
    yield S(mk(3, 4), mk(3, 4), desc="same_shape")
    yield S(mk(3, 4), mk(4), desc="broadcast_src")
    yield S(mk(3, 4), mk(), desc="0d_src")
    yield S(mk(), mk(), desc="0d")
    yield S(mk(0, 3), mk(3), desc="empty")
    yield S(mk(4, 3), mk(4, 3), desc="transposed", layout=TRANSPOSED)
    yield S(mk(2, 5), mk(2, 5), desc="strided", layout=STRIDED)
    for other in ("float64", "int32", "bool", "bfloat16"):
        if other != mk.dtype:
            yield S(mk(3, 4), mk(3, 4, dtype=other, low=0, high=5), desc=f"from_{other}")


def _same(sample, dtype):
    return dtype


OPS = [
    OpInfo("zero_", op=None, inplace="zero_", ref=np.zeros_like, samples=smp.unary, dtypes=D.ALL,
           result_dtype=_same, supports_grad=False),
    OpInfo("fill_", op=None, inplace="fill_", ref=lambda x, value: np.full(x.shape, value), samples=_fill_samples,
           dtypes=D.ALL, result_dtype=_same, supports_grad=False),
    OpInfo("copy_", op=None, inplace="copy_", ref=lambda x, src: np.broadcast_to(src, x.shape).copy(),
           samples=_copy_samples, dtypes=D.ALL, result_dtype=_same, supports_grad=False),
]
