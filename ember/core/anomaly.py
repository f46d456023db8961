"""Anomaly mode's state and checks (``ember.autograd.detect_anomaly``), used by the dispatcher and the engine.

Under anomaly mode the dispatcher keeps the forward traceback of each graph node it records; the
engine runs each node's backward through ``apply_checked``, which warns with that traceback when
the backward raises, and raises RuntimeError naming the node when it returns nan values.
"""
from __future__ import annotations

import os
import weakref

from ember.core.tensor import Tensor


class _Anomaly:
    """Anomaly detection (``ember.autograd.detect_anomaly``): forward tracebacks, nan checks in backward."""
    __slots__ = ("enabled", "check_nan")

    def __init__(self):
        self.enabled = False
        self.check_nan = True


ANOMALY = _Anomaly()
#: node -> the formatted traceback of the forward call that recorded it (under anomaly mode)
FORWARD_TRACES = weakref.WeakKeyDictionary()


_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def record_forward_trace(node) -> None:
    """Remember where ``node`` was recorded (called by the dispatcher under anomaly mode)."""
    import traceback
    # the user's frames (and the frontends'): the dispatcher's and the op layer's are ember's machinery,
    # as PyTorch's C++ kernels are absent from its traceback
    internal = tuple(os.path.join(_EMBER_DIR, sub) + os.sep for sub in ("core", "ops", "dispatch"))
    frames = [f for f in traceback.extract_stack()[:-1] if not f.filename.startswith(internal)]
    FORWARD_TRACES[node] = "".join(traceback.format_list(frames))


def apply_checked(node, grads):
    """Run ``node``'s backward under anomaly mode: on an error or a nan result, warn with the forward
    traceback of the call that recorded it; a nan result raises RuntimeError naming the node."""
    try:
        results = node.apply(grads)
        if ANOMALY.check_nan:
            outs = results if isinstance(results, (tuple, list)) else (results,)
            for i, g in enumerate(outs):
                if isinstance(g, Tensor) and (g.dtype.is_floating_point or g.dtype.is_complex):
                    from ember.core.call import call
                    from ember.dispatch.ops import OPS
                    nan = call(OPS["any"], call(OPS["isnan"], g), dims=(), keepdim=False)
                    if bool(nan.item()):
                        raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
    except Exception:
        import warnings
        trace = FORWARD_TRACES.get(node) if hasattr(node, "__weakref__") else None
        if trace is None:
            trace = ("No forward pass information available. Enable detect anomaly during forward pass for more "
                     "information.")
        warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that caused the error:\n{trace}",
                      stacklevel=2)
        raise
    return results
