"""Restriction of group feature maps to a subgroup: exact, parameter-free, a single gather on the group axis.

A function on ``G`` seen from a subgroup ``H`` splits along the right cosets
``H r_j``: the values ``f(k r_j)``, ``k`` in ``H``, form one function on ``H``
per coset, and the left action of ``h`` in ``H``, ``f(g) -> f(h^-1 g)``, acts
on each of them as the left regular action of ``H``. So a ``C``-channel map on
``G`` is a ``C * [G:H]``-channel map on ``H`` (channel ``c * [G:H] + j``),
and the common chains D4 -> C4 -> C2 -> trivial (or any ``D_N -> C_N``) move
a network to a smaller symmetry over depth; the trivial subgroup gives the
plain channels ``c * |G| + g`` of an ordinary convolution head.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from symjax.groups import FiniteGroup, Subgroup

__all__ = ["restrict", "restriction_index"]


def _check_subgroup(G, H, fn: str) -> None:
    if not isinstance(G, FiniteGroup):
        raise TypeError(f"{fn} expects G to be a symjax.groups.FiniteGroup, got {type(G).__name__}")
    if not isinstance(H, Subgroup):
        raise TypeError(f"{fn} expects H to be a Subgroup of G (G.subgroup(generators)), got {type(H).__name__}")
    el = np.asarray(H.elements)
    if el.size == 0 or el.min() < 0 or el.max() >= G.order or H.group.order != el.size:
        raise ValueError(f"{fn} expects H to be a subgroup of G = {G.name} (order {G.order}), got H with elements "
                         f"{el.tolist()}")
    if not np.array_equal(G.cayley_table[np.ix_(el, el)], el[H.group.cayley_table]):
        raise ValueError(f"{fn} expects H to be a subgroup of G = {G.name} (H = G.subgroup(generators)); the group "
                         f"law of H = {H.group.name} does not match G's on its elements {el.tolist()}")


@functools.lru_cache(maxsize=None)
def restriction_index(G: FiniteGroup, H: Subgroup) -> np.ndarray:
    """``([G:H], |H|)`` int32: ``index[j, k]`` is the element ``H.elements[k] * r_j`` of ``G``.

    ``r_j`` is the smallest element of the ``j``-th right coset ``H r_j``, the
    cosets ordered by it (so ``r_0`` is the identity and row 0 is ``H`` itself).

    >>> from symjax import groups
    >>> D4 = groups.dihedral(4)
    >>> restriction_index(D4, D4.subgroup([1])).tolist()  # rotations, then the reflections
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    """
    _check_subgroup(G, H, "restriction_index")
    el = np.asarray(H.elements)
    covered = np.zeros(G.order, bool)
    rows = []
    for r in range(G.order):
        if not covered[r]:
            row = G.cayley_table[el, r]
            covered[row] = True
            rows.append(row)
    return np.stack(rows).astype(np.int32)


def restrict(f: jax.Array, G: FiniteGroup, H: Subgroup) -> jax.Array:
    """View a feature map on ``G`` as one on its subgroup ``H``: ``(..., C, |G|) -> (..., C * [G:H], |H|)``.

    Exact and parameter-free (one gather): for every ``h`` in ``H`` with index
    ``h'`` in ``H.group``,
    ``restrict(on_group_image(G, h, f)) == on_group_image(H.group, h', restrict(f))``.
    Output channel ``c * [G:H] + j`` holds ``f[..., c, H.elements[k] * r_j]``
    at group index ``k`` (:func:`restriction_index`).

    Args:
      f: group feature maps ``(..., C, |G|)`` (images ``(N, H, W, C, |G|)`` or any leading axes).
      G: the group of ``f``.
      H: a subgroup, ``G.subgroup(generators)``.

    Returns:
      ``(..., C * [G:H], |H|)``.

    >>> import jax.numpy as jnp
    >>> from symjax import actions, groups
    >>> D4 = groups.dihedral(4)
    >>> C4 = D4.subgroup([1])
    >>> f = jnp.arange(2 * 5 * 5 * 3 * 8.0).reshape(2, 5, 5, 3, 8)
    >>> restrict(f, D4, C4).shape
    (2, 5, 5, 6, 4)
    >>> bool(jnp.array_equal(restrict(actions.on_group_image(D4, 1, f), D4, C4),
    ...                      actions.on_group_image(C4.group, 1, restrict(f, D4, C4))))
    True
    """
    _check_subgroup(G, H, "restrict")
    f = jnp.asarray(f)
    if f.ndim < 2 or f.shape[-1] != G.order:
        raise ValueError(f"restrict expects f of shape (..., C, |G|) with |G| = {G.order} ({G.name}), "
                         f"got shape {f.shape}")
    index = restriction_index(G, H)  # (cosets, |H|)
    out = jnp.take(f, jnp.asarray(index.reshape(-1)), axis=-1)  # (..., C, cosets * |H|)
    return out.reshape(f.shape[:-1] + index.shape).reshape(f.shape[:-2] + (-1, index.shape[1]))
