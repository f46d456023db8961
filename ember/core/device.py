"""Device names: ``device("cuda:1")``, ``device("cpu")``, ``device("opencl", 0)``."""
from __future__ import annotations


class device:
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and index is None:  # device(0) means the default accelerator
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() expects a string, an int or a device, got {type!r}")
        text = type.strip()
        if ":" in text:
            if index is not None:
                raise RuntimeError(f"device string {type!r} already has an index; got index={index}")
            text, _, idx = text.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        if not text or not text.replace("_", "").isalnum():
            raise RuntimeError(f"Invalid device string: '{type}'")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self.type = text
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
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


def as_device(d) -> device:
    if d is None or isinstance(d, device):
        return d
    return device(d)
