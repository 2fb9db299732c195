"""Matrix Lie groups SO(n), O(n), SU(n)."""
from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from symjax.groups._finite import FiniteGroup, positive_int, cyclic, dihedral

__all__ = ["LieGroup", "SO", "O", "SU"]


@functools.lru_cache(maxsize=None)
def _basis(kind: str, n: int) -> np.ndarray:
    """An orthogonal basis (Frobenius inner product) of the Lie algebra."""
    mats = []
    for i in range(n):
        for j in range(i + 1, n):
            m = np.zeros((n, n), np.complex128 if kind == "SU" else np.float64)
            m[i, j], m[j, i] = -1.0, 1.0
            mats.append(m)
    if kind == "SU":
        for i in range(n):
            for j in range(i + 1, n):
                m = np.zeros((n, n), np.complex128)
                m[i, j] = m[j, i] = 1j
                mats.append(m)
        for l in range(1, n):  # generalised Gell-Mann diagonals, times i
            diag = np.zeros(n)
            diag[:l] = 1.0
            diag[l] = -l
            mats.append(1j * np.diag(diag) * np.sqrt(2.0 / (l * (l + 1))))
    if not mats:
        return np.zeros((0, n, n), np.complex128 if kind == "SU" else np.float64)
    out = np.stack(mats)
    out.setflags(write=False)
    return out


def _logm_near_identity(m: jax.Array, squarings: int = 3, terms: int = 16) -> jax.Array:
    """Matrix logarithm by inverse scaling and squaring (Denman-Beavers roots, then a series)."""
    eye = jnp.eye(m.shape[-1], dtype=m.dtype)

    def sqrt_step(_, yz):  # Denman-Beavers iteration: y -> sqrt(m), z -> sqrt(m)^-1
        y, z = yz
        return 0.5 * (y + jnp.linalg.inv(z)), 0.5 * (z + jnp.linalg.inv(y))

    def root(_, y):
        return jax.lax.fori_loop(0, 12, sqrt_step, (y, eye))[0]

    a = jax.lax.fori_loop(0, squarings, root, m) - eye

    def series(k, acc):
        out, power = acc
        power = power @ a
        return out + jnp.where(k % 2 == 1, 1.0, -1.0).astype(m.dtype) * power / k.astype(m.real.dtype), power

    out, _ = jax.lax.fori_loop(1, terms + 1, series, (jnp.zeros_like(a), eye))
    return out * (2.0 ** squarings)


