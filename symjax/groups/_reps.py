"""Group representations as immutable, hashable objects, and the basis of equivariant linear maps.

A representation ``rho`` of a group ``G`` on ``R^dim`` is built from a few
leaves (:class:`Trivial`, :class:`Standard`, :class:`Regular`,
:class:`Permutation`) and three constructions: direct sum ``a + b``
(:class:`DirectSum`, block-diagonal; ``3 * a`` is ``a + a + a``), tensor
product ``a * b`` (:class:`TensorProduct`, Kronecker; ``a ** 2`` is ``a * a``)
and the dual ``a.dual()`` (:class:`Dual`, ``rho(g^-1)^T``). Every
representation gives ``rho(g)``: for a finite group ``g`` is an element index
(a Python, NumPy or traced ``jnp`` integer); for a Lie group it is a matrix of
the group. For Lie groups ``drho(A)`` is the representation of the Lie
algebra (tensor product ``A x I + I x A``, dual ``-A^T``, trivial ``0``).

:func:`equivariant_basis` solves, once per pair of representations (the result
is cached), the space of linear maps ``W`` with ``W rho_in(g) = rho_out(g) W``
as the nullspace of the constraints stacked over the generators of the group
(for a Lie group: the Lie algebra basis, plus a reflection for ``O(n)``).

>>> from symjax.groups import SO, O
>>> V = Standard(SO(3))
>>> equivariant_basis(V * V, V).shape  # the cross product
(1, 3, 9)
>>> equivariant_basis(Standard(O(3)) ** 2, Standard(O(3))).shape  # a pseudo-vector: none
(0, 3, 9)
"""
from __future__ import annotations

import functools
from typing import Union

import jax
import jax.numpy as jnp
import numpy as np

from symjax.groups._elements import check_element
from symjax.groups._finite import FiniteGroup
from symjax.groups._lie import LieGroup

__all__ = ["Rep", "Trivial", "Standard", "Regular", "Permutation", "DirectSum", "TensorProduct", "Dual",
           "equivariant_basis", "invariant_basis"]

Group = Union[FiniteGroup, LieGroup]


def _check_group(G, cls: str) -> Group:
    if not isinstance(G, (FiniteGroup, LieGroup)):
        raise TypeError(f"{cls} expects group to be a symjax FiniteGroup or LieGroup, got {type(G).__name__}")
    return G


def check_rep(rep, argname: str) -> "Rep":
    if not isinstance(rep, Rep):
        raise TypeError(f"{argname} must be a symjax representation (Rep), got {type(rep).__name__}")
    return rep


def _same_group(reps, what: str) -> Group:
    G = reps[0].group
    for r in reps[1:]:
        if r.group != G:
            raise ValueError(f"{what} needs representations of one group, got {G.name} and {r.group.name}")
    return G


def _flat_operands(reps, cls, what: str) -> tuple:
    """The operands of a sum or product ``cls``, nested ones of the same kind flattened, checked."""
    if not reps:
        raise ValueError(f"{what} expects at least one representation, got none")
    flat = []
    for i, r in enumerate(reps):
        check_rep(r, f"reps[{i}]")
        flat.extend(r.reps if isinstance(r, cls) else (r,))
    _same_group(flat, what)
    return tuple(flat)


def _block_diag(blocks, xp):
    """Block-diagonal ``(..., sum d, sum d)`` from ``(..., d_i, d_i)`` blocks (NumPy or jax.numpy)."""
    total = sum(b.shape[-1] for b in blocks)
    dtype = xp.result_type(*blocks)
    rows, offset = [], 0
    for b in blocks:
        d, batch = b.shape[-1], b.shape[:-2]
        rows.append(xp.concatenate([xp.zeros(batch + (d, offset), dtype), b.astype(dtype),
                                    xp.zeros(batch + (d, total - offset - d), dtype)], axis=-1))
        offset += d
    return xp.concatenate(rows, axis=-2)


def _kron(a, b, xp):
    """Batched Kronecker product over the last two axes."""
    out = xp.einsum("...ij,...kl->...ikjl", a, b)
    return out.reshape(out.shape[:-4] + (a.shape[-2] * b.shape[-2], a.shape[-1] * b.shape[-1]))


