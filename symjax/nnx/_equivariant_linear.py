"""Flax NNX :class:`EquivariantLinear`: coefficients over the cached equivariant basis."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn.dtypes import promote_dtype

from symjax.functional._equivariant_linear import equivariant_linear, equivariant_linear_init
from symjax.groups._reps import Rep, equivariant_basis, invariant_basis

__all__ = ["EquivariantLinear"]


class EquivariantLinear(nnx.Module):
    """Equivariant linear layer ``(..., rep_in.dim) -> (..., rep_out.dim)``; the NNX twin of
    :class:`symjax.nn._equivariant_linear.EquivariantLinear` (same parameters, same outputs).

    Args:
      rep_in: representation of the input features.
      rep_out: representation of the output features, of the same group.
      use_bias: add a bias along the invariant directions of ``rep_out`` (no ``bias``
        parameter when there are none).
      dtype: computation dtype (default: inferred from input and parameters).
      param_dtype: parameter dtype.
      rngs: draws the variance-preserving ``coeffs``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax.groups import SO
    >>> from symjax.groups._reps import Standard
    >>> V = Standard(SO(3))
    >>> layer = EquivariantLinear(V * V, V, rngs=nnx.Rngs(0))  # a learned multiple of the cross product
    >>> layer.coeffs.shape, layer.bias, layer(jnp.ones((2, 9))).shape
    ((1,), None, (2, 3))
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, use_bias: bool = True, dtype: Any = None,
                 param_dtype: Any = jnp.float32, *, rngs: nnx.Rngs):
        basis = equivariant_basis(rep_in, rep_out)
        self.rep_in, self.rep_out, self.dtype = rep_in, rep_out, dtype
        self.coeffs = nnx.Param(equivariant_linear_init(rngs.params(), basis, param_dtype))
        n_bias = len(invariant_basis(rep_out))
        self.bias = nnx.Param(jnp.zeros((n_bias,), param_dtype)) if use_bias and n_bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        bias = None if self.bias is None else jnp.tensordot(self.bias[...], jnp.asarray(invariant_basis(self.rep_out)),
                                                             axes=1)
        x, coeffs, bias = promote_dtype((jnp.asarray(x), self.coeffs[...], bias), dtype=self.dtype)
        return equivariant_linear(x, coeffs, equivariant_basis(self.rep_in, self.rep_out), bias)
