"""``ember.amp``: automatic mixed precision, as ``torch.amp``.

``autocast`` runs a region's ops in a lower precision where it is safe (matmul, conv,
linear in bfloat16/float16) and in float32 where it is not (losses, norms), by the
per-op, per-device policies of ``ember.amp.policy``; ``GradScaler`` scales the loss so
float16 gradients do not underflow. ``custom_fwd`` / ``custom_bwd`` make custom
autograd functions autocast-aware.
"""
from ember.amp.autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from ember.amp.grad_scaler import GradScaler
from ember.amp import policy  # noqa: F401  (the per-op tables)

__all__ = ["autocast", "custom_fwd", "custom_bwd", "is_autocast_available", "GradScaler"]
