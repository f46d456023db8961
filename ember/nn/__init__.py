"""``ember.nn``: modules, parameters, init and functional."""
from ember.nn import functional, init, utils  # noqa: F401
from ember.nn.parameter import Parameter, Buffer, UninitializedParameter, UninitializedBuffer  # noqa: F401
from ember.nn.modules import *  # noqa: F401,F403
from ember.nn import parallel  # noqa: F401,E402
from ember.nn import attention  # noqa: F401,E402  (torch.nn.attention: SDPBackend, sdpa_kernel)
from ember.nn.parallel import DataParallel  # noqa: F401,E402


def factory_kwargs(kwargs):
    """The tensor-factory arguments (``device``, ``dtype``, ``memory_format``) of a layer's keyword arguments.

    Layers pass them on to ``ember.empty`` and friends. A ``factory_kwargs`` entry (a dict) is merged in.

    Args:
        kwargs: a dict holding at most ``device``, ``dtype``, ``memory_format`` and ``factory_kwargs``; or None.

    Returns:
        A new dict of the factory arguments found.

    Raises:
        TypeError: for any other key, or a key given both directly and inside ``factory_kwargs``.
    """
    if kwargs is None:
        return {}
    simple = {"device", "dtype", "memory_format"}
    unexpected = set(kwargs) - simple - {"factory_kwargs"}
    if unexpected:
        raise TypeError(f"unexpected kwargs {unexpected}")
    result = dict(kwargs.get("factory_kwargs", {}))
    for key in simple:
        if key in kwargs:
            if key in result:
                raise TypeError(f"{key} specified twice, in **kwargs and in factory_kwargs")
            result[key] = kwargs[key]
    return result


_LAZY_SUBMODULES = ("grad", "common_types")   # torch.nn.grad, torch.nn.common_types: loaded on first use


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f"ember.nn.{name}")
    raise AttributeError(f"module 'ember.nn' has no attribute {name!r}")
