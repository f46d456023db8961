"""Autocast: the mode at the ``Autocast`` dispatch key, and PyTorch's functions that set it.

The state is per device type (enabled, dtype) plus the weight-cast cache switch and the
nesting depth. While autocast is enabled for some device type, the handler ``_autocast``
is installed at the Autocast key (``ember.dispatch.keys.push_mode``); outside, nothing is
installed and the hot path pays one attribute check, as for grad mode.

The handler acts on public ops (``ember.dispatch.public_op``: ``linear``, ``mse_loss``,
``cat`` ...), looked up in the policy of the device type the op's tensors are on
(``ember.amp.policy``): it casts the eligible inputs and runs the op with autocast out of
the way (the ops inside are not cast again). Ops with no policy run as they are, and the
public ops inside them see autocast. Dispatched ops (``call``) pass straight through.
"""
from __future__ import annotations

import functools
import warnings

from ember.amp import policy as P
from ember.core import dtype as dt
from ember.core.autograd import GRAD_MODE
from ember.core.call import cast as _cast
from ember.core.device import device as _Device
from ember.core.tensor import Tensor
from ember.dispatch.keys import AUTOCAST, pop_mode, push_mode
from ember.dispatch.public_op import PublicOp

_DEFAULT_DTYPES = {"cpu": dt.bfloat16}   # every other device type: float16
_LOW_DTYPES = (dt.bfloat16, dt.float16)
_BUILTIN_TYPES = ("cpu", "cuda", "rocm", "mps", "opencl")


class _State:
    """Autocast's state: per device type, and the switches shared by all of them."""
    __slots__ = ("enabled", "dtypes", "cache_enabled", "nesting", "cache")

    def __init__(self):
        self.enabled = {}          # device type -> bool (absent: False)
        self.dtypes = {}           # device type -> its low dtype (absent: the default)
        self.cache_enabled = True
        self.nesting = 0
        self.cache = {}            # id(weight) -> (weight, its version, grad mode, dtype, the cast)


STATE = _State()


# ---------------------------------------------------------------- the handler
def _autocast(op, args, kwargs, below):
    """The Autocast key's handler: apply the op's policy on its device type, then run below."""
    if op.__class__ is not PublicOp:
        return below(op, args, kwargs)
    device_type = _device_type_of(args, kwargs)
    if device_type is None or not STATE.enabled.get(device_type):
        return op.function(*args, **kwargs)
    kind = P.policy_for(device_type).get(op.name)
    if kind is not None and not isinstance(kind, str):
        kind = kind(args, kwargs)
    if kind is None:
        return op.function(*args, **kwargs)  # no policy: the public ops inside still see autocast
    if kind == P.LOWER:
        low = STATE.dtypes.get(device_type) or _default_dtype(device_type)
        args, kwargs = _cast_all(args, kwargs, device_type, low, cache=STATE.cache_enabled)
    elif kind == P.FP32:
        args, kwargs = _cast_all(args, kwargs, device_type, dt.float32)
    elif kind == P.FP32_UNLESS_DTYPE:
        first = args[0] if args else None
        if _eligible(first, device_type) and not _has_dtype(args, kwargs):
            args = (_cast(first, dt.float32), *args[1:])
    elif kind == P.PROMOTE:
        widest = _widest(args, kwargs, device_type)
        if widest is not None:
            args, kwargs = _cast_all(args, kwargs, device_type, widest)
    elif kind == P.BANNED:
        raise RuntimeError(P.BANNED_MESSAGES[op.name])
    # P.KEEP: as it is, below autocast
    return below(op, args, kwargs)


def _tensors(args, kwargs):
    for a in (*args, *kwargs.values()):
        if isinstance(a, Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, Tensor):
                    yield b


def _device_type_of(args, kwargs):
    found = None
    for t in _tensors(args, kwargs):
        kind = t.device.type
        if kind != "cpu":
            return kind  # 0-d CPU tensors may join an accelerator's op: the accelerator decides
        found = kind
    return found


