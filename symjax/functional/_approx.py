"""Kernel expansion for groups that rotate by interpolation (C_n, D_n with n not dividing 4).

This is the ``basis="bilinear"`` construction of ``LiftingConv``/``GroupConv`` and of
:func:`~symjax.functional.lifting_conv` / :func:`~symjax.functional.group_conv`; the
layers default to the steerable basis off the grid
(:class:`~symjax.functional.FunctionalSteerableLiftingConv`), whose copies are rotated
analytically, not resampled.

For a group whose 2x2 matrices do not permute the pixel grid (``cyclic(8)``,
``dihedral(8)``, ...), the copy of a kernel for element ``h`` is its taps
resampled by ``h`` about the kernel centre, bilinearly with zero fill, by the
same interpolation as :func:`symjax.actions.on_image` resamples an image
(:func:`symjax.geometry.bilinear_taps`); for group kernels the
input group axis is also permuted by the left regular action, as for the exact
groups. The resampling is a linear map on the ``P = kh*kw`` taps, built once
per (group, kernel size) in NumPy as an interpolation tensor ``(|G|, P, P)``
(for an exact group it would be a permutation) and applied with one einsum.

The kernel's parameters are restricted to its inscribed disc (taps within
``(k-1)/2`` of the centre; the corner parameters are unused and get no
gradient) before it is rotated: corner taps leave the window under a
45-degree rotation, and dropping them halves the measured equivariance error
on smooth inputs (``docs/layers.md``, "Approximate rotations"). The rotated
copies themselves are not masked (clipping them too made the error larger).

This is approximate: bilinear rotations do not compose exactly, so
``layer(on_image(G, g, x))`` and ``on_group_image(G, g, layer(x))`` differ by
an interpolation error (``benchmarks/bench_approx.py`` measures it), except for
the elements of ``G`` that are exact on the grid (multiples of 90 degrees and
the flips), whose tensors are exact permutations.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from symjax.geometry import disc_mask, interpolation_matrix, regular_index
from symjax.groups import FiniteGroup


@functools.lru_cache(maxsize=None)
def interpolation_tensor(G: FiniteGroup, kh: int, kw: int, disc: bool = True) -> np.ndarray:
    """``(|G|, P, P)`` float32: the taps of the copy for ``h`` are ``tensor[h] @ taps`` (``P = kh*kw``).

    Row ``p`` of ``tensor[h]`` holds the (at most four) bilinear weights of the
    source taps of tap ``p``. Elements exact on the grid give permutation
    matrices (the index maps of :mod:`symjax.geometry`). With ``disc`` only
    the source taps in the inscribed disc are read (``tensor[h] = W_h @ diag(mask)``).
    """
    tensor = np.stack([interpolation_matrix(m, kh, kw) for m in G.matrices])
    if disc:
        tensor = tensor * disc_mask(kh, kw).reshape(1, 1, -1)
    return tensor.astype(np.float32)


def _check_square(G: FiniteGroup, kernel: jax.Array, fn: str) -> None:
    if kernel.shape[0] != kernel.shape[1]:
        raise ValueError(f"{fn} with {G.name} (rotations by interpolation) needs a square kernel, "
                         f"got kernel of shape {tuple(kernel.shape)}")


def lift_kernel(kernel: jax.Array, G: FiniteGroup, fn: str = "lift_kernel", disc: bool = True) -> jax.Array:
    """``(kh, kw, cin, cout) -> (kh, kw, cin, cout * |G|)``, copy ``h`` resampled by ``h``."""
    _check_square(G, kernel, fn)
    kh, kw, cin, cout = kernel.shape
    weights = jnp.asarray(interpolation_tensor(G, kh, kw, disc), kernel.dtype)
    taps = jnp.einsum("hpq,qio->pioh", weights, kernel.reshape(kh * kw, cin, cout))
    return taps.reshape(kh, kw, cin, cout * G.order)


def group_kernel(kernel: jax.Array, G: FiniteGroup, fn: str = "group_kernel", disc: bool = True) -> jax.Array:
    """``(kh, kw, cin, |G|, cout) -> (kh, kw, cin * |G|, cout * |G|)``: copy ``h`` is ``on_group_image(G, h, kernel)``."""
    _check_square(G, kernel, fn)
    kh, kw, cin, n, cout = kernel.shape
    weights = jnp.asarray(interpolation_tensor(G, kh, kw, disc), kernel.dtype)
    permuted = kernel.reshape(kh * kw, cin, n, cout)[:, :, regular_index(G)]  # (P, cin, n_h, n_k, cout): h^-1 k
    taps = jnp.einsum("hpq,qchko->pckoh", weights, permuted)
    return taps.reshape(kh, kw, cin * n, cout * n)
