"""Batch normalisation of group feature maps, with statistics shared over the group axis."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping

import jax
import jax.numpy as jnp
from jax import lax

from symjax.functional._layer import Initializer, ParamSpec

__all__ = ["group_moments", "group_batch_norm", "FunctionalGroupBatchNorm"]


def _check_map(f, fn: str) -> jax.Array:
    f = jnp.asarray(f)
    if f.ndim < 3:
        raise ValueError(f"{fn} expects group feature maps of shape (N, ..., C, |G|), got shape {f.shape}")
    return f


def group_moments(f: jax.Array, *, axis_name: str | None = None) -> tuple[jax.Array, jax.Array]:
    """Per-channel mean and variance over every axis but the channel axis ``-2``.

    Batch, space and group axis are all reduced, so the statistics are
    invariant to the group action and normalising with them stays equivariant.
    Computed in at least float32; ``axis_name`` averages over a mapped axis
    (data parallelism).

    Args:
      f: ``(N, ..., C, |G|)``.
      axis_name: optional name of a ``pmap``/``shard_map`` axis to average over.

    Returns:
      ``(mean, var)``, each ``(C,)``.

    >>> import jax.numpy as jnp
    >>> mean, var = group_moments(jnp.arange(8.0).reshape(2, 1, 4))
    >>> mean.tolist(), var.tolist()
    ([3.5], [5.25])
    """
    f = _check_map(f, "group_moments")
    f = f.astype(jnp.promote_types(f.dtype, jnp.float32))
    axes = tuple(i for i in range(f.ndim) if i != f.ndim - 2)
    mean, mean2 = jnp.mean(f, axis=axes), jnp.mean(jnp.square(f), axis=axes)
    if axis_name is not None:
        mean, mean2 = lax.pmean((mean, mean2), axis_name)
    return mean, jnp.maximum(mean2 - jnp.square(mean), 0.0)


def group_batch_norm(f: jax.Array, mean: jax.Array, var: jax.Array, scale: jax.Array | None = None,
                     bias: jax.Array | None = None, *, epsilon: float = 1e-5, dtype=None) -> jax.Array:
    """Normalise ``f`` per channel: ``(f - mean) / sqrt(var + epsilon) * scale + bias``.

    Args:
      f: ``(N, ..., C, |G|)``.
      mean, var: ``(C,)`` (from :func:`group_moments` or running averages).
      scale, bias: optional ``(C,)``, shared over the group axis.
      epsilon: added to the variance.
      dtype: the output dtype (default: that of ``f`` promoted with the parameters).

    >>> import jax.numpy as jnp
    >>> f = jnp.arange(8.0).reshape(2, 1, 4)
    >>> y = group_batch_norm(f, *group_moments(f))
    >>> round(float(y.mean()), 6), round(float(y.std()), 3)
    (0.0, 1.0)
    """
    f = _check_map(f, "group_batch_norm")
    c = f.shape[-2]
    for name, v in (("mean", mean), ("var", var), ("scale", scale), ("bias", bias)):
        if v is not None and jnp.shape(v) != (c,):
            raise ValueError(f"group_batch_norm expects {name} of shape ({c},) for f of shape {f.shape}, "
                             f"got {jnp.shape(v)}")
    args = [a for a in (f, scale, bias) if a is not None]
    out_dtype = dtype if dtype is not None else jnp.result_type(*args)
    mul = lax.rsqrt(jnp.asarray(var, jnp.float32) + epsilon)
    if scale is not None:
        mul = mul * scale
    y = (f - mean[:, None]) * mul[:, None]
    if bias is not None:
        y = y + bias[:, None]
    return y.astype(out_dtype)


@dataclasses.dataclass(frozen=True)
class FunctionalGroupBatchNorm:
    """The group batch-norm layer: parameters, running statistics and their update, for Linen and NNX.

    Parameters ``scale`` and ``bias`` ``(C,)`` (shared over the group axis),
    running statistics ``mean`` and ``var`` ``(C,)`` in float32 (specs with
    ``keyed=False``: their ``init`` is called with key ``None``). In training, ``apply``
    normalises with the batch's :func:`group_moments` and returns the updated
    running averages ``momentum * running + (1 - momentum) * batch``.

    Args:
      momentum, epsilon, use_bias, use_scale, bias_init, scale_init, axis_name:
        as :class:`flax.linen.BatchNorm`.
      dtype: computation dtype (default: that of the input promoted with the parameters).
      param_dtype: of ``scale`` and ``bias``.

    >>> import jax, jax.numpy as jnp
    >>> bn = FunctionalGroupBatchNorm(momentum=0.5)
    >>> f = jnp.arange(16.0).reshape(2, 1, 1, 1, 8)
    >>> params = {s.name: s.init(jax.random.key(0), s.shape, s.dtype) for s in bn.param_specs(bn.in_features(f))}
    >>> stats = {s.name: s.init(None, s.shape, s.dtype) for s in bn.stat_specs(1)}
    >>> y, new_stats = bn.apply(params, stats, f, use_running_average=False)
    >>> y.shape, new_stats["mean"].tolist()
    ((2, 1, 1, 1, 8), [3.75])
    """

    param_names: ClassVar[tuple[str, ...]] = ("scale", "bias")
    stat_names: ClassVar[tuple[str, ...]] = ("mean", "var")

    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: Any = None
    param_dtype: Any = jnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Initializer = jax.nn.initializers.zeros
    scale_init: Initializer = jax.nn.initializers.ones
    axis_name: str | None = None

    def in_features(self, x, num_features: int | None = None) -> int:
        """The channels ``C`` of the group feature maps ``x`` ``(N, H, W, C, |G|)`` (rank >= 5).

        ValueError for a lower rank (an image ``(N, H, W, C)`` has no group
        axis) or channels other than ``num_features``, if given.
        """
        shape = jnp.shape(x)
        if len(shape) < 5 or num_features not in (None, shape[-2]):
            c = "C" if num_features is None else num_features
            hint = (": an image (N, H, W, C) has no group axis, lift it first (LiftingConv); for other ranks use "
                    "symjax.functional.group_batch_norm" if len(shape) < 5 else "")
            raise ValueError(f"GroupBatchNorm expects group feature maps x of shape (N, ..., {c}, |G|) and rank >= 5 "
                             f"((N, H, W, {c}, |G|), or (N, D, H, W, {c}, |G|)), got shape {shape}{hint}")
        return shape[-2]

    def param_specs(self, num_features: int) -> tuple[ParamSpec, ...]:
        shape = (num_features,)
        specs = (ParamSpec("scale", shape, self.scale_init, self.param_dtype),) if self.use_scale else ()
        if self.use_bias:
            specs += (ParamSpec("bias", shape, self.bias_init, self.param_dtype),)
        return specs

    def stat_specs(self, num_features: int) -> tuple[ParamSpec, ...]:
        shape = (num_features,)
        return (ParamSpec("mean", shape, jax.nn.initializers.zeros, jnp.float32, keyed=False),
                ParamSpec("var", shape, jax.nn.initializers.ones, jnp.float32, keyed=False))

    def apply(self, params: Mapping[str, jax.Array], stats: Mapping[str, jax.Array], x, *,
              use_running_average: bool, initializing: bool = False
              ) -> tuple[jax.Array, dict[str, jax.Array] | None]:
        """Normalise ``x``; returns ``(y, new_stats)``, ``new_stats`` ``None`` when nothing is updated.

        ``use_running_average`` normalises with ``stats``; otherwise with the
        batch statistics (reduced over ``axis_name`` too, except when
        ``initializing``, as Linen's ``init`` runs outside any mapped axis),
        and the running averages are updated unless ``initializing``.
        """
        if use_running_average:
            mean, var, updated = stats["mean"], stats["var"], None
        else:
            mean, var = group_moments(x, axis_name=None if initializing else self.axis_name)
            updated = None if initializing else {
                "mean": self.momentum * stats["mean"] + (1 - self.momentum) * mean,
                "var": self.momentum * stats["var"] + (1 - self.momentum) * var}
        y = group_batch_norm(x, mean, var, params.get("scale"), params.get("bias"), epsilon=self.epsilon,
                             dtype=self.dtype)
        return y, updated
