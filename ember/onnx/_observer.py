"""``ExportableModule`` (a module that knows its own ONNX export arguments) and
``InputObserver`` (export arguments and dynamic shapes inferred from real calls)."""
from __future__ import annotations

import abc
import contextlib
import inspect

import numpy as np

from ember.core.tensor import Tensor
from ember.nn.modules.module import Module
from ember.utils._pytree import tree_flatten


class ExportableModule(Module, abc.ABC):
    """A Module that carries what its ONNX export needs: ``example_arguments()`` (required),
    ``dynamic_shapes()``, ``input_names()``, ``output_names()``; ``to_onnx()`` (or
    ``ember.onnx.export(module)``) exports it with them."""

    @abc.abstractmethod
    def example_arguments(self):
        """The example inputs: ``(args tuple, kwargs dict or None)``."""
        raise NotImplementedError

    def dynamic_shapes(self):
        """The inputs' dynamic dims (``export``'s ``dynamic_shapes`` form); None: all static."""
        return None

    def input_names(self):
        """The graph inputs' names; None: generated."""
        return None

    def output_names(self):
        """The graph outputs' names; None: generated."""
        return None

    def to_onnx(self, **kwargs):
        """Export with this module's arguments and names (``kwargs``: more ``ember.onnx.export`` options).

        Returns:
            The ``ONNXProgram``.
        """
        from ember.onnx._export import export
        result = export(self, **kwargs)
        if result is None:
            raise AssertionError("result must be non-None")
        return result


def exportable_defaults(model, args, kwargs, input_names, output_names, dynamic_shapes):
    """``export``'s arguments with the gaps filled from an ``ExportableModule``."""
    if not isinstance(model, ExportableModule):
        return args, kwargs, input_names, output_names, dynamic_shapes
    if not args and not kwargs:
        args, kwargs = model.example_arguments()
        args = tuple(args) if not isinstance(args, Tensor) else (args,)
        kwargs = dict(kwargs or {})
    return (args, kwargs, input_names if input_names is not None else model.input_names(),
            output_names if output_names is not None else model.output_names(),
            dynamic_shapes if dynamic_shapes is not None else model.dynamic_shapes())


