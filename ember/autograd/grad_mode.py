"""``ember.autograd.grad_mode``: the grad-mode context managers and the engine's thread settings."""
from __future__ import annotations

from ember.core.autograd import GRAD_LAYOUT as _GRAD_LAYOUT
from ember.core.autograd import enable_grad, inference_mode, no_grad, set_grad_enabled  # noqa: F401

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "set_multithreading_enabled",
           "enforce_grad_layout_policy"]

_MULTITHREADING = [True]


class _SwitchNow:
    """A setting switched when constructed and restored when the ``with`` block (or decorated call) ends."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self.prev = self._get()
        self._set(self.mode)

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        self._set(self.prev)
        return False

    def clone(self):
        """A new manager of the same setting (switching it again)."""
        return self.__class__(self.mode)

    def __call__(self, fn):
        import functools
        self._set(self.prev)  # decorating is not switching

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper


class set_multithreading_enabled(_SwitchNow):
    """Turn multithreaded backward on or off (as a function, or until a ``with`` block ends).

    ember's engine runs backward on the calling thread for every device (work on one device is
    ordered on its queue), which is PyTorch's behaviour with ``mode=False``; the setting is kept
    and read back by ``is_multithreading_enabled``.

    Args:
        mode: ``True`` (PyTorch's default) or ``False``.
    """

    @staticmethod
    def _get():
        return _MULTITHREADING[0]

    @staticmethod
    def _set(mode):
        _MULTITHREADING[0] = mode


def is_multithreading_enabled() -> bool:
    """The ``set_multithreading_enabled`` setting.

    Returns:
        A bool.
    """
    return _MULTITHREADING[0]


class enforce_grad_layout_policy(_SwitchNow):
    """Whether accumulated gradients must have their leaf's strides (as a function, or until a ``with``
    block ends).

    With ``enable=False`` the engine may hand a leaf the incoming gradient itself as its ``.grad``
    (no copy) even when its layout differs from the leaf's; new gradients are still made in the
    leaf's layout.

    Args:
        enable: ``True`` (the default) to enforce the layout contract, ``False`` to relax it.
    """

    def __init__(self, enable: bool = True):
        super().__init__(enable)

    @staticmethod
    def _get():
        return _GRAD_LAYOUT.enforce

    @staticmethod
    def _set(mode):
        _GRAD_LAYOUT.enforce = mode
