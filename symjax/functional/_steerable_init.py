"""The initialiser of the steerable coefficients: normal draws from one compiled program for every layer.

An eager ``init`` of a network runs each parameter's initialiser outside ``jit``, and
XLA:CPU compiles a program per shape; the threefry draw of ``jax.random.normal``
costs about 0.4-0.5 s to compile, whatever the shape (most of the first eager
``init`` of a steerable network, ``benchmarks/bench_steerable_init.py``). Here every
draw is made of fixed-size chunks, ``normal(fold_in(key, i), (CHUNK,))``: one
compiled program for all the layers of a network; the chunks are cut, scaled and
reshaped on the host (no program per shape). Under a trace (a jitted or vmapped
``init``) the same numbers are drawn in the traced program.

On CPU the eager chunk program, compiled once and run a few times, is compiled
with :data:`symjax.xla.ONE_OFF` (XLA's backend optimisation off, its elemental
emitters): 0.14 s instead of 0.46 s to compile and run once, 1.3 ms more per
chunk of 16384 numbers; its numbers differ from the optimised program's by float
rounding (at most 2.4e-7 measured), as a traced draw's may. Where a jaxlib does
not take the options (:func:`symjax.xla.accepts`), the plain program.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from symjax.xla import ONE_OFF, accepts

__all__ = ["CHUNK", "normal_init", "chunked_normal"]

CHUNK = 1 << 14
"""Normal numbers per compiled draw (16384: a few microseconds of work, a fraction of a small layer's memory)."""


def _draw(key: jax.Array, dtype) -> jax.Array:
    return jax.random.normal(key, (CHUNK,), dtype)


_chunk = jax.jit(_draw, static_argnums=1)
_one_off_chunk = jax.jit(_draw, static_argnums=1, compiler_options=ONE_OFF)


def _eager_chunk(key: jax.Array):
    """The compiled chunk draw for a concrete ``key``: the one-off program on CPU where this jaxlib takes it."""
    on_cpu = all(device.platform == "cpu" for device in key.devices())
    return _one_off_chunk if on_cpu and accepts(ONE_OFF) else _chunk


def _prefix_stable(key: jax.Array) -> bool:
    """Whether ``normal(key, (n,))`` is the first ``n`` of ``normal(key, (CHUNK,))`` (partitionable threefry)."""
    return str(jax.random.key_impl(key)) == "threefry2x32" and bool(jax.config.jax_threefry_partitionable)


def _traced(key: jax.Array, n: int, dtype) -> jax.Array:
    """The numbers of the eager draw, under a trace: full chunks by one ``vmap`` (a loop would unroll), then the
    rest at its own size where that gives the same numbers (no chunk drawn for nothing under ``vmap`` over keys)."""
    full, rest = divmod(n, CHUNK)
    parts = [jnp.zeros(0, dtype)]
    if full:
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(full, dtype=jnp.uint32))
        parts.append(jax.vmap(lambda k: _chunk(k, dtype))(keys).reshape(-1))
    if rest:
        size = rest if _prefix_stable(key) else CHUNK
        parts.append(jax.random.normal(jax.random.fold_in(key, full), (size,), dtype)[:rest])
    return jnp.concatenate(parts)


def chunked_normal(key: jax.Array, shape, dtype=jnp.float32, scale=1.0) -> jax.Array:
    """Standard normal numbers of ``shape`` times ``scale`` (a scalar or ``(prod(shape),)``), drawn in chunks.

    Args:
      key: a PRNG key (concrete or traced).
      shape: the output shape.
      dtype: a floating dtype.
      scale: a scalar or one value per element of the flattened output.

    Returns:
      ``(shape)`` of ``dtype``; the same numbers eagerly and under ``jax.jit`` (up to float rounding).

    >>> import jax
    >>> x = chunked_normal(jax.random.key(0), (3, 4), scale=2.0)
    >>> x.shape, bool(jax.numpy.allclose(x, jax.jit(chunked_normal, static_argnums=(1,))(jax.random.key(0), (3, 4),
    ...                                                                                    scale=2.0)))
    ((3, 4), True)
    """
    shape = tuple(int(s) for s in shape)
    dtype = jnp.dtype(dtype)
    n = math.prod(shape)
    if isinstance(key, jax.core.Tracer):
        return (_traced(key, n, dtype) * jnp.asarray(scale, jnp.float32).astype(dtype)).reshape(shape)
    # eager: whole chunks (one compiled program), cut, scaled and reshaped on the host (no program per shape)
    draw = _eager_chunk(key)
    flat = np.concatenate([np.asarray(draw(jax.random.fold_in(key, i), dtype)) for i in range(-(-n // CHUNK))]
                          or [np.zeros(0, dtype)])[:n]
    return jnp.asarray((flat * np.asarray(scale, np.float32).astype(dtype)).reshape(shape))


def normal_init(stds: tuple[tuple[int, float], ...]):
    """An initialiser drawing one normal vector scaled per block: ``stds`` is ``((size, std), ...)``.

    The draw is :func:`chunked_normal` (one compiled program for all the layers).

    >>> import jax
    >>> init = normal_init(((2, 1.0), (3, 0.0)))
    >>> init(jax.random.key(0), (5,))[2:].tolist()
    [0.0, 0.0, 0.0]
    """
    values = {s for _, s in stds}
    scale = values.pop() if len(values) == 1 else np.concatenate(
        [np.full(n, s, np.float32) for n, s in stds]) if stds else np.zeros(0, np.float32)

    def init(key, shape, dtype=jnp.float32):
        return chunked_normal(key, shape, dtype, scale)

    return init
