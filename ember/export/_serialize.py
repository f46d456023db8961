"""The file format of ``ember.export.save`` and ``ember.jit.save``: a zip with no pickled code.

A program file is a zip archive holding

* ``program.json``: the description of one or more captured graphs (node kinds, targets by
  name, constants as tagged JSON values), the tree specs of their inputs and outputs, and
  what the kind of file (an ``ExportedProgram``, a ``ScriptModule``) needs besides;
* ``tensors/<n>.npy``: each parameter, buffer and captured tensor (``np.save`` with
  ``allow_pickle=False``), and ``arrays/<n>.npy`` for numpy constants in the graph;
* ``extra/<name>``: the caller's ``extra_files``.

Loading reads JSON and ``.npy`` data only: a node's target is looked up by name in the op
table (``ember.dispatch.ops.OPS``) or in the explicit registry of core functions below, so a
file can make ember run only its own ops; anything else in a file is an error naming it.
"""
from __future__ import annotations

import collections
import io
import json
import keyword
import math
import operator
import os
import re
import tempfile
import zipfile

import ml_dtypes
import numpy as np

from ember.core import dtype as dt
from ember.core.call import write_inplace
from ember.core.device import device as Device
from ember.core.tensor import Tensor
from ember.core.transfer import create, from_host, to_device, to_numpy
from ember.dispatch.ops import OPS, OpDef
from ember.fx.capture import expect_shape, expect_value
from ember.fx.graph import Graph, Node
from ember.ops.creation import _memory_alias
from ember.ops.indexing import _index_put_inplace
from ember.ops.random import _draw, default_generator
from ember.utils._pytree import TreeSpec

FORMAT = "ember.program"
VERSION = 1


class SerializeError(RuntimeError):
    """A program could not be written to, or read from, a file (PyTorch's ``SerializeError``)."""


def _untraced(fn):
    return getattr(fn, "__untraced__", fn)


# The only Python functions a program file may name (graph targets that are not op-table ops).
FUNCTIONS = {
    "create": _untraced(create),
    "from_host": _untraced(from_host),
    "to_device": _untraced(to_device),
    "_draw": _untraced(_draw),
    "write_inplace": _untraced(write_inplace),
    "_index_put_inplace": _untraced(_index_put_inplace),
    "_memory_alias": _untraced(_memory_alias),
    "operator.getitem": operator.getitem,
    "expect_value": expect_value,
    "expect_shape": expect_shape,
}
_NAME_OF_FUNCTION = {id(fn): name for name, fn in FUNCTIONS.items()}
_NAME_OF_FUNCTION.update({id(create): "create", id(from_host): "from_host", id(to_device): "to_device",
                          id(_draw): "_draw", id(write_inplace): "write_inplace",
                          id(_index_put_inplace): "_index_put_inplace", id(_memory_alias): "_memory_alias"})
_NODE_KINDS = ("placeholder", "get_attr", "call_function", "output")
_ATTR_PART = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$")


def _onnx_functions(by_name=False) -> dict:
    """Add the graph functions of ``ember.onnx.ops`` (its ONNX operators) to the registry, on first need."""
    from ember.onnx.ops import PROGRAM_FUNCTIONS
    for name, fn in PROGRAM_FUNCTIONS.items():
        FUNCTIONS.setdefault(name, fn)
        _NAME_OF_FUNCTION.setdefault(id(fn), name)
    return PROGRAM_FUNCTIONS if by_name else {id(fn): name for name, fn in PROGRAM_FUNCTIONS.items()}


def target_key(target):
    """The JSON form of a ``call_function`` target, or ``SerializeError`` naming it."""
    if isinstance(target, OpDef):
        if OPS.get(target.name) is not target:
            raise SerializeError(f"op {target.name!r} is not the op table's op of that name")
        return {"op": target.name}
    name = _NAME_OF_FUNCTION.get(id(target))
    if name is None and getattr(target, "__module__", None) == "ember.onnx.ops":
        name = _onnx_functions().get(id(target))
    if name is None:
        raise SerializeError(f"cannot save a graph that calls {getattr(target, '__module__', '?')}."
                             f"{getattr(target, '__qualname__', repr(target))}: a program file may only call "
                             f"op-table ops and the functions {sorted(FUNCTIONS)}")
    return {"fn": name}


def target_of(key):
    """The target a JSON target names (only op-table ops and the registry's functions)."""
    if not isinstance(key, dict) or len(key) != 1:
        raise SerializeError(f"malformed node target {key!r}")
    (kind, name), = key.items()
    if kind == "op" and isinstance(name, str) and name in OPS:
        return OPS[name]
    if kind == "fn" and isinstance(name, str) and name in FUNCTIONS:
        return FUNCTIONS[name]
    if kind == "fn" and isinstance(name, str) and name.startswith("onnx.") and name in _onnx_functions(by_name=True):
        return FUNCTIONS[name]
    raise SerializeError(f"a program file names the unknown target {kind}:{name!r}; only op-table ops and "
                         f"the functions {sorted(FUNCTIONS)} can be loaded")


