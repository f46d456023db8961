"""Memory layouts (``torch.layout``): dense strided tensors and the sparse layouts.

A sparse tensor (``ember.ops.sparse``) keeps its parts (indices, values) as dense tensors; its
own native array is a ``SparseData`` placeholder that has a shape and refuses every other use,
so no dense kernel can read it as if it were dense data.
"""
from __future__ import annotations


class layout:
    """How a tensor's elements are laid out in memory: ``ember.strided`` or a sparse layout.

    Args:
        name: the layout's name, as ``str()`` shows it after ``ember.``.
    """
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"ember.{self.name}"

    __str__ = __repr__

    def __reduce__(self):
        return (_by_name, (self.name,))


def _by_name(name: str) -> layout:
    return _LAYOUTS[name]  # unpickling gives the same object


#: dense tensors addressed through strides (``Tensor.layout`` of every ember tensor)
strided = layout("strided")
#: sparse layouts: coordinates (COO), compressed rows/columns (CSR/CSC) and their blocked forms
sparse_coo = layout("sparse_coo")
sparse_csr = layout("sparse_csr")
sparse_csc = layout("sparse_csc")
sparse_bsr = layout("sparse_bsr")
sparse_bsc = layout("sparse_bsc")
_LAYOUTS = {t.name: t for t in (strided, sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc)}

#: what ``call`` hands an op whose kernel met a sparse operand: ``handler(op, inputs, attrs)``
#: (set by ``ember.ops.sparse``, which knows how each op applies to a sparse tensor)
SPARSE_OPS = [None]
#: ``to_dense(sparse)``, for the in-place write of a sparse result into a dense tensor (``dense.mul_(sparse)``)
SPARSE_DENSE = [None]


class SparseData:
    """The native array of a sparse tensor: it has a shape, and every other use raises.

    Args:
        shape: the sparse tensor's shape.
        backend: the dispatch backend name PyTorch would report (``SparseCPU``, ``SparseCsrCPU``).
    """
    __slots__ = ("shape", "backend")
    __array_priority__ = 1e9
    dtype = "sparse"  # equals no array dtype (numpy reads None as float64): dtype-comparing fast paths step aside

    def __init__(self, shape, backend):
        self.shape = tuple(shape)
        self.backend = backend

    @property
    def ndim(self):
        return len(self.shape)

    def _refuse(self, *args, **kwargs):
        raise NotImplementedError(f"Could not run this operator with arguments from the '{self.backend}' "
                                  f"backend: sparse tensors hold no dense data (use .to_dense() first)")

    __array__ = __array_ufunc__ = __array_function__ = __getitem__ = __iter__ = __len__ = _refuse
    __add__ = __radd__ = __mul__ = __rmul__ = __sub__ = __rsub__ = __truediv__ = __matmul__ = _refuse

    def __getattr__(self, name):
        self._refuse()
