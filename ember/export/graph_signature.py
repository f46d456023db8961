"""An exported program's signature: what each graph input and output is (PyTorch's ``torch.export.graph_signature``)."""
from __future__ import annotations

import dataclasses
import enum
from typing import Any, Optional


class InputKind(enum.Enum):
    """What a graph input is."""
    USER_INPUT = 1
    PARAMETER = 2
    BUFFER = 3
    CONSTANT_TENSOR = 4
    CUSTOM_OBJ = 5
    TOKEN = 6


class OutputKind(enum.Enum):
    """What a graph output is."""
    USER_OUTPUT = 1
    LOSS_OUTPUT = 2
    BUFFER_MUTATION = 3
    PARAMETER_MUTATION = 4
    GRADIENT_TO_PARAMETER = 5
    GRADIENT_TO_USER_INPUT = 6
    USER_INPUT_MUTATION = 7
    TOKEN = 8


@dataclasses.dataclass
class TensorArgument:
    """A tensor of the graph, by its node's name."""
    name: str


@dataclasses.dataclass
class ConstantArgument:
    """A non-tensor input or output, fixed at its traced value."""
    name: str
    value: Any


@dataclasses.dataclass
class InputSpec:
    """One graph input: its kind, the graph value, and (for state) the dotted name it comes from."""
    kind: InputKind
    arg: Any
    target: Optional[str]
    persistent: Optional[bool] = None


@dataclasses.dataclass
class OutputSpec:
    """One graph output: its kind, the graph value, and (for mutations) the state or input it writes."""
    kind: OutputKind
    arg: Any
    target: Optional[str]


class ExportGraphSignature:
    """The inputs and outputs of an exported graph, in order.

    ember's graphs read parameters, buffers and constants through ``get_attr`` nodes (named
    ``p_*``, ``b_*``, ``c_*``) and write mutated state in place (``write_inplace`` nodes): the
    specs name those nodes. ``dynamic_dims`` maps user inputs to their declared dynamic dims.

    Args:
        input_specs: a list of ``InputSpec``.
        output_specs: a list of ``OutputSpec``.
    """

    def __init__(self, input_specs, output_specs, dynamic_dims=None):
        self.input_specs = list(input_specs)
        self.output_specs = list(output_specs)
        self.dynamic_dims = dict(dynamic_dims or {})

    def _names(self, kind, specs):
        return tuple(s.target for s in specs if s.kind is kind)

    @property
    def parameters(self) -> tuple:
        """Dotted names of the parameters the graph reads."""
        return self._names(InputKind.PARAMETER, self.input_specs)

    @property
    def buffers(self) -> tuple:
        """Dotted names of the buffers the graph reads."""
        return self._names(InputKind.BUFFER, self.input_specs)

    @property
    def non_persistent_buffers(self) -> tuple:
        """The buffers that are not part of the state dict."""
        return tuple(s.target for s in self.input_specs if s.kind is InputKind.BUFFER and s.persistent is False)

    @property
    def lifted_tensor_constants(self) -> tuple:
        """Names of the tensors the program captured from outside (not state)."""
        return self._names(InputKind.CONSTANT_TENSOR, self.input_specs)

    @property
    def user_inputs(self) -> tuple:
        """Names of the user inputs (tensor node names, or the values of constant inputs)."""
        return tuple(s.arg.name if isinstance(s.arg, TensorArgument) else s.arg.value
                     for s in self.input_specs if s.kind is InputKind.USER_INPUT)

    @property
    def user_outputs(self) -> tuple:
        """Names of the user outputs (node names, or constant values)."""
        return tuple(s.arg.name if isinstance(s.arg, TensorArgument) else s.arg.value
                     for s in self.output_specs if s.kind is OutputKind.USER_OUTPUT)

    def _map(self, specs, kind):
        return {s.arg.name: s.target for s in specs if s.kind is kind}

    @property
    def inputs_to_parameters(self) -> dict:
        """Graph node name -> parameter name."""
        return self._map(self.input_specs, InputKind.PARAMETER)

    @property
    def inputs_to_buffers(self) -> dict:
        """Graph node name -> buffer name."""
        return self._map(self.input_specs, InputKind.BUFFER)

    @property
    def inputs_to_lifted_tensor_constants(self) -> dict:
        """Graph node name -> constant name."""
        return self._map(self.input_specs, InputKind.CONSTANT_TENSOR)

    @property
    def buffers_to_mutate(self) -> dict:
        """Node holding a buffer's new value -> buffer name."""
        return self._map(self.output_specs, OutputKind.BUFFER_MUTATION)

    @property
    def parameters_to_mutate(self) -> dict:
        """Node holding a parameter's new value -> parameter name."""
        return self._map(self.output_specs, OutputKind.PARAMETER_MUTATION)

    @property
    def user_inputs_to_mutate(self) -> dict:
        """Node holding a user input's new value -> input name."""
        return self._map(self.output_specs, OutputKind.USER_INPUT_MUTATION)

    def __str__(self):
        def line(s, inputs):
            name = s.arg.name if hasattr(s.arg, "name") else str(s.arg)
            text = f"    {name}: {s.kind.name}"
            if s.target is not None:
                text += f" target={s.target!r}"
            if inputs and s.persistent is not None:
                text += f" persistent={s.persistent}"
            if inputs and s.kind is InputKind.USER_INPUT and name in self.dynamic_dims:
                text += f" dynamic={self.dynamic_dims[name]}"
            return text
        lines = ["", "# inputs"] + [line(s, True) for s in self.input_specs] + ["", "# outputs"] + \
            [line(s, False) for s in self.output_specs] + [""]
        return "\n".join(lines)

    def __repr__(self):
        return f"ExportGraphSignature(input_specs={self.input_specs!r}, output_specs={self.output_specs!r})"
