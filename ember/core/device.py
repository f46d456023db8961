"""Device names: ``device("cuda:1")``, ``device("cpu")``, ``device("opencl", 0)``."""
from __future__ import annotations

import threading

#: the device types PyTorch knows (a device may name one whose backend is absent here: using it
#: is what fails), plus ember's; the plugin registry adds each backend's type as it loads
KNOWN_TYPES = ["cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia",
               "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone", "rocm"]
_KNOWN = set(KNOWN_TYPES)
#: per thread, ``.device``: the device factory functions use when given none (None: the CPU), set by
#: ``ember.set_default_device`` and ``with ember.device(...)`` blocks (``.stack``: the ones they replaced)
DEFAULT = threading.local()
#: set by the plugin registry: loads the plugins (once), so that a third-party type is known;
#: returns what it has to say about plugins that failed to load ("" when none did)
discover_plugins = None


def register_device_type(name: str) -> None:
    """Make ``name`` a known device type (the registry calls it for every backend it loads)."""
    if name not in _KNOWN:
        _KNOWN.add(name)
        KNOWN_TYPES.append(name)


def _check_type(text: str, given) -> None:
    if text in _KNOWN:
        return
    failures = ""
    if discover_plugins is not None:
        failures = discover_plugins()
        if text in _KNOWN:
            return
    raise RuntimeError(f"Expected one of {', '.join(KNOWN_TYPES)} device type at start of device string: "
                       f"{given}{failures}")


class device:
    """A device on which tensors live: a type such as ``"cpu"`` or ``"cuda"``, and an optional index.

    Devices compare equal to devices with the same type and index (not to strings, as in
    PyTorch: compare ``str(d)`` or ``d.type``); ``str()`` gives the ``"type:index"`` form.

    Args:
        type: a device string (``"cpu"``, ``"cuda"``, ``"cuda:1"``), another ``device`` (copied),
            or an int ``n``, which means ``"cuda:n"``.
        index: the device's index, for a ``type`` that does not name one (default: ``None``, no
            index: the backend's current or default device is meant).

    Raises:
        TypeError: if ``type`` is not a string, an int or a device.
        RuntimeError: if the string is malformed or names an unknown device type (the message
            lists the known ones), names an index as well as ``index`` being given, or the
            index is negative or not an int.

    Attributes:
        type: the device type, e.g. ``"cuda"``.
        index: the index, or ``None``.
    """
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and index is None:  # device(0) means the default accelerator
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() expects a string, an int or a device, got {type!r}")
        text = type
        if ":" in text:
            if index is not None:
                raise RuntimeError(f"device string {type!r} already has an index; got index={index}")
            text, _, idx = text.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        if not text or not text.replace("_", "").isalnum():
            raise RuntimeError(f"Invalid device string: '{type}'")
        _check_type(text, type)
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self.type = text
        self.index = index

    def __eq__(self, other):
        # a device equals devices only, as in PyTorch (device("cpu") == "cpu" is False)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):
        """``with ember.device(...)``: factory functions in the block default to this device."""
        stack = getattr(DEFAULT, "stack", None)
        if stack is None:
            stack = DEFAULT.stack = []
        stack.append(getattr(DEFAULT, "device", None))
        DEFAULT.device = None if self.type == "cpu" and self.index in (None, 0) else self
        return self

    def __exit__(self, *exc):
        DEFAULT.device = DEFAULT.stack.pop()
        return False


def as_device(d) -> device:
    if d is None or isinstance(d, device):
        return d
    return device(d)
