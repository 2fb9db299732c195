"""G-conv vs plain conv: the cost of symjax's kernel expansion in a training step.

A 7-layer p4 (C4) and p4m (D4) network (a lifting layer and six group
convolutions, 3x3, ReLU, group max-pool, spatial mean, Dense head) against a
plain Flax ``Conv`` network of the same width (``C x |G|`` channels in every
layer, so both run the same convolutions) with the same head (a max over
blocks of ``|G|`` channels), so the ratio isolates the convolution layers. Input 28x28x1, batch 32. Timed: a
jitted train step (forward, backward, Adam update), compile time of that step
and build time (jitted ``init``). Both sides run in this one process, warmed
up, interleaved, alternating which side goes first; we report medians and
symjax/plain ratios (1.0 means the expansion costs nothing).

    python benchmarks/bench_gconv.py [--quick] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from symjax import functional as F, groups, nn as snn

LAYERS, SIZE, BATCH, CLASSES, WIDTH = 7, 28, 32, 10, 32


class GroupNet(fnn.Module):
    group: groups.FiniteGroup
    fields: int

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(snn.LiftingConv(self.group, self.fields)(x))
        for _ in range(LAYERS - 1):
            f = fnn.relu(snn.GroupConv(self.group, self.fields)(f))
        return fnn.Dense(CLASSES)(snn.GroupPool()(f).mean(axis=(1, 2)))


class PlainNet(fnn.Module):
    """The same network with plain convolutions; the head reduces blocks of ``order`` channels as the group pool does."""
    channels: int
    order: int

    @fnn.compact
    def __call__(self, x):
        for _ in range(LAYERS):
            x = fnn.relu(fnn.Conv(self.channels, (3, 3))(x))
        x = x.reshape(x.shape[:-1] + (-1, self.order)).max(axis=-1)
        return fnn.Dense(CLASSES)(x.mean(axis=(1, 2)))


def _train_step(model, optimizer):
    def loss_fn(params, x, y):
        logits = model.apply({"params": params}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def _seconds(fn) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - start


def _interleaved(a, b, reps: int) -> tuple[list[float], list[float]]:
    """Time ``a`` and ``b`` alternately, alternating which goes first."""
    ta, tb = [], []
    for i in range(reps):
        if i % 2 == 0:
            ta.append(_seconds(a))
            tb.append(_seconds(b))
        else:
            tb.append(_seconds(b))
            ta.append(_seconds(a))
    return ta, tb


def _expansion_us(group: groups.FiniteGroup, fields: int, reps: int) -> float:
    """Median time of one layer's kernel expansion, forward and backward, alone (microseconds)."""
    n = group.order
    kernel, cotangent = jnp.ones((3, 3, fields, n, fields)), jnp.ones((3, 3, fields * n, fields * n))
    grad = jax.jit(jax.grad(lambda k: jnp.sum(F.group_kernel(k, group) * cotangent)))
    grad(kernel).block_until_ready()
    return 1e6 * statistics.median(_seconds(lambda: grad(kernel)) for _ in range(reps))


def _compare(group: groups.FiniteGroup, quick: bool) -> dict:
    fields = WIDTH // group.order
    models = {"symjax": GroupNet(group, fields), "plain": PlainNet(fields * group.order, group.order)}
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((BATCH, SIZE, SIZE, 1)), jnp.float32)
    y = jnp.asarray(rng.integers(0, CLASSES, BATCH))
    optimizer = optax.adam(1e-3)

    def build(name):  # a fresh jit each time: trace + compile + run of init
        return lambda: jax.jit(models[name].init)(jax.random.key(0), x)

    def compile_step(name, params, opt_state):  # a fresh step function each time, so nothing is cached
        return lambda: jax.jit(_train_step(models[name], optimizer)).lower(params, opt_state, x, y).compile() \
            and jnp.zeros(())

    build("symjax")(), build("plain")()  # warm up tracing machinery
    reps_build = 2 if quick else 5
    b_sym, b_plain = _interleaved(build("symjax"), build("plain"), reps_build)

    state = {}
    for name, model in models.items():
        params = model.init(jax.random.key(0), x)["params"]
        state[name] = [params, optimizer.init(params)]
    c_sym, c_plain = _interleaved(compile_step("symjax", *state["symjax"]),
                                  compile_step("plain", *state["plain"]), reps_build)

    steps = {name: jax.jit(_train_step(models[name], optimizer)) for name in models}

    def run(name):
        def go():
            params, opt_state, loss = steps[name](*state[name], x, y)
            state[name] = [params, opt_state]
            return loss
        return go

    for _ in range(2):  # warm-up: compile and settle
        run("symjax")(), run("plain")()
    t_sym, t_plain = _interleaved(run("symjax"), run("plain"), 6 if quick else 30)
    med = statistics.median
    return {
        "group": group.name, "fields": fields, "channels": fields * group.order,
        "step_ms": {"symjax": 1e3 * med(t_sym), "plain": 1e3 * med(t_plain)},
        "step_ratio": med(t_sym) / med(t_plain),
        "compile_s": {"symjax": med(c_sym), "plain": med(c_plain)},
        "compile_ratio": med(c_sym) / med(c_plain),
        "build_s": {"symjax": med(b_sym), "plain": med(b_plain)},
        "build_ratio": med(b_sym) / med(b_plain),
        "step_samples": len(t_sym),
        "expansion_us_per_layer": _expansion_us(group, fields, 50 if quick else 200),
    }


def run(quick: bool = False) -> dict:
    """Run the comparison for p4 and p4m; returns a JSON-ready dict of medians and ratios."""
    return {
        "benchmark": "gconv_vs_plain_conv",
        "config": {"layers": LAYERS, "image": SIZE, "batch": BATCH, "kernel": 3, "channels": WIDTH,
                   "quick": quick},
        "device": str(jax.devices()[0]), "jax": jax.__version__,
        "results": [_compare(groups.cyclic(4), quick), _compare(groups.dihedral(4), quick)],
    }


def _print(result: dict) -> None:
    print(f"G-conv vs plain conv ({result['config']}, {result['device']})")
    print(f"{'net':6} {'step symjax':>12} {'step plain':>11} {'ratio':>6} {'compile':>8} {'build':>6} "
          f"{'expansion/layer':>16}")
    for r in result["results"]:
        name = "p4" if r["group"] == "C4" else "p4m"
        print(f"{name:6} {r['step_ms']['symjax']:10.1f}ms {r['step_ms']['plain']:9.1f}ms {r['step_ratio']:6.3f} "
              f"{r['compile_ratio']:8.3f} {r['build_ratio']:6.3f} {r['expansion_us_per_layer']:14.1f}us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    result = run(args.quick)
    _print(result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)
