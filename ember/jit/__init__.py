"""ember.jit: PyTorch's ``torch.jit`` API over ember's graph capture.

``trace`` and ``script`` capture graphs by running the program (ember has no TorchScript
compiler; see ``ember.jit._script`` for what ``script`` can hold), ``save``/``load`` use
``ember.export``'s safe file format (JSON graphs and ``.npy`` tensors, never a pickle), and
the decorators (``ignore``, ``unused``, ``export``, ``is_scripting``, ``Final``, ``annotate``
...) behave as PyTorch documents them for eager code.
"""
from ember.fx.capture import TracerWarning
from ember.jit import frontend
from ember.jit._decorators import (Attribute, Final, Future, annotate, enable_onednn_fusion, export, fork, ignore,
                                   interface, isinstance, onednn_fusion_enabled, script_if_tracing,
                                   set_fusion_strategy, strict_fusion, unused, wait)
from ember.jit._script import (Error, RecursiveScriptModule, ScriptFunction, ScriptModule, TopLevelTracedModule,
                               TracedModule, TracingCheckError, export_opnames, freeze, is_scripting, is_tracing,
                               load, optimize_for_inference, run_frozen_optimizations, save, script, script_method,
                               trace, trace_module)

__all__ = ["Attribute", "Error", "Final", "Future", "RecursiveScriptModule", "ScriptFunction", "ScriptModule",
           "TopLevelTracedModule", "TracedModule", "TracerWarning", "TracingCheckError", "annotate",
           "enable_onednn_fusion", "export", "export_opnames", "fork", "freeze", "ignore", "interface",
           "is_scripting", "is_tracing", "isinstance", "load", "onednn_fusion_enabled", "optimize_for_inference",
           "run_frozen_optimizations", "save", "script", "script_if_tracing", "script_method", "set_fusion_strategy",
           "strict_fusion", "trace", "trace_module", "unused", "wait"]
