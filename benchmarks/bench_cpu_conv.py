"""XLA:CPU convolution backends: XLA's default (YNNPACK) against Eigen (``symjax.xla``), per layer.

For the 3x3 layers of the P4CNN-like nets (40 channels for p4, 80 for p4m;
28x28 and 14x14; batch 64) it times the forward convolution, the input
gradient and the weight gradient, each jitted twice in this one process: with
``jax.jit`` (XLA's defaults) and with :func:`symjax.xla.jit` (Eigen
convolutions). Warmed up, interleaved, alternating order, medians; the ratio
is default / Eigen (> 1: Eigen faster). Only meaningful on CPU: elsewhere
the options are empty and the benchmark says so and returns.

    python benchmarks/bench_cpu_conv.py [--quick] [--json FILE]
"""
from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from symjax import xla

SHAPES = ((28, 40), (14, 40), (28, 80), (14, 80))  # (image size, channels), batch 64, 3x3


def _conv(x, w):
    return lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _ops():
    return {
        "forward": lambda x, w, dy: _conv(x, w),
        "input_grad": lambda x, w, dy: jax.vjp(lambda x: _conv(x, w), x)[1](dy)[0],
        "weight_grad": lambda x, w, dy: jax.vjp(lambda w: _conv(x, w), w)[1](dy)[0],
    }


def _time(fn, args) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - t0


def run(quick: bool = False) -> dict:
    """Per-layer times in ms and default/Eigen ratios; ``{"skipped": reason}`` off CPU."""
    if not xla.compiler_options():
        reason = (f"backend {jax.default_backend()!r}: symjax.xla has no options here (not CPU, an older "
                  "jaxlib, or the option set in XLA_FLAGS)")
        print(f"CPU convolution benchmark skipped: {reason}")
        return {"skipped": reason}
    reps = 7 if quick else 15
    rng = np.random.default_rng(0)
    rows = []
    for size, channels in SHAPES[:2] if quick else SHAPES:
        x = jnp.asarray(rng.standard_normal((64, size, size, channels)), jnp.float32)
        w = jnp.asarray(rng.standard_normal((3, 3, channels, channels)) * 0.05, jnp.float32)
        dy = jnp.asarray(rng.standard_normal((64, size, size, channels)), jnp.float32)
        args = (x, w, dy)
        for op, fn in _ops().items():
            sides = {"default": jax.jit(fn), "eigen": xla.jit(fn)}
            for side in sides.values():
                _time(side, args), _time(side, args)
            times = {"default": [], "eigen": []}
            for r in range(reps):
                for name in (("default", "eigen") if r % 2 == 0 else ("eigen", "default")):
                    times[name].append(_time(sides[name], args))
            d, e = statistics.median(times["default"]), statistics.median(times["eigen"])
            rows.append({"size": size, "channels": channels, "batch": 64, "op": op,
                         "default_ms": 1e3 * d, "eigen_ms": 1e3 * e, "default_over_eigen": d / e})
    return {"benchmark": "xla_cpu_convolutions", "reps": reps, "compiler_options": xla.compiler_options(),
            "jax": jax.__version__, "rows": rows}


def _print(result: dict) -> None:
    if "skipped" in result:
        return
    print(f"{'size':>4} {'ch':>3} {'op':<12} {'default':>9} {'eigen':>9} {'default/eigen':>14}")
    for r in result["rows"]:
        print(f"{r['size']:4d} {r['channels']:3d} {r['op']:<12} {r['default_ms']:7.2f}ms {r['eigen_ms']:7.2f}ms "
              f"{r['default_over_eigen']:14.2f}")


if __name__ == "__main__":
    from suite import script_main  # this folder is on sys.path when the script runs

    script_main(run, _print, __doc__, quick_help="the 40-channel layers only, fewer repetitions")
