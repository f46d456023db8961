"""``torch.distributed.logging_handlers``: the handlers c10d's loggers write to, by destination name."""
import logging

__all__: list = []

_log_handlers = {"default": logging.NullHandler()}
