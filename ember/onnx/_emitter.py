"""Building the ONNX graph: named values, constants (initializers) and runtime shape arithmetic."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ember.onnx._dynamic import SymInt

INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min


def onnx_type(d) -> int:
    """The ``TensorProto`` element type of an ember dtype."""
    if d.name == "bfloat16":
        return TensorProto.BFLOAT16
    return helper.np_dtype_to_tensor_dtype(d.numpy)


class Emitter:
    """Accumulates ONNX nodes and initializers; values are referred to by name.

    Args:
        opset: the ai.onnx opset the nodes are written for.
        symbols: {dim_param name: Symbol} of the dynamic dimensions.
        input_names: the graph input name per placeholder index (where a symbol's size is read).
    """

    def __init__(self, opset, symbols=None, input_names=()):
        self.opset = opset
        self.nodes = []
        self.initializers = {}        # name -> numpy array
        self.symbols = symbols or {}
        self.input_names = list(input_names)
        self._used = set()
        self._consts = {}             # (dtype, shape, bytes) -> name
        self._dims = {}               # symbol name -> int64 [1] value holding its runtime size
        self.variants = {}            # node name -> its counterparts in the dynamic-axis variations

    def fresh(self, hint: str) -> str:
        """A value name not used yet, made from ``hint``."""
        hint = hint.replace("/", "_") or "v"
        name, n = hint, 0
        while name in self._used:
            n += 1
            name = f"{hint}_{n}"
        self._used.add(name)
        return name

    def reserve(self, name: str) -> str:
        self._used.add(name)
        return name

    def op(self, op_type, inputs, n_out=1, hint=None, **attrs):
        """Append one node; returns its output name (or the list of ``n_out`` names)."""
        base = hint or op_type.lower()
        outs = [self.fresh(f"{base}" if n_out == 1 else f"{base}_out{i}") for i in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, [i if i is not None else "" for i in inputs], outs,
                                           name=self.fresh(f"n_{base}"), **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, array, hint="const") -> str:
        """An initializer holding ``array`` (small constants are shared)."""
        array = np.asarray(array)
        key = None
        if array.size <= 64:
            key = (array.dtype.str, array.shape, array.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = self.fresh(hint)
        self.initializers[name] = array
        if key is not None:
            self._consts[key] = name
        return name

    def scalar(self, value, d) -> str:
        """A 0-d constant of ember dtype ``d``."""
        return self.const(np.array(value, dtype=d.numpy), "scalar")

    # ------------------------------------------------------------ shapes that follow dynamic dimensions
    def dim(self, symbol_name) -> str:
        """An int64 [1] value: the runtime size of a dynamic dimension."""
        if symbol_name not in self._dims:
            sym = self.symbols[symbol_name]
            shape = self.op("Shape", [self.input_names[sym.input_index]], hint=f"shape_{sym.name}")
            self._dims[symbol_name] = self.op("Gather", [shape, self.const(np.array([sym.axis], np.int64))],
                                              hint=f"dim_{sym.name}", axis=0)
        return self._dims[symbol_name]

    def sym_value(self, v: SymInt) -> str:
        """An int64 [1] value computing ``v`` from the runtime sizes."""
        form = v.form
        if form[0] == "lin":
            _, name, a, b = form
            out = self.dim(name)
            if a != 1:
                out = self.op("Mul", [out, self.const(np.array([a], np.int64))])
            if b != 0:
                out = self.op("Add", [out, self.const(np.array([b], np.int64))])
            return out
        if form[0] == "mono":
            _, names, c = form
            out = self.dim(names[0])
            for name in names[1:]:
                out = self.op("Mul", [out, self.dim(name)])
            if c != 1:
                out = self.op("Mul", [out, self.const(np.array([c], np.int64))])
            return out
        raise AssertionError(form)

    def ints(self, values, hint="shape") -> str:
        """An int64 1-d value of ``values`` (ints, some of which may be ``SymInt``)."""
        values = list(values)
        if not any(isinstance(v, SymInt) for v in values):
            return self.const(np.array(values, dtype=np.int64).reshape(-1), hint)
        pieces, run = [], []
        for v in values:
            if isinstance(v, SymInt):
                if run:
                    pieces.append(self.const(np.array(run, np.int64), hint))
                    run = []
                pieces.append(self.sym_value(v))
            else:
                run.append(int(v))
        if run:
            pieces.append(self.const(np.array(run, np.int64), hint))
        return pieces[0] if len(pieces) == 1 else self.op("Concat", pieces, hint=hint, axis=0)

    def int_scalar(self, v, hint="n") -> str:
        """An int64 0-d value of ``v`` (an int or ``SymInt``)."""
        if not isinstance(v, SymInt):
            return self.const(np.array(int(v), np.int64), hint)
        return self.op("Reshape", [self.sym_value(v), self.const(np.array([], np.int64))], hint=hint)

    # ------------------------------------------------------------ common patterns
    def cast(self, x, from_dtype, to_dtype) -> str:
        if from_dtype == to_dtype:
            return x
        return self.op("Cast", [x], to=onnx_type(to_dtype))

    def where(self, cond, x, y, is_bool) -> str:
        """``Where``; for bool values as logic (onnxruntime has no bool ``Where`` kernel)."""
        if not is_bool:
            return self.op("Where", [cond, x, y])
        return self.op("Or", [self.op("And", [cond, x]), self.op("And", [self.op("Not", [cond]), y])])

    def reduce(self, op_type, x, axes, keepdims) -> str:
        """A reduction over ``axes`` (None: all), with the axes as an input from the opset that takes them."""
        input_from = 13 if op_type == "ReduceSum" else 18
        if axes is None:
            return self.op(op_type, [x], keepdims=int(keepdims))
        axes = [int(a) for a in axes]
        if self.opset >= input_from:
            return self.op(op_type, [x, self.const(np.array(axes, np.int64), "axes")], keepdims=int(keepdims))
        return self.op(op_type, [x], axes=axes, keepdims=int(keepdims))

    def squeeze(self, x, axes) -> str:
        if self.opset < 13:   # axes an attribute before opset 13
            return self.op("Squeeze", [x], axes=[int(a) for a in axes])
        return self.op("Squeeze", [x, self.const(np.array(list(axes), np.int64), "axes")])

    def unsqueeze(self, x, axes) -> str:
        if self.opset < 13:
            return self.op("Unsqueeze", [x], axes=[int(a) for a in axes])
        return self.op("Unsqueeze", [x, self.const(np.array(list(axes), np.int64), "axes")])

    def compare(self, op_type, a, b) -> str:
        """A comparison; ``GreaterOrEqual``/``LessOrEqual`` as the negated strict one before opset 12."""
        if self.opset < 12 and op_type in ("GreaterOrEqual", "LessOrEqual"):
            return self.op("Not", [self.op("Less" if op_type == "GreaterOrEqual" else "Greater", [a, b])])
        return self.op(op_type, [a, b])

    def tensors(self):
        """The initializers as ``TensorProto``s."""
        return [numpy_helper.from_array(np.ascontiguousarray(a), name) for name, a in self.initializers.items()]


__all__ = ["Emitter", "onnx_type", "INT64_MAX", "INT64_MIN"]
