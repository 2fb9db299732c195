"""NNX restriction of group feature maps to a subgroup: a parameter-free layer over :func:`symjax.functional.restrict`."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from symjax import functional as F
from symjax.groups import FiniteGroup, Subgroup

__all__ = ["Restrict"]


class Restrict(nnx.Module):
    """View group feature maps on ``group`` as maps on ``subgroup``: ``(..., C, |G|) -> (..., C * [G:H], |H|)``.

    As :class:`symjax.nn.Restrict` (parameter-free, exact; D_N -> C_N,
    C_N -> C_M, any group -> ``group.subgroup([0])``). The subgroup is checked
    when the layer is built.

    Args:
      group: the group ``G`` of the input maps.
      subgroup: ``H = group.subgroup(generators)``.

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> C8 = groups.cyclic(8)
    >>> Restrict(C8, C8.subgroup([2]))(jnp.ones((2, 7, 7, 3, 8))).shape
    (2, 7, 7, 6, 4)
    """

    def __init__(self, group: FiniteGroup, subgroup: Subgroup):
        F.restrict(jnp.zeros((1, getattr(group, "order", 1))), group, subgroup)  # checks the arguments now
        self.group = group
        self.subgroup = subgroup

    def __call__(self, f: jax.Array) -> jax.Array:
        return F.restrict(f, self.group, self.subgroup)
