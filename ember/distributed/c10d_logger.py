"""``torch.distributed.c10d_logger``: the logger of the c10d API, and decorators that log a call's
failure (with the call's arguments and the ranks) or its duration."""
from __future__ import annotations

import functools
import logging
import time

from ember.distributed.logging_handlers import _log_handlers

__all__: list = []

_DEFAULT_DESTINATION = "default"


def _get_logging_handler(destination=_DEFAULT_DESTINATION):
    handler = _log_handlers[destination]
    return handler, f"{type(handler).__name__}-{destination}"


_LOGGERS: dict = {}


def _get_or_create_logger(destination=_DEFAULT_DESTINATION):
    """The c10d logger writing to ``destination``'s handler (made once)."""
    if destination not in _LOGGERS:
        handler, name = _get_logging_handler(destination)
        logger = logging.getLogger(f"c10d-{name}")
        logger.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter("%(asctime)s %(filename)s:%(lineno)s %(levelname)s p:%(processName)s "
                                               "t:%(threadName)s: %(message)s"))
        logger.propagate = False
        logger.addHandler(handler)
        _LOGGERS[destination] = logger
    return _LOGGERS[destination]


def _get_msg_dict(func_name, *args, **kwargs):
    """What a log line says about a call: the function, the group and this rank."""
    from ember import distributed as dist
    msg = {"func_name": func_name, "args": f"{args}, {kwargs}"}
    if dist.is_initialized():
        group = kwargs.get("group") or kwargs.get("process_group")
        msg.update(backend=str(dist.get_backend(group)), world_size=str(dist.get_world_size()),
                   global_rank=str(dist.get_rank()), group_size=str(dist.get_world_size(group)))
    return msg


def _exception_logger(func):
    """Log (then re-raise) an exception ``func`` raises, with its arguments."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as error:
            msg = _get_msg_dict(func.__name__, *args, **kwargs)
            msg["error"] = f"{error}"
            _c10d_logger.debug(msg)
            raise
    return wrapper


def _time_logger(func):
    """Log how long each call of ``func`` takes."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        start = time.perf_counter_ns()
        result = func(*args, **kwargs)
        msg = _get_msg_dict(func.__name__, *args, **kwargs)
        msg["time_spent"] = f"{time.perf_counter_ns() - start}ns"
        _c10d_logger.debug(msg)
        return result
    return wrapper


_c10d_logger = _get_or_create_logger()
