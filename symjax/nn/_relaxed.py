"""Linen relaxed lifting and group convolutions (Wang, Walters and Yu 2022) over :mod:`symjax.functional`."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from symjax import functional as F
from symjax.functional._checks import Padding
from symjax.groups import FiniteGroup
from symjax.nn._layers import ConvWrapper

__all__ = ["RelaxedLiftingConv", "RelaxedGroupConv"]

Initializer = Callable[..., jax.Array]


class _RelaxedConv(ConvWrapper):
    """The attributes shared by :class:`RelaxedLiftingConv` and :class:`RelaxedGroupConv`."""

    group: FiniteGroup
    features: int
    num_filter_basis: int = 2
    kernel_size: int | Sequence[int] = (3, 3)
    strides: int | Sequence[int] = 1
    padding: Padding = "SAME"
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    kernel_init: Initializer = F.default_kernel_init
    bias_init: Initializer = nn.initializers.zeros_init()
    precision: Any = None
    strict: bool = False

    def config(self) -> dict[str, Any]:
        return dict(num_filter_basis=self.num_filter_basis, kernel_size=self.kernel_size, strides=self.strides,
                    padding=self.padding, use_bias=self.use_bias, dtype=self.dtype, param_dtype=self.param_dtype,
                    kernel_init=self.kernel_init, bias_init=self.bias_init, precision=self.precision,
                    strict=self.strict)


class RelaxedLiftingConv(_RelaxedConv):
    """Relaxed lifting convolution ``(N, H, W, cin) -> (N, H', W', features, |G|)`` (Wang et al. 2022).

    :class:`symjax.functional.FunctionalRelaxedLiftingConv`: ``num_filter_basis``
    kernels mixed by coefficients per output group element (``relaxed_weights``
    ``(L, |G|)``, equal at initialisation: the layer starts as a
    :class:`~symjax.nn.LiftingConv`). Penalise
    :func:`symjax.functional.relaxed_penalty` to control how far it breaks the
    symmetry. Other attributes as :class:`~symjax.nn.LiftingConv`; exported by
    :func:`symjax.nn.export` like it.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> layer = RelaxedLiftingConv(groups.cyclic(4), features=6, num_filter_basis=3)
    >>> variables = layer.init(jax.random.key(0), jnp.ones((1, 9, 9, 2)))
    >>> variables["params"]["relaxed_weights"].shape, layer.apply(variables, jnp.ones((1, 9, 9, 2))).shape
    ((3, 4), (1, 9, 9, 6, 4))
    """

    @property
    def functional(self) -> F.FunctionalRelaxedLiftingConv:
        return F.FunctionalRelaxedLiftingConv(self.group, self.features, **self.config())


class RelaxedGroupConv(_RelaxedConv):
    """Relaxed group convolution ``(N, H, W, cin, |G|) -> (N, H', W', features, |G|)`` (Wang et al. 2022).

    :class:`symjax.functional.FunctionalRelaxedGroupConv`: coefficients per
    input group element; attributes as :class:`RelaxedLiftingConv`; the kernel
    is ``(kh, kw, cin, |G|, L, features)``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> layer = RelaxedGroupConv(groups.dihedral(4), features=5)
    >>> f = jnp.ones((1, 7, 7, 2, 8))
    >>> layer.apply(layer.init(jax.random.key(0), f), f).shape
    (1, 7, 7, 5, 8)
    """

    @property
    def functional(self) -> F.FunctionalRelaxedGroupConv:
        return F.FunctionalRelaxedGroupConv(self.group, self.features, **self.config())
