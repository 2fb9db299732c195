"""G-conv vs plain conv: the cost of symjax's kernel expansion, over groups, widths, image and batch sizes.

A 7-layer p4 (C4) or p4m (D4) network (a lifting layer and six group
convolutions, 3x3, ReLU, group max-pool, spatial mean, Dense head) against a
plain Flax ``Conv`` network of the same width (``C x |G|`` channels in every
layer, so both run the same convolutions) with the same head (a max over
blocks of ``|G|`` channels), so the ratio isolates the kernel expansion.

For every configuration (group, channels ``C x |G|``, image size, batch) both
sides are measured in this one process:

- ``forward``: a jitted ``apply`` (inference);
- ``train``: a jitted train step (forward, backward, Adam update);
- ``compile``: lowering and compiling the train step (a fresh trace each time);
- ``build``: a jitted ``init`` (trace, compile, run), fresh each time;
  both also in process CPU time (``cpu_ratio``), steadier than wall-clock
  time when other jobs share the machine;
- memory: ``jit(...).lower(...).compile().memory_analysis()`` of the train step
  and the forward: temp, argument, output and alias bytes from XLA's buffer
  assignment, and ``peak = temp + argument + output - alias``. On GPU this is
  the device memory a step needs; XLA:CPU leaves some buffers out of it (a
  plain conv forward reports almost no temp bytes), so on CPU read it as a
  lower bound.

Timings are warmed up, interleaved (alternating which side goes first) and
reduced to medians; each figure is reported as symjax/plain (1.0 means the
expansion costs nothing) with the absolute times for context. ``--volumes``
runs the 3D rows instead: 5-layer nets over the cube groups O and O_h
(3x3x3 kernels, volumes ``size**3``) against plain 3D convolutions of the same
width (:data:`VOLUMES`). ``--dtype
bfloat16`` puts parameters and activations of both nets in bfloat16 (meant for
GPUs; XLA:CPU emulates most bfloat16 arithmetic).

    symjax bench                 # the whole suite, this part included
    python -m symjax.bench.gconv [--quick] [--tiny] [--volumes] [--dtype {float32,bfloat16}] [--json FILE]
                                 [--xla-defaults]

(``benchmarks/bench_gconv.py`` in the repository runs the same command line.)

>>> [Config("C4", **shape) for shape in QUICK]  # the configurations of ``--quick``, for p4 (and D4 for p4m)
[Config(group='C4', channels=32, size=28, batch=32, layers=7)]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
from typing import Any, NamedTuple

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from symjax import functional as F, geometry, groups, nn as snn, xla
from symjax.bench.timing import interleaved, seconds, seconds_cpu

__all__ = ["Config", "VOLUMES", "GroupNet", "PlainNet", "compare", "run", "print_results", "main"]

LAYERS, CLASSES = 7, 10


class Config(NamedTuple):
    """One comparison: group name, total channels ``C x |G|``, image size, batch, layers."""
    group: str
    channels: int
    size: int
    batch: int
    layers: int = LAYERS


BASE = {"channels": 32, "size": 28, "batch": 32}
# the base configuration, then one axis varied at a time (a full grid is too slow on a small CPU)
FULL = [dict(BASE), dict(BASE, channels=64), dict(BASE, size=56), dict(BASE, batch=128)]
QUICK = [dict(BASE)]
TINY = [dict(channels=8, size=8, batch=2, layers=2)]
REPS = {"full": (30, 5, 200), "quick": (8, 2, 50), "tiny": (2, 1, 2)}  # steps, compiles/builds, expansions
VOLUME_BASE = {"channels": 48, "size": 8, "batch": 8, "layers": 5}
VOLUMES = [dict(VOLUME_BASE, group="O"), dict(VOLUME_BASE, group="O", channels=96),
           dict(VOLUME_BASE, group="O", size=16), dict(VOLUME_BASE, group="Oh", channels=96),
           dict(VOLUME_BASE, group="Oh", channels=96, size=16)]
"""The 3D rows (``--volumes``): C x |G| channels 48 or 96, volumes 8^3 or 16^3, batch 8, 5 layers."""


class GroupNet(fnn.Module):
    """The symjax side: a lifting conv and ``layers - 1`` group convs (3x3, ReLU), group max-pool, spatial mean, Dense."""
    group: groups.FiniteGroup
    fields: int
    layers: int = LAYERS
    dtype: Any = jnp.float32

    @fnn.compact
    def __call__(self, x):
        kw = {"dtype": self.dtype, "param_dtype": self.dtype, "kernel_size": (3,) * (x.ndim - 2)}
        f = fnn.relu(snn.LiftingConv(self.group, self.fields, **kw)(x))
        for _ in range(self.layers - 1):
            f = fnn.relu(snn.GroupConv(self.group, self.fields, **kw)(f))
        return fnn.Dense(CLASSES, dtype=self.dtype, param_dtype=self.dtype)(
            snn.GroupPool()(f).mean(axis=tuple(range(1, x.ndim - 1))))


class PlainNet(fnn.Module):
    """The same network with plain convolutions; the head reduces blocks of ``order`` channels as the group pool does."""
    channels: int
    order: int
    layers: int = LAYERS
    dtype: Any = jnp.float32

    @fnn.compact
    def __call__(self, x):
        kw = {"dtype": self.dtype, "param_dtype": self.dtype}
        for _ in range(self.layers):
            x = fnn.relu(fnn.Conv(self.channels, (3,) * (x.ndim - 2), **kw)(x))
        x = x.reshape(x.shape[:-1] + (-1, self.order)).max(axis=-1)
        return fnn.Dense(CLASSES, **kw)(x.mean(axis=tuple(range(1, x.ndim - 1))))


def _train_step(model, optimizer):
    def loss_fn(params, x, y):
        logits = model.apply({"params": params}, x).astype(jnp.float32)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def _forward(model):
    return lambda params, x: model.apply({"params": params}, x)


def _pair(ta: list[float], tb: list[float], scale: float, unit: str) -> dict:
    a, b = statistics.median(ta), statistics.median(tb)
    return {f"symjax_{unit}": scale * a, f"plain_{unit}": scale * b, "ratio": a / b}


def _pair_cpu(ta: list[tuple], tb: list[tuple]) -> dict:
    """Wall-clock medians and ratio, plus process-CPU-time medians and ratio (``cpu_ratio``)."""
    out = _pair([t[0] for t in ta], [t[0] for t in tb], 1.0, "s")
    cpu = _pair([t[1] for t in ta], [t[1] for t in tb], 1.0, "cpu_s")
    return {**out, **{k: v for k, v in cpu.items() if k != "ratio"}, "cpu_ratio": cpu["ratio"]}


def _memory(compiled) -> dict:
    m = compiled.memory_analysis()
    if m is None:  # a backend without the analysis
        return {}
    out = {k: int(getattr(m, f"{k}_size_in_bytes")) for k in ("temp", "argument", "output", "alias")}
    out["peak"] = out["temp"] + out["argument"] + out["output"] - out["alias"]
    return out


def _memory_pair(a: dict, b: dict) -> dict:
    if not a or not b:
        return {}
    return {"symjax_bytes": a, "plain_bytes": b, "peak_ratio": a["peak"] / b["peak"],
            "temp_ratio": a["temp"] / max(b["temp"], 1)}


def _expansion_us(group: groups.FiniteGroup, fields: int, dtype, reps: int) -> float:
    """Median time of one layer's kernel expansion, forward and backward, alone (microseconds)."""
    n, taps = group.order, (3,) * geometry.spatial_dims(group)
    kernel = jnp.ones(taps + (fields, n, fields), dtype)
    cotangent = jnp.ones(taps + (fields * n, fields * n), dtype)
    grad = jax.jit(jax.grad(lambda k, c: jnp.sum(F.group_kernel(k, group) * c)))  # c an argument: nothing to fold
    grad(kernel, cotangent).block_until_ready()
    return 1e6 * statistics.median(seconds(lambda: grad(kernel, cotangent)) for _ in range(reps))


