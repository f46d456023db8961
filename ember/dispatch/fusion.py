"""The fusion contract: how a backend turns a chain of elementwise ops into one kernel.

``ember.compile`` finds, in a captured graph, runs of elementwise ops over arrays of one
shape and hands each run to the backend of its device as a ``FusedProgram``. A backend that
implements the ``ember_fusion_compiler`` hook (``ember.dispatch.hookspecs``) returns a
``FusionCompiler``; its ``compile(program)`` returns a kernel that computes every output of
the program in one pass (CPU: a compiled loop; OpenCL: generated OpenCL C; CuPy: an
``ElementwiseKernel``; MLX: ``mx.compile``). A backend without the hook runs the graph's ops
one by one.

A program, in the op table's own terms:

* ``inputs`` — ember dtypes of the array inputs; each input array has ``shape`` or is 0-d
  (broadcast), in the backend's native type;
* ``steps`` — ``Step(op, args, attrs, dtype)``: ``op`` an op-table name (``"mul"``,
  ``"exp"``, ``"where"``, ``"cast"``, ``"gelu"``...), ``args`` references ``("input", i)``,
  ``("step", j)`` (an earlier step) or ``("const", value)`` (a Python bool/int/float),
  ``attrs`` the op's keyword attributes as in ``call`` (``dtype`` for ``cast``,
  ``approximate`` for ``gelu``), ``dtype`` the ember dtype of its result. A step computes
  exactly what the op's kernel computes for those dtypes (PyTorch's semantics: a Python
  number meets a tensor in the tensor's dtype);
* ``outputs`` — indices of the steps whose values leave the program;
* ``shape`` — the shape of every output.

The kernel is called ``kernel(*input_arrays)`` and returns a tuple of native arrays, one per
output, newly allocated, C-contiguous, of ``shape`` and the output steps' dtypes.
"""
from __future__ import annotations


class Step:
    """One elementwise op of a ``FusedProgram`` (see the module docstring)."""
    __slots__ = ("op", "args", "attrs", "dtype")

    def __init__(self, op: str, args: tuple, attrs: dict, dtype):
        self.op, self.args, self.attrs, self.dtype = op, tuple(args), dict(attrs), dtype

    def key(self) -> tuple:
        return (self.op, self.args, tuple(sorted((k, repr(v)) for k, v in self.attrs.items())), self.dtype.name)

    def __repr__(self):
        return f"Step({self.op}, {self.args}, {self.attrs}, {self.dtype.name})"


class FusedProgram:
    """A chain of elementwise ops over arrays of one shape (see the module docstring)."""
    __slots__ = ("inputs", "steps", "outputs", "shape")

    def __init__(self, inputs, steps, outputs, shape):
        self.inputs = tuple(inputs)     # ember dtypes of the array inputs
        self.steps = tuple(steps)
        self.outputs = tuple(outputs)   # step indices
        self.shape = tuple(shape)

    def key(self) -> tuple:
        """A hashable signature: equal keys compute the same thing (the compilers' cache key)."""
        return (tuple(d.name for d in self.inputs), tuple(s.key() for s in self.steps), self.outputs)

    def __repr__(self):
        lines = [f"FusedProgram(inputs={[d.name for d in self.inputs]}, shape={self.shape})"]
        lines += [f"  {i}: {s!r}" for i, s in enumerate(self.steps)]
        lines.append(f"  outputs={self.outputs}")
        return "\n".join(lines)


def dtypes_within(dtype, input_dtypes, names) -> bool:
    """Whether a step's result dtype and every argument are among the dtype ``names`` a compiler
    generates (``supports``' first check): tensor arguments by their ember dtype, Python
    constants by their type, which must be bool, int or float."""
    if getattr(dtype, "name", None) not in names:
        return False
    for d in input_dtypes:
        if isinstance(d, type):
            if d not in (bool, int, float):
                return False
        elif getattr(d, "name", None) not in names:
            return False
    return True


class FusionCompiler:
    """What a backend's ``ember_fusion_compiler`` hook returns (subclass it)."""

    def supports(self, op: str, attrs: dict, dtype, input_dtypes: tuple) -> bool:
        """Whether this compiler can generate ``op`` with these attributes and dtypes."""
        raise NotImplementedError

    def compile(self, program: FusedProgram):
        """A kernel ``kernel(*input_arrays) -> tuple of arrays`` computing ``program`` (cached by key)."""
        raise NotImplementedError
