"""syre overhead: `optim.syre_adamw` vs `optax.adamw` on a ~4M-parameter MLP.

Times a full jitted train step (forward, backward, optimizer) and the optimizer
update alone, for `optax.adamw`, `optim.syre_adamw` (anchor stored in the
state) and `optim.syre_adamw(regenerate=True)` (anchor redrawn from its key
every step). All three run in this one process, warmed up, interleaved, with
the order rotated every repetition (the first-timed step tends to be slower);
we report medians and ratios to adamw, plus the bytes held by each optimizer
state.

    python -m symjax.bench.syre [--quick] [--tiny] [--json FILE]

(``benchmarks/bench_syre.py`` in the repository runs the same command line.)

>>> state_bytes({"mu": jnp.zeros(3), "key": jax.random.key(0)})  # 3 float32, and a threefry key's 2 uint32
20
"""
from __future__ import annotations

import statistics

import jax
import jax.numpy as jnp
import optax

from symjax import optim
from symjax.bench.script import script_main
from symjax.bench.timing import timed

__all__ = ["init_mlp", "loss_fn", "state_bytes", "optimizers", "run", "print_results", "main"]

WIDTHS = (1024, 1536, 1536, 10)
BATCH = 64
TINY_WIDTHS, TINY_BATCH = (16, 32, 10), 8
LEARNING_RATE, WEIGHT_DECAY = 1e-3, 1e-4


def init_mlp(key: jax.Array, widths: tuple[int, ...] = WIDTHS) -> dict:
    """Flax-layout MLP parameters ``{"dense_i": {"kernel", "bias"}}`` for the layer ``widths`` (default ``WIDTHS``)."""
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        key, sub = jax.random.split(key)
        params[f"dense_{i}"] = {
            "kernel": jax.random.normal(sub, (fan_in, fan_out)) / jnp.sqrt(fan_in),
            "bias": jnp.zeros(fan_out),
        }
    return params


def loss_fn(params: dict, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean cross-entropy of the ReLU MLP of :func:`init_mlp` on ``x`` ``(batch, widths[0])``, labels ``y`` ``(batch,)``."""
    h = x
    for i in range(len(params)):
        layer = params[f"dense_{i}"]
        h = h @ layer["kernel"] + layer["bias"]
        if i < len(params) - 1:
            h = jax.nn.relu(h)
    return optax.softmax_cross_entropy_with_integer_labels(h, y).mean()


def state_bytes(state) -> int:
    """Bytes held by the leaves of an optimizer state (a typed key counts its key data)."""
    total = 0
    for leaf in jax.tree.leaves(state):
        if jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        total += leaf.nbytes
    return total


def optimizers(key: jax.Array) -> dict:
    """The three optimizers compared, by name: ``adamw``, ``syre_adamw``, ``syre_adamw_regenerate``."""
    return {
        "adamw": optax.adamw(LEARNING_RATE, weight_decay=WEIGHT_DECAY),
        "syre_adamw": optim.syre_adamw(LEARNING_RATE, WEIGHT_DECAY, key=key),
        "syre_adamw_regenerate": optim.syre_adamw(LEARNING_RATE, WEIGHT_DECAY, key=key, regenerate=True),
    }


def _compile(opt: optax.GradientTransformation):
    def train_step(params, state, x, y):
        grads = jax.grad(loss_fn)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    def update_only(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(train_step, donate_argnums=(0, 1)), jax.jit(update_only, donate_argnums=(0, 1))


def run(quick: bool = False, tiny: bool = False) -> dict:
    """Measure syre_adamw against adamw; returns medians (ms), ratios and state bytes.

    Args:
      quick: 7 timings instead of 25.
      tiny: a 16-32-10 MLP, batch 8, 2 timings (a smoke test, not a measurement).
    """
    reps, warmup = (2, 1) if tiny else (7, 2) if quick else (25, 3)
    widths, batch = (TINY_WIDTHS, TINY_BATCH) if tiny else (WIDTHS, BATCH)
    kp, kx, ky, ks = jax.random.split(jax.random.key(0), 4)
    x = jax.random.normal(kx, (batch, widths[0]))
    y = jax.random.randint(ky, (batch,), 0, widths[-1])
    params0 = jax.jit(init_mlp, static_argnums=1)(kp, widths)  # the setup jitted: eager ops compile one by one
    n_params = sum(leaf.size for leaf in jax.tree.leaves(params0))
    grads = jax.jit(jax.grad(loss_fn))(params0, x, y)
    opts = optimizers(ks)
    names = list(opts)
    fns = {name: _compile(opt) for name, opt in opts.items()}
    live = {name: (jax.tree.map(jnp.copy, params0), jax.jit(opt.init)(params0)) for name, opt in opts.items()}
    memory = {name: state_bytes(live[name][1]) for name in names}
    times = {kind: {name: [] for name in names} for kind in ("train_step", "update_only")}
    for rep in range(warmup + reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            step, update = fns[name]
            live[name], t_step = timed(step, *live[name], x, y)
            live[name], t_update = timed(update, *live[name], grads)
            if rep >= warmup:
                times["train_step"][name].append(t_step)
                times["update_only"][name].append(t_update)
    results = {
        "config": {
            "params": n_params,
            "widths": widths,
            "batch": batch,
            "reps": reps,
            "backend": jax.default_backend(),
            "devices": str(jax.devices()),
        },
        "state_bytes": memory,
        "state_over_adamw": {name: memory[name] / memory["adamw"] for name in names},
    }
    for kind, by_name in times.items():
        medians = {name: statistics.median(ts) for name, ts in by_name.items()}
        results[kind] = {
            "median_ms": {name: 1e3 * t for name, t in medians.items()},
            "over_adamw": {name: medians[name] / medians["adamw"] for name in names},
        }
    return results


def print_results(results: dict) -> None:
    """Print the results of :func:`run` as a table: times, ratios and state sizes against adamw."""
    cfg = results["config"]
    print(f"MLP {cfg['widths']} ({cfg['params'] / 1e6:.2f}M params), batch {cfg['batch']}, "
          f"{cfg['reps']} reps, {cfg['backend']}")
    print(f"{'optimizer':<24}{'train step':>12}{'/adamw':>8}{'update':>12}{'/adamw':>8}{'state MB':>10}{'/adamw':>8}")
    for name in results["state_bytes"]:
        step, update = results["train_step"], results["update_only"]
        print(f"{name:<24}{step['median_ms'][name]:>10.1f}ms{step['over_adamw'][name]:>8.3f}"
              f"{update['median_ms'][name]:>10.1f}ms{update['over_adamw'][name]:>8.3f}"
              f"{results['state_bytes'][name] / 2**20:>10.2f}{results['state_over_adamw'][name]:>8.3f}")


def main(argv: list[str] | None = None) -> dict:
    """The command line (``[--quick] [--tiny] [--json FILE]``); returns :func:`run`'s dict."""
    return script_main(run, print_results, __doc__, "fewer repetitions", argv)


if __name__ == "__main__":
    main()