class Rep:
    """Base class of representations: immutable and hashable (a valid ``jax.jit`` static
    argument and Flax module attribute); equal when built the same way on the same group.

    Subclasses implement ``group``, ``dim``, ``_build(g, xp)`` (the matrices at the elements
    ``g``, batched over its leading axes) and ``_drho(A)`` (Lie algebra).

    >>> from symjax.groups import SO, Standard
    >>> V = Standard(SO(3))
    >>> isinstance(V * V + V, Rep), V == Standard(SO(3)), hash(V) == hash(Standard(SO(3)))
    (True, True, True)
    """

    __slots__ = ()

    group: Group
    dim: int

    def _key(self) -> tuple:
        raise NotImplementedError

    def _label(self) -> str:
        raise NotImplementedError

    def _build(self, g, xp):
        raise NotImplementedError

    def _drho(self, A: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__,) + self._key())

    def __setattr__(self, key, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"Rep[{self.group.name}]({self._label()})"

    # -- constructions --------------------------------------------------------------------------
    def __add__(self, other: "Rep") -> "DirectSum":
        if not isinstance(other, Rep):
            return NotImplemented
        return DirectSum(self, other)

    def __mul__(self, other) -> "Rep":
        if isinstance(other, Rep):
            return TensorProduct(self, other)
        if isinstance(other, (int, np.integer)) and not isinstance(other, bool):
            if other < 1:
                raise ValueError(f"a multiplicity must be a positive int, got {int(other)}")
            return DirectSum(*([self] * int(other)))
        return NotImplemented

    __rmul__ = __mul__

    def __pow__(self, k: int) -> "Rep":
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 0:
            raise ValueError(f"a tensor power must be a non-negative int, got {k!r}")
        if k == 0:
            return Trivial(self.group)
        return self if k == 1 else TensorProduct(*([self] * int(k)))

    def dual(self) -> "Rep":
        """The dual (contragredient) representation ``g -> rho(g^-1)^T``; ``V.dual().dual() == V``.

        >>> from symjax.groups import SO
        >>> Standard(SO(3)).dual()
        Rep[SO(3)](V*)
        """
        return Dual(self)

    # -- matrices -------------------------------------------------------------------------------
    def rho(self, g) -> jax.Array:
        """The matrices ``(..., dim, dim)`` of the elements ``g``.

        Args:
          g: finite group: integer element(s) of any shape (Python, NumPy or traced ``jnp``);
            Lie group: ``(..., n, n)`` matrices of the group.

        >>> from symjax.groups import cyclic
        >>> Regular(cyclic(3)).rho(1).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
        """
        G = self.group
        if isinstance(G, FiniteGroup):
            g = check_element(g, G.order, "g")
            return jnp.asarray(self.matrices)[g]
        m = jnp.asarray(g)
        if m.ndim < 2 or m.shape[-2:] != (G.n, G.n):
            raise ValueError(f"rho of a {G.name} representation expects g of shape (..., {G.n}, {G.n}), "
                             f"got {m.shape}")
        return self._build(m, jnp)

    @property
    def matrices(self) -> np.ndarray:
        """Finite groups: ``(order, dim, dim)`` float64 matrices of every element (read-only, cached).

        >>> from symjax.groups import cyclic
        >>> (Standard(cyclic(4)) + Trivial(cyclic(4))).matrices.shape
        (4, 3, 3)
        """
        if not isinstance(self.group, FiniteGroup):
            raise ValueError(f"matrices lists every element of a finite group; {self.group.name} is a Lie "
                             "group: use rho(g) with a group matrix g")
        return _finite_matrices(self)

    def drho(self, A) -> np.ndarray:
        """The Lie algebra representation ``(dim, dim)`` of an algebra element ``A`` (``(n, n)``).

        >>> import numpy as np
        >>> from symjax.groups import SO
        >>> V = Standard(SO(3))
        >>> A = SO(3).lie_algebra[0]
        >>> bool(np.allclose((V * V).drho(A), np.kron(A, np.eye(3)) + np.kron(np.eye(3), A)))
        True
        """
        G = self.group
        if not isinstance(G, LieGroup):
            raise ValueError(f"drho is the Lie algebra representation; {G.name} is a finite group")
        A = np.asarray(A)
        if A.shape != (G.n, G.n):
            raise ValueError(f"drho of a {G.name} representation expects A of shape ({G.n}, {G.n}), got {A.shape}")
        return self._drho(A)


@functools.lru_cache(maxsize=None)
def _finite_matrices(rep: Rep) -> np.ndarray:
    out = np.asarray(rep._build(np.arange(rep.group.order), np))
    out.setflags(write=False)
    return out


class Trivial(Rep):
    """The trivial representation on ``R^1``: every ``g`` acts as ``1`` (scalars, invariants).

    >>> import jax
    >>> from symjax.groups import O
    >>> Trivial(O(3)).rho(O(3).sample(jax.random.key(0))).tolist()
    [[1.0]]
    """

    __slots__ = ("group",)

    def __init__(self, group: Group):
        object.__setattr__(self, "group", _check_group(group, "Trivial"))

    dim = property(lambda self: 1, doc="``1``.")

    def _key(self):
        return (self.group,)

    def _label(self):
        return "1"

    def _build(self, g, xp):
        batch = g.shape if isinstance(self.group, FiniteGroup) else g.shape[:-2]
        return xp.ones(batch + (1, 1))

    def _drho(self, A):
        return np.zeros((1, 1), A.dtype)


class Standard(Rep):
    """The group's own matrices: ``G.matrices`` of a finite group, or ``g`` itself for ``SO(n)``, ``O(n)``, ``SU(n)``.

    >>> from symjax.groups import SO, symmetric
    >>> Standard(SO(3)).dim, Standard(symmetric(4)).dim
    (3, 4)
    """

    __slots__ = ("group",)

    def __init__(self, group: Group):
        group = _check_group(group, "Standard")
        if isinstance(group, FiniteGroup) and group.matrices is None:
            raise ValueError(f"Standard expects a group with matrices; group {group.name} has none")
        object.__setattr__(self, "group", group)

    @property
    def dim(self) -> int:
        """``n`` for a Lie group, ``d`` of the ``(order, d, d)`` matrices of a finite group."""
        G = self.group
        return G.n if isinstance(G, LieGroup) else int(G.matrices.shape[-1])

    def _key(self):
        return (self.group,)

    def _label(self):
        return "V"

    def _build(self, g, xp):
        if isinstance(self.group, FiniteGroup):
            return xp.asarray(self.group.matrices)[g]
        return g

    def _drho(self, A):
        return A


class Regular(Rep):
    """The left regular representation of a finite group on ``R^|G|`` (``R[g][g*h, h] = 1``).

    >>> from symjax.groups import dihedral
    >>> Regular(dihedral(3)).dim
    6
    """

    __slots__ = ("group",)

    def __init__(self, group: FiniteGroup):
        group = _check_group(group, "Regular")
        if not isinstance(group, FiniteGroup):
            raise ValueError(f"Regular expects a finite group, got the Lie group {group.name}")
        object.__setattr__(self, "group", group)

    dim = property(lambda self: self.group.order, doc="``|G|``.")

    def _key(self):
        return (self.group,)

    def _label(self):
        return "R"

    def _build(self, g, xp):
        return xp.asarray(self.group.regular_representation().astype(np.float64))[g]


class Permutation(Rep):
    """A finite group permuting ``n`` points: element ``g`` sends point ``i`` to ``perms[g][i]``.

    The matrix of ``g`` is ``P e_i = e_{perms[g][i]}``; ``perms`` must be a homomorphism,
    ``perms[a*b][i] == perms[a][perms[b][i]]``.

    Args:
      group: a :class:`~symjax.groups.FiniteGroup`.
      perms: ``(order, n)`` integers; default: read from ``group.matrices``, which must then be
        permutation matrices (as for ``symmetric(n)`` and ``alternating(n)``).

    >>> from symjax.groups import cyclic
    >>> P = Permutation(cyclic(3), [[0, 1, 2], [1, 2, 0], [2, 0, 1]])
    >>> P.rho(1).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """

    __slots__ = ("group", "perms")

    def __init__(self, group: FiniteGroup, perms=None):
        group = _check_group(group, "Permutation")
        if not isinstance(group, FiniteGroup):
            raise ValueError(f"Permutation expects a finite group, got the Lie group {group.name}")
        if perms is None:
            mats = group.matrices
            if mats is None or not (np.isin(mats, (0.0, 1.0)).all() and (mats.sum(-2) == 1).all()
                                    and (mats.sum(-1) == 1).all()):
                raise ValueError(f"Permutation(group) reads perms from group.matrices, which must be permutation "
                                 f"matrices; {group.name} has {'none' if mats is None else 'other matrices'}: "
                                 "pass perms")
            table = np.argmax(mats, axis=-2)
        else:
            table = np.asarray(perms)
            if table.ndim != 2 or table.shape[0] != group.order or not np.issubdtype(table.dtype, np.integer):
                raise ValueError(f"perms must be integers of shape (order={group.order}, n), got shape "
                                 f"{table.shape}, dtype {table.dtype}")
            n = table.shape[1]
            if not (np.sort(table, axis=1) == np.arange(n)).all():
                raise ValueError(f"perms must hold a permutation of 0..{n - 1} in every row")
            composed = table[np.arange(group.order)[:, None, None], table[None]]  # [a, b, i] = p_a[p_b[i]]
            bad = np.argwhere((composed != table[group.cayley_table]).any(-1))
            if len(bad):
                a, b = bad[0]
                raise ValueError(f"perms is not an action of {group.name}: perms[{a}*{b}] != perms[{a}][perms[{b}]]")
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "perms", tuple(tuple(int(i) for i in row) for row in table))

    dim = property(lambda self: len(self.perms[0]), doc="The number of points ``n``.")

    def _key(self):
        return (self.group, self.perms)

    def _label(self):
        return f"P{self.dim}"

    def _build(self, g, xp):
        table = np.asarray(self.perms)
        mats = np.zeros((len(table), self.dim, self.dim))
        mats[np.arange(len(table))[:, None], table, np.arange(self.dim)] = 1.0
        return xp.asarray(mats)[g]


