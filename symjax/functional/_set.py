"""Permutation-equivariant (DeepSets) layers on sets ``(..., N, C)``."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping

import jax
import jax.numpy as jnp

from symjax.functional._checks import check_features
from symjax.functional._layer import Initializer, ParamSpec, promote_dtype

__all__ = ["set_linear", "set_pool", "FunctionalSetLinear"]


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


@dataclasses.dataclass(frozen=True)
class FunctionalSetLinear:
    """The DeepSets layer on ``(..., N, cin)``: parameters ``lam``, ``gam`` ``(cin, out_features)`` and ``bias``.

    ``apply`` is :func:`set_linear`.

    Args:
      out_features: output channels.
      use_bias: add a ``bias`` ``(out_features,)``.
      dtype: computation dtype (default: inferred from input and parameters).
      param_dtype, kernel_init (of ``lam`` and ``gam``), bias_init: of the parameters.

    >>> import jax, jax.numpy as jnp
    >>> layer = FunctionalSetLinear(4)
    >>> x = jnp.ones((2, 7, 3))
    >>> params = {s.name: s.init(jax.random.key(0), s.shape, s.dtype) for s in layer.param_specs(layer.in_features(x))}
    >>> sorted(params), layer.apply(params, x).shape
    (['bias', 'gam', 'lam'], (2, 7, 4))
    """

    param_names: ClassVar[tuple[str, ...]] = ("lam", "gam", "bias")

    out_features: int
    use_bias: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    kernel_init: Initializer = jax.nn.initializers.lecun_normal()
    bias_init: Initializer = jax.nn.initializers.zeros

    def __post_init__(self):
        check_features(self.out_features, "SetLinear", "out_features (features in symjax.nn)")

    def in_features(self, x) -> int:
        """The channels ``cin`` of the sets ``x`` ``(..., N, cin)``."""
        shape = jnp.shape(x)
        if len(shape) < 2:
            raise ValueError(f"SetLinear expects x of shape (..., N, C), got shape {shape}")
        return shape[-1]

    def param_specs(self, in_features: int) -> tuple[ParamSpec, ...]:
        shape = (in_features, self.out_features)
        specs = (ParamSpec("lam", shape, self.kernel_init, self.param_dtype),
                 ParamSpec("gam", shape, self.kernel_init, self.param_dtype))
        if self.use_bias:
            specs += (ParamSpec("bias", (self.out_features,), self.bias_init, self.param_dtype),)
        return specs

    def apply(self, params: Mapping[str, jax.Array], x) -> jax.Array:
        x, lam, gam, bias = promote_dtype(x, params["lam"], params["gam"], params.get("bias"), dtype=self.dtype)
        return set_linear(x, lam, gam, bias)
