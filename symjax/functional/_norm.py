"""Batch normalisation of group feature maps, with statistics shared over the group axis."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["group_moments", "group_batch_norm"]


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
