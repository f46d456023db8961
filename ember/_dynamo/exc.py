"""The exceptions graph capture raises (PyTorch's ``torch._dynamo.exc`` names)."""


class TorchDynamoException(RuntimeError):
    """Base class of the errors raised while capturing or compiling a program."""


class Unsupported(TorchDynamoException):
    """The program does something a graph cannot hold (with ``fullgraph=True``: a graph break)."""


class UserError(Unsupported):
    """The program, as written, cannot be exported or captured (data-dependent control flow)."""


class RecompileLimitExceeded(Unsupported):
    """A compiled function was recompiled more often than the limit allows (with ``fail_on_recompile_limit_hit``)."""


class InvalidBackend(TorchDynamoException):
    """``ember.compile`` was given a backend name no registered backend has."""

    def __init__(self, name):
        super().__init__(f"Invalid backend: {name!r}, see `ember._dynamo.list_backends()` for available backends.")


class ConstraintViolationError(RuntimeError):
    """A dimension marked dynamic (``mark_dynamic``) was specialized to a constant by the program."""
