"""Argument checks of the measures: each error names the argument, what was expected and what was received.

Checks of values (ranges, labels, indices) run only on concrete inputs; under
``jit`` they are skipped and the measures compute as documented.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_concrete(value: Any) -> bool:
    """Whether ``value`` holds data now (it is not traced under ``jit``/``vmap``)."""
    return not isinstance(value, jax.core.Tracer)


def check_array(value: Any, name: str) -> jax.Array:
    """Return ``jnp.asarray(value)``, or raise a TypeError naming ``name``.

    >>> check_array([1.0, 2.0], "m").shape
    (2,)
    >>> check_array(None, "m")
    Traceback (most recent call last):
    ...
    TypeError: m must be an array, got None
    """
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    try:
        return jnp.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array, got {type(value).__name__} {value!r}") from None


def check_matrix(value: Any, name: str) -> jax.Array:
    """Return ``value`` as a 2-D array, or raise naming ``name``.

    >>> check_matrix([[1.0, 2.0]], "m").shape
    (1, 2)
    """
    m = check_array(value, name)
    if m.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {m.shape}")
    return m


def check_tolerance(value: Any, name: str) -> None:
    """Raise unless ``value`` is a non-negative number (a traced value passes).

    >>> check_tolerance(-1.0, "rtol")
    Traceback (most recent call last):
    ...
    ValueError: rtol must be a non-negative number, got -1.0
    """
    if not is_concrete(value):
        return
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a non-negative number, got {value!r}") from None
    if not number >= 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")


def check_group(G: Any) -> int:
    """Return ``G.order``, or raise naming ``G``.

    >>> check_group(None)
    Traceback (most recent call last):
    ...
    TypeError: G must be a finite group with an integer order (e.g. groups.cyclic(4)), got None
    """
    order = getattr(G, "order", None)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        raise TypeError(f"G must be a finite group with an integer order (e.g. groups.cyclic(4)), got {G!r}")
    if order < 1:
        raise ValueError(f"G must have at least one element, got order {order}")
    return int(order)


def check_index(value: Any, size: int, name: str) -> None:
    """Raise unless the concrete integer ``value`` indexes an axis of ``size`` entries.

    >>> check_index(3, 2, "i")
    Traceback (most recent call last):
    ...
    ValueError: i must be an index in [-2, 2), got 3
    """
    if not is_concrete(value):
        return
    number = np.asarray(value)
    if number.ndim != 0 or not np.issubdtype(number.dtype, np.integer):
        raise TypeError(f"{name} must be an integer index, got {value!r}")
    if not -size <= int(number) < size:
        raise ValueError(f"{name} must be an index in [{-size}, {size}), got {int(number)}")


def check_labels(labels: jax.Array, num_classes: Any, n: int) -> int:
    """Check integer ``labels`` of shape ``(n,)`` against ``num_classes``; return ``num_classes``.

    ``num_classes`` is inferred as ``max(labels) + 1`` when ``None`` (concrete
    labels only). With concrete labels every class in ``[0, num_classes)``
    must occur, and there must be at least two.

    >>> check_labels(jnp.array([0, 1, 1]), None, 3)
    2
    >>> check_labels(jnp.array([0, 2]), None, 2)
    Traceback (most recent call last):
    ...
    ValueError: labels must contain every class in [0, 3), missing [1]
    """
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one per row of features, got {labels.shape}")
    if n == 0:
        raise ValueError("features must have at least one row (one per example), got 0 rows")
    concrete = is_concrete(labels)
    if num_classes is None:
        if not concrete:
            raise TypeError("num_classes must be given when labels are traced (under jit)")
        num_classes = int(jnp.max(labels)) + 1
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"num_classes must be an integer, got {num_classes!r}")
    if num_classes < 2:
        raise ValueError(f"neural collapse needs at least two classes, got num_classes={num_classes}")
    if concrete:
        values = np.asarray(labels)
        if values.min() < 0 or values.max() >= num_classes:
            raise ValueError(f"labels must lie in [0, {num_classes}), got values in [{values.min()}, {values.max()}]")
        missing = sorted(set(range(num_classes)) - set(values.tolist()))
        if missing:
            raise ValueError(f"labels must contain every class in [0, {num_classes}), missing {missing}")
    return int(num_classes)
