"""``torch.distributed.config``: global flags of the distributed package (read from the environment
at import; assign to change them)."""
import os

__all__ = ["compile_on_one_rank", "use_torchcomms"]

compile_on_one_rank: bool = bool(os.environ.get("TORCH_DISTRIBUTED_COMPILE_ON_ONE_RANK", False))
use_torchcomms: bool = os.environ.get("TORCH_DISTRIBUTED_USE_TORCHCOMMS", "0") not in ("", "0", "false", "False")
