"""Your own training loop around symjax layers: Linen with ``jax.jit`` + Optax, NNX with ``nnx.Optimizer``.

Both loops train a p4m (D4) G-CNN on scikit-learn's digits (8x8, padded to
9x9 so that 90-degree rotations stay exact). On a CPU, compile the step with
``symjax.xla.jit`` (``jax.jit`` with ``symjax.xla.compiler_options()``: XLA's
Eigen convolutions instead of YNNPACK's); ``--time`` then times one train
step of a 7-layer, 10-field p4m net on 28x28 images, batch 64, compiled with
plain ``jax.jit`` and with ``symjax.xla.jit`` (the same numbers either way).

    python examples/own_loop.py            # both loops, then the timing (about a minute on 2 CPU cores)
    python examples/own_loop.py --quick    # seconds (smoke test; no timing)
"""
from __future__ import annotations

import argparse
import statistics
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from sklearn.datasets import load_digits

from symjax import groups, xla
from symjax import nn as snn
from symjax import nnx as snnx

D4 = groups.dihedral(4)  # p4m: rotations by 90 degrees and reflections


class LinenNet(nn.Module):
    """Lifting conv, ``depth - 1`` group convs (``fields`` channels each), group and spatial pooling, a head."""

    depth: int = 3
    fields: int = 8

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        f = nn.relu(snn.LiftingConv(D4, self.fields)(x))
        for _ in range(self.depth - 1):
            f = nn.relu(snn.GroupConv(D4, self.fields)(f))
        return nn.Dense(10)(snn.GroupPool("max")(f).mean(axis=(1, 2)))


class NNXNet(nnx.Module):
    """The same network with ``symjax.nnx`` layers."""

    def __init__(self, depth: int = 3, fields: int = 8, *, rngs: nnx.Rngs):
        self.lift = snnx.LiftingConv(D4, 1, fields, rngs=rngs)
        self.convs = nnx.List([snnx.GroupConv(D4, fields, fields, rngs=rngs) for _ in range(depth - 1)])
        self.pool = snnx.GroupPool("max")
        self.head = nnx.Linear(fields, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        f = nnx.relu(self.lift(x))
        for conv in self.convs:
            f = nnx.relu(conv(f))
        return self.head(self.pool(f).mean(axis=(1, 2)))


def linen_step(model: nn.Module, tx: optax.GradientTransformation, jit=xla.jit):
    """``(params, opt_state, x, y) -> (params, opt_state, loss)``, compiled with ``jit``."""

    def step(params, opt_state, x, y):
        def loss_fn(p):
            logits = model.apply({"params": p}, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return jit(step)


def nnx_step(model: nnx.Module, optimizer: nnx.Optimizer, jit=xla.jit):
    """``(state, x, y) -> (state, loss)`` over ``state = nnx.state((model, optimizer))``, compiled with ``jit``.

    ``nnx.jit`` takes no compiler options, so the module and its optimizer are
    split once and the step is a pure function of their state.
    """
    graphdef, _ = nnx.split((model, optimizer))

    def step(state, x, y):
        model, optimizer = nnx.merge(graphdef, state)

        def loss_fn(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return nnx.state((model, optimizer)), loss

    return jit(step)


def digits(n_train: int) -> tuple[np.ndarray, ...]:
    data = load_digits()
    x = np.pad(data.images / 16.0, ((0, 0), (0, 1), (0, 1)))[..., None].astype(np.float32)
    y = data.target.astype(np.int32)
    return x[:n_train], y[:n_train], x[1200:], y[1200:]


def accuracy(logits: jax.Array, y: np.ndarray) -> float:
    return float(jnp.mean(jnp.argmax(logits, -1) == y))


def train_linen(epochs: int, n_train: int, batch: int = 100) -> float:
    x, y, x_test, y_test = digits(n_train)
    model, tx = LinenNet(), optax.adam(1e-2)
    params = model.init(jax.random.key(0), x[:1])["params"]
    opt_state = tx.init(params)
    step = linen_step(model, tx)
    for _ in range(epochs):
        for i in range(0, n_train, batch):
            params, opt_state, loss = step(params, opt_state, x[i:i + batch], y[i:i + batch])
    return accuracy(model.apply({"params": params}, x_test), y_test)


def train_nnx(epochs: int, n_train: int, batch: int = 100) -> float:
    x, y, x_test, y_test = digits(n_train)
    model = NNXNet(rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    step = nnx_step(model, optimizer)
    state = nnx.state((model, optimizer))
    for _ in range(epochs):
        for i in range(0, n_train, batch):
            state, loss = step(state, x[i:i + batch], y[i:i + batch])
    nnx.update((model, optimizer), state)  # the trained weights back into the module
    return accuracy(model(x_test), y_test)


def time_step(jit, reps: int = 5) -> float:
    """Median seconds of one train step of the 7-layer, 10-field p4m net, 28x28 inputs, batch 64."""
    model, tx = LinenNet(depth=7, fields=10), optax.adam(1e-3)
    x = jax.random.normal(jax.random.key(1), (64, 28, 28, 1))
    y = jnp.arange(64) % 10
    params = model.init(jax.random.key(0), x[:1])["params"]
    opt_state = tx.init(params)
    step = linen_step(model, tx, jit)
    params, opt_state, loss = jax.block_until_ready(step(params, opt_state, x, y))  # compile
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        params, opt_state, loss = jax.block_until_ready(step(params, opt_state, x, y))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs on 200 digits, no timing (smoke test)")
    args = parser.parse_args(argv)
    epochs, n_train = (2, 200) if args.quick else (10, 1200)
    result = {"linen_accuracy": train_linen(epochs, n_train), "nnx_accuracy": train_nnx(epochs, n_train)}
    print(f"test accuracy after {epochs} epochs: Linen loop {result['linen_accuracy']:.3f}, "
          f"NNX loop {result['nnx_accuracy']:.3f}")
    if not args.quick:
        result["step_s"] = {"jax.jit": time_step(jax.jit), "symjax.xla.jit": time_step(xla.jit)}
        print("p4m train step (7 layers, 10 fields, 28x28, batch 64), median of 5: "
              + ", ".join(f"{name} {s:.2f} s" for name, s in result["step_s"].items()))
    return result


if __name__ == "__main__":
    main()
