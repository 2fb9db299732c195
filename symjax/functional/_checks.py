"""Argument checks shared by the functional core and the Linen/NNX wrappers."""
from __future__ import annotations

from typing import Sequence, Union

import jax
import jax.numpy as jnp

from symjax.actions import is_exact_on_grid
from symjax.groups import FiniteGroup

Padding = Union[str, int, Sequence[int], Sequence[tuple[int, int]]]

EXACT_GROUPS = "C1, C2, C4, D1, D2, D4"


def check_exact_group(G, fn: str, argname: str = "G") -> FiniteGroup:
    """``G`` itself, if it is a FiniteGroup acting on the pixel grid by exact permutations."""
    if not isinstance(G, FiniteGroup):
        raise TypeError(f"{fn} expects {argname} to be a symjax.groups.FiniteGroup, got {type(G).__name__}")
    if not is_exact_on_grid(G):
        raise ValueError(f"{fn} expects {argname} to act exactly on the pixel grid ({EXACT_GROUPS}), "
                         f"got {argname} = {G.name}; approximate rotations are not supported by these layers")
    return G


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


def canonical_strides(strides, fn: str) -> tuple[int, int]:
    """``strides`` (an int or a pair) as a pair of positive ints."""
    pair = (strides, strides) if isinstance(strides, int) else tuple(strides)
    if len(pair) != 2 or not all(isinstance(s, int) and s >= 1 for s in pair):
        raise ValueError(f"{fn} expects strides to be a positive int or a pair of positive ints, got {strides!r}")
    return pair


def canonical_kernel_size(kernel_size, fn: str) -> tuple[int, int]:
    """``kernel_size`` (an int or a pair) as a pair of positive ints."""
    pair = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if len(pair) != 2 or not all(isinstance(s, int) and s >= 1 for s in pair):
        raise ValueError(f"{fn} expects kernel_size to be a positive int or a pair of positive ints, "
                         f"got {kernel_size!r}")
    return pair


def canonical_padding(padding: Padding, fn: str) -> str | tuple[tuple[int, int], tuple[int, int]]:
    """``"SAME"``, ``"VALID"`` or ``((top, bottom), (left, right))``, as ``flax.linen.Conv`` reads it."""
    if isinstance(padding, str):
        if padding.upper() in ("SAME", "VALID"):
            return padding.upper()
        raise ValueError(f"{fn} expects padding 'SAME', 'VALID', an int, a pair of ints or a pair of "
                         f"(low, high) pairs, got {padding!r}")
    if isinstance(padding, int):
        pads = ((padding, padding), (padding, padding))
    else:
        try:
            items = tuple(padding)
            pads = tuple((p, p) if isinstance(p, int) else tuple(p) for p in items)
        except TypeError:
            pads = ()
    if len(pads) != 2 or not all(len(p) == 2 and all(isinstance(v, int) and v >= 0 for v in p) for p in pads):
        raise ValueError(f"{fn} expects padding 'SAME', 'VALID', an int, a pair of ints or a pair of "
                         f"(low, high) pairs of non-negative ints, got {padding!r}")
    return pads
