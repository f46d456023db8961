"""ember.onnx: export models to ONNX (PyTorch's ``torch.onnx``).

``export`` captures the model with ember's graph capture (``ember.fx``) and writes standard ONNX
operators with the ``onnx`` package (the ``ember[onnx]`` extra).
"""
from ember.onnx import errors, ops
from ember.onnx._export import (ONNXProgram, OperatorExportTypes, TrainingMode, export, is_in_onnx_export,
                                select_model_mode_for_export)
from ember.onnx._observer import ExportableModule, InputObserver
from ember.onnx.errors import OnnxExporterError

__all__ = ["ExportableModule", "InputObserver", "ONNXProgram", "OnnxExporterError", "OperatorExportTypes", "TrainingMode", "errors", "export",
           "is_in_onnx_export", "ops", "select_model_mode_for_export"]