# ---------------------------------------------------------------- constants as tagged JSON
class _Writer:
    """Collects the ``.npy`` entries (tensors, numpy constants) while a program is encoded."""

    def __init__(self):
        self.entries = {}   # zip entry name -> bytes

    def add_array(self, prefix, array) -> tuple:
        """Store ``array`` as ``<prefix>/<n>.npy``; returns (entry, stored numpy dtype)."""
        array = np.asarray(array)
        if array.dtype == ml_dtypes.bfloat16:   # not a numpy dtype: stored as its bits
            array = array.view(np.uint16)
        if not array.dtype.isbuiltin or array.dtype.kind not in "biufc":
            raise SerializeError(f"cannot save an array of dtype {array.dtype}")
        buf = io.BytesIO()
        np.save(buf, array if array.flags.c_contiguous else array.copy(order="C"), allow_pickle=False)
        entry = f"{prefix}/{len(self.entries)}.npy"
        self.entries[entry] = buf.getvalue()
        return entry, array.dtype.str

    def value(self, v, where):
        """The JSON form of a node argument or constant ``v`` (``where`` names it in errors)."""
        if isinstance(v, Node):
            return {"$node": v.name}
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return v if math.isfinite(v) else {"$float": repr(v)}
        if isinstance(v, complex):
            return {"$complex": [self.value(v.real, where), self.value(v.imag, where)]}
        if type(v) is tuple:
            return {"$tuple": [self.value(x, where) for x in v]}
        if type(v) is list:
            return [self.value(x, where) for x in v]
        if type(v) is dict:
            return {"$dict": [[self.value(k, where), self.value(x, where)] for k, x in v.items()]}
        if isinstance(v, slice):
            return {"$slice": [self.value(v.start, where), self.value(v.stop, where), self.value(v.step, where)]}
        if v is Ellipsis:
            return {"$ellipsis": None}
        if isinstance(v, dt.dtype):
            return {"$dtype": v.name}
        if isinstance(v, Device):
            return {"$device": str(v)}
        if v is default_generator:
            return {"$generator": "default"}
        if isinstance(v, np.ndarray):
            entry, stored = self.add_array("arrays", v)
            return {"$array": entry, "dtype": str(v.dtype), "stored": stored, "shape": list(v.shape)}
        if isinstance(v, np.generic) and v.dtype.isbuiltin and v.dtype.kind in "biufc":
            return {"$scalar": v.dtype.str, "value": self.value(v.item(), where)}
        raise SerializeError(f"cannot save the constant {v!r} of type {type(v).__module__}.{type(v).__qualname__} "
                             f"({where}): a program file holds numbers, strings, None, tuples, lists, dicts, "
                             f"slices, ember dtypes and devices, the default generator and numpy arrays")


class _Reader:
    """Decodes tagged JSON values; ``nodes`` maps names to the rebuilt graph's nodes."""

    def __init__(self, archive, nodes=None, device_map=None):
        self.archive = archive
        self.nodes = nodes if nodes is not None else {}
        self.device_map = device_map

    def array(self, entry, stored, dtype_name, shape):
        if not isinstance(entry, str) or entry not in self.archive.namelist():
            raise SerializeError(f"the program file has no entry {entry!r}")
        try:
            array = np.load(io.BytesIO(self.archive.read(entry)), allow_pickle=False)
        except Exception as e:   # an object array, a truncated or tampered entry
            raise SerializeError(f"entry {entry!r} of the program file is not a plain .npy array: {e}") from None
        if array.dtype.str != stored or list(array.shape) != list(shape):
            raise SerializeError(f"entry {entry!r} holds a {array.dtype.str} array of shape {list(array.shape)}; "
                                 f"the program expects {stored} of shape {list(shape)}")
        if dtype_name == "bfloat16":
            array = array.view(ml_dtypes.bfloat16)
        elif np.dtype(dtype_name) != array.dtype:
            raise SerializeError(f"entry {entry!r}: dtype {dtype_name!r} does not match its data")
        return array

    def device(self, text):
        if self.device_map is not None:
            return self.device_map
        return Device(text)

    def value(self, v):
        if v is None or isinstance(v, (bool, str, int, float)):
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict) or not v:
            raise SerializeError(f"malformed value {v!r} in the program file")
        tag = next(iter(v))
        body = v[tag]
        if tag == "$node":
            if body not in self.nodes:
                raise SerializeError(f"a node reads {body!r}, which is not an earlier node")
            return self.nodes[body]
        if tag == "$float" and body in ("inf", "-inf", "nan"):
            return float(body)
        if tag == "$complex":
            return complex(self.value(body[0]), self.value(body[1]))
        if tag == "$tuple":
            return tuple(self.value(x) for x in body)
        if tag == "$dict":
            return {self.value(k): self.value(x) for k, x in body}
        if tag == "$slice":
            return slice(*(self.value(x) for x in body))
        if tag == "$ellipsis":
            return Ellipsis
        if tag == "$dtype":
            if body not in dt._BY_NAME:
                raise SerializeError(f"unknown dtype {body!r} in the program file")
            return dt._BY_NAME[body]
        if tag == "$device":
            return self.device(body)
        if tag == "$generator" and body == "default":
            return default_generator
        if tag == "$array":
            return self.array(body, v["stored"], v["dtype"], v["shape"])
        if tag == "$scalar":
            kind = np.dtype(body)
            if not kind.isbuiltin or kind.kind not in "biufc":
                raise SerializeError(f"unknown scalar type {body!r} in the program file")
            return kind.type(self.value(v["value"]))
        raise SerializeError(f"unknown value tag {tag!r} in the program file")


