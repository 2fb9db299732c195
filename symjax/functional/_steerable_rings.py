"""The radial profile and band limit of the steerable bases: rings, their widths, their largest frequency.

:func:`ring_settings` turns a layer's ``rings``, ``sigma`` and ``max_frequency`` (``None``:
the default) into the hashable :class:`RingSettings` the bases are cached by. The default is
escnn's (``R2Conv``: rings at radii ``0, 1, ..., (k-1)//2``, Gaussian widths 0.6 inside and
0.4 on the outer ring, the band limit ``_manual_fco1``) except for one measured change: the
outer ring of odd kernels from 5x5 up, on the last row of taps, is pulled in by
:data:`OUTER_PULL` and widened to :data:`OUTER_SIGMA`. :func:`escnn_rings` and
:func:`escnn_sigma` give escnn's profile.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

__all__ = ["OUTER_PULL", "OUTER_SIGMA", "RingSettings", "ring_settings", "escnn_rings", "escnn_sigma"]


class RingSettings(NamedTuple):
    """The radial profile and band limit of a steerable basis: one entry per ring (hashable, a cache key)."""

    kernel_size: int
    rings: tuple[float, ...]
    sigma: tuple[float, ...]
    max_frequency: tuple[int, ...]


def _escnn_frequency(r: float, max_radius: float) -> int:
    """escnn's default band limit (``_manual_fco1``): 0 at the centre, ~2r inside, 2 on the outer ring."""
    if r == 0:
        return 0
    return int(min(2 * r, 2 if r == max_radius else 2 * r - (r + 1) % 2))


OUTER_PULL = 0.4
"""How far (pixels) the default outer ring of an odd ``k >= 5`` kernel sits inside the last row of taps."""

OUTER_SIGMA = 0.5
"""The default Gaussian width of that pulled-in outer ring (escnn's outer ring: 0.4 at the last row)."""


def _pulls_in(k: int) -> bool:
    """Whether the default profile of a ``k x k`` kernel pulls its outer ring in (odd ``k >= 5``).

    At ``k = 3`` the only ring carries the harmonics: pulled in to 0.6 px it measured 2.5x
    escnn's off-grid error (3x3 layers in ``symjax.bench.steerable``'s net), so it stays.
    """
    return k % 2 == 1 and k >= 5


def _square_size(kernel_size, fn: str) -> int:
    """``k`` of a square kernel given as ``k`` or ``(k, k)``; a ValueError naming ``kernel_size`` otherwise."""
    if isinstance(kernel_size, (int, np.integer)):
        size = (kernel_size, kernel_size)
    else:
        size = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else ()
    if len(size) != 2 or size[0] != size[1] or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in size):
        raise ValueError(f"{fn} expects a square kernel_size (an int k or (k, k), k >= 1), got {kernel_size!r}")
    return int(size[0])