def _eligible(t, device_type) -> bool:
    return isinstance(t, Tensor) and t.dtype.is_floating_point and t.dtype is not dt.float64 \
        and t.device.type == device_type


def _has_dtype(args, kwargs) -> bool:
    return kwargs.get("dtype") is not None or any(isinstance(a, dt.dtype) for a in args)


def _widest(args, kwargs, device_type):
    widest = None
    for t in _tensors(args, kwargs):
        if _eligible(t, device_type):
            if t.dtype is dt.float32 or widest is None:
                widest = t.dtype
            elif widest is not dt.float32 and t.dtype is not widest:
                widest = dt.float32  # bfloat16 with float16: float32, which holds both
            if widest is dt.float32:
                return widest
    return widest


def _cast_one(t, device_type, to, cache):
    if not _eligible(t, device_type) or t.dtype is to:
        return t
    if cache and t._rg and t.grad_fn is None and t._base is None and t.dtype is dt.float32:
        # a weight: cast once per autocast region (recast if it was written to or grad mode changed)
        version = t._version.value if t._version is not None else 0
        hit = STATE.cache.get(id(t))
        if hit is not None and hit[0] is t and hit[1] == version and hit[2] == GRAD_MODE.enabled \
                and hit[3] is to:
            return hit[4]
        casted = _cast(t, to)
        STATE.cache[id(t)] = (t, version, GRAD_MODE.enabled, to, casted)
        return casted
    return _cast(t, to)


def _cast_all(args, kwargs, device_type, to, cache=False):
    def each(a):
        if isinstance(a, Tensor):
            return _cast_one(a, device_type, to, cache)
        if isinstance(a, (list, tuple)) and any(isinstance(b, Tensor) for b in a):
            return type(a)(_cast_one(b, device_type, to, cache) if isinstance(b, Tensor) else b for b in a)
        return a
    return tuple(each(a) for a in args), {k: each(v) for k, v in kwargs.items()}


# ---------------------------------------------------------------- state functions
def _checked_type(device_type) -> str:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    return _Device(device_type).type  # RuntimeError naming the string for an unknown device type


def _default_dtype(device_type):
    return _DEFAULT_DTYPES.get(device_type, dt.float16)


def _sync_mode():
    if any(STATE.enabled.values()):
        push_mode(AUTOCAST, _autocast)
    else:
        pop_mode(AUTOCAST)


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast can be used on ``device_type``.

    Args:
        device_type: a device type such as ``"cpu"``, ``"cuda"``, ``"mps"`` or ``"opencl"``.

    Returns:
        True for ember's built-in device types and any device type a loaded backend provides.
    """
    if device_type in _BUILTIN_TYPES:
        return True
    from ember.dispatch.registry import REGISTRY
    REGISTRY.load()
    return device_type in REGISTRY.backends


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is enabled on ``device_type``.

    Args:
        device_type: the device type; omitted, ``"cuda"`` (PyTorch's older form).

    Returns:
        True inside an enabled autocast region for that device type.
    """
    return bool(STATE.enabled.get("cuda" if device_type is None else _checked_type(device_type)))


def set_autocast_enabled(device_type, enabled=None) -> None:
    """Turn autocast on or off for a device type (what ``autocast`` does on entry and exit).

    Args:
        device_type: the device type; or, given alone, the bool for ``"cuda"`` (PyTorch's older form).
        enabled: the new state.

    Returns:
        None.
    """
    if enabled is None:
        device_type, enabled = "cuda", device_type
    STATE.enabled[_checked_type(device_type)] = bool(enabled)
    _sync_mode()


def get_autocast_dtype(device_type: str):
    """The low dtype autocast uses on ``device_type``.

    Args:
        device_type: the device type.

    Returns:
        The dtype set for it (by ``autocast`` or ``set_autocast_dtype``); by default bfloat16 on
        the CPU and float16 elsewhere.
    """
    device_type = _checked_type(device_type)
    return STATE.dtypes.get(device_type) or _default_dtype(device_type)


