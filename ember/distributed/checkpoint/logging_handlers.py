"""``torch.distributed.checkpoint.logging_handlers``: the handler checkpoint logs go to."""
import logging

from ember.distributed.logging_handlers import _log_handlers

__all__: list = []

DCP_LOGGER_NAME = "dcp_logger"

_log_handlers.update({DCP_LOGGER_NAME: logging.NullHandler()})
