"""``hash_tensor``: an xor reduction of the elements' 64-bit patterns, as PyTorch 2.13's.

A composite: the input is widened (floats to float64, integers and bool to int64), reinterpreted
as uint64 and xor-folded in halves along each reduced dim, so it runs on every backend with uint64.
"""
from __future__ import annotations

from ember.core import dtype as dt
from ember.core.call import backend_of
from ember.core.tensor import Tensor
from ember.dispatch.meta import normalize_dims
from ember.ops.public import public


@public(method=True, out=True)
def hash_tensor(input, dim=None, *, keepdim=False, mode=0):
    """A uint64 hash of the elements of ``input`` (all of them, or along ``dim``): the xor of their bit patterns.

    Args:
        input: the tensor; floating types are widened to float64, integer and bool ones to int64, then each
            element's 64 bits are read as a uint64.
        dim: an int or a tuple of ints, the dims to reduce; None (default) or ``()`` reduces all of them.
        keepdim: whether the reduced dims stay, with size 1.
        mode: the hash; only 0 (xor reduction) exists.

    Returns:
        A uint64 tensor of ``input``'s shape without the reduced dims (size 1 with ``keepdim``).

    Raises:
        RuntimeError: ``mode`` is not 0, or ``input`` is empty and ``dim`` is None.
        IndexError: a reduced dim is out of range or has size 0.
        NotImplementedError: complex, uint64, float8 and float4 inputs, as in PyTorch 2.13 (uint16 and uint32,
            which PyTorch 2.13 refuses too, hash as their int64 values).
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"hash_tensor(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if mode != 0:
        raise RuntimeError(f"Unknown hash_tensor mode: {mode}")
    d = input.dtype
    if d.category == dt.COMPLEX or d is dt.uint64 or d._ops is not None:
        raise NotImplementedError(f"\"xor_sum_{input.device.type}\" not implemented for '{dt._CPP_NAMES[d]}'")
    shape = tuple(input.shape)
    if dim is None and input.numel() == 0:
        raise RuntimeError("hash_tensor: Expected reduction dim to be specified for input.numel() == 0. "
                           "Specify the reduction dim with the 'dim' argument.")
    dims = normalize_dims(dim, len(shape))
    for k in dims:
        if shape[k] == 0:
            raise IndexError(f"hash_tensor: Expected reduction dim {k} to have non-zero size.")
    if d.category == dt.FLOAT and dt.float64 not in backend_of(input.device.type).supported_dtypes(input.device.index):
        # (mps: no float64 to widen into) the bits are computed on the CPU, the hash comes back
        return hash_tensor(input.detach().cpu(), dim, keepdim=keepdim).to(input.device)
    wide = input.to(dt.float64 if d.category == dt.FLOAT else dt.int64)
    bits = wide.view(dt.uint64) if wide.dim() else wide.reshape(1).view(dt.uint64).reshape(())
    for k in dims:
        bits = _xor_fold(bits, k)
    if not keepdim:
        for k in sorted(dims, reverse=True):
            bits = bits.squeeze(k)
    return bits.clone() if bits._base is not None else bits


def _xor_fold(bits, k):
    """xor-reduce dim ``k`` to size 1 in log2(n) steps: halves xor-ed together, an odd last slice into the first."""
    while bits.shape[k] > 1:
        n = bits.shape[k]
        half = n // 2
        folded = bits.narrow(k, 0, half) ^ bits.narrow(k, half, half)
        if n % 2:
            from ember.ops.shape import cat
            head = folded.narrow(k, 0, 1) ^ bits.narrow(k, n - 1, 1)
            folded = cat([head, folded.narrow(k, 1, half - 1)], k) if half > 1 else head
        bits = folded
    return bits
