"""What in-place writes through views need beyond aliasing memory.

A view remembers how it was made from its base (``Tensor._view_fn``: a chain of view
ops). With that the core can (1) rebase the autograd graph after an in-place op on a
view, as PyTorch's CopySlices does, and (2) for backends whose arrays cannot alias,
write a view's new value back into its base.
"""
from __future__ import annotations

import weakref

from ember.core.autograd import GRAD_MODE, Node, edge_of, no_grad
from ember.core.tensor import Tensor


class _CopySlicesRule:
    """Backward of "base with the view region replaced by ``result``"."""
    node_name = "CopySlices"
    saves_inputs = ()
    saves_output = False

    def __init__(self, view_fn):
        self.view_fn = view_fn

    def __call__(self, node, grad):
        from ember.core.call import replay_view, write_inplace
        from ember.core.transfer import create
        if grad.dtype.is_complex and _reads_parts(self.view_fn):
            # the view holds real or imaginary parts: a complex mask cannot zero one part, so zero the
            # view region of a copy of the gradient instead
            from ember.core.call import call
            from ember.dispatch.ops import OPS
            grad_base = call(OPS["clone"], grad)
            write_inplace(replay_view(self.view_fn, grad_base), 0)
            return grad_base, replay_view(self.view_fn, grad)
        with no_grad():
            keep = create("full", grad.device, shape=grad._data.shape, value=1, dtype=grad.dtype)
            write_inplace(replay_view(self.view_fn, keep), 0)
        grad_base = grad * keep
        grad_result = replay_view(self.view_fn, grad)
        return grad_base, grad_result


def _reads_parts(view_fn) -> bool:
    """Whether a view chain reads a complex tensor as real pairs (``.real``, ``.imag``, view_as_real)."""
    while view_fn is not None:
        view_fn, op, _ = view_fn
        if op is not None and op.name == "view_dtype":
            return True
    return False


def rebase_view_history(view: Tensor, result: Tensor | None):
    """After writing ``result`` (None: a value that needs no grad) into ``view``."""
    from ember.core.call import replay_view
    base = view._base
    rule = _CopySlicesRule(view._view_fn)
    if result is None:
        result_meta, result_edge = None, None
    else:
        result_meta, result_edge = (result._data.shape, result.dtype, result.device), edge_of(result)
    meta = ((base._data.shape, base.dtype, base.device), result_meta)
    node = Node("CopySlices", rule, None, (edge_of(base), result_edge), meta)
    base.grad_fn = node
    base._output_nr = 0
    base._rg = True
    prev = GRAD_MODE.enabled
    GRAD_MODE.enabled = True
    try:
        fresh = replay_view(view._view_fn, base)
    finally:
        GRAD_MODE.enabled = prev
    view.grad_fn = fresh.grad_fn
    view._output_nr = 0
    view._rg = True


# ---------------------------------------------------------------- backends that cannot alias
def track_view(base: Tensor, view: Tensor):
    """Remember a live view of ``base`` so later writes can refresh it."""
    if base._views is None:
        base._views = weakref.WeakSet()
    base._views.add(view)


def replay_native(view_fn, native, device_type):
    """Apply a view chain to a native array with the backend's view kernels (no Tensors)."""
    if view_fn is None:
        return native
    parent, op, attrs = view_fn
    source = replay_native(parent, native, device_type)
    if op is None:  # a detached alias: identity
        return source
    from ember.core.call import resolve_kernel
    return resolve_kernel(op.name, device_type)(source, **attrs)


def propagate_write(target: Tensor, new):
    """``target`` now holds ``new`` (a fresh array): make its base and every live view agree.

    On aliasing backends this never runs: the write went into shared memory. Otherwise a
    view's new value is scattered into its base (at positions found by replaying the view
    on an index tensor), then every live view of the base is re-derived from it.
    """
    base = target._base
    if base is None:
        target._data = new
        _refresh_views(target, skip=None)
        return
    if _is_whole_base(target._view_fn):  # an alias of the whole base (detach, .data)
        base._data = new
    else:
        target._data = new
        _scatter_into_base(target, base)
    target._data = replay_native(target._view_fn, base._data, base.device.type)
    _refresh_views(base, skip=target)


def _is_whole_base(view_fn):
    while view_fn is not None:
        if view_fn[1] is not None:
            return False
        view_fn = view_fn[0]
    return True


def _refresh_views(base: Tensor, skip):
    if base._views is None:
        return
    for view in list(base._views):
        if view is not skip:
            view._data = replay_native(view._view_fn, base._data, base.device.type)


