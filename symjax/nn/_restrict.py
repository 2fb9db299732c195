"""Linen restriction of group feature maps to a subgroup: a parameter-free layer over :func:`symjax.functional.restrict`."""
from __future__ import annotations

import flax.linen as nn
import jax

from symjax import functional as F
from symjax.groups import FiniteGroup, Subgroup

__all__ = ["Restrict"]


class Restrict(nn.Module):
    """View group feature maps on ``group`` as maps on ``subgroup``: ``(..., C, |G|) -> (..., C * [G:H], |H|)``.

    Parameter-free and exact (:func:`symjax.functional.restrict`): the layers
    after it (convolutions over ``subgroup.group``) are equivariant to the
    subgroup only, so a network can move to a smaller symmetry over depth:
    D_N -> C_N (E(2)-CNN's "D16|5C16" models), C_N -> C_M for M dividing N,
    any group -> the trivial subgroup (``group.subgroup([0])``: plain channels
    ``c * |G| + g``, as a plain convolution head reads them, with a group axis
    of size 1).

    Attributes:
      group: the group ``G`` of the input maps.
      subgroup: ``H = group.subgroup(generators)``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups, nn
    >>> D4 = groups.dihedral(4)
    >>> C4 = D4.subgroup([1])
    >>> f = jnp.ones((2, 7, 7, 3, 8))
    >>> Restrict(D4, C4).apply({}, f).shape
    (2, 7, 7, 6, 4)
    >>> g = nn.GroupConv(C4.group, 5)
    >>> g.apply(g.init(jax.random.key(0), Restrict(D4, C4).apply({}, f)), Restrict(D4, C4).apply({}, f)).shape
    (2, 7, 7, 5, 4)
    """

    group: FiniteGroup
    subgroup: Subgroup

    def __call__(self, f: jax.Array) -> jax.Array:
        return F.restrict(f, self.group, self.subgroup)
