"""XLA:CPU convolution backends: XLA's default (YNNPACK) against Eigen (``symjax.xla``), per layer.

For the 3x3 layers of the P4CNN-like nets (40 channels for p4, 80 for p4m;
28x28 and 14x14; batch 64) it times the forward convolution, the input
gradient and the weight gradient, each jitted twice in this one process: with
``jax.jit`` (XLA's defaults) and with :func:`symjax.xla.jit` (Eigen
convolutions). Warmed up, interleaved, alternating order, medians; the ratio
is default / Eigen (> 1: Eigen faster). Only meaningful on CPU: elsewhere
the options are empty and the benchmark says so and returns.

    python -m symjax.bench.cpu_conv [--quick] [--tiny] [--json FILE]

(``benchmarks/bench_cpu_conv.py`` in the repository runs the same command line.)

>>> x, w, dy = jnp.ones((2, 5, 5, 3)), jnp.ones((3, 3, 3, 4)), jnp.ones((2, 5, 5, 4))
>>> {op: fn(x, w, dy).shape for op, fn in ops().items()}
{'forward': (2, 5, 5, 4), 'input_grad': (2, 5, 5, 3), 'weight_grad': (3, 3, 3, 4)}
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from symjax import xla
from symjax.bench.script import script_main
from symjax.bench.timing import median_ms, seconds

__all__ = ["ops", "run", "print_results", "main"]

SHAPES = ((28, 40), (14, 40), (28, 80), (14, 80))  # (image size, channels), batch 64, 3x3
TINY_SHAPES, TINY_BATCH = ((8, 4),), 2


def _conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def ops() -> dict:
    """``{name: f(x, w, dy)}``: the 3x3 SAME convolution (NHWC, HWIO), its input gradient and its weight gradient."""
    return {
        "forward": lambda x, w, dy: _conv(x, w),
        "input_grad": lambda x, w, dy: jax.vjp(lambda x: _conv(x, w), x)[1](dy)[0],
        "weight_grad": lambda x, w, dy: jax.vjp(lambda w: _conv(x, w), w)[1](dy)[0],
    }


def run(quick: bool = False, tiny: bool = False) -> dict:
    """Per-layer times in ms and default/Eigen ratios; ``{"skipped": reason}`` off CPU.

    Args:
      quick: the 40-channel layers only, 7 timings instead of 15.
      tiny: one 8x8, 4-channel layer, batch 2, 2 timings (a smoke test, not a measurement).
    """
    if not xla.compiler_options():
        reason = (f"backend {jax.default_backend()!r}: symjax.xla has no options here (not CPU, an older "
                  "jaxlib, or the option set in XLA_FLAGS)")
        print(f"CPU convolution benchmark skipped: {reason}")
        return {"skipped": reason}
    reps = 2 if tiny else 7 if quick else 15
    shapes, batch = (TINY_SHAPES, TINY_BATCH) if tiny else (SHAPES[:2] if quick else SHAPES, 64)
    rng = np.random.default_rng(0)
    rows = []
    for size, channels in shapes:
        x = jnp.asarray(rng.standard_normal((batch, size, size, channels)), jnp.float32)
        w = jnp.asarray(rng.standard_normal((3, 3, channels, channels)) * 0.05, jnp.float32)
        dy = jnp.asarray(rng.standard_normal((batch, size, size, channels)), jnp.float32)
        args = (x, w, dy)
        for op, fn in ops().items():
            sides = {"default": jax.jit(fn), "eigen": xla.jit(fn)}
            for side in sides.values():
                seconds(side, *args), seconds(side, *args)
            times = {"default": [], "eigen": []}
            for r in range(reps):
                for name in (("default", "eigen") if r % 2 == 0 else ("eigen", "default")):
                    times[name].append(seconds(sides[name], *args))
            d, e = median_ms(times["default"]), median_ms(times["eigen"])
            rows.append({"size": size, "channels": channels, "batch": batch, "op": op,
                         "default_ms": d, "eigen_ms": e, "default_over_eigen": d / e})
    return {"benchmark": "xla_cpu_convolutions", "reps": reps, "compiler_options": xla.compiler_options(),
            "jax": jax.__version__, "rows": rows}


def print_results(result: dict) -> None:
    """Print the results of :func:`run` as a table (nothing when it was skipped)."""
    if "skipped" in result:
        return
    print(f"{'size':>4} {'ch':>3} {'op':<12} {'default':>9} {'eigen':>9} {'default/eigen':>14}")
    for r in result["rows"]:
        print(f"{r['size']:4d} {r['channels']:3d} {r['op']:<12} {r['default_ms']:7.2f}ms {r['eigen_ms']:7.2f}ms "
              f"{r['default_over_eigen']:14.2f}")


def main(argv: list[str] | None = None) -> dict:
    """The command line (``[--quick] [--tiny] [--json FILE]``); returns :func:`run`'s dict."""
    return script_main(run, print_results, __doc__, "the 40-channel layers only, fewer repetitions", argv)


if __name__ == "__main__":
    main()
