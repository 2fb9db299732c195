"""Irreducible representations of the planar groups ``C_n``, ``D_n``, ``SO(2)``, ``O(2)``; decompositions, quotients, restriction.

Conventions (escnn users: the mapping is spelled out here and in :class:`Irrep`):

* ``C_n`` and ``SO(2)``: :class:`Irrep` ``(G, k)`` is the real irrep of frequency ``k``: the
  rotation by angle ``t`` acts as the 2x2 rotation by ``k * t`` (``[[cos, -sin], [sin, cos]]``),
  or as ``cos(k t) = +-1`` on ``R^1`` for ``k = 0`` and (``C_n``, even ``n``) ``k = n/2``.
* ``D_n`` and ``O(2)``: :class:`Irrep` ``(G, j, k)`` as escnn's ``irrep(j, k)``: ``j`` is the
  reflection frequency, ``k`` the rotation frequency. ``(0, 0)`` is trivial, ``(1, 0)`` the sign
  of the reflection, for even ``n`` ``(0, n/2)`` and ``(1, n/2)`` are ``(-1)^a`` times ``1`` or
  the reflection sign; ``(1, k)`` with ``0 < k < n/2`` (any ``k > 0`` for ``O(2)``) is
  ``r^a s^m -> R(k * 2 pi a / n) F^m`` with ``F = diag(-1, 1)``, the matrix of symjax's
  reflection ``s`` (the width flip), so ``Irrep(D_n, 1, 1)`` is ``Standard(D_n)`` itself.
  escnn writes its reflection as ``diag(1, -1)``: the two are the same irreps up to the fixed
  change of basis ``R(pi/2)`` (which commutes with every rotation).

Every irrep is orthogonal. The 2-dimensional irreps of ``C_n`` and ``SO(2)`` are of complex
type (their commutant, :func:`~symjax.groups.equivariant_basis` ``(psi, psi)``, is
``span{I, J}``, dimension 2); all others are of real type (commutant ``R I``).

>>> from symjax import groups
>>> psi = groups.Irrep(groups.cyclic(8), 1)
>>> psi.dim, psi.rho(2).round(6).tolist()  # a quarter turn
(2, [[0.0, -1.0], [1.0, 0.0]])
>>> groups.Irrep(groups.dihedral(4), 0, 1)
Traceback (most recent call last):
...
ValueError: Irrep of D4: (j, k) = (0, 1) is 2-dimensional, which exists only with j = 1 ...
"""
from __future__ import annotations

import functools
import math
import re
from typing import NamedTuple

import numpy as np

from symjax.groups._finite import FiniteGroup, Subgroup, cyclic, dihedral
from symjax.groups._lie import LieGroup
from symjax.groups._reps import DirectSum, Permutation, Regular, Rep, check_rep, equivariant_basis

__all__ = ["Irrep", "irreps", "Decomposition", "fourier_decomposition", "decompose", "Quotient",
           "Restricted", "restrict"]

PLANAR = "cyclic(n), dihedral(n), SO(2) or O(2)"


def planar_kind(G) -> tuple[str, int]:
    """``("C", n)``, ``("D", n)``, ``("SO", 0)`` or ``("O", 0)`` for a planar group, else ``ValueError``.

    >>> planar_kind(dihedral(6)), planar_kind(LieGroup("O", 2))
    (('D', 6), ('O', 0))
    """
    if not isinstance(G, (FiniteGroup, LieGroup)):
        raise TypeError(f"group must be a symjax FiniteGroup or LieGroup, got {type(G).__name__}")
    kind = _planar_kind(G)
    if kind is None:
        raise ValueError(f"group must be one of {PLANAR}, got {G.name}")
    return kind


@functools.lru_cache(maxsize=None)
def _planar_kind(G) -> tuple[str, int] | None:
    if isinstance(G, LieGroup):
        return (G.kind, 0) if G.n == 2 and G.kind in ("SO", "O") else None
    match = re.fullmatch(r"([CD])(\d+)", G.name)
    if match and int(match[2]) >= 1:
        kind, n = match[1], int(match[2])
        if G == (cyclic if kind == "C" else dihedral)(n):
            return kind, n
    return None


def _int(value, argname: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Irrep expects an integer {argname}, got {type(value).__name__}")
    return int(value)


def _rotation_table(n: int, k: int, a: np.ndarray) -> np.ndarray:
    """``(len(a), 2, 2)`` rotations by ``2 pi k a / n``, exact zeros at multiples of 90 degrees."""
    t = 2 * math.pi * ((k * a) % n) / n
    c, s = np.cos(t), np.sin(t)
    c[np.abs(c) < 1e-15] = 0.0
    s[np.abs(s) < 1e-15] = 0.0
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


class Irrep(Rep):
    """A real irreducible representation of ``cyclic(n)``, ``SO(2)`` (``Irrep(G, k)``) or ``dihedral(n)``, ``O(2)`` (``Irrep(G, j, k)``).

    ``C_n``/``SO(2)``: rotation by ``t`` acts as the rotation by ``k t``; ``0 <= k <= n // 2``
    (``C_n``), ``k >= 0`` (``SO(2)``); dimension 1 for ``k = 0`` and ``k = n/2``, else 2.
    ``D_n``/``O(2)``: escnn's ``irrep(j, k)``; ``j in {0, 1}`` is the reflection frequency, free
    only for the 1-dimensional ones (``k = 0``, and ``k = n/2`` for even ``n``); the 2-dimensional
    ones (``0 < k < n/2``; ``k >= 1`` for ``O(2)``) have ``j = 1`` and send ``r^a s^m`` to
    ``R(k * 2 pi a / n) @ diag(-1, 1)^m`` (an ``O(2)`` element ``g = R(t) diag(-1, 1)^m`` to
    ``R(k t) diag(-1, 1)^m``).

    Args:
      group: ``cyclic(n)``, ``dihedral(n)``, ``SO(2)`` or ``O(2)``.
      *index: ``k`` for ``C_n``/``SO(2)``; ``j, k`` for ``D_n``/``O(2)``.

    Attributes:
      j: the reflection frequency (``None`` for ``C_n``, ``SO(2)``); k: the rotation frequency;
      id: ``(k,)`` or ``(j, k)``; type: ``"C"`` (complex type: 2-dim irreps of ``C_n``, ``SO(2)``)
      or ``"R"``.

    >>> import numpy as np
    >>> from symjax.groups import O, Standard, dihedral, equivariant_basis
    >>> D8 = dihedral(8)
    >>> bool((Irrep(D8, 1, 1).matrices == Standard(D8).matrices).all())
    True
    >>> Irrep(D8, 1, 4).rho(D8.order - 1).tolist()  # r^7 s: (-1)^7 * (-1)
    [[1.0]]
    >>> psi1, psi2, psi3 = (Irrep(O(2), 1, k) for k in (1, 2, 3))
    >>> equivariant_basis(psi2 * psi1, psi3).shape  # frequencies 2 + 1 and 2 - 1: one map to psi3
    (1, 2, 4)
    """

    __slots__ = ("group", "j", "k")

    def __init__(self, group, *index: int):
        kind, n = planar_kind(group)
        reflections = kind in ("D", "O")
        if len(index) != (2 if reflections else 1):
            want = "Irrep(G, j, k) (escnn's irrep(j, k))" if reflections else "Irrep(G, k)"
            raise TypeError(f"an irrep of {group.name} is {want}, got {len(index)} index argument(s) {index}")
        k = _int(index[-1], "k")
        j = _int(index[0], "j") if reflections else None
        top = n // 2 if n else None
        if k < 0 or (top is not None and k > top):
            bound = f"0 <= k <= n // 2 = {top}" if top is not None else "k >= 0"
            raise ValueError(f"Irrep of {group.name} expects {bound}, got k = {k}")
        if reflections:
            if j not in (0, 1):
                raise ValueError(f"Irrep of {group.name} expects the reflection frequency j in {{0, 1}}, got j = {j}")
            if j == 0 and k != 0 and 2 * k != n:
                raise ValueError(f"Irrep of {group.name}: (j, k) = ({j}, {k}) is 2-dimensional, which exists "
                                 f"only with j = 1 (escnn's irrep(1, k)); j = 0 needs k = 0 or k = n/2")
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "j", j)
        object.__setattr__(self, "k", k)

    @property
    def dim(self) -> int:
        """1 for ``k = 0`` and ``k = n/2``, else 2."""
        n = planar_kind(self.group)[1]
        return 1 if self.k == 0 or 2 * self.k == n else 2

    @property
    def id(self) -> tuple[int, ...]:
        """``(k,)`` for ``C_n``/``SO(2)``, ``(j, k)`` for ``D_n``/``O(2)`` (escnn's ``irrep.id``)."""
        return (self.k,) if self.j is None else (self.j, self.k)

    @property
    def type(self) -> str:
        """``"C"`` for the 2-dim irreps of ``C_n``/``SO(2)`` (commutant of dimension 2), else ``"R"``."""
        return "C" if self.j is None and self.dim == 2 else "R"

    def _key(self):
        return (self.group, self.j, self.k)

    def _label(self):
        return f"ψ{self.k}" if self.j is None else f"ψ({self.j},{self.k})"

    def _build(self, g, xp):
        kind, n = planar_kind(self.group)
        if n:
            return xp.asarray(self._table())[g]
        batch = g.shape[:-2]
        det = g[..., 0, 0] * g[..., 1, 1] - g[..., 0, 1] * g[..., 1, 0] if kind == "O" else None
        if self.dim == 1:
            ones = xp.ones(batch + (1, 1), g.dtype)
            return ones * det[..., None, None] if self.j == 1 else ones
        flip = None if det is None else xp.stack([det, xp.ones_like(det)], -1)[..., None, :]
        rot = g if flip is None else g * flip  # g = R(t) F^m, F^m scales the first column by det
        out = xp.linalg.matrix_power(rot, self.k)
        return out if flip is None else out * flip

    def _table(self) -> np.ndarray:
        """``(order, dim, dim)`` float64 matrices of a finite group, element ``a + n*m`` = ``r^a s^m``."""
        n = planar_kind(self.group)[1]
        e = np.arange(self.group.order)
        a, m = e % n, e // n
        if self.dim == 1:
            power = a * (self.k > 0) + m * (self.j == 1)
            return ((-1.0) ** power)[:, None, None]
        out = _rotation_table(n, self.k, a)
        out[:, :, 0] *= np.where(m == 1, -1.0, 1.0)[:, None]
        return out

    def _drho(self, A):
        return np.zeros((1, 1), A.dtype) if self.dim == 1 else self.k * A


