"""How 2x2 orthogonal matrices move the pixel grid: index maps, resampling, masks.

The one place that knows the geometry of images: :mod:`symjax.actions` (acting
on images and group feature maps) and :mod:`symjax.functional` (expanding
kernels over a group) both read it, and it imports neither.

Coordinates: a 2x2 matrix acts on ``(x, y)`` with ``x`` along the width axis
(to the right) and ``y`` up the height axis (row 0 is the top), about the
centre ``((H-1)/2, (W-1)/2)`` of the image. A group whose matrices are all
signed permutations with a quarter-turn rotation part (C1, C2, C4, D1, D2, D4,
and V4, which is D2) moves pixels onto pixels: it has a *grid plan*, one
``(quarter_turns, flip)`` per element, and acts by exact index maps. Any other
group of 2x2 orthogonal matrices (``cyclic(8)``, ``dihedral(8)``, ...) moves
pixels between grid points and is applied by bilinear resampling (one
implementation, :func:`bilinear_taps`, used by images and kernels alike).

>>> from symjax import geometry, groups
>>> geometry.grid_plan(groups.dihedral(2))
((0, 0), (2, 0), (0, 1), (2, 1))
>>> geometry.is_exact_on_grid(groups.cyclic(8))
False
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from symjax.groups import FiniteGroup, cyclic, dihedral, trivial

__all__ = ["EXACT_GROUP_NAMES", "exact_groups", "grid_plan", "is_exact_on_grid", "is_planar",
           "transform_exact", "pixel_index", "regular_index", "bilinear_taps", "resample",
           "interpolation_matrix", "disc_mask"]

EXACT_GROUP_NAMES = ("C1", "C2", "C4", "D1", "D2", "D4")
"""The groups of :func:`exact_groups`, by name (``klein_four()``, named V4, is D2 as well)."""

SNAP = 1e-4
"""Source coordinates this close to a pixel centre land on it (keeps exact rotations exact in float32)."""

_QUARTER = {(1, 0): 0, (0, 1): 1, (-1, 0): 2, (0, -1): 3}


def exact_groups() -> tuple[FiniteGroup, ...]:
    """The groups of 2x2 matrices that permute the pixel grid exactly, named in :data:`EXACT_GROUP_NAMES`.

    >>> [G.name for G in exact_groups()] == list(EXACT_GROUP_NAMES)
    True
    """
    return (trivial(), cyclic(2), cyclic(4), dihedral(1), dihedral(2), dihedral(4))


@functools.lru_cache(maxsize=None)
def grid_plan(G: FiniteGroup) -> tuple[tuple[int, int], ...] | None:
    """Per element ``(quarter_turns, flip)`` when ``G`` permutes the pixel grid exactly, else ``None``.

    Element ``g`` acts as: flip the width axis ``flip`` times, then rotate by
    ``quarter_turns`` quarter turns counter-clockwise (:func:`transform_exact`).

    >>> from symjax import groups
    >>> grid_plan(groups.cyclic(4))
    ((0, 0), (1, 0), (2, 0), (3, 0))
    >>> grid_plan(groups.cyclic(8)) is None
    True
    """
    mats = G.matrices
    if mats is None or mats.shape[-2:] != (2, 2) or np.iscomplexobj(mats):
        return None
    rounded = np.round(mats)
    if np.abs(mats - rounded).max() > 1e-9:
        return None
    plan = []
    for m in rounded.astype(int):
        flip = int(round(np.linalg.det(m)) < 0)
        r = m @ np.diag([-1, 1]) if flip else m  # m = R_k S^flip
        k = _QUARTER.get((int(r[0, 0]), int(r[1, 0])))
        if k is None:
            return None
        plan.append((k, flip))
    return tuple(plan)


def is_exact_on_grid(G: FiniteGroup) -> bool:
    """Whether ``G`` acts on the pixel grid by exact pixel permutations (the groups of :func:`exact_groups`).

    Other groups with 2x2 matrices (e.g. ``cyclic(8)``) act on images by
    bilinear interpolation, which is only approximately a group action.

    >>> from symjax import groups
    >>> is_exact_on_grid(groups.dihedral(4)), is_exact_on_grid(groups.cyclic(8))
    (True, False)
    """
    if not isinstance(G, FiniteGroup):
        raise TypeError(f"is_exact_on_grid expects G to be a symjax.groups.FiniteGroup, got {type(G).__name__}")
    return grid_plan(G) is not None


@functools.lru_cache(maxsize=None)
def is_planar(G: FiniteGroup) -> bool:
    """Whether ``G`` has real orthogonal 2x2 ``matrices`` (so it can act on images, exactly or by resampling).

    >>> from symjax import groups
    >>> is_planar(groups.cyclic(8)), is_planar(groups.symmetric(3))
    (True, False)
    """
    mats = G.matrices
    if mats is None or mats.shape[-2:] != (2, 2) or np.iscomplexobj(mats):
        return False
    return bool(np.allclose(mats @ np.swapaxes(mats, -1, -2), np.eye(2), atol=1e-6))


def transform_exact(x, quarter_turns: int, flip: int):
    """Move the spatial axes ``(-3, -2)`` of ``x`` by one grid-plan entry: flip the width, then rotate.

    NumPy arrays stay NumPy (index maps are built with it); anything else goes through ``jnp``.

    >>> import numpy as np
    >>> transform_exact(np.arange(4).reshape(2, 2, 1), 1, 0)[..., 0].tolist()
    [[1, 3], [0, 2]]
    """
    xp = np if isinstance(x, np.ndarray) else jnp
    if flip:
        x = xp.flip(x, axis=-2)
    return xp.rot90(x, quarter_turns, axes=(-3, -2)) if quarter_turns else x


@functools.lru_cache(maxsize=64)
def pixel_index(G: FiniteGroup, height: int, width: int) -> np.ndarray:
    """``(|G|, H*W)`` for a group with a grid plan: image ``g`` flattened equals ``x_flat[index[g]]``.

    >>> from symjax import groups
    >>> pixel_index(groups.cyclic(4), 2, 2)[1].tolist()
    [1, 3, 0, 2]
    """
    plan = grid_plan(G)
    if plan is None:
        raise ValueError(f"pixel_index expects a group exact on the pixel grid ({', '.join(EXACT_GROUP_NAMES)}), "
                         f"got G = {G.name}")
    base = np.arange(height * width).reshape(height, width, 1)
    return np.stack([transform_exact(base, k, f).reshape(-1) for k, f in plan])


@functools.lru_cache(maxsize=None)
def regular_index(G: FiniteGroup) -> np.ndarray:
    """``(|G|, |G|)`` with ``index[g, h] = g^-1 h``: the left regular action permutes the group axis by it.

    >>> from symjax import groups
    >>> regular_index(groups.cyclic(4))[1].tolist()
    [3, 0, 1, 2]
    """
    return G.cayley_table[G.inverse_table[:, None], np.arange(G.order)[None, :]]


def bilinear_taps(matrix, height: int, width: int, xp=np):
    """Bilinear resampling ``out(p) = in(matrix^-1 p)`` about the centre, zero fill, as four taps per pixel.

    The one interpolation of symjax: :func:`resample` (images, traced angles)
    and :func:`interpolation_matrix` (kernels) both read it. Source
    coordinates within :data:`SNAP` of a pixel are snapped onto it, so
    rotations by multiples of 90 degrees stay exact permutations.

    Args:
      matrix: ``(2, 2)`` invertible matrix (NumPy, or a ``jnp`` array, possibly traced, with ``xp=jnp``).
      height, width: the grid.
      xp: ``numpy`` (float64) or ``jax.numpy`` (the dtype of ``matrix``, at least float32).

    Returns:
      ``(index, weight)``, each ``(4, H*W)``: ``out_flat[p] = sum_t weight[t, p] * in_flat[index[t, p]]``;
      taps outside the grid have weight 0 (and a clipped, valid index).

    >>> import numpy as np
    >>> index, weight = bilinear_taps(np.eye(2), 2, 2)
    >>> index[0].tolist(), weight[0].tolist()
    ([0, 1, 2, 3], [1.0, 1.0, 1.0, 1.0])
    """
    if xp is np:
        m = np.asarray(matrix, np.float64)
    else:
        m = jnp.asarray(matrix)
        m = m.astype(jnp.promote_types(m.dtype, jnp.float32))
    dtype = m.dtype
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    p = xp.asarray(np.stack([cols - cx, cy - rows], axis=-1).reshape(-1, 2), dtype)
    inv = xp.stack([xp.stack([m[1, 1], -m[0, 1]]), xp.stack([-m[1, 0], m[0, 0]])]) / (
        m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0])
    src = p @ inv.T
    col, row = src[:, 0] + cx, cy - src[:, 1]
    col = xp.where(xp.abs(col - xp.round(col)) < SNAP, xp.round(col), col)
    row = xp.where(xp.abs(row - xp.round(row)) < SNAP, xp.round(row), row)
    r0, c0 = xp.floor(row), xp.floor(col)
    wr, wc = row - r0, col - c0
    index, weight = [], []
    for dr, dc, w in ((0, 0, (1 - wr) * (1 - wc)), (0, 1, (1 - wr) * wc), (1, 0, wr * (1 - wc)), (1, 1, wr * wc)):
        rr, cc = r0 + dr, c0 + dc
        valid = (rr >= 0) & (rr < height) & (cc >= 0) & (cc < width)
        index.append(xp.clip(rr, 0, height - 1).astype(np.int32) * width + xp.clip(cc, 0, width - 1).astype(np.int32))
        weight.append(xp.where(valid, w, 0.0))
    return xp.stack(index), xp.stack(weight)


def resample(x: jax.Array, matrix) -> jax.Array:
    """Images ``(..., H, W, C)`` resampled by ``matrix`` about their centre (:func:`bilinear_taps`), in float.

    ``matrix`` may be traced (SO(2) angles under ``vmap``). The result is in
    ``x``'s floating dtype (float32 for integer images).

    >>> import numpy as np, jax.numpy as jnp
    >>> x = jnp.arange(4.0).reshape(2, 2, 1)
    >>> resample(x, np.array([[0.0, -1.0], [1.0, 0.0]]))[..., 0].tolist()  # a quarter turn
    [[1.0, 3.0], [0.0, 2.0]]
    """
    x = jnp.asarray(x)
    h, w, c = x.shape[-3:]
    dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32
    index, weight = bilinear_taps(jnp.asarray(matrix, dtype), h, w, xp=jnp)
    flat = x.reshape(x.shape[:-3] + (h * w, c)).astype(dtype)
    out = sum(jnp.take(flat, index[t], axis=-2) * weight[t].astype(dtype)[:, None] for t in range(4))
    return out.reshape(x.shape[:-3] + (h, w, c))


def interpolation_matrix(matrix, height: int, width: int) -> np.ndarray:
    """``(P, P)`` float64, ``P = H*W``: the linear map of :func:`resample` on flattened grids.

    ``out_flat = W @ in_flat``; a row holds the (at most four) bilinear
    weights of its source pixels. A grid-plan element gives a permutation.

    >>> import numpy as np
    >>> interpolation_matrix(np.array([[-1.0, 0.0], [0.0, 1.0]]), 1, 2).tolist()  # the width flip
    [[0.0, 1.0], [1.0, 0.0]]
    """
    index, weight = bilinear_taps(matrix, height, width)
    out = np.zeros((height * width, height * width))
    np.add.at(out, (np.broadcast_to(np.arange(height * width), index.shape), index), weight)
    return out


def disc_mask(height: int, width: int, margin: float = 0.0) -> np.ndarray:
    """``(H, W)`` float64: 1.0 on the pixels within ``(min(H, W) - 1) / 2 - margin`` of the centre, else 0.0.

    The inscribed disc: what a rotation about the centre keeps inside the
    frame. Kernels of groups applied by resampling keep their parameters on
    it (``margin=0``); test images for such rotations are supported on it with
    ``margin=1``, so that bilinear taps never read the zero fill outside the frame.

    >>> disc_mask(3, 3).tolist()
    [[0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]]
    >>> int(disc_mask(5, 5, margin=1).sum())
    5
    """
    rows, cols = np.meshgrid(np.arange(height) - (height - 1) / 2.0, np.arange(width) - (width - 1) / 2.0,
                             indexing="ij")
    radius = (min(height, width) - 1) / 2.0 - margin
    return (rows ** 2 + cols ** 2 <= radius ** 2 + 1e-9).astype(np.float64)
