"""NNX steerable convolution between field types of a planar group (escnn's ``R2Conv``)."""
from __future__ import annotations

from typing import Any, Sequence

import jax.numpy as jnp
from flax import nnx

from symjax import functional as F
from symjax.functional._checks import Padding
from symjax.groups import Rep
from symjax.nnx._layers import ConvWrapper

__all__ = ["SteerableConv"]


class SteerableConv(ConvWrapper):
    """Steerable convolution ``(N, H, W, in_rep.dim) -> (N, H', W', out_rep.dim)``, as :class:`symjax.nn.SteerableConv`.

    The input channels are ``in_rep.dim``; ``rngs`` draws the coefficients.
    :func:`symjax.nnx.export` turns it into a plain ``flax.nnx.Conv``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx as fnnx
    >>> from symjax import groups
    >>> D8 = groups.dihedral(8)
    >>> layer = SteerableConv(groups.Regular(D8), 2 * groups.Regular(D8), kernel_size=3, rngs=fnnx.Rngs(0))
    >>> layer.weights.shape, layer(jnp.ones((1, 7, 7, 16))).shape
    ((192,), (1, 7, 7, 32))
    """

    def __init__(self, in_rep: Rep, out_rep: Rep, kernel_size: int | Sequence[int] = 3,
                 strides: int | Sequence[int] = 1, padding: Padding = "SAME", use_bias: bool = True,
                 dtype: Any = None, param_dtype: Any = jnp.float32, precision: Any = None, *, strict: bool = False,
                 rings: Sequence[float] | None = None, sigma: float | Sequence[float] | None = None,
                 max_frequency: int | Sequence[int] | None = None, rngs: nnx.Rngs):
        functional = F.FunctionalSteerableConv(in_rep, out_rep, kernel_size, strides, padding, use_bias, dtype,
                                               param_dtype, precision, strict, rings, sigma, max_frequency)
        super().__init__(functional, in_rep.dim, rngs=rngs)

    @property
    def in_rep(self) -> Rep:
        return self.functional.in_rep

    @property
    def out_rep(self) -> Rep:
        return self.functional.out_rep