class DirectSum(Rep):
    """``rho_1 + rho_2 + ...``: block-diagonal, coordinates concatenated in order (nested sums flatten).

    >>> from symjax.groups import SO
    >>> V, S = Standard(SO(3)), Trivial(SO(3))
    >>> 2 * V + S, (2 * V + S).dim
    (Rep[SO(3)](2V + 1), 7)
    """

    __slots__ = ("reps",)

    def __init__(self, *reps: Rep):
        object.__setattr__(self, "reps", _flat_operands(reps, DirectSum, "DirectSum"))

    group = property(lambda self: self.reps[0].group, doc="The common group.")
    dim = property(lambda self: sum(r.dim for r in self.reps), doc="The sum of the dimensions.")

    def _key(self):
        return self.reps

    def _label(self):
        parts, i = [], 0
        while i < len(self.reps):
            j = i
            while j < len(self.reps) and self.reps[j] == self.reps[i]:
                j += 1
            label = self.reps[i]._label()
            parts.append(label if j - i == 1 else f"{j - i}{label}")
            i = j
        return " + ".join(parts)

    def _build(self, g, xp):
        return _block_diag([r._build(g, xp) for r in self.reps], xp)

    def _drho(self, A):
        return _block_diag([r._drho(A) for r in self.reps], np)


