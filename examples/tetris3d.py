"""3D Tetris: an O-equivariant G-CNN recognises every rotation of 8 voxel shapes after seeing one each.

The benchmark of tensor field networks (Thomas et al. 2018): the 8 shapes made
of four unit cubes (two of them mirror images of each other: chiral), voxelised
in a cubic grid. Each model is trained on ONE orientation per shape (8 volumes)
and tested on all 24 rotations of every shape (192 volumes,
``actions.orbit(groups.octahedral(), x)``: exact voxel permutations).

- G-CNN: ``LiftingConv(O)`` with a 5x5x5 kernel (a shape fits in it), ReLU,
  a 1x1x1 ``GroupConv(O)``, ReLU, ``GroupPool`` (max over the 24 rotations),
  max over space, a dense classifier. Invariant to O by
  construction: every rotation gets the training orientation's prediction.
- CNN: the same network with plain 3D convolutions of the same width
  (``C x 24`` channels, the G-CNN's flattened width): it fits the 8 training
  volumes but has no reason to recognise their rotations.

O (rotations only), not O_h: an O_h-invariant network could not tell the two
chiral shapes apart. ``--hard``: shapes at random positions in a larger grid,
with Gaussian noise on every voxel, trained on several positions of the one
orientation per shape and tested on random rotations at random positions.

    python examples/tetris3d.py [--quick] [--seeds 4] [--hard]
"""
from __future__ import annotations

import argparse
import time

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from symjax import actions, groups
from symjax import nn as snn

O = groups.octahedral()
SHAPES = {  # four cubes each, (x, y, z) cells
    "chiral 1": [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 1, 0)],
    "chiral 2": [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, -1, 0)],
    "square": [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0)],
    "line": [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 0, 3)],
    "corner": [(0, 0, 0), (0, 0, 1), (0, 1, 0), (1, 0, 0)],
    "L": [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0)],
    "T": [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 1)],
    "zigzag": [(0, 0, 0), (1, 0, 0), (1, 1, 0), (2, 1, 0)],
}


def voxelise(size: int, offset=None) -> np.ndarray:
    """``(8, size, size, size, 1)`` float32: each shape's cells set to 1, its bounding box at ``offset`` (default: centred)."""
    out = np.zeros((len(SHAPES), size, size, size, 1), np.float32)
    for i, cells in enumerate(SHAPES.values()):
        cells = np.array(cells) - np.min(cells, axis=0)
        start = (size - 1 - cells.max(axis=0)) // 2 if offset is None else np.asarray(offset[i])
        x, y, z = (cells + start).T
        out[i, z, size - 1 - y, x, 0] = 1.0  # x along W, y up H, z along D (symjax.geometry)
    return out


class GCNN(fnn.Module):
    """O-invariant: a 5x5x5 lifting conv (it sees a whole shape), a 1x1x1 group conv, max over group and space."""

    width: int

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(snn.LiftingConv(O, self.width, kernel_size=5)(x))
        f = fnn.relu(snn.GroupConv(O, self.width, kernel_size=1)(f))
        return fnn.Dense(len(SHAPES))(snn.GroupPool()(f).max(axis=(1, 2, 3)))


class CNN(fnn.Module):
    """The same network with plain 3D convolutions of the G-CNN's flattened width (``width x 24`` channels)."""

    width: int

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(fnn.Conv(self.width * O.order, (5, 5, 5))(x))
        f = fnn.relu(fnn.Conv(self.width * O.order, (1, 1, 1))(f))
        return fnn.Dense(len(SHAPES))(f.max(axis=(1, 2, 3)))


