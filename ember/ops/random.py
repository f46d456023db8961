"""Random numbers: Generators and the sampling functions.

All devices draw from ember's Philox stream (specified in ``ember.dispatch.philox``): a generator is
a (seed, offset) pair, and each call advances the offset by what it consumed, so the
same seed gives the same numbers on every device.
"""
from __future__ import annotations

import math
import time

from ember.core import dtype as dt
from ember.core.info import iinfo
from ember.core.tensor import Tensor
from ember.dispatch.philox import counter_steps
from ember.dispatch.keys import ACTIVE, BATCHED, BATCHED_HOOKS
from ember.dispatch.tracing import recorded
from ember.ops.creation import _resolve_dtype, as_shape, canonical_device, create
from ember.ops.public import public

_DEFAULT_SEED = 67280421310721


@public
class Generator:
    """A source of random numbers: a seed and a position (offset) in ember's Philox stream.

    Every sampling function takes ``generator=`` to draw from one instead of
    ``ember.default_generator``. Each call moves the offset past the numbers it used, so a
    generator seeded the same way gives the same sequence of results, on every device.

    Args:
        device: the device the generator is meant for (default: ``"cpu"``). The numbers do
            not depend on it.

    Attributes:
        device: the generator's device, as an ``ember.device``.
    """

    def __init__(self, device="cpu"):
        self.device = canonical_device(device)
        self._seed = _DEFAULT_SEED
        self._offset = 0

    def manual_seed(self, seed) -> "Generator":
        """Seed the generator and rewind it to the start of that seed's stream.

        Args:
            seed: an int from ``-2**63`` to ``2**64 - 1``; negative seeds are taken modulo ``2**64``.

        Returns:
            The generator itself.

        Raises:
            RuntimeError: if ``seed`` does not fit in 64 bits.
        """
        seed = int(seed)
        if not -0x8000_0000_0000_0000 <= seed <= 0xFFFF_FFFF_FFFF_FFFF:
            raise RuntimeError(f"Overflow when unpacking long: seed {seed} does not fit in 64 bits")
        self._seed = seed & 0xFFFF_FFFF_FFFF_FFFF
        self._offset = 0
        return self

    def seed(self) -> int:
        """Seed the generator from the clock (a non-deterministic seed) and rewind it.

        Returns:
            The new seed.
        """
        self.manual_seed(time.time_ns() & 0xFFFF_FFFF_FFFF)
        return self._seed

    def initial_seed(self) -> int:
        """The seed the generator was last seeded with.

        Returns:
            The seed, an int in ``[0, 2**64)``.
        """
        return self._seed

    def get_state(self) -> Tensor:
        """A snapshot of the generator's state, to restore later with ``set_state``.

        Returns:
            A CPU ``int64`` tensor of three values: the seed (as two parts) and the offset.
        """
        from ember.ops.creation import tensor
        return tensor([self._seed & 0x7FFF_FFFF_FFFF_FFFF, self._seed >> 63, self._offset], dtype=dt.int64)

    def set_state(self, state: Tensor) -> "Generator":
        """Restore a state returned by ``get_state``; the generator then continues from there.

        Args:
            state: a tensor from ``get_state()`` (of this or another generator).

        Returns:
            The generator itself.
        """
        low, high, offset = state.tolist()
        self._seed = low | (high << 63)
        self._offset = offset
        return self

    def _take(self, numel: int, normal: bool):
        start = self._offset
        self._offset += counter_steps(numel, normal)
        return self._seed, start


default_generator = public(Generator(), name="default_generator")


@public
def manual_seed(seed) -> Generator:
    """Seed the default generator, so the random functions' results become reproducible.

    Args:
        seed: an int from ``-2**63`` to ``2**64 - 1``.

    Returns:
        ``ember.default_generator``.

    Raises:
        RuntimeError: if ``seed`` does not fit in 64 bits.
    """
    return default_generator.manual_seed(seed)


@public
def seed() -> int:
    """Seed the default generator from the clock (a non-deterministic seed).

    Returns:
        The new seed.
    """
    return default_generator.seed()


@public
def initial_seed() -> int:
    """The seed the default generator was last seeded with.

    Returns:
        The seed, an int in ``[0, 2**64)``.
    """
    return default_generator.initial_seed()


