"""The equivariant basis: the linear maps that commute with two representations, solved once and cached.

>>> from symjax.groups import SO, Standard
>>> equivariant_basis(Standard(SO(3)), Standard(SO(3))).shape  # multiples of the identity
(1, 3, 3)
"""
from __future__ import annotations

import functools

import numpy as np

from symjax.groups._finite import FiniteGroup
from symjax.groups._reps import DirectSum, Rep, Trivial, check_rep

__all__ = ["MAX_PROBLEM_SIZE", "equivariant_basis", "invariant_basis"]

MAX_PROBLEM_SIZE = 4096
"""Largest ``dim_in * dim_out`` solved as one dense problem (direct sums are split into blocks first)."""

NULL_RTOL = 1e-6
"""Singular values below this fraction of the largest count as zero (the nullspace)."""


@functools.lru_cache(maxsize=None)
def _finite_generators(G: FiniteGroup) -> tuple[int, ...]:
    """A small generating set, greedily: each generator is the first element not yet generated."""
    gens, reached = [], {0}
    for a in range(G.order):
        if a not in reached:
            gens.append(a)
            reached = set(G.subgroup(gens).elements.tolist())
    return tuple(gens)


def _constraints(rep_in: Rep, rep_out: Rep) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs ``(M_in, M_out)``: ``W`` is equivariant iff ``W M_in == M_out W`` for every pair."""
    G = rep_in.group
    if isinstance(G, FiniteGroup):
        gens = np.asarray(_finite_generators(G), np.int64)
        return list(zip(rep_in._build(gens, np), rep_out._build(gens, np)))
    pairs = [(rep_in._drho(A), rep_out._drho(A)) for A in G.lie_algebra]
    if G.kind == "O":  # O(n) = SO(n) and one reflection: the algebra does not see it
        h = np.diag([-1.0] + [1.0] * (G.n - 1))
        pairs.append((rep_in._build(h, np), rep_out._build(h, np)))
    return pairs


def _solve(rep_in: Rep, rep_out: Rep) -> np.ndarray:
    """Orthonormal nullspace of the constraints ``C_k vec(W) = 0``, ``C_k = W M_in - M_out W`` per generator.

    The nullspace of the stacked ``C`` is spanned by its right singular vectors with zero
    singular value, which are the eigenvectors of ``C^H C = sum_k C_k^H C_k`` with zero
    eigenvalue: that ``n x n`` Hermitian matrix (``n = dim_in * dim_out``) is assembled from
    Kronecker products of the small matrices and diagonalised (``eigh``), which is several
    times faster than an SVD of the stacked ``(k n, n)`` constraints.
    """
    din, dout = rep_in.dim, rep_out.dim
    n = din * dout
    if n > MAX_PROBLEM_SIZE:
        raise ValueError(f"equivariant_basis solves one dense problem of size dim_in * dim_out = {din} * {dout} "
                         f"= {n} for {rep_in!r} -> {rep_out!r}, above the limit {MAX_PROBLEM_SIZE}; write the "
                         "representations as direct sums of smaller ones (solved block by block)")
    pairs = _constraints(rep_in, rep_out)
    if not pairs:  # the trivial group: every map is equivariant
        return np.eye(n).reshape(n, dout, din)
    # row-major vec: vec(W M) = (I kron M^T) vec(W), vec(M W) = (M kron I) vec(W)
    eye_in, eye_out = np.eye(din), np.eye(dout)
    gram = np.zeros((n, n), np.result_type(*[m for pair in pairs for m in pair], np.float64))
    for m_in, m_out in pairs:
        cross = np.kron(m_out, m_in.conj())
        gram += (np.kron(eye_out, m_in.conj() @ m_in.T) + np.kron(m_out.conj().T @ m_out, eye_in)
                 - cross - cross.conj().T)
    eigvals, eigvecs = np.linalg.eigh(gram)  # ascending; eigenvalues are squared singular values of C
    null = eigvecs[:, eigvals <= NULL_RTOL ** 2 * max(float(eigvals[-1]), 1.0)].T
    # a deterministic sign: the first entry of largest magnitude of each basis map is positive
    mags = np.abs(null)
    first = np.argmax(mags >= (1.0 - 1e-6) * mags.max(axis=1, keepdims=True), axis=1)
    lead = null[np.arange(len(null)), first]
    return (null * (np.abs(lead) / lead)[:, None]).reshape(-1, dout, din)


def _summands(rep: Rep) -> tuple[Rep, ...]:
    return rep.reps if isinstance(rep, DirectSum) else (rep,)


@functools.lru_cache(maxsize=None)
def _basis(rep_in: Rep, rep_out: Rep) -> np.ndarray:
    ins, outs = _summands(rep_in), _summands(rep_out)
    if len(ins) == len(outs) == 1:
        out = _solve(rep_in, rep_out)
    else:  # Hom(+A_i, +B_j) is the direct sum of the blocks Hom(A_i, B_j), each solved once
        blocks, o = [], 0
        for b in outs:
            i = 0
            for a in ins:
                sub = _basis(a, b)
                full = np.zeros((len(sub), rep_out.dim, rep_in.dim), sub.dtype)
                full[:, o:o + b.dim, i:i + a.dim] = sub
                blocks.append(full)
                i += a.dim
            o += b.dim
        out = np.concatenate(blocks)
    out.setflags(write=False)
    return out


def equivariant_basis(rep_in: Rep, rep_out: Rep) -> np.ndarray:
    """An orthonormal basis of the linear maps ``W`` with ``W rho_in(g) = rho_out(g) W`` for all ``g``.

    Solved once per ``(rep_in, rep_out)`` and cached (the same read-only array is returned
    on every call): the nullspace, by SVD, of the constraints stacked over the generators
    of the group (finite: a generating set of elements; Lie: ``W drho_in(A) = drho_out(A) W``
    for each Lie algebra basis element ``A``, plus the reflection ``diag(-1, 1, ..)`` for
    ``O(n)``). Direct sums are split into blocks, each pair of summands solved (and cached)
    once, so ``16 * V -> 16 * V`` costs one ``3 x 3`` solve.

    Args:
      rep_in: the representation on the input, ``dim_in``.
      rep_out: the representation on the output, ``dim_out``, of the same group.

    Returns:
      ``(k, dim_out, dim_in)`` float64 (complex128 for complex representations such as
      ``SU(n)``'s), orthonormal for the Frobenius inner product; ``k`` may be 0.

    >>> from symjax.groups import SO, Standard, symmetric
    >>> V = Standard(SO(3))
    >>> W = equivariant_basis(V, V)
    >>> W.shape, W[0].round(4).tolist()[0]
    ((1, 3, 3), [0.5774, 0.0, 0.0])
    >>> equivariant_basis(Standard(symmetric(4)), Standard(symmetric(4))).shape  # DeepSets: identity, all-ones
    (2, 4, 4)
    """
    check_rep(rep_in, "rep_in")
    check_rep(rep_out, "rep_out")
    if rep_in.group != rep_out.group:
        raise ValueError(f"rep_in and rep_out must be representations of one group, got rep_in of "
                         f"{rep_in.group.name} and rep_out of {rep_out.group.name}")
    return _basis(rep_in, rep_out)


def invariant_basis(rep: Rep) -> np.ndarray:
    """An orthonormal basis ``(k, dim)`` of the invariant vectors, ``rho(g) v = v`` for all ``g``.

    The directions along which an equivariant layer may add a bias (cached like
    :func:`equivariant_basis`, of which it is the ``Trivial -> rep`` case).

    >>> from symjax.groups import SO, Standard
    >>> V = Standard(SO(3))
    >>> invariant_basis(V * V).round(4).tolist()  # the identity matrix, flattened
    [[0.5774, 0.0, 0.0, 0.0, 0.5774, 0.0, 0.0, 0.0, 0.5774]]
    """
    check_rep(rep, "rep")
    return equivariant_basis(Trivial(rep.group), rep)[:, :, 0]
