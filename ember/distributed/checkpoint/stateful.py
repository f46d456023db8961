"""``torch.distributed.checkpoint.stateful``: ``Stateful``, an object ``save``/``load`` treat by its
``state_dict()``/``load_state_dict()``."""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Stateful", "StatefulT"]


@runtime_checkable
class Stateful(Protocol):
    """An object with ``state_dict()`` and ``load_state_dict(state_dict)`` (models, optimizers, or a
    user's class): ``save`` writes its state dict, ``load`` loads into it."""

    def state_dict(self) -> dict[str, Any]:
        """The object's state."""
        ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the object's state."""
        ...


StatefulT = Stateful