def _group(name: str) -> groups.FiniteGroup:
    return {"C4": groups.cyclic(4), "D4": groups.dihedral(4), "O": groups.octahedral(),
            "Oh": groups.full_octahedral()}[name]


def compare(cfg: Config, dtype: str = "float32", mode: str = "full", xla_options: bool = True) -> dict:
    """Measure one configuration, symjax against plain; returns a JSON-ready dict.

    ``xla_options``: compile both sides with :func:`symjax.xla.jit` (Eigen
    convolutions on CPU) rather than plain ``jax.jit`` (XLA's defaults).
    """
    jit = xla.jit if xla_options else jax.jit
    group = _group(cfg.group)
    if cfg.channels % group.order:
        raise ValueError(f"channels must be a multiple of |G| = {group.order}, got {cfg.channels}")
    reps_step, reps_compile, reps_expansion = REPS[mode]
    dt = jnp.dtype(dtype)
    fields = cfg.channels // group.order
    models = {"symjax": GroupNet(group, fields, cfg.layers, dt),
              "plain": PlainNet(cfg.channels, group.order, cfg.layers, dt)}
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((cfg.batch,) + (cfg.size,) * geometry.spatial_dims(group) + (1,)), dt)
    y = jnp.asarray(rng.integers(0, CLASSES, cfg.batch))
    optimizer = optax.adam(1e-3)

    def build(name):  # a fresh jit each time: trace + compile + run of init
        return lambda: jit(models[name].init)(jax.random.key(0), x)

    steps, forwards = {}, {}

    def compile_step(name):  # a fresh step function each time, so nothing is cached; the last one is kept
        def go():
            steps[name] = jit(_train_step(models[name], optimizer)).lower(*state[name], x, y).compile()
            return jnp.zeros(())
        return go

    if mode != "tiny":
        build("symjax")(), build("plain")()  # warm up tracing machinery
    b_sym, b_plain = interleaved(build("symjax"), build("plain"), reps_compile, seconds_cpu)

    state = {}
    for name, model in models.items():
        params = model.init(jax.random.key(0), x)["params"]
        state[name] = [params, optimizer.init(params)]
    c_sym, c_plain = interleaved(compile_step("symjax"), compile_step("plain"), reps_compile, seconds_cpu)

    memory = {}
    for name in models:
        forwards[name] = jit(_forward(models[name])).lower(state[name][0], x).compile()
        memory[name] = {"train": _memory(steps[name]), "forward": _memory(forwards[name])}

    def train(name):
        def go():
            params, opt_state, loss = steps[name](*state[name], x, y)
            state[name] = [params, opt_state]
            return loss
        return go

    def forward(name):
        return lambda: forwards[name](state[name][0], x)

    for _ in range(2):  # warm-up: compile and settle
        train("symjax")(), train("plain")(), forward("symjax")(), forward("plain")()
    t_sym, t_plain = interleaved(train("symjax"), train("plain"), reps_step)
    f_sym, f_plain = interleaved(forward("symjax"), forward("plain"), reps_step)
    return {
        **cfg._asdict(), "fields": fields, "dtype": dtype,
        "train": _pair(t_sym, t_plain, 1e3, "ms"),
        "forward": _pair(f_sym, f_plain, 1e3, "ms"),
        "compile": _pair_cpu(c_sym, c_plain),
        "build": _pair_cpu(b_sym, b_plain),
        "memory_train": _memory_pair(memory["symjax"]["train"], memory["plain"]["train"]),
        "memory_forward": _memory_pair(memory["symjax"]["forward"], memory["plain"]["forward"]),
        "samples": {"train": len(t_sym), "compile": len(c_sym)},
        "expansion_us_per_layer": _expansion_us(group, fields, dt, reps_expansion),
    }


