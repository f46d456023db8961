"""``ember.cuda.jiterator`` (``torch.cuda.jiterator``): elementwise GPU kernels from a C++ function,
compiled at the first call (CuPy's ``ElementwiseKernel``, NVRTC).

``_create_jit_fn(code)`` takes a templated function such as
``template <typename T> T f(T x, T y, T alpha) { return -x + alpha * y; }``: its leading
parameters are tensors, broadcast together; the others are scalars, given as keywords with
defaults at creation and overridable per call.
"""
from __future__ import annotations

import re

from ember.cuda import _common

__all__: list = []

_SIGNATURE = re.compile(r"template\s*<[^>]*>\s*(?:[\w:<>]+\s+)+?(\w+)\s*\(([^)]*)\)")


def _parse(code_string: str):
    found = _SIGNATURE.search(code_string)
    if found is None:
        raise ValueError("the code string must hold a templated function: template <typename T> T name(T a, ...)")
    params = [p.strip().split()[-1].lstrip("*&") for p in found.group(2).split(",") if p.strip()]
    return found.group(1), params


class _JittedFunction:
    """An elementwise function compiled from C++ (see the module docstring)."""

    def __init__(self, code_string: str, return_by_ref: bool, num_outputs: int, **kwargs):
        self.code_string = code_string
        self.name, self.params = _parse(code_string)
        self.num_outputs = num_outputs
        self.return_by_ref = return_by_ref
        self.kwargs_dict = kwargs
        self._kernels: dict = {}

    def __call__(self, *tensors, **kwargs):
        import ember
        from ember.core.call import _wrapper
        cp = _common.cupy()
        scalars = {**self.kwargs_dict, **kwargs}
        names = [p for p in self.params[len(tensors):]]
        missing = [n for n in names if n not in scalars]
        if missing or len(tensors) + len(names) != len(self.params):
            raise ValueError(f"{self.name} takes {len(self.params)} arguments ({', '.join(self.params)}); got "
                             f"{len(tensors)} tensors and scalars {sorted(scalars)}")
        if not tensors or any(not isinstance(t, ember.Tensor) or not t.is_cuda for t in tensors):
            raise ValueError("jiterator functions take cuda tensors")
        dtype = tensors[0].dtype
        for t in tensors[1:]:
            dtype = ember.promote_types(dtype, t.dtype)
        arrays = [t.to(dtype)._data for t in tensors]
        key = (len(tensors), dtype)
        kernel = self._kernels.get(key)
        if kernel is None:
            ins = ", ".join([f"T in{i}" for i in range(len(tensors))] + [f"T {n}" for n in names])
            args = ", ".join([f"in{i}" for i in range(len(tensors))] + names)
            if self.return_by_ref:
                outs = ", ".join(f"T out{i}" for i in range(self.num_outputs))
                body = f"{self.name}({args}, {', '.join(f'out{i}' for i in range(self.num_outputs))})"
            else:
                outs, body = "T out0", f"out0 = {self.name}({args})"
            kernel = self._kernels[key] = cp.ElementwiseKernel(ins, outs, body, f"ember_jiterator_{self.name}",
                                                               preamble=self.code_string)
        kind = arrays[0].dtype.type
        results = kernel(*arrays, *[kind(scalars[n]) for n in names])
        wrap = _wrapper(tensors[0].device.type)
        if isinstance(results, tuple):
            return tuple(wrap(r, tensors[0].device) for r in results)
        return wrap(results, tensors[0].device)


def _create_jit_fn(code_string: str, **kwargs) -> _JittedFunction:
    """An elementwise GPU function from a templated C++ function returning one value.

    Args:
        code_string: the C++ source.
        kwargs: default values of the scalar parameters.

    Returns:
        A callable taking cuda tensors (and scalar keywords).
    """
    return _JittedFunction(code_string, return_by_ref=False, num_outputs=1, **kwargs)


def _create_multi_output_jit_fn(code_string: str, num_outputs: int, **kwargs) -> _JittedFunction:
    """An elementwise GPU function from a templated C++ function writing ``num_outputs`` values
    through reference parameters after its inputs.

    Args:
        code_string: the C++ source (``void f(T x, ..., T& out0, T& out1)``).
        num_outputs: how many outputs.
        kwargs: default values of the scalar parameters.

    Returns:
        A callable returning a tuple of tensors.
    """
    fn = _JittedFunction(code_string, return_by_ref=True, num_outputs=num_outputs, **kwargs)
    fn.params = fn.params[:len(fn.params) - num_outputs]
    return fn
