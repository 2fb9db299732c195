"""Kernel expansion for groups that rotate by interpolation (C_n, D_n with n not dividing 4).

For a group whose 2x2 matrices do not permute the pixel grid (``cyclic(8)``,
``dihedral(8)``, ...), the copy of a kernel for element ``h`` is its taps
resampled by ``h`` about the kernel centre, bilinearly with zero fill, exactly
as :func:`symjax.actions.on_image` resamples an image; for group kernels the
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

from symjax.actions import _regular_index
from symjax.groups import FiniteGroup

_SNAP = 1e-4  # as actions._resample: coordinates this close to a pixel land on it


def _bilinear(matrix: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """``(P, P)``: ``out_flat = W @ in_flat`` is ``out(p) = in(matrix^-1 p)`` about the kernel centre."""
    rows, cols = np.meshgrid(np.arange(kh), np.arange(kw), indexing="ij")
    cy, cx = (kh - 1) / 2.0, (kw - 1) / 2.0
    p = np.stack([cols - cx, cy - rows], axis=-1).reshape(-1, 2).astype(np.float64)
    src = p @ np.linalg.inv(matrix).T
    col, row = src[:, 0] + cx, cy - src[:, 1]
    col = np.where(np.abs(col - np.round(col)) < _SNAP, np.round(col), col)
    row = np.where(np.abs(row - np.round(row)) < _SNAP, np.round(row), row)
    r0, c0 = np.floor(row), np.floor(col)
    wr, wc = row - r0, col - c0
    out = np.zeros((kh * kw, kh * kw))
    for dr, dc, weight in ((0, 0, (1 - wr) * (1 - wc)), (0, 1, (1 - wr) * wc),
                           (1, 0, wr * (1 - wc)), (1, 1, wr * wc)):
        rr, cc = (r0 + dr).astype(int), (c0 + dc).astype(int)
        valid = (rr >= 0) & (rr < kh) & (cc >= 0) & (cc < kw) & (weight != 0)
        np.add.at(out, (np.nonzero(valid)[0], rr[valid] * kw + cc[valid]), weight[valid])
    return out


def _disc(kh: int, kw: int) -> np.ndarray:
    """``(P,)`` 1.0 for the taps within ``(min(kh, kw) - 1) / 2`` of the kernel centre, else 0.0."""
    rows, cols = np.meshgrid(np.arange(kh) - (kh - 1) / 2.0, np.arange(kw) - (kw - 1) / 2.0, indexing="ij")
    radius = (min(kh, kw) - 1) / 2.0
    return (rows ** 2 + cols ** 2 <= radius ** 2 + 1e-9).astype(np.float64).reshape(-1)


@functools.lru_cache(maxsize=None)
def interpolation_tensor(G: FiniteGroup, kh: int, kw: int, disc: bool = True) -> np.ndarray:
    """``(|G|, P, P)`` float32: the taps of the copy for ``h`` are ``tensor[h] @ taps`` (``P = kh*kw``).

    Row ``p`` of ``tensor[h]`` holds the (at most four) bilinear weights of the
    source taps of tap ``p``. Elements exact on the grid give permutation
    matrices (the index of :mod:`symjax.functional._conv`). With ``disc`` only
    the source taps in the inscribed disc are read (``tensor[h] = W_h @ diag(mask)``).
    """
    tensor = np.stack([_bilinear(np.asarray(m, np.float64), kh, kw) for m in G.matrices])
    if disc:
        tensor = tensor * _disc(kh, kw)[None, None, :]
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
    permuted = kernel.reshape(kh * kw, cin, n, cout)[:, :, _regular_index(G)]  # (P, cin, n_h, n_k, cout): h^-1 k
    taps = jnp.einsum("hpq,qchko->pckoh", weights, permuted)
    return taps.reshape(kh, kw, cin * n, cout * n)