@dataclasses.dataclass(frozen=True)
class LieGroup:
    """A compact matrix Lie group: ``SO(n)``, ``O(n)`` or ``SU(n)``.

    Hashable and immutable. ``lie_algebra`` is a basis of the algebra, orthogonal
    under the Frobenius inner product, so ``exp`` and ``log`` are coordinates on the
    group near the identity.

    >>> G = SO(3)
    >>> G.dim, G.lie_algebra.shape
    (3, (3, 3, 3))
    """

    kind: str
    n: int

    @property
    def name(self) -> str:
        """E.g. ``"SO(3)"``."""
        return f"{self.kind}({self.n})"

    @property
    def dim(self) -> int:
        """Dimension of the group (number of Lie algebra generators)."""
        return int(self.lie_algebra.shape[0])

    @property
    def lie_algebra(self) -> np.ndarray:
        """``(dim, n, n)`` basis: antisymmetric matrices (SO, O) or traceless anti-Hermitian (SU)."""
        return _basis(self.kind, self.n)

    @property
    def dtype(self):
        """``complex64`` for SU(n), ``float32`` otherwise."""
        return jnp.complex64 if self.kind == "SU" else jnp.float32

    def exp(self, coeffs) -> jax.Array:
        """The group element ``expm(sum_k coeffs[k] * lie_algebra[k])``, batched over leading axes.

        >>> import jax.numpy as jnp
        >>> R = SO(2).exp(jnp.array([jnp.pi / 2]))
        >>> jnp.round(R, 5).tolist()
        [[0.0, -1.0], [1.0, 0.0]]
        """
        coeffs = jnp.asarray(coeffs)
        if coeffs.shape[-1:] != (self.dim,):
            raise ValueError(f"{self.name}.exp expects coeffs with last axis dim = {self.dim}, got shape {coeffs.shape}")
        real = jnp.float64 if coeffs.dtype == jnp.float64 else jnp.float32
        basis = jnp.asarray(self.lie_algebra, jnp.result_type(self.dtype, real))
        x = jnp.einsum("...k,kij->...ij", coeffs.astype(real), basis)
        return jax.scipy.linalg.expm(x) if x.ndim == 2 else jax.vmap(jax.scipy.linalg.expm)(
            x.reshape(-1, self.n, self.n)).reshape(x.shape)

    def log(self, matrix) -> jax.Array:
        """Lie algebra coordinates of ``matrix`` (near the identity), so ``exp(log(g)) == g``.

        >>> import jax.numpy as jnp
        >>> c = jnp.array([0.1, -0.2, 0.3])
        >>> bool(jnp.allclose(SO(3).log(SO(3).exp(c)), c, atol=1e-5))
        True
        """
        m = jnp.asarray(matrix)
        if m.shape[-2:] != (self.n, self.n):
            raise ValueError(f"{self.name}.log expects (..., {self.n}, {self.n}) matrices, got shape {m.shape}")
        m = m.astype(jnp.result_type(m.dtype, self.dtype))
        flat = m.reshape(-1, self.n, self.n)
        x = jax.vmap(_logm_near_identity)(flat)
        basis = jnp.asarray(self.lie_algebra, m.dtype)
        norms = jnp.einsum("kij,kij->k", jnp.conj(basis), basis).real
        coeffs = jnp.einsum("kij,bij->bk", jnp.conj(basis), x).real / norms
        return coeffs.reshape(m.shape[:-2] + (self.dim,))

    def sample(self, key: jax.Array, shape: tuple[int, ...] = ()) -> jax.Array:
        """Haar-random elements of shape ``shape + (n, n)``.

        >>> import jax
        >>> R = SO(3).sample(jax.random.key(0), (4,))
        >>> R.shape, bool(SO(3).contains(R[0]))
        ((4, 3, 3), True)
        """
        shape = tuple(shape)
        n = self.n
        if self.kind == "SU":
            kr, ki = jax.random.split(key)
            z = (jax.random.normal(kr, shape + (n, n)) + 1j * jax.random.normal(ki, shape + (n, n))) / np.sqrt(2)
        else:
            z = jax.random.normal(key, shape + (n, n))
        q, r = jnp.linalg.qr(z)
        d = jnp.diagonal(r, axis1=-2, axis2=-1)
        phase = d / jnp.abs(d)
        q = q * phase[..., None, :]  # Haar on O(n) / U(n)
        det = jnp.linalg.det(q)
        if self.kind == "SO":
            q = q.at[..., :, 0].multiply(jnp.sign(det)[..., None])
        elif self.kind == "SU":
            q = q / (det ** (1.0 / n))[..., None, None]
        return q

    def contains(self, m, atol: float = 1e-5) -> jax.Array:
        """Whether ``m`` (``(..., n, n)``) is in the group, to ``atol``.

        >>> import numpy as np
        >>> bool(SO(2).contains(np.diag([-1.0, 1.0]))), bool(O(2).contains(np.diag([-1.0, 1.0])))
        (False, True)
        """
        m = jnp.asarray(m)
        if m.shape[-2:] != (self.n, self.n):
            return jnp.asarray(False)
        eye = jnp.eye(self.n)
        unitary = jnp.all(jnp.abs(jnp.conj(jnp.swapaxes(m, -1, -2)) @ m - eye) <= atol, axis=(-2, -1))
        if self.kind == "O":
            return unitary
        return unitary & (jnp.abs(jnp.linalg.det(m) - 1.0) <= atol)

    def discretize(self, n: int) -> FiniteGroup:
        """The finite subgroup of ``n`` rotations: ``C_n`` for SO(2), ``D_n`` for O(2).

        >>> O(2).discretize(4).name
        'D4'
        """
        n = positive_int(n, "n", "discretize")
        if self.n != 2 or self.kind not in ("SO", "O"):
            raise ValueError(f"discretize is defined for SO(2) and O(2), not {self.name}")
        return cyclic(n) if self.kind == "SO" else dihedral(n)


def SO(n: int) -> LieGroup:
    """The special orthogonal group ``SO(n)`` (rotations).

    >>> SO(3).dim
    3
    """
    return LieGroup("SO", positive_int(n, "n", "SO", minimum=2))


def O(n: int) -> LieGroup:  # noqa: E743 - the group's name
    """The orthogonal group ``O(n)`` (rotations and reflections); ``exp`` reaches ``SO(n)``.

    >>> O(3).dim
    3
    """
    return LieGroup("O", positive_int(n, "n", "O", minimum=1))


def SU(n: int) -> LieGroup:
    """The special unitary group ``SU(n)`` (complex matrices).

    >>> SU(2).dim
    3
    """
    return LieGroup("SU", positive_int(n, "n", "SU", minimum=2))
