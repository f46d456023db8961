"""Embedding and EmbeddingBag: lookup tables of vectors indexed by integers."""
from __future__ import annotations

from ember.core.autograd import no_grad
from ember.nn import functional as F
from ember.nn import init
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.ops.creation import empty

__all__ = ["Embedding", "EmbeddingBag"]


def _padding_index(padding_idx, num_embeddings):
    if padding_idx is None:
        return None
    if padding_idx > 0 and padding_idx >= num_embeddings:
        raise AssertionError(f"Padding_idx must be within num_embeddings ({num_embeddings}), got {padding_idx}")
    if padding_idx < 0:
        if padding_idx < -num_embeddings:
            raise AssertionError(f"Padding_idx must be within num_embeddings ({num_embeddings}), got {padding_idx}")
        padding_idx += num_embeddings
    return padding_idx


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``, indexed by integers.

    ``weight`` has shape ``(num_embeddings, embedding_dim)`` and starts as N(0, 1), with the
    ``padding_idx`` row (if any) set to zeros.

    Args:
        num_embeddings: the number of rows of the table.
        embedding_dim: the size of each vector.
        padding_idx: a row that receives no gradient, so it keeps its value (zeros unless
            changed); a negative index counts from the end (default: None).
        max_norm: if given, every row looked up whose ``norm_type``-norm exceeds ``max_norm`` is
            rescaled in place (in ``weight``) to that norm.
        norm_type: the p of the p-norm used with ``max_norm`` (default: 2).
        scale_grad_by_freq: if True, the gradient of each row is divided by how often its index
            appears in the input.
        sparse: if True, the gradient of ``weight`` is a sparse COO tensor of the rows looked up.
        _weight: an existing ``(num_embeddings, embedding_dim)`` tensor to wrap as ``weight``
            instead of drawing one (used by ``from_pretrained``).
        _freeze: if True, ``weight`` does not require a gradient.
        device: where the weight is created.
        dtype: the weight's dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(*)`` of integer indices, output ``(*, embedding_dim)``.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight=None, _freeze: bool = False, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim, device=device, dtype=dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise AssertionError(f"Shape of weight {list(_weight.shape)} does not match num_embeddings and "
                                     f"embedding_dim ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        """Re-draw ``weight`` from N(0, 1) (in place) and zero the ``padding_idx`` row."""
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input):
        """Look up the rows of ``weight`` named by ``input``.

        Args:
            input: an integer tensor of indices in ``[0, num_embeddings)``, of any shape.

        Returns:
            A tensor of shape ``input.shape + (embedding_dim,)``.
        """
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        """Show the table size and the settings that differ from their defaults."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, max_norm=None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False):
        """Create an ``Embedding`` whose weight is the given 2-D tensor.

        Args:
            embeddings: a ``(num_embeddings, embedding_dim)`` tensor; the weight shares its memory.
            freeze: if True (default), the weight does not require a gradient.
            padding_idx: as in the constructor.
            max_norm: as in the constructor.
            norm_type: as in the constructor.
            scale_grad_by_freq: as in the constructor.
            sparse: as in the constructor.

        Returns:
            The new ``Embedding``.
        """
        if embeddings.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(rows, cols, _weight=embeddings, _freeze=freeze, padding_idx=padding_idx, max_norm=max_norm,
                   norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


class EmbeddingBag(Module):
    """Reduces bags of embedding rows to one vector each: their sum, mean or maximum.

    ``weight`` has shape ``(num_embeddings, embedding_dim)`` and starts as N(0, 1), with the
    ``padding_idx`` row (if any) set to zeros. The result equals ``Embedding`` followed by a
    reduction over each bag.

    Args:
        num_embeddings: the number of rows of the table.
        embedding_dim: the size of each vector.
        max_norm: if given, every row looked up whose ``norm_type``-norm exceeds ``max_norm`` is
            rescaled in place (in ``weight``) to that norm.
        norm_type: the p of the p-norm used with ``max_norm`` (default: 2).
        scale_grad_by_freq: if True, the gradient of each row is divided by how often its index
            appears in the input.
        mode: ``'sum'``, ``'mean'`` (default) or ``'max'``: how each bag is reduced.
        sparse: if True, the gradient of ``weight`` is a sparse COO tensor of the rows used (not with
            ``mode='max'``).
        _weight: an existing ``(num_embeddings, embedding_dim)`` tensor to wrap as ``weight``
            instead of drawing one (used by ``from_pretrained``).
        include_last_offset: if True, ``offsets`` has one more element than there are bags: the
            end of the last bag.
        padding_idx: entries equal to this index are left out of their bag (a bag left empty
            gives zeros); a negative index counts from the end (default: None).
        device: where the weight is created.
        dtype: the weight's dtype (default: ``ember.get_default_dtype()``).

    Shape:
        input ``(B, n)`` (B bags of n indices) or ``(total,)`` with ``offsets`` ``(B,)``
        (``(B + 1,)`` with ``include_last_offset``); output ``(B, embedding_dim)``.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm=None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False, _weight=None,
                 include_last_offset: bool = False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.padding_idx = _padding_index(padding_idx, num_embeddings)
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim, device=device, dtype=dtype))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise AssertionError(f"Shape of weight {list(_weight.shape)} does not match num_embeddings and "
                                     f"embedding_dim ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(_weight)
        self.mode = mode
        self.sparse = sparse
        self.include_last_offset = include_last_offset

    def reset_parameters(self) -> None:
        """Re-draw ``weight`` from N(0, 1) (in place) and zero the ``padding_idx`` row."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input, offsets=None, per_sample_weights=None):
        """Reduce each bag of indices in ``input`` to one vector.

        Args:
            input: an integer tensor: ``(B, n)`` for B bags of the same length, or 1-D with the
                bags concatenated.
            offsets: for 1-D ``input`` only: the start of each bag in ``input``, a 1-D tensor.
            per_sample_weights: a float tensor of ``input``'s shape multiplying each looked-up row
                before the reduction; only with ``mode='sum'``.

        Returns:
            A tensor of shape ``(B, embedding_dim)``; an empty bag gives zeros.
        """
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                               self.mode, self.sparse, per_sample_weights, self.include_last_offset,
                               self.padding_idx)

    def extra_repr(self) -> str:
        """Show the table size, ``mode`` and the settings that differ from their defaults."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, max_norm=None, norm_type: float = 2.0,
                        scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                        include_last_offset: bool = False, padding_idx=None):
        """Create an ``EmbeddingBag`` whose weight is the given 2-D tensor.

        Args:
            embeddings: a ``(num_embeddings, embedding_dim)`` tensor; the weight shares its memory.
            freeze: if True (default), the weight does not require a gradient.
            max_norm: as in the constructor.
            norm_type: as in the constructor.
            scale_grad_by_freq: as in the constructor.
            mode: as in the constructor.
            sparse: as in the constructor.
            include_last_offset: as in the constructor.
            padding_idx: as in the constructor.

        Returns:
            The new ``EmbeddingBag``.
        """
        if embeddings.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm=max_norm, norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq,
                  mode=mode, sparse=sparse, _weight=embeddings, include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag
