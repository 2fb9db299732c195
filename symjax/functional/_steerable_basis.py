"""Steerable kernel bases for the planar groups: Gaussian rings times circular harmonics, solved once, cached.

A kernel between field types ``in_rep -> out_rep`` of a planar group ``G``
(``cyclic(n)``, ``dihedral(n)``, ``SO(2)``, ``O(2)``, any finite group of 2x2
orthogonal matrices) is steerable when ``k(g x) = rho_out(g) k(x) rho_in(g)^-1``
for every ``g``. The basis is built from *ring harmonics*
``exp(-(|x| - r_j)^2 / (2 sigma_j^2)) * (1, cos(m t), sin(m t))`` (``t`` the angle of
``x``), ``m <= max_frequency[j]`` on ring ``j`` (the band limit: escnn's defaults,
the frequency allowed grows with the radius; the radial profile: escnn's, but for
odd kernels of 5x5 and more the outer ring pulled in and widened, :func:`ring_settings`),
sampled on the kernel's pixel grid and normalised there (unit norm; those the grid does
not resolve are dropped). A rotation of the plane maps this space onto itself analytically, so the copy of a ring harmonic rotated
by ``h`` is evaluated exactly at the rotated points (no interpolation). From it:

- into a regular field (``Regular(G)``) the kernel is a free band-limited function
  ``kappa`` (its row for the identity) and its row ``h`` is ``kappa(h^-1 x) rho_in(h)^T``;
  out of a regular field, column ``h`` is ``rho_out(h) kappa(h^-1 x)``;
- any other pair is the group average (Reynolds projection) of the band-limited
  kernels, ``(1/|G|) sum_h rho_out(h) kappa(h^-1 x) rho_in(h)^T``, orthonormalised by an
  SVD; for ``SO(2)``/``O(2)`` the average runs over ``N`` rotations with ``N`` above
  the largest frequency in play, where it equals the integral over the circle
  (trigonometric polynomials), so the basis is exactly that of the continuous group.
  For ``C_n`` this includes the aliased harmonics ``m = k_out +- k_in + t n``.

Sampling at the pixel centres about the kernel centre is symmetric under the
elements that map the grid onto itself (multiples of 90 degrees, the flips): for
those the sampled basis is exactly equivariant; for the others it is as
equivariant as the band limit lets the grid resolve the rotated harmonics.

>>> from symjax import groups
>>> C8 = groups.cyclic(8)
>>> steerable_basis(groups.Irrep(C8, 1), groups.Irrep(C8, 2), 5).shape  # (basis, kh, kw, din, dout)
(4, 5, 5, 2, 2)
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from symjax.functional._steerable_rings import (  # re-exported: the radial profile and band limit of a basis
    OUTER_PULL, OUTER_SIGMA, RingSettings, escnn_rings, escnn_sigma, ring_settings)
from symjax.geometry import regular_index
from symjax.groups import DirectSum, FiniteGroup, LieGroup, Regular, Rep, decompose, invariant_basis

__all__ = ["HE_GAIN", "Block", "Plan", "plan", "expand_kernel", "MIN_NORM", "OUTER_PULL", "OUTER_SIGMA", "RingSettings",
           "ring_settings", "escnn_rings", "escnn_sigma", "steerable_basis", "PairBasis", "pair_basis",
           "rotated_harmonics", "summands"]

MIN_NORM = 1e-6
"""A ring harmonic whose samples on the grid have a smaller norm is not resolved there: dropped."""

RCOND = 1e-6
"""Singular value below which a group average of unit-norm kernels counts as zero (not equivariant)."""


def grid_points(k: int) -> np.ndarray:
    """``(k*k, 2)`` tap coordinates ``(x, y)``: ``x`` along the width, ``y`` up, about the kernel centre (row-major)."""
    y, x = np.meshgrid((k - 1) / 2 - np.arange(k), np.arange(k) - (k - 1) / 2, indexing="ij")
    return np.stack([x.reshape(-1), y.reshape(-1)], -1)


def _raw_harmonics(settings: RingSettings, points: np.ndarray) -> np.ndarray:
    """``(..., F_raw, Q)`` ring harmonics at ``points`` ``(..., Q, 2)``; frequency > 0 vanishes at the origin."""
    x, y = points[..., 0], points[..., 1]
    r = np.hypot(x, y)
    t = np.arctan2(y, x)
    off = r > 1e-9
    out = []
    for radius, s, top in zip(settings.rings, settings.sigma, settings.max_frequency):
        ring = np.exp(-0.5 * ((r - radius) / s) ** 2)
        out.append(ring)
        for m in range(1, top + 1):
            out += [ring * np.cos(m * t) * off, ring * np.sin(m * t) * off]
    return np.stack(out, -2)


@functools.lru_cache(maxsize=None)
def _normalisation(settings: RingSettings) -> np.ndarray:
    """``(F, F_raw)``: each ring harmonic scaled to unit norm on the grid; those that vanish there (norm below
    :data:`MIN_NORM`) dropped.

    Not orthogonalised: whitening the overlapping rings weights up the combinations that
    the grid resolves worst, and measured a larger off-grid error (C8: 5.5e-3 against
    4.0e-3 for this, ``benchmarks/bench_steerable.py``'s network).
    """
    raw = _raw_harmonics(settings, grid_points(settings.kernel_size))
    norms = np.linalg.norm(raw, axis=-1)
    keep = norms > MIN_NORM
    out = np.eye(len(raw))[keep] / norms[keep, None]
    out.setflags(write=False)
    return out


def _elements(group, frequency: int) -> np.ndarray:
    """``(E, 2, 2)``: the group's matrices; for ``SO(2)``/``O(2)`` an ``N``-gon exact up to ``frequency``."""
    if isinstance(group, FiniteGroup):
        return np.asarray(group.matrices, np.float64)
    n = 2 * frequency + 2
    t = 2 * math.pi * np.arange(n) / n
    c, s = np.cos(t), np.sin(t)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    if group.kind == "SO":
        return rot
    return np.concatenate([rot, rot @ np.diag([-1.0, 1.0])])


def _matrices(rep: Rep, mats: np.ndarray) -> np.ndarray:
    """``(E, d, d)`` float64 matrices of ``rep`` at the elements ``mats`` (finite: all, in order)."""
    if isinstance(rep.group, FiniteGroup):
        return np.asarray(rep.matrices, np.float64)
    return np.asarray(rep._build(mats, np), np.float64)


def _frequency(rep: Rep) -> int:
    """An upper bound on the rotation frequencies of a representation of ``SO(2)``/``O(2)`` (0 for finite groups)."""
    if isinstance(rep.group, FiniteGroup):
        return 0
    return max(psi.k for psi in decompose(rep).irreps)


def rotated_harmonics(group, settings: RingSettings, points: np.ndarray | None = None,
                      frequency: int = 0) -> np.ndarray:
    """``(E, F, Q)``: the normalised ring harmonics at ``h^-1 x`` for each element ``h`` (:func:`_elements`).

    ``points`` default to the kernel's grid taps (``Q = k*k``); ``frequency`` bounds the
    representations' frequencies for ``SO(2)``/``O(2)`` (the size of the ``N``-gon).
    """
    return _rotated(group, settings, frequency) if points is None else _rotate(group, settings, points, frequency)


def _rotate(group, settings, points, frequency):
    mats = _elements(group, frequency + max(settings.max_frequency))
    moved = np.einsum("eji,qj->eqi", mats, points)  # h^-1 x = h^T x for orthogonal h
    return np.einsum("fr,erq->efq", _normalisation(settings), _raw_harmonics(settings, moved))


@functools.lru_cache(maxsize=None)
def _rotated(group, settings: RingSettings, frequency: int) -> np.ndarray:
    out = _rotate(group, settings, grid_points(settings.kernel_size), frequency)
    out.setflags(write=False)
    return out


def summands(rep: Rep) -> tuple[Rep, ...]:
    """The summands of a :class:`~symjax.groups.DirectSum`, else ``(rep,)``."""
    return rep.reps if isinstance(rep, DirectSum) else (rep,)


class PairBasis(NamedTuple):
    """The steerable basis between one input and one output field type, on the grid.

    ``kind`` is ``"regular"`` (``Regular -> Regular`` of a finite group: ``harmonics``
    ``(|G|, F, P)`` rotated copies, basis element ``(f, g)`` is the kernel
    ``K[p, h', h] = harmonics[h, f, p] / sqrt(|G|)`` where ``h^-1 h' = g``) or ``"dense"``
    (``tensor`` ``(B, P, din, dout)``: orthonormal for a pair of non-regular types, unit-norm
    elements for a regular type and another). ``energy`` is the mean over
    output components of ``sum_b sum_{p, i} K_b[p, i, o]^2`` (the response to white
    inputs), ``dc_energy`` that of ``sum_b sum_i (sum_p K_b[p, i, o])^2`` (the response to
    constant inputs; equal to ``energy`` for a free kernel), both for the initialisation.
    """

    kind: str
    size: int
    tensor: np.ndarray | None
    harmonics: np.ndarray | None
    energy: float
    dc_energy: float


def _reynolds(rep_in: Rep, rep_out: Rep, psi: np.ndarray, mats: np.ndarray) -> np.ndarray:
    """``(F*din*dout, Q, din, dout)``: the group averages of the band-limited kernels ``psi_f E_{i0 o0}``."""
    rin, rout = _matrices(rep_in, mats), _matrices(rep_out, mats)
    n = len(mats)
    out = np.einsum("eoO,efq,eiI->fIOqio", rout, psi, rin, optimize=True) / n
    f, din, dout, q = out.shape[:4]
    return out.reshape(f * din * dout, q, din, dout)


def _check_orthogonal(rep: Rep, mats: np.ndarray, name: str) -> None:
    m = _matrices(rep, mats)
    if not np.allclose(np.einsum("eij,ekj->eik", m, m), np.eye(rep.dim), atol=1e-6):
        raise ValueError(f"a steerable kernel needs orthogonal representations; {name} = {rep!r} is not one")


def _is_regular(rep: Rep) -> bool:
    return isinstance(rep, Regular) and isinstance(rep.group, FiniteGroup)


@functools.lru_cache(maxsize=None)
def _dense_solution(rep_in: Rep, rep_out: Rep, settings: RingSettings) -> tuple[np.ndarray, np.ndarray]:
    """``(tensor (B, P, din, dout), coefficients (B, F*din*dout))``: the group-averaged kernels, orthonormalised."""
    frequency = _frequency(rep_in) + _frequency(rep_out)
    mats = _elements(rep_in.group, frequency + max(settings.max_frequency))
    _check_orthogonal(rep_in, mats, "in_rep")
    _check_orthogonal(rep_out, mats, "out_rep")
    raw = _reynolds(rep_in, rep_out, rotated_harmonics(rep_in.group, settings, frequency=frequency), mats)
    flat = raw.reshape(len(raw), -1)
    if not flat.size:
        return np.zeros((0,) + raw.shape[1:]), np.zeros((0, len(raw)))
    eigvals, u = np.linalg.eigh(flat @ flat.T)  # the left singular vectors: a small Gram matrix, not an SVD
    keep = eigvals > RCOND ** 2
    coefficients = (u[:, keep] / np.sqrt(eigvals[keep])).T[::-1]  # largest first
    return (coefficients @ flat).reshape((-1,) + raw.shape[1:]), coefficients


def _kappa_row(rep_in: Rep, psi: np.ndarray) -> np.ndarray:
    """``(F*din, Q, din, |G|)``: into a regular field, ``K[q, i, h] = psi[h, f, q] rho_in(h)[i, i0] / sqrt(|G|)``."""
    rin = np.asarray(rep_in.matrices, np.float64)
    out = np.einsum("efq,eiI->fIqie", psi, rin, optimize=True) / math.sqrt(len(rin))
    return out.reshape((-1,) + out.shape[2:])


def _kappa_column(rep_out: Rep, psi: np.ndarray) -> np.ndarray:
    """``(F*dout, Q, |G|, dout)``: out of a regular field, ``K[q, h, o] = rho_out(h)[o, o0] psi[h, f, q] / sqrt(|G|)``."""
    rout = np.asarray(rep_out.matrices, np.float64)
    out = np.einsum("efq,eoO->fOqeo", psi, rout, optimize=True) / math.sqrt(len(rout))
    return out.reshape((-1,) + out.shape[2:])


def _regular_dense(psi: np.ndarray, G: FiniteGroup) -> np.ndarray:
    """``(F*|G|, Q, |G|, |G|)``: the regular-to-regular basis written out densely (element ``(f, g)``)."""
    n = len(psi)
    onehot = np.eye(n)[regular_index(G)]  # [h, h', g] = 1 where h^-1 h' = g
    out = np.einsum("hfq,hag->fgqah", psi, onehot, optimize=True) / math.sqrt(n)
    return out.reshape((-1,) + out.shape[2:])


def _energy(tensor: np.ndarray) -> float:
    return float(np.mean(np.sum(tensor ** 2, axis=(0, 1, 2)))) if tensor.size else 0.0


def _dc_energy(tensor: np.ndarray) -> float:
    return float(np.mean(np.sum(np.sum(tensor, axis=1) ** 2, axis=(0, 1)))) if tensor.size else 0.0


@functools.lru_cache(maxsize=None)
def pair_basis(rep_in: Rep, rep_out: Rep, settings: RingSettings) -> PairBasis:
    """The :class:`PairBasis` of ``rep_in -> rep_out`` (two summand types of one planar group), cached."""
    G = rep_in.group
    if _is_regular(rep_in) and _is_regular(rep_out):
        psi = _rotated(G, settings, 0)
        energy = float(np.mean(np.sum(psi ** 2, axis=(1, 2))))  # per output element h: sum over (f, h', p)
        dc_energy = float(np.mean(np.sum(np.sum(psi, axis=2) ** 2, axis=1)))
        return PairBasis("regular", psi.shape[1] * G.order, None, psi, energy, dc_energy)
    if _is_regular(rep_out):
        tensor = _kappa_row(rep_in, _rotated(G, settings, 0))
    elif _is_regular(rep_in):
        tensor = _kappa_column(rep_out, _rotated(G, settings, 0))
    else:
        tensor = _dense_solution(rep_in, rep_out, settings)[0]
    tensor = tensor.astype(np.float32)
    tensor.setflags(write=False)
    return PairBasis("dense", len(tensor), tensor, None, _energy(tensor), _dc_energy(tensor))


def _pair_at(rep_in: Rep, rep_out: Rep, settings: RingSettings, points: np.ndarray) -> np.ndarray:
    """The basis of :func:`pair_basis`, densely, evaluated at ``points`` ``(Q, 2)``: ``(B, Q, din, dout)``."""
    G = rep_in.group
    frequency = _frequency(rep_in) + _frequency(rep_out)
    psi = rotated_harmonics(G, settings, points, frequency)
    if _is_regular(rep_in) and _is_regular(rep_out):
        return _regular_dense(psi, G)
    if _is_regular(rep_out):
        return _kappa_row(rep_in, psi)
    if _is_regular(rep_in):
        return _kappa_column(rep_out, psi)
    coefficients = _dense_solution(rep_in, rep_out, settings)[1]
    mats = _elements(G, frequency + max(settings.max_frequency))
    raw = _reynolds(rep_in, rep_out, psi, mats)
    return np.einsum("br,rqio->bqio", coefficients, raw)


def steerable_basis(in_rep: Rep, out_rep: Rep, kernel_size: int | Sequence[int] = 3, *,
                    rings: Sequence[float] | None = None, sigma: float | Sequence[float] | None = None,
                    max_frequency: int | Sequence[int] | None = None, points=None) -> np.ndarray:
    """The steerable kernel basis of ``in_rep -> out_rep``, sampled on the pixel grid (or at ``points``).

    Every ``K = sum_b w_b basis[b]`` satisfies ``K(g x) = rho_in(g) K(x) rho_out(g)^T`` in the
    layout ``(din, dout)`` of a convolution kernel (``HWIO``), i.e. ``k(g x) = rho_out(g) k(x)
    rho_in(g)^-1`` for ``k = K^T``. On the grid this holds exactly for the elements that map it onto
    itself; at ``points`` (continuous coordinates) for every element of the group.
    This is the basis :class:`~symjax.functional.FunctionalSteerableConv` expands, one
    block per pair of summands of ``in_rep``, ``out_rep`` (zero elsewhere).

    Args:
      in_rep, out_rep: representations of one planar group: ``cyclic(n)``, ``dihedral(n)``
        (any finite group of 2x2 orthogonal matrices), ``SO(2)`` or ``O(2)``; orthogonal.
      kernel_size: ``k`` or ``(k, k)``.
      rings, sigma, max_frequency: the radial profile and band limit (:func:`ring_settings`).
      points: optional ``(Q, 2)`` coordinates ``(x, y)`` (``x`` along the width, ``y`` up, in
        pixels about the kernel centre) at which to evaluate the basis instead of the grid.

    Returns:
      float64 ``(B, k, k, din, dout)``, or ``(B, Q, din, dout)`` at ``points``.

    >>> import numpy as np
    >>> from symjax import groups
    >>> D8 = groups.dihedral(8)
    >>> basis = steerable_basis(groups.Trivial(D8), groups.Regular(D8), 5)
    >>> basis.shape
    (11, 5, 5, 1, 16)
    >>> quarter = np.rot90(basis, 1, axes=(1, 2))  # the taps turned by 90 degrees (element r^2) ...
    >>> bool(np.allclose(quarter, basis @ groups.Regular(D8).matrices[2]))  # ... permute the group axis
    True
    """
    for argname, rep in (("in_rep", in_rep), ("out_rep", out_rep)):
        if not isinstance(rep, Rep):
            raise TypeError(f"steerable_basis expects {argname} to be a symjax.groups.Rep, got {type(rep).__name__}")
    settings = ring_settings(kernel_size, rings, sigma, max_frequency)
    G = in_rep.group
    if out_rep.group != G:
        raise ValueError(f"in_rep and out_rep must be representations of one group, got {G.name} and "
                         f"{out_rep.group.name}")
    check_planar(G)
    at = grid_points(settings.kernel_size) if points is None else np.asarray(points, np.float64)
    if at.ndim != 2 or at.shape[1] != 2:
        raise ValueError(f"steerable_basis expects points of shape (Q, 2), got {at.shape}")
    blocks = []
    outs, ins = summands(out_rep), summands(in_rep)
    o = 0
    for b in outs:
        i = 0
        for a in ins:
            sub = _pair_at(a, b, settings, at)
            full = np.zeros((len(sub), len(at), in_rep.dim, out_rep.dim))
            full[:, :, i:i + a.dim, o:o + b.dim] = sub
            blocks.append(full)
            i += a.dim
        o += b.dim
    out = np.concatenate(blocks)
    if points is None:
        out = out.reshape((len(out), settings.kernel_size, settings.kernel_size) + out.shape[2:])
    return out


def check_planar(G) -> None:
    """Raise unless ``G`` is ``SO(2)``, ``O(2)`` or a finite group of 2x2 orthogonal matrices."""
    if isinstance(G, LieGroup):
        if G.n == 2 and G.kind in ("SO", "O"):
            return
    elif isinstance(G, FiniteGroup):
        mats = G.matrices
        if mats is not None and mats.shape[-2:] == (2, 2) and not np.iscomplexobj(mats) and np.allclose(
                mats @ np.swapaxes(mats, -1, -2), np.eye(2), atol=1e-6):
            return
    raise ValueError(f"a steerable kernel needs a group of the plane: cyclic(n), dihedral(n), SO(2) or O(2), got "
                     f"{getattr(G, 'name', type(G).__name__)}")


# -- the expansion plan of a layer: its coefficients, their initialisation, its kernel -------------------

HE_GAIN = 2.0
"""He's gain for ReLU networks: the target, per output component at initialisation, of the kernel's
response to constant inputs ``E[sum_i (sum_p k)^2]`` (``dc_energy``), or of its response to white
inputs ``E[sum_p,i k^2]`` (``energy``) where that is larger.

A free kernel (C4, D4) answers every input alike (independent taps: both energies are equal). The
smooth steerable kernels answer constant and smooth inputs more strongly than white ones, by
``rho = dc_energy / energy`` (1.3, 2.7, 3.5 for 3x3, 5x5, 7x7 kernels), and the feature maps of a
network are smooth and, after a ReLU, carry a mean. Calibrated on white inputs, or on the geometric
mean of the two responses, every steerable layer raised the activation scale against C4's layers
and C8/C16 nets started at 2-3x the scale of the C4 net (``benchmarks/bench_steerable_init.py
--scale``); calibrated on the constant response they keep it (``tests/functional/test_steerable.py``).
"""


class Block(NamedTuple):
    t_in: int
    t_out: int
    basis: PairBasis
    offset: int
    shape: tuple[int, ...]
    std: float


class Plan(NamedTuple):
    """How a flat coefficient vector becomes the kernel ``(P, din, dout)`` of ``in_rep -> out_rep``."""

    types_in: tuple[Rep, ...]
    types_out: tuple[Rep, ...]
    mult_in: tuple[int, ...]
    mult_out: tuple[int, ...]
    blocks: tuple[Block, ...]
    size: int
    perm_in: np.ndarray | None
    perm_out: np.ndarray | None
    bias_matrix: np.ndarray
    group_index: np.ndarray | None


def _types(rep: Rep):
    """Distinct summand types (first appearance), multiplicities, and the permutation to the original order."""
    parts = summands(rep)
    types = tuple(dict.fromkeys(parts))
    mult = tuple(sum(p == t for p in parts) for t in types)
    starts, pos = {}, 0
    for t in types:  # the sorted layout: all copies of type 0, then type 1, ...
        starts[t] = pos
        pos += t.dim * mult[types.index(t)]
    seen = {t: 0 for t in types}
    perm = []
    for p in parts:
        base = starts[p] + seen[p] * p.dim
        perm.extend(range(base, base + p.dim))
        seen[p] += 1
    perm = np.asarray(perm, np.int32)
    return types, mult, (None if np.array_equal(perm, np.arange(len(perm))) else perm)


def _bias_matrix(rep: Rep) -> np.ndarray:
    """``(n_invariants, dim)``: the invariant vectors of each summand, placed at its position."""
    rows, pos = [], 0
    for p in summands(rep):
        for v in invariant_basis(p):
            row = np.zeros(rep.dim, np.float32)
            row[pos:pos + p.dim] = v
            rows.append(row)
        pos += p.dim
    return np.stack(rows) if rows else np.zeros((0, rep.dim), np.float32)


@functools.lru_cache(maxsize=None)
def plan(in_rep: Rep, out_rep: Rep, settings: RingSettings) -> Plan:
    """The cached :class:`Plan` of a steerable kernel ``in_rep -> out_rep`` (every pair of summand types solved once)."""
    types_in, mult_in, perm_in = _types(in_rep)
    types_out, mult_out, perm_out = _types(out_rep)
    blocks, offset = [], 0
    for o, b in enumerate(types_out):
        pairs = [(i, a, pair_basis(a, b, settings)) for i, a in enumerate(types_in)]
        live = [(i, a, basis) for i, a, basis in pairs if basis.size and basis.energy > 0]
        fan_in = sum(mult_in[i] * a.dim for i, a, _ in live)
        for i, a, basis in live:
            if basis.kind == "regular":
                shape = (basis.harmonics.shape[1], mult_in[i], a.dim, mult_out[o])
            else:
                shape = (basis.size, mult_in[i], mult_out[o])
            std = math.sqrt(HE_GAIN * a.dim / (fan_in * max(basis.dc_energy, basis.energy)))
            blocks.append(Block(i, o, basis, offset, shape, std))
            offset += math.prod(shape)
    G = in_rep.group
    group_index = regular_index(G).astype(np.int32) if isinstance(G, FiniteGroup) else None
    return Plan(types_in, types_out, mult_in, mult_out, tuple(blocks), offset, perm_in, perm_out,
                _bias_matrix(out_rep), group_index)


def _expand_block(block: Block, w: jax.Array, group_index) -> jax.Array:
    """``(P, m_in*d_in, m_out*d_out)`` from the block's coefficients ``w`` (its ``shape``)."""
    basis = block.basis
    if basis.kind == "regular":
        n = basis.harmonics.shape[0]
        permuted = w[:, :, group_index]  # (F, m_in, n_h, n_k, m_out): coefficient of h^-1 k
        psi = jnp.asarray(basis.harmonics / math.sqrt(n), w.dtype)
        taps = jnp.einsum("hfp,fchko->pckoh", psi, permuted)
        return taps.reshape(taps.shape[0], -1, taps.shape[3] * n)
    tensor = jnp.asarray(basis.tensor, w.dtype)
    taps = jnp.einsum("bpio,bIO->pIiOo", tensor, w)
    p, mi, di, mo, do = taps.shape
    return taps.reshape(p, mi * di, mo * do)


def expand_kernel(p: Plan, weights: jax.Array, kernel_size: int) -> jax.Array:
    """The kernel ``(k, k, din, dout)`` of the flat coefficients ``weights`` ``(p.size,)``."""
    taps = kernel_size * kernel_size
    by_pair = {}
    for block in p.blocks:
        w = weights[block.offset:block.offset + math.prod(block.shape)].reshape(block.shape)
        by_pair[block.t_in, block.t_out] = _expand_block(block, w, p.group_index)
    columns = []
    for o, b in enumerate(p.types_out):
        rows = [by_pair.get((i, o), jnp.zeros((taps, m * a.dim, p.mult_out[o] * b.dim), weights.dtype))
                for i, (a, m) in enumerate(zip(p.types_in, p.mult_in))]
        columns.append(jnp.concatenate(rows, axis=1))
    kernel = jnp.concatenate(columns, axis=2)
    if p.perm_in is not None:
        kernel = kernel[:, p.perm_in]
    if p.perm_out is not None:
        kernel = kernel[:, :, p.perm_out]
    return kernel.reshape((kernel_size, kernel_size) + kernel.shape[1:])
