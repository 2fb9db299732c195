"""Controlled symmetry breaking on digits: a C4-invariant model, a CNN, a C4 model restricted to the trivial
group in its last layers, and a relaxed C4 model (Wang, Walters and Yu 2022).

scikit-learn's 8x8 digits are upsampled to 12x12 and zero-padded to 13x13 (odd: quarter turns map the grid
onto itself). Every model is trained on upright digits, one run per seed, and tested upright,
under random rotations uniform in +-30 degrees (``actions.rotate_image``) and at 90 degrees. A fully
C4-invariant model cannot tell a 6 from a 9 rotated by 180 degrees; the CNN has no symmetry at all; the
restricted model (``nn.Restrict`` C4 -> trivial before its last convolution) and the relaxed model (relaxed
lifting and group convolutions, their coefficients pulled toward equal by ``functional.relaxed_penalty``)
sit in between. The Lie derivative (``symmetry.layer_lie_derivatives``) measures each trained model's local
equivariance error for continuous rotations.

    python examples/symmetry_breaking.py                # 4 seeds, 20 epochs, 1200 digits (minutes on a CPU)
    python examples/symmetry_breaking.py --quick        # 2 seeds, 8 epochs, 600 digits (the run docs/symmetry_breaking.md quotes)
    python examples/symmetry_breaking.py --plot out.png
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

from symjax import actions, groups, symmetry
from symjax import functional as F
from symjax import nn

C4 = groups.cyclic(4)
TRIVIAL = C4.subgroup([0])
SIZE, N_TEST, BATCH = 13, 597, 25


class Invariant(fnn.Module):
    """C4-invariant: lift, a stride-2 group conv (13x13 -> 7x7), a 7x7 VALID group conv to 1x1, max over the group."""

    width: int = 6

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(nn.LiftingConv(C4, self.width)(x))
        f = fnn.relu(nn.GroupConv(C4, self.width, strides=2)(f))
        f = fnn.relu(nn.GroupConv(C4, self.width, kernel_size=7, padding="VALID")(f))
        return fnn.Dense(10)(nn.GroupPool()(f)[:, 0, 0])


class CNN(fnn.Module):
    """The same layers with plain convolutions (twice the channels)."""

    width: int = 12

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(fnn.Conv(self.width, (3, 3))(x))
        f = fnn.relu(fnn.Conv(self.width, (3, 3), strides=2)(f))
        f = fnn.relu(fnn.Conv(self.width, (7, 7), padding="VALID")(f))
        return fnn.Dense(10)(f[:, 0, 0])


class Restricted(fnn.Module):
    """C4 lift and stride-2 group conv, then C4 -> trivial (plain channels c*4 + g) and a plain 7x7 VALID conv."""

    width: int = 6

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(nn.LiftingConv(C4, self.width)(x))
        f = fnn.relu(nn.GroupConv(C4, self.width, strides=2)(f))
        f = nn.Restrict(C4, TRIVIAL)(f)[..., 0]  # (N, 7, 7, width * 4)
        f = fnn.relu(fnn.Conv(2 * self.width, (7, 7), padding="VALID")(f))
        return fnn.Dense(10)(f[:, 0, 0])


class Relaxed(fnn.Module):
    """The invariant model with relaxed lifting and group convolutions (2 kernels each)."""

    width: int = 6

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(nn.RelaxedLiftingConv(C4, self.width)(x))
        f = fnn.relu(nn.RelaxedGroupConv(C4, self.width, strides=2)(f))
        f = fnn.relu(nn.RelaxedGroupConv(C4, self.width, kernel_size=7, padding="VALID")(f))
        return fnn.Dense(10)(nn.GroupPool()(f)[:, 0, 0])


MODELS = {"C4-invariant": Invariant, "CNN": CNN, "C4 -> trivial": Restricted, "relaxed C4": Relaxed}


def load(n_train: int) -> tuple[np.ndarray, ...]:
    """Digits in [0, 1], upsampled 8x8 -> 12x12 (bilinear) and padded to 13x13; a fixed train/test split."""
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    images = jax.image.resize(jnp.asarray(data.images[order] / 16.0, jnp.float32), (len(order), 12, 12), "linear")
    x = np.pad(np.asarray(images), ((0, 0), (0, 1), (0, 1)))[..., None]
    y = data.target[order].astype(np.int32)
    return x[N_TEST:][:n_train], y[N_TEST:][:n_train], x[:N_TEST], y[:N_TEST]


def train(model: fnn.Module, x: np.ndarray, y: np.ndarray, seeds: int, epochs: int, penalty: float) -> Any:
    """Adam on cross-entropy (plus ``penalty * relaxed_penalty``), one run per seed: the parameters, stacked.

    One compiled run serves every seed (a vmap over seeds would batch the convolution kernels, which XLA:CPU
    runs as a slow grouped convolution).
    """
    steps = len(x) // BATCH
    opt = optax.adam(optax.cosine_decay_schedule(5e-3, epochs * steps))
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss(p, xb, yb):
        logits = model.apply({"params": p}, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean() + penalty * F.relaxed_penalty(p)

    def epoch(carry, key):
        def step(carry, index):
            p, s = carry
            grads = jax.grad(loss)(p, x[index], y[index])
            updates, s = opt.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), None

        order = jax.random.permutation(key, len(x))[: steps * BATCH].reshape(steps, BATCH)
        return jax.lax.scan(step, carry, order)[0], None

    @jax.jit
    def run(key):
        k_init, k_order = jax.random.split(key)
        p = model.init(k_init, x[:1])["params"]
        return jax.lax.scan(epoch, (p, opt.init(p)), jax.random.split(k_order, epochs))[0][0]

    runs = [run(jax.random.key(seed)) for seed in range(seeds)]
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *runs)


def evaluate(model: fnn.Module, params: Any, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy per seed upright, under rotations uniform in +-30 degrees (one fixed draw), at 90 degrees."""
    angles = jax.random.uniform(jax.random.key(3), (len(x),), minval=-math.pi / 6, maxval=math.pi / 6)
    inputs = {"upright": jnp.asarray(x), "rot30": jax.jit(jax.vmap(actions.rotate_image))(jnp.asarray(x), angles),
              "rot90": actions.on_image(C4, 1, jnp.asarray(x))}

    @jax.jit
    def accuracy(p, images):
        return jnp.mean(jnp.argmax(model.apply({"params": p}, images), -1) == jnp.asarray(y))

    seeds = jax.tree.leaves(params)[0].shape[0]
    return {name: np.array([float(accuracy(jax.tree.map(lambda leaf: leaf[i], params), images))
                            for i in range(seeds)]) for name, images in inputs.items()}


