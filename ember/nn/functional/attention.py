"""Attention: scaled_dot_product_attention and multi_head_attention_forward.

Written in ember ops (matmul, softmax, where), so they run and differentiate on every
backend. Masks follow PyTorch: for ``scaled_dot_product_attention`` a boolean mask marks
the positions that *may* be attended; for ``multi_head_attention_forward`` a boolean
``attn_mask`` / ``key_padding_mask`` marks the positions that may *not*. A float mask is
added to the scores. A query row that may attend to nothing gives zeros (and zero
gradients) in ``scaled_dot_product_attention``, as PyTorch's CPU kernels do.
"""
from __future__ import annotations

import math

import ember
from ember.core import dtype as dt
from ember.dispatch.public_op import dispatch_point
from ember.core.autograd import no_grad
from ember.nn.attention import _check_runnable

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _reduced_math_allowed() -> bool:
    from ember.backends.cuda import fp16_bf16_reduction_math_sdp_allowed
    return fp16_bf16_reduction_math_sdp_allowed()


def _dropout(x, p, training=True):
    from ember.nn.functional.misc import dropout
    return dropout(x, p, training)


@dispatch_point("scaled_dot_product_attention")
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """Attention ``softmax(query @ key^T * scale + mask) @ value`` over the last two dimensions.

    ``query`` is ``(..., L, E)``, ``key`` is ``(..., S, E)`` and ``value`` is ``(..., S, Ev)``;
    the leading dimensions broadcast. A query row for which every position is masked out
    yields zeros (and zero gradients) rather than NaN.

    Args:
        query: the queries, shape ``(..., L, E)``.
        key: the keys, shape ``(..., S, E)``; same dtype as ``query``.
        value: the values, shape ``(..., S, Ev)``; same dtype as ``query``.
        attn_mask: optional mask broadcastable to ``(..., L, S)``. A boolean mask is ``True`` where a
            query *may* attend to a key; a floating mask is added to the scores. Must be ``None`` when
            ``is_causal`` is set.
        dropout_p: probability of dropping an attention weight (applied whenever it is positive; pass
            0.0 in evaluation). Default: ``0.0``.
        is_causal: if ``True``, query ``i`` may only attend to keys ``j <= i`` (a lower-triangular
            ``(L, S)`` mask). Default: ``False``.
        scale: factor applied to the scores; ``None`` means ``1 / sqrt(E)``.
        enable_gqa: if ``True`` and the inputs have a head dimension (dim -3), ``key`` and ``value`` with
            fewer heads than ``query`` are repeated to match it (grouped-query attention); their head
            counts must divide the query's. Default: ``False``.

    Returns:
        A tensor of shape ``(..., L, Ev)``.

    Raises:
        TypeError: if an input is not a tensor.
        RuntimeError: on mismatched dtypes or shapes, or when both ``attn_mask`` and ``is_causal`` are given.
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, ember.Tensor):
            raise TypeError(f"scaled_dot_product_attention(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    _check_runnable()  # honour ember.nn.attention.sdpa_kernel / ember.backends.cuda.enable_*_sdp
    if query.dtype is not key.dtype or query.dtype is not value.dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(f"scaled_dot_product_attention: expected query, key and value with at least 2 dims, "
                           f"got {list(query.shape)}, {list(key.shape)} and {list(value.shape)}")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query and key must have the same embedding size, got "
                           f"query {list(query.shape)} and key {list(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key and value must have the same sequence length, got "
                           f"key {list(key.shape)} and value {list(value.shape)}")
    if query.dtype in (dt.float16, dt.bfloat16) and not _reduced_math_allowed():
        # as PyTorch's math path: half-precision inputs are computed in float32, rounded once at the end
        mask = attn_mask.float() if attn_mask is not None and attn_mask.dtype.is_floating_point else attn_mask
        return scaled_dot_product_attention(query.float(), key.float(), value.float(), mask, dropout_p, is_causal,
                                            scale, enable_gqa).to(query.dtype)
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hq % hk or hq % hv:
            raise RuntimeError(f"scaled_dot_product_attention: number of heads in key/value ({hk}/{hv}) must divide "
                               f"the number of heads in query ({hq}) when enable_gqa=True")
        if hk != hq:
            key = key.repeat_interleave(hq // hk, -3)
        if hv != hq:
            value = value.repeat_interleave(hq // hv, -3)
    length, source = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else 1.0
    scores = ember.matmul(query * scale, key.transpose(-2, -1))
    allowed = None
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    if is_causal:
        allowed = ember.ones((length, source), dtype=dt.bool_, device=query.device).tril()
    if attn_mask is not None:
        if attn_mask.dtype is dt.bool_:
            allowed = attn_mask if allowed is None else allowed & attn_mask
        else:
            scores = scores + attn_mask.to(scores.dtype)
    if allowed is not None:
        scores = scores.masked_fill(allowed.logical_not(), -math.inf)
    if allowed is not None or (attn_mask is not None and attn_mask.dtype is not dt.bool_):
        # rows with nothing to attend to: softmax over zeros, then zeroed (no NaN reaches a gradient)
        with no_grad():
            live = (scores > -math.inf).any(-1, keepdim=True)
        scores = ember.where(live, scores, 0.0)
        weights = ember.where(live, ember.softmax(scores, -1), 0.0)
    else:
        weights = ember.softmax(scores, -1)
    if dropout_p > 0.0:
        weights = _dropout(weights, dropout_p)
    return ember.matmul(weights, value)


# ---------------------------------------------------------------- multi-head attention
def _float_mask(mask, name, dtype):
    """A boolean 'may not attend' mask as an additive float mask (-inf where True)."""
    if mask is None:
        return None
    if mask.dtype is dt.bool_:
        return ember.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, -math.inf)
    if not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported, got {mask.dtype}")
    return mask.to(dtype)


@dispatch_point("linear")  # the projections are PyTorch's linear, for autocast too
def _linear(x, weight, bias):
    if x.ndim > 2:
        # one (rows, E) @ (E, out) GEMM, not a batch of small ones (the weight's gradient is then
        # one GEMM too, not a batch summed)
        lead = tuple(x.shape[:-1])
        out = ember.matmul(x.reshape(-1, x.shape[-1]), weight.transpose(0, 1)).reshape(lead + (weight.shape[0],))
    else:
        out = ember.matmul(x, weight.transpose(0, 1))
    return out + bias if bias is not None else out


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """Forward pass of multi-head attention (the function behind ``nn.MultiheadAttention``).

    Inputs are sequence-first: ``query`` ``(L, N, E)``, ``key`` ``(S, N, Ek)``, ``value``
    ``(S, N, Ev)``, or unbatched ``(L, E)`` / ``(S, Ek)`` / ``(S, Ev)``; ``Ek`` and ``Ev`` equal
    ``E`` unless separate projection weights are used. The inputs are projected, split into
    ``num_heads`` heads of size ``E // num_heads``, attended with scaled dot products, merged
    and projected by the output layer. Boolean masks here are ``True`` where attention
    is *not* allowed; floating masks are added to the scores.

    Args:
        query: the queries.
        key: the keys.
        value: the values.
        embed_dim_to_check: the expected embedding size ``E``; ``query`` must match it.
        num_heads: number of heads; must divide ``E``.
        in_proj_weight: the stacked ``(3 * E, E)`` query/key/value projection weight, used unless
            ``use_separate_proj_weight``.
        in_proj_bias: optional stacked ``(3 * E,)`` projection bias.
        bias_k: optional ``(1, 1, E)`` bias appended to the key sequence (needs ``bias_v`` as well).
        bias_v: optional ``(1, 1, E)`` bias appended to the value sequence (needs ``bias_k`` as well).
        add_zero_attn: if ``True``, a zero key and value are appended to each head's sequence.
        dropout_p: dropout probability on the attention weights; only used when ``training``.
        out_proj_weight: the ``(E, E)`` output projection weight.
        out_proj_bias: optional ``(E,)`` output projection bias.
        training: whether dropout is active. Default: ``True``.
        key_padding_mask: optional ``(N, S)`` (or ``(S,)`` unbatched) mask of key positions to ignore.
        need_weights: if ``True``, also return the attention weights. Default: ``True``.
        attn_mask: optional ``(L, S)`` or ``(N * num_heads, L, S)`` mask.
        use_separate_proj_weight: if ``True``, use ``q_proj_weight``, ``k_proj_weight`` and
            ``v_proj_weight`` instead of ``in_proj_weight``. Default: ``False``.
        q_proj_weight: the separate ``(E, E)`` query projection weight.
        k_proj_weight: the separate ``(E, Ek)`` key projection weight.
        v_proj_weight: the separate ``(E, Ev)`` value projection weight.
        static_k: optional precomputed keys of shape ``(N * num_heads, S, E // num_heads)`` used as is.
        static_v: optional precomputed values of shape ``(N * num_heads, S, E // num_heads)`` used as is.
        average_attn_weights: if ``True``, the returned weights are averaged over the heads.
            Default: ``True``.
        is_causal: a hint that ``attn_mask`` is the causal mask; ``attn_mask`` must still be given.
            Default: ``False``.

    Returns:
        A pair ``(output, weights)``. ``output`` is ``(L, N, E)`` (``(L, E)`` unbatched). ``weights`` is
        ``None`` unless ``need_weights``; then it is ``(N, L, S)`` when averaged or ``(N, num_heads, L, S)``
        otherwise (without the ``N`` dim when unbatched), where ``S`` includes any appended positions.
    """
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(f"query, key and value should all be 2-D (unbatched) or 3-D (batched) tensors, but "
                             f"received query of shape {list(query.shape)}, key of shape {list(key.shape)} and "
                             f"value of shape {list(value.shape)}")
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    if embed_dim % num_heads:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    head_dim = embed_dim // num_heads
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key shape {list(key.shape)} does not match value shape {list(value.shape)}")

    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (bsz, src_len):
        raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                             f"{tuple(key_padding_mask.shape)}")
    key_padding_mask = _float_mask(key_padding_mask, "key_padding_mask", query.dtype)
    attn_mask = _float_mask(attn_mask, "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint lets scaled_dot_product_attention build the causal mask itself
    else:
        is_causal = False

    # input projections
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    else:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight, k_proj_weight or "
                                 "v_proj_weight is None")
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    if query is key and key is value and not use_separate_proj_weight:
        # self-attention: one packed projection (a single GEMM over the stacked weight), then split
        q, k, v = _linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
    else:
        q = _linear(query, w_q, b_q)
        k = _linear(key, w_k, b_k)
        v = _linear(value, w_v, b_v)

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key or value.")
        k = ember.cat([k, bias_k.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)])
        v = ember.cat([v, bias_v.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)])
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    elif (bias_k is None) != (bias_v is None):
        raise AssertionError("bias_k and bias_v must both be given or both be None")

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    if static_k is None:
        k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        k = static_k
    if static_v is None:
        v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        v = static_v
    if add_zero_attn:
        k = ember.cat([k, ember.zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype, device=k.device)], 1)
        v = ember.cat([v, ember.zeros((bsz * num_heads, 1, head_dim), dtype=v.dtype, device=v.device)], 1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = ember.matmul(q * (1.0 / math.sqrt(head_dim)), k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = ember.softmax(scores, -1)
        if dropout_p > 0.0:
            weights = _dropout(weights, dropout_p)
        out = ember.matmul(weights, v)                                   # (N*H, L, hd)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = _linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        if attn_mask.shape[0] == 1:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = _linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not batched:
        out = out.squeeze(1)
    return out, None


def _pad_last(mask):
    """Append one 'may attend' column to a float mask."""
    if mask is None:
        return None
    from ember.ops.shape import constant_pad_nd as _pad_constant
    return _pad_constant(mask, (0, 1), 0)