def escnn_rings(kernel_size: int | Sequence[int]) -> tuple[float, ...]:
    """escnn's ring radii of a ``k x k`` kernel (``R2Conv``'s default): ``0, 1, ..., (k-1)//2``.

    >>> escnn_rings(7)
    (0.0, 1.0, 2.0, 3.0)
    """
    k = _square_size(kernel_size, "escnn_rings")
    return tuple(float(r) for r in np.linspace(0, (k - 1) // 2, math.ceil(k / 2)))


def escnn_sigma(kernel_size: int | Sequence[int], rings: Sequence[float] | None = None) -> tuple[float, ...]:
    """escnn's Gaussian widths for ``rings`` (default :func:`escnn_rings`): 0.005 at radius 0, 0.6, 0.4 outermost.

    >>> escnn_sigma(5)
    (0.005, 0.6, 0.4)
    """
    k = _square_size(kernel_size, "escnn_sigma")
    rings = escnn_rings(k) if rings is None else tuple(rings)
    n = len(rings)
    return tuple(0.005 if r == 0 else (0.4 if i == n - 1 else 0.6) for i, r in enumerate(rings))


def _per_ring(value, n: int, name: str, cast) -> tuple:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return (cast(value),) * n
    items = tuple(value)
    if len(items) != n:
        raise ValueError(f"steerable basis expects {name} to be a number or one value per ring ({n} rings), "
                         f"got {value!r}")
    return tuple(cast(v) for v in items)


def ring_settings(kernel_size: int | Sequence[int], rings: Sequence[float] | None = None,
                  sigma: float | Sequence[float] | None = None,
                  max_frequency: int | Sequence[int] | None = None) -> RingSettings:
    """The canonical :class:`RingSettings` of a ``k x k`` kernel, the defaults below for what is ``None``.

    Args:
      kernel_size: ``k`` or ``(k, k)`` (square).
      rings: ring radii in pixels; default ``0, 1, ..., (k-1)//2`` with, for odd ``k >= 5``,
        the outer ring pulled in by :data:`OUTER_PULL` (0.4 px).
      sigma: Gaussian width per ring (or one for all); default 0.005 at radius 0, 0.6 inside
        and, on the outer ring, 0.5 where it is pulled in (0.4 otherwise, as escnn).
      max_frequency: the largest angular frequency per ring (or one for all); default
        escnn's: 0 at the centre, ``2r`` (odd part trimmed) inside, 2 on the outer ring.

    escnn's radial profile (``R2Conv``'s default: rings ``0, 1, ..., (k-1)//2``, ``sigma``
    0.6 inside and 0.4 on the outer ring) is ``rings=escnn_rings(k)``, ``sigma=escnn_sigma(k)``
    (:func:`escnn_rings`); the default differs from it for odd ``k >= 5`` only. The outer ring
    at the last row of taps is resolved worst by the grid (narrow, and cut by the square);
    pulled in and widened it keeps the same harmonics and vanishes (below 2%) before the first
    tap outside the kernel. Measured with ``symjax.bench.steerable``'s random C8/C16 network
    (benchmarks/README.md, "Steerable convolutions"): a lower off-grid error than escnn's
    profile with both readouts at C8 and C16, C8 digits as accurate; C16 digits trained more
    slowly with it (3 seeds), where escnn's profile may be the better choice.

    >>> ring_settings(5)
    RingSettings(kernel_size=5, rings=(0.0, 1.0, 1.6), sigma=(0.005, 0.6, 0.5), max_frequency=(0, 2, 2))
    >>> ring_settings(5, rings=escnn_rings(5), sigma=escnn_sigma(5))
    RingSettings(kernel_size=5, rings=(0.0, 1.0, 2.0), sigma=(0.005, 0.6, 0.4), max_frequency=(0, 2, 2))
    >>> ring_settings(3) == ring_settings(3, rings=escnn_rings(3), sigma=escnn_sigma(3))
    True
    """
    k = _square_size(kernel_size, "a steerable kernel")
    pulled = rings is None and _pulls_in(k)
    nominal = escnn_rings(k)
    if rings is None:
        rings = nominal[:-1] + (nominal[-1] - OUTER_PULL,) if pulled else nominal
    else:
        rings = tuple(float(r) for r in rings)
        if not rings or min(rings) < 0:
            raise ValueError(f"steerable basis expects rings to be non-negative radii, got {rings!r}")
    n = len(rings)
    if sigma is None:
        sigma = escnn_sigma(k, rings)
        if pulled:
            sigma = sigma[:-1] + (OUTER_SIGMA,)
    sigma = _per_ring(sigma, n, "sigma", float)
    if min(sigma) <= 0:
        raise ValueError(f"steerable basis expects positive sigma, got {sigma!r}")
    if max_frequency is None:  # escnn's rule on the rings' nominal radii (the pulled-in ring keeps its harmonics)
        radii = nominal if pulled else rings
        max_frequency = tuple(_escnn_frequency(r, k // 2) for r in radii)
    max_frequency = _per_ring(max_frequency, n, "max_frequency", int)
    if min(max_frequency) < 0:
        raise ValueError(f"steerable basis expects max_frequency >= 0, got {max_frequency!r}")
    return RingSettings(k, rings, sigma, max_frequency)
