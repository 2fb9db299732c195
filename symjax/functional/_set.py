"""Permutation-equivariant (DeepSets) layers on sets ``(..., N, C)``."""
from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["set_linear", "set_pool"]


def set_linear(x: jax.Array, lam: jax.Array, gam: jax.Array, bias: jax.Array | None = None) -> jax.Array:
    """The DeepSets layer ``x @ lam + mean_over_set(x) @ gam + bias``, permutation-equivariant.

    Args:
      x: sets ``(..., N, cin)`` (the set axis is ``-2``).
      lam: ``(cin, cout)``, applied to every element.
      gam: ``(cin, cout)``, applied to the set mean and broadcast to every element.
      bias: optional ``(cout,)``.

    Returns:
      ``(..., N, cout)``; ``set_linear(on_set(p, x)) == on_set(p, set_linear(x))``.

    >>> import jax.numpy as jnp
    >>> x = jnp.array([[1.0], [3.0]])
    >>> set_linear(x, jnp.eye(1), 10 * jnp.eye(1)).tolist()
    [[21.0], [23.0]]
    """
    x, lam, gam = jnp.asarray(x), jnp.asarray(lam), jnp.asarray(gam)
    if x.ndim < 2:
        raise ValueError(f"set_linear expects x of shape (..., N, cin), got shape {x.shape}")
    cin = x.shape[-1]
    if lam.ndim != 2 or lam.shape[0] != cin:
        raise ValueError(f"set_linear expects lam of shape ({cin}, cout) for x of shape {x.shape}, got {lam.shape}")
    if gam.shape != lam.shape:
        raise ValueError(f"set_linear expects gam of the same shape as lam {lam.shape}, got {gam.shape}")
    y = x @ lam + jnp.mean(x, axis=-2, keepdims=True) @ gam
    if bias is not None:
        bias = jnp.asarray(bias)
        if bias.shape != (lam.shape[1],):
            raise ValueError(f"set_linear expects bias of shape ({lam.shape[1]},), got {bias.shape}")
        y = y + bias
    return y


_POOLS = {"sum": jnp.sum, "mean": jnp.mean, "max": jnp.max}


def set_pool(x: jax.Array, reduce: str = "sum", axis: int = -2) -> jax.Array:
    """Pool over the set axis (permutation-invariant): ``(..., N, C) -> (..., C)``.

    Args:
      x: sets, the set along ``axis`` (default ``-2``).
      reduce: ``"sum"``, ``"mean"`` or ``"max"``.
      axis: the set axis.

    >>> import jax.numpy as jnp
    >>> set_pool(jnp.array([[1.0, 2.0], [3.0, 5.0]]), "max").tolist()
    [3.0, 5.0]
    """
    if reduce not in _POOLS:
        raise ValueError(f"set_pool expects reduce to be one of {sorted(_POOLS)}, got {reduce!r}")
    x = jnp.asarray(x)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"set_pool: axis {axis} is out of range for x of shape {x.shape}")
    return _POOLS[reduce](x, axis=axis)
