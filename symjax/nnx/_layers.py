"""Flax NNX modules: each creates the parameters of its :mod:`symjax.functional` definition and applies it.

Same class names and computations as :mod:`symjax.nn`; NNX modules take their
input sizes up front and a ``rngs`` keyword, as ``flax.nnx.Conv`` does.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from symjax import functional as F
from symjax.functional._checks import Padding, check_group_maps
from symjax.functional._steerable import regular_conv
from symjax.groups import FiniteGroup

__all__ = ["ConvWrapper", "LiftingConv", "GroupConv", "GroupPool", "GroupBatchNorm", "SetLinear", "SetPool",
           "declare_params", "read_params"]

Initializer = Callable[..., jax.Array]


def declare_params(module: nnx.Module, specs, names: tuple[str, ...], rngs: nnx.Rngs) -> None:
    """Store each :class:`~symjax.functional.ParamSpec` of ``specs`` on ``module`` as an ``nnx.Param``.

    The parameters are drawn in the order of ``specs``, one ``rngs.params()``
    key each (none for ``keyed=False`` specs); the names of ``names`` that
    ``specs`` lacks (an optional bias that is off) are set to ``None``.
    """
    made = {s.name: nnx.Param(s.init(rngs.params() if s.keyed else None, s.shape, s.dtype)) for s in specs}
    for name in names:
        setattr(module, name, made.get(name))


def read_params(module: nnx.Module, names: tuple[str, ...]) -> dict[str, jax.Array]:
    """``{name: value}`` of the parameters ``names`` that ``module`` holds (``None`` ones are left out)."""
    return {name: getattr(module, name)[...] for name in names if getattr(module, name) is not None}


class ConvWrapper(nnx.Module):
    """An NNX convolution: holds the parameters of its functional definition and applies it.

    :func:`symjax.nnx.export` turns every ``ConvWrapper`` into a
    :class:`~symjax.nnx.PlainConv` computing ``functional`` with its expanded kernel.

    Args:
      functional: a :class:`symjax.functional.FunctionalConv`.
      in_features: the input channels.
      rngs: draws the parameters.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax import functional as F, groups
    >>> conv = ConvWrapper(F.FunctionalGroupConv(groups.cyclic(4), 3), 2, rngs=nnx.Rngs(0))
    >>> conv.kernel.shape, conv(jnp.ones((1, 5, 5, 2, 4))).shape
    ((3, 3, 2, 4, 3), (1, 5, 5, 3, 4))
    """

    def __init__(self, functional: F.FunctionalConv, in_features: int, *, rngs: nnx.Rngs):
        self.functional = functional
        declare_params(self, functional.param_specs(in_features), functional.param_names, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.functional.apply(read_params(self, self.functional.param_names), x)


class _Conv(ConvWrapper):
    """:class:`LiftingConv` and :class:`GroupConv`: their configuration, read from the functional definition."""

    @property
    def group(self) -> FiniteGroup:
        return self.functional.group

    @property
    def strides(self) -> tuple[int, int]:
        return self.functional.strides

    @property
    def padding(self):
        return self.functional.padding

    @property
    def dtype(self) -> Any:
        return self.functional.dtype

    @property
    def precision(self) -> Any:
        return self.functional.precision

    @property
    def strict(self) -> bool:
        return self.functional.strict


class LiftingConv(_Conv):
    """Lifting convolution ``(N, H, W, in_features) -> (N, H', W', out_features, |G|)``.

    Arguments as :class:`symjax.nn.LiftingConv` (``strict``, ``basis``, ``rings``, ``sigma``,
    ``max_frequency`` keyword-only), with the input channels ``in_features`` given up front and
    ``rngs`` for initialisation.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax import groups
    >>> layer = LiftingConv(groups.dihedral(4), 3, 6, rngs=nnx.Rngs(0))
    >>> layer.kernel.shape, layer(jnp.ones((1, 9, 9, 3))).shape
    ((3, 3, 3, 6), (1, 9, 9, 6, 8))
    """

    def __init__(self, group: FiniteGroup, in_features: int, out_features: int,
                 kernel_size: int | Sequence[int] = (3, 3), strides: int | Sequence[int] = 1,
                 padding: Padding = "SAME", use_bias: bool = True, dtype: Any = None,
                 param_dtype: Any = jnp.float32, kernel_init: Initializer = F.default_kernel_init,
                 bias_init: Initializer = nnx.initializers.zeros_init(), precision=None, *, strict: bool = False,
                 basis: str | None = None, rings: Sequence[float] | None = None,
                 sigma: float | Sequence[float] | None = None, max_frequency: int | Sequence[int] | None = None,
                 rngs: nnx.Rngs):
        super().__init__(regular_conv(
            "lifting", group, out_features, basis, kernel_size=kernel_size, strides=strides, padding=padding, use_bias=use_bias,
            dtype=dtype, param_dtype=param_dtype, kernel_init=kernel_init, bias_init=bias_init,
            precision=precision, strict=strict, rings=rings, sigma=sigma, max_frequency=max_frequency),
            in_features, rngs=rngs)


class GroupConv(_Conv):
    """Group convolution ``(N, H, W, in_features, |G|) -> (N, H', W', out_features, |G|)``.

    Arguments as :class:`symjax.nn.GroupConv`, with ``in_features`` and ``rngs``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax import groups
    >>> layer = GroupConv(groups.cyclic(4), 2, 5, rngs=nnx.Rngs(0))
    >>> layer.kernel.shape, layer(jnp.ones((1, 7, 7, 2, 4))).shape
    ((3, 3, 2, 4, 5), (1, 7, 7, 5, 4))
    """

    def __init__(self, group: FiniteGroup, in_features: int, out_features: int,
                 kernel_size: int | Sequence[int] = (3, 3), strides: int | Sequence[int] = 1,
                 padding: Padding = "SAME", use_bias: bool = True, dtype: Any = None,
                 param_dtype: Any = jnp.float32, kernel_init: Initializer = F.default_kernel_init,
                 bias_init: Initializer = nnx.initializers.zeros_init(), precision=None, *, strict: bool = False,
                 basis: str | None = None, rings: Sequence[float] | None = None,
                 sigma: float | Sequence[float] | None = None, max_frequency: int | Sequence[int] | None = None,
                 rngs: nnx.Rngs):
        super().__init__(regular_conv(
            "group", group, out_features, basis, kernel_size=kernel_size, strides=strides, padding=padding, use_bias=use_bias,
            dtype=dtype, param_dtype=param_dtype, kernel_init=kernel_init, bias_init=bias_init,
            precision=precision, strict=strict, rings=rings, sigma=sigma, max_frequency=max_frequency),
            in_features, rngs=rngs)


class GroupPool(nnx.Module):
    """Pool group feature maps over the group axis: ``(N, H, W, C, |G|) -> (N, H, W, C)``.

    Arguments as :class:`symjax.nn.GroupPool`: rank >= 5, and with ``group``
    the last axis must have size ``|G|``.

    >>> import jax.numpy as jnp
    >>> GroupPool("mean")(jnp.ones((2, 5, 5, 3, 8))).shape
    (2, 5, 5, 3)
    """

    def __init__(self, reduce: str = "max", group: FiniteGroup | None = None):
        F.group_pool(jnp.zeros((1, 1)), reduce)  # validates ``reduce`` now rather than at the first call
        self.reduce = reduce
        self.group = group

    def __call__(self, f: jax.Array) -> jax.Array:
        return F.group_pool(check_group_maps(f, self.group, "GroupPool"), self.reduce)


class GroupBatchNorm(nnx.Module):
    """Batch normalisation of group feature maps ``(N, H, W, C, |G|)``, statistics shared over the group axis.

    Input of rank >= 5, as :class:`symjax.nn.GroupBatchNorm`. Arguments as
    :class:`flax.nnx.BatchNorm` (``num_features`` is ``C``);
    ``model.eval()`` / ``model.train()`` switch ``use_running_average``.

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> bn = GroupBatchNorm(3, rngs=nnx.Rngs(0))
    >>> y = bn(jnp.sin(jnp.arange(2400.0)).reshape(4, 5, 5, 3, 8))
    >>> y.shape, bn.mean.shape
    ((4, 5, 5, 3, 8), (3,))
    """

    def __init__(self, num_features: int, *, use_running_average: bool = False, momentum: float = 0.99,
                 epsilon: float = 1e-5, dtype: Any = None, param_dtype: Any = jnp.float32, use_bias: bool = True,
                 use_scale: bool = True, bias_init: Initializer = nnx.initializers.zeros_init(),
                 scale_init: Initializer = nnx.initializers.ones_init(), axis_name: str | None = None,
                 rngs: nnx.Rngs):
        self.functional = F.FunctionalGroupBatchNorm(
            momentum=momentum, epsilon=epsilon, dtype=dtype, param_dtype=param_dtype, use_bias=use_bias,
            use_scale=use_scale, bias_init=bias_init, scale_init=scale_init, axis_name=axis_name)
        self.num_features = num_features
        self.use_running_average = use_running_average
        for s in self.functional.stat_specs(num_features):
            setattr(self, s.name, nnx.BatchStat(s.init(None, s.shape, s.dtype)))
        declare_params(self, self.functional.param_specs(num_features), self.functional.param_names, rngs)

    def __call__(self, x: jax.Array, use_running_average: bool | None = None) -> jax.Array:
        bn = self.functional
        bn.in_features(x, self.num_features)
        if use_running_average is None:
            use_running_average = self.use_running_average
        stats = {name: getattr(self, name)[...] for name in bn.stat_names}
        y, updated = bn.apply(read_params(self, bn.param_names), stats, x, use_running_average=use_running_average)
        for name, value in (updated or {}).items():
            getattr(self, name)[...] = value
        return y


class SetLinear(nnx.Module):
    """DeepSets layer on ``(..., N, in_features)``: ``x @ lam + mean_over_set(x) @ gam + bias``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> SetLinear(3, 4, rngs=nnx.Rngs(0))(jnp.ones((2, 7, 3))).shape
    (2, 7, 4)
    """

    def __init__(self, in_features: int, out_features: int, use_bias: bool = True, dtype: Any = None,
                 param_dtype: Any = jnp.float32, kernel_init: Initializer = nnx.initializers.lecun_normal(),
                 bias_init: Initializer = nnx.initializers.zeros_init(), *, rngs: nnx.Rngs):
        self.functional = F.FunctionalSetLinear(out_features, use_bias=use_bias, dtype=dtype,
                                                param_dtype=param_dtype, kernel_init=kernel_init,
                                                bias_init=bias_init)
        declare_params(self, self.functional.param_specs(in_features), self.functional.param_names, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.functional.apply(read_params(self, self.functional.param_names), x)


class SetPool(nnx.Module):
    """Pool over the set axis ``-2``: ``(..., N, C) -> (..., C)``.

    >>> import jax.numpy as jnp
    >>> SetPool("max")(jnp.ones((2, 7, 3))).shape
    (2, 3)
    """

    def __init__(self, reduce: str = "sum"):
        F.set_pool(jnp.zeros((1, 1)), reduce)  # validates ``reduce`` now rather than at the first call
        self.reduce = reduce

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.set_pool(x, self.reduce)
