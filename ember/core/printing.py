"""``repr(tensor)`` in PyTorch's style: ``tensor([1., 2.], requires_grad=True)``."""
from __future__ import annotations

import numpy as np

from ember.core import dtype as dt

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80
SCI_MODE = None  # None: chosen per tensor from its values; True/False: always / never scientific

_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, float("inf"), 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None) -> None:
    """Set how tensors print; options not given keep their value (a ``profile`` sets the first four).

    Args:
        precision: digits after the decimal point of floating-point elements (default 4).
        threshold: the element count above which a tensor prints summarized (default 1000).
        edgeitems: elements shown at each end of a summarized dimension (default 3).
        linewidth: characters per line before wrapping (default 80).
        profile: ``"default"``, ``"short"`` (precision 2, edgeitems 2) or ``"full"`` (never summarize);
            applied first, then the other arguments.
        sci_mode: True or False to always or never use scientific notation; None (default) to
            choose from the values.

    Raises:
        ValueError: for an unknown ``profile``.
    """
    global PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH, SCI_MODE
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"Invalid profile: {profile!r} (expected one of {sorted(_PROFILES)})")
        PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = _PROFILES[profile]
    if precision is not None:
        PRECISION = int(precision)
    if threshold is not None:
        THRESHOLD = threshold
    if edgeitems is not None:
        EDGEITEMS = int(edgeitems)
    if linewidth is not None:
        LINEWIDTH = int(linewidth)
    SCI_MODE = None if sci_mode is None else bool(sci_mode)


class _Formatter:
    """PyTorch's element formatter: one width for the whole tensor, int/fixed/scientific mode."""

    def __init__(self, values: np.ndarray, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        flat = flat.astype(np.float64)
        finite = flat[np.isfinite(flat) & (flat != 0)]
        if finite.size == 0:
            return
        magnitude = np.abs(finite)
        amin, amax = magnitude.min(), magnitude.max()
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        self.sci_mode = bool(amax / amin > 1000.0 or amax > 1.0e8 or amin < 1.0e-4) if SCI_MODE is None \
            else SCI_MODE
        for v in finite.tolist():
            if self.sci_mode:
                text = f"{v:.{PRECISION}e}"
            elif self.int_mode:
                text = f"{v:.0f}."
            else:
                text = f"{v:.{PRECISION}f}"
            self.max_width = max(self.max_width, len(text))

    def format(self, v) -> str:
        if self.floating:
            if self.sci_mode:
                text = f"{v:{self.max_width}.{PRECISION}e}"
            elif self.int_mode:
                text = f"{v:.0f}" + ("" if np.isinf(v) or np.isnan(v) else ".")
            else:
                text = f"{v:.{PRECISION}f}"
        else:
            text = str(v)
        return text.rjust(self.max_width)


class _ComplexFormatter:
    """PyTorch's complex elements: the real and imaginary parts each with a formatter of their own,
    ``1.5000+2.j``."""

    def __init__(self, values: np.ndarray):
        self.real = _Formatter(values.real, True)
        self.imag = _Formatter(values.imag, True)
        self.max_width = self.real.max_width + self.imag.max_width + 1

    def format(self, v) -> str:
        imag = (self.imag.format(v.imag) + "j").lstrip()
        return self.real.format(v.real) + (imag if imag[0] in "+-" else "+" + imag)


def _summarized(values: np.ndarray) -> np.ndarray:
    """The elements a summarized print shows (EDGEITEMS at each end of every dim)."""
    if values.ndim == 0:
        return values
    if values.shape[0] > 2 * EDGEITEMS:
        values = np.concatenate([values[:EDGEITEMS], values[-EDGEITEMS:]])
    return np.stack([_summarized(v) for v in values]) if values.ndim > 1 and values.shape[0] else values


def _format(values: np.ndarray, fmt: _Formatter, indent: int, summarize: bool) -> str:
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        if summarize and values.shape[0] > 2 * EDGEITEMS:
            items = ([fmt.format(v) for v in values[:EDGEITEMS].tolist()] + [" ..."]
                     + [fmt.format(v) for v in values[-EDGEITEMS:].tolist()])
        else:
            items = [fmt.format(v) for v in values.tolist()]
        per_line = max(1, (LINEWIDTH - indent) // (fmt.max_width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(values.shape[0])
    if summarize and values.shape[0] > 2 * EDGEITEMS:
        rows = list(range(EDGEITEMS)) + [None] + list(range(values.shape[0] - EDGEITEMS, values.shape[0]))
    sep = "," + "\n" * (values.ndim - 1) + " " * (indent + 1)
    parts = ["..." if r is None else _format(values[r], fmt, indent + 1, summarize) for r in rows]
    return "[" + sep.join(parts) + "]"


def tensor_repr(t) -> str:
    from ember.core.transfer import to_numpy
    values = np.asarray(to_numpy(t))
    if t.dtype in (dt.bfloat16, dt.float16) or t.dtype in dt.FLOAT8_DTYPES:
        values = values.astype(np.float32)
    elif t.dtype is dt.float4_e2m1fn_x2:  # PyTorch prints each packed byte's value, as a float
        values = values.view(np.uint8).astype(np.float32)
    summarize = values.size > THRESHOLD
    shown = _summarized(values) if summarize else values
    fmt = _ComplexFormatter(shown) if t.dtype.is_complex else _Formatter(shown, t.dtype.is_floating_point)
    prefix = "tensor("
    body = _format(values, fmt, len(prefix), summarize) if values.size or values.ndim == 0 else "[]"
    suffix = []
    if t.device.type != "cpu":
        suffix.append(f"device='{t.device}'")
    if values.size == 0 and values.shape != (0,):
        suffix.append(f"size={tuple(values.shape)}")
    default_shown = t.dtype in (dt.get_default_dtype(), dt.default_complex_dtype(), dt.int64, dt.bool_)
    if not default_shown or (values.size == 0 and t.dtype is not dt.get_default_dtype()):
        suffix.append(f"dtype={t.dtype!r}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._rg:
        suffix.append("requires_grad=True")
    text = prefix + body
    for extra in suffix:  # a keyword that would overrun the line starts a new one, under the values
        last_line = len(text) - text.rfind("\n") + 1
        text += (",\n" + " " * len(prefix) if last_line + len(extra) + 2 > LINEWIDTH else ", ") + extra
    return text + ")"
