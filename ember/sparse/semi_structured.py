"""2:4 semi-structured sparse matrices (``torch.sparse.to_sparse_semi_structured``).

In PyTorch these exist for CUDA tensors only (CUTLASS or cuSPARSELt kernels); on any other
device the conversion raises PyTorch's ``RuntimeError``, as it does there. On a CUDA device
ember keeps the two stored values of every group of four along a row, with their positions,
and multiplies through the dense matrix they stand for (no 2:4 tensor-core kernel: CuPy has
none), so results match PyTorch's.
"""
from __future__ import annotations

from collections import namedtuple

from ember.core import dtype as dt
from ember.core.call import backend_of
from ember.core.layout import SparseData
from ember.core.tensor import Tensor
from ember.ops.public import FUNCTIONS as _E

_Constraint = namedtuple("_Constraint", "sparse_min_rows sparse_min_cols dense_min_rows dense_min_cols")


class SparseSemiStructuredTensor(Tensor):
    """A 2-D matrix in which at most two of every four consecutive elements of a row are
    nonzero, stored as those values and their positions (CUDA tensors only).

    Made by ``to_sparse_semi_structured`` or a subclass's ``from_dense``.
    """
    __slots__ = ("packed", "meta", "_backend_name")
    _FORCE_CUTLASS = False
    _DTYPE_SHAPE_CONSTRAINTS: dict = {}

    @classmethod
    def _validate_device_dim_dtype_shape(cls, original_tensor):
        if not original_tensor.is_cuda:
            raise RuntimeError(f"Error original_tensor.device= {original_tensor.device} is not supported! "
                               "Only CUDA tensors are currently supported.")
        if original_tensor.dim() != 2:
            raise RuntimeError(f"Error original_tensor.dim = {original_tensor.dim()} is not supported! "
                               "Only 2d tensors are currently supported.")
        if not original_tensor.is_contiguous():
            raise RuntimeError("Error original_tensor is not contiguous!Only contiguous tensors are currently "
                               "supported.")
        if original_tensor.dtype not in cls._DTYPE_SHAPE_CONSTRAINTS:
            raise RuntimeError(f"Error original_tensor.dtype {original_tensor.dtype} is not a supported dtype "
                               f"for {cls}!")
        m, n = original_tensor.shape
        c = cls._DTYPE_SHAPE_CONSTRAINTS[original_tensor.dtype]
        if m < c.sparse_min_rows or m % c.sparse_min_rows or n < c.sparse_min_cols or n % c.sparse_min_cols:
            raise RuntimeError(f"Error original_tensor.shape {original_tensor.shape} is not supported! Both "
                               f"dimensions must be larger or equal than and a multiple of "
                               f"({c.sparse_min_rows}, {c.sparse_min_cols})")

    @classmethod
    def from_dense(cls, original_tensor, alg_id=0):
        """Compress a 2:4-sparse CUDA matrix.

        Args:
            original_tensor: a contiguous 2-D CUDA tensor of a supported dtype and shape.
            alg_id: accepted for PyTorch compatibility (cuSPARSELt's algorithm choice).

        Returns:
            An instance of ``cls``.

        Raises:
            RuntimeError: for a tensor that is not on CUDA, not 2-D, not contiguous, or of an
                unsupported dtype or shape.
        """
        cls._validate_device_dim_dtype_shape(original_tensor)
        return cls._pack(original_tensor)

    @classmethod
    def _pack(cls, dense):
        m, n = dense.shape
        groups = dense.detach().reshape(m, n // 4, 4)
        # the two largest magnitudes of each group, kept in column order
        meta = _E["sort"](_E["topk"](groups.abs(), 2, dim=2).indices, dim=2).values
        t = object.__new__(cls)
        t._data = SparseData((m, n), "SparseSemiStructured" + backend_of(dense.device.type).dispatch_key)
        t.dtype, t.device = dense.dtype, dense.device
        t._rg = False
        t.grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._version = None
        t._base = None
        t._view_fn = None
        t._views = None
        t._hooks = None
        t._retains_grad = False
        t.packed = _E["gather"](groups, 2, meta)
        t.meta = meta
        return t

    def to_dense(self):
        """The dense matrix this tensor stands for.

        Returns:
            A strided 2-D tensor.
        """
        m, n = self.shape
        zeros = _E["zeros"](m, n // 4, 4, dtype=self.dtype, device=self.device)
        return zeros.scatter(2, self.meta, self.packed).reshape(m, n)

    def __repr__(self):
        return f"{type(self).__name__}(shape={tuple(self.shape)})"

    @classmethod
    def _sparse_dispatch(cls, op, inputs, attrs):
        """Matrix products run on the dense matrix the operand stands for; other ops raise."""
        if op.name == "matmul":
            a, b = (x.to_dense() if isinstance(x, SparseSemiStructuredTensor) else x for x in inputs)
            return _E["matmul"](a, b)
        raise NotImplementedError(f"{cls.__name__} only supports matrix multiplication, not '{op.name}'")


class SparseSemiStructuredTensorCUTLASS(SparseSemiStructuredTensor):
    """A 2:4 semi-structured matrix of the CUTLASS kind (int8, float16, bfloat16, float32)."""
    __slots__ = ()
    _DTYPE_SHAPE_CONSTRAINTS = {dt.int8: _Constraint(16, 128, 16, 16), dt.float16: _Constraint(32, 64, 8, 8),
                                dt.bfloat16: _Constraint(32, 64, 8, 8), dt.float32: _Constraint(32, 32, 4, 4)}


class SparseSemiStructuredTensorCUSPARSELT(SparseSemiStructuredTensor):
    """A 2:4 semi-structured matrix of the cuSPARSELt kind (int8, float16, bfloat16)."""
    __slots__ = ()
    _DTYPE_SHAPE_CONSTRAINTS = {dt.int8: _Constraint(32, 32, 16, 16), dt.float16: _Constraint(16, 16, 8, 8),
                                dt.bfloat16: _Constraint(16, 16, 8, 8)}


def to_sparse_semi_structured(original_tensor, transposed=False):
    """Compress a 2:4-sparse 2-D CUDA matrix (cuSPARSELt kind unless
    ``SparseSemiStructuredTensor._FORCE_CUTLASS`` is set).

    Args:
        original_tensor: a contiguous 2-D CUDA tensor.
        transposed: deprecated (PyTorch warns and ignores it).

    Returns:
        A ``SparseSemiStructuredTensor``.

    Raises:
        RuntimeError: for a tensor that is not on CUDA (as in PyTorch) or an unsupported shape/dtype.
    """
    if transposed:
        import warnings
        warnings.warn("Setting transpose from `to_sparse_semi_structured` is deprecated and will be removed in "
                      "a future release. `SparseSemiStructuredTensor` only support contiguous input tensors.",
                      FutureWarning, stacklevel=2)
    kind = (SparseSemiStructuredTensorCUTLASS if SparseSemiStructuredTensor._FORCE_CUTLASS
            else SparseSemiStructuredTensorCUSPARSELT)
    return kind.from_dense(original_tensor)
