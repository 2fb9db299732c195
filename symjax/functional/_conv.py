"""Lifting and group convolutions: kernel expansion by one precomputed gather, then one convolution.

The expanded kernel of a layer stacks the transformed copies of its kernel,
one per output group element ``h``: spatial taps moved by ``h`` exactly as
:func:`symjax.actions.on_image` moves an image, and (for group kernels) the
input group axis permuted by the left regular action. The index that does
this is computed once per group and kernel size, in NumPy at trace time, from
the group tables in :mod:`symjax.groups` and the pixel maps in
:mod:`symjax.geometry`; at run time the expansion is a single gather and the
layer a single ``lax.conv_general_dilated`` (NHWC / HWIO). Volumes work alike
for a group of 3x3 signed permutation matrices (``octahedral()``,
``full_octahedral()``): ``(N, D, H, W, C)`` images, ``(kd, kh, kw, ...)``
kernels moved by :func:`symjax.geometry.voxel_index`, one NDHWC / DHWIO
convolution. Groups that rotate
by interpolation (C_n, D_n with n not dividing 4) are expanded by one einsum
with a precomputed bilinear interpolation tensor instead
(interpolation tensors built from :func:`symjax.geometry.interpolation_matrix`); their equivariance is approximate.

Channel layout: the group axis is last, so a flattened group feature map has
channel ``c * |G| + g`` and an expanded kernel is ``(kh, kw, cin * |G|, cout * |G|)``
in that order on both channel axes.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from symjax.functional._approx import group_kernel as interpolated_group_kernel
from symjax.functional._approx import lift_kernel as interpolated_lift_kernel
from symjax.functional._checks import (
    Padding,
    canonical_padding,
    canonical_strides,
    check_conv_group,
    check_equivariant_config,
    check_group_axis,
    check_rank,
)
from symjax.geometry import grid_plan, pixel_index, regular_index, spatial_dims, voxel_index, voxel_plan
from symjax.groups import FiniteGroup

__all__ = ["lift_kernel", "group_kernel", "lifting_conv", "group_conv", "group_pool"]


def _exact(G: FiniteGroup) -> bool:
    """Whether ``G`` permutes pixels or voxels exactly (expanded by a gather, not an interpolation)."""
    return grid_plan(G) is not None or voxel_plan(G) is not None


def _check_kernel_square(G: FiniteGroup, shape, fn: str) -> None:
    spatial = tuple(shape[:spatial_dims(G)])
    plan = voxel_plan(G)
    if plan is not None:
        if any(spatial[a] != spatial[b] for axes, _ in plan for b, a in enumerate(axes)):
            raise ValueError(f"{fn} with {G.name} exchanges spatial axes and needs a cubic kernel (equal sizes on "
                             f"the axes exchanged), got kernel of shape {tuple(shape)}")
    elif spatial[0] != spatial[1] and any(k % 2 for k, _ in grid_plan(G)):
        raise ValueError(f"{fn} with {G.name} (90-degree rotations) needs a square kernel, "
                         f"got kernel of shape {tuple(shape)}")


def _grid_index(G: FiniteGroup, spatial: tuple[int, ...]) -> np.ndarray:
    """``(|G|, prod(spatial))``: :func:`~symjax.geometry.pixel_index` or :func:`~symjax.geometry.voxel_index`."""
    return pixel_index(G, *spatial) if len(spatial) == 2 else voxel_index(G, *spatial)


@functools.lru_cache(maxsize=None)
def _lift_index(G: FiniteGroup, spatial: tuple[int, ...]) -> np.ndarray:
    """``(P, |G|)``: tap ``p`` of the copy for element ``h`` is tap ``index[p, h]`` of the kernel."""
    return np.ascontiguousarray(_grid_index(G, spatial).T).astype(np.int32)


@functools.lru_cache(maxsize=None)
def _group_index(G: FiniteGroup, spatial: tuple[int, ...]) -> np.ndarray:
    """``(P, |G|, |G|)`` into the kernel's flattened ``(tap, group)`` axes.

    Entry ``[p, k, h]`` is ``pixel[h, p] * |G| + (h^-1 k)``: the copy of the kernel
    for output element ``h`` is ``on_group_image(G, h, kernel)``.
    """
    n = G.order
    pixel = _grid_index(G, spatial)  # (n_h, P)
    regular = regular_index(G)  # (n_h, n_k): h^-1 k
    index = pixel.T[:, None, :] * n + regular.T[None, :, :]
    return np.ascontiguousarray(index).astype(np.int32)


def _input_rank(G: FiniteGroup, rank: int, x, fn: str, layout: str) -> jax.Array:
    """``x`` as an array, if it has ``rank`` axes plus one per spatial axis of ``G`` beyond two."""
    if spatial_dims(G) == 3:
        return check_rank(x, rank + 1, fn, f"(N, D, {layout[4:]} for group = {G.name} (volumes)")
    return check_rank(x, rank, fn, layout)


def _kernel_rank(G: FiniteGroup, rank: int, kernel, fn: str, layout: str) -> jax.Array:
    """``kernel`` as an array, if it has ``rank`` axes plus one per spatial axis of ``G`` (a volume's named)."""
    if spatial_dims(G) == 3:
        return check_rank(kernel, rank + 1, fn, f"(kd, {layout[1:]} for group = {G.name} (volumes)", "kernel")
    return check_rank(kernel, rank, fn, layout, "kernel")


def lift_kernel(kernel: jax.Array, G: FiniteGroup) -> jax.Array:
    """Expand a lifting kernel over the group: one transformed copy per group element.

    Args:
      kernel: ``(kh, kw, cin, cout)``; square when ``G`` has 90-degree rotations
        (``(kd, kh, kw, cin, cout)``, cubic, for a group of 3x3 matrices).
      G: a group of 2x2 orthogonal matrices: exact on the pixel grid for C1, C2, C4,
        D1, D2, D4; other C_n, D_n are expanded by bilinear interpolation (approximate).
        Or a group of 3x3 signed permutation matrices (``octahedral()``), exact on voxels.

    Returns:
      ``(kh, kw, cin, cout * |G|)`` (``(kd, kh, kw, ...)`` for volumes); output channel ``o * |G| + h`` holds
      ``on_image(G, h, kernel[..., o])`` (an interpolation for groups not exact on the grid).

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> k = jnp.arange(9.0).reshape(3, 3, 1, 1)
    >>> lift_kernel(k, groups.cyclic(4))[..., 0, 1].tolist()  # the copy rotated by 90 degrees
    [[2.0, 5.0, 8.0], [1.0, 4.0, 7.0], [0.0, 3.0, 6.0]]
    """
    G = check_conv_group(G, "lift_kernel")
    kernel = _kernel_rank(G, 4, kernel, "lift_kernel", "(kh, kw, cin, cout)")
    return _expand_lift(kernel, G, "lift_kernel")


def _expand_lift(kernel: jax.Array, G: FiniteGroup, fn: str) -> jax.Array:
    """:func:`lift_kernel` for a checked group and a rank-4 kernel."""
    if not _exact(G):
        return interpolated_lift_kernel(kernel, G, fn)
    *spatial, cin, cout = kernel.shape
    _check_kernel_square(G, kernel.shape, fn)
    taps = kernel.reshape(-1, cin, cout)[_lift_index(G, tuple(spatial))]  # (P, n, cin, cout)
    return taps.transpose(0, 2, 3, 1).reshape(*spatial, cin, cout * G.order)


def group_kernel(kernel: jax.Array, G: FiniteGroup) -> jax.Array:
    """Expand a group-convolution kernel over the group (spatial taps and input group axis).

    Args:
      kernel: ``(kh, kw, cin, |G|, cout)``; square when ``G`` has 90-degree rotations
        (``(kd, kh, kw, cin, |G|, cout)``, cubic, for a group of 3x3 matrices).
      G: a group of 2x2 orthogonal matrices: exact on the pixel grid for C1, C2, C4,
        D1, D2, D4; other C_n, D_n are expanded by bilinear interpolation (approximate).
        Or a group of 3x3 signed permutation matrices (``octahedral()``), exact on voxels.

    Returns:
      ``(kh, kw, cin * |G|, cout * |G|)`` (``(kd, kh, kw, ...)`` for volumes); the block for output element ``h``
      is the kernel moved by the left regular action of ``h``
      (:func:`symjax.actions.on_group_image`).

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> group_kernel(jnp.ones((3, 3, 2, 8, 5)), groups.dihedral(4)).shape
    (3, 3, 16, 40)
    """
    G = check_conv_group(G, "group_kernel")
    kernel = _kernel_rank(G, 5, kernel, "group_kernel", "(kh, kw, cin, |G|, cout)")
    if kernel.shape[-2] != G.order:
        raise ValueError(f"group_kernel expects axis {kernel.ndim - 2} of kernel to have size |G| = {G.order} "
                         f"({G.name}), got {kernel.shape[-2]} (kernel has shape {kernel.shape})")
    return _expand_group(kernel, G, "group_kernel")


def _expand_group(kernel: jax.Array, G: FiniteGroup, fn: str) -> jax.Array:
    """:func:`group_kernel` for a checked group and a ``(kh, kw, cin, |G|, cout)`` kernel."""
    if not _exact(G):
        return interpolated_group_kernel(kernel, G, fn)
    *spatial, cin, n, cout = kernel.shape
    _check_kernel_square(G, kernel.shape, fn)
    d = len(spatial)
    flat = kernel.transpose(*range(d), d + 1, d, d + 2).reshape(-1, cin, cout)
    taps = flat[_group_index(G, tuple(spatial))]  # (P, n_k, n_h, cin, cout)
    return taps.transpose(0, 3, 1, 4, 2).reshape(*spatial, cin * n, cout * n)


def _convolve(x, kernel, bias, G: FiniteGroup, strides, padding, fn: str, precision=None,
              strict: bool = False) -> jax.Array:
    d = x.ndim - 2
    strides = canonical_strides(strides, fn, d)
    padding = canonical_padding(padding, fn, d)
    check_equivariant_config(G, x.shape[1:1 + d], kernel.shape[:d], strides, padding, fn, strict)
    dtype = jnp.result_type(x, kernel) if bias is None else jnp.result_type(x, kernel, bias)
    layouts = ("NHWC", "HWIO", "NHWC") if d == 2 else ("NDHWC", "DHWIO", "NDHWC")
    y = lax.conv_general_dilated(x.astype(dtype), kernel.astype(dtype), window_strides=strides,
                                 padding=padding, dimension_numbers=layouts, precision=precision)
    if bias is not None:  # added on the flat channels, as a plain conv does: XLA keeps it in the conv's fusion
        y = y + jnp.repeat(bias.astype(dtype), G.order)
    return y.reshape(y.shape[:-1] + (y.shape[-1] // G.order, G.order))  # explicit sizes: N = 0 works too


def _check_bias(bias, cout: int, fn: str):
    if bias is None:
        return None
    bias = jnp.asarray(bias)
    if bias.shape != (cout,):
        raise ValueError(f"{fn} expects bias of shape ({cout},) (one per output channel, shared over the "
                         f"group axis), got {bias.shape}")
    return bias


def lifting_conv(x: jax.Array, kernel: jax.Array, G: FiniteGroup, *, strides=1, padding: Padding = "SAME",
                 bias: jax.Array | None = None, precision=None, strict: bool = False) -> jax.Array:
    """Lift images to group feature maps: correlate with every transformed copy of ``kernel``.

    ``lifting_conv(on_image(G, g, x)) == on_group_image(G, g, lifting_conv(x))``
    exactly for stride 1, an odd square kernel and a square input (odd or even
    size), and for stride 2 with ``"SAME"`` padding on odd sizes, when ``G`` is
    exact on the pixel grid. For other C_n, D_n (``cyclic(8)``, ``dihedral(8)``)
    the rotated copies are bilinear interpolations and the identity holds only
    approximately (see ``docs/layers.md``, "Approximate rotations"). A configuration that
    cannot be exactly equivariant (:func:`symjax.geometry.equivariance_pitfalls`:
    a stride or padding whose output grid is not centred, an even kernel under
    ``"SAME"``, a non-square input with 90-degree rotations, a group that rotates
    by interpolation) warns :class:`symjax.EquivarianceWarning` when traced.

    Volumes: for a group of 3x3 signed permutation matrices (``octahedral()``,
    ``full_octahedral()``) ``x`` is ``(N, D, H, W, cin)``, the kernel
    ``(kd, kh, kw, cin, cout)`` and the output ``(N, D', H', W', cout, |G|)``;
    exact for stride 1, odd cubic kernels and cubic inputs.

    Args:
      x: images ``(N, H, W, cin)``.
      kernel: ``(kh, kw, cin, cout)``.
      G: a group of 2x2 orthogonal matrices: exact on the pixel grid for C1, C2, C4,
        D1, D2, D4; other C_n, D_n are expanded by bilinear interpolation (approximate).
        Or a group of 3x3 signed permutation matrices (volumes).
      strides: an int or a pair.
      padding: ``"SAME"``, ``"VALID"``, an int, a pair of ints or ``((top, bottom), (left, right))``.
      bias: optional ``(cout,)``, shared over the group axis.
      precision: passed to ``lax.conv_general_dilated``. ``None`` is the backend's
        default, which on NVIDIA GPUs computes float32 convolutions in TF32
        (equivariance then holds to TF32 rounding, about 1e-4 relative over a
        few layers); ``"highest"`` restores float32 rounding.
      strict: raise ``ValueError`` instead of warning when the configuration
        cannot be exactly equivariant.

    Returns:
      ``(N, H', W', cout, |G|)``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import actions, groups
    >>> G = groups.dihedral(4)
    >>> x = jnp.sin(jnp.arange(147.0)).reshape(1, 7, 7, 3)
    >>> k = jnp.cos(jnp.arange(54.0)).reshape(3, 3, 3, 2)
    >>> y = lifting_conv(x, k, G)
    >>> y.shape
    (1, 7, 7, 2, 8)
    >>> bool(jnp.allclose(lifting_conv(actions.on_image(G, 5, x), k, G), actions.on_group_image(G, 5, y), atol=1e-5))
    True
    """
    G = check_conv_group(G, "lifting_conv")
    x = _input_rank(G, 4, x, "lifting_conv", "(N, H, W, cin)")
    kernel = _kernel_rank(G, 4, kernel, "lifting_conv", "(kh, kw, cin, cout)")
    if kernel.shape[-2] != x.shape[-1]:
        raise ValueError(f"lifting_conv expects kernel with cin = {x.shape[-1]} input channels (x has shape "
                         f"{x.shape}), got kernel of shape {kernel.shape}")
    bias = _check_bias(bias, kernel.shape[-1], "lifting_conv")
    return _convolve(x, _expand_lift(kernel, G, "lifting_conv"), bias, G, strides, padding, "lifting_conv",
                     precision, strict)


def group_conv(x: jax.Array, kernel: jax.Array, G: FiniteGroup, *, strides=1, padding: Padding = "SAME",
               bias: jax.Array | None = None, precision=None, strict: bool = False) -> jax.Array:
    """Group convolution of group feature maps, equivariant to the left regular action.

    ``group_conv(on_group_image(G, g, f)) == on_group_image(G, g, group_conv(f))``
    under the same conditions as :func:`lifting_conv`. Volumes as there:
    ``x`` ``(N, D, H, W, cin, |G|)`` and kernel ``(kd, kh, kw, cin, |G|, cout)``.

    Args:
      x: group feature maps ``(N, H, W, cin, |G|)``.
      kernel: ``(kh, kw, cin, |G|, cout)``.
      G: a group of 2x2 orthogonal matrices: exact on the pixel grid for C1, C2, C4,
        D1, D2, D4; other C_n, D_n are expanded by bilinear interpolation (approximate).
      strides, padding, precision, strict: as in :func:`lifting_conv`.
      bias: optional ``(cout,)``, shared over the group axis.

    Returns:
      ``(N, H', W', cout, |G|)``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import actions, groups
    >>> G = groups.cyclic(4)
    >>> f = jnp.sin(jnp.arange(288.0)).reshape(1, 6, 6, 2, 4)
    >>> k = jnp.cos(jnp.arange(216.0)).reshape(3, 3, 2, 4, 3)
    >>> y = group_conv(f, k, G)
    >>> y.shape
    (1, 6, 6, 3, 4)
    >>> bool(jnp.allclose(group_conv(actions.on_group_image(G, 1, f), k, G), actions.on_group_image(G, 1, y), atol=1e-4))
    True
    >>> O = groups.octahedral()
    >>> v = jnp.sin(jnp.arange(2 * 5 ** 3 * 24.0)).reshape(1, 5, 5, 5, 2, 24)
    >>> k3 = jnp.cos(jnp.arange(27 * 2 * 24 * 3.0)).reshape(3, 3, 3, 2, 24, 3)
    >>> y3 = group_conv(v, k3, O)
    >>> y3.shape
    (1, 5, 5, 5, 3, 24)
    >>> bool(jnp.allclose(group_conv(actions.on_group_image(O, 13, v), k3, O), actions.on_group_image(O, 13, y3),
    ...                   atol=1e-3))
    True
    """
    G = check_conv_group(G, "group_conv")
    x = _input_rank(G, 5, x, "group_conv", "(N, H, W, cin, |G|)")
    check_group_axis(x, G, "group_conv")
    kernel = _kernel_rank(G, 5, kernel, "group_conv", "(kh, kw, cin, |G|, cout)")
    if kernel.shape[-3:-1] != x.shape[-2:]:
        spatial = "kh, kw" if x.ndim == 5 else "kd, kh, kw"
        raise ValueError(f"group_conv expects kernel of shape ({spatial}, {x.shape[-2]}, {x.shape[-1]}, cout) for x "
                         f"of shape {x.shape}, got kernel of shape {kernel.shape}")
    bias = _check_bias(bias, kernel.shape[-1], "group_conv")
    flat = x.reshape(x.shape[:-2] + (x.shape[-2] * x.shape[-1],))
    return _convolve(flat, _expand_group(kernel, G, "group_conv"), bias, G, strides, padding, "group_conv",
                     precision, strict)


_POOLS = {"max": jnp.max, "mean": jnp.mean, "sum": jnp.sum}


def group_pool(f: jax.Array, reduce: str = "max") -> jax.Array:
    """Pool over the group axis (the last one): ``(..., C, |G|) -> (..., C)``.

    Invariant to the group permutation, so
    ``group_pool(on_group_image(G, g, f)) == on_image(G, g, group_pool(f))``.

    Args:
      f: group feature maps ``(..., C, |G|)``.
      reduce: ``"max"``, ``"mean"`` or ``"sum"``.

    >>> import jax.numpy as jnp
    >>> group_pool(jnp.array([[1.0, 4.0, 2.0, 3.0]])).tolist()
    [4.0]
    """
    if reduce not in _POOLS:
        raise ValueError(f"group_pool expects reduce to be one of {sorted(_POOLS)}, got {reduce!r}")
    f = jnp.asarray(f)
    if f.ndim < 2:
        raise ValueError(f"group_pool expects f of shape (..., C, |G|), got shape {f.shape}")
    return _POOLS[reduce](f, axis=-1)
