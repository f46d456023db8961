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
from ember.serialization.options import (  # noqa: F401  (torch.serialization's options, hooks and helpers)
    LoadEndianness, get_default_load_endianness, set_default_load_endianness, get_default_mmap_options,
    set_default_mmap_options, get_crc32_options, set_crc32_options, SourceChangeWarning, StorageType,
    check_module_version_greater_or_equal, default_restore_location, location_tag, mkdtemp,
    normalize_storage_type, register_package, skip_data, storage_to_tensor_type, validate_cuda_device,
    validate_hpu_device,
)
from ember.serialization.unpickler import (  # noqa: F401
    add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals,
)