def run(quick: bool = False, dtype: str = "float32", tiny: bool = False, xla_options: bool = True,
        volumes: bool = False) -> dict:
    """Compare symjax and plain over p4/p4m and the configurations; a JSON-ready dict of medians and ratios.

    Args:
      quick: the base configuration only, fewer repetitions.
      dtype: ``"float32"`` or ``"bfloat16"`` (parameters and activations of both nets).
      tiny: p4 only, a 2-layer net on 8x8 images, one or two repetitions (a smoke test, not a measurement).
      xla_options: compile both nets with :func:`symjax.xla.jit` (Eigen convolutions
        on CPU; no change elsewhere); ``False`` for XLA's defaults.
      volumes: the 3D rows (:data:`VOLUMES`, O and O_h) instead of p4/p4m (``quick``: the first and the
        fourth, one per group; ``tiny``: O on 4^3 volumes, 2 layers).
    """
    if dtype not in ("float32", "bfloat16"):
        raise ValueError(f"dtype must be 'float32' or 'bfloat16', got {dtype!r}")
    mode = "tiny" if tiny else "quick" if quick else "full"
    shapes = {"tiny": TINY, "quick": QUICK, "full": FULL}[mode]
    configs = [Config(g, **s) for s in shapes for g in (("C4",) if tiny else ("C4", "D4"))]
    if volumes:
        configs = ([Config("O", 48, 4, 2, 2)] if tiny else
                   [Config(**s) for s in (VOLUMES[0], VOLUMES[3]) if quick] or [Config(**s) for s in VOLUMES])
    return {
        "benchmark": "gconv_vs_plain_conv",
        "config": {"mode": mode, "dtype": dtype, "kernel": 3, "layers": configs[0].layers,
                   "reps": dict(zip(("train_forward", "compile_build", "expansion"), REPS[mode])),
                   "compiler_options": xla.compiler_options() if xla_options else {},
                   "xla_flags": os.environ.get("XLA_FLAGS", "")},
        "device": str(jax.devices()[0]), "backend": jax.default_backend(), "jax": jax.__version__,
        "results": [compare(c, dtype, mode, xla_options) for c in configs],
    }


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f}"


