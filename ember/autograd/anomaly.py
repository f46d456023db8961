"""Anomaly detection: ``detect_anomaly`` / ``set_detect_anomaly`` and the top-level switches.

Under anomaly mode each recorded graph node keeps the traceback of the forward call that made
it; in backward, a node whose derivative raises, or (with ``check_nan``) returns nan values,
warns with that traceback, and a nan raises RuntimeError naming the node
(``ember.core.anomaly`` holds the mode and the checks).
"""
from __future__ import annotations

import functools
import warnings

from ember.core.anomaly import ANOMALY as _ANOMALY

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "set_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on.

    Returns:
        A bool.
    """
    return _ANOMALY.enabled


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection checks backward results for nan values.

    Returns:
        A bool.
    """
    return _ANOMALY.check_nan


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Turn anomaly detection on or off.

    Args:
        enabled: the new mode.
        check_nan: whether backward results are checked for nan values.
    """
    _ANOMALY.enabled = bool(enabled)
    _ANOMALY.check_nan = bool(check_nan)


class _AnomalyContext:
    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(*self._args):
                return fn(*args, **kwargs)
        return wrapper


class detect_anomaly(_AnomalyContext):
    """Context manager and decorator that turns anomaly detection on for autograd.

    Inside it, the forward call of every graph node is remembered; if a node's backward raises or
    (``check_nan``) returns nan values, a warning shows that forward traceback, and a nan raises
    RuntimeError naming the node. It slows everything down: for debugging only.

    Args:
        check_nan: check backward results for nan values (default True).
    """

    def __init__(self, check_nan: bool = True):
        self._args = (check_nan,)
        self.check_nan = check_nan
        self.prev = _ANOMALY.enabled
        self.prev_check_nan = _ANOMALY.check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self):
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *exc):
        set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False


class set_detect_anomaly(_AnomalyContext):
    """Turn anomaly detection on or off: at once when called, until the block ends as a context manager.

    Args:
        mode: ``True`` to turn it on, ``False`` off.
        check_nan: check backward results for nan values (default True).
    """

    def __init__(self, mode: bool, check_nan: bool = True):
        self._args = (mode, check_nan)
        self.prev = _ANOMALY.enabled
        self.prev_check_nan = _ANOMALY.check_nan
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        set_anomaly_enabled(self.prev, self.prev_check_nan)
        return False
