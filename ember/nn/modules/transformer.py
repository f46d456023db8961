"""MultiheadAttention and the Transformer family (encoder / decoder layers and stacks).

Parameter names follow PyTorch (``in_proj_weight``, ``in_proj_bias``, ``out_proj.weight``,
``self_attn.*``, ``linear1``, ``norm1``, ...), so state_dicts interoperate. Attention
projections start xavier_uniform_ with zero biases, as PyTorch documents.
"""
from __future__ import annotations

import copy

import ember
from ember.core import dtype as dt
from ember.nn import functional as F
from ember.nn import init
from ember.nn.modules.container import ModuleList
from ember.nn.modules.dropout import Dropout
from ember.nn.modules.linear import Linear, NonDynamicallyQuantizableLinear
from ember.nn.modules.module import Module
from ember.nn.modules.normalization import LayerNorm
from ember.nn.parameter import Parameter
from ember.ops.creation import empty

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
           "TransformerDecoder", "Transformer"]


class MultiheadAttention(Module):
    """Multi-head attention: the queries attend to the keys, and each head averages the values by those weights.

    Each of ``num_heads`` heads projects query, key and value to ``embed_dim // num_heads``
    features, computes ``softmax(q @ k.T / sqrt(head_dim) + mask) @ v``, and the heads'
    results are concatenated and projected by ``out_proj``. The input projections are in
    ``in_proj_weight`` ``(3 * embed_dim, embed_dim)`` (or ``q_proj_weight``, ``k_proj_weight``,
    ``v_proj_weight`` when ``kdim`` or ``vdim`` differ from ``embed_dim``) and start
    ``xavier_uniform_``; the projection biases start at 0, and ``bias_k`` / ``bias_v`` (with
    ``add_bias_kv``) as ``xavier_normal_``.

    Args:
        embed_dim: the number of features ``E`` of the query and of the output.
        num_heads: the number of heads; ``embed_dim`` must be divisible by it.
        dropout: the dropout probability on the attention weights, in training mode (default: 0).
        bias: if False, the input and output projections learn no bias.
        add_bias_kv: if True, learn ``bias_k`` and ``bias_v``, appended to the key and value
            sequences as one extra position.
        add_zero_attn: if True, append a position of zeros to the projected key and value
            sequences.
        kdim: the number of features of the key (default: ``embed_dim``).
        vdim: the number of features of the value (default: ``embed_dim``).
        batch_first: if True, batched inputs and output are ``(N, L, E)`` instead of ``(L, N, E)``.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        query ``(L, N, E)``, key ``(S, N, kdim)``, value ``(S, N, vdim)`` (batch first with
        ``batch_first``; or unbatched ``(L, E)``, ``(S, kdim)``, ``(S, vdim)``); output
        ``(L, N, E)`` and attention weights ``(N, L, S)`` (``(N, num_heads, L, S)`` when not
        averaged).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        factory = dict(device=device, dtype=dtype)
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(empty(embed_dim, embed_dim, **factory))
            self.k_proj_weight = Parameter(empty(embed_dim, self.kdim, **factory))
            self.v_proj_weight = Parameter(empty(embed_dim, self.vdim, **factory))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(empty(3 * embed_dim, embed_dim, **factory))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **factory)
        if add_bias_kv:
            self.bias_k = Parameter(empty(1, 1, embed_dim, **factory))
            self.bias_v = Parameter(empty(1, 1, embed_dim, **factory))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """Attend from ``query`` to ``key`` and combine ``value`` accordingly.

        ``bool`` masks mark the positions that may not be attended (True); float masks are added to the
        attention scores.

        Args:
            query: ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``) or unbatched ``(L, E)``.
            key: ``(S, N, kdim)`` (``(N, S, kdim)`` with ``batch_first``) or ``(S, kdim)``.
            value: ``(S, N, vdim)`` (``(N, S, vdim)`` with ``batch_first``) or ``(S, vdim)``.
            key_padding_mask: ``(N, S)`` (or ``(S,)`` unbatched): key positions to ignore, such as
                padding.
            need_weights: if True (default), also return the attention weights.
            attn_mask: ``(L, S)`` or ``(N * num_heads, L, S)``: query/key pairs that may not attend.
            average_attn_weights: if True (default), average the returned weights over the heads.
            is_causal: a hint that ``attn_mask`` is the causal mask; it requires ``attn_mask``.

        Returns:
            ``(attn_output, attn_weights)``: ``attn_output`` has the query's layout with ``E``
            features; ``attn_weights`` is ``(N, L, S)`` (``(N, num_heads, L, S)`` when not averaged,
            without ``N`` unbatched), or None when ``need_weights`` is False.
        """
        batched = query.ndim == 3
        if self.batch_first and batched:
            if query is key and key is value:  # self-attention stays recognisable (one packed projection)
                query = key = value = query.transpose(0, 1)
            else:
                query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        separate = not self._qkv_same_embed_dim
        out, weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=separate,
            q_proj_weight=self.q_proj_weight if separate else None,
            k_proj_weight=self.k_proj_weight if separate else None,
            v_proj_weight=self.v_proj_weight if separate else None,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and batched:
            out = out.transpose(0, 1)
        return out, weights


MultiheadAttention.__module__ = "ember.nn.modules.activation"  # PyTorch's path, so pickles name it there


def _activation(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _get_seq_len(src, batch_first):
    """The sequence length of ``src``: ``(S, E)``, ``(S, N, E)`` or, with ``batch_first``, ``(N, S, E)``."""
    if src.ndim == 2:
        return src.shape[0]
    return src.shape[1 if batch_first else 0]


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """The ``is_causal`` hint as PyTorch's encoder and decoder stacks pass it to their layers.

    ``True`` only for ``is_causal is True``; with ``is_causal=None`` it is True when ``mask`` is
    exactly the ``(size, size)`` causal mask of its dtype (``generate_square_subsequent_mask``,
    or its bool form, True above the diagonal).
    """
    make_causal = is_causal is True
    if is_causal is None and mask is not None:
        sz = size if size is not None else mask.shape[-2]
        if tuple(mask.shape) != (sz, sz) or not (mask.dtype.is_floating_point or mask.dtype is dt.bool_):
            return False
        if mask.dtype is dt.bool_:  # PyTorch's full(-inf) cast to bool: True above the diagonal
            causal = ember.triu(ember.ones((sz, sz), dtype=dt.bool_, device=mask.device), diagonal=1)
        else:
            causal = ember.triu(ember.full((sz, sz), float("-inf"), dtype=mask.dtype, device=mask.device),
                                diagonal=1)
        make_causal = bool((mask == causal).all())
    return make_causal


class TransformerEncoderLayer(Module):
    """One transformer encoder layer: self-attention, then a feed-forward block.

    Each block (``self_attn``; ``linear1`` -> activation -> ``linear2``) is followed by dropout
    and added to its input (a residual connection), with layer normalization after the sum
    or, with ``norm_first``, before the block.

    Args:
        d_model: the number of features ``E`` of every input and output position.
        nhead: the number of attention heads; ``d_model`` must be divisible by it.
        dim_feedforward: the hidden size of the feed-forward block (default: 2048).
        dropout: the dropout probability used after the attention and feed-forward blocks,
            inside the feed-forward block and on the attention weights (default: 0.1).
        activation: the feed-forward activation: ``'relu'``, ``'gelu'`` or a callable
            (default: ``F.relu``).
        layer_norm_eps: the ``eps`` of the layer norms (default: 1e-5).
        batch_first: if True, inputs and outputs are ``(N, L, E)`` instead of ``(L, N, E)``.
        norm_first: if True, each block normalizes its input (pre-norm); if False (default),
            the layer norm follows each residual sum (post-norm).
        bias: if False, the linear layers, the attention projections and the layer norms learn
            no bias.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        src ``(S, N, E)`` (``(N, S, E)`` with ``batch_first``) or ``(S, E)``; output of the same shape.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        factory = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """Run the layer on ``src``.

        ``bool`` masks mark the positions that may not be attended (True); float masks are added to the
        attention scores.

        Args:
            src: the input sequence, ``(S, N, E)`` (``(N, S, E)`` with ``batch_first``) or ``(S, E)``.
            src_mask: ``(S, S)`` or ``(N * nhead, S, S)``: the self-attention mask.
            src_key_padding_mask: ``(N, S)``: the positions of ``src`` to ignore.
            is_causal: a hint that ``src_mask`` is the causal mask (it requires ``src_mask``).

        Returns:
            A tensor of the same shape as ``src``.
        """
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerDecoderLayer(Module):
    """One transformer decoder layer: self-attention, attention over the encoder output, then a feed-forward block.

    Each block (``self_attn``; ``multihead_attn`` with the memory as key and value;
    ``linear1`` -> activation -> ``linear2``) is followed by dropout and added to its input,
    with layer normalization after the sum or, with ``norm_first``, before the block.

    Args:
        d_model: the number of features ``E`` of every input and output position.
        nhead: the number of attention heads; ``d_model`` must be divisible by it.
        dim_feedforward: the hidden size of the feed-forward block (default: 2048).
        dropout: the dropout probability used after the attention and feed-forward blocks,
            inside the feed-forward block and on the attention weights (default: 0.1).
        activation: the feed-forward activation: ``'relu'``, ``'gelu'`` or a callable
            (default: ``F.relu``).
        layer_norm_eps: the ``eps`` of the layer norms (default: 1e-5).
        batch_first: if True, inputs and outputs are ``(N, L, E)`` instead of ``(L, N, E)``.
        norm_first: if True, each block normalizes its input (pre-norm); if False (default),
            the layer norm follows each residual sum (post-norm).
        bias: if False, the linear layers, the attention projections and the layer norms learn
            no bias.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        tgt ``(T, N, E)`` and memory ``(S, N, E)`` (batch first with ``batch_first``; or
        unbatched ``(T, E)`` and ``(S, E)``); output of ``tgt``'s shape.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        factory = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **factory)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """Run the layer on ``tgt``, attending to ``memory``.

        ``bool`` masks mark the positions that may not be attended (True); float masks are added to the
        attention scores.

        Args:
            tgt: the target sequence, ``(T, N, E)`` (``(N, T, E)`` with ``batch_first``) or ``(T, E)``.
            memory: the encoder output, ``(S, N, E)`` (``(N, S, E)`` with ``batch_first``) or ``(S, E)``.
            tgt_mask: ``(T, T)`` or ``(N * nhead, T, T)``: the self-attention mask.
            memory_mask: ``(T, S)`` or ``(N * nhead, T, S)``: the mask of the attention over ``memory``.
            tgt_key_padding_mask: ``(N, T)``: the positions of ``tgt`` to ignore.
            memory_key_padding_mask: ``(N, S)``: the positions of ``memory`` to ignore.
            tgt_is_causal: a hint that ``tgt_mask`` is the causal mask (it requires ``tgt_mask``).
            memory_is_causal: a hint that ``memory_mask`` is causal (it requires ``memory_mask``).

        Returns:
            A tensor of the same shape as ``tgt``.
        """
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` encoder layers, each a deep copy of ``encoder_layer``, then an optional norm.

    Args:
        encoder_layer: the layer to copy (usually a ``TransformerEncoderLayer``); the copies
            do not share parameters.
        num_layers: the number of layers.
        norm: a module applied to the output of the last layer, such as a ``LayerNorm``
            (default: None).
        enable_nested_tensor: stored as False whatever is passed (ember has no nested tensors).
        mask_check: stored on the module.

    Shape:
        src ``(S, N, E)`` (``(N, S, E)`` for batch-first layers) or ``(S, E)``; output of the same shape.
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = False  # ember has no nested tensors; kept for code that reads it
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """Run every layer in turn on ``src``, then the final norm.

        Args:
            src: the input sequence, shaped as the layers expect.
            mask: the self-attention mask passed to every layer as ``src_mask``.
            src_key_padding_mask: ``(N, S)``: the positions of ``src`` to ignore, passed to every layer.
            is_causal: a hint that ``mask`` is the causal mask, passed to every layer. ``None``
                (default) detects it: True when ``mask`` is the ``(S, S)`` causal mask
                (``generate_square_subsequent_mask(S)`` or its bool form); only ``True`` itself
                counts as True.

        Returns:
            A tensor of the same shape as ``src``.
        """
        output = src
        seq_len = _get_seq_len(src, self.layers[0].self_attn.batch_first)
        is_causal = _detect_is_causal_mask(mask, is_causal, seq_len)
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """A stack of ``num_layers`` decoder layers, each a deep copy of ``decoder_layer``, then an optional norm.

    Args:
        decoder_layer: the layer to copy (usually a ``TransformerDecoderLayer``); the copies
            do not share parameters.
        num_layers: the number of layers.
        norm: a module applied to the output of the last layer, such as a ``LayerNorm``
            (default: None).

    Shape:
        tgt ``(T, N, E)`` and memory ``(S, N, E)`` (batch first for batch-first layers);
        output of ``tgt``'s shape.
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """Run every layer in turn on ``tgt`` (each attending to ``memory``), then the final norm.

        Args:
            tgt: the target sequence, shaped as the layers expect.
            memory: the encoder output.
            tgt_mask: the self-attention mask, passed to every layer.
            memory_mask: the mask of the attention over ``memory``, passed to every layer.
            tgt_key_padding_mask: ``(N, T)``: the positions of ``tgt`` to ignore.
            memory_key_padding_mask: ``(N, S)``: the positions of ``memory`` to ignore.
            tgt_is_causal: a hint that ``tgt_mask`` is the causal mask, passed to every layer.
                ``None`` (default) detects it: True when ``tgt_mask`` is the ``(T, T)`` causal mask
                (``generate_square_subsequent_mask(T)`` or its bool form); only ``True`` itself
                counts as True.
            memory_is_causal: passed to every layer: a hint that ``memory_mask`` is causal.

        Returns:
            A tensor of the same shape as ``tgt``.
        """
        output = tgt
        seq_len = _get_seq_len(tgt, self.layers[0].self_attn.batch_first)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, seq_len)
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                           memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """An encoder-decoder transformer model.

    The encoder stacks ``num_encoder_layers`` copies of a ``TransformerEncoderLayer`` and a
    final ``LayerNorm``; the decoder stacks ``num_decoder_layers`` copies of a
    ``TransformerDecoderLayer`` and a final ``LayerNorm``. After construction every parameter
    with more than one dimension (custom encoder and decoder included) is re-drawn with
    ``xavier_uniform_``.

    Args:
        d_model: the number of features ``E`` of every position (default: 512).
        nhead: the number of attention heads (default: 8).
        num_encoder_layers: the number of encoder layers (default: 6).
        num_decoder_layers: the number of decoder layers (default: 6).
        dim_feedforward: the hidden size of the feed-forward blocks (default: 2048).
        dropout: the dropout probability (default: 0.1).
        activation: the feed-forward activation: ``'relu'``, ``'gelu'`` or a callable
            (default: ``F.relu``).
        custom_encoder: a module to use as the encoder instead of building one.
        custom_decoder: a module to use as the decoder instead of building one.
        layer_norm_eps: the ``eps`` of the layer norms (default: 1e-5).
        batch_first: if True, inputs and output are ``(N, L, E)`` instead of ``(L, N, E)``.
        norm_first: if True, the layers normalize before each block (pre-norm).
        bias: if False, the linear layers, attention projections and layer norms learn no bias.
        device: where the parameters are created.
        dtype: the parameters' dtype (default: ``ember.get_default_dtype()``).

    Shape:
        src ``(S, N, E)`` and tgt ``(T, N, E)`` (batch first with ``batch_first``; or unbatched
        ``(S, E)`` and ``(T, E)``); output ``(T, N, E)``, the layout of ``tgt``.
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation=F.relu, custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        factory = dict(device=device, dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias, **factory)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias, **factory)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self):
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """Encode ``src``, then decode ``tgt`` attending to the encoded memory.

        ``bool`` masks mark the positions that may not be attended (True); float masks are added to the
        attention scores.

        Args:
            src: the source sequence, ``(S, N, E)`` (``(N, S, E)`` with ``batch_first``) or ``(S, E)``.
            tgt: the target sequence, ``(T, N, E)`` (``(N, T, E)`` with ``batch_first``) or ``(T, E)``;
                its batch size must match ``src``'s.
            src_mask: ``(S, S)`` or ``(N * nhead, S, S)``: the encoder self-attention mask.
            tgt_mask: ``(T, T)`` or ``(N * nhead, T, T)``: the decoder self-attention mask, such as
                ``generate_square_subsequent_mask(T)``.
            memory_mask: ``(T, S)`` or ``(N * nhead, T, S)``: the mask of the decoder's attention over
                the memory.
            src_key_padding_mask: ``(N, S)``: the positions of ``src`` to ignore.
            tgt_key_padding_mask: ``(N, T)``: the positions of ``tgt`` to ignore.
            memory_key_padding_mask: ``(N, S)``: the memory positions to ignore.
            src_is_causal: a hint that ``src_mask`` is the causal mask; ``None`` (default) detects it
                (see ``TransformerEncoder.forward``).
            tgt_is_causal: a hint that ``tgt_mask`` is the causal mask; ``None`` (default) detects it
                (see ``TransformerDecoder.forward``).
            memory_is_causal: a hint that ``memory_mask`` is causal.

        Returns:
            A tensor of shape ``(T, N, E)`` (``(N, T, E)`` with ``batch_first``) or ``(T, E)``.
        """
        batched = src.ndim == 3
        if not self.batch_first and src.shape[1] != tgt.shape[1] and batched:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if self.batch_first and src.shape[0] != tgt.shape[0] and batched:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """Return a causal mask: position ``i`` may attend to positions ``j <= i`` only.

        Args:
            sz: the sequence length.
            device: where the mask is created.
            dtype: its floating dtype (default: ``ember.get_default_dtype()``).

        Returns:
            A float ``(sz, sz)`` tensor: 0 on and below the diagonal, ``-inf`` above.
        """
        return ember.triu(ember.full((sz, sz), float("-inf"), dtype=dtype or dt.get_default_dtype(),
                                     device=device), diagonal=1)
