"""``ExecutionTraceObserver``: a JSON execution trace of the ops run (PyTorch's Chakra-style
execution trace): one node per dispatched op with its inputs' and outputs' values, shapes,
types and strides, nested under the call that issued it."""
from __future__ import annotations

import enum
import json
import os
import threading
import time

from ember.core.tensor import Tensor
from ember.dispatch.keys import ACTIVE, PROFILE, pop_mode, push_mode
from ember.dispatch.public_op import PublicOp


class DeviceType(enum.IntEnum):
    """The kind of device an event ran on (PyTorch's ``DeviceType`` values)."""
    CPU = 0
    CUDA = 1
    MKLDNN = 2
    OPENGL = 3
    OPENCL = 4
    IDEEP = 5
    HIP = 6
    FPGA = 7
    MAIA = 8
    XLA = 9
    Vulkan = 10
    Metal = 11
    XPU = 12
    MPS = 13
    Meta = 14
    HPU = 15
    VE = 16
    Lazy = 17
    IPU = 18
    MTIA = 19
    PrivateUse1 = 20

    def __str__(self):
        return f"DeviceType.{self.name}"


def kineto_available() -> bool:
    """Whether the Kineto tracing library is built in: ember's profiler records at its own
    dispatcher, without Kineto, so False."""
    return False


_SCHEMA = "1.1.1-chakra.0.0.4"


class ExecutionTraceObserver:
    """Records an execution trace of every op dispatched between ``start()`` and ``stop()``
    (alone, or passed to ``profile(execution_trace_observer=...)``) into a JSON file."""

    def __init__(self):
        self._path = None
        self._running = False
        self._nodes = []
        self._stack = threading.local()
        self._ids = {}
        self._prev = None
        self._start_ts = 0

    @classmethod
    def build_execution_trace_obs_from_env(cls):
        """An observer writing to ``$ENABLE_PYTORCH_EXECUTION_TRACE`` if that is set, else None."""
        path = os.environ.get("ENABLE_PYTORCH_EXECUTION_TRACE")
        if not path:
            return None
        return cls().register_callback(path)

    def register_callback(self, output_file_path: str):
        """Set the JSON file the trace is written to; returns the observer."""
        self._path = str(output_file_path)
        return self

    def get_output_file_path(self):
        """The registered output file (None before ``register_callback``)."""
        return self._path

    def is_registered(self) -> bool:
        """Whether an output file is registered."""
        return self._path is not None

    def is_running(self) -> bool:
        """Whether the observer is recording."""
        return self._running

    def set_extra_resource_collection(self, val) -> None:
        """Accepted for PyTorch's interface: ember keeps no resources beside the JSON file."""

    def get_resources_dir(self, can_create=False):
        """Accepted for PyTorch's interface: the trace has no resources directory (None)."""
        return None

    def start(self) -> None:
        """Begin recording.

        Raises:
            RuntimeError: without a registered output file.
        """
        if self._path is None:
            raise RuntimeError("ExecutionTraceObserver: register_callback(output_file_path) first")
        if self._running:
            return
        self._nodes = [self._node(1, "[ember|profiler|execution_trace|process]", 1, [], None),
                       self._node(2, "[ember|profiler|execution_trace|thread]", 1, [], None)]
        self._next = 3
        self._ids = {}
        self._start_ts = int(time.perf_counter_ns() // 1000)
        entries = dict(zip(ACTIVE.keys, ACTIVE.modes))
        self._prev = entries.get(PROFILE)
        push_mode(PROFILE, self._handle)
        self._running = True

    def stop(self) -> None:
        """Stop recording and write the trace file."""
        if not self._running:
            return
        if self._prev is not None:
            push_mode(PROFILE, self._prev)
        else:
            pop_mode(PROFILE)
        self._running = False
        finish = int(time.perf_counter_ns() // 1000)
        doc = {"schema": _SCHEMA, "pid": os.getpid(), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
               "start_ts": self._start_ts, "nodes": self._nodes, "finish_ts": finish}
        with open(self._path, "w") as f:
            json.dump(doc, f)

    def unregister_callback(self) -> None:
        """Stop (writing the file) and forget the output path."""
        self.stop()
        self._path = None

    def cleanup(self) -> None:
        """Release the observer (as ``unregister_callback``)."""
        self.unregister_callback()

    # ------------------------------------------------------------ recording
    def _handle(self, op, inputs, attrs, below):
        parents = getattr(self._stack, "ids", None)
        if parents is None:
            parents = self._stack.ids = [2]
        my_id = self._next
        self._next += 1
        parents.append(my_id)
        try:
            if self._prev is not None:
                result = self._prev(op, inputs, attrs, below)
            else:
                result = below(op, inputs, attrs)
        finally:
            parents.pop()
        name = f"ember::{op.name}" if isinstance(op, PublicOp) else f"op::{op.name}"
        args = list(inputs) + list(attrs.values())
        node = self._node(my_id, name, parents[-1], args, result)
        node["attrs"].append({"name": "op_schema", "type": "string",
                              "value": f"{name}({', '.join(['input'] * len(inputs) + list(attrs))})"})
        self._nodes.append(node)
        return result

    def _tensor_id(self, t):
        key = id(t)
        if key not in self._ids:
            self._ids[key] = (len(self._ids) + 1, t)   # keep t alive: ids stay unique
        return self._ids[key][0]

    def _describe(self, v):
        if isinstance(v, Tensor):
            base = v._base if getattr(v, "_base", None) is not None else v
            return ([self._tensor_id(v), self._tensor_id(base), 0, v.numel(), v.element_size(), str(v.device)],
                    list(v.shape), f"Tensor({v.dtype.__str__().replace('ember.', '')})", list(_strides(v)))
        if isinstance(v, (list, tuple)):
            parts = [self._describe(x) for x in v]
            return ([p[0] for p in parts], [p[1] for p in parts],
                    "GenericList[" + ",".join(p[2] for p in parts) + "]", [p[3] for p in parts])
        if isinstance(v, bool):
            return v, [], "Bool", []
        if isinstance(v, int):
            return v, [], "Int", []
        if isinstance(v, float):
            return v, [], "Double", []
        if v is None:
            return "<None>", [], "None", []
        return str(v), [], type(v).__name__, []

    def _node(self, node_id, name, parent, args, result):
        ins = [self._describe(a) for a in args]
        outs = [self._describe(r) for r in (result if type(result) in (tuple, list) else
                                            ([] if result is None else [result]))]

        def pack(items):
            return {"values": [i[0] for i in items], "shapes": [i[1] for i in items],
                    "types": [i[2] for i in items], "strides": [i[3] for i in items]}
        return {"id": node_id, "name": name, "ctrl_deps": parent, "inputs": pack(ins), "outputs": pack(outs),
                "attrs": [{"name": "rf_id", "type": "uint64", "value": node_id},
                          {"name": "tid", "type": "uint64", "value": threading.get_ident() % (1 << 63)}]}


def _strides(t):
    try:
        return t.stride()
    except Exception:   # noqa: BLE001 - a layout without strides
        return ()


__all__ = ["DeviceType", "ExecutionTraceObserver", "kineto_available"]
