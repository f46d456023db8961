"""PyTorch's type promotion over tensors and Python scalars, and the broadcast check."""
from __future__ import annotations

from ember.core import dtype as dt
from ember.core.tensor import Tensor
from ember.dispatch.meta import broadcast_shapes
from ember.ops.public import public


@public
def result_type(*operands) -> dt.dtype:
    """The dtype an arithmetic op on ``operands`` computes in, by PyTorch's promotion rules.

    Tensors with dimensions take precedence over 0-d tensors, which take precedence over
    Python numbers; within a group the wider type wins, and a higher category (bool <
    integer < float) always wins.

    Args:
        *operands: tensors, dtypes and Python numbers (``torch.result_type`` takes two).

    Returns:
        An ember dtype.
    """
    dim_dtype = zero_dtype = None
    scalar_cat = None
    for x in operands:
        if isinstance(x, Tensor):
            if x._data.shape:
                dim_dtype = x.dtype if dim_dtype is None else dt.promote_types(dim_dtype, x.dtype)
            else:
                zero_dtype = x.dtype if zero_dtype is None else dt.promote_types(zero_dtype, x.dtype)
        elif isinstance(x, dt.dtype):
            dim_dtype = x if dim_dtype is None else dt.promote_types(dim_dtype, x)
        else:
            cat = dt.scalar_dtype(x).category
            scalar_cat = cat if scalar_cat is None else max(scalar_cat, cat)
    return dt.result_dtype(dim_dtype, zero_dtype, scalar_cat)


def check_broadcast(a, b) -> None:
    """Raise PyTorch's RuntimeError when ``a`` and ``b`` (tensors or scalars) do not broadcast."""
    sa = a._data.shape if isinstance(a, Tensor) else ()
    sb = b._data.shape if isinstance(b, Tensor) else ()
    if sa != sb and sa and sb:
        broadcast_shapes(sa, sb)