@public
def get_rng_state() -> Tensor:
    """A snapshot of the default generator's state, to restore with ``ember.set_rng_state``.

    Returns:
        A CPU ``int64`` tensor of three values (see ``Generator.get_state``).
    """
    return default_generator.get_state()


@public
def set_rng_state(state: Tensor) -> None:
    """Restore the default generator to a state from ``ember.get_rng_state``.

    Args:
        state: a tensor returned by ``get_rng_state()`` or ``Generator.get_state()``.
    """
    default_generator.set_state(state)


def _check_generator(generator, device):
    """A generator given explicitly must be one of the device it draws for, as in PyTorch (the
    default generator serves every device: ember's stream is the same everywhere)."""
    if generator is not None:
        want = canonical_device(device).type
        if generator.device.type != want:
            raise RuntimeError(f"Expected a '{want}' device type for generator but found "
                               f"'{generator.device.type}'")


@recorded
def _draw(kind, shape, dtype, device, generator, requires_grad=False, checked=False):
    if not checked:
        _check_generator(generator, device)
    if ACTIVE.modes and BATCHED in ACTIVE.keys:  # under vmap: as its randomness flag says
        return BATCHED_HOOKS.random(shape, lambda s: _draw_now(kind, s, dtype, device, generator, requires_grad))
    return _draw_now(kind, shape, dtype, device, generator, requires_grad)


def _draw_now(kind, shape, dtype, device, generator, requires_grad):
    gen = generator or default_generator
    numel = 1
    for s in shape:
        numel *= s
    seed_, offset = gen._take(numel, kind == "philox_normal")
    return create(kind, device, requires_grad, shape=shape, dtype=dtype, seed=seed_, offset=offset)


def _draw_complex(kind, shape, dtype, device, generator, requires_grad=False):
    """Complex random numbers as PyTorch defines them: real and imaginary parts drawn independently,
    each uniform on [0, 1) (rand) or normal with variance 1/2 (randn: E|z|^2 = 1)."""
    from ember.ops.complex import view_as_complex
    pairs = _draw(kind, tuple(shape) + (2,), dtype.to_real(), device, generator)
    if kind == "philox_normal":
        pairs = pairs * math.sqrt(0.5)
    out = view_as_complex(pairs).clone()
    return out.requires_grad_() if requires_grad else out


def _draw_wide(kind, shape, device, generator):
    """float64 numbers for float64 arithmetic (randint, uniform_, ...). A device without
    float64 (mps) has them made on the CPU, which gives the same numbers; the caller then
    moves its result to the device (``_onto``)."""
    _check_generator(generator, device)
    return _draw(kind, shape, dt.float64, device if _has_float64(device) else None, generator, checked=True)


def _has_float64(device) -> bool:
    from ember.core.call import backend_of
    d = canonical_device(device)
    return dt.float64 in backend_of(d.type).supported_dtypes(d.index)


def _onto(value: Tensor, dtype, device) -> Tensor:
    """``value`` (computed where ``_draw`` put it) as ``dtype`` on ``device``."""
    from ember.ops.creation import to_device
    value = value.to(dtype)
    return value if device is None or value.device == canonical_device(device) else to_device(value, device)


def _float_dtype(dtype):
    d = _resolve_dtype(dtype)
    if not d.is_floating_point and not d.is_complex:
        # PyTorch's error (a NotImplementedError, so a RuntimeError too)
        raise NotImplementedError(f"\"check_uniform_bounds\" not implemented for '{dt._CPP_NAMES[d]}' "
                                  f"(random floats need a floating-point dtype, got {d})")
    return d


