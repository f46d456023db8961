"""ember's random stream: the specification every backend's random kernels honour.

The same (seed, offset) gives the same numbers on every device. The words are 64-bit
outputs of Philox4x64-10 (numpy's ``Philox``) keyed by the seed, with its counter set to
``offset``; each counter step yields 4 words, and a generator advances its offset by the
steps a call consumed (``counter_steps``). A uniform float in [0, 1) is the top 53 bits
of a word scaled by 2**-53, truncated to the target dtype's significand so that rounding
can never reach 1 (``SIGNIFICAND_BITS``); normals come from Box-Muller on consecutive
pairs of uniforms. The functions below are the host reference: device kernels (CUDA C,
OpenCL C, MLX) must produce the same words and uniforms bit for bit, and normals to
within an ulp of float64.
"""
from __future__ import annotations

import numpy as np

#: significand bits kept for a uniform of each floating dtype (so it stays below 1)
SIGNIFICAND_BITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def philox_words(n: int, seed: int, offset: int) -> np.ndarray:
    """The ``n`` uint64 words of the stream ``seed`` starting at counter ``offset``."""
    gen = np.random.Philox(key=seed & 0xFFFFFFFFFFFFFFFF, counter=offset)
    return gen.random_raw(n)


def philox_uniform(shape, seed: int, offset: int) -> np.ndarray:
    """float64 uniforms in [0, 1) of ``shape``: the top 53 bits of each word times 2**-53."""
    n = int(np.prod(shape, dtype=np.int64))
    words = philox_words(n, seed, offset)
    return ((words >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)).reshape(shape)


def unit_uniform_for(u: np.ndarray, dtype_name: str) -> np.ndarray:
    """float64 uniforms in [0, 1) truncated to ``dtype_name``'s precision (still < 1)."""
    bits = SIGNIFICAND_BITS.get(dtype_name, 53)
    if bits >= 53:
        return u
    scale = float(2 ** bits)
    return np.floor(u * scale) / scale


def philox_normal(shape, seed: int, offset: int) -> np.ndarray:
    """float64 standard normals of ``shape`` by Box-Muller on consecutive pairs of uniforms."""
    n = int(np.prod(shape, dtype=np.int64))
    pairs = (n + 1) // 2
    u = philox_uniform((2 * pairs,), seed, offset)
    u1 = 1.0 - u[0::2]  # in (0, 1]: log is finite
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u[1::2]
    z = np.empty(2 * pairs)
    z[0::2] = radius * np.cos(angle)
    z[1::2] = radius * np.sin(angle)
    return z[:n].reshape(shape)


def counter_steps(numel: int, normal: bool) -> int:
    """How far a random op of ``numel`` values advances the offset (one step = 4 words)."""
    words = 2 * ((numel + 1) // 2) if normal else numel
    return (words + 3) // 4