# ---------------------------------------------------------------- tree specs
def spec_to_json(spec: TreeSpec, writer: _Writer):
    """The JSON form of a pytree spec (namedtuples by name and fields)."""
    if spec.type is None:
        return {"type": "leaf"}
    children = [spec_to_json(c, writer) for c in spec.children_specs]
    if spec.type is type(None):
        return {"type": "none"}
    if spec.type in (tuple, list):
        return {"type": spec.type.__name__, "children": children}
    if spec.type is dict:
        return {"type": "dict", "keys": [writer.value(k, "a dict key") for k in spec.context],
                "children": children}
    fields = getattr(spec.type, "_fields", None)
    if fields is not None:
        return {"type": "namedtuple", "name": spec.type.__name__, "fields": list(fields), "children": children}
    raise SerializeError(f"cannot save a tree of type {spec.type!r}")


_NAMEDTUPLES = {}


def spec_from_json(j, reader: _Reader) -> TreeSpec:
    """The pytree spec a JSON spec describes (namedtuple types rebuilt from their fields)."""
    kind = j.get("type") if isinstance(j, dict) else None
    if kind == "leaf":
        return TreeSpec(None, None, ())
    if kind == "none":
        return TreeSpec(type(None), None, ())
    children = [spec_from_json(c, reader) for c in j.get("children", [])]
    if kind in ("tuple", "list"):
        return TreeSpec(tuple if kind == "tuple" else list, None, children)
    if kind == "dict":
        return TreeSpec(dict, [reader.value(k) for k in j["keys"]], children)
    if kind == "namedtuple":
        name, fields = j["name"], tuple(j["fields"])
        if not all(isinstance(x, str) and x.isidentifier() and not keyword.iskeyword(x) for x in (name,) + fields):
            raise SerializeError(f"malformed namedtuple {name!r}{fields!r} in the program file")
        cls = _NAMEDTUPLES.setdefault((name, fields), collections.namedtuple(name, fields))
        return TreeSpec(cls, None, children)
    raise SerializeError(f"malformed tree spec {j!r} in the program file")


# ---------------------------------------------------------------- graphs
def graph_to_json(graph: Graph, writer: _Writer) -> dict:
    """The JSON form of ``graph`` (every node, in order)."""
    nodes = []
    for n in graph.nodes:
        if n.op not in _NODE_KINDS:
            raise SerializeError(f"cannot save node {n.name} of kind {n.op!r}: a program file holds "
                                 f"{', '.join(_NODE_KINDS)} nodes")
        where = f"node {n.name}"
        entry = {"name": n.name, "op": n.op,
                 "target": target_key(n.target) if n.op == "call_function" else n.target,
                 "args": writer.value(tuple(n.args), where)["$tuple"],
                 "kwargs": writer.value(dict(n.kwargs), where)["$dict"]}
        val = n.meta.get("val")
        if val is not None:
            entry["val"] = [list(val[0]), val[1].name, str(val[2])]
        if "grad_enabled" in n.meta:
            entry["grad_enabled"] = bool(n.meta["grad_enabled"])
        nodes.append(entry)
    return {"nodes": nodes}


def _check_attr_name(target):
    parts = target.split(".") if isinstance(target, str) else None
    if not parts or not all(_ATTR_PART.match(p) and not p.startswith("__") for p in parts):
        raise SerializeError(f"malformed attribute name {target!r} in the program file")


