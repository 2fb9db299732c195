"""XLA settings that make convolutions fast on CPU.

Recent XLA:CPU releases hand convolutions (and their gradients, and fusions of
elementwise ops around them) to the YNNPACK library. For the layers of a
G-CNN (3x3 kernels, 40-80 channels, 14x14 to 28x28 images) XLA's older Eigen
convolutions were measured faster on a 2-core x86 machine, forward, input
gradient and weight gradient alike: 1.2-3.2x at 28x28, 0.9-2.5x at 14x14
(``benchmarks/README.md``, "XLA:CPU convolution backends"); whole G-CNN train
steps ran 1.6-1.8x faster. Meanwhile YNNPACK's matrix products stay faster than
Eigen's (an MLP's gradient: 10.2 ms against 17.2 ms). The option below keeps
YNNPACK for matrix products only.

Three ways to use it, all no-ops on GPU and TPU:

- per compiled function, at any time: ``jax.jit(f, compiler_options=compiler_options())``,
  or :func:`jit` which does exactly that. :class:`symjax.train.Trainer`
  compiles its steps this way.
- for the whole process, before JAX starts: :func:`configure_cpu` adds the
  flag to ``XLA_FLAGS`` (the ``symjax`` command line calls it first thing).
- measured, for one function and one set of argument shapes: :func:`fastest`
  compiles both ways, times them and keeps the faster. Eigen won every
  training step measured here, but not every forward pass: YNNPACK fuses a
  whole narrow forward pass (a 40-channel p4 net: 24 ms against 29 ms).

A flag the user already set in ``XLA_FLAGS`` always wins: with
``--xla_cpu_experimental_ynn_fusion_type=...`` there, :func:`compiler_options`
returns ``{}`` and :func:`configure_cpu` leaves the environment alone. Older
jaxlib versions that do not know the option get ``{}`` as well.

>>> import jax, jax.numpy as jnp
>>> from symjax import xla
>>> f = xla.jit(lambda x: jnp.tanh(x) @ x)
>>> f(jnp.eye(2)).shape
(2, 2)
>>> set(xla.compiler_options("gpu"))
set()
"""
from __future__ import annotations

import functools
import os
import statistics
import time
import warnings
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["compiler_options", "jit", "configure_cpu", "fastest", "Tuned", "OPTION", "ONE_OFF", "accepts"]

OPTION = "xla_cpu_experimental_ynn_fusion_type"
"""The XLA debug option: which operations XLA:CPU hands to YNNPACK."""

_DOTS_ONLY = "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"  # as a per-compilation option (enum name)
_DOTS_ONLY_FLAG = "individual_dot"  # as an XLA_FLAGS value


def _user_flag_set() -> bool:
    return OPTION in os.environ.get("XLA_FLAGS", "")


ONE_OFF = {"xla_backend_optimization_level": 0, "xla_cpu_use_fusion_emitters": False}
"""Per-compilation XLA:CPU options for a program compiled once and run a few times (an eager initialiser):
LLVM optimisation off and the elemental emitters instead of the MLIR fusion emitters. A threefry normal draw
of 16384 numbers compiles and runs once in 0.14 s instead of 0.46 s and then runs 1.3 ms slower (2-core x86
CPU); results differ by float rounding. Check :func:`accepts` before passing them."""


def accepts(options: dict[str, Any]) -> bool:
    """Whether this jaxlib's CPU compiler takes ``options`` as ``jax.jit(compiler_options=...)``.

    Probed once per set of options, on a tiny function; ``False`` also where there is no CPU backend.

    >>> from symjax import xla
    >>> xla.accepts({}), xla.accepts({"xla_no_such_option": 1})
    (True, False)
    """
    if not isinstance(options, dict):
        raise TypeError(f"accepts expects options to be a dict of XLA option names to values, "
                        f"got {type(options).__name__}")
    return _accepts(tuple(sorted(options.items())))


@functools.lru_cache(maxsize=None)
def _accepts(items: tuple) -> bool:
    try:
        fn = jax.jit(lambda x: x + 1, compiler_options=dict(items) or None)
        jax.block_until_ready(fn(jax.device_put(jnp.zeros(()), jax.local_devices(backend="cpu")[0])))
    except Exception:  # noqa: BLE001 - unknown option, no jit compiler_options, no CPU backend
        return False
    return True


def compiler_options(backend: str | None = None) -> dict[str, str]:
    """Per-compilation XLA options for fast CPU convolutions; ``{}`` where they do not apply.

    Args:
      backend: the platform the function will run on (``"cpu"``, ``"gpu"``, ...);
        ``None`` is JAX's default backend.

    Returns:
      ``{OPTION: "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}`` on CPU (YNNPACK for matrix
      products only, Eigen for convolutions), else ``{}``; also ``{}`` when the user
      set the option in ``XLA_FLAGS`` or this jaxlib does not know it.

    >>> import jax, jax.numpy as jnp
    >>> compiler_options("gpu")
    {}
    >>> step = jax.jit(lambda x: jnp.tanh(x).sum(), compiler_options=compiler_options() or None)
    >>> float(step(jnp.zeros(3)))
    0.0
    """
    if backend is not None and not isinstance(backend, str):
        raise TypeError(f"compiler_options expects backend to be a platform name such as 'cpu', "
                        f"got {type(backend).__name__}")
    platform = backend or jax.default_backend()
    if platform != "cpu" or _user_flag_set() or not accepts({OPTION: _DOTS_ONLY}):
        return {}
    return {OPTION: _DOTS_ONLY}