def print_results(result: dict) -> None:
    """Print the results of :func:`run` as a table: ratios symjax/plain, then absolute times."""
    print(f"G-conv vs plain conv ({result['config']}, {result['device']})")
    print("ratios symjax/plain (compile and build: wall-clock, then process CPU time); absolute symjax|plain; "
          "peak memory of the train step in MiB")
    print(f"{'net':4} {'C':>4} {'size':>4} {'batch':>5} | {'train':>5} {'ms':>15} | {'fwd':>5} {'ms':>13} | "
          f"{'compile':>7} {'(cpu)':>5} {'s':>11} | {'build':>5} {'(cpu)':>5} {'s':>11} | {'peak':>5} {'MiB':>13}")
    for r in result["results"]:
        net = {"C4": "p4", "D4": "p4m"}.get(r["group"], r["group"])
        t, f, c, b, m = r["train"], r["forward"], r["compile"], r["build"], r["memory_train"]
        mem = (f"{m['peak_ratio']:5.2f} {_mib(m['symjax_bytes']['peak']):>6}|{_mib(m['plain_bytes']['peak']):<6}"
               if m else f"{'-':>5} {'':13}")
        print(f"{net:4} {r['channels']:4d} {r['size']:4d} {r['batch']:5d} | "
              f"{t['ratio']:5.3f} {t['symjax_ms']:7.1f}|{t['plain_ms']:<7.1f} | "
              f"{f['ratio']:5.3f} {f['symjax_ms']:6.1f}|{f['plain_ms']:<6.1f} | "
              f"{c['ratio']:7.2f} {c['cpu_ratio']:5.2f} {c['symjax_s']:5.2f}|{c['plain_s']:<5.2f} | "
              f"{b['ratio']:5.2f} {b['cpu_ratio']:5.2f} {b['symjax_s']:5.2f}|{b['plain_s']:<5.2f} | {mem}")


def main(argv: list[str] | None = None) -> dict:
    """The command line (``[--quick] [--tiny] [--dtype D] [--json FILE] [--xla-defaults]``); returns :func:`run`'s dict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the base configuration only, fewer repetitions")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer 8x8 smoke run (seconds; not a measurement)")
    parser.add_argument("--volumes", action="store_true", help="the 3D rows: O and O_h on volumes, 5 layers")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32",
                        help="parameters and activations of both nets (default float32)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--xla-defaults", action="store_true",
                        help="compile with plain jax.jit (XLA's default CPU convolutions) instead of symjax.xla.jit")
    args = parser.parse_args(argv)
    result = run(args.quick, args.dtype, args.tiny, xla_options=not args.xla_defaults, volumes=args.volumes)
    print_results(result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
    return result


if __name__ == "__main__":
    main()
