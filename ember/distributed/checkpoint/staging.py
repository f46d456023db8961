"""``torch.distributed.checkpoint.staging``: stagers copy a state dict off the training tensors
(to the CPU) so that ``async_save`` can write it while training goes on."""
from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass

import ember

__all__ = ["AsyncStager", "BlockingAsyncStager", "DefaultStager", "StagingOptions"]


def _stage_to_cpu(tree):
    """A copy of ``tree`` with every tensor copied to the CPU (shard registrations kept)."""
    from ember.distributed.fsdp import register_shard, shard_info
    if isinstance(tree, ember.Tensor):
        copy = tree.detach().cpu().clone()
        info = shard_info(tree)
        if info is not None:
            register_shard(copy, *info)
        return copy
    if isinstance(tree, dict):
        return {k: _stage_to_cpu(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_stage_to_cpu(v) for v in tree]
    if isinstance(tree, tuple):
        return tuple(_stage_to_cpu(v) for v in tree)
    return tree


class AsyncStager:
    """Copies a state dict for an asynchronous save: ``stage`` returns the copy (or a Future of it)."""

    _synchronize_after_execute = False

    @property
    def should_synchronize_after_execute(self):
        """Whether ``synchronize_staging`` must be called after the save starts."""
        return self._synchronize_after_execute

    def stage(self, state_dict):
        """The staged copy of ``state_dict``.

        Args:
            state_dict: the state dict.

        Returns:
            The copy (or a Future of it).
        """
        raise NotImplementedError(f"{type(self).__name__}.stage must be implemented by the subclass")

    def synchronize_staging(self):
        """Wait until staging is complete (nothing to wait for when ``stage`` returns the copy)."""

    def close(self):
        """Release the stager's resources."""


@dataclass
class StagingOptions:
    """How DefaultStager stages.

    Args:
        use_pinned_memory: accepted (CPU tensors are ordinary host memory).
        use_shared_memory: accepted.
        use_async_staging: stage in a background thread (``stage`` returns a Future).
        use_non_blocking_copy: accepted.
    """
    use_pinned_memory: bool = True
    use_shared_memory: bool = True
    use_async_staging: bool = True
    use_non_blocking_copy: bool = True


class DefaultStager(AsyncStager):
    """Stage to the CPU, in a background thread when ``options.use_async_staging``.

    Args:
        options: StagingOptions.
    """

    def __init__(self, options=None):
        self.options = options or StagingOptions()

    def stage(self, state_dict, **kwargs):
        if not self.options.use_async_staging:
            return _stage_to_cpu(state_dict)
        import threading
        future = Future()

        def run():
            try:
                future.set_result(_stage_to_cpu(state_dict))
            except BaseException as e:  # noqa: BLE001
                future.set_exception(e)
        threading.Thread(target=run, daemon=True).start()
        self._last = future
        return future

    def synchronize_staging(self):
        last = getattr(self, "_last", None)
        if last is not None:
            last.result()


class BlockingAsyncStager(AsyncStager):
    """Stage to the CPU on the calling thread (``stage`` returns when the copy is made).

    Args:
        cache_staged_state_dict: accepted.
        type_check: accepted.
    """

    def __init__(self, cache_staged_state_dict=False, type_check=False):
        self.cache_staged_state_dict, self.type_check = cache_staged_state_dict, type_check

    def stage(self, state_dict):
        return _stage_to_cpu(state_dict)