def train_and_test(model, seeds, x_train, y_train, x_test, y_test, steps: int, lr: float = 1e-2) -> np.ndarray:
    """Train one copy of ``model`` per seed (batches of the 8 shapes, Adam); ``(seeds,)`` test accuracies."""
    optimizer = optax.adam(lr)
    batches = x_train.shape[0] // 8

    def loss(params, x, y):
        logits = model.apply(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def run(key):
        params = model.init(key, x_train[:1])
        state = optimizer.init(params)

        def step(carry, i):
            params, state = carry
            b = i % batches
            x = jax.lax.dynamic_slice_in_dim(x_train, b * 8, 8)
            y = jax.lax.dynamic_slice_in_dim(y_train, b * 8, 8)
            updates, state = optimizer.update(jax.grad(loss)(params, x, y), state)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, state), jnp.arange(steps))
        return (model.apply(params, x_test).argmax(-1) == y_test).mean()

    run = jax.jit(run)  # compiled once, run once per seed (a vmap over seeds would batch the convolutions' kernels,
    return np.array([float(run(jax.random.key(seed))) for seed in seeds])  # slow on XLA:CPU)


def easy_data(size: int):
    """One centred orientation per shape for training; all 24 rotations of each for testing."""
    x = voxelise(size)
    x_test = jax.vmap(lambda v: actions.orbit(O, v))(jnp.asarray(x)).reshape(-1, size, size, size, 1)
    return jnp.asarray(x), jnp.arange(8), x_test, jnp.repeat(jnp.arange(8), O.order)


def hard_data(rng: np.random.Generator, size: int, positions: int, tests: int, noise: float):
    """Random positions and voxel noise; training: ``positions`` placements of the one orientation per shape
    (ordered in batches of the 8 shapes); testing: ``tests`` random rotations at random positions per shape."""
    def place(volumes):
        out = np.zeros((len(volumes), size, size, size, 1), np.float32)
        for i, v in enumerate(volumes):
            occupied = np.argwhere(v[..., 0])
            low, high = occupied.min(axis=0), occupied.max(axis=0)
            shift = [rng.integers(-lo, size - hi) for lo, hi in zip(low, high)]
            out[i] = np.roll(v, shift, axis=(0, 1, 2))
        return out + noise * rng.standard_normal(out.shape).astype(np.float32)

    base = voxelise(size)
    x_train = np.concatenate([place(base) for _ in range(positions)])
    elements = rng.integers(0, O.order, (tests, len(SHAPES)))
    rotated = np.stack([np.asarray(actions.on_image(O, int(g), base[s])) for g, s in
                        zip(elements.reshape(-1), np.tile(np.arange(len(SHAPES)), tests))])
    x_test = place(rotated)
    labels = np.arange(len(SHAPES))
    return (jnp.asarray(x_train), jnp.asarray(np.tile(labels, positions)), jnp.asarray(x_test),
            jnp.asarray(np.tile(labels, tests)))


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run: 2 seeds (hard: a smaller grid)")
    parser.add_argument("--seeds", type=int, default=None, help="independent trainings per model (default 4)")
    parser.add_argument("--hard", action="store_true", help="random positions in a larger grid, with noise")
    args = parser.parse_args(argv)
    seeds = list(range(args.seeds if args.seeds is not None else (2 if args.quick else 4)))
    width = 4
    if args.hard:
        rng = np.random.default_rng(0)
        data = hard_data(rng, size=9 if args.quick else 12, positions=4 if args.quick else 16, tests=8, noise=0.1)
        steps = 50 if args.quick else 300
    else:
        data = easy_data(size=5)
        steps = 50
    print(f"3D Tetris{' (hard)' if args.hard else ''}: train {data[0].shape[0]} volumes {data[0].shape[1:4]}, "
          f"test {data[2].shape[0]} rotated; {len(seeds)} seeds, {steps} steps")
    results = {}
    for name, model in (("G-CNN (O)", GCNN(width)), ("CNN", CNN(width))):
        start = time.perf_counter()
        accuracy = train_and_test(model, seeds, *data, steps=steps)
        results[name] = [float(a) for a in accuracy]
        print(f"{name:10s} test accuracy over rotations, per seed: "
              f"{', '.join(f'{a:.3f}' for a in accuracy)}  ({time.perf_counter() - start:.1f} s)")
    return results


if __name__ == "__main__":
    main()
