"""``repr(tensor)`` in PyTorch's style: ``tensor([1., 2.], requires_grad=True)``."""
from __future__ import annotations

import numpy as np

from ember.core import dtype as dt

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3


def _float_formatter(values: np.ndarray):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{PRECISION}f}"
    if np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        width = max(len(f"{v:.0f}.") for v in finite)
        return lambda v: (_special(v) or f"{v:.0f}.").rjust(width)
    amax, amin = np.abs(finite).max(), np.abs(finite[finite != 0]).min() if np.any(finite != 0) else 0
    if amax >= 1e8 or (amin and amin < 1e-4) or (amin and amax / amin > 1e5 and amax >= 1e3):
        fmt = lambda v: _special(v) or f"{v:.{PRECISION}e}"  # noqa: E731
    else:
        fmt = lambda v: _special(v) or f"{v:.{PRECISION}f}"  # noqa: E731
    width = max(len(fmt(v)) for v in values.reshape(-1)[:2000])
    return lambda v: fmt(v).rjust(width)


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _format(values: np.ndarray, fmt, indent: int, summarize: bool) -> str:
    if values.ndim == 0:
        return fmt(values.item())
    if values.ndim == 1:
        if summarize and values.shape[0] > 2 * EDGEITEMS:
            items = [fmt(v) for v in values[:EDGEITEMS]] + ["..."] + [fmt(v) for v in values[-EDGEITEMS:]]
        else:
            items = [fmt(v) for v in values]
        return "[" + ", ".join(items) + "]"
    rows = range(values.shape[0])
    if summarize and values.shape[0] > 2 * EDGEITEMS:
        rows = list(range(EDGEITEMS)) + [None] + list(range(values.shape[0] - EDGEITEMS, values.shape[0]))
    sep = "," + "\n" * (values.ndim - 1) + " " * (indent + 1)
    parts = ["..." if r is None else _format(values[r], fmt, indent + 1, summarize) for r in rows]
    return "[" + sep.join(parts) + "]"


def tensor_repr(t) -> str:
    from ember.ops.creation import to_numpy
    values = np.asarray(to_numpy(t))
    if t.dtype in (dt.bfloat16, dt.float16):
        values = values.astype(np.float32)
    summarize = values.size > THRESHOLD
    if t.dtype.is_floating_point:
        fmt = _float_formatter(values.astype(np.float64))
    elif t.dtype is dt.bool_:
        fmt = lambda v: str(bool(v))  # noqa: E731
    else:
        width = max((len(str(v)) for v in values.reshape(-1)[:2000]), default=1)
        fmt = lambda v: str(int(v)).rjust(width)  # noqa: E731
    prefix = "tensor("
    body = _format(values, fmt, len(prefix), summarize) if values.size or values.ndim == 0 else "[]"
    suffix = []
    if t.device.type != "cpu":
        suffix.append(f"device='{t.device}'")
    if values.size == 0 and values.shape != (0,):
        suffix.append(f"size={tuple(values.shape)}")
    default_shown = t.dtype in (dt.get_default_dtype(), dt.int64, dt.bool_)
    if not default_shown or (values.size == 0 and t.dtype is not dt.get_default_dtype()):
        suffix.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._rg:
        suffix.append("requires_grad=True")
    return prefix + body + "".join(", " + s for s in suffix) + ")"
