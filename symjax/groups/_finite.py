"""Finite groups as integer Cayley tables."""
from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Sequence

import jax.numpy as jnp
import numpy as np

from symjax.groups._elements import check_element

__all__ = [
    "FiniteGroup", "Subgroup", "GroupAxiomError", "check_group", "trivial", "cyclic", "dihedral",
    "symmetric", "alternating", "klein_four", "direct_product", "from_cayley_table", "generate",
]


class GroupAxiomError(ValueError):
    """A Cayley table violates a group axiom; the message names the axiom and the elements.

    >>> try:
    ...     from_cayley_table([[0, 1], [1, 1]])
    ... except GroupAxiomError as err:
    ...     print(type(err).__name__)
    GroupAxiomError"""


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.setflags(write=False)
    return a


class FiniteGroup:
    """A finite group given by its Cayley table; element ``0`` is the identity.

    Immutable and hashable, so it can be a static argument of :func:`jax.jit`
    and an attribute of a Flax module.

    Args:
      name: a readable name such as ``"D4"``.
      cayley_table: ``(order, order)`` integers with ``table[a, b] = a * b``.
      matrices: optional ``(order, d, d)`` faithful real (or complex) matrix
        representation, ``matrices[table[a, b]] == matrices[a] @ matrices[b]``.
      validate: check the group axioms (raises :class:`GroupAxiomError`).

    >>> G = FiniteGroup("C2", [[0, 1], [1, 0]])
    >>> G.order, G.is_abelian, int(G.compose(1, 1))
    (2, True, 0)
    """

    __slots__ = ("_name", "_table", "_inverse", "_matrices", "_hash")

    def __init__(self, name: str, cayley_table, matrices=None, *, validate: bool = True):
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        table = np.asarray(cayley_table)
        if table.ndim != 2 or table.shape[0] != table.shape[1] or table.shape[0] == 0:
            raise ValueError(f"cayley_table must be a non-empty square (order, order) array, got shape {table.shape}")
        if not np.issubdtype(table.dtype, np.integer):
            if np.issubdtype(table.dtype, np.floating) and np.all(table == np.round(table)):
                table = table.astype(np.int64)
            else:
                raise TypeError(f"cayley_table must hold integers, got dtype {table.dtype}")
        table = table.astype(np.int32)
        n = table.shape[0]
        if validate:
            _check_table(table, name)
        inverse = np.argmin(table, axis=1).astype(np.int32)  # the b with a*b == 0
        if matrices is not None:
            matrices = np.asarray(matrices)
            if matrices.ndim != 3 or matrices.shape[0] != n or matrices.shape[1] != matrices.shape[2]:
                raise ValueError(f"matrices must have shape ({n}, d, d), got {matrices.shape}")
            if validate:
                prod = np.einsum("aij,bjk->abik", matrices, matrices)
                bad = np.argwhere(np.abs(prod - matrices[table]).max(axis=(-2, -1)) > 1e-6)
                if len(bad):
                    a, b = bad[0]
                    raise GroupAxiomError(f"matrices are not a representation of {name}: "
                                          f"matrices[{a}] @ matrices[{b}] != matrices[{table[a, b]}]")
            matrices = _frozen(matrices)
        self._name = name
        self._table = _frozen(table)
        self._inverse = _frozen(inverse)
        self._matrices = matrices
        self._hash = hash((name, table.tobytes(), None if matrices is None else matrices.tobytes()))

    # -- data -----------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The group's name, e.g. ``"D4"``."""
        return self._name

    @property
    def order(self) -> int:
        """The number of elements."""
        return int(self._table.shape[0])

    @property
    def cayley_table(self) -> np.ndarray:
        """``(order, order)`` int32, ``table[a, b] = a * b`` (read-only)."""
        return self._table

    @property
    def inverse_table(self) -> np.ndarray:
        """``(order,)`` int32, ``inverse_table[a] = a^-1`` (read-only)."""
        return self._inverse

    @property
    def identity(self) -> int:
        """The identity element, always ``0``."""
        return 0

    @property
    def matrices(self) -> np.ndarray | None:
        """``(order, d, d)`` faithful matrix representation, or ``None``."""
        return self._matrices

    @property
    def is_abelian(self) -> bool:
        """Whether ``a * b == b * a`` for all elements."""
        return bool(np.array_equal(self._table, self._table.T))

    def __len__(self) -> int:
        return self.order

    def __repr__(self) -> str:
        return f"FiniteGroup({self._name!r}, order={self.order})"

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other) -> bool:
        if not isinstance(other, FiniteGroup):
            return NotImplemented
        if self._hash != other._hash or self._name != other._name:
            return False
        if not np.array_equal(self._table, other._table):
            return False
        if (self._matrices is None) != (other._matrices is None):
            return False
        return self._matrices is None or np.array_equal(self._matrices, other._matrices)

    def __setattr__(self, key, value):
        if hasattr(self, "_hash"):
            raise dataclasses.FrozenInstanceError(f"FiniteGroup is immutable; cannot set {key!r}")
        object.__setattr__(self, key, value)

    def __reduce__(self):
        return (FiniteGroup, (self._name, self._table, self._matrices), None)

    # -- group law ------------------------------------------------------------------------------
    def compose(self, a, b):
        """The product ``a * b`` (apply ``b`` first, then ``a``), broadcasting.

        Accepts Python ints, NumPy ints and (traced) jnp integer arrays.

        >>> from symjax.groups import dihedral
        >>> D4 = dihedral(4)
        >>> int(D4.compose(1, 4))  # r * s
        5
        """
        a = check_element(a, self.order, "a")
        b = check_element(b, self.order, "b")
        return jnp.asarray(self._table)[a, b]

    def inverse(self, a):
        """The inverse ``a^-1``, broadcasting; accepts ints and traced arrays.

        >>> from symjax.groups import cyclic
        >>> int(cyclic(4).inverse(1))
        3
        """
        a = check_element(a, self.order, "a")
        return jnp.asarray(self._inverse)[a]

    def regular_representation(self) -> np.ndarray:
        """Left regular representation: ``(order, order, order)`` with ``R[g][g*h, h] = 1``.

        >>> from symjax.groups import cyclic
        >>> R = cyclic(3).regular_representation()
        >>> R.shape, bool((R[1] @ R[1] == R[2]).all())
        ((3, 3, 3), True)
        """
        n = self.order
        R = np.zeros((n, n, n), np.float32)
        g, h = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        R[g, self._table[g, h], h] = 1.0
        return R

    # -- subgroups ------------------------------------------------------------------------------
    def subgroup(self, generators: Sequence[int], name: str | None = None) -> "Subgroup":
        """The subgroup generated by ``generators``.

        >>> from symjax.groups import dihedral
        >>> H = dihedral(4).subgroup([1])  # the rotations
        >>> H.elements.tolist(), H.group.order
        ([0, 1, 2, 3], 4)
        """
        gens = np.atleast_1d(np.asarray(generators, dtype=np.int64))
        check_element(gens, self.order, "generators")
        elements = {0}
        frontier = [0]
        while frontier:
            new = []
            for e in frontier:
                for g in gens:
                    p = int(self._table[e, g])
                    if p not in elements:
                        elements.add(p)
                        new.append(p)
            frontier = new
        return self._make_subgroup(np.array(sorted(elements)), name)

    def _make_subgroup(self, elements: np.ndarray, name: str | None) -> "Subgroup":
        position = np.full(self.order, -1, np.int64)
        position[elements] = np.arange(len(elements))
        sub_table = position[self._table[np.ix_(elements, elements)]]
        if (sub_table < 0).any():
            raise ValueError(f"elements {elements.tolist()} are not closed under the group law of {self._name}")
        mats = None if self._matrices is None else self._matrices[elements]
        if name is None:
            name = f"{self._name}<{','.join(map(str, elements.tolist()))}>"
        return Subgroup(_frozen(elements.astype(np.int32)), FiniteGroup(name, sub_table, mats, validate=False))

    def _as_elements(self, H) -> np.ndarray:
        if isinstance(H, Subgroup):
            elements = np.asarray(H.elements)
        else:
            elements = np.unique(np.asarray(H, dtype=np.int64))
        check_element(elements, self.order, "H")
        if 0 not in elements:
            raise ValueError(f"H must contain the identity 0, got elements {elements.tolist()}")
        return elements

    def is_normal(self, H) -> bool:
        """Whether the subgroup ``H`` (a :class:`Subgroup` or its elements) is normal.

        >>> from symjax.groups import dihedral
        >>> D4 = dihedral(4)
        >>> D4.is_normal(D4.subgroup([1])), D4.is_normal(D4.subgroup([4]))
        (True, False)
        """
        elements = self._as_elements(H)
        conj = self._table[self._table[:, elements], self._inverse[:, None]]  # g h g^-1
        return bool(np.isin(conj, elements).all())

    def cosets(self, H) -> np.ndarray:
        """Left cosets ``gH``: ``(order // |H|, |H|)`` ints; the first row is ``H`` itself.

        >>> from symjax.groups import cyclic
        >>> cyclic(4).cosets(cyclic(4).subgroup([2])).tolist()
        [[0, 2], [1, 3]]
        """
        elements = self._as_elements(H)
        rows, seen = [], np.zeros(self.order, bool)
        for g in range(self.order):
            if not seen[g]:
                row = self._table[g, elements]
                seen[row] = True
                rows.append(row)
        return np.stack(rows).astype(np.int32)

    def quotient(self, H, name: str | None = None) -> "FiniteGroup":
        """The quotient group ``G / H``; element ``i`` is the ``i``-th left coset.

        Raises:
          ValueError: if ``H`` is not a subgroup (not closed under the group law),
            or is a subgroup that is not normal.

        >>> from symjax.groups import dihedral
        >>> D4 = dihedral(4)
        >>> D4.quotient(D4.subgroup([1])).order
        2
        """
        elements = self._as_elements(H)
        products = self._table[np.ix_(elements, elements)]
        outside = np.argwhere(~np.isin(products, elements))
        if len(outside):
            a, b = elements[outside[0]]
            raise ValueError(f"quotient needs a subgroup H; {elements.tolist()} is not a subgroup of {self._name}: "
                             f"not closed ({a} * {b} = {products[tuple(outside[0])]} is not in H)")
        if not self.is_normal(H):
            raise ValueError(f"quotient needs a normal subgroup H; {self._as_elements(H).tolist()} "
                             f"is not normal in {self._name}")
        cosets = self.cosets(H)
        which = np.empty(self.order, np.int64)
        for i, row in enumerate(cosets):
            which[row] = i
        reps = cosets[:, 0]
        table = which[self._table[np.ix_(reps, reps)]]
        hname = H.group.name if isinstance(H, Subgroup) else f"<{len(cosets[0])}>"
        return FiniteGroup(name or f"{self._name}/{hname}", table)