def set_autocast_dtype(device_type: str, dtype) -> None:
    """Set the low dtype autocast uses on ``device_type``.

    Args:
        device_type: the device type.
        dtype: the dtype (``autocast`` checks it is bfloat16 or float16; this function does not, as in
            PyTorch).

    Returns:
        None.
    """
    STATE.dtypes[_checked_type(device_type)] = dtype


def _deprecated(old, new):
    warnings.warn(f"torch.{old} is deprecated. Please use torch.{new} instead.", DeprecationWarning,
                  stacklevel=3)


def get_autocast_gpu_dtype():
    """Deprecated: ``get_autocast_dtype("cuda")``.

    Returns:
        The low dtype of cuda autocast.
    """
    _deprecated("get_autocast_gpu_dtype()", "get_autocast_dtype('cuda')")
    return get_autocast_dtype("cuda")


def get_autocast_cpu_dtype():
    """Deprecated: ``get_autocast_dtype("cpu")``.

    Returns:
        The low dtype of CPU autocast.
    """
    _deprecated("get_autocast_cpu_dtype()", "get_autocast_dtype('cpu')")
    return get_autocast_dtype("cpu")


def set_autocast_gpu_dtype(dtype) -> None:
    """Deprecated: ``set_autocast_dtype("cuda", dtype)``.

    Args:
        dtype: the new low dtype of cuda autocast.
    """
    _deprecated("set_autocast_gpu_dtype(dtype)", "set_autocast_dtype('cuda', dtype)")
    set_autocast_dtype("cuda", dtype)


def set_autocast_cpu_dtype(dtype) -> None:
    """Deprecated: ``set_autocast_dtype("cpu", dtype)``.

    Args:
        dtype: the new low dtype of CPU autocast.
    """
    _deprecated("set_autocast_cpu_dtype(dtype)", "set_autocast_dtype('cpu', dtype)")
    set_autocast_dtype("cpu", dtype)


def is_autocast_cpu_enabled() -> bool:
    """Deprecated: ``is_autocast_enabled("cpu")``.

    Returns:
        Whether CPU autocast is on.
    """
    _deprecated("is_autocast_cpu_enabled()", "is_autocast_enabled('cpu')")
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled: bool) -> None:
    """Deprecated: ``set_autocast_enabled("cpu", enabled)``.

    Args:
        enabled: the new state of CPU autocast.
    """
    _deprecated("set_autocast_cpu_enabled(enabled)", "set_autocast_enabled('cpu', enabled)")
    set_autocast_enabled("cpu", enabled)


def is_autocast_cache_enabled() -> bool:
    """Whether autocast keeps the casts of weights for the rest of the region.

    Returns:
        The cache switch (True by default).
    """
    return STATE.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    """Switch autocast's weight-cast cache on or off.

    Args:
        enabled: the new state.
    """
    STATE.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    """Drop the weight casts autocast has kept (done on leaving the outermost region).

    Returns:
        None.
    """
    STATE.cache.clear()


def autocast_increment_nesting() -> int:
    """Count one more entered autocast region.

    Returns:
        The new depth.
    """
    STATE.nesting += 1
    return STATE.nesting


def autocast_decrement_nesting() -> int:
    """Count one autocast region left.

    Returns:
        The new depth (0: outside every region).
    """
    STATE.nesting -= 1
    return STATE.nesting


