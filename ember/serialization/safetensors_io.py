"""safetensors files: flat name -> tensor maps any framework can read, with no pickle.

Built on the ``safetensors`` package's numpy interface: tensors go to the host as numpy
arrays (bfloat16 through ml_dtypes), and come back as CPU tensors or on ``device``.
The format has no views: every tensor is written whole and contiguous, and tensors that
shared memory are separate after loading.
"""
from __future__ import annotations

import os

import numpy as np

from ember.core import dtype as dt
from ember.core.tensor import Tensor

# safetensors dtype tags of the dtypes ember has
_DTYPE_OF_TAG = {
    "F64": dt.float64, "F32": dt.float32, "F16": dt.float16, "BF16": dt.bfloat16, "I64": dt.int64,
    "I32": dt.int32, "I16": dt.int16, "I8": dt.int8, "U8": dt.uint8, "BOOL": dt.bool_,
    "U16": dt.uint16, "U32": dt.uint32, "U64": dt.uint64, "F8_E4M3": dt.float8_e4m3fn, "F8_E5M2": dt.float8_e5m2,
    "F8_E8M0": dt.float8_e8m0fnu,
}


def _to_arrays(tensors) -> dict:
    if not isinstance(tensors, dict):
        raise TypeError(f"expected a dict of name -> tensor, got {type(tensors).__name__}")
    from ember.ops.creation import to_numpy
    arrays = {}
    for name, t in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"safetensors names must be strings, got {name!r}")
        if not isinstance(t, Tensor):
            raise TypeError(f"safetensors values must be tensors, got {type(t).__name__} for '{name}'")
        arrays[name] = np.array(to_numpy(t.detach()), order="C")  # keeps 0-d shapes
    return arrays


def _check_metadata(metadata):
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in metadata.items()):
        raise TypeError(f"safetensors metadata must be a dict of str -> str, got {metadata!r}")
    return metadata


def save(tensors: dict, metadata: dict | None = None) -> bytes:
    """The safetensors bytes of ``tensors`` (a dict of name -> tensor)."""
    import safetensors.numpy
    return safetensors.numpy.save(_to_arrays(tensors), metadata=_check_metadata(metadata))


def save_file(tensors: dict, filename, metadata: dict | None = None) -> None:
    """Write ``tensors`` (a dict of name -> tensor) to a safetensors file, atomically."""
    import safetensors.numpy
    from ember.serialization.checkpoint import _write_atomically
    arrays = _to_arrays(tensors)
    metadata = _check_metadata(metadata)
    path = os.fspath(filename)

    def write(fh):
        fh.write(safetensors.numpy.save(arrays, metadata=metadata))

    _write_atomically(path, write)


def _wrap(arrays: dict, device) -> dict:
    from ember.ops.creation import from_numpy, to_device
    out = {}
    for name, arr in arrays.items():
        t = from_numpy(arr)
        out[name] = t if device is None or str(device) == "cpu" else to_device(t, device)
    return out


def _arrays_from_deserialized(items) -> dict:
    arrays = {}
    for name, info in items:
        tag = info["dtype"]
        d = _DTYPE_OF_TAG.get(tag)
        if d is None:
            raise TypeError(f"safetensors tensor '{name}' has dtype {tag}, which ember does not support "
                            f"(supported: {', '.join(_DTYPE_OF_TAG)})")
        raw = info["data"]
        raw = bytearray(raw) if isinstance(raw, bytes) else raw  # writable buffers only
        arrays[name] = np.frombuffer(raw, dtype=d.numpy).reshape(info["shape"])
    return arrays


def load(data: bytes, device="cpu") -> dict:
    """Tensors from safetensors bytes, as a dict of name -> tensor on ``device``."""
    import safetensors
    return _wrap(_arrays_from_deserialized(safetensors.deserialize(data)), device)


def load_file(filename, device="cpu") -> dict:
    """Tensors from a safetensors file, as a dict of name -> tensor on ``device``."""
    with open(os.fspath(filename), "rb") as fh:
        data = fh.read()
    return load(data, device)


def metadata(filename) -> dict | None:
    """The free-form ``__metadata__`` of a safetensors file (None if it has none)."""
    import safetensors
    with safetensors.safe_open(os.fspath(filename), framework="np") as f:
        return f.metadata()
