"""View cases for the aliasing checks (``runner.check_view``).

Each case makes a view of a base tensor with ember ops and says, with the same view
made in numpy over ``arange``, which element of the base each view element is.
"""
from __future__ import annotations

import numpy as np


class ViewCase:
    """``make(base) -> view``; ``positions(arange(n).reshape(shape))`` -> base element of each view element.

    ``writable=False`` for views where several elements share one base element
    (``expand``): PyTorch forbids in-place writes to those.
    """
    __slots__ = ("name", "shape", "make", "positions", "writable")

    def __init__(self, name, shape, make, positions, writable=True):
        self.name, self.shape, self.make, self.positions, self.writable = name, shape, make, positions, writable

    def __repr__(self):
        return f"ViewCase({self.name})"


VIEW_CASES = [
    ViewCase("view", (3, 4), lambda b: b.view(4, 3), lambda a: a.reshape(4, 3)),
    ViewCase("view_flat", (2, 3, 2), lambda b: b.view(-1), lambda a: a.reshape(-1)),
    ViewCase("view_as", (2, 6), lambda b: b.view_as(b.new_zeros(3, 4)), lambda a: a.reshape(3, 4)),
    ViewCase("reshape_contiguous", (3, 4), lambda b: b.reshape(2, 6), lambda a: a.reshape(2, 6)),
    ViewCase("flatten", (2, 3, 2), lambda b: b.flatten(1), lambda a: a.reshape(2, 6)),
    ViewCase("unflatten", (2, 6), lambda b: b.unflatten(1, (2, 3)), lambda a: a.reshape(2, 2, 3)),
    ViewCase("transpose", (3, 4), lambda b: b.transpose(0, 1), lambda a: a.T),
    ViewCase("t", (3, 4), lambda b: b.t(), lambda a: a.T),
    ViewCase("T", (2, 3, 4), lambda b: b.T, lambda a: a.transpose(2, 1, 0)),
    ViewCase("mT", (2, 3, 4), lambda b: b.mT, lambda a: np.swapaxes(a, -1, -2)),
    ViewCase("permute", (2, 3, 4), lambda b: b.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    ViewCase("narrow", (5, 4), lambda b: b.narrow(0, 1, 3), lambda a: a[1:4]),
    ViewCase("narrow_last", (3, 6), lambda b: b.narrow(-1, 2, 3), lambda a: a[:, 2:5]),
    ViewCase("select", (3, 4), lambda b: b.select(1, 2), lambda a: a[:, 2]),
    ViewCase("getitem_int", (3, 4), lambda b: b[1], lambda a: a[1]),
    ViewCase("getitem_slice_step", (6, 5), lambda b: b[1::2, 1:4], lambda a: a[1::2, 1:4]),
    ViewCase("getitem_none_ellipsis", (2, 3, 4), lambda b: b[None, ..., 1], lambda a: a[None, ..., 1]),
    ViewCase("diagonal", (4, 4), lambda b: b.diagonal(), lambda a: np.diagonal(a)),
    ViewCase("diagonal_offset", (3, 5), lambda b: b.diagonal(1), lambda a: np.diagonal(a, 1)),
    ViewCase("diagonal_dims", (2, 3, 3), lambda b: b.diagonal(0, 1, 2), lambda a: np.diagonal(a, 0, 1, 2)),
    ViewCase("unsqueeze", (3, 4), lambda b: b.unsqueeze(1), lambda a: a[:, None]),
    ViewCase("squeeze", (3, 1, 4), lambda b: b.squeeze(1), lambda a: a[:, 0]),
    ViewCase("split", (6, 2), lambda b: b.split(2)[1], lambda a: a[2:4]),
    ViewCase("chunk", (2, 6), lambda b: b.chunk(3, 1)[2], lambda a: a[:, 4:6]),
    ViewCase("unbind", (3, 4), lambda b: b.unbind(1)[3], lambda a: a[:, 3]),
    ViewCase("view_of_transpose_narrow", (4, 5), lambda b: b.t().narrow(0, 1, 2)[:, ::2],
             lambda a: a.T[1:3, ::2]),
    ViewCase("expand", (3, 1), lambda b: b.expand(3, 4), lambda a: np.broadcast_to(a, (3, 4)), writable=False),
    ViewCase("expand_new_dim", (4,), lambda b: b.expand(2, 4), lambda a: np.broadcast_to(a, (2, 4)),
             writable=False),
]
