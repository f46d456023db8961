"""ember._dynamo: graph capture for ``ember.compile`` (PyTorch's ``torch._dynamo`` names)."""
from ember._dynamo import config, exc
from ember._dynamo.api import OptimizedModule, disable, explain, is_compiling, reset
from ember._dynamo.decorators import (allow_in_graph, assume_constant_result, disallow_in_graph, graph_break,
                                      mark_dynamic, mark_static, maybe_mark_dynamic, optimize, run)
from ember._dynamo.eval_frame import list_backends

__all__ = ["OptimizedModule", "allow_in_graph", "assume_constant_result", "config", "disable", "disallow_in_graph",
           "exc", "explain", "graph_break", "is_compiling", "list_backends", "mark_dynamic", "mark_static",
           "maybe_mark_dynamic", "optimize", "reset", "run"]