def lie_derivative(model: fnn.Module, params: Any, x: np.ndarray) -> float:
    """``||Lie derivative of the logits|| / ||logits||`` of the first seed's model on the first 100 test images."""
    first = jax.tree.map(lambda leaf: leaf[0], params)
    return float(symmetry.layer_lie_derivatives(model, jnp.asarray(x[:100]), variables={"params": first})["output"])


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    tests = ["upright", "rot30", "rot90"]
    for i, (name, r) in enumerate(results.items()):
        means = [r[t].mean() for t in tests]
        spreads = [r[t].std() for t in tests]
        ax.bar(np.arange(3) + 0.2 * i - 0.3, means, 0.2, yerr=spreads, label=name)
    ax.set_xticks(range(3), ["upright", "+-30 degrees", "90 degrees"])
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 8 epochs, 600 training digits")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--penalty", type=float, default=1e-2, help="weight of relaxed_penalty in the loss")
    parser.add_argument("--plot", default=None, help="save a bar plot here (needs matplotlib)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (2 if args.quick else 4)
    epochs = args.epochs or (8 if args.quick else 20)
    x_train, y_train, x_test, y_test = load(600 if args.quick else 1200)
    results = {}
    print(f"{seeds} seeds, {epochs} epochs, {len(x_train)} training digits {SIZE}x{SIZE}; "
          "test accuracy mean +- std over seeds")
    print(f"{'model':14s} {'params':>7s} {'upright':>13s} {'+-30 deg':>13s} {'90 deg':>13s} {'Lie deriv.':>10s}")
    for name, cls in MODELS.items():
        model = cls()
        params = train(model, x_train, y_train, seeds, epochs, args.penalty)
        r = evaluate(model, params, x_test, y_test)
        r["params"] = sum(leaf[0].size for leaf in jax.tree.leaves(params))
        r["lie"] = lie_derivative(model, params, x_test)
        results[name] = r
        cells = " ".join(f"{r[t].mean():.3f} +- {r[t].std():.3f}" for t in ("upright", "rot30", "rot90"))
        print(f"{name:14s} {r['params']:7d} {cells} {r['lie']:10.3f}")
    if args.plot:
        plot(results, args.plot)
        print(f"plot saved to {args.plot}")
    return results


if __name__ == "__main__":
    main()
