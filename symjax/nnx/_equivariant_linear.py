"""Flax NNX :class:`EquivariantLinear`: coefficients over the cached equivariant basis."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from symjax import functional as F
from symjax.groups._reps import Rep
from symjax.nnx._layers import declare_params, read_params

__all__ = ["EquivariantLinear"]


class EquivariantLinear(nnx.Module):
    """Equivariant linear layer ``(..., rep_in.dim) -> (..., rep_out.dim)``; the NNX twin of
    :class:`symjax.nn.EquivariantLinear` (same parameters, same outputs).

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
    >>> from symjax.groups import Standard
    >>> V = Standard(SO(3))
    >>> layer = EquivariantLinear(V * V, V, rngs=nnx.Rngs(0))  # a learned multiple of the cross product
    >>> layer.coeffs.shape, layer.bias, layer(jnp.ones((2, 9))).shape
    ((1,), None, (2, 3))
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, use_bias: bool = True, dtype: Any = None,
                 param_dtype: Any = jnp.float32, *, rngs: nnx.Rngs):
        self.functional = F.FunctionalEquivariantLinear(rep_in, rep_out, use_bias=use_bias, dtype=dtype,
                                                        param_dtype=param_dtype)
        declare_params(self, self.functional.param_specs(), self.functional.param_names, rngs)

    @property
    def rep_in(self) -> Rep:
        return self.functional.rep_in

    @property
    def rep_out(self) -> Rep:
        return self.functional.rep_out

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.functional.apply(read_params(self, self.functional.param_names), x)
