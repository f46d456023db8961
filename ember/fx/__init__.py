"""ember.fx: the graph IR that capture, compile, export, ONNX export and jit share.

``Graph``/``Node``/``GraphModule`` follow PyTorch's ``torch.fx``. ember's graphs are captured
by running the program on example inputs with the Trace mode key pushed
(``ember.fx.capture``), so they hold dispatched ops (as the graphs of PyTorch's ``make_fx`` and
``torch.export`` do), with concrete shapes.
"""
from ember.fx.graph import Graph, Node, map_arg
from ember.fx.graph_module import GraphModule
from ember.fx.interpreter import Interpreter, Transformer
from ember.fx.proxy import Proxy, Tracer, has_side_effect, wrap
from ember.fx.subgraph_rewriter import replace_pattern
from ember.fx.trace import symbolic_trace

__all__ = ["Graph", "GraphModule", "Interpreter", "Node", "Proxy", "Tracer", "Transformer", "has_side_effect",
           "map_arg", "replace_pattern", "symbolic_trace", "wrap"]
