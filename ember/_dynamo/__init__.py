"""ember._dynamo: graph capture for ``ember.compile`` (PyTorch's ``torch._dynamo`` names)."""
from ember._dynamo import config, exc
from ember._dynamo.api import OptimizedModule, disable, explain, is_compiling, reset
from ember._dynamo.eval_frame import list_backends

__all__ = ["OptimizedModule", "config", "disable", "exc", "explain", "is_compiling", "list_backends", "reset"]
