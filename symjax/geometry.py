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

Volumes ``(..., D, H, W, C)``: a 3x3 matrix acts on ``(x, y, z)`` with ``x``
along the width axis (to the right), ``y`` up the height axis (row 0 is the
top) and ``z`` along the depth axis (slice 0 first), about the centre
``((D-1)/2, (H-1)/2, (W-1)/2)``; each depth slice is an image in the frame
above, so a rotation about ``z`` turns every slice as the 2x2 rotation turns
an image. A group of 3x3 signed permutation matrices (``octahedral()``,
``full_octahedral()``, their subgroups) moves voxels onto voxels: it has a
*voxel plan*, one ``(axes, flips)`` per element, and acts by exact index maps.

>>> from symjax import geometry, groups
>>> geometry.grid_plan(groups.dihedral(2))
((0, 0), (2, 0), (0, 1), (2, 1))
>>> geometry.is_exact_on_grid(groups.cyclic(8)), geometry.voxel_plan(groups.octahedral()) is not None
(False, True)
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from symjax.groups import FiniteGroup, cyclic, dihedral, trivial

__all__ = ["EXACT_GROUP_NAMES", "exact_groups", "grid_plan", "is_exact_on_grid", "is_planar",
           "transform_exact", "pixel_index", "voxel_plan", "transform_voxels", "voxel_index", "spatial_dims",
           "regular_index", "bilinear_taps", "resample",
           "interpolation_matrix", "disc_mask", "EquivarianceWarning", "axis_padding", "is_centred",
           "equivariance_pitfalls"]

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
    bilinear interpolation, which is only approximately a group action. (Groups
    of 3x3 signed permutations act on volumes, exactly: :func:`voxel_plan`.)

    >>> from symjax import groups
    >>> is_exact_on_grid(groups.dihedral(4)), is_exact_on_grid(groups.cyclic(8))
    (True, False)
    """
    if not isinstance(G, FiniteGroup):
        raise TypeError(f"is_exact_on_grid expects G to be a symjax.groups.FiniteGroup, got {type(G).__name__}")
    return grid_plan(G) is not None


_AXIS_OF = (2, 1, 0)  # coordinate x, y, z -> array axis W, H, D (of (D, H, W))
_SIGN_OF = (1, -1, 1)  # y points up: against the row index


@functools.lru_cache(maxsize=None)
def voxel_plan(G: FiniteGroup) -> tuple[tuple[tuple[int, int, int], tuple[bool, bool, bool]], ...] | None:
    """Per element ``(axes, flips)`` when ``G``'s matrices are 3x3 signed permutations, else ``None``.

    Element ``g`` acts on a volume as ``flip(transpose(x, axes), flips)`` on
    its axes ``(D, H, W)`` (:func:`transform_voxels`): output axis ``b`` reads
    input axis ``axes[b]``, reversed where ``flips[b]``. The voxel at
    coordinates ``p`` (module docstring) moves to ``matrices[g] @ p``.

    >>> from symjax import groups
    >>> voxel_plan(groups.octahedral())[1]  # a quarter turn about z: every depth slice turns like cyclic(4)
    ((0, 2, 1), (False, True, False))
    >>> voxel_plan(groups.dihedral(4)) is None
    True
    """
    mats = G.matrices
    if mats is None or mats.shape[-2:] != (3, 3) or np.iscomplexobj(mats):
        return None
    rounded = np.round(mats)
    if np.abs(mats - rounded).max() > 1e-9 or not (np.abs(rounded).sum(axis=-2) == 1).all() or not (
            np.abs(rounded).sum(axis=-1) == 1).all():
        return None
    plan = []
    for m in rounded.astype(int):
        axes, flips = [0, 0, 0], [False, False, False]
        for j in range(3):  # source coordinate j lands on coordinate i with sign m[i, j]
            i = int(np.flatnonzero(m[:, j])[0])
            axes[_AXIS_OF[i]] = _AXIS_OF[j]
            flips[_AXIS_OF[i]] = bool(_SIGN_OF[j] * m[i, j] * _SIGN_OF[i] < 0)
        plan.append((tuple(axes), tuple(flips)))
    return tuple(plan)


def transform_voxels(x, axes: tuple[int, int, int], flips: tuple[bool, bool, bool]):
    """Move the spatial axes ``(-4, -3, -2)`` of ``x`` (``(..., D, H, W, C)``) by one voxel-plan entry.

    NumPy arrays stay NumPy (index maps are built with it); anything else goes through ``jnp``.

    >>> import numpy as np
    >>> transform_voxels(np.arange(4).reshape(1, 2, 2, 1), (0, 2, 1), (False, True, False))[0, ..., 0].tolist()
    [[1, 3], [0, 2]]
    """
    xp = np if isinstance(x, np.ndarray) else jnp
    lead = x.ndim - 4
    order = tuple(range(lead)) + tuple(lead + a for a in axes) + (x.ndim - 1,)
    if order != tuple(range(x.ndim)):
        x = xp.transpose(x, order)
    flipped = tuple(lead + b for b in range(3) if flips[b])
    return xp.flip(x, axis=flipped) if flipped else x


@functools.lru_cache(maxsize=64)
def voxel_index(G: FiniteGroup, depth: int, height: int, width: int) -> np.ndarray:
    """``(|G|, D*H*W)`` for a group with a voxel plan: volume ``g`` flattened equals ``x_flat[index[g]]``.

    >>> from symjax import groups
    >>> voxel_index(groups.octahedral(), 1, 2, 2)[1].tolist()
    [1, 3, 0, 2]
    """
    plan = voxel_plan(G)
    if plan is None:
        raise ValueError(f"voxel_index expects a group of 3x3 signed permutation matrices, got G = {G.name}")
    base = np.arange(depth * height * width).reshape(depth, height, width, 1)
    return np.stack([transform_voxels(base, a, f).reshape(-1) for a, f in plan])


def spatial_dims(G: FiniteGroup) -> int | None:
    """The spatial axes ``G`` acts on: 2 (images) for 2x2 orthogonal matrices, 3 (volumes) with a voxel plan.

    ``None`` for a group that acts on neither (no matrices, or other matrices).

    >>> from symjax import groups
    >>> spatial_dims(groups.cyclic(8)), spatial_dims(groups.full_octahedral()), spatial_dims(groups.alternating(4))
    (2, 3, None)
    """
    if is_planar(G):
        return 2
    return 3 if voxel_plan(G) is not None else None


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


class EquivarianceWarning(UserWarning):
    """Warned when a layer's configuration cannot be exactly equivariant; the message names the causes.

    The convolutions (:func:`symjax.functional.lifting_conv`, ``group_conv`` and
    the layers of :mod:`symjax.nn` / :mod:`symjax.nnx` built on them) check their
    configuration when they are traced (:func:`equivariance_pitfalls`) and warn
    once per configuration; with ``strict=True`` they raise ``ValueError``
    instead. Also importable as ``symjax.EquivarianceWarning``. Silence it with
    ``warnings.filterwarnings("ignore", category=EquivarianceWarning)`` or make it
    an error with ``"error"`` (``pytest -W error::symjax.EquivarianceWarning``).

    >>> issubclass(EquivarianceWarning, UserWarning)
    True
    """


def axis_padding(padding, size: int, kernel: int, stride: int = 1) -> tuple[int, int]:
    """The ``(low, high)`` zero padding of one spatial axis, as ``lax.conv_general_dilated`` applies ``padding``.

    Args:
      padding: ``"SAME"``, ``"VALID"``, an int, or a ``(low, high)`` pair (one axis of a convolution's padding).
      size, kernel, stride: the axis's input size, kernel size and stride.

    Returns:
      ``(low, high)``: ``"SAME"`` pads ``max((ceil(size/stride) - 1)*stride + kernel - size, 0)`` in
      total, the smaller half (rounded down) before.

    >>> axis_padding("SAME", 8, 3, 2), axis_padding("SAME", 7, 4), axis_padding("VALID", 7, 3), axis_padding(1, 7, 3)
    ((0, 1), (1, 2), (0, 0), (1, 1))
    """
    if isinstance(padding, str):
        if padding.upper() == "VALID":
            return 0, 0
        if padding.upper() != "SAME":
            raise ValueError(f"axis_padding expects padding 'SAME', 'VALID', an int or a (low, high) pair, "
                             f"got {padding!r}")
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        return total // 2, total - total // 2
    if isinstance(padding, int):
        return padding, padding
    low, high = padding
    return int(low), int(high)


def is_centred(size: int, kernel: int, stride: int = 1, pads: tuple[int, int] = (0, 0)) -> bool:
    """Whether a convolution along one axis samples it symmetrically about its centre.

    Output ``i`` reads the input window centred at ``c_i = i*stride - low +
    (kernel - 1)/2``, for ``i < m = (size + low + high - kernel) // stride + 1``.
    Reversing the axis (a flip, or a rotation by 90 or 180 degrees, about the
    centre ``(size - 1)/2``) maps this set of windows onto itself, so that the
    convolution commutes with it, if and only if ``c_0 + c_(m-1) = size - 1``:
    ``(m - 1) * stride == size - kernel + 2 * low``. (The zero padding lies
    outside ``[0, size - 1]``, itself symmetric, and the kernel copies are moved
    about the kernel's centre.) For ``"SAME"`` padding this holds at stride 1
    for odd kernels and fails for even ones (padded ``(k/2 - 1, k/2)``); at
    stride 2 it holds on odd sizes only; at stride 3 on sizes ``1, 3, 4, 6, 7, 9,
    ...`` (``size % 3 != 2``, i.e. ``(size - 1) % 3 != 1``) for a 3x3 kernel. ``"VALID"`` holds whenever
    ``(size - kernel) % stride == 0``, even kernels included.

    Args:
      size, kernel, stride: the axis's input size, kernel size and stride.
      pads: its ``(low, high)`` zero padding (:func:`axis_padding`).

    >>> is_centred(9, 3, 2, axis_padding("SAME", 9, 3, 2)), is_centred(8, 3, 2, axis_padding("SAME", 8, 3, 2))
    (True, False)
    >>> is_centred(7, 4, 1, axis_padding("SAME", 7, 4)), is_centred(7, 4, 1, (0, 0))
    (False, True)
    """
    low, high = pads
    m = (size + low + high - kernel) // stride + 1
    return m < 1 or (m - 1) * stride == size - kernel + 2 * low


def _axes_moved(G: FiniteGroup) -> tuple[tuple[bool, ...], frozenset]:
    """Per spatial axis whether some element of ``G`` reverses or moves it, and the pairs of axes exchanged."""
    plan = voxel_plan(G)
    if plan is not None:
        moved = tuple(any(axes[b] != b or flips[b] for axes, flips in plan) for b in range(3))
        return moved, frozenset((min(b, a), max(b, a)) for axes, _ in plan for b, a in enumerate(axes) if a != b)
    height = width = mixed = False
    for m in np.asarray(G.matrices, np.float64):
        if abs(m[0, 1]) > 1e-9 or abs(m[1, 0]) > 1e-9:
            mixed = True
        width |= m[0, 0] < 0
        height |= m[1, 1] < 0
    return (height or mixed, width or mixed), frozenset({(0, 1)} if mixed else ())


def _joined(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def equivariance_pitfalls(G: FiniteGroup, input_shape, kernel_size=None, strides=1, padding="SAME") -> list[str]:
    """Why a convolution over ``G`` with this configuration cannot be exactly equivariant: one sentence per cause.

    Checked: a group not exact on the pixel grid (not one of
    :data:`EXACT_GROUP_NAMES`), a non-square input or kernel when ``G`` mixes
    the axes (90-degree rotations), and, for every axis that an element of ``G``
    reverses, an output grid not centred on the input's (:func:`is_centred`:
    a stride that does not divide the size, an even kernel under ``"SAME"``,
    asymmetric padding); with mixed axes, also different output sampling along
    the axes exchanged. Without ``kernel_size`` only the group and the input are
    checked (what :func:`symjax.symmetry.check_equivariance` can know). Volumes
    (a group with a :func:`voxel_plan`) are checked alike on ``(D, H, W)``: the
    axes exchanged by an element must have the same size, kernel size and sampling.

    Args:
      G: a group of 2x2 orthogonal matrices (:func:`is_planar`) or of 3x3 signed permutations.
      input_shape: the spatial shape ``(H, W)`` (``(D, H, W)`` for volumes).
      kernel_size: ``(kh, kw)`` (``(kd, kh, kw)``, or an int), or ``None``.
      strides: an int or one per spatial axis.
      padding: ``"SAME"``, ``"VALID"``, an int, one int or one ``(low, high)`` pair per spatial axis.

    Returns:
      The causes, empty when the configuration is exactly equivariant.

    >>> from symjax import groups
    >>> equivariance_pitfalls(groups.cyclic(4), (9, 9), (3, 3), strides=2)
    []
    >>> for cause in equivariance_pitfalls(groups.cyclic(4), (8, 8), 3, strides=2):
    ...     print(cause)
    height and width 8 with kernel 3, stride 2 and padding (0, 1): the output samples input positions 1, 3, ..., 7, not centred on 3.5 (centred sizes near 8 at this stride: 5, 7, 9, 11)
    >>> equivariance_pitfalls(groups.cyclic(8), (9, 11))  # doctest: +NORMALIZE_WHITESPACE
    ['C8 is not exact on the pixel grid (only C1, C2, C4, D1, D2, D4 are): its kernels are sampled (steerable) or interpolated, so equivariance is approximate off the grid',
     'the input is 9x11, not square: the rotations of C8 do not map it onto itself']
    >>> equivariance_pitfalls(groups.octahedral(), (7, 7, 9))
    ['the input is 7x7x9, not cubic: the rotations of O exchange axes of different sizes']
    """
    dims = spatial_dims(G) if isinstance(G, FiniteGroup) else None
    if dims is None:
        raise ValueError(f"equivariance_pitfalls expects G to be a group of 2x2 orthogonal matrices or of 3x3 signed "
                         f"permutation matrices, got {getattr(G, 'name', type(G).__name__)}")
    shape = tuple(int(n) for n in input_shape)
    if len(shape) != dims:
        layout = "(H, W)" if dims == 2 else f"(D, H, W) for {G.name} (3x3 matrices; (H, W) is for groups of 2x2 " \
                                            f"orthogonal matrices)"
        raise ValueError(f"equivariance_pitfalls expects input_shape to be the spatial shape {layout}, got "
                         f"{input_shape!r}")
    names = ("height", "width") if dims == 2 else ("depth", "height", "width")
    flat, cubic = ("square", "not square") if dims == 2 else ("cubic", "not cubic")
    causes = []
    if dims == 2 and grid_plan(G) is None:
        causes.append(f"{G.name} is not exact on the pixel grid (only {', '.join(EXACT_GROUP_NAMES)} are): its kernels "
                      f"are sampled (steerable) or interpolated, so equivariance is approximate off the grid")
    moved, exchanged = _axes_moved(G)
    what = "do not map it onto itself" if dims == 2 else "exchange axes of different sizes"
    if any(shape[a] != shape[b] for a, b in exchanged):
        causes.append(f"the input is {'x'.join(map(str, shape))}, {cubic}: the rotations of {G.name} {what}")
    if kernel_size is None:
        return causes
    kernel = (kernel_size,) * dims if isinstance(kernel_size, int) else tuple(kernel_size)
    stride = (strides,) * dims if isinstance(strides, int) else tuple(strides)
    if isinstance(padding, (str, int)):
        padding = (padding,) * dims
    pads = tuple(axis_padding(p, n, k, s) for p, n, k, s in zip(padding, shape, kernel, stride))
    if any(kernel[a] != kernel[b] for a, b in exchanged):
        causes.append(f"the kernel is {'x'.join(map(str, kernel))}, {cubic}: the rotations of {G.name} {what}"
                      if dims == 3 else f"the kernel is {kernel[0]}x{kernel[1]}, not {flat}: the rotations of "
                                        f"{G.name} do not map it onto itself")
    axes = [(name, *config) for name, on, *config in zip(names, moved, shape, kernel, stride, pads, padding) if on]
    failing = [axis for axis in axes if not is_centred(*axis[1:5])]
    if len(failing) > 1 and all(axis[1:] == failing[0][1:] for axis in failing):
        failing = [(_joined(axis[0] for axis in failing),) + failing[0][1:]]
    causes += [_off_centre(*axis) for axis in failing]
    outputs = [(n + lo + hi - k) // s + 1 for n, k, s, (lo, hi) in zip(shape, kernel, stride, pads)]
    uneven = sorted({b for a, c in exchanged if shape[a] == shape[c] and (stride[a] != stride[c] or outputs[a] !=
                                                                            outputs[c]) for b in (a, c)})
    if uneven:
        causes.append(f"strides {stride} and padding {pads} sample {_joined(names[b] for b in uneven)} differently "
                      f"(output {'x'.join(map(str, outputs))}): the 90-degree rotations of {G.name} exchange them")
    return causes


def _off_centre(axis: str, size: int, kernel: int, stride: int, pads: tuple[int, int], padding) -> str:
    """The cause for an axis that :func:`is_centred` rejects."""
    low, high = pads
    m = (size + low + high - kernel) // stride + 1
    first, last = (kernel - 1) / 2 - low, (kernel - 1) / 2 - low + (m - 1) * stride
    step = f"{first + stride:g}, ..., " if m > 2 else ""
    text = (f"{axis} {size} with kernel {kernel}, stride {stride} and padding ({low}, {high}): the output samples "
            f"input positions {first:g}, {step}{last:g}, not centred on {(size - 1) / 2:g}")
    if kernel % 2 == 0 and low != high:
        return text + " (an even kernel has no centre tap: its padding is asymmetric)"
    if stride > 1 and isinstance(padding, str):
        near = [n for n in range(max(size - 3, kernel), size + 4)
                if is_centred(n, kernel, stride, axis_padding(padding, n, kernel, stride))]
        return text + f" (centred sizes near {size} at this stride: {', '.join(map(str, near))})"
    return text
