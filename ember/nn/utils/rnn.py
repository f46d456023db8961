"""Variable-length sequences: padding, packing and the ``PackedSequence`` the recurrent layers accept.

A packed sequence stores a batch of sequences sorted by decreasing length, time step by
time step: ``data`` holds, for each step ``t``, the ``batch_sizes[t]`` sequences still running
at that step. Packing and unpacking are one ``index_select`` each over the flattened
padded tensor, so they run on every device and gradients flow back to the inputs.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember.core import dtype as dt
from ember.core.tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _ops():
    # the ops layer, imported on use to keep this module cheap to import from nn.modules
    import ember
    return ember


def invert_permutation(permutation):
    """Return the inverse of a permutation of ``0..n-1``.

    Args:
        permutation: a 1-D integer tensor holding a permutation, or None.

    Returns:
        The tensor ``inv`` with ``inv[permutation[i]] == i`` (on the same device), or None.
    """
    if permutation is None:
        return None
    return _ops().argsort(permutation)


class PackedSequence(namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A batch of variable-length sequences packed time step by time step.

    Build one with ``pack_padded_sequence`` or ``pack_sequence`` rather than by hand. It is a
    named tuple ``(data, batch_sizes, sorted_indices, unsorted_indices)``.

    Args:
        data: the packed steps, ``(sum(lengths), *)``.
        batch_sizes: a 1-D int64 CPU tensor, the number of sequences running at each step.
        sorted_indices: the permutation that sorted the batch by decreasing length (None if it
            was already sorted).
        unsorted_indices: its inverse; computed from ``sorted_indices`` when None.

    Returns:
        The packed sequence.
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:    # the legacy form PackedSequence((data, batch_sizes))
            data, batch_sizes = data[0], data[1]
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """Return the packed sequence with ``data`` converted as ``Tensor.to`` would.

        The indices follow ``data`` to its device; ``batch_sizes`` stays on the CPU.

        Args:
            *args: as ``Tensor.to`` (a device, a dtype, or both).
            **kwargs: as ``Tensor.to``.

        Returns:
            ``self`` when ``data`` does not change, else a new ``PackedSequence``.
        """
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = lambda t: None if t is None else t.to(data.device)  # noqa: E731
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cuda(self, *args, **kwargs):
        """Return a copy with ``data`` on a CUDA device (as ``Tensor.cuda``).

        Args:
            *args: as ``Tensor.cuda``.
            **kwargs: as ``Tensor.cuda``.

        Returns:
            The moved packed sequence.
        """
        data = self.data.cuda(*args, **kwargs)
        return self.to(data.device)

    def cpu(self, *args, **kwargs):
        """Return a copy with ``data`` on the CPU.

        Args:
            *args: as ``Tensor.cpu``.
            **kwargs: as ``Tensor.cpu``.

        Returns:
            The moved packed sequence.
        """
        return self.to("cpu")

    @property
    def is_cuda(self):
        """Whether ``data`` is on a CUDA device."""
        return self.data.is_cuda

    def is_pinned(self):
        """Whether ``data`` is in pinned host memory.

        Returns:
            ``data.is_pinned()``.
        """
        return self.data.is_pinned()

    def pin_memory(self):
        """Return a copy with ``data`` in pinned host memory.

        Returns:
            The packed sequence with pinned ``data``.
        """
        return type(self)(self.data.pin_memory(), self.batch_sizes, self.sorted_indices, self.unsorted_indices)


# ---------------------------------------------------------------- helpers
def _cast_method(name, dtype):
    def cast(self):
        return self.to(dtype=dtype)
    cast.__name__ = cast.__qualname__ = name
    cast.__doc__ = f"Return the packed sequence with {dtype.name} ``data``."
    return cast


# the Tensor-like dtype conversions (.double(), .float(), ..., .bool()) of PackedSequence
for _name, _dtype in (("double", dt.float64), ("float", dt.float32), ("half", dt.float16), ("long", dt.int64),
                      ("int", dt.int32), ("short", dt.int16), ("char", dt.int8), ("byte", dt.uint8),
                      ("bool", dt.bool_)):
    setattr(PackedSequence, _name, _cast_method(_name, _dtype))
del _name, _dtype


def _lengths_list(lengths):
    """``lengths`` (a sequence or a 1-D CPU integer tensor) as a list of ints, checked as PyTorch does."""
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1 or lengths.device.type != "cpu":
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.ndim}D "
                               f"{lengths.device.type} {str(lengths.dtype).split('.')[-1]} tensor")
        return [int(v) for v in lengths.tolist()]
    return [int(v) for v in lengths]


def _batch_sizes(lengths):
    """Number of sequences still running at each step, for lengths sorted in decreasing order."""
    lengths = np.asarray(lengths, dtype=np.int64)
    steps = np.arange(int(lengths[0]))
    return (lengths[None, :] > steps[:, None]).sum(1)


def _index(values, device):
    return _ops().as_tensor(np.asarray(values, dtype=np.int64), device=device)


# ---------------------------------------------------------------- packing
def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True) -> PackedSequence:
    """Pack a padded batch of variable-length sequences.

    Args:
        input: the padded batch, ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``).
        lengths: the length of each sequence, a list of ints or a 1-D CPU integer tensor; every
            length must be at least 1 and at most ``T``.
        batch_first: whether ``input`` has the batch dimension first.
        enforce_sorted: if True, ``lengths`` must be in decreasing order (else ``RuntimeError``); if
            False the batch is sorted here and ``sorted_indices`` records how.

    Returns:
        A ``PackedSequence``.
    """
    lengths = _lengths_list(lengths)
    batch_dim = 0 if batch_first else 1
    sorted_indices = None
    if not enforce_sorted:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        lengths = [lengths[i] for i in order]
        sorted_indices = _index(order, input.device)
        input = input.index_select(batch_dim, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    if len(lengths) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} "
                           f"(batch_size={batch})")
    if not lengths or min(lengths) <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if any(a < b for a, b in zip(lengths, lengths[1:])):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                           "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                           "sidestep this requirement if you do not need ONNX exportability.")
    if lengths[0] > steps:
        raise RuntimeError(f"Expected sequence length to be larger than or equal to {lengths[0]}, but got "
                           f"{steps} (the longest length exceeds the padded input)")
    sizes = _batch_sizes(lengths)
    # row t * B + b of the flattened input for every running (t, b), step by step
    rows = np.concatenate([t * batch + np.arange(n) for t, n in enumerate(sizes)])
    flat = input.reshape((steps * batch,) + tuple(input.shape[2:]))
    data = flat.index_select(0, _index(rows, input.device))
    batch_sizes = _ops().as_tensor(sizes, dtype=dt.int64, device="cpu")
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo ``pack_padded_sequence``: pad a packed batch back into one tensor.

    Args:
        sequence: a ``PackedSequence``.
        batch_first: if True the result is ``(B, T, *)``, else ``(T, B, *)``.
        padding_value: the value of the padded positions.
        total_length: if given, pad to this many steps; it must be at least the longest length
            (else ``ValueError``).

    Returns:
        ``(padded, lengths)``: the padded tensor in the batch's original order and the lengths, a
        1-D int64 CPU tensor in that order.
    """
    ember = _ops()
    data, batch_sizes = sequence.data, [int(v) for v in sequence.batch_sizes.tolist()]
    steps, batch = len(batch_sizes), batch_sizes[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
    else:
        total_length = steps
    # each (t, b) takes its packed row, or the extra padding row appended at the end
    rows = np.full((total_length, batch), data.shape[0], dtype=np.int64)
    offset = 0
    for t, n in enumerate(batch_sizes):
        rows[t, :n] = offset + np.arange(n)
        offset += n
    trailing = tuple(data.shape[1:])
    pad_row = ember.full((1,) + trailing, padding_value, dtype=data.dtype, device=data.device)
    padded = ember.cat([data, pad_row]).index_select(0, _index(rows.reshape(-1), data.device))
    padded = padded.reshape((total_length, batch) + trailing)
    lengths = (np.asarray(batch_sizes)[None, :] > np.arange(batch)[:, None]).sum(1)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[np.asarray(sequence.unsorted_indices.tolist(), dtype=np.int64)]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, ember.as_tensor(lengths, dtype=dt.int64, device="cpu")


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack variable-length sequences into one tensor, padding the short ones.

    Args:
        sequences: a list of tensors ``(L_i, *)`` with the same trailing dimensions (a tensor is
            split along its first dimension).
        batch_first: if True the result is ``(B, max L, *)``, else ``(max L, B, *)``.
        padding_value: the value of the padded positions.
        padding_side: ``'right'`` (pad after each sequence) or ``'left'`` (pad before it).

    Returns:
        The padded batch.
    """
    ember = _ops()
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    trailing = tuple(sequences[0].shape[1:])
    for s in sequences[1:]:
        if tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"The size of the sequences' trailing dimensions must match: got "
                               f"{list(trailing)} and {list(s.shape[1:])}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        missing = longest - s.shape[0]
        if missing:
            pad = ember.full((missing,) + trailing, padding_value, dtype=s.dtype, device=s.device)
            s = ember.cat([s, pad] if padding_side == "right" else [pad, s])
        padded.append(s)
    return ember.stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into its sequences.

    Args:
        padded_sequences: the padded batch, ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``).
        lengths: the length of each sequence (a list or a 1-D tensor).
        batch_first: whether the batch dimension comes first.

    Returns:
        A list of ``B`` tensors, the ``i``-th of shape ``(lengths[i], *)``.
    """
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lengths = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(lengths)]


def pack_sequence(sequences, enforce_sorted=True) -> PackedSequence:
    """Pack a list of variable-length sequences (``pad_sequence`` then ``pack_padded_sequence``).

    Args:
        sequences: a list of tensors ``(L_i, *)``.
        enforce_sorted: if True the sequences must come in decreasing length; if False they are
            sorted here.

    Returns:
        A ``PackedSequence``.
    """
    lengths = [int(s.shape[0]) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """Split a ``PackedSequence`` into its sequences, in the original order.

    Args:
        packed_sequences: a ``PackedSequence``.

    Returns:
        The list of sequences ``(L_i, *)``.
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
