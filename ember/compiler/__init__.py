"""ember.compiler: the user-facing switches of compilation (PyTorch's ``torch.compiler``)."""
from ember._dynamo.api import disable, is_compiling, reset
from ember._dynamo.eval_frame import list_backends


def is_dynamo_compiling() -> bool:
    """Whether a program is being captured right now (as ``is_compiling``)."""
    return is_compiling()


__all__ = ["disable", "is_compiling", "is_dynamo_compiling", "list_backends", "reset"]
