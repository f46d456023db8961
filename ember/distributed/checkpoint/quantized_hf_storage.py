"""``torch.distributed.checkpoint.quantized_hf_storage``: read quantized Hugging Face safetensors
checkpoints, dequantizing as they load.

Two formats are understood: FP8 weights (``F8_E4M3``/``F8_E5M2``) with a
``<name>_scale_inv`` tensor of one factor per ``block_size`` x ``block_size`` block (DeepSeek
style), and MXFP4 (``<name>_blocks`` bytes of two FP4 E2M1 values each with ``<name>_scales``
E8M0 exponents per group, as gpt-oss stores them), read as ``<name>_blocks`` of the dequantized
shape ``[..., groups * bytes * 2]``.
"""
from __future__ import annotations

import json
import os

import ml_dtypes
import numpy as np

import ember
from ember.distributed.checkpoint.filesystem import _completed
from ember.distributed.checkpoint.hf_storage import SUFFIX, HuggingFaceStorageReader, _header
from ember.distributed.checkpoint.metadata import (
    ChunkStorageMetadata, Metadata, MetadataIndex, StorageMeta, TensorProperties, TensorStorageMetadata)
from ember.distributed.checkpoint.planner import LoadItemType

__all__ = ["QuantizedHuggingFaceStorageReader"]

_FP8 = {"F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2}
_FP4_E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0],
                     dtype=np.float32)
_PLAIN = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


class QuantizedHuggingFaceStorageReader(HuggingFaceStorageReader):
    """Read a quantized safetensors checkpoint, dequantizing FP8 block-scaled and MXFP4 weights.

    Args:
        path: the directory (with ``model.safetensors.index.json`` or just the safetensors files).
        thread_count: accepted (files are read in turn).
        target_dtype: the dtype dequantized weights load as.
        block_size: the side of an FP8 scaling block.
    """

    def __init__(self, path, thread_count=1, target_dtype=ember.float32, block_size=128):
        super().__init__(path, thread_count)
        self.target_dtype, self.block_size = target_dtype, block_size

    def read_metadata(self, *args, **kwargs):
        self._tensors = {}    # fqn -> (file, header entry, data start)
        for name in sorted(os.listdir(self.path)):
            if name.endswith(SUFFIX):
                header, base = _header(os.path.join(self.path, name))
                for fqn, info in header.items():
                    if fqn != "__metadata__":
                        self._tensors[fqn] = (name, info, base)
        index = os.path.join(self.path, "model.safetensors.index.json")
        if os.path.exists(index):   # the weight map names the files (a check that they are all here)
            with open(index) as f:
                for fqn, file in json.load(f).get("weight_map", {}).items():
                    if fqn not in self._tensors:
                        raise FileNotFoundError(f"{fqn!r} is in the weight map ({file}) but in no safetensors file")
        entries, storage = {}, {}
        for fqn, (name, info, base) in self._tensors.items():
            shape = tuple(info["shape"])
            if info["dtype"] in _FP8:
                dtype = self.target_dtype
            elif fqn.endswith("_blocks"):
                shape, dtype = shape[:-2] + (shape[-2] * shape[-1] * 2,), self.target_dtype
            else:
                dtype = getattr(ember, np.dtype(_PLAIN[info["dtype"]]).name)
            entries[fqn] = TensorStorageMetadata(TensorProperties(dtype=dtype), shape,
                                                 [ChunkStorageMetadata((0,) * len(shape), shape)])
            storage[MetadataIndex(fqn, (0,) * len(shape))] = {"relative_path": name}
        return Metadata(entries, planner_data={"mappings": {k: [k] for k in entries}}, storage_data=storage,
                        storage_meta=StorageMeta(checkpoint_id=self.path))

    def _raw(self, fqn):
        name, info, base = self._tensors[fqn]
        start, stop = info["data_offsets"]
        with open(os.path.join(self.path, name), "rb") as f:
            f.seek(base + start)
            raw = f.read(stop - start)
        kind = info["dtype"]
        dtype = _FP8.get(kind) or _PLAIN[kind]
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<") if kind not in _FP8 else dtype
                             ).reshape(info["shape"])

    def _dequantized(self, fqn):
        """The whole value of ``fqn`` in float32 (dequantized when it is quantized)."""
        kind = self._tensors[fqn][1]["dtype"]
        if kind in _FP8:
            w = self._raw(fqn).astype(np.float32)
            scale_name = fqn + "_scale_inv"
            if scale_name in self._tensors:
                s = self._raw(scale_name).astype(np.float32)
                bs = self.block_size
                # each block of the weight times its factor (edge blocks may be partial)
                full = np.repeat(np.repeat(s, bs, axis=0), bs, axis=1)[:w.shape[0], :w.shape[1]]
                w = w * full
            return w
        if fqn.endswith("_blocks"):
            blocks = self._raw(fqn)
            scales_name = fqn[:-len("_blocks")] + "_scales"
            if scales_name not in self._tensors:
                raise RuntimeError(f"MXFP4 blocks {fqn!r} have no {scales_name!r}")
            exps = self._raw(scales_name).astype(np.int32) - 127
            lo, hi = _FP4_E2M1[blocks & 0x0F], _FP4_E2M1[blocks >> 4]
            values = np.stack([lo, hi], axis=-1).reshape(*blocks.shape[:-1], blocks.shape[-1] * 2)
            values = np.ldexp(values, exps[..., None])
            return values.reshape(*blocks.shape[:-2], -1)
        return self._raw(fqn)

    def read_data(self, plan, planner):
        cache = {}
        for item in plan.items:
            if item.type is LoadItemType.BYTE_IO:
                raise RuntimeError(f"{item.dest_index.fqn!r} is not a tensor: safetensors files hold only tensors")
            fqn = item.storage_index.fqn
            if fqn not in cache:
                cache[fqn] = np.ascontiguousarray(self._dequantized(fqn)).reshape(-1)
            start = int(item.storage_offsets[0])
            piece = cache[fqn][start:start + int(item.lengths[0])]
            target = planner.resolve_tensor(item)
            with ember.no_grad():
                target.copy_(ember.from_numpy(np.array(piece).reshape(tuple(target.shape))).to(target.device,
                                                                                                target.dtype))
            planner.commit_tensor(item, target)
        return _completed(None)