def _scatter_into_base(view: Tensor, base: Tensor):
    chain = view._view_fn
    sizes = set()
    while chain is not None:
        if chain[1] is not None and chain[1].name == "view_dtype":
            sizes.update((chain[2]["dtype"].itemsize, base.dtype.itemsize))
        chain = chain[0]
    if sizes:  # the chain reads the memory as another dtype
        if not sizes <= {4, 8}:
            raise RuntimeError("writing through a view(dtype) of another tensor with 1- or 2-byte elements is not "
                               "possible on a backend whose arrays cannot share memory (mps): write to the base, "
                               "or to a copy")
        return _scatter_units(view, base)
    from ember.core import dtype as dt
    from ember.core.call import call, replay_view
    from ember.core.transfer import create
    from ember.dispatch.ops import INDEX_SLOT, OPS
    with no_grad():
        numbered = create("arange", base.device, start=0, end=base.numel(), step=1, dtype=dt.int64)
        positions = replay_view(view._view_fn, call(OPS["view"], numbered, shape=base._data.shape))
        flat_positions = call(OPS["view"], call(OPS["clone"], positions), shape=(positions.numel(),))
        values = _alias(view)
        flat_values = call(OPS["view"], call(OPS["clone"], values), shape=(values.numel(),))
        flat_base = call(OPS["view"], call(OPS["clone"], _alias(base)), shape=(base.numel(),))
        updated = call(OPS["index_put"], flat_base, flat_values, flat_positions, key=(INDEX_SLOT,),
                       accumulate=False)
        base._data = call(OPS["view"], updated, shape=base._data.shape)._data


def _scatter_units(view: Tensor, base: Tensor):
    """``_scatter_into_base`` for a view chain through ``view_dtype`` (``.real``, ``.imag``,
    ``view_as_real``, ``view(dtype)``) with 4- and 8-byte elements: the base is numbered in 4-byte
    units (an 8-byte element holds two packed int32 numbers), the chain is replayed on the numbers
    with each dtype replaced by the int type of its size, and the view's bytes are written into the
    base's 4-byte units at the positions found."""
    from ember.core import dtype as dt
    from ember.core.call import call
    from ember.core.transfer import create
    from ember.dispatch.ops import INDEX_SLOT, OPS
    as_int = {4: dt.int32, 8: dt.int64}

    def flat(t):
        return call(OPS["view"], call(OPS["clone"], t), shape=(t.numel(),))

    def units(t):  # the bytes of t as a 1-d int32 tensor
        return call(OPS["view_dtype"], flat(t), dtype=dt.int32)

    def replay(view_fn, t):
        if view_fn is None:
            return t
        parent, op, attrs = view_fn
        source = replay(parent, t)
        if op is None:
            return source
        if op.name == "view_dtype":
            attrs = dict(attrs, dtype=as_int[attrs["dtype"].itemsize])
        return call(op, source, **attrs)

    with no_grad():
        numbered = create("arange", base.device, start=0, end=base.numel() * base.dtype.itemsize // 4, step=1,
                          dtype=dt.int32)
        numbered = call(OPS["view_dtype"], numbered, dtype=as_int[base.dtype.itemsize])
        positions = replay(view._view_fn, call(OPS["view"], numbered, shape=base._data.shape))
        where = call(OPS["cast"], units(positions), dtype=dt.int64)
        updated = call(OPS["index_put"], units(_alias(base)), units(_alias(view)), where, key=(INDEX_SLOT,),
                       accumulate=False)
        restored = call(OPS["view_dtype"], updated, dtype=base.dtype)
        base._data = call(OPS["view"], restored, shape=base._data.shape)._data


def _alias(t: Tensor) -> Tensor:
    """A plain tensor over the same native array (no view links, no graph)."""
    from ember.core.tensor import make_tensor
    return make_tensor(t._data, t.dtype, t.device)


# ---------------------------------------------------------------- strides of views that do not alias
def strided_layout(t: Tensor):
    """A numpy array laid out as ``t`` would be if its backend aliased memory: its base as a
    contiguous byte array (no memory behind it: strides only), with ``t``'s view chain replayed
    by the CPU's view kernels, so that ``t``'s strides, contiguity and viewability are PyTorch's."""
    import numpy as np
    from numpy.lib.stride_tricks import as_strided
    base = t._base if t._base is not None else t
    shape, itemsize = base._data.shape, base.dtype.itemsize
    strides, step = [], itemsize
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    layout = as_strided(np.zeros(1, base.dtype.numpy), shape=shape, strides=tuple(reversed(strides)),
                        writeable=False)
    return replay_native(t._view_fn, layout, "cpu")


def logical_strides(t: Tensor) -> tuple:
    """The strides, in elements, of a view on a backend whose arrays cannot alias."""
    return tuple(int(s) // t.dtype.itemsize for s in strided_layout(t).strides)


def check_viewable(t: Tensor, shape) -> None:
    """Raise the CPU's error when a view on a backend without aliasing could not be viewed as
    ``shape`` were its memory shared (PyTorch's rule: only where the strides allow it)."""
    from ember.core.call import resolve_kernel
    resolve_kernel("view", "cpu")(strided_layout(t), shape=tuple(shape))