def graph_from_json(j, reader: _Reader, attributes) -> Graph:
    """Rebuild a graph; ``get_attr`` nodes may name only ``attributes`` (the file's tensors)."""
    graph = Graph()
    reader.nodes = nodes = {}
    for entry in j["nodes"]:
        op, target, name = entry["op"], entry["target"], entry["name"]
        if op not in _NODE_KINDS or not isinstance(name, str) or name in nodes:
            raise SerializeError(f"malformed node {name!r} of kind {op!r} in the program file")
        args = tuple(reader.value(x) for x in entry.get("args", []))
        kwargs = {}
        for k, v in entry.get("kwargs", []):
            if not isinstance(k, str) or not k.isidentifier():
                raise SerializeError(f"malformed keyword {k!r} of node {name!r}")
            kwargs[k] = reader.value(v)
        if op == "placeholder":
            node = graph.placeholder(name)   # the graph makes names identifiers
        elif op == "get_attr":
            _check_attr_name(target)
            if target not in attributes:
                raise SerializeError(f"node {name!r} reads {target!r}, which the file does not hold")
            node = graph.get_attr(target)
        elif op == "call_function":
            node = graph.call_function(target_of(target), args, kwargs)
        else:
            node = graph.output(args[0] if args else None)
        if "val" in entry:
            shape, dtype_name, device_text = entry["val"]
            node.meta["val"] = (tuple(int(s) for s in shape), dt._BY_NAME[dtype_name], reader.device(device_text))
        if "grad_enabled" in entry:
            node.meta["grad_enabled"] = bool(entry["grad_enabled"])
        nodes[name] = node
    graph.lint()
    return graph


# ---------------------------------------------------------------- tensors
def tensor_to_json(t: Tensor, writer: _Writer, **fields) -> dict:
    """Store ``t``'s values; returns its JSON description (dtype, shape, device, ``fields``)."""
    array = to_numpy(t.detach())
    entry, stored = writer.add_array("tensors", array)
    return {"entry": entry, "stored": stored, "dtype": t.dtype.name, "shape": list(t.shape),
            "device": str(t.device), "requires_grad": bool(t.requires_grad), **fields}


def tensor_from_json(j, reader: _Reader) -> Tensor:
    """The tensor a JSON tensor description names (a ``Parameter`` when ``kind`` is ``parameter``)."""
    from ember.nn.parameter import Parameter
    if j.get("dtype") not in dt._BY_NAME:
        raise SerializeError(f"unknown dtype {j.get('dtype')!r} in the program file")
    numpy_name = "bfloat16" if j["dtype"] == "bfloat16" else str(dt._BY_NAME[j["dtype"]].numpy)
    array = reader.array(j["entry"], j["stored"], numpy_name, j["shape"])
    t = from_host(np.array(array), reader.device(j["device"]))
    if j.get("kind") == "parameter":
        return Parameter(t, requires_grad=bool(j.get("requires_grad", True)))
    return t.requires_grad_(True) if j.get("requires_grad") else t


# ---------------------------------------------------------------- the archive
def write_archive(f, description: dict, writer: _Writer, extra_files=None) -> None:
    """Write the zip (atomically when ``f`` is a path: a temporary file, then ``os.replace``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("program.json", json.dumps({"format": FORMAT, "version": VERSION, **description}))
        for entry, data in writer.entries.items():
            z.writestr(entry, data)
        for name, content in (extra_files or {}).items():
            z.writestr(f"extra/{name}", content.encode() if isinstance(content, str) else bytes(content))
    data = buf.getvalue()
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        fd, tmp = tempfile.mkstemp(prefix=".ember-", suffix=".tmp", dir=os.path.dirname(os.path.abspath(path)))
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    else:
        f.write(data)


def read_archive(f, kind, extra_files=None):
    """Open a program file; returns ``(zipfile, description)`` after checking its format and kind."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            data = fh.read()
    else:
        data = f.read()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        description = json.loads(archive.read("program.json").decode())
    except (zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError) as e:
        raise SerializeError(f"not an ember program file ({e})") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise SerializeError("not an ember program file (no ember.program description)")
    if description.get("version") != VERSION:
        raise SerializeError(f"ember program file version {description.get('version')!r} is not supported "
                             f"(this ember reads version {VERSION})")
    if kind is not None and description.get("kind") not in kind:
        raise SerializeError(f"the file holds a {description.get('kind')}, not a {' or '.join(kind)}")
    if extra_files is not None:
        for name in list(extra_files):
            entry = f"extra/{name}"
            extra_files[name] = archive.read(entry).decode() if entry in archive.namelist() else ""
    return archive, description