def irreps(group, max_frequency: int | None = None) -> tuple[Irrep, ...]:
    """The irreps of a planar group, by rotation frequency ``k`` then reflection frequency ``j``.

    Args:
      group: ``cyclic(n)``, ``dihedral(n)``, ``SO(2)`` or ``O(2)``.
      max_frequency: keep ``k <= max_frequency`` (escnn's ``bl_irreps``); required for ``SO(2)``,
        ``O(2)``; default for ``C_n``/``D_n``: all, ``n // 2``.

    Returns:
      A tuple of :class:`Irrep`: ``C_n``/``SO(2)``: ``k = 0, 1, ..``; ``D_n``/``O(2)``:
      ``(0, 0), (1, 0), (1, 1), ..`` with ``(0, n/2), (1, n/2)`` last for even ``n``.

    >>> from symjax.groups import dihedral
    >>> [psi.id for psi in irreps(dihedral(4))]
    [(0, 0), (1, 0), (1, 1), (0, 2), (1, 2)]
    """
    kind, n = planar_kind(group)
    if max_frequency is None:
        if not n:
            raise ValueError(f"irreps of {group.name} (infinitely many) need max_frequency, got None")
        max_frequency = n // 2
    top = _int(max_frequency, "max_frequency")
    if top < 0:
        raise ValueError(f"irreps expects max_frequency >= 0, got {top}")
    if n:
        top = min(top, n // 2)
    out = []
    for k in range(top + 1):
        if kind in ("C", "SO"):
            out.append(Irrep(group, k))
        else:
            out.extend(Irrep(group, j, k) for j in ((0, 1) if k == 0 or 2 * k == n else (1,)))
    return tuple(out)


class Decomposition(NamedTuple):
    """``rep(g) == Q @ block_diag(copies of the irreps)(g) @ Q.T``, with ``Q = change_of_basis`` orthogonal.

    ``irreps[i]`` appears ``multiplicities[i]`` times, its copies consecutive, in this order;
    ``rep`` is that direct sum.
    """

    irreps: tuple[Irrep, ...]
    multiplicities: tuple[int, ...]
    change_of_basis: np.ndarray

    @property
    def rep(self) -> Rep:
        """The direct sum of the irreps, each repeated ``multiplicity`` times (the block-diagonal form)."""
        return DirectSum(*[psi for psi, m in zip(self.irreps, self.multiplicities) for _ in range(m)])


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, np.float64)
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=None)
def fourier_decomposition(group: FiniteGroup) -> Decomposition:
    """The regular representation of ``C_n``/``D_n`` as its Fourier decomposition, in closed form.

    ``Regular(G)(g) = Q @ D(g) @ Q.T``: every irrep ``psi`` of real type appears ``psi.dim``
    times, each 2-dim irrep of ``C_n`` (complex type) once; the columns of ``Q`` for copy ``c``
    of ``psi`` are ``sqrt(dim / |G|) * psi(h)[:, c]`` over the elements ``h`` (the discrete
    Fourier basis: cosines and sines of frequency ``k``). ``Q.T @ f`` are the Fourier
    coefficients of a regular field ``f`` (last axis ``|G|``, the contract's order).

    Args:
      group: ``cyclic(n)`` or ``dihedral(n)``.

    Returns:
      a :class:`Decomposition`; ``sum(m * psi.dim) == |G|``; ``change_of_basis`` ``(|G|, |G|)``.

    >>> import numpy as np
    >>> from symjax.groups import Regular, cyclic
    >>> F = fourier_decomposition(cyclic(4))
    >>> [(psi.id, m) for psi, m in zip(F.irreps, F.multiplicities)]
    [((0,), 1), ((1,), 1), ((2,), 1)]
    >>> Q = F.change_of_basis
    >>> bool(np.allclose(Q @ F.rep.matrices @ Q.T, Regular(cyclic(4)).matrices))
    True
    """
    kind, n = planar_kind(group)
    if not n:
        raise ValueError(f"fourier_decomposition expects a finite group, cyclic(n) or dihedral(n), got {group.name}")
    blocks, mults = [], []
    for psi in irreps(group):
        mult = 1 if psi.type == "C" else psi.dim
        mats = psi.matrices  # (order, d, d)
        blocks.extend(math.sqrt(psi.dim / group.order) * mats[:, :, c] for c in range(mult))
        mults.append(mult)
    return Decomposition(irreps(group), tuple(mults), _frozen(np.concatenate(blocks, axis=1)))


