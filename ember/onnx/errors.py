"""Exceptions of ``ember.onnx.export`` (the classes of ``torch.onnx.errors``)."""
from __future__ import annotations

__all__ = ["OnnxExporterError", "UnsupportedOperatorError"]


class OnnxExporterError(RuntimeError):
    """The export could not produce an ONNX model (a ``RuntimeError``, as in PyTorch)."""


class UnsupportedOperatorError(OnnxExporterError):
    """A captured op has no translation to ONNX at the requested opset.

    Args:
        name: the op's name (``ember`` op-table name, or the recorded function's).
        version: the opset the export targets.
        supported_version: the first opset that can express the op, or None when none can.
        node: the captured graph node (for the message), optional.
    """

    def __init__(self, name: str, version: int, supported_version: int | None, node=None) -> None:
        self.name, self.version, self.supported_version = name, version, supported_version
        where = f" (graph node {node.name}: {node.format_node()})" if node is not None and \
            hasattr(node, "format_node") else (f" (graph node {node.name})" if node is not None else "")
        if supported_version is not None:
            msg = (f"cannot export the op '{name}'{where} to ONNX opset {version}: ONNX expresses it from "
                   f"opset {supported_version} on; pass opset_version={supported_version} or higher")
        else:
            msg = f"cannot export the op '{name}'{where} to ONNX opset {version}: ember has no ONNX translation for it"
        super().__init__(msg)
