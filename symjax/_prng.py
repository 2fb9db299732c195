"""PRNG keys: the one place that recognises and checks them (trainer, checkpoints, symmetry removal)."""
from __future__ import annotations

from typing import Any

import jax
import numpy as np

__all__ = ["is_typed_key", "check_key", "typed_key"]


def is_typed_key(leaf: Any) -> bool:
    """Whether ``leaf`` is an array of typed PRNG keys (``jax.random.key``), of any shape.

    >>> import jax
    >>> is_typed_key(jax.random.key(0)), is_typed_key(jax.random.PRNGKey(0))
    (True, False)
    """
    return isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def check_key(key: Any, argname: str = "key") -> None:
    """Raise ``TypeError`` naming ``argname`` unless ``key`` is one PRNG key (typed, or raw uint32 ``(2,)``).

    >>> import jax
    >>> check_key(jax.random.key(0))
    >>> check_key(3)
    Traceback (most recent call last):
    ...
    TypeError: key must be a single PRNG key (jax.random.key(seed) or jax.random.PRNGKey(seed)), got int
    """
    if isinstance(key, (jax.Array, np.ndarray)):
        if is_typed_key(key) and key.ndim == 0:
            return
        if key.dtype == np.uint32 and key.shape == (2,):
            return
    raise TypeError(
        f"{argname} must be a single PRNG key (jax.random.key(seed) or jax.random.PRNGKey(seed)), "
        f"got {type(key).__name__} {getattr(key, 'dtype', '')}{getattr(key, 'shape', '')}".rstrip()
    )


def typed_key(key: Any, argname: str = "key") -> jax.Array:
    """``key`` as a typed scalar key (a raw ``PRNGKey`` is wrapped); ``TypeError`` otherwise.

    >>> import jax
    >>> typed_key(jax.random.PRNGKey(0)).dtype
    key<fry>
    """
    check_key(key, argname)
    return key if is_typed_key(key) else jax.random.wrap_key_data(key)