# ---------------------------------------------------------------- the context manager
class autocast:
    """A region (``with`` block or decorated function) where ops run in mixed precision.

    Inside, the ops on ``device_type``'s tensors follow autocast's policy for that device
    type (``ember.amp.policy``): matmul, conv and linear run in ``dtype``; losses, norms
    and other range-sensitive ops in float32; ``cat`` and friends in the widest input
    type. Regions nest; an inner ``enabled=False`` turns autocast off until it ends.
    Backward passes should run outside the region: gradients come back in the dtypes of
    the parameters.

    Args:
        device_type: ``"cpu"``, ``"cuda"``, ``"rocm"``, ``"mps"``, ``"opencl"`` or a third-party device type.
        dtype: the low dtype, bfloat16 or float16 (default: ``get_autocast_dtype(device_type)``,
            bfloat16 on the CPU and float16 elsewhere).
        enabled: False makes the region turn autocast off.
        cache_enabled: whether weights are cast once per region (default: ``is_autocast_cache_enabled()``).

    Returns:
        The context manager; called on a function, that function running inside the region.

    Raises:
        ValueError: ``device_type`` is not a string.
        RuntimeError: an unknown device type, or one autocast is not available on.
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self.device = device_type
        if not is_autocast_available(device_type):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        if enabled:
            enabled = self._check_device(device_type)
        self._enabled = enabled

    def _check_device(self, device_type) -> bool:
        name = device_type.upper()
        if device_type in ("cuda", "rocm"):
            from ember.dispatch.registry import REGISTRY
            try:
                REGISTRY.available_backend(device_type)
            except RuntimeError:
                label = "CUDA" if device_type == "cuda" else "ROCm"
                warnings.warn(f"{label} is not available. Disabling autocast.", stacklevel=3)
                return False
            if device_type == "cuda" and self.fast_dtype is dt.bfloat16:
                from ember import cuda
                if not cuda.is_bf16_supported():
                    raise RuntimeError("Current CUDA Device does not support bfloat16. Please switch dtype to "
                                       "float16.")
        if self.fast_dtype not in _LOW_DTYPES:
            supported = ", ".join(f"ember.{d.name}" for d in _LOW_DTYPES)
            warnings.warn(f"In {name} autocast, but the target dtype is not supported. Disabling autocast.\n"
                          f"{name} Autocast only supports dtypes of {supported} currently.", stacklevel=3)
            return False
        return True

    def __enter__(self):
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(self.device)
        self.prev_fastdtype = get_autocast_dtype(self.device)
        set_autocast_enabled(self.device, self._enabled)
        set_autocast_dtype(self.device, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_enabled(self.device, self.prev)
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(f"autocast()(func) requires a callable, but got {type(func).__name__}. Did you mean "
                            f"to use autocast as a context manager? For example:\n"
                            f"    with ember.autocast(device_type=...):\n"
                            f"        output = model(input)")

        @functools.wraps(func)
        def decorated(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return decorated


# ---------------------------------------------------------------- custom autograd functions
def _cast_inputs(value, device_type, dtype):
    if isinstance(value, Tensor):
        return value.to(dtype) if _eligible(value, device_type) else value
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, dict):
        return {k: _cast_inputs(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_inputs(v, device_type, dtype) for v in value)
    return value


def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorate the ``forward`` of a custom ``ember.autograd.Function`` for autocast.

    Args:
        fwd: the forward staticmethod (omitted: returns a decorator).
        device_type: the device type whose autocast state matters.
        cast_inputs: None: ``forward`` runs under the current autocast state; a dtype: inside an
            enabled region, floating-point tensor inputs are cast to it and ``forward`` runs with
            autocast off (outside a region it has no effect).

    Returns:
        The decorated ``forward``; it records the autocast state for ``custom_bwd``.
    """
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            ctx._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        ctx._fwd_used_autocast = False
        if is_autocast_enabled(device_type):
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast_inputs(args, device_type, cast_inputs),
                           **_cast_inputs(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorate the ``backward`` of a custom ``ember.autograd.Function``: it runs under the
    autocast state its ``forward`` (decorated by ``custom_fwd``) ran under.

    Args:
        bwd: the backward staticmethod (omitted: returns a decorator).
        device_type: the device type, as given to ``custom_fwd``.

    Returns:
        The decorated ``backward``.
    """
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