@public(out=True)
def rand(*shape, size=None, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of random numbers drawn uniformly from ``[0, 1)``.

    Args:
        shape: the shape, as separate ints (``rand(2, 3)``) or one sequence (``rand((2, 3))``).
        size: the shape as a keyword instead.
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).
        dtype: a floating-point or complex dtype (default: ``ember.get_default_dtype()``); complex
            values have independent real and imaginary parts.
        device: where the result lives (default: the CPU); the values do not depend on it.
        requires_grad: whether autograd records operations on the result.

    Returns:
        A new tensor of the given shape.

    Raises:
        RuntimeError: if ``dtype`` is not floating point or complex, or a size is negative.
    """
    shape = as_shape(shape if size is None else (size,))
    dtype = _float_dtype(dtype)
    if dtype.is_complex:
        return _draw_complex("philox_uniform", shape, dtype, device, generator, requires_grad)
    return _draw("philox_uniform", shape, dtype, device, generator, requires_grad)


@public(out=True)
def randn(*shape, size=None, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of random numbers from the standard normal distribution (mean 0, variance 1).

    Args:
        shape: the shape, as separate ints (``randn(2, 3)``) or one sequence (``randn((2, 3))``).
        size: the shape as a keyword instead.
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).
        dtype: a floating-point or complex dtype (default: ``ember.get_default_dtype()``); complex
            values have independent real and imaginary parts (each of variance 1/2).
        device: where the result lives (default: the CPU); the values do not depend on it.
        requires_grad: whether autograd records operations on the result.

    Returns:
        A new tensor of the given shape.

    Raises:
        RuntimeError: if ``dtype`` is not floating point or complex, or a size is negative.
    """
    shape = as_shape(shape if size is None else (size,))
    dtype = _float_dtype(dtype)
    if dtype.is_complex:
        return _draw_complex("philox_normal", shape, dtype, device, generator, requires_grad)
    return _draw("philox_normal", shape, dtype, device, generator, requires_grad)


@public
def rand_like(input, *, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Uniform random numbers in ``[0, 1)`` with ``input``'s shape, and its dtype and device unless given.

    Args:
        input: the tensor whose shape is copied.
        dtype: a floating-point dtype (default: ``input.dtype``).
        device: the result's device (default: ``input.device``).
        requires_grad: whether autograd records operations on the result.
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).

    Returns:
        A new tensor.

    Raises:
        RuntimeError: if the dtype is not floating point.
    """
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad, generator=generator)


@public
def randn_like(input, *, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    """Standard normal random numbers with ``input``'s shape, and its dtype and device unless given.

    Args:
        input: the tensor whose shape is copied.
        dtype: a floating-point dtype (default: ``input.dtype``).
        device: the result's device (default: ``input.device``).
        requires_grad: whether autograd records operations on the result.
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).

    Returns:
        A new tensor.

    Raises:
        RuntimeError: if the dtype is not floating point.
    """
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad, generator=generator)


@public(out=True)
def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False) -> Tensor:
    """A tensor of random integers drawn uniformly from ``[low, high)``.

    Called as ``randint(high, size)`` or ``randint(low, high, size)``.

    Args:
        low: the smallest value (default: ``0``).
        high: one above the largest value.
        size: the shape, a sequence of ints (required).
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).
        dtype: the result's dtype (default: ``int64``).
        device: where the result lives (default: the CPU); the values do not depend on it.

    Returns:
        A new tensor of shape ``size``.

    Raises:
        TypeError: if ``size`` is missing.
        RuntimeError: if ``high`` is not greater than ``low``.
    """
    if high is None:
        low, high = 0, low
    elif size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    u = _draw_wide("philox_uniform", as_shape((size,)), device, generator)
    out = (u * (high - low)).floor_() + low
    return _onto(out, _resolve_dtype(dtype, dt.int64), device)


@public
def randint_like(input, low=0, high=None, *, dtype=None, device=None, generator=None) -> Tensor:
    """Random integers from ``[low, high)`` with ``input``'s shape, and its dtype and device unless given.

    Called as ``randint_like(input, high)`` or ``randint_like(input, low, high)``.

    Args:
        input: the tensor whose shape is copied.
        low: the smallest value (default: ``0``).
        high: one above the largest value.
        dtype: the result's dtype (default: ``input.dtype``).
        device: the result's device (default: ``input.device``).
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).

    Returns:
        A new tensor.

    Raises:
        RuntimeError: if ``high`` is not greater than ``low``.
    """
    return randint(low, high, input.shape, dtype=dtype or input.dtype, device=device or input.device,
                   generator=generator)


@public(out=True)
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of the integers ``0`` to ``n - 1``.

    Args:
        n: how many integers.
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).
        dtype: the result's dtype (default: ``int64``).
        device: where the result lives (default: the CPU); the values do not depend on it.

    Returns:
        A 1-d tensor of ``n`` elements.
    """
    keys = _draw_wide("philox_uniform", (n,), device, generator)
    return _onto(keys.argsort(stable=True), _resolve_dtype(dtype, dt.int64), device)