def _max_frequency(rep: Rep) -> int:
    """The largest rotation frequency in a representation of ``SO(2)``/``O(2)``: eigenvalues ``+-i k`` of ``drho(J)``."""
    eig = np.linalg.eigvals(rep.drho(rep.group.lie_algebra[0]))
    return int(round(float(np.abs(eig.imag).max()))) if eig.size else 0


def _generator_matrices(rep: Rep) -> list[np.ndarray]:
    G = rep.group
    if isinstance(G, FiniteGroup):
        return list(rep.matrices)
    mats = [rep.drho(A) for A in G.lie_algebra]
    if G.kind == "O":
        mats.append(np.asarray(rep._build(np.diag([-1.0, 1.0]), np)))
    return mats


@functools.lru_cache(maxsize=None)
def _decompose(rep: Rep) -> Decomposition:
    if isinstance(rep, Regular) and planar_kind(rep.group)[1]:
        return fourier_decomposition(rep.group)
    top = planar_kind(rep.group)[1] // 2 if isinstance(rep.group, FiniteGroup) else _max_frequency(rep)
    found, mults, columns = [], [], []
    for psi in irreps(rep.group, top):
        commutant = equivariant_basis(psi, psi)
        chosen = []
        for b in equivariant_basis(psi, rep):  # (dim, d) maps W with W psi(g) = rep(g) W
            for w in chosen:  # Gram-Schmidt against the copies found: their images are orthogonal
                for e in commutant:
                    v = w @ e
                    b = b - np.sum(v * b) / np.sum(v * v) * v
            scale = np.sum(b * b) / psi.dim  # b.T b = scale * I for an orthogonal rep
            if scale > 1e-12:
                chosen.append(b / math.sqrt(scale))
        if chosen:
            found.append(psi)
            mults.append(len(chosen))
            columns.extend(chosen)
    Q = np.concatenate(columns, axis=1) if columns else np.zeros((rep.dim, 0))
    out = Decomposition(tuple(found), tuple(mults), _frozen(Q))
    ok = Q.shape[1] == rep.dim and all(
        np.allclose(Q @ d @ Q.T, m, atol=1e-6) for d, m in zip(_generator_matrices(out.rep), _generator_matrices(rep)))
    if not ok:
        raise ValueError(f"decompose expects an orthogonal representation (rho(g).T == rho(g)^-1); {rep!r} "
                         "is not one, so its isotypic copies are not orthogonal")
    return out


