"""Dispatch: the op table, keys, kernel resolution, fallbacks and plugin discovery."""
from ember.dispatch.table import (  # noqa: F401
    FallbackWarning, coverage, fallback_report, format_fallback_report, reset_fallback_report,
)
from ember.dispatch.registry import REGISTRY  # noqa: F401
from ember.dispatch.ops import OPS  # noqa: F401
