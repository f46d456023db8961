"""ONNX operators usable in ember programs (PyTorch's ``torch.onnx.ops``).

``rotary_embedding`` and ``attention`` compute ONNX's RotaryEmbedding-23 and Attention-23 in
ember ops (so they run and differentiate on every device); ``symbolic`` and
``symbolic_multi_out`` stand for an arbitrary ONNX operator: eagerly they return zero tensors
of the declared dtypes and shapes. Each is recorded as one node when ``ember.export`` or
``ember.onnx.export`` captures a program (``ember.compile`` traces the ops inside), and
``ember.onnx.export`` writes that node as the ONNX operator itself (a custom-domain node
with the given attributes for the symbolic ones). ``aten_decompositions()`` maps them to their
decompositions in ember ops for ``ExportedProgram.run_decompositions``.
"""
from __future__ import annotations

import math
from typing import Sequence

import functools

from ember.core import dtype as dt
from ember.core.tensor import Tensor
from ember.dispatch.keys import ACTIVE, TRACE
from ember.dispatch.tracing import recorded

__all__ = ["aten_decompositions", "symbolic", "symbolic_multi_out", "rotary_embedding", "attention"]

# ONNX TensorProto element types and ember's dtypes (those ember has)
_ONNX_TO_DTYPE_NAMES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
                        9: "bool_", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
                        15: "complex128", 16: "bfloat16"}
_ONNX_TO_DTYPE = {k: getattr(dt, v) for k, v in _ONNX_TO_DTYPE_NAMES.items() if isinstance(getattr(dt, v, None), dt.dtype)}
_DTYPE_TO_ONNX = {v: k for k, v in _ONNX_TO_DTYPE.items()}
# the precisions Attention-23's softmax_precision may name: float, float16, double, bfloat16
_SOFTMAX_PRECISIONS = (1, 10, 11, 16)


def _onnx_dtype(dtype) -> int:
    """The ONNX element type of an ember dtype or ONNX type number."""
    if isinstance(dtype, int) and not isinstance(dtype, bool):
        if dtype not in _ONNX_TO_DTYPE:
            raise RuntimeError(f"{dtype} is invalid as an ONNX data type. Valid values are {sorted(_ONNX_TO_DTYPE)}")
        return dtype
    if dtype not in _DTYPE_TO_ONNX:
        raise RuntimeError(f"Unsupported dtype: {dtype}")
    return _DTYPE_TO_ONNX[dtype]


def _split_domain(domain_op: str):
    domain, sep, op_type = domain_op.partition("::")
    return (domain, op_type) if sep else ("", domain)


def _check_attrs(attrs):
    for k, v in (attrs or {}).items():
        ok = isinstance(v, (int, float, str, bool)) or (
            isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str, bool)) for x in v))
        if not isinstance(k, str) or not ok:
            raise TypeError(f"attribute {k!r} must be an int, float, str, bool or a sequence of them, "
                            f"got {type(v).__name__}")


def _exporting() -> bool:
    from ember.export._program import EXPORTING
    from ember.onnx._export import _EXPORTING
    return bool(EXPORTING[0] or _EXPORTING[0])


def _node_for_export(fn):
    """``fn`` recorded as one graph node while ``ember.export`` or ``ember.onnx.export`` captures a
    program; elsewhere (eager, ``ember.compile``'s captures) it runs as the ember ops it is made
    of, so that a compiled training graph holds their backward."""
    node = recorded(fn)

    @functools.wraps(fn)
    def entry(*args, **kwargs):
        if ACTIVE.modes and TRACE in ACTIVE.keys and _exporting():
            return node(*args, **kwargs)
        return fn(*args, **kwargs)
    entry.__untraced__ = fn
    return entry


# ---------------------------------------------------------------- symbolic operators
@_node_for_export
def _symbolic(domain_op, inputs, attrs, *, dtype, shape, version=None, metadata_props=None):
    from ember.ops.creation import zeros
    return zeros(tuple(int(s) for s in shape), dtype=_ONNX_TO_DTYPE[dtype])


