"""Group elements as arguments: range and dtype checks, and the concrete value when it is known."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["check_element", "concrete_element"]


def check_element(a, order: int, argname: str):
    """``a`` itself, after range-checking concrete elements; traced ones pass through unchanged.

    >>> check_element(3, 4, "g")
    3
    >>> check_element(4, 4, "g")
    Traceback (most recent call last):
    ...
    ValueError: g must be a group element in [0, 4), got 4
    """
    if isinstance(a, (bool, np.bool_)):
        raise TypeError(f"{argname} must be an integer group element, got a bool")
    if isinstance(a, (int, np.integer)):
        if not 0 <= int(a) < order:
            raise ValueError(f"{argname} must be a group element in [0, {order}), got {int(a)}")
    elif isinstance(a, np.ndarray):
        if not np.issubdtype(a.dtype, np.integer):
            raise TypeError(f"{argname} must hold integer group elements, got dtype {a.dtype}")
        if a.size and (a.min() < 0 or a.max() >= order):
            raise ValueError(f"{argname} must hold group elements in [0, {order}), "
                             f"got values in [{a.min()}, {a.max()}]")
    elif hasattr(a, "dtype") and not jnp.issubdtype(a.dtype, jnp.integer):
        raise TypeError(f"{argname} must hold integer group elements, got dtype {a.dtype}")
    return a


def concrete_element(g, order: int, argname: str = "g") -> int | None:
    """One element ``g`` as a Python int if it is known at trace time, ``None`` if it is traced.

    Raises like :func:`check_element`, and ``ValueError`` for anything but a scalar.

    >>> import jax, jax.numpy as jnp
    >>> concrete_element(jnp.int32(2), 4)
    2
    """
    if isinstance(g, jax.core.Tracer):
        if g.ndim != 0:
            raise ValueError(f"{argname} must be a scalar group element, got shape {g.shape}; "
                             "vmap over elements instead")
        check_element(g, order, argname)
        return None
    arr = np.asarray(g)
    if arr.ndim != 0:
        raise ValueError(f"{argname} must be a scalar group element, got shape {arr.shape}; "
                         "vmap over elements instead")
    check_element(arr[()] if np.issubdtype(arr.dtype, np.integer) else g, order, argname)
    return int(arr)
