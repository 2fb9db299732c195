"""Flax Linen modules: each creates the parameters of its :mod:`symjax.functional` definition and applies it."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from symjax import functional as F
from symjax.functional._checks import Padding, check_group_maps
from symjax.functional._steerable import regular_conv
from symjax.groups import FiniteGroup

__all__ = ["ConvWrapper", "LiftingConv", "GroupConv", "GroupPool", "GroupBatchNorm", "SetLinear", "SetPool",
           "default_kernel_init", "declare_params"]

Initializer = Callable[..., jax.Array]

default_kernel_init = F.default_kernel_init


def declare_params(module: nn.Module, specs) -> dict[str, jax.Array]:
    """Create each :class:`~symjax.functional.ParamSpec` of ``specs`` with ``module.param``: ``{name: value}``."""
    return {s.name: module.param(s.name, s.init, s.shape, s.dtype) for s in specs}


class ConvWrapper(nn.Module):
    """A Linen convolution: creates the parameters of its :attr:`functional` definition and applies it.

    Subclasses define the property ``functional`` (a
    :class:`symjax.functional.FunctionalConv` built from their attributes);
    :func:`symjax.nn.export` turns every ``ConvWrapper`` into a ``flax.linen.Conv``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> isinstance(GroupConv(groups.cyclic(4), 2), ConvWrapper)
    True
    """

    @property
    def functional(self) -> F.FunctionalConv:
        raise NotImplementedError(f"{type(self).__name__} must define the property functional")

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        layer = self.functional
        params = declare_params(self, layer.param_specs(layer.in_features(x)))
        return layer.apply(params, x)


class _Conv(ConvWrapper):
    """The attributes shared by :class:`LiftingConv` and :class:`GroupConv`."""

    group: FiniteGroup
    features: int
    kernel_size: int | Sequence[int] = (3, 3)
    strides: int | Sequence[int] = 1
    padding: Padding = "SAME"
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    kernel_init: Initializer = default_kernel_init
    bias_init: Initializer = nn.initializers.zeros_init()
    precision: Any = None
    strict: bool = False
    basis: str | None = None
    rings: Sequence[float] | None = None
    sigma: float | Sequence[float] | None = None
    max_frequency: int | Sequence[int] | None = None


def _conv_config(m: _Conv) -> dict[str, Any]:
    """The keyword arguments of the functional convolution, from the Linen attributes."""
    return dict(kernel_size=m.kernel_size, strides=m.strides, padding=m.padding, use_bias=m.use_bias, dtype=m.dtype,
                param_dtype=m.param_dtype, kernel_init=m.kernel_init, bias_init=m.bias_init, precision=m.precision,
                strict=m.strict, rings=m.rings, sigma=m.sigma, max_frequency=m.max_frequency)


class LiftingConv(_Conv):
    """Lifting convolution ``(N, H, W, cin) -> (N, H', W', features, |G|)`` (:func:`symjax.functional.lifting_conv`).

    Attributes:
      group: a group of 2x2 orthogonal matrices: exact for C1, C2, C4, D1, D2, D4;
        other C_n, D_n (``cyclic(8)``, ...) rotate the kernel by interpolation and
        are only approximately equivariant.
      features: output channels per group element.
      kernel_size: an int or a pair (odd and square for exact equivariance); for a group of 3x3
        matrices (volumes, ``groups.octahedral()``) an int or three sizes: the default pair raises.
      strides: an int or a pair.
      padding: ``"SAME"``, ``"VALID"``, an int, a pair of ints or ``((top, bottom), (left, right))``.
      use_bias: one bias per output channel, shared over the group axis.
      dtype: computation dtype (default: inferred from input and parameters).
      param_dtype: parameter dtype.
      kernel_init: initialiser of the ``(kh, kw, cin, features)`` kernel.
      bias_init: initialiser of the ``(features,)`` bias.
      precision: of the convolution, as in ``flax.linen.Conv`` (``"highest"``
        keeps float32 rounding on GPUs that default to TF32).
      strict: a configuration that cannot be exactly equivariant (a stride or
        padding whose output grid is not centred, an even kernel under ``"SAME"``,
        a non-square input with 90-degree rotations, a group that rotates by
        interpolation: :func:`symjax.geometry.equivariance_pitfalls`) raises
        ``ValueError`` when traced; by default it warns :class:`symjax.EquivarianceWarning`.
      basis: the kernel construction: ``"steerable"`` (coefficients ``weights`` ``(F, cin, features)``
        over band-limited ring harmonics, rotated analytically: :class:`symjax.functional.FunctionalSteerableLiftingConv`)
        or ``"bilinear"`` (the free ``kernel`` moved by each element: exact index maps on the grid, bilinear
        interpolation off it); default ``None``: steerable for the groups not exact on the pixel grid.
      rings, sigma, max_frequency: the radial profile and band limit of the steerable basis
        (:func:`symjax.functional.steerable_basis`; default ``None``: escnn's band limit, the
        outer ring of odd kernels from 5x5 pulled in); with the free kernel a ``ValueError``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> layer = LiftingConv(groups.dihedral(4), features=6)
    >>> variables = layer.init(jax.random.key(0), jnp.ones((1, 9, 9, 3)))
    >>> variables["params"]["kernel"].shape, layer.apply(variables, jnp.ones((1, 9, 9, 3))).shape
    ((3, 3, 3, 6), (1, 9, 9, 6, 8))
    """

    @property
    def functional(self) -> F.FunctionalLiftingConv:
        return regular_conv("lifting", self.group, self.features, self.basis, **_conv_config(self))


class GroupConv(_Conv):
    """Group convolution ``(N, H, W, cin, |G|) -> (N, H', W', features, |G|)`` (:func:`symjax.functional.group_conv`).

    Attributes are those of :class:`LiftingConv`; the kernel is ``(kh, kw, cin, |G|, features)``.

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> layer = GroupConv(groups.cyclic(4), features=5, strides=2)
    >>> f = jnp.ones((1, 9, 9, 2, 4))
    >>> layer.apply(layer.init(jax.random.key(0), f), f).shape
    (1, 5, 5, 5, 4)
    """

    @property
    def functional(self) -> F.FunctionalGroupConv:
        return regular_conv("group", self.group, self.features, self.basis, **_conv_config(self))


class GroupPool(nn.Module):
    """Pool group feature maps over the group axis: ``(N, H, W, C, |G|) -> (N, H, W, C)``.

    :func:`symjax.functional.group_pool` on maps of rank >= 5 (rank 6: volumes);
    a lower rank, such as an image ``(N, H, W, C)``, raises ``ValueError``
    instead of pooling its channels. With ``group``, the last axis must have
    size ``|G|``.

    Attributes:
      reduce: ``"max"``, ``"mean"`` or ``"sum"``.
      group: optional; the group whose axis is pooled (checked).

    >>> import jax.numpy as jnp
    >>> from symjax import groups
    >>> GroupPool("mean").apply({}, jnp.ones((2, 5, 5, 3, 8))).shape
    (2, 5, 5, 3)
    >>> GroupPool(group=groups.cyclic(4)).apply({}, jnp.ones((2, 5, 5, 3, 4))).shape
    (2, 5, 5, 3)
    """

    reduce: str = "max"
    group: FiniteGroup | None = None

    def __call__(self, f: jax.Array) -> jax.Array:
        return F.group_pool(check_group_maps(f, self.group, "GroupPool"), self.reduce)


class GroupBatchNorm(nn.Module):
    """Batch normalisation of group feature maps ``(N, H, W, C, |G|)``, equivariant in training and inference.

    Statistics are per channel over batch, space and the group axis
    (:func:`symjax.functional.group_moments`); scale and bias are per channel,
    shared over the group axis. Input of rank >= 5 (rank 6: volumes); an image
    ``(N, H, W, C)`` raises ``ValueError``. Arguments as :class:`flax.linen.BatchNorm`;
    creates ``params`` (``scale``, ``bias``) and ``batch_stats`` (``mean``, ``var``).

    >>> import jax, jax.numpy as jnp
    >>> bn = GroupBatchNorm(use_running_average=False)
    >>> f = jnp.sin(jnp.arange(2400.0)).reshape(4, 5, 5, 3, 8)
    >>> variables = bn.init(jax.random.key(1), f)
    >>> y, updates = bn.apply(variables, f, mutable=["batch_stats"])
    >>> y.shape, updates["batch_stats"]["mean"].shape
    ((4, 5, 5, 3, 8), (3,))
    """

    use_running_average: bool | None = None
    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: Any = None
    param_dtype: Any = jnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Initializer = nn.initializers.zeros_init()
    scale_init: Initializer = nn.initializers.ones_init()
    axis_name: str | None = None

    @property
    def functional(self) -> F.FunctionalGroupBatchNorm:
        return F.FunctionalGroupBatchNorm(
            momentum=self.momentum, epsilon=self.epsilon, dtype=self.dtype, param_dtype=self.param_dtype,
            use_bias=self.use_bias, use_scale=self.use_scale, bias_init=self.bias_init, scale_init=self.scale_init,
            axis_name=self.axis_name)

    @nn.compact
    def __call__(self, x: jax.Array, use_running_average: bool | None = None) -> jax.Array:
        use_running_average = nn.merge_param("use_running_average", self.use_running_average,
                                             use_running_average)
        bn = self.functional
        c = bn.in_features(x)
        stats = {s.name: self.variable("batch_stats", s.name, s.init, None, s.shape, s.dtype)
                 for s in bn.stat_specs(c)}
        params = declare_params(self, bn.param_specs(c))
        y, updated = bn.apply(params, {name: v.value for name, v in stats.items()}, x,
                              use_running_average=use_running_average, initializing=self.is_initializing())
        for name, value in (updated or {}).items():
            stats[name].value = value
        return y


class SetLinear(nn.Module):
    """DeepSets layer on ``(..., N, C)`` (:func:`symjax.functional.set_linear`), permutation-equivariant.

    Parameters ``lam`` and ``gam`` (``(C, features)``) and ``bias`` (``(features,)``).

    >>> import jax, jax.numpy as jnp
    >>> layer = SetLinear(4)
    >>> x = jnp.ones((2, 7, 3))
    >>> layer.apply(layer.init(jax.random.key(0), x), x).shape
    (2, 7, 4)
    """

    features: int
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    kernel_init: Initializer = nn.initializers.lecun_normal()
    bias_init: Initializer = nn.initializers.zeros_init()

    @property
    def functional(self) -> F.FunctionalSetLinear:
        return F.FunctionalSetLinear(self.features, use_bias=self.use_bias, dtype=self.dtype,
                                     param_dtype=self.param_dtype, kernel_init=self.kernel_init,
                                     bias_init=self.bias_init)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        layer = self.functional
        return layer.apply(declare_params(self, layer.param_specs(layer.in_features(x))), x)


class SetPool(nn.Module):
    """Pool over the set axis ``-2``: ``(..., N, C) -> (..., C)`` (:func:`symjax.functional.set_pool`).

    >>> import jax.numpy as jnp
    >>> SetPool("mean").apply({}, jnp.ones((2, 7, 3))).shape
    (2, 3)
    """

    reduce: str = "sum"

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.set_pool(x, self.reduce)