class TensorProduct(Rep):
    """``rho_1 * rho_2 * ...``: Kronecker product, coordinate ``(i, j)`` at ``i * dim_2 + j`` (row-major).

    >>> from symjax.groups import SO
    >>> V = Standard(SO(3))
    >>> V * V, (V * V).dim
    (Rep[SO(3)](V⊗V), 9)
    """

    __slots__ = ("reps",)

    def __init__(self, *reps: Rep):
        object.__setattr__(self, "reps", _flat_operands(reps, TensorProduct, "TensorProduct"))

    group = property(lambda self: self.reps[0].group, doc="The common group.")
    dim = property(lambda self: int(np.prod([r.dim for r in self.reps])), doc="The product of the dimensions.")

    def _key(self):
        return self.reps

    def _label(self):
        return "⊗".join(f"({r._label()})" if isinstance(r, DirectSum) else r._label() for r in self.reps)

    def _build(self, g, xp):
        out = self.reps[0]._build(g, xp)
        for r in self.reps[1:]:
            out = _kron(out, r._build(g, xp), xp)
        return out

    def _drho(self, A):
        dims = [r.dim for r in self.reps]
        total = np.zeros((self.dim, self.dim), np.result_type(A.dtype, np.float64))
        for i, r in enumerate(self.reps):
            left, right = np.eye(int(np.prod(dims[:i]))), np.eye(int(np.prod(dims[i + 1:])))
            total = total + np.kron(np.kron(left, r._drho(A)), right)
        return total


class Dual(Rep):
    """The dual (contragredient) representation ``rho(g^-1)^T``, with ``drho(A) = -drho(A)^T``.

    For orthogonal representations (``O(n)``, permutations) it equals ``rho`` itself.

    >>> from symjax.groups import SO
    >>> Dual(Standard(SO(3))).dim
    3
    """

    __slots__ = ("rep",)

    def __init__(self, rep: Rep):
        object.__setattr__(self, "rep", check_rep(rep, "rep"))

    group = property(lambda self: self.rep.group, doc="The group of ``rep``.")
    dim = property(lambda self: self.rep.dim, doc="The dimension of ``rep``.")

    def dual(self) -> Rep:
        return self.rep

    def _key(self):
        return (self.rep,)

    def _label(self):
        inner = self.rep._label()
        return f"{inner}*" if isinstance(self.rep, (Trivial, Standard, Regular, Permutation)) else f"({inner})*"

    def _build(self, g, xp):
        return xp.swapaxes(xp.linalg.inv(self.rep._build(g, xp)), -1, -2)

    def _drho(self, A):
        return -self.rep._drho(A).T


# The solver reads the classes above; importing it last keeps ``symjax.groups._reps`` the one import for both.
from symjax.groups._basis import MAX_PROBLEM_SIZE, equivariant_basis, invariant_basis  # noqa: E402
