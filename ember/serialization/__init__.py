"""Saving and loading: PyTorch checkpoints (``ember.save`` / ``ember.load``) and safetensors.

- :func:`save` / :func:`load`: PyTorch's zip checkpoint format, readable by ``torch.load``
  and reading what ``torch.save`` writes; loading is weights-only (no code from the file
  runs) unless ``weights_only=False``.
- :func:`add_safe_globals`, :func:`safe_globals`, :func:`get_safe_globals`,
  :func:`clear_safe_globals`: extend the weights-only allow-list.
- :func:`save_file` / :func:`load_file` (and :mod:`.safetensors_io` for bytes): the
  safetensors format.
"""
from ember.serialization.checkpoint import load, save  # noqa: F401
from ember.serialization.scan import get_unsafe_globals_in_checkpoint  # noqa: F401
from ember.serialization.safetensors_io import load_file, save_file  # noqa: F401
from ember.serialization.storage import Storage  # noqa: F401
from ember.serialization.unpickler import (  # noqa: F401
    add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals,
)
