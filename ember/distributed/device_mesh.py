"""``DeviceMesh``: the ranks of a job laid out as an n-dimensional array, with one process group
per line along each dimension (the data-parallel ranks, the tensor-parallel ranks ...)."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["DeviceMesh", "init_device_mesh"]


def _check_device_type(device_type):
    if ":" in str(device_type):
        raise RuntimeError(f"Device type with index is not supported but got {device_type}. If you maintained a "
                           f"'torch.device' object, it's recommended to pass in 'device.type'.")


class DeviceMesh:
    """An n-dimensional layout of global ranks, with a process group for each dimension.

    Every rank of the default group must construct the same mesh (the groups are made collectively).

    Args:
        device_type: the devices' type ("cpu", "cuda", ...).
        mesh: the global ranks, as a nested list, numpy array or tensor.
        mesh_dim_names: a name per dimension (for ``mesh["dp"]`` and ``get_group("dp")``).
        backend_override: per dimension (index or name), a backend name for its groups.
    """

    def __init__(self, device_type, mesh, *, mesh_dim_names=None, backend_override=None, _init_backend=True,
                 _groups=None):
        from ember import distributed as dist
        _check_device_type(device_type)
        self.device_type = str(device_type)
        arr = np.asarray(mesh.numpy() if hasattr(mesh, "numpy") else mesh, dtype=np.int64)
        if arr.ndim == 0:
            raise ValueError("DeviceMesh needs a mesh of at least one dimension")
        if len(set(arr.reshape(-1).tolist())) != arr.size:
            raise RuntimeError(f"DeviceMesh cannot have duplicate values, but found {arr.tolist()}")
        self._mesh = arr
        self.mesh_dim_names = tuple(mesh_dim_names) if mesh_dim_names is not None else None
        if self.mesh_dim_names is not None and len(self.mesh_dim_names) != arr.ndim:
            raise RuntimeError(f"mesh_dim_names should have {arr.ndim} names, got {len(self.mesh_dim_names)}")
        if not dist.is_initialized():
            dist.init_process_group()
        if arr.size > dist.get_world_size():
            raise RuntimeError(f"Mesh should not be bigger than default world size {dist.get_world_size()}, but "
                               f"found {arr.size} ranks!")
        self._rank = dist.get_rank()
        where = np.argwhere(arr == self._rank)
        self._coordinate = tuple(int(c) for c in where[0]) if len(where) else None
        if _groups is not None:
            self._groups = _groups
        elif _init_backend:
            self._groups = [self._make_dim_groups(d, self._override(backend_override, d)) for d in range(arr.ndim)]
        else:
            self._groups = [None] * arr.ndim

    def _override(self, backend_override, dim):
        if not backend_override:
            return None
        for key in (dim, self.mesh_dim_names[dim] if self.mesh_dim_names else None):
            if key is not None and key in backend_override:
                value = backend_override[key]
                return value[0] if isinstance(value, tuple) else value
        return None

    def _make_dim_groups(self, dim, backend):
        """The group along ``dim`` holding this rank (every rank makes every line's group, in order)."""
        from ember import distributed as dist
        moved = np.moveaxis(self._mesh, dim, -1).reshape(-1, self._mesh.shape[dim])
        world = dist.get_world_size()
        mine = None
        for line in moved:
            ranks = sorted(int(r) for r in line)
            if len(ranks) == world and backend is None:
                g = dist.group.WORLD   # a line spanning the job: the default group, as PyTorch reuses it
            else:
                g = dist.new_group(ranks, backend=backend)
            if self._rank in ranks:
                mine = g
        return mine

    # ------------------------------------------------------------ queries
    @property
    def mesh(self):
        """The ranks as an int tensor shaped like the mesh."""
        import ember
        return ember.from_numpy(self._mesh.copy())

    @property
    def ndim(self):
        """The number of dimensions."""
        return self._mesh.ndim

    @property
    def shape(self):
        """The mesh's shape (a tuple)."""
        return tuple(self._mesh.shape)

    def size(self, mesh_dim=None):
        """The number of ranks in the mesh, or along ``mesh_dim``.

        Args:
            mesh_dim: a dimension index or name (None: the whole mesh).

        Returns:
            int.
        """
        return int(self._mesh.size) if mesh_dim is None else int(self._mesh.shape[self._dim(mesh_dim)])

    def _dim(self, mesh_dim):
        if isinstance(mesh_dim, str):
            if not self.mesh_dim_names or mesh_dim not in self.mesh_dim_names:
                raise KeyError(f"Mesh dimension '{mesh_dim}' does not exist. Available mesh dimensions are: "
                               f"mesh_dim_names={self.mesh_dim_names}")
            return self.mesh_dim_names.index(mesh_dim)
        if not -self.ndim <= mesh_dim < self.ndim:
            raise IndexError(f"mesh_dim {mesh_dim} is out of range for a {self.ndim}-dimensional DeviceMesh")
        return mesh_dim % self.ndim

    def get_group(self, mesh_dim=None):
        """The process group of this rank's line along ``mesh_dim``.

        Args:
            mesh_dim: a dimension index or name (may be omitted for a 1-D mesh).

        Returns:
            A ProcessGroup.
        """
        if mesh_dim is None:
            if self.ndim > 1:
                raise RuntimeError(f"Found the DeviceMesh have {self.ndim} dimensions. Optional kwarg `mesh_dim` "
                                   "needs to be specified when device_mesh.ndim > 1. If you want to get the list "
                                   "of all the ProcessGroups in the DeviceMesh, please use `get_all_groups()` "
                                   "instead.")
            mesh_dim = 0
        g = self._groups[self._dim(mesh_dim)]
        if g is None:
            raise RuntimeError("this rank is not part of the DeviceMesh, or its groups were not made")
        return g

    def get_all_groups(self):
        """This rank's group along every dimension.

        Returns:
            A list of ProcessGroups.
        """
        return [self.get_group(d) for d in range(self.ndim)]

    def get_rank(self):
        """This process's global rank.

        Returns:
            int.
        """
        return self._rank

    def get_local_rank(self, mesh_dim=None):
        """This rank's coordinate along ``mesh_dim`` (its rank in that dimension's group).

        Args:
            mesh_dim: a dimension index or name (may be omitted for a 1-D mesh).

        Returns:
            int.
        """
        if mesh_dim is None:
            if self.ndim > 1:
                raise RuntimeError(f"Found the DeviceMesh have {self.ndim} dimensions. Optional kwarg `mesh_dim` "
                                   "needs to be specified when device_mesh.ndim > 1.")
            mesh_dim = 0
        if self._coordinate is None:
            raise RuntimeError("this rank is not part of the DeviceMesh")
        return self._coordinate[self._dim(mesh_dim)]

    def get_coordinate(self):
        """This rank's coordinates in the mesh (None when it is not part of it).

        Returns:
            A tuple of ints, or None.
        """
        return self._coordinate

    def __getitem__(self, mesh_dim_names):
        """The sub-mesh of the named dimensions (this rank's slice of the others).

        Args:
            mesh_dim_names: a name or tuple of names.

        Returns:
            A DeviceMesh.
        """
        names = (mesh_dim_names,) if isinstance(mesh_dim_names, str) else tuple(mesh_dim_names)
        if not self.mesh_dim_names or any(n not in self.mesh_dim_names for n in names):
            raise KeyError(f"Invalid mesh_dim_names {names} specified. Valid mesh_dim_names are "
                           f"{list(self.mesh_dim_names or ())}.")
        if names == self.mesh_dim_names:
            return self
        dims = [self.mesh_dim_names.index(n) for n in names]
        if self._coordinate is None:
            raise RuntimeError("this rank is not part of the DeviceMesh")
        rest = [d for d in range(self.ndim) if d not in dims]
        # the named dimensions first, in the order asked, then this rank's position in the others
        sub = np.transpose(self._mesh, dims + rest)[tuple([slice(None)] * len(dims) +
                                                        [self._coordinate[d] for d in rest])]
        groups = [self._groups[d] for d in dims]
        return DeviceMesh(self.device_type, sub, mesh_dim_names=names, _groups=groups)

    def _flatten(self, mesh_dim_name=None):
        """A 1-D mesh of all this mesh's ranks (its group made collectively).

        Args:
            mesh_dim_name: the new dimension's name (default: the names joined by "_").

        Returns:
            A DeviceMesh.
        """
        name = mesh_dim_name or "_".join(self.mesh_dim_names or ())
        return DeviceMesh(self.device_type, self._mesh.reshape(-1), mesh_dim_names=(name,) if name else None)

    @staticmethod
    def from_group(group, device_type, mesh=None, *, mesh_dim_names=None):
        """A 1-D mesh over an existing group (or an n-D one over several, with ``mesh``).

        Args:
            group: a ProcessGroup, or a list of them (one per dimension).
            device_type: the devices' type.
            mesh: the ranks' layout (default: the group's ranks).
            mesh_dim_names: the dimensions' names.

        Returns:
            A DeviceMesh.
        """
        from ember import distributed as dist
        groups = list(group) if isinstance(group, (list, tuple)) else [group]
        if mesh is None:
            if len(groups) != 1:
                raise ValueError("Expects mesh to be specified if more than one group is passed")
            mesh = dist.get_process_group_ranks(groups[0])
        out = DeviceMesh(device_type, mesh, mesh_dim_names=mesh_dim_names, _groups=groups)
        if len(groups) != out.ndim:
            raise ValueError(f"Expects one group per mesh dimension: {len(groups)} groups for {out.ndim} dims")
        return out

    def __eq__(self, other):
        return isinstance(other, DeviceMesh) and self.device_type == other.device_type and \
            self._mesh.shape == other._mesh.shape and bool((self._mesh == other._mesh).all()) and \
            self.mesh_dim_names == other.mesh_dim_names

    def __hash__(self):
        return hash((self.device_type, self._mesh.tobytes(), self._mesh.shape, self.mesh_dim_names))

    def __repr__(self):
        if self.mesh_dim_names:
            dims = ", ".join(f"{n}={s}" for n, s in zip(self.mesh_dim_names, self.shape))
            return f"DeviceMesh(({dims}), '{self.device_type}', mesh={self._mesh.tolist()})"
        return f"DeviceMesh('{self.device_type}', {self._mesh.tolist()})"


def init_device_mesh(device_type, mesh_shape, *, mesh_dim_names=None, backend_override=None):
    """Lay the default group's ranks out as ``mesh_shape`` (row-major) and make the groups of each
    dimension (initialising the default group if needed).

    Args:
        device_type: the devices' type ("cpu", "cuda", ...; no index).
        mesh_shape: the mesh's shape; its product must equal the world size.
        mesh_dim_names: a name per dimension.
        backend_override: per dimension (index or name), a backend for its groups.

    Returns:
        A DeviceMesh.
    """
    from ember import distributed as dist
    mesh_shape = tuple(mesh_shape)
    if mesh_dim_names is not None:
        if len(set(mesh_dim_names)) != len(mesh_dim_names):
            raise RuntimeError(f"Each mesh_dim_name must be unique. Found repeated mesh_dim_name in "
                               f"mesh_dim_names {tuple(mesh_dim_names)}")
        if len(mesh_shape) != len(mesh_dim_names):
            raise RuntimeError(f"mesh_shape and mesh_dim_names should have same length! Found "
                               f"len(mesh_dim_names): {len(mesh_dim_names)} and len(mesh_shape):{len(mesh_shape)}.")
    _check_device_type(device_type)
    if not dist.is_initialized():
        dist.init_process_group()
    world = dist.get_world_size()
    if math.prod(mesh_shape) > world:
        raise RuntimeError(f"Mesh should not be bigger than default world size {world}, but found "
                           f"{math.prod(mesh_shape)} ranks!")
    if math.prod(mesh_shape) != world:
        raise RuntimeError(f"init_device_mesh: mesh_shape {mesh_shape} holds {math.prod(mesh_shape)} ranks but the "
                           f"world size is {world}")
    return DeviceMesh(device_type, np.arange(world).reshape(mesh_shape), mesh_dim_names=mesh_dim_names,
                      backend_override=backend_override)

