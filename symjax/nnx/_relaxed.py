"""NNX relaxed lifting and group convolutions (Wang, Walters and Yu 2022) over :mod:`symjax.functional`."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from symjax import functional as F
from symjax.functional._checks import Padding
from symjax.groups import FiniteGroup
from symjax.nnx._layers import ConvWrapper

__all__ = ["RelaxedLiftingConv", "RelaxedGroupConv"]

Initializer = Callable[..., jax.Array]


class RelaxedLiftingConv(ConvWrapper):
    """Relaxed lifting convolution ``(N, H, W, in_features) -> (N, H', W', out_features, |G|)``.

    Arguments as :class:`symjax.nn.RelaxedLiftingConv`, with ``in_features``
    up front and ``rngs``; parameters ``kernel``, ``relaxed_weights`` and ``bias``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax import groups
    >>> layer = RelaxedLiftingConv(groups.cyclic(4), 2, 6, num_filter_basis=3, rngs=nnx.Rngs(0))
    >>> layer.kernel.shape, layer.relaxed_weights.shape, layer(jnp.ones((1, 9, 9, 2))).shape
    ((3, 3, 2, 3, 6), (3, 4), (1, 9, 9, 6, 4))
    """

    def __init__(self, group: FiniteGroup, in_features: int, out_features: int, num_filter_basis: int = 2,
                 kernel_size: int | Sequence[int] = (3, 3), strides: int | Sequence[int] = 1,
                 padding: Padding = "SAME", use_bias: bool = True, dtype: Any = None,
                 param_dtype: Any = jnp.float32, kernel_init: Initializer = F.default_kernel_init,
                 bias_init: Initializer = nnx.initializers.zeros_init(), precision=None, *, strict: bool = False,
                 rngs: nnx.Rngs):
        super().__init__(F.FunctionalRelaxedLiftingConv(
            group, out_features, num_filter_basis=num_filter_basis, kernel_size=kernel_size, strides=strides,
            padding=padding, use_bias=use_bias, dtype=dtype, param_dtype=param_dtype, kernel_init=kernel_init,
            bias_init=bias_init, precision=precision, strict=strict), in_features, rngs=rngs)


class RelaxedGroupConv(ConvWrapper):
    """Relaxed group convolution ``(N, H, W, in_features, |G|) -> (N, H', W', out_features, |G|)``.

    Arguments as :class:`RelaxedLiftingConv`; the kernel is ``(kh, kw, in_features, |G|, L, out_features)``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax import groups
    >>> layer = RelaxedGroupConv(groups.cyclic(4), 2, 5, rngs=nnx.Rngs(0))
    >>> layer.kernel.shape, layer(jnp.ones((1, 7, 7, 2, 4))).shape
    ((3, 3, 2, 4, 2, 5), (1, 7, 7, 5, 4))
    """

    def __init__(self, group: FiniteGroup, in_features: int, out_features: int, num_filter_basis: int = 2,
                 kernel_size: int | Sequence[int] = (3, 3), strides: int | Sequence[int] = 1,
                 padding: Padding = "SAME", use_bias: bool = True, dtype: Any = None,
                 param_dtype: Any = jnp.float32, kernel_init: Initializer = F.default_kernel_init,
                 bias_init: Initializer = nnx.initializers.zeros_init(), precision=None, *, strict: bool = False,
                 rngs: nnx.Rngs):
        super().__init__(F.FunctionalRelaxedGroupConv(
            group, out_features, num_filter_basis=num_filter_basis, kernel_size=kernel_size, strides=strides,
            padding=padding, use_bias=use_bias, dtype=dtype, param_dtype=param_dtype, kernel_init=kernel_init,
            bias_init=bias_init, precision=precision, strict=strict), in_features, rngs=rngs)
