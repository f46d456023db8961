"""Random numbers: Generators and the sampling functions.

All devices draw from ember's Philox stream (specified in ``ember.dispatch.philox``): a generator is
a (seed, offset) pair, and each call advances the offset by what it consumed, so the
same seed gives the same numbers on every device.
"""
from __future__ import annotations

import time

from ember.core import dtype as dt
from ember.core.tensor import Tensor
from ember.dispatch.philox import counter_steps
from ember.ops.creation import _resolve_dtype, as_shape, canonical_device, create
from ember.ops.public import public

_DEFAULT_SEED = 67280421310721


@public
class Generator:
    def __init__(self, device="cpu"):
        self.device = canonical_device(device)
        self._seed = _DEFAULT_SEED
        self._offset = 0

    def manual_seed(self, seed) -> "Generator":
        seed = int(seed)
        if not -0x8000_0000_0000_0000 <= seed <= 0xFFFF_FFFF_FFFF_FFFF:
            raise RuntimeError(f"Overflow when unpacking long: seed {seed} does not fit in 64 bits")
        self._seed = seed & 0xFFFF_FFFF_FFFF_FFFF
        self._offset = 0
        return self

    def seed(self) -> int:
        self.manual_seed(time.time_ns() & 0xFFFF_FFFF_FFFF)
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        from ember.ops.creation import tensor
        return tensor([self._seed & 0x7FFF_FFFF_FFFF_FFFF, self._seed >> 63, self._offset], dtype=dt.int64)

    def set_state(self, state: Tensor) -> "Generator":
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
    return default_generator.manual_seed(seed)


@public
def seed() -> int:
    return default_generator.seed()


@public
def initial_seed() -> int:
    return default_generator.initial_seed()


@public
def get_rng_state() -> Tensor:
    return default_generator.get_state()


@public
def set_rng_state(state: Tensor) -> None:
    default_generator.set_state(state)


def _draw(kind, shape, dtype, device, generator, requires_grad=False):
    gen = generator or default_generator
    numel = 1
    for s in shape:
        numel *= s
    seed_, offset = gen._take(numel, kind == "philox_normal")
    return create(kind, device, requires_grad, shape=shape, dtype=dtype, seed=seed_, offset=offset)


def _draw_wide(kind, shape, device, generator):
    """float64 numbers for float64 arithmetic (randint, uniform_, ...). A device without
    float64 (mps) has them made on the CPU, which gives the same numbers; the caller then
    moves its result to the device (``_onto``)."""
    return _draw(kind, shape, dt.float64, device if _has_float64(device) else None, generator)


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
    if not d.is_floating_point:
        raise RuntimeError(f"expected a floating-point dtype for random floats, got {d}")
    return d


@public
def rand(*shape, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    shape = as_shape(shape if size is None else (size,))
    return _draw("philox_uniform", shape, _float_dtype(dtype), device, generator, requires_grad)


@public
def randn(*shape, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    shape = as_shape(shape if size is None else (size,))
    return _draw("philox_normal", shape, _float_dtype(dtype), device, generator, requires_grad)


@public
def rand_like(input, *, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad, generator=generator)


@public
def randn_like(input, *, dtype=None, device=None, requires_grad=False, generator=None) -> Tensor:
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad, generator=generator)


@public
def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False, out=None) -> Tensor:
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
    return randint(low, high, input.shape, dtype=dtype or input.dtype, device=device or input.device,
                   generator=generator)


@public
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    keys = _draw_wide("philox_uniform", (n,), device, generator)
    return _onto(keys.argsort(stable=True), _resolve_dtype(dtype, dt.int64), device)


@public
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False, out=None) -> Tensor:
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        like = mean if isinstance(mean, Tensor) else std
        from ember.dispatch.meta import broadcast_shapes
        shape = broadcast_shapes(*(x.shape for x in (mean, std) if isinstance(x, Tensor)))
        z = _draw("philox_normal", shape, like.dtype, like.device, generator)
        return z * std + mean
    if size is None:
        raise TypeError("normal() with float mean and std needs a size")
    z = _draw("philox_normal", as_shape((size,)), _float_dtype(dtype), device, generator)
    out = z * std + mean
    return out.requires_grad_(True) if requires_grad else out


@public(method=True)
def bernoulli(input, p=None, *, generator=None) -> Tensor:
    probs = input if p is None else p
    u = _draw_wide("philox_uniform", input.shape, input.device, generator)
    if isinstance(probs, Tensor):
        probs = probs.to(u.device)
    return _onto(u < probs, input.dtype, input.device)


@public
def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Sample category indices from (unnormalised) weights along the last dim."""
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
    u = _draw_wide("philox_uniform", self.shape, self.device, generator)
    return self.copy_(_onto(u * (b - a) + a, self.dtype, self.device))


@public(function=False, method=True)
def normal_(self, mean=0.0, std=1.0, *, generator=None) -> Tensor:
    z = _draw_wide("philox_normal", self.shape, self.device, generator)
    return self.copy_(_onto(z * std + mean, self.dtype, self.device))


@public(function=False, method=True)
def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
    u = _draw_wide("philox_uniform", self.shape, self.device, generator)
    if isinstance(p, Tensor):
        p = p.to(u.device)
    return self.copy_(_onto(u < p, self.dtype, self.device))


@public(function=False, method=True)
def random_(self, from_=0, to=None, *, generator=None) -> Tensor:
    if to is None:
        to = 2 ** 24 if self.dtype.is_floating_point else 2 ** 63 - 1
    return self.copy_(randint(from_, to, self.shape, device=self.device, generator=generator))


@public(function=False, method=True)
def exponential_(self, lambd=1.0, *, generator=None) -> Tensor:
    u = _draw_wide("philox_uniform", self.shape, self.device, generator)
    return self.copy_(_onto(-(1.0 - u).log() / lambd, self.dtype, self.device))
