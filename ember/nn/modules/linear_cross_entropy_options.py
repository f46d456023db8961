"""``LinearCrossEntropyOptions`` (``nn.modules.linear_cross_entropy_options``): how
``F.linear_cross_entropy`` chunks the batch so the ``(N, C)`` logits never exist all at once."""
from __future__ import annotations

import dataclasses
from typing import Optional

from ember.core import dtype as dt

__all__ = ["LinearCrossEntropyOptions"]

_POLICIES = ("accurate", "balanced", "compact", "auto")
# "auto" picks per (device type, dtype), as PyTorch's table does; other pairs take the fallback
_AUTO = {("cpu", "bfloat16"): ("accurate", "aspect_ratio"), ("cpu", "float16"): ("accurate", "aspect_ratio"),
         ("cuda", "bfloat16"): ("compact", "aspect_ratio:2"), ("cuda", "float16"): ("compact", "aspect_ratio:2")}
_AUTO_FALLBACK = ("compact", "aspect_ratio:2")


@dataclasses.dataclass
class LinearCrossEntropyOptions:
    """Settings of the chunked ``linear_cross_entropy``: the batch is processed ``batch_chunk_size`` rows at
    a time, forward and backward, so only one chunk's logits are in memory.

    Args:
        allow_retain_graph: allow ``backward(retain_graph=True)`` through the chunked loss (ember's chunked
            backward recomputes each chunk, so a retained graph is always usable; the flag is kept).
        batch_chunk_size: rows per chunk; None means one chunk (or what ``chunking_method`` gives).
        chunking_method: ``"auto"`` (by device and dtype), ``"aspect_ratio"`` (a chunk's logits as large as the
            input: the next power of two of ``ceil(N / ceil(C / in_features))``), ``"aspect_ratio:K"`` (that
            divided by K), or None (use ``batch_chunk_size``).
        acc_policy: ``"accurate"``, ``"balanced"``, ``"compact"`` or ``"auto"``: PyTorch's precision / memory
            trade-off of its fused kernels; ember computes every chunk in ``acc_dtype`` (the accurate form).
        acc_dtype: the dtype the chunks are computed in; None means float32 for float16 / bfloat16 inputs
            (with ``acc_policy="auto"``) and the input's dtype otherwise.
    """

    allow_retain_graph: bool = False
    batch_chunk_size: Optional[int] = None
    chunking_method: Optional[str] = "auto"
    acc_policy: str = "auto"
    acc_dtype: Optional[dt.dtype] = None

    def __post_init__(self):
        if self.acc_policy not in _POLICIES:
            raise ValueError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, _, factor = self.chunking_method.partition(":")
            if not (name == "aspect_ratio" and (factor == "" or (factor.isdigit() and int(factor) > 0))):
                raise ValueError(f"invalid chunking_method: {self.chunking_method!r}")
        if self.batch_chunk_size is not None and not (isinstance(self.batch_chunk_size, int)
                                                      and self.batch_chunk_size > 0):
            raise ValueError(f"batch_chunk_size must be positive int or None, got {self.batch_chunk_size!r}")

    def _resolve(self, rows: int, in_features: int, classes: int, dtype, device_type: str):
        """The chunk size and accumulation dtype for one call."""
        method = self.chunking_method
        if method == "auto" and self.batch_chunk_size is not None:
            method = None   # an explicit size wins over the heuristic
        if method == "auto":
            method = _AUTO.get((device_type, dtype.name), _AUTO_FALLBACK)[1]
        size = rows if self.batch_chunk_size is None else min(self.batch_chunk_size, rows)
        if method is not None:
            factor = int(method.partition(":")[2] or 1)
            per_chunk = -(-rows // -(-classes // max(in_features, 1)))
            heuristic = min((1 << (per_chunk - 1).bit_length()) // factor, rows)
            if self.batch_chunk_size is not None and self.batch_chunk_size != heuristic:
                raise ValueError(f"batch_chunk_size (={self.batch_chunk_size}) and chunking_method ('{method}') "
                                 f"give different chunk sizes ({self.batch_chunk_size} vs {heuristic}); pass only one.")
            size = heuristic
        acc = self.acc_dtype
        if acc is None:
            low = dtype in (dt.float16, dt.bfloat16)
            acc = dt.float32 if (self.acc_policy == "auto" and low) else dtype
        return max(1, size), acc