class InputObserver:
    """Records the inputs (and outputs) of a model's calls, to infer export arguments and
    dynamic shapes: ``with observer(model): model(x1); model(x2)``, then
    ``observer.infer_arguments()`` and ``observer.infer_dynamic_shapes()``.

    Args:
        value_if_missing: ``{argument name or position: value}`` for an argument some calls omit.
    """

    def __init__(self, value_if_missing=None):
        self.value_if_missing = dict(value_if_missing or {})
        self._calls = []      # (args, kwargs, outputs) of stored calls
        self._count = 0
        self._signature = None

    @contextlib.contextmanager
    def __call__(self, model, store_n_calls: int = 3, method_name: str = "forward"):
        original = getattr(model, method_name)
        had_own = method_name in model.__dict__
        try:
            self._signature = inspect.signature(original)
        except (TypeError, ValueError):
            self._signature = None

        def observed(*args, **kwargs):
            out = original(*args, **kwargs)
            self._count += 1
            if len(self._calls) < store_n_calls:
                self._calls.append((args, dict(kwargs), out))
            return out
        object.__setattr__(model, method_name, observed)
        try:
            yield self
        finally:
            if had_own:
                object.__setattr__(model, method_name, original)
            else:
                del model.__dict__[method_name]

    def num_obs(self) -> int:
        """How many calls were observed."""
        return self._count

    def _chosen(self, index_or_args_or_kwargs):
        if not self._calls and not isinstance(index_or_args_or_kwargs, (tuple, dict)):
            raise RuntimeError("No inputs were captured: call the model inside `with observer(model):` first")
        if index_or_args_or_kwargs is None:   # the call with the most tensors
            return max(self._calls, key=lambda c: sum(isinstance(x, Tensor) for x in tree_flatten(c[:2])[0]))[:2]
        if isinstance(index_or_args_or_kwargs, int):
            return self._calls[index_or_args_or_kwargs][:2]
        if isinstance(index_or_args_or_kwargs, dict):
            return (), dict(index_or_args_or_kwargs)
        return tuple(index_or_args_or_kwargs), {}

    def infer_arguments(self, index_or_args_or_kwargs=None, flat: bool = False, as_args_kwargs: bool = False):
        """One set of export arguments (by default the observed call with the most tensors).

        Args:
            index_or_args_or_kwargs: None, the index of an observed call, or the inputs themselves.
            flat: return the flat list of tensor leaves.
            as_args_kwargs: always return ``(args, kwargs)``.

        Returns:
            A tuple (positional inputs only), a dict (keyword inputs only) or ``(args, kwargs)``.

        Raises:
            RuntimeError: without observed calls, or for calls with both kinds unless ``as_args_kwargs``.
        """
        args, kwargs = self._chosen(index_or_args_or_kwargs)
        for key, value in self.value_if_missing.items():
            if isinstance(key, str) and key not in kwargs:
                kwargs[key] = value
        if flat:
            return [x for x in tree_flatten((args, kwargs))[0] if isinstance(x, Tensor)]
        if as_args_kwargs:
            return tuple(args), kwargs
        if args and kwargs:
            raise RuntimeError("the observed calls take both positional and keyword inputs: "
                               "use infer_arguments(as_args_kwargs=True)")
        return kwargs if kwargs else tuple(args)

    def infer_dynamic_shapes(self, set_batch_dimension_for=None):
        """``Dim.DYNAMIC`` for every dim whose size differed between the observed calls.

        Args:
            set_batch_dimension_for: a set of input positions / names whose first dim is
                dynamic anyway (True: every input's).

        Returns:
            A tuple per positional input, or a dict per keyword input, of ``{dim: Dim.DYNAMIC}`` (or None).
        """
        from ember.export.dynamic_shapes import Dim
        if not self._calls:
            raise RuntimeError("No inputs were captured: call the model inside `with observer(model):` first")
        args0, kwargs0 = self._calls[0][:2]

        def spec(key, values):
            tensors = [v for v in values if isinstance(v, Tensor)]
            if not tensors:
                return None
            rank = tensors[0].dim()
            dims = {d: Dim.DYNAMIC for d in range(rank)
                    if len({t.shape[d] for t in tensors if t.dim() == rank}) > 1}
            batch = set_batch_dimension_for is True or (
                isinstance(set_batch_dimension_for, (set, list, tuple)) and key in set_batch_dimension_for)
            if batch and rank:
                dims[0] = Dim.DYNAMIC
            return dims or None
        if kwargs0 and not args0:
            names = list(dict.fromkeys(k for c in self._calls for k in c[1]))
            return {k: spec(k, [c[1].get(k) for c in self._calls]) for k in names}
        return tuple(spec(i, [c[0][i] if i < len(c[0]) else None for c in self._calls]) for i in range(len(args0)))

    def check_discrepancies(self, onnx_program, atol: float = 1e-4, rtol: float = 0.1, progress_bar: bool = False,
                            initializer=None, skip_none: bool = True) -> list:
        """Run ``onnx_program`` on every observed call's inputs and compare with the outputs the
        model gave.

        Args:
            onnx_program: the ``ONNXProgram``.
            atol: the absolute tolerance of ``SUCCESS``.
            rtol: the relative tolerance of ``SUCCESS``.
            progress_bar: accepted for PyTorch's signature.
            initializer: accepted for PyTorch's signature (ember runs the program itself).
            skip_none: leave out None outputs.

        Returns:
            One dict per call: ``index``, ``abs`` and ``rel`` (largest errors), ``SUCCESS``.
        """
        rows = []
        for i, (args, kwargs, expected) in enumerate(self._calls):
            got = onnx_program(*args, **kwargs)
            exp = [x for x in tree_flatten(expected)[0] if not (skip_none and x is None)]
            got = [x for x in tree_flatten(got)[0] if not (skip_none and x is None)]
            worst_abs = worst_rel = 0.0
            for e, g in zip(exp, got):
                e = np.asarray(e.detach().cpu().numpy() if isinstance(e, Tensor) else e, dtype=np.float64)
                g = np.asarray(g.detach().cpu().numpy() if isinstance(g, Tensor) else g, dtype=np.float64)
                diff = np.abs(e - g)
                worst_abs = max(worst_abs, float(diff.max(initial=0.0)))
                # relative to the value, floored at atol: near-zero outputs do not blow it up
                worst_rel = max(worst_rel, float((diff / (np.abs(e) + atol)).max(initial=0.0)))
            ok = len(exp) == len(got) and worst_abs <= atol and worst_rel <= rtol
            rows.append({"index": i, "abs": worst_abs, "rel": worst_rel, "SUCCESS": bool(ok)})
        return rows


__all__ = ["ExportableModule", "InputObserver"]
