"""Argument checks shared by the functional core and the Linen/NNX wrappers."""
from __future__ import annotations

import functools
import warnings
from typing import Sequence, Union

import jax
import jax.numpy as jnp

from symjax.geometry import (
    EXACT_GROUP_NAMES,
    EquivarianceWarning,
    equivariance_pitfalls,
    is_exact_on_grid,
    spatial_dims,
)
from symjax.groups import FiniteGroup

Padding = Union[str, int, Sequence[int], Sequence[tuple[int, int]]]


def check_conv_group(G, fn: str, argname: str = "G") -> FiniteGroup:
    """``G`` itself, if the convolutions can expand a kernel over it.

    Accepted: the groups exact on the pixel grid (:func:`symjax.geometry.exact_groups`),
    any other group of 2x2 orthogonal matrices (C_n, D_n), whose rotations
    are applied by interpolation (approximate equivariance), and the groups of
    3x3 signed permutation matrices (``octahedral()``, ``full_octahedral()``,
    their subgroups), which convolve volumes exactly.
    """
    if not isinstance(G, FiniteGroup):
        raise TypeError(f"{fn} expects {argname} to be a symjax.groups.FiniteGroup, got {type(G).__name__}")
    if is_exact_on_grid(G) or spatial_dims(G) is not None:
        return G
    mats = G.matrices
    if mats is None or mats.shape[-2:] != (2, 2):
        got = "no matrices" if mats is None else f"{mats.shape[-2]}x{mats.shape[-1]} matrices"
    else:
        got = "2x2 matrices that are not orthogonal"
    raise ValueError(f"{fn} expects {argname} to act on the plane by 2x2 orthogonal matrices (exact on the "
                     f"pixel grid: {', '.join(EXACT_GROUP_NAMES)}; by interpolation: other C_n, D_n) or on volumes by "
                     f"3x3 signed permutation matrices (octahedral(), full_octahedral()), got {argname} = {G.name} "
                     f"with {got}")


def check_rank(x, ndim: int, fn: str, layout: str, argname: str = "x") -> jax.Array:
    """``x`` as an array, if it has exactly ``ndim`` axes."""
    x = jnp.asarray(x)
    if x.ndim != ndim:
        raise ValueError(f"{fn} expects {argname} of rank {ndim} {layout}, got shape {x.shape}")
    return x


def check_group_axis(f: jax.Array, G: FiniteGroup, fn: str, argname: str = "x") -> None:
    """Raise unless the last axis of the group feature map ``f`` has size ``|G|``."""
    if f.shape[-1] != G.order:
        raise ValueError(f"{fn} expects the last axis of {argname} to have size |G| = {G.order} ({G.name}), "
                         f"got {f.shape[-1]} ({argname} has shape {f.shape})")


def canonical_strides(strides, fn: str, dims: int = 2) -> tuple[int, ...]:
    """``strides`` (an int or one per spatial axis) as ``dims`` positive ints."""
    items = (strides,) * dims if isinstance(strides, int) else tuple(strides)
    if len(items) != dims or not all(isinstance(s, int) and s >= 1 for s in items):
        what = "a pair of positive ints" if dims == 2 else f"{dims} positive ints"
        raise ValueError(f"{fn} expects strides to be a positive int or {what}, got {strides!r}")
    return items


def canonical_kernel_size(kernel_size, fn: str, dims: int = 2, group: FiniteGroup | None = None) -> tuple[int, ...]:
    """``kernel_size`` (an int or one per spatial axis) as ``dims`` positive ints (``group`` names the volumes')."""
    items = (kernel_size,) * dims if isinstance(kernel_size, int) else tuple(kernel_size)
    if len(items) != dims or not all(isinstance(s, int) and s >= 1 for s in items):
        what = "a pair of positive ints" if dims == 2 else (
            f"{dims} positive ints (kd, kh, kw): group = {getattr(group, 'name', '?')} acts on volumes")
        raise ValueError(f"{fn} expects kernel_size to be a positive int or {what}, got {kernel_size!r}")
    return items


