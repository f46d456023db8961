"""``torch.distributed.checkpoint.logger``: the checkpoint logger and ``_dcp_method_logger``, which
logs each save/load call's start, end and failure."""
from __future__ import annotations

import functools
import time

from ember.distributed.c10d_logger import _get_or_create_logger
from ember.distributed.checkpoint.logging_handlers import DCP_LOGGER_NAME

__all__: list = []

_dcp_logger = _get_or_create_logger(DCP_LOGGER_NAME)


def _dcp_method_logger(log_exceptions=False, **wrapper_kwargs):
    """A decorator logging a checkpoint function's calls (and failures, with ``log_exceptions``)."""
    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            start = time.monotonic()
            _dcp_logger.debug({"event": "start", "func": func.__name__})
            try:
                result = func(*args, **kwargs)
            except BaseException as error:
                if log_exceptions:
                    _dcp_logger.error({"event": "exception", "func": func.__name__, "error": repr(error)})
                raise
            _dcp_logger.debug({"event": "end", "func": func.__name__, "time": time.monotonic() - start})
            return result
        return wrapper
    return decorator