@_node_for_export
def _symbolic_multi_out(domain_op, inputs, attrs, *, dtypes, shapes, version=None, metadata_props=None):
    from ember.ops.creation import zeros
    return [zeros(tuple(int(s) for s in shape), dtype=_ONNX_TO_DTYPE[d]) for d, shape in zip(dtypes, shapes)]


def symbolic(domain_op: str, /, inputs: Sequence, attrs: dict | None = None, *, dtype, shape,
             version: int | None = None, metadata_props: dict | None = None) -> Tensor:
    """An arbitrary ONNX operator with one output, written by ``ember.onnx.export`` as that operator.

    Args:
        domain_op: ``"domain::OpType"`` (no ``::``: the default ONNX domain).
        inputs: the operator's inputs (tensors, None for an omitted optional input).
        attrs: the node's attributes (ints, floats, strings, bools or sequences of one of them).
        dtype: the output's dtype (an ember dtype or an ONNX element type number).
        shape: the output's shape.
        version: the opset version of ``domain`` to import (default 1 for a custom domain).
        metadata_props: string key/value metadata written on the node.

    Returns:
        Eagerly, a zero tensor of ``dtype`` and ``shape`` (what the operator's output looks like).
    """
    _check_attrs(attrs)
    return _symbolic(domain_op, tuple(inputs), dict(attrs or {}), dtype=_onnx_dtype(dtype),
                     shape=tuple(shape), version=version, metadata_props=dict(metadata_props or {}))


def symbolic_multi_out(domain_op: str, /, inputs: Sequence, attrs: dict | None = None, *, dtypes, shapes,
                       version: int | None = None, metadata_props: dict | None = None) -> list:
    """An arbitrary ONNX operator with several outputs (see ``symbolic``).

    Args:
        domain_op: ``"domain::OpType"``.
        inputs: the operator's inputs (tensors or None).
        attrs: the node's attributes.
        dtypes: each output's dtype (ember dtypes or ONNX element type numbers).
        shapes: each output's shape.
        version: the opset version of ``domain`` to import.
        metadata_props: string key/value metadata written on the node.

    Returns:
        Eagerly, a list of zero tensors of ``dtypes`` and ``shapes``.
    """
    _check_attrs(attrs)
    if len(dtypes) != len(shapes):
        raise RuntimeError(f"Number of dtypes ({len(dtypes)}) must match number of shapes ({len(shapes)})")
    return _symbolic_multi_out(domain_op, tuple(inputs), dict(attrs or {}),
                               dtypes=tuple(_onnx_dtype(d) for d in dtypes),
                               shapes=tuple(tuple(s) for s in shapes), version=version,
                               metadata_props=dict(metadata_props or {}))


