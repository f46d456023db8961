"""``ember.linalg``: PyTorch's ``torch.linalg`` (decompositions, solves, inverses, norms, matrix functions).

The functions are defined in the op layer (``ember/ops/decompositions.py``,
``ember/ops/matrix_functions.py``) and registered there; this package only re-exports them.
"""
from ember.ops.decompositions import LINALG as _LINALG, LinAlgError
from ember.ops.public import FUNCTIONS as _FUNCTIONS

matmul = _FUNCTIONS["matmul"]

globals().update(_LINALG)
__all__ = sorted([*_LINALG, "LinAlgError", "matmul"])