@dataclasses.dataclass(frozen=True)
class Subgroup:
    """A subgroup: its ``elements`` (indices in the parent, sorted, identity first) and its own ``group``.

    >>> from symjax.groups import cyclic
    >>> cyclic(6).subgroup([2]).elements.tolist()
    [0, 2, 4]
    """

    elements: np.ndarray
    group: FiniteGroup

    def __hash__(self):
        return hash((self.elements.tobytes(), self.group))

    def __eq__(self, other):
        return (isinstance(other, Subgroup) and np.array_equal(self.elements, other.elements)
                and self.group == other.group)


def _check_table(table: np.ndarray, name: str) -> None:
    n = table.shape[0]
    bad = np.argwhere((table < 0) | (table >= n))
    if len(bad):
        a, b = bad[0]
        raise GroupAxiomError(f"{name}: closure fails, table[{a}, {b}] = {table[a, b]} is not in [0, {n})")
    ar = np.arange(n)
    bad = np.flatnonzero((table[0] != ar) | (table[:, 0] != ar))
    if len(bad):
        a = bad[0]
        raise GroupAxiomError(f"{name}: identity fails, element 0 is not the identity: "
                              f"0*{a} = {table[0, a]}, {a}*0 = {table[a, 0]}")
    for a in range(n):
        row = table[a]
        if len(np.unique(row)) != n:
            raise GroupAxiomError(f"{name}: inverses fail, row of element {a} is not a permutation "
                                  f"(a*b == a*c for some b != c), so {a} has no unique inverse")
        b = int(np.argmin(row))
        if table[b, a] != 0:
            raise GroupAxiomError(f"{name}: inverses fail, {a}*{b} = 0 but {b}*{a} = {table[b, a]}")
    chunk = max(1, 2 ** 22 // (n * n))
    for start in range(0, n, chunk):
        a = ar[start:start + chunk, None, None]
        lhs = table[table[a, ar[None, :, None]], ar[None, None, :]]
        rhs = table[a, table[ar[:, None], ar[None, :]][None]]
        bad = np.argwhere(lhs != rhs)
        if len(bad):
            i, b, c = bad[0]
            a0 = start + i
            raise GroupAxiomError(f"{name}: associativity fails for elements ({a0}, {b}, {c}): "
                                  f"({a0}*{b})*{c} = {lhs[i, b, c]} but {a0}*({b}*{c}) = {rhs[i, b, c]}")


def check_group(G) -> None:
    """Verify closure, identity (element 0), inverses and associativity.

    Args:
      G: a :class:`FiniteGroup` or an ``(order, order)`` Cayley table.

    Raises:
      GroupAxiomError: naming the failing axiom and the violating elements.

    >>> check_group(cyclic(5))
    >>> check_group([[0, 1], [1, 1]])
    Traceback (most recent call last):
    ...
    symjax.groups._finite.GroupAxiomError: table: inverses fail, row of element 1 is not a permutation ...
    """
    if isinstance(G, FiniteGroup):
        _check_table(np.asarray(G.cayley_table), G.name)
    else:
        table = np.asarray(G)
        if table.ndim != 2 or table.shape[0] != table.shape[1]:
            raise ValueError(f"G must be a FiniteGroup or a square Cayley table, got shape {table.shape}")
        _check_table(table, "table")


def positive_int(n, argname: str, fn: str, minimum: int = 1) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{fn} expects an integer {argname}, got {type(n).__name__}")
    if n < minimum:
        raise ValueError(f"{fn} expects {argname} >= {minimum}, got {n}")
    return int(n)


def _rotation(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    m = np.array([[c, -s], [s, c]])
    m[np.abs(m) < 1e-15] = 0.0
    return m


def trivial() -> FiniteGroup:
    """The trivial group ``{e}`` (acts as the identity).

    >>> trivial().order
    1
    """
    return FiniteGroup("C1", [[0]], np.eye(2)[None])


def cyclic(n: int) -> FiniteGroup:
    """The cyclic group ``C_n``: element ``k`` is the rotation by ``2*pi*k/n`` counter-clockwise.

    Matrices are the 2x2 rotations acting on ``(x, y)``, ``x`` along the width.

    >>> C4 = cyclic(4)
    >>> C4.order, int(C4.compose(3, 2)), C4.matrices[1].tolist()
    (4, 1, [[0.0, -1.0], [1.0, 0.0]])
    """
    n = positive_int(n, "n", "cyclic")
    k = np.arange(n)
    table = (k[:, None] + k[None, :]) % n
    mats = np.stack([_rotation(2 * math.pi * i / n) for i in range(n)])
    return FiniteGroup(f"C{n}", table, mats, validate=False)


def dihedral(n: int) -> FiniteGroup:
    """The dihedral group ``D_n`` of order ``2n``: element ``k + n*m`` is ``r^k s^m``.

    ``s`` is the reflection ``x -> -x`` (the width flip) and ``r`` the rotation by
    ``2*pi/n``; ``r^k s^m`` first reflects ``m`` times, then rotates by ``k``.

    >>> D4 = dihedral(4)
    >>> D4.order, D4.is_abelian, int(D4.compose(4, 1))  # s r = r^3 s
    (8, False, 7)
    """
    n = positive_int(n, "n", "dihedral")
    idx = np.arange(2 * n)
    k, m = idx % n, idx // n
    k1, m1, k2, m2 = k[:, None], m[:, None], k[None, :], m[None, :]
    table = (k1 + np.where(m1 == 1, -k2, k2)) % n + n * (m1 ^ m2)
    flip = np.diag([-1.0, 1.0])
    mats = np.stack([_rotation(2 * math.pi * ki / n) @ (flip if mi else np.eye(2)) for ki, mi in zip(k, m)])
    return FiniteGroup(f"D{n}", table, mats, validate=False)


def _permutation_group(perms: list[tuple[int, ...]], name: str) -> FiniteGroup:
    index = {p: i for i, p in enumerate(perms)}
    table = np.array([[index[tuple(p[q_i] for q_i in q)] for q in perms] for p in perms])
    n = len(perms[0])
    mats = np.zeros((len(perms), n, n))
    for i, p in enumerate(perms):
        mats[i, list(p), np.arange(n)] = 1.0  # P e_j = e_{p(j)}
    return FiniteGroup(name, table, mats, validate=False)


def symmetric(n: int) -> FiniteGroup:
    """The symmetric group ``S_n`` (order ``n!``), permutations in lexicographic order.

    Element ``p`` maps ``i -> perm[i]``; ``compose(p, q)`` is ``p o q`` (``q`` first).
    ``matrices`` are permutation matrices with ``P e_i = e_{p(i)}``.

    >>> S3 = symmetric(3)
    >>> S3.order, S3.is_abelian
    (6, False)
    """
    n = positive_int(n, "n", "symmetric")
    if n > 7:
        raise ValueError(f"symmetric expects n <= 7 (a Cayley table of order n!), got {n}")
    return _permutation_group(list(itertools.permutations(range(n))), f"S{n}")


def _is_even(p) -> bool:
    inversions = sum(1 for i in range(len(p)) for j in range(i + 1, len(p)) if p[i] > p[j])
    return inversions % 2 == 0


def alternating(n: int) -> FiniteGroup:
    """The alternating group ``A_n`` of even permutations (order ``n!/2`` for ``n >= 2``).

    >>> alternating(4).order
    12
    """
    n = positive_int(n, "n", "alternating")
    if n > 7:
        raise ValueError(f"alternating expects n <= 7, got {n}")
    return _permutation_group([p for p in itertools.permutations(range(n)) if _is_even(p)], f"A{n}")


def klein_four() -> FiniteGroup:
    """The Klein four-group ``C2 x C2``, as the diagonal sign matrices ``diag(+-1, +-1)``.

    >>> V = klein_four()
    >>> V.order, V.is_abelian, int(V.compose(3, 3))
    (4, True, 0)
    """
    G = direct_product(cyclic(2), cyclic(2))
    mats = np.stack([np.diag([a, b]) for a in (1.0, -1.0) for b in (1.0, -1.0)])
    return FiniteGroup("V4", G.cayley_table, mats)


def direct_product(G: FiniteGroup, H: FiniteGroup) -> FiniteGroup:
    """The direct product ``G x H``: element ``(g, h)`` has index ``g * |H| + h``.

    Matrices (when both have them) are block diagonal.

    >>> P = direct_product(cyclic(2), cyclic(3))
    >>> P.order, P.is_abelian
    (6, True)
    """
    for arg, val in (("G", G), ("H", H)):
        if not isinstance(val, FiniteGroup):
            raise TypeError(f"direct_product expects {arg} to be a FiniteGroup, got {type(val).__name__}")
    nh = H.order
    g = np.arange(G.order * nh) // nh
    h = np.arange(G.order * nh) % nh
    table = G.cayley_table[g[:, None], g[None, :]] * nh + H.cayley_table[h[:, None], h[None, :]]
    mats = None
    if G.matrices is not None and H.matrices is not None:
        dg, dh = G.matrices.shape[-1], H.matrices.shape[-1]
        dtype = np.result_type(G.matrices.dtype, H.matrices.dtype)
        mats = np.zeros((len(g), dg + dh, dg + dh), dtype)
        mats[:, :dg, :dg] = G.matrices[g]
        mats[:, dg:, dg:] = H.matrices[h]
    return FiniteGroup(f"{G.name}x{H.name}", table, mats, validate=False)


def from_cayley_table(table, name: str = "G", matrices=None) -> FiniteGroup:
    """A group from a Cayley table, validated (identity must be element 0).

    Raises:
      GroupAxiomError (a ``ValueError``): if the table is not a group.

    >>> from_cayley_table([[0, 1, 2], [1, 2, 0], [2, 0, 1]], name="Z3").order
    3
    """
    return FiniteGroup(name, table, matrices, validate=True)


def generate(matrices, name: str = "G", *, max_order: int = 2048, atol: float = 1e-6) -> FiniteGroup:
    """The finite group generated by ``matrices`` (closure under products).

    Elements are numbered in breadth-first order from the identity (element 0).

    Args:
      matrices: ``(k, d, d)`` generator matrices (or a list of them).
      name: the group's name.
      max_order: stop with ``ValueError`` past this many elements (an infinite
        or too-large group).
      atol: two products closer than this are the same element.

    >>> import numpy as np
    >>> G = generate([np.array([[0., -1.], [1., 0.]]), np.diag([-1., 1.])], name="D4'")
    >>> G.order, G.is_abelian
    (8, False)
    """
    gens = np.asarray(matrices)
    if gens.ndim == 2:
        gens = gens[None]
    if gens.ndim != 3 or gens.shape[1] != gens.shape[2] or gens.shape[0] == 0:
        raise ValueError(f"generate expects matrices of shape (k, d, d), got {gens.shape}")
    d = gens.shape[-1]
    scale = 1.0 / atol

    def key(m):
        return (np.round(m.real * scale).astype(np.int64) + 0).tobytes() + (
            (np.round(m.imag * scale).astype(np.int64) + 0).tobytes() if np.iscomplexobj(m) else b"")

    elements = [np.eye(d, dtype=gens.dtype)]
    index = {key(elements[0]): 0}
    frontier = [0]
    while frontier:
        new = []
        for i in frontier:
            for g in gens:
                m = g @ elements[i]
                k = key(m)
                if k not in index:
                    if len(elements) >= max_order:
                        raise ValueError(f"generate: the group generated by matrices has more than "
                                         f"max_order={max_order} elements (infinite, or raise max_order)")
                    index[k] = len(elements)
                    elements.append(m)
                    new.append(len(elements) - 1)
        frontier = new
    mats = np.stack(elements)
    n = len(elements)
    table = np.empty((n, n), np.int64)
    for a in range(n):
        for b in range(n):
            k = key(mats[a] @ mats[b])
            if k not in index:
                raise ValueError("generate: matrices are not closed to within atol; loosen atol")
            table[a, b] = index[k]
    return FiniteGroup(name, table, mats, validate=False)