def canonical_padding(padding: Padding, fn: str, dims: int = 2) -> str | tuple[tuple[int, int], ...]:
    """``"SAME"``, ``"VALID"`` or one ``(low, high)`` pair per spatial axis, as ``flax.linen.Conv`` reads it."""
    what = "a pair" if dims == 2 else f"{dims}"
    if isinstance(padding, str):
        if padding.upper() in ("SAME", "VALID"):
            return padding.upper()
        raise ValueError(f"{fn} expects padding 'SAME', 'VALID', an int, {what} of ints or {what} of "
                         f"(low, high) pairs, got {padding!r}")
    if isinstance(padding, int):
        pads = ((padding, padding),) * dims
    else:
        try:
            items = tuple(padding)
            pads = tuple((p, p) if isinstance(p, int) else tuple(p) for p in items)
        except TypeError:
            pads = ()
    if len(pads) != dims or not all(len(p) == 2 and all(isinstance(v, int) and v >= 0 for v in p) for p in pads):
        raise ValueError(f"{fn} expects padding 'SAME', 'VALID', an int, {what} of ints or {what} of "
                         f"(low, high) pairs of non-negative ints, got {padding!r}")
    return pads


def check_group_maps(f, G: FiniteGroup | None, fn: str, argname: str = "f") -> jax.Array:
    """``f`` as an array, if it has the layout of group feature maps ``(N, H, W, C, |G|)`` (rank >= 5).

    Rank 6 is a volume ``(N, D, H, W, C, |G|)``. With ``G`` the last axis must
    also have size ``|G|``; without it a layer cannot tell an image from a
    group feature map by anything but the rank.
    """
    f = jnp.asarray(f)
    if f.ndim < 5:
        raise ValueError(f"{fn} expects group feature maps {argname} of shape (N, H, W, C, |G|) (rank >= 5), got shape "
                         f"{f.shape}: an image (N, H, W, C) has no group axis (lift it first with LiftingConv); for "
                         f"(..., C, |G|) of another rank use symjax.functional.group_pool")
    if G is not None:
        check_group_axis(f, G, fn, argname)
    return f


def check_features(value, fn: str, argname: str) -> int:
    """``value`` itself, if it is a positive int (a layer's output or input channels)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{fn} expects {argname} to be a positive int, got {value!r}")
    return value


@functools.lru_cache(maxsize=256)
def _pitfalls(G: FiniteGroup, input_shape: tuple[int, ...], kernel_size: tuple[int, ...],
              strides: tuple[int, ...], padding) -> tuple[str, ...]:
    return tuple(equivariance_pitfalls(G, input_shape, kernel_size, strides, padding))


def check_equivariant_config(G: FiniteGroup, input_shape: tuple[int, ...], kernel_size: tuple[int, ...],
                             strides: tuple[int, ...], padding, fn: str, strict: bool) -> None:
    """Warn :class:`~symjax.geometry.EquivarianceWarning` (or raise ``ValueError`` with ``strict``) naming the causes.

    The causes are those of :func:`symjax.geometry.equivariance_pitfalls` (cached
    per configuration); the warning points at the caller of ``fn`` (three frames
    up) and, as Python's default filter shows a message once per location, it
    is shown once per configuration. Symbolic sizes (``jax.export`` shape
    polymorphism, as the exports trace) are not checked.
    """
    if not all(isinstance(n, int) for n in tuple(input_shape) + tuple(kernel_size)):
        return
    causes = _pitfalls(G, tuple(input_shape), tuple(kernel_size), tuple(strides), padding)
    report_causes(causes, G, input_shape, kernel_size, strides, padding, fn, strict, stacklevel=5)


def report_causes(causes: Sequence[str], G: FiniteGroup, input_shape, kernel_size, strides, padding, fn: str,
                  strict: bool, stacklevel: int) -> None:
    """The one warning (``ValueError`` with ``strict``) of a convolution configuration that cannot be equivariant.

    Nothing when ``causes`` is empty; ``stacklevel`` counts from this function to the user's call.
    """
    if not causes:
        return
    message = (f"{fn} over {G.name} with input {'x'.join(map(str, input_shape))}, kernel "
               f"{'x'.join(map(str, kernel_size))}, strides {tuple(strides)} and padding {padding!r} cannot be "
               f"exactly equivariant: {'; '.join(causes)}")
    if strict:
        raise ValueError(f"{message} (strict=True)")
    warnings.warn(f"{message}. Pass strict=True to raise instead, or filter symjax.EquivarianceWarning",
                  EquivarianceWarning, stacklevel=stacklevel)
