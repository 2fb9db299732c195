"""Flax Linen :class:`EquivariantLinear`: coefficients over the cached equivariant basis."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from symjax import functional as F
from symjax.groups._reps import Rep
from symjax.nn._layers import declare_params

__all__ = ["EquivariantLinear"]


class EquivariantLinear(nn.Module):
    """Equivariant linear layer ``(..., rep_in.dim) -> (..., rep_out.dim)`` for any group representations.

    Holds ``coeffs`` ``(k,)`` over ``equivariant_basis(rep_in, rep_out)`` (solved once per
    pair of representations and cached), initialised variance-preserving
    (:func:`symjax.functional.equivariant_linear_init`), and, with
    ``use_bias``, a ``bias`` ``(k_b,)`` over ``invariant_basis(rep_out)`` (zeros), the only
    directions along which a bias stays equivariant. If ``rep_out`` has no invariant vector
    (e.g. a vector of ``SO(3)``) there is no ``bias`` parameter.

    Attributes:
      rep_in: representation of the input features (hashable, a :class:`symjax.groups.Rep`).
      rep_out: representation of the output features, of the same group.
      use_bias: add an invariant bias.
      dtype: computation dtype (default: inferred from input and parameters).
      param_dtype: parameter dtype.

    >>> import jax, jax.numpy as jnp
    >>> from symjax.groups import O
    >>> from symjax.groups import Standard, Trivial
    >>> V, S = Standard(O(3)), Trivial(O(3))
    >>> layer = EquivariantLinear(4 * V + S, 2 * V + 3 * S)
    >>> variables = layer.init(jax.random.key(0), jnp.ones((5, 13)))
    >>> jax.tree.map(jnp.shape, variables["params"])
    {'bias': (3,), 'coeffs': (11,)}
    >>> layer.apply(variables, jnp.ones((5, 13))).shape
    (5, 9)
    """

    rep_in: Rep
    rep_out: Rep
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32

    @property
    def functional(self) -> F.FunctionalEquivariantLinear:
        return F.FunctionalEquivariantLinear(self.rep_in, self.rep_out, use_bias=self.use_bias, dtype=self.dtype,
                                             param_dtype=self.param_dtype)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        layer = self.functional
        return layer.apply(declare_params(self, layer.param_specs()), x)
