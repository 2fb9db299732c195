"""Flax Linen :class:`EquivariantLinear`: coefficients over the cached equivariant basis."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen.dtypes import promote_dtype

from symjax.functional._equivariant_linear import equivariant_linear, equivariant_linear_init
from symjax.groups._reps import Rep, equivariant_basis, invariant_basis

__all__ = ["EquivariantLinear"]


class EquivariantLinear(nn.Module):
    """Equivariant linear layer ``(..., rep_in.dim) -> (..., rep_out.dim)`` for any group representations.

    Holds ``coeffs`` ``(k,)`` over ``equivariant_basis(rep_in, rep_out)`` (solved once per
    pair of representations and cached), initialised variance-preserving
    (:func:`~symjax.functional._equivariant_linear.equivariant_linear_init`), and, with
    ``use_bias``, a ``bias`` ``(k_b,)`` over ``invariant_basis(rep_out)`` (zeros), the only
    directions along which a bias stays equivariant. If ``rep_out`` has no invariant vector
    (e.g. a vector of ``SO(3)``) there is no ``bias`` parameter.

    Attributes:
      rep_in: representation of the input features (hashable, see :mod:`symjax.groups._reps`).
      rep_out: representation of the output features, of the same group.
      use_bias: add an invariant bias.
      dtype: computation dtype (default: inferred from input and parameters).
      param_dtype: parameter dtype.

    >>> import jax, jax.numpy as jnp
    >>> from symjax.groups import O
    >>> from symjax.groups._reps import Standard, Trivial
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

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        basis = equivariant_basis(self.rep_in, self.rep_out)
        coeffs = self.param("coeffs", equivariant_linear_init, basis, self.param_dtype)
        bias = None
        inv = invariant_basis(self.rep_out)
        if self.use_bias and len(inv):
            b = self.param("bias", nn.initializers.zeros_init(), (len(inv),), self.param_dtype)
            bias = jnp.tensordot(b, jnp.asarray(inv), axes=1)
        x, coeffs, bias = promote_dtype(jnp.asarray(x), coeffs, bias, dtype=self.dtype)
        return equivariant_linear(x, coeffs, basis, bias)