@public(out=True)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Random numbers from normal distributions with the given means and standard deviations.

    If ``mean`` or ``std`` is a tensor, the result has the broadcast shape of the tensor
    arguments and the dtype and device of the first of them (``mean`` if it is one), and each
    element is drawn with its own mean and deviation; ``size``, ``dtype``, ``device`` and
    ``requires_grad`` must then not be given (TypeError, as in PyTorch). Otherwise ``size``
    gives the shape and every element shares ``mean`` and ``std``.

    Args:
        mean: the mean, a number or a tensor (default: ``0.0``).
        std: the standard deviation, a number or a tensor (default: ``1.0``).
        size: the shape, a sequence of ints (needed when ``mean`` and ``std`` are both numbers).
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).
        dtype: a floating-point dtype (default: ``ember.get_default_dtype()``).
        device: where the result lives (default: the CPU).
        requires_grad: whether autograd records operations on the result.

    Returns:
        A new tensor: ``mean + std * z`` for standard normal ``z``; differentiable with respect
        to tensor ``mean`` and ``std``.

    Raises:
        TypeError: if ``mean`` and ``std`` are numbers and ``size`` is missing, or a tensor ``mean``
            or ``std`` comes with ``size``, ``dtype``, ``device`` or ``requires_grad``.
        RuntimeError: if ``dtype`` is not floating point.
    """
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        given = [name for name, v in (("size", size), ("dtype", dtype), ("device", device)) if v is not None]
        if given or requires_grad:  # PyTorch has no such overload: refuse rather than ignore them
            raise TypeError(f"normal() received an invalid combination of arguments: with a tensor mean or std "
                            f"the shape, dtype and device come from them; got "
                            f"{', '.join(given + (['requires_grad'] if requires_grad else []))}")
        like = mean if isinstance(mean, Tensor) else std
        from ember.dispatch.meta import broadcast_shapes
        shape = broadcast_shapes(*(x.shape for x in (mean, std) if isinstance(x, Tensor)))
        draw = _draw_complex if like.dtype.is_complex else _draw
        z = draw("philox_normal", shape, like.dtype, like.device, generator)
        return z * std + mean
    if size is None:
        raise TypeError("normal() with float mean and std needs a size")
    dtype = _float_dtype(dtype)
    z = (_draw_complex if dtype.is_complex else _draw)("philox_normal", as_shape((size,)), dtype, device, generator)
    out = z * std + mean
    return out.requires_grad_(True) if requires_grad else out


@public(method=True, out=True)
def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """Random zeros and ones: each element is ``1`` with the probability ``input`` gives for it.

    Args:
        input: the probabilities, in ``[0, 1]``; it also gives the result's shape, dtype and
            device.
        p: a probability (a number or a tensor broadcastable to ``input``) to use instead of
            ``input``'s values.
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).

    Returns:
        A new tensor of ``input``'s shape, dtype and device holding ``0`` and ``1``.
    """
    probs = input if p is None else p
    u = _draw_wide("philox_uniform", input.shape, input.device, generator)
    if isinstance(probs, Tensor):
        probs = probs.to(u.device)
    return _onto(u < probs, input.dtype, input.device)


@public(out="exact")
def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Sample category indices, with probabilities proportional to the weights in ``input``.

    Args:
        input: non-negative, finite weights (they need not sum to 1): a 1-d tensor of one
            weight per category, or a 2-d tensor with one distribution per row.
        num_samples: how many indices to draw (per row).
        replacement: whether an index can be drawn more than once (default: ``False``).
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).

    Returns:
        An ``int64`` tensor of shape ``(num_samples,)``, or ``(rows, num_samples)`` for 2-d input,
        on ``input``'s device.

    Raises:
        RuntimeError: if ``input`` is not 1-d or 2-d, has a negative, infinite or NaN weight, or
            ``num_samples`` exceeds the number of categories without ``replacement``.
    """
    from ember.ops.shape import stack
    if input.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got {input.ndim}")
    if not _has_float64(input.device):  # the weights are taken in float64: sample on the CPU
        return _onto(multinomial(input.cpu(), num_samples, replacement, generator=generator), dt.int64,
                     input.device)
    rows = input.reshape(1, -1) if input.ndim == 1 else input
    n_cat = rows.shape[-1]
    if not replacement and num_samples > n_cat:
        raise RuntimeError(f"cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                           f"(n_sample={num_samples}, categories={n_cat})")
    weights = rows.double()
    if bool((weights < 0).any()) or not bool(weights.isfinite().all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if replacement:
        cdf = weights.cumsum(-1)
        cdf = cdf / cdf[:, -1:]
        u = _draw_wide("philox_uniform", (rows.shape[0], num_samples), input.device, generator)
        out = stack([(cdf[i].unsqueeze(0) <= u[i].unsqueeze(1)).sum(-1) for i in range(rows.shape[0])])
        out = out.clamp(max=n_cat - 1)
    else:
        # Gumbel-top-k: keys u^(1/w) ordered descending give weighted sampling without replacement
        u = _draw_wide("philox_uniform", tuple(rows.shape), input.device, generator)
        positive = weights > 0
        safe = weights.where(positive, weights.new_full((), 1.0))  # no division by zero (numpy warns)
        keys = (u.clamp(min=1e-300).log() / safe).where(positive, weights.new_full((), -float("inf")))
        out = keys.topk(num_samples, dim=-1).indices
    return out.reshape(-1) if input.ndim == 1 else out


# ---------------------------------------------------------------- in-place sampling (Tensor methods)
@public(function=False, method=True)
def uniform_(self, a=0.0, b=1.0, *, generator=None) -> Tensor:
    """Fill the tensor in place with random numbers drawn uniformly from ``[a, b)``.

    Args:
        a: the lower bound (default: ``0.0``).
        b: the upper bound (default: ``1.0``).
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).

    Returns:
        The tensor itself.
    """
    u = _draw_wide("philox_uniform", self.shape, self.device, generator)
    return self.copy_(_onto(u * (b - a) + a, self.dtype, self.device))


@public(function=False, method=True)
def normal_(self, mean=0.0, std=1.0, *, generator=None) -> Tensor:
    """Fill the tensor in place with random numbers from a normal distribution.

    Args:
        mean: the mean (default: ``0.0``).
        std: the standard deviation (default: ``1.0``).
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).

    Returns:
        The tensor itself.
    """
    z = _draw_wide("philox_normal", self.shape, self.device, generator)
    return self.copy_(_onto(z * std + mean, self.dtype, self.device))


@public(function=False, method=True)
def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
    """Fill the tensor in place with random zeros and ones, each ``1`` with probability ``p``.

    Args:
        p: the probability, a number or a tensor of per-element probabilities broadcastable to
            this tensor (default: ``0.5``).
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).

    Returns:
        The tensor itself.
    """
    u = _draw_wide("philox_uniform", self.shape, self.device, generator)
    if isinstance(p, Tensor):
        p = p.to(u.device)
    return self.copy_(_onto(u < p, self.dtype, self.device))


@public(function=False, method=True)
def random_(self, from_=None, to=None, *, generator=None) -> Tensor:
    """Fill the tensor in place with random integers drawn uniformly, as PyTorch's forms do.

    ``random_()`` draws from ``[0, top]``, where ``top`` is the largest integer the dtype
    holds exactly (``2**24`` for float32, ``2**11`` for float16, ``2**8`` for bfloat16,
    ``2**53`` for float64, the maximum of an integer dtype, 1 for bool); ``random_(to)`` from
    ``[0, to)``; ``random_(from_, to)`` from ``[from_, to)``.

    Args:
        from_: the smallest value, or with ``to`` omitted, one above the largest (``to``).
        to: one above the largest value.
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).

    Returns:
        The tensor itself.

    Raises:
        RuntimeError: if ``to`` is not greater than ``from_``.
    """
    if from_ is None and to is None:
        from_, to = 0, _random_top(self.dtype) + 1
    elif to is None:
        from_, to = 0, from_
    if to <= from_:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    return self.copy_(randint(from_, to, self.shape, device=self.device, generator=generator))


def _random_top(dtype) -> int:
    """The largest integer ``random_()`` draws for ``dtype``: exact in it, as in PyTorch."""
    if dtype.is_floating_point:
        return 2 ** {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}[dtype.name]
    if dtype is dt.bool_:
        return 1
    return int(iinfo(dtype).max)


@public(function=False, method=True)
def exponential_(self, lambd=1.0, *, generator=None) -> Tensor:
    """Fill the tensor in place with random numbers from the exponential distribution.

    Args:
        lambd: the rate (the inverse of the mean; default: ``1.0``).
        generator: the ``ember.Generator`` to draw from (default: ``ember.default_generator``).

    Returns:
        The tensor itself.
    """
    u = _draw_wide("philox_uniform", self.shape, self.device, generator)
    return self.copy_(_onto(-(1.0 - u).log() / lambd, self.dtype, self.device))
