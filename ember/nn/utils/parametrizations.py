"""Ready-made parametrizations: ``weight_norm``, ``spectral_norm`` and ``orthogonal``.

Each registers a small module through ``ember.nn.utils.parametrize``, so the weight is
recomputed from the stored tensors on every access and gradients reach those tensors.
"""
from __future__ import annotations

from enum import Enum, auto

import ember
from ember.core.autograd import no_grad
from ember.core.tensor import Tensor
from ember.nn import functional as F
from ember.nn.modules.module import Module
from ember.nn.utils import _norms, parametrize

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


def _tensor_named(module, name):
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    return weight


# ---------------------------------------------------------------- orthogonal
class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


def _is_orthogonal(q):
    n, k = q.shape[-2], q.shape[-1]
    eye = ember.eye(k, dtype=q.dtype, device=q.device)
    return bool(ember.allclose(q.mH @ q, eye, atol=10.0 * n * ember.finfo(q.dtype).eps))


def _make_orthogonal(a):
    """The Q of ``a = QR`` (``a`` tall) with R's diagonal made non-negative, so Q is unique."""
    x, tau = ember.geqrf(a)
    q = ember.linalg.householder_product(x, tau)
    return q * x.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


class _Orthogonal(Module):
    """Maps an unconstrained matrix (or batch) to an orthogonal / unitary one of the same shape."""

    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        if weight.dtype.is_complex and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            # the orthogonal matrix the map is taken around (set by right_inverse)
            self.register_buffer("base", None)

    def forward(self, x):
        """Return the orthogonal matrix that ``x`` parametrizes.

        Args:
            x: the unconstrained tensor ``(..., n, k)``.

        Returns:
            An orthogonal (unitary) tensor of the same shape: orthonormal columns when tall,
            orthonormal rows when wide.
        """
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = x.mT
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            x = x.tril()
            if n != k:   # a square skew matrix from the tall one: zero columns on the right
                zeros = ember.zeros(tuple(x.shape[:-2]) + (n, n - k), dtype=x.dtype, device=x.device)
                x = ember.cat([x, zeros], dim=-1)
            a = x - x.mH
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                q = ember.linalg.matrix_exp(a)
            else:   # Cayley: (I + A/2)(I - A/2)^-1, as a solve
                eye = ember.eye(n, dtype=a.dtype, device=a.device)
                q = ember.linalg.solve(eye - 0.5 * a, eye + 0.5 * a)
            if n != k:
                q = q[..., :k]
        else:
            a = x.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (a * a).sum(dim=-2))
            q = ember.linalg.householder_product(a, tau)
            # the signs on x's diagonal (held at +-1, not learned) pick each reflection's sign
            q = q * x.diagonal(dim1=-2, dim2=-1).detach().to(ember.int32).unsqueeze(-2)
        if "base" in self._buffers and self.base is not None:
            q = self.base @ q
        if transposed:
            q = q.mT
        return q

    def right_inverse(self, q):
        """Return a tensor that ``forward`` maps to ``q`` (making ``q`` orthogonal first if needed).

        Args:
            q: the desired value, of the weight's shape.

        Returns:
            With trivialization: ``-I`` (the map's origin), after storing ``q`` (orthogonalized,
            completed to a square matrix) as ``base``; without it (householder only): the
            Householder reflectors of ``q``.
        """
        with no_grad():
            if tuple(q.shape) != tuple(self.shape):
                raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of "
                                 f"shape {q.shape}.")
            q_init = q
            n, k = q.shape[-2], q.shape[-1]
            transpose = n < k
            if transpose:
                q = q.mT
                n, k = k, n
            if "base" not in self._buffers:
                if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
                    raise NotImplementedError("It is not possible to assign to the matrix exponential or the "
                                              "Cayley parametrizations when use_trivialization=False.")
                a, tau = ember.geqrf(q)
                # a positive diagonal of R makes the decomposition unique; a zero tau is a skipped reflection
                diag = a.diagonal(dim1=-2, dim2=-1).sign()
                a.diagonal(dim1=-2, dim2=-1).copy_(ember.where(tau == 0.0, -diag, diag))
                return a.mT if transpose else a
            if n == k:
                q = q.clone() if _is_orthogonal(q) else _make_orthogonal(q)
            else:   # complete q to an n x n orthogonal matrix with random columns
                extra = ember.randn(*(tuple(q.shape[:-2]) + (n, n - k)), dtype=q.dtype, device=q.device)
                q = _make_orthogonal(ember.cat([q, extra], dim=-1))
            self.base = q
            # -I maps to the identity under every map (householder reads its diagonal's signs)
            neg_eye = ember.zeros_like(q_init)
            neg_eye.diagonal(dim1=-2, dim2=-1).fill_(-1.0)
            return neg_eye


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Parametrize a matrix (or batch of matrices) of ``module`` to stay orthogonal (unitary).

    Args:
        module: the module.
        name: the name of the weight (default ``"weight"``); it must have at least 2 dimensions.
        orthogonal_map: ``"matrix_exp"``, ``"cayley"`` or ``"householder"``; default
            ``"matrix_exp"`` for square or complex matrices, else ``"householder"``.
        use_trivialization: if True, the map is taken around a stored orthogonal ``base``
            (updated when the weight is assigned), which keeps optimization well conditioned.

    Returns:
        ``module``, with ``module.<name>`` orthogonal.
    """
    weight = _tensor_named(module, name)
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.shape[-2] == weight.shape[-1]
        orthogonal_map = "matrix_exp" if square or weight.dtype.is_complex else "householder"
    orth_enum = getattr(_OrthMaps, str(orthogonal_map), None)
    if orth_enum is None:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: '
                         f'{orthogonal_map}')
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module


# ---------------------------------------------------------------- weight norm
class _WeightNorm(Module):
    """``weight = g * v / ||v||`` with the norm over every dimension but ``dim``."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        """Return ``weight_v`` rescaled to the norms ``weight_g``.

        Args:
            weight_g: the magnitudes.
            weight_v: the directions.

        Returns:
            The weight.
        """
        return _norms.weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        """Split ``weight`` into ``(g, v)``: its norms and itself.

        Args:
            weight: the weight.

        Returns:
            ``(weight_g, weight_v)``.
        """
        return _norms.norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Parametrize ``module.<name>`` by a magnitude ``original0`` and a direction ``original1``.

    Args:
        module: the module.
        name: the weight's name (default ``"weight"``).
        dim: the dimension kept by the norm (one magnitude per index along it); None (or -1) for
            one magnitude for the whole tensor.

    Returns:
        ``module``.
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


# ---------------------------------------------------------------- spectral norm
class _SpectralNorm(Module):
    """``weight / sigma(weight)``, sigma estimated by power iteration on the buffers ``_u``, ``_v``."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got "
                             f"{dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with no_grad():
                matrix = _norms.reshape_weight_to_matrix(weight.detach(), self.dim)
                h, w = matrix.shape
                u = ember.randn(h, dtype=weight.dtype, device=weight.device)
                v = ember.randn(w, dtype=weight.dtype, device=weight.device)
                self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
                self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
                # start from a good estimate of the top singular vectors
                self._power_method(matrix, 15)

    def _power_method(self, matrix, n_power_iterations):
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(F.normalize(ember.mv(matrix, self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(ember.mv(matrix.mH, self._u), dim=0, eps=self.eps))

    def forward(self, weight):
        """Return ``weight`` divided by its estimated largest singular value.

        In training mode the estimate first takes ``n_power_iterations`` more steps.

        Args:
            weight: the unnormalized weight.

        Returns:
            The spectrally normalized weight (a 1-D weight is just normalized).
        """
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        matrix = _norms.reshape_weight_to_matrix(weight, self.dim)
        if self.training:
            self._power_method(matrix.detach(), self.n_power_iterations)
        u = self._u.clone()
        v = self._v.clone()
        sigma = ember.vdot(u, ember.mv(matrix, v))
        return weight / sigma

    def right_inverse(self, value):
        """Return ``value`` unchanged (any weight is its own preimage).

        Args:
            value: the new weight.

        Returns:
            ``value``.
        """
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Parametrize ``module.<name>`` to be divided by its spectral norm (largest singular value).

    The norm is estimated by power iteration; the vectors are the buffers
    ``parametrizations.<name>.0._u`` / ``._v``, refined on every access in training mode.

    Args:
        module: the module.
        name: the weight's name (default ``"weight"``).
        n_power_iterations: power-iteration steps per access in training mode (default 1).
        eps: added to norms to avoid dividing by zero.
        dim: the dimension that becomes the rows of the matrix; default 0 (1 for transposed
            convolutions).

    Returns:
        ``module``.
    """
    weight = _tensor_named(module, name)
    dim = _norms.spectral_norm_dim(module, dim)
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
