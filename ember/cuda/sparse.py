"""``ember.cuda.sparse`` (``torch.cuda.sparse``): the legacy constructors of sparse COO GPU tensors
(``ember.cuda.sparse.FloatTensor(indices, values, size)``); ``isinstance`` answers for sparse cuda
tensors of the dtype. Without a usable GPU, calling one raises a TypeError, as in PyTorch."""
from __future__ import annotations

from ember.ops.storage import legacy_sparse_tensor_types

globals().update(legacy_sparse_tensor_types("cuda"))
__all__ = sorted(legacy_sparse_tensor_types("cuda"))
