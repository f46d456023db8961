"""ember.export: whole-program capture for deployment (PyTorch's ``torch.export``).

``export(module, args)`` captures ``forward`` on example inputs as an ``ExportedProgram``
(graph of dispatched ops, signature, state); ``.module()`` runs it; ``save``/``load`` write
and read a zip of JSON and ``.npy`` entries that loads without the model's Python class and
never unpickles. See ``ember.export.dynamic_shapes`` for how dynamic dimensions run.
"""
from ember.export._extra import (AdditionalInputs, ExportBackwardSignature, ModuleCallEntry, ModuleCallSignature,
                                 ShapesCollection, draft_export, register_dataclass)
from ember.export._serialize import SerializeError
from ember.export.decomp_utils import CustomDecompTable, default_decompositions
from ember.export.dynamic_shapes import Constraint, Dim, dims
from ember.export.exported_program import (CallSpec, ExportedProgram, GuardOnDataDependentSymNode, ValueRange,
                                           export, load, save)
from ember.export.unflatten import FlatArgsAdapter, UnflattenedModule, unflatten
from ember.export.graph_signature import (ConstantArgument, ExportGraphSignature, InputKind, InputSpec,
                                          OutputKind, OutputSpec, TensorArgument)

__all__ = ["AdditionalInputs", "ExportBackwardSignature", "ModuleCallEntry", "ModuleCallSignature",
           "ShapesCollection", "draft_export", "FlatArgsAdapter", "UnflattenedModule", "unflatten",
           "register_dataclass", "CustomDecompTable", "default_decompositions",
           "ConstantArgument", "Constraint", "Dim", "ExportGraphSignature", "ExportedProgram", "GuardOnDataDependentSymNode",
           "InputKind", "InputSpec", "OutputKind", "OutputSpec", "SerializeError", "TensorArgument", "dims",
           "export", "load", "save"]
