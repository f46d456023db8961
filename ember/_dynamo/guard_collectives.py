"""Guard collectives (``ember.compiler.set_enable_guard_collectives``): ranks agree on recompiling.

When enabled and ``ember.distributed`` is initialised, every call of a compiled function that
already holds compiled code gathers each rank's guard verdict (did a graph fit its inputs?) from
every rank of the default group. If any rank missed, all of them capture again, so that SPMD
ranks never diverge with one capturing (and issuing the program's collectives eagerly) while the
others replay. It costs one collective per call of a compiled region: keep it off unless needed.
"""
from __future__ import annotations


class GuardCollectives:
    """Whether guard verdicts are synchronised, and how many collectives were issued (for tests)."""
    enabled = False
    issued = 0


def set_enable_guard_collectives(enabled: bool) -> bool:
    """Synchronise guard evaluation across ranks at every entry to a compiled region.

    While on and ``ember.distributed`` is initialised, a compiled function that already holds
    compiled code all-gathers every rank's "a graph fits" verdict on each call; if any rank's
    guards failed, every rank captures again. Only for SPMD programs (every rank must call the
    same compiled functions in the same order, or the gathers hang).

    Args:
        enabled: True to turn guard collectives on, False to turn them off.

    Returns:
        The previous setting (a bool).
    """
    before = GuardCollectives.enabled
    GuardCollectives.enabled = bool(enabled)
    return before


def combine(verdicts) -> bool:
    """The verdict every rank acts on: a hit only if every rank hit."""
    return all(bool(v) for v in verdicts)


def synchronized_hit(hit: bool) -> bool:
    """This rank's guard verdict ``hit`` combined with every other rank's (``hit`` itself when
    ``ember.distributed`` is not initialised)."""
    import ember.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return hit
    verdicts = [None] * dist.get_world_size()
    dist.all_gather_object(verdicts, bool(hit))
    GuardCollectives.issued += 1
    return combine(verdicts)