def decompose(rep: Rep) -> Decomposition:
    """Any orthogonal representation of a planar group as a direct sum of :class:`Irrep` s, ``rep(g) = Q D(g) Q.T``.

    Solved once per ``rep`` (cached) from :func:`~symjax.groups.equivariant_basis` ``(psi, rep)``
    for every irrep ``psi``; the regular representation of ``C_n``/``D_n`` gets the closed form
    of :func:`fourier_decomposition`. ``SO(2)``/``O(2)``: the frequencies are read from the
    eigenvalues of ``drho``.

    Args:
      rep: a representation of ``cyclic(n)``, ``dihedral(n)``, ``SO(2)`` or ``O(2)`` with
        orthogonal matrices (every symjax leaf and construction of them but :class:`Dual` of a
        non-orthogonal one).

    Returns:
      a :class:`Decomposition` (irreps in the order of :func:`irreps`, ``change_of_basis``
      ``(dim, dim)`` orthogonal).

    >>> from symjax.groups import SO, dihedral
    >>> psi = Irrep(SO(2), 2)
    >>> d = decompose(psi * psi)  # frequencies 2 + 2 and 2 - 2
    >>> [(p.id, m) for p, m in zip(d.irreps, d.multiplicities)]
    [((0,), 2), ((4,), 1)]
    >>> d = decompose(Quotient(dihedral(4), [0, 4]))  # D4 on the 4 cosets of {e, s}
    >>> [(p.id, m) for p, m in zip(d.irreps, d.multiplicities)]
    [((0, 0), 1), ((1, 1), 1), ((0, 2), 1)]
    """
    check_rep(rep, "rep")
    planar_kind(rep.group)
    return _decompose(rep)


class Quotient(Permutation):
    """The permutation representation of a finite group on the left cosets ``G / H`` (escnn's quotient representation).

    Coset ``i`` is row ``i`` of ``G.cosets(H)`` (the first is ``H``); ``g`` sends ``c_i H`` to
    ``g c_i H``. ``Quotient(G, [0])`` is ``Regular(G)`` (same matrices), ``Quotient(G, G)`` trivial.

    Args:
      group: a :class:`~symjax.groups.FiniteGroup`.
      subgroup: a :class:`~symjax.groups.Subgroup` of ``group`` or its elements.

    >>> from symjax.groups import dihedral
    >>> D4 = dihedral(4)
    >>> Q = Quotient(D4, D4.subgroup([4]))  # functions on the 4 reflection axes up to flip
    >>> Q.dim, Q.rho(1).astype(int).tolist()[0]
    (4, [0, 0, 0, 1])
    """

    __slots__ = ("subgroup",)

    def __init__(self, group: FiniteGroup, subgroup):
        if not isinstance(group, FiniteGroup):
            raise TypeError(f"Quotient expects group to be a FiniteGroup, got {type(group).__name__}")
        cosets = group.cosets(subgroup)
        elements = cosets[0]
        table = group.cayley_table
        if not np.isin(table[np.ix_(elements, elements)], elements).all():
            raise ValueError(f"Quotient expects subgroup to be closed under the group law of {group.name}, got "
                             f"elements {sorted(elements.tolist())}")
        which = np.empty(group.order, np.int64)
        for i, row in enumerate(cosets):
            which[row] = i
        perms = which[table[:, cosets[:, 0]]]  # [g, i] = the coset of g * c_i
        super().__init__(group, perms)
        object.__setattr__(self, "subgroup", tuple(sorted(int(e) for e in elements)))

    def _key(self):
        return (self.group, self.perms, self.subgroup)

    def _label(self):
        return f"Q{self.dim}"


