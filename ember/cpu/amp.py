"""``ember.cpu.amp`` (``torch.cpu.amp``): the deprecated CPU forms of ``ember.amp``."""
from ember.amp.deprecated import CpuAutocast as autocast, CpuGradScaler as GradScaler  # noqa: F401

__all__ = ["autocast", "GradScaler"]
