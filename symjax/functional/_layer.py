"""The layer contract shared by every layer kind: parameter specs, the default kernel initialiser, dtype promotion.

A layer kind is one frozen dataclass in :mod:`symjax.functional` (its
*functional definition*, as e3nn-jax's ``FunctionalLinear``): its fields are
the layer's configuration, ``param_specs(...)`` lists its parameters as
:class:`ParamSpec` (name, shape, initialiser, dtype) and ``apply(params, x)``
computes the layer from a ``{name: array}`` mapping. The Flax Linen and NNX
classes only create those parameters (Linen: ``self.param``; NNX:
``nnx.Param`` attributes) and call ``apply``; convolutions also know how to
run as one plain convolution (:class:`symjax.functional.FunctionalConv`),
which both exports use. ``docs/adding_a_layer.md`` is the recipe.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp

__all__ = ["Initializer", "ParamSpec", "default_kernel_init", "promote_dtype"]

Initializer = Callable[..., jax.Array]

_TRUNCATED_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


class ParamSpec(NamedTuple):
    """One parameter (or statistic) of a layer: created as ``init(key, shape, dtype)`` under ``name``.

    Linen creates it with ``self.param(name, init, shape, dtype)``, NNX with
    ``nnx.Param(init(rngs.params(), shape, dtype))`` stored as attribute ``name``.
    ``keyed=False`` marks an ``init`` that ignores its key (a constant, such as
    running statistics or a zero bias): NNX calls it with ``key=None`` and
    draws no key from ``rngs``, so the layers created after it get the same
    keys as if it had no such parameter.

    >>> import jax, jax.numpy as jnp
    >>> spec = ParamSpec("bias", (4,), jax.nn.initializers.zeros, jnp.float32)
    >>> spec.init(jax.random.key(0), spec.shape, spec.dtype).shape
    (4,)
    """

    name: str
    shape: tuple[int, ...]
    init: Initializer
    dtype: Any
    keyed: bool = True


def default_kernel_init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    """He initialisation with fan-in ``prod(shape[:-1])``, the group axis included.

    That is ``kh*kw*cin`` for lifting kernels and ``kh*kw*cin*|G|`` for group
    kernels, so ReLU networks keep activations of order one at any depth. The
    truncated normal (as ``variance_scaling(2.0, "fan_in", "truncated_normal")``)
    is drawn as one flat vector and reshaped: the same distribution, but XLA:CPU
    compiles a rank-1 draw several times faster than a rank-5 one, which is most
    of the time a jitted ``init`` takes.

    Args:
      key: a PRNG key.
      shape: the kernel shape, output channels last.
      dtype: a floating dtype.

    Returns:
      an array of ``shape``.

    >>> import jax
    >>> default_kernel_init(jax.random.key(0), (3, 3, 4, 8, 16)).shape
    (3, 3, 4, 8, 16)
    """
    fan_in = math.prod(shape[:-1])
    std = math.sqrt(2.0 / fan_in) / _TRUNCATED_STD
    flat = jax.random.truncated_normal(key, -2.0, 2.0, (math.prod(shape),), dtype)
    return (flat * jnp.asarray(std, dtype)).reshape(shape)


def promote_dtype(*arrays, dtype: Any = None) -> tuple[jax.Array | None, ...]:
    """``arrays`` cast to ``dtype`` (``None`` entries pass through), as Flax layers promote inputs and parameters.

    Args:
      *arrays: arrays or ``None``.
      dtype: the computation dtype; default: the promoted type of the arrays,
        at least floating.

    Returns:
      the arrays, in order, all of one inexact dtype.

    >>> import jax.numpy as jnp
    >>> x, kernel, bias = promote_dtype(jnp.ones(2, jnp.int32), jnp.ones(2, jnp.bfloat16), None)
    >>> x.dtype, kernel.dtype, bias
    (dtype(bfloat16), dtype(bfloat16), None)
    """
    if dtype is None:
        dtype = jnp.result_type(*[jnp.asarray(a) for a in arrays if a is not None])
        if not jnp.issubdtype(dtype, jnp.inexact):
            dtype = jnp.promote_types(jnp.float32, dtype)
    if not jnp.issubdtype(dtype, jnp.inexact):
        raise ValueError(f"promote_dtype expects dtype to be a floating or complex dtype, got {jnp.dtype(dtype)}")
    return tuple(None if a is None else jnp.asarray(a, dtype) for a in arrays)
