"""Flax Linen modules: each declares its parameters and calls :mod:`symjax.functional`."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen.dtypes import promote_dtype

from symjax import functional as F
from symjax.functional._checks import (
    Padding,
    canonical_kernel_size,
    check_conv_group,
    check_group_axis,
    check_rank,
)
from symjax.groups import FiniteGroup

__all__ = ["LiftingConv", "GroupConv", "GroupPool", "GroupBatchNorm", "SetLinear", "SetPool",
           "default_kernel_init"]

Initializer = Callable[..., jax.Array]

_TRUNCATED_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


def default_kernel_init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """He initialisation with fan-in ``prod(shape[:-1])``, the group axis included.

    That is ``kh*kw*cin`` for lifting kernels and ``kh*kw*cin*|G|`` for group
    kernels, so ReLU networks keep activations of order one at any depth. The
    truncated normal (as ``variance_scaling(2.0, "fan_in", "truncated_normal")``)
    is drawn as one flat vector and reshaped: the same distribution, but XLA:CPU
    compiles a rank-1 draw several times faster than a rank-5 one, which is most
    of the time a jitted ``init`` takes.

    >>> import jax
    >>> default_kernel_init(jax.random.key(0), (3, 3, 4, 8, 16)).shape
    (3, 3, 4, 8, 16)
    """
    fan_in = math.prod(shape[:-1])
    std = math.sqrt(2.0 / fan_in) / _TRUNCATED_STD
    flat = jax.random.truncated_normal(key, -2.0, 2.0, (math.prod(shape),), dtype)
    return (flat * jnp.asarray(std, dtype)).reshape(shape)


class _Conv(nn.Module):
    """The attributes shared by :class:`LiftingConv` and :class:`GroupConv`, and their parameter set-up."""

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

    def _kernel_and_bias(self, x: jax.Array, kernel_shape: tuple[int, ...]):
        kernel = self.param("kernel", self.kernel_init, kernel_shape, self.param_dtype)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        return promote_dtype(x, kernel, bias, dtype=self.dtype)


class LiftingConv(_Conv):
    """Lifting convolution ``(N, H, W, cin) -> (N, H', W', features, |G|)`` (:func:`symjax.functional.lifting_conv`).

    Attributes:
      group: a group of 2x2 orthogonal matrices: exact for C1, C2, C4, D1, D2, D4;
        other C_n, D_n (``cyclic(8)``, ...) rotate the kernel by interpolation and
        are only approximately equivariant.
      features: output channels per group element.
      kernel_size: an int or a pair (odd and square for exact equivariance).
      strides: an int or a pair.
      padding: ``"SAME"``, ``"VALID"``, an int, a pair of ints or ``((top, bottom), (left, right))``.
      use_bias: one bias per output channel, shared over the group axis.
      dtype: computation dtype (default: inferred from input and parameters).
      param_dtype: parameter dtype.
      kernel_init: initialiser of the ``(kh, kw, cin, features)`` kernel.
      bias_init: initialiser of the ``(features,)`` bias.
      precision: of the convolution, as in ``flax.linen.Conv`` (``"highest"``
        keeps float32 rounding on GPUs that default to TF32).

    >>> import jax, jax.numpy as jnp
    >>> from symjax import groups
    >>> layer = LiftingConv(groups.dihedral(4), features=6)
    >>> variables = layer.init(jax.random.key(0), jnp.ones((1, 9, 9, 3)))
    >>> variables["params"]["kernel"].shape, layer.apply(variables, jnp.ones((1, 9, 9, 3))).shape
    ((3, 3, 3, 6), (1, 9, 9, 6, 8))
    """

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        check_conv_group(self.group, "LiftingConv", "group")
        x = check_rank(x, 4, "LiftingConv", "(N, H, W, C)")
        kh, kw = canonical_kernel_size(self.kernel_size, "LiftingConv")
        x, kernel, bias = self._kernel_and_bias(x, (kh, kw, x.shape[-1], self.features))
        return F.lifting_conv(x, kernel, self.group, strides=self.strides, padding=self.padding, bias=bias,
                              precision=self.precision)


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

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        G = check_conv_group(self.group, "GroupConv", "group")
        x = check_rank(x, 5, "GroupConv", "(N, H, W, C, |G|)")
        check_group_axis(x, G, "GroupConv")
        kh, kw = canonical_kernel_size(self.kernel_size, "GroupConv")
        x, kernel, bias = self._kernel_and_bias(x, (kh, kw, x.shape[-2], G.order, self.features))
        return F.group_conv(x, kernel, G, strides=self.strides, padding=self.padding, bias=bias,
                            precision=self.precision)


class GroupPool(nn.Module):
    """Pool over the group axis: ``(..., C, |G|) -> (..., C)`` (:func:`symjax.functional.group_pool`).

    >>> import jax.numpy as jnp
    >>> GroupPool("mean").apply({}, jnp.ones((2, 5, 5, 3, 8))).shape
    (2, 5, 5, 3)
    """

    reduce: str = "max"

    def __call__(self, f: jax.Array) -> jax.Array:
        return F.group_pool(f, self.reduce)


class GroupBatchNorm(nn.Module):
    """Batch normalisation of group feature maps ``(N, ..., C, |G|)``, equivariant in training and inference.

    Statistics are per channel over batch, space and the group axis
    (:func:`symjax.functional.group_moments`); scale and bias are per channel,
    shared over the group axis. Arguments as :class:`flax.linen.BatchNorm`;
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

    @nn.compact
    def __call__(self, x: jax.Array, use_running_average: bool | None = None) -> jax.Array:
        use_running_average = nn.merge_param("use_running_average", self.use_running_average,
                                             use_running_average)
        x = jnp.asarray(x)
        if x.ndim < 3:
            raise ValueError(f"GroupBatchNorm expects x of shape (N, ..., C, |G|), got shape {x.shape}")
        c = x.shape[-2]
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((c,), jnp.float32))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((c,), jnp.float32))
        scale = self.param("scale", self.scale_init, (c,), self.param_dtype) if self.use_scale else None
        bias = self.param("bias", self.bias_init, (c,), self.param_dtype) if self.use_bias else None
        if use_running_average:
            mean, var = ra_mean.value, ra_var.value
        else:
            initializing = self.is_initializing()
            mean, var = F.group_moments(x, axis_name=None if initializing else self.axis_name)
            if not initializing:
                ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
                ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
        dtype = self.dtype if self.dtype is not None else jnp.result_type(
            *[a for a in (x, scale, bias) if a is not None])
        return F.group_batch_norm(x, mean, var, scale, bias, epsilon=self.epsilon, dtype=dtype)


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

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim < 2:
            raise ValueError(f"SetLinear expects x of shape (..., N, C), got shape {x.shape}")
        shape = (x.shape[-1], self.features)
        lam = self.param("lam", self.kernel_init, shape, self.param_dtype)
        gam = self.param("gam", self.kernel_init, shape, self.param_dtype)
        bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
        x, lam, gam, bias = promote_dtype(x, lam, gam, bias, dtype=self.dtype)
        return F.set_linear(x, lam, gam, bias)


class SetPool(nn.Module):
    """Pool over the set axis ``-2``: ``(..., N, C) -> (..., C)`` (:func:`symjax.functional.set_pool`).

    >>> import jax.numpy as jnp
    >>> SetPool("mean").apply({}, jnp.ones((2, 7, 3))).shape
    (2, 3)
    """

    reduce: str = "sum"

    def __call__(self, x: jax.Array) -> jax.Array:
        return F.set_pool(x, self.reduce)
