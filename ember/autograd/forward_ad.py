"""``ember.autograd.forward_ad``: forward-mode automatic differentiation (dual tensors).

Inside ``with dual_level():``, ``make_dual(x, t)`` gives a tensor whose every op also
computes the directional derivative along ``t`` (its *tangent*): ``unpack_dual(y).tangent``
is the Jacobian-vector product ``J_y(x) @ t``. One JVP rule per op (``ember/ops/jvp_rules.py``)
runs beside the primal at the dispatcher (``ember/core/dual.py``); tangents are ember tensors,
so reverse mode differentiates through them. As in PyTorch, levels do not nest.
"""
from __future__ import annotations

from collections import namedtuple

from ember.core import dual as _dual
from ember.core.call import call as _call
from ember.core.tensor import Tensor
from ember.dispatch.ops import OPS as _OPS

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
           "dual_level"]


class UnpackedDualTensor(namedtuple("UnpackedDualTensor", ["primal", "tangent"])):
    """What ``unpack_dual`` returns: a named tuple ``(primal, tangent)``.

    Args:
        primal: a view of the dual tensor's value, without the tangent.
        tangent: its tangent, or None when it has none at that level.
    """


def enter_dual_level() -> int:
    """Start a forward-AD level, inside which dual tensors can be made and unpacked.

    Prefer ``with dual_level():``, which also ends it.

    Returns:
        The new level's index (0: levels do not nest).

    Raises:
        RuntimeError: a level is already active.
    """
    if _dual.DUAL.level is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    import ember.ops.jvp_rules  # noqa: F401  (registers the forward rules on first use)
    _dual.enter(0)
    return 0


def exit_dual_level(*, level=None) -> None:
    """End the active forward-AD level; every tangent made in it is dropped.

    Args:
        level: the level to end (default: the active one); it must be the active one.

    Raises:
        RuntimeError: no level is active, or ``level`` is not the active one.
    """
    current = _dual.DUAL.level
    if level is None:
        level = current
    if level is None or level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    if level != current:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. "
                           "This is not supported.")
    _dual.leave()


def _check_level(level):
    current = _dual.DUAL.level
    if level is None:
        level = current
    if level is None:
        return None
    if level != current:
        raise RuntimeError(f"Invalid dual level {level}: the active forward AD level is {current}")
    return level


def _is_differentiable(dtype) -> bool:
    return dtype.is_floating_point or dtype.is_complex


def make_dual(tensor, tangent, *, level=None):
    """A dual tensor: a view of ``tensor`` carrying ``tangent`` as its forward gradient.

    Every op on it (inside the level) carries a tangent forward too: the JVP along ``tangent``.

    Args:
        tensor: the primal value, a floating-point or complex tensor.
        tangent: its tangent, a floating-point or complex tensor of the same shape.
        level: the forward-AD level (default: the active one).

    Returns:
        A new tensor that is a view of ``tensor`` (reverse mode flows through it to ``tensor``).

    Raises:
        RuntimeError: no level is active, or the shapes differ.
        ValueError: ``tensor`` or ``tangent`` is not floating point or complex.
    """
    if _check_level(level) is None:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    if not isinstance(tensor, Tensor) or not isinstance(tangent, Tensor):
        raise TypeError(f"make_dual(): expected Tensors, got {type(tensor).__name__} and "
                        f"{type(tangent).__name__}")
    if not _is_differentiable(tensor.dtype):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not _is_differentiable(tangent.dtype):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if tangent.device != tensor.device:
        raise RuntimeError(f"Expected tangent to be on the same device as the primal: the primal is on "
                           f"{tensor.device}, the tangent on {tangent.device}")
    with _level_off():
        dual = _call(_OPS["view"], tensor, shape=tuple(tensor.shape))
    _dual.set_tangent(dual, tangent)
    return dual


def unpack_dual(tensor, *, level=None):
    """Split a dual tensor into its primal and its tangent.

    Args:
        tensor: any tensor.
        level: the forward-AD level (default: the active one).

    Returns:
        ``UnpackedDualTensor(primal, tangent)``: the primal is a view of ``tensor`` without a tangent;
        the tangent is None outside a level or when ``tensor`` has none.
    """
    if _check_level(level) is None:
        return UnpackedDualTensor(tensor, None)
    tangent = _dual.tangent_of(tensor)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    with _level_off():
        primal = _call(_OPS["view"], tensor, shape=tuple(tensor.shape))
    return UnpackedDualTensor(primal, tangent)


class _level_off:
    """Run ops without forward AD (the level stays, tangents are kept)."""

    def __enter__(self):
        self._level = _dual.DUAL.level
        _dual.DUAL.level = None

    def __exit__(self, *exc):
        _dual.DUAL.level = self._level
        return False


class dual_level:
    """Context manager (and decorator) for a forward-AD level: entered on enter, ended on exit.

    Inside it ``make_dual`` and ``unpack_dual`` work; every tangent is dropped on exit.
    ``with dual_level() as level:`` binds the level's index.
    """

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with dual_level():
                return fn(*args, **kwargs)
        return wrapper