# ---------------------------------------------------------------- RotaryEmbedding-23
def _rotary_embedding_23(x, cos_cache, sin_cache, position_ids=None, *, interleaved=False, num_heads=0,
                         rotary_embedding_dim=0):
    import ember
    shape = tuple(x.shape)
    rank = len(shape)
    if rank not in (3, 4):
        raise RuntimeError(f"RotaryEmbedding expects a 3-d or 4-d input, got shape {list(shape)}")
    batch, seq = shape[0], shape[-2]
    if position_ids is not None:
        if position_ids.ndim != 2 or tuple(position_ids.shape) != (batch, seq):
            raise RuntimeError(f"position_ids must be 2D of shape (batch={batch}, sequence={seq}); got "
                               f"{list(position_ids.shape)}")
        if cos_cache.ndim != 2 or sin_cache.ndim != 2:
            raise RuntimeError(f"cos_cache/sin_cache must be 2D when position_ids is provided. Received cos_cache "
                               f"shape {list(cos_cache.shape)}, sin_cache shape {list(sin_cache.shape)}")
    elif cos_cache.ndim != 3 or sin_cache.ndim != 3:
        raise RuntimeError(f"cos_cache/sin_cache must be 3D when position_ids is not provided. Received cos_cache "
                           f"shape {list(cos_cache.shape)}, sin_cache shape {list(sin_cache.shape)}")
    if rank == 4:   # (batch, heads, seq, head) -> (batch, seq, heads, head)
        x = x.permute(0, 2, 1, 3)
    else:
        if num_heads == 0:
            raise RuntimeError(f"num_heads must be provided for 3D inputs. Received input tensor with shape "
                               f"{list(shape)}")
        x = x.reshape(batch, seq, num_heads, shape[2] // num_heads)
    head = x.shape[3]
    rot = rotary_embedding_dim or head
    half = rot // 2
    x_rot, x_pass = x[..., :rot], x[..., rot:]
    cos = cos_cache[position_ids] if position_ids is not None else cos_cache
    sin = sin_cache[position_ids] if position_ids is not None else sin_cache
    if tuple(cos.shape[:2]) != (batch, seq) or tuple(sin.shape[:2]) != (batch, seq):
        raise RuntimeError(f"cos has shape {list(cos.shape)} but expected (batch={batch}, seq={seq}, ...)")
    if cos.shape[-1] != half or sin.shape[-1] != half:
        raise RuntimeError(f"Last dimension of cos cache ({cos.shape[-1]}) should match rotary_embedding_dim/2 "
                           f"({half}).")
    cos, sin = cos.unsqueeze(2), sin.unsqueeze(2)   # broadcast over the heads
    if interleaved:
        x1, x2 = x_rot[..., 0::2], x_rot[..., 1::2]
    else:
        x1, x2 = x_rot[..., :half], x_rot[..., half:]
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    if interleaved:   # pairs back in place: (r0, i0, r1, i1, ...)
        rotated = ember.stack((real, imag), dim=-1).reshape(x_rot.shape)
    else:
        rotated = ember.cat((real, imag), dim=-1)
    out = ember.cat((rotated, x_pass), dim=-1)
    return out.reshape(shape) if rank == 3 else out.permute(0, 2, 1, 3)


_rotary_recorded = _node_for_export(_rotary_embedding_23)


def rotary_embedding(X: Tensor, cos_cache: Tensor, sin_cache: Tensor, position_ids: Tensor | None = None, *,
                     interleaved: bool = False, num_heads: int = 0, rotary_embedding_dim: int = 0) -> Tensor:
    """ONNX's RotaryEmbedding (opset 23): rotary positional embeddings applied to ``X``.

    Args:
        X: ``(batch, num_heads, seq, head_size)`` or ``(batch, seq, hidden)`` (then ``num_heads`` is needed).
        cos_cache: ``(max_position, rotary_dim / 2)`` with ``position_ids``, else ``(batch, seq, rotary_dim / 2)``.
        sin_cache: the same shape as ``cos_cache``.
        position_ids: ``(batch, seq)`` int64 rows of the caches to use, or None.
        interleaved: rotate pairs of neighbouring elements instead of the two halves.
        num_heads: the number of heads of a 3-d ``X``.
        rotary_embedding_dim: rotate only the first this many elements of each head (0: all).

    Returns:
        A tensor of ``X``'s shape and dtype.

    Raises:
        RuntimeError: for inconsistent shapes, naming them.
    """
    return _rotary_recorded(X, cos_cache, sin_cache, position_ids, interleaved=bool(interleaved),
                            num_heads=int(num_heads), rotary_embedding_dim=int(rotary_embedding_dim))


# ---------------------------------------------------------------- Attention-23
def _to_heads(t, batch, heads):
    """(batch, seq, heads * size) -> (batch, heads, seq, size)."""
    return t.reshape(batch, t.shape[1], heads, t.shape[2] // heads).transpose(1, 2)


def _attention_23(Q, K, V, attn_mask=None, past_key=None, past_value=None, *, is_causal=False, kv_num_heads=0,
                  q_num_heads=0, qk_matmul_output_mode=0, scale=None, softcap=0.0, softmax_precision=None):
    import ember
    rank = Q.ndim
    if not (Q.ndim == K.ndim == V.ndim) or rank not in (3, 4):
        raise RuntimeError(f"Q, K and V must all be 3-d or all be 4-d, got shapes {list(Q.shape)}, "
                           f"{list(K.shape)}, {list(V.shape)}")
    batch = Q.shape[0]
    q_seq = Q.shape[-2]
    if rank == 3:
        if q_num_heads == 0 or kv_num_heads == 0:
            raise RuntimeError("q_num_heads and kv_num_heads must be provided for 3D inputs")
        Q, K, V = _to_heads(Q, batch, q_num_heads), _to_heads(K, batch, kv_num_heads), _to_heads(V, batch, kv_num_heads)
    if qk_matmul_output_mode not in (0, 1, 2, 3):
        raise RuntimeError(f"qk_matmul_output_mode must be 0, 1, 2 or 3, got {qk_matmul_output_mode}")
    if (past_key is None) != (past_value is None):
        raise RuntimeError("past_key and past_value must be given together")
    present_key = ember.cat((past_key, K), dim=2) if past_key is not None else K.clone()
    present_value = ember.cat((past_value, V), dim=2) if past_value is not None else V.clone()
    K, V = present_key, present_value
    q_heads, kv_heads = Q.shape[1], K.shape[1]
    if q_heads % kv_heads:
        raise RuntimeError(f"q_num_heads ({q_heads}) must be divisible by kv_num_heads ({kv_heads}) for GQA")
    if q_heads != kv_heads:   # grouped-query attention: each K/V head serves consecutive Q heads
        K = K.repeat_interleave(q_heads // kv_heads, dim=1)
        V = V.repeat_interleave(q_heads // kv_heads, dim=1)
    kv_seq = K.shape[2]
    bias = ember.zeros(q_seq, kv_seq, dtype=Q.dtype, device=Q.device)
    if attn_mask is not None:
        short = kv_seq - attn_mask.shape[-1]
        if short > 0:   # a mask over fewer keys than there are: the missing ones are masked out
            fill = ember.full((*attn_mask.shape[:-1], short), False if attn_mask.dtype is dt.bool_ else float("-inf"),
                              dtype=attn_mask.dtype, device=attn_mask.device)
            attn_mask = ember.cat((attn_mask, fill), dim=-1)
        if attn_mask.dtype is dt.bool_:
            bias = bias.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            bias = bias + attn_mask
    if is_causal:   # aligned at the bottom right: query i sees key j iff j <= i + (cached keys)
        past = past_key.shape[2] if past_key is not None else 0
        keep = ember.ones(q_seq, kv_seq, dtype=dt.bool_, device=Q.device).tril(past)
        bias = bias.masked_fill(keep.logical_not(), float("-inf"))
    # both operands scaled by sqrt(scale): the product stays in range for half precision
    root = math.sqrt(scale if scale is not None else 1.0 / math.sqrt(Q.shape[3]))
    qk = ember.matmul(Q * root, (K * root).transpose(-2, -1))
    qk_out = qk
    if softcap > 0.0:   # the softcap comes before the mask (ONNX's order)
        qk = softcap * ember.tanh(qk / softcap)
    if qk_matmul_output_mode == 1:
        qk_out = qk
    scores = qk + bias
    if qk_matmul_output_mode == 2:
        qk_out = scores
    # a query row with every key masked out gives zeros, not NaN
    dead = ember.isneginf(bias.amax(dim=-1, keepdim=True))
    if softmax_precision is not None and softmax_precision in _SOFTMAX_PRECISIONS:
        probs = ember.softmax(scores.masked_fill(dead, 0.0).to(_ONNX_TO_DTYPE[softmax_precision]), dim=-1)
        probs = probs.to(Q.dtype)
    else:
        probs = ember.softmax(scores.masked_fill(dead, 0.0), dim=-1)
    probs = probs.masked_fill(dead, 0.0)
    if qk_matmul_output_mode == 3:
        qk_out = probs
    out = ember.matmul(probs, V)
    if rank == 3:
        out = out.transpose(1, 2).reshape(batch, q_seq, -1)
    return out, present_key, present_value, qk_out


_attention_recorded = _node_for_export(_attention_23)


def attention(Q: Tensor, K: Tensor, V: Tensor, attn_mask: Tensor | None = None, past_key: Tensor | None = None,
              past_value: Tensor | None = None, *, is_causal: bool = False, kv_num_heads: int = 0,
              q_num_heads: int = 0, qk_matmul_output_mode: int = 0, scale: float | None = None,
              softcap: float = 0.0, softmax_precision: int | None = None) -> tuple:
    """ONNX's Attention (opset 23): scaled dot-product attention with masks, a KV cache and GQA.

    Args:
        Q: ``(batch, q_num_heads, q_seq, head_size)`` or ``(batch, q_seq, q_hidden)``.
        K: ``(batch, kv_num_heads, kv_seq, head_size)`` or ``(batch, kv_seq, kv_hidden)``.
        V: ``(batch, kv_num_heads, kv_seq, v_head_size)`` or ``(batch, kv_seq, v_hidden)``.
        attn_mask: a bool mask (True: attend) or a float bias added to the scores, broadcastable
            to ``(batch, q_num_heads, q_seq, past_seq + kv_seq)``.
        past_key: ``(batch, kv_num_heads, past_seq, head_size)`` cache prepended to K, or None.
        past_value: the matching cache of V, or None.
        is_causal: mask future keys: query ``i`` sees key ``j`` iff ``j <= i + past_seq`` (combined
            with ``attn_mask`` when both are given).
        kv_num_heads: the K/V heads of 3-d inputs.
        q_num_heads: the Q heads of 3-d inputs.
        qk_matmul_output_mode: what the fourth output holds: 0 the scaled ``Q @ K^T``, 1 that after
            the softcap, 2 after the softcap and the mask, 3 after the softmax.
        scale: the score scale (default ``1 / sqrt(head_size)``).
        softcap: if positive, scores become ``softcap * tanh(scores / softcap)`` (before the mask is added).
        softmax_precision: an ONNX element type to compute the softmax in (float, float16, double, bfloat16).

    Returns:
        ``(Y, present_key, present_value, qk_matmul_output)``: Y has Q's layout (3-d or 4-d).

    Raises:
        RuntimeError: for inconsistent shapes or head counts.
    """
    return _attention_recorded(Q, K, V, attn_mask, past_key, past_value, is_causal=bool(is_causal),
                               kv_num_heads=int(kv_num_heads), q_num_heads=int(q_num_heads),
                               qk_matmul_output_mode=int(qk_matmul_output_mode),
                               scale=None if scale is None else float(scale), softcap=float(softcap),
                               softmax_precision=softmax_precision)


# the functions a saved program (ember.export.save) may name for these operators' graph nodes
PROGRAM_FUNCTIONS = {"onnx.symbolic": _symbolic.__untraced__, "onnx.symbolic_multi_out": _symbolic_multi_out.__untraced__,
                     "onnx.rotary_embedding_23": _rotary_embedding_23, "onnx.attention_23": _attention_23}


def aten_decompositions() -> dict:
    """The decompositions of the ONNX operators into ember ops, for ``ExportedProgram.run_decompositions``.

    Returns:
        ``{graph target: function}`` for RotaryEmbedding-23 and Attention-23.
    """
    return {_rotary_embedding_23: _rotary_embedding_23, _attention_23: _attention_23}