class Restricted(Rep):
    """``rep`` viewed as a representation of a subgroup: ``rho_H(h) = rho(embed(h))`` (see :func:`restrict`).

    >>> from symjax.groups import cyclic, dihedral
    >>> R = Restricted(Irrep(dihedral(8), 1, 3), cyclic(4), (0, 2, 4, 6))
    >>> R.dim, R.group.name
    (2, 'C4')
    """

    __slots__ = ("rep", "group", "embedding")

    def __init__(self, rep: Rep, group, embedding: tuple[int, ...] | None):
        object.__setattr__(self, "rep", check_rep(rep, "rep"))
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "embedding", None if embedding is None else tuple(int(e) for e in embedding))

    dim = property(lambda self: self.rep.dim, doc="The dimension of ``rep``.")

    def _key(self):
        return (self.rep, self.group, self.embedding)

    def _label(self):
        return f"{self.rep._label()}↓{self.group.name}"

    def _build(self, g, xp):
        if self.embedding is not None:
            return self.rep._build(xp.asarray(self.embedding)[g], xp)
        if isinstance(self.group, FiniteGroup):  # a finite subgroup of SO(2)/O(2), through its matrices
            return self.rep._build(xp.asarray(self.group.matrices)[g], xp)
        return self.rep._build(g, xp)

    def _drho(self, A):
        return self.rep._drho(A)


def _planar_embedding(parent, child) -> tuple[int, ...] | None:
    """The natural inclusion of a planar ``child`` in a planar ``parent``, as element indices (None: by matrices)."""
    (pk, n), (ck, m) = planar_kind(parent), planar_kind(child)
    fits = {"C": ("C", "D", "SO", "O"), "D": ("D", "O"), "SO": ("SO", "O"), "O": ("O",)}
    if pk not in fits[ck] or (n and m and n % m) or (m == 0 and n):
        raise ValueError(f"restrict: {child.name} is not a subgroup of {parent.name} (the rotations of C_m/D_m "
                         "lie in C_n/D_n when m divides n; reflections only in D_n, O(2))")
    if not n:
        return None
    e = np.arange(child.order)
    return tuple((e % m) * (n // m) + n * (e // m))


def restrict(rep: Rep, subgroup) -> Rep:
    """``rep`` restricted to a subgroup: the same matrices, on the subgroup's elements.

    Args:
      rep: any :class:`~symjax.groups.Rep`.
      subgroup: a :class:`~symjax.groups.Subgroup` of ``rep.group`` (the result is a rep of
        ``subgroup.group``), or a planar group naturally inside a planar ``rep.group``:
        ``cyclic(m)`` in ``cyclic(n)``/``dihedral(n)`` (``m`` divides ``n``, ``r -> r^(n/m)``),
        ``dihedral(m)`` in ``dihedral(n)`` (same reflection ``s``), ``cyclic(m)``/``dihedral(m)``
        in ``SO(2)``/``O(2)`` (by their matrices), ``SO(2)`` in ``O(2)``.

    Returns:
      a :class:`Restricted` rep of the subgroup (``rep`` itself when ``subgroup`` is its group);
      :func:`decompose` splits it into the subgroup's irreps.

    >>> from symjax.groups import cyclic, dihedral
    >>> R = restrict(Irrep(dihedral(8), 1, 3), cyclic(4))  # frequency 3 seen by C4 is 3 = -1 mod 4
    >>> d = decompose(R)
    >>> [(p.id, m) for p, m in zip(d.irreps, d.multiplicities)]
    [((1,), 1)]
    """
    check_rep(rep, "rep")
    parent = rep.group
    if isinstance(subgroup, Subgroup):
        if not isinstance(parent, FiniteGroup) or subgroup.elements.max() >= parent.order or not np.array_equal(
                parent.cayley_table[np.ix_(subgroup.elements, subgroup.elements)],
                subgroup.elements[subgroup.group.cayley_table]):
            raise ValueError(f"restrict expects subgroup to be a Subgroup of rep.group = {parent.name}, got "
                             f"{subgroup.group.name}")
        return Restricted(rep, subgroup.group, subgroup.elements)
    if not isinstance(subgroup, (FiniteGroup, LieGroup)):
        raise TypeError(f"restrict expects subgroup to be a Subgroup or a planar group, got {type(subgroup).__name__}")
    if subgroup == parent:
        return rep
    return Restricted(rep, subgroup, _planar_embedding(parent, subgroup))
