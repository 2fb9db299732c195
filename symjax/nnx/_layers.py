"""Flax NNX modules: each declares its parameters and calls :mod:`symjax.functional`.

Same class names and computations as :mod:`symjax.nn`; NNX modules take their
input sizes up front and a ``rngs`` keyword, as ``flax.nnx.Conv`` does.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn.dtypes import promote_dtype

from symjax import functional as F
from symjax.functional._checks import (
    Padding,
    canonical_kernel_size,
    canonical_padding,
    canonical_strides,
    check_conv_group,
    check_group_axis,
    check_rank,
)
from symjax.groups import FiniteGroup
from symjax.nn._layers import default_kernel_init

__all__ = ["LiftingConv", "GroupConv", "GroupPool", "GroupBatchNorm", "SetLinear", "SetPool"]

Initializer = Callable[..., jax.Array]


class _Conv(nnx.Module):
    _name = ""

    def __init__(self, group: FiniteGroup, kernel_shape: tuple[int, ...], out_features: int, strides, padding,
                 use_bias: bool, dtype, param_dtype, kernel_init: Initializer, bias_init: Initializer,
                 rngs: nnx.Rngs, precision=None):
        self.group = check_conv_group(group, self._name, "group")
        self.precision = precision
        self.strides = canonical_strides(strides, self._name)
        self.padding = canonical_padding(padding, self._name)
        self.dtype = dtype
        self.kernel = nnx.Param(kernel_init(rngs.params(), kernel_shape, param_dtype))
        self.bias = nnx.Param(bias_init(rngs.params(), (out_features,), param_dtype)) if use_bias else None

    def _params(self, x):
        bias = None if self.bias is None else self.bias[...]
        return promote_dtype((x, self.kernel[...], bias), dtype=self.dtype)


class LiftingConv(_Conv):
    """Lifting convolution ``(N, H, W, in_features) -> (N, H', W', out_features, |G|)``.

    Arguments as :class:`symjax.nn.LiftingConv`, with the input channels
    ``in_features`` given up front and ``rngs`` for initialisation.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from symjax import groups
    >>> layer = LiftingConv(groups.dihedral(4), 3, 6, rngs=nnx.Rngs(0))
    >>> layer.kernel.shape, layer(jnp.ones((1, 9, 9, 3))).shape
    ((3, 3, 3, 6), (1, 9, 9, 6, 8))
    """

    _name = "LiftingConv"

    def __init__(self, group: FiniteGroup, in_features: int, out_features: int,
                 kernel_size: int | Sequence[int] = (3, 3), strides: int | Sequence[int] = 1,
                 padding: Padding = "SAME", use_bias: bool = True, dtype: Any = None,
                 param_dtype: Any = jnp.float32, kernel_init: Initializer = default_kernel_init,
                 bias_init: Initializer = nnx.initializers.zeros_init(), precision=None, *, rngs: nnx.Rngs):
        kh, kw = canonical_kernel_size(kernel_size, self._name)
        super().__init__(group, (kh, kw, in_features, out_features), out_features, strides, padding, use_bias,
                         dtype, param_dtype, kernel_init, bias_init, rngs, precision)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = check_rank(x, 4, self._name, "(N, H, W, C)")
        x, kernel, bias = self._params(x)
        return F.lifting_conv(x, kernel, self.group, strides=self.strides, padding=self.padding, bias=bias,
                              precision=self.precision)


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

    _name = "GroupConv"

    def __init__(self, group: FiniteGroup, in_features: int, out_features: int,
                 kernel_size: int | Sequence[int] = (3, 3), strides: int | Sequence[int] = 1,
                 padding: Padding = "SAME", use_bias: bool = True, dtype: Any = None,
                 param_dtype: Any = jnp.float32, kernel_init: Initializer = default_kernel_init,
                 bias_init: Initializer = nnx.initializers.zeros_init(), precision=None, *, rngs: nnx.Rngs):
        kh, kw = canonical_kernel_size(kernel_size, self._name)
        order = check_conv_group(group, self._name, "group").order
        super().__init__(group, (kh, kw, in_features, order, out_features), out_features, strides, padding,
                         use_bias, dtype, param_dtype, kernel_init, bias_init, rngs, precision)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = check_rank(x, 5, self._name, "(N, H, W, C, |G|)")
        check_group_axis(x, self.group, self._name)
        x, kernel, bias = self._params(x)
        return F.group_conv(x, kernel, self.group, strides=self.strides, padding=self.padding, bias=bias,
                            precision=self.precision)


class GroupPool(nnx.Module):
    """Pool over the group axis: ``(..., C, |G|) -> (..., C)``.

    >>> import jax.numpy as jnp
    >>> GroupPool("mean")(jnp.ones((2, 5, 5, 3, 8))).shape
    (2, 5, 5, 3)
    """

    def __init__(self, reduce: str = "max"):
        F.group_pool(jnp.zeros((1, 1)), reduce)  # validates ``reduce`` now rather than at the first call
        self.reduce = reduce

    def __call__(self, f: jax.Array) -> jax.Array:
        return F.group_pool(f, self.reduce)


class GroupBatchNorm(nnx.Module):
    """Batch normalisation of group feature maps ``(N, ..., C, |G|)``, statistics shared over the group axis.

    Arguments as :class:`flax.nnx.BatchNorm` (``num_features`` is ``C``);
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
        self.num_features = num_features
        self.use_running_average = use_running_average
        self.momentum = momentum
        self.epsilon = epsilon
        self.dtype = dtype
        self.axis_name = axis_name
        self.mean = nnx.BatchStat(jnp.zeros((num_features,), jnp.float32))
        self.var = nnx.BatchStat(jnp.ones((num_features,), jnp.float32))
        self.scale = nnx.Param(scale_init(rngs.params(), (num_features,), param_dtype)) if use_scale else None
        self.bias = nnx.Param(bias_init(rngs.params(), (num_features,), param_dtype)) if use_bias else None

    def __call__(self, x: jax.Array, use_running_average: bool | None = None) -> jax.Array:
        x = jnp.asarray(x)
        if x.ndim < 3 or x.shape[-2] != self.num_features:
            raise ValueError(f"GroupBatchNorm expects x of shape (N, ..., {self.num_features}, |G|), "
                             f"got shape {x.shape}")
        if use_running_average is None:
            use_running_average = self.use_running_average
        if use_running_average:
            mean, var = self.mean[...], self.var[...]
        else:
            mean, var = F.group_moments(x, axis_name=self.axis_name)
            self.mean[...] = self.momentum * self.mean[...] + (1 - self.momentum) * mean
            self.var[...] = self.momentum * self.var[...] + (1 - self.momentum) * var
        scale = None if self.scale is None else self.scale[...]
        bias = None if self.bias is None else self.bias[...]
        dtype = self.dtype if self.dtype is not None else jnp.result_type(
            *[a for a in (x, scale, bias) if a is not None])
        return F.group_batch_norm(x, mean, var, scale, bias, epsilon=self.epsilon, dtype=dtype)


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
        shape = (in_features, out_features)
        self.dtype = dtype
        self.lam = nnx.Param(kernel_init(rngs.params(), shape, param_dtype))
        self.gam = nnx.Param(kernel_init(rngs.params(), shape, param_dtype))
        self.bias = nnx.Param(bias_init(rngs.params(), (out_features,), param_dtype)) if use_bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        bias = None if self.bias is None else self.bias[...]
        x, lam, gam, bias = promote_dtype((jnp.asarray(x), self.lam[...], self.gam[...], bias), dtype=self.dtype)
        return F.set_linear(x, lam, gam, bias)


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