def jit(fun: Callable | None = None, **jit_kwargs: Any):
    """``jax.jit`` with :func:`compiler_options` merged into ``compiler_options``.

    Takes every argument of ``jax.jit``; options passed explicitly win over ours.
    Usable as ``jit(f, ...)`` or as a decorator ``@jit`` / ``@jit(static_argnums=...)``.

    >>> import jax.numpy as jnp
    >>> @jit(static_argnums=1)
    ... def scale(x, k):
    ...     return x * k
    >>> scale(jnp.ones(2), 3).tolist()
    [3.0, 3.0]
    """
    if fun is None:
        return functools.partial(jit, **jit_kwargs)
    options = {**compiler_options(jit_kwargs.get("backend")), **(jit_kwargs.pop("compiler_options", None) or {})}
    if options:
        jit_kwargs["compiler_options"] = options
    return jax.jit(fun, **jit_kwargs)


def configure_cpu(*, warn: bool = True) -> bool:
    """Ask XLA:CPU for Eigen convolutions in the whole process, through ``XLA_FLAGS``.

    Must run before JAX starts a backend (before the first array or jit call):
    XLA reads ``XLA_FLAGS`` once. Appends ``--xla_cpu_experimental_ynn_fusion_type=individual_dot``,
    never replacing a value the user set.

    Args:
      warn: warn when JAX has already started (the flag then cannot take effect).

    Returns:
      ``True`` when the flag is in effect for this process (added now or already set
      by the user), ``False`` when JAX had already started (a warning says so; use
      :func:`compiler_options` per function instead).

    Call it at the top of a script, before anything touches JAX arrays (not run
    here: the doctests' process has started JAX; ``tests/test_xla.py`` runs it in
    a fresh process):

    >>> from symjax import xla
    >>> xla.configure_cpu()  # doctest: +SKIP
    True
    """
    if _user_flag_set():
        return True
    from jax._src import xla_bridge  # no public API says whether backends exist yet

    if xla_bridge.backends_are_initialized():
        if warn:
            warnings.warn("symjax.xla.configure_cpu: JAX has already started, XLA_FLAGS is read only once; "
                          "pass symjax.xla.compiler_options() to jax.jit instead", RuntimeWarning, stacklevel=2)
        return False
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --{OPTION}={_DOTS_ONLY_FLAG}".strip()
    return True


class Tuned(NamedTuple):
    """What :func:`fastest` chose: call it like the function it compiled (same argument shapes).

    >>> import jax.numpy as jnp
    >>> tuned = fastest(lambda x: 2 * x, jnp.ones(2), reps=1)
    >>> isinstance(tuned, Tuned), tuned(jnp.ones(2)).tolist()
    (True, [2.0, 2.0])
    """

    compiled: Any
    """The ``jax.stages.Compiled`` of the faster variant."""
    choice: str
    """``"default"`` (the process's XLA options) or ``"eigen"`` (:func:`compiler_options`)."""
    times_ms: dict
    """Median milliseconds of each variant that was timed."""

    def __call__(self, *args, **kwargs):
        return self.compiled(*args, **kwargs)


def fastest(fun: Callable, *args, reps: int = 5, **jit_kwargs) -> Tuned:
    """Compile ``fun`` for ``args`` with and without :func:`compiler_options`; keep the faster.

    Both variants are compiled ahead of time, run once to warm up, then
    ``reps`` times each, interleaved with alternating order; the one with the
    smaller median wins. Off CPU (or where :func:`compiler_options` is ``{}``)
    there is one variant and nothing is timed. ``fun`` runs ``2 * reps + 2``
    times on ``args``, so it must not donate them.

    Args:
      fun: a function of arrays (pytrees of arrays).
      *args: example arguments: the result is compiled for their shapes and dtypes.
      reps: timed runs of each variant (at least 1).
      **jit_kwargs: passed to ``jax.jit`` (not ``donate_argnums``/``donate_argnames``).

    Returns:
      a :class:`Tuned`, callable with arguments of the same shapes.

    >>> import jax.numpy as jnp
    >>> from symjax import xla
    >>> tuned = xla.fastest(lambda x: jnp.tanh(x) @ x, jnp.eye(3), reps=1)
    >>> tuned.choice in ("default", "eigen"), tuned(jnp.eye(3)).shape
    (True, (3, 3))
    """
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise ValueError(f"fastest expects reps to be a positive int, got {reps!r}")
    donated = sorted(k for k in ("donate_argnums", "donate_argnames") if jit_kwargs.get(k) not in (None, (), []))
    if donated:
        raise ValueError(f"fastest runs fun several times on the same arguments: it cannot take {donated[0]}")
    explicit = jit_kwargs.pop("compiler_options", None) or {}
    variants = {"default": explicit}
    ours = compiler_options(jit_kwargs.get("backend"))
    if ours:
        variants["eigen"] = {**ours, **explicit}
    compiled = {name: jax.jit(fun, compiler_options=opts or None, **jit_kwargs).lower(*args).compile()
                for name, opts in variants.items()}
    if len(compiled) == 1:
        return Tuned(compiled["default"], "default", {})
    times = {name: [] for name in compiled}
    for fn in compiled.values():
        jax.block_until_ready(fn(*args))
    names = list(compiled)
    for r in range(reps):
        for name in names if r % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            jax.block_until_ready(compiled[name](*args))
            times[name].append(time.perf_counter() - t0)
    medians = {name: 1e3 * statistics.median(ts) for name, ts in times.items()}
    choice = min(medians, key=medians.get)
    return Tuned(compiled[choice], choice, medians)
