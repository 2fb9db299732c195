"""Timers shared by the benchmarks: one call, two calls interleaved, medians.

Every timer waits for the result (``jax.block_until_ready``), so JAX's
asynchronous dispatch is inside the measured time. Two sides are always timed
alternately in one process, alternating which goes first, and compared by
their medians: the ratio is what the benchmarks report, never a lone
absolute time.

>>> import jax.numpy as jnp
>>> a, b = interleaved(lambda: jnp.ones(3), lambda: jnp.zeros(3), reps=3)
>>> len(a), len(b), median_ms(a) >= 0
(3, 3, True)
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Sequence

import jax

__all__ = ["timed", "seconds", "seconds_cpu", "interleaved", "median_ms"]


def timed(fn: Callable, *args) -> tuple[Any, float]:
    """Call ``fn(*args)``, wait for the result; returns ``(result, wall-clock seconds)``.

    >>> out, t = timed(lambda x: x + 1, 1.0)
    >>> out, t >= 0
    (2.0, True)
    """
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def seconds(fn: Callable, *args) -> float:
    """Wall-clock seconds of ``fn(*args)``, result included.

    >>> seconds(lambda: 1 + 1) >= 0
    True
    """
    return timed(fn, *args)[1]


def seconds_cpu(fn: Callable, *args) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of ``fn(*args)``; CPU time is steadier when other jobs share the machine.

    >>> wall, cpu = seconds_cpu(lambda: sum(range(1000)))
    >>> wall >= 0 and cpu >= 0
    True
    """
    wall, cpu = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved(a: Callable[[], Any], b: Callable[[], Any], reps: int,
                timer: Callable[[Callable], Any] = seconds) -> tuple[list, list]:
    """Time ``a()`` and ``b()`` alternately ``reps`` times each, alternating which goes first.

    Args:
      a, b: functions of no arguments.
      reps: timings of each.
      timer: :func:`seconds` (default) or :func:`seconds_cpu`.

    Returns:
      the two lists of ``reps`` timings, for ``a`` and for ``b``.

    >>> ta, tb = interleaved(lambda: 1, lambda: 2, reps=2, timer=seconds_cpu)
    >>> len(ta), len(tb[0])
    (2, 2)
    """
    ta, tb = [], []
    for i in range(reps):
        if i % 2 == 0:
            ta.append(timer(a))
            tb.append(timer(b))
        else:
            tb.append(timer(b))
            ta.append(timer(a))
    return ta, tb


def median_ms(times: Sequence[float]) -> float:
    """The median of ``times`` (seconds), in milliseconds.

    >>> median_ms([0.001, 0.003, 0.002])
    2.0
    """
    return 1e3 * statistics.median(times)
