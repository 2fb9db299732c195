"""Controlled symmetry breaking on digits: a C4-invariant model, a CNN, a C4 model restricted to the trivial
group in its last layers, a relaxed C4 model (Wang, Walters and Yu 2022), and two steerable models with finer
rotations: a C8 model restricted to the trivial group and a C16-invariant model.

scikit-learn's 8x8 digits are upsampled to 12x12 and zero-padded to 13x13 (odd: quarter turns map the grid
onto itself). Every model is trained on upright digits, one run per seed, and tested upright,
under random rotations uniform in +-30 degrees (``actions.rotate_image``) and at 90 degrees. A fully
C4-invariant model cannot tell a 6 from a 9 rotated by 180 degrees; the CNN has no symmetry at all; the
restricted model (``nn.Restrict`` C4 -> trivial before its last convolution) and the relaxed model (the
invariant model with relaxed lifting and group convolutions, their coefficients pulled toward equal by
``--penalty`` times ``functional.relaxed_penalty``) sit in between. ``C8 -> trivial`` and ``C16-invariant`` are
the restricted and invariant designs with steerable C8 and C16 layers (approximately equivariant to 45 and 22.5
degrees; ``EquivarianceWarning`` is silenced for them). ``--models`` takes a comma-separated list among
``C4-invariant``, ``CNN``, ``C4 -> trivial``, ``relaxed C4``, ``C8 -> trivial``, ``C16-invariant``. The last
column is the local equivariance error of Gruver et al. (ICLR 2023): the mean over test images and classes of
``|d/dt softmax(f(rot_t x))|`` at ``t = 0`` (``symmetry.lie_derivative``).

    python examples/symmetry_breaking.py                # 3 seeds, 20 epochs, 1200 digits, 6 models (the docs' table)
    python examples/symmetry_breaking.py --quick        # 2 seeds, 3 epochs, 600 digits
    python examples/symmetry_breaking.py --models "CNN,C16-invariant"   # the steerable C16 model (minutes)
    python examples/symmetry_breaking.py --quick --seeds 1 --models "C4-invariant,C4 -> trivial"  # the test's run
    python examples/symmetry_breaking.py --plot out.png
    python examples/symmetry_breaking.py --json FILE      # the values per seed (benchmarks/results/: the docs' records)
    python examples/symmetry_breaking.py --models "relaxed C4" --penalty 0.1  # the penalty controls the breaking
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
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
from symjax.geometry import EquivarianceWarning

C4 = groups.cyclic(4)
SIZE, N_TEST, BATCH, LR = 13, 597, 25, 5e-3
TESTS = ("upright", "rot30", "rot90", "lie")


class Invariant(fnn.Module):
    """G-invariant: lift, a stride-2 group conv (13x13 -> 7x7), a 7x7 VALID group conv to 1x1, pool over the group.

    C4 (the default) is exact on the pixel grid. C8 and C16 use the steerable kernels of their layers (exact at
    multiples of 90 degrees, approximate in between); a 3x3 steerable kernel has 6 basis functions only, too coarse to
    tell 22.5 degrees apart, so the steerable models lift with ``lift_kernel=5``. ``last`` fields in the last layer
    (default ``width``): the invariant features that the dense head sees.
    """

    width: int = 6
    group: groups.FiniteGroup = C4
    lift_kernel: int = 3
    last: int | None = None
    pool: str = "mean"

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(nn.LiftingConv(self.group, self.width, kernel_size=self.lift_kernel)(x))
        f = fnn.relu(nn.GroupConv(self.group, self.width, strides=2)(f))
        f = fnn.relu(nn.GroupConv(self.group, self.last or self.width, kernel_size=7, padding="VALID")(f))
        return fnn.Dense(10)(nn.GroupPool(self.pool)(f)[:, 0, 0])


class CNN(fnn.Module):
    """The same layers with plain convolutions (twice the channels: about the parameters of the C4 models)."""

    width: int = 12

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(fnn.Conv(self.width, (3, 3))(x))
        f = fnn.relu(fnn.Conv(self.width, (3, 3), strides=2)(f))
        f = fnn.relu(fnn.Conv(self.width, (7, 7), padding="VALID")(f))
        return fnn.Dense(10)(f[:, 0, 0])


class Restricted(fnn.Module):
    """G lift and stride-2 group conv, then G -> trivial (plain channels c*|G| + g) and the CNN's 7x7 VALID conv."""

    width: int = 6
    group: groups.FiniteGroup = C4
    lift_kernel: int = 3

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(nn.LiftingConv(self.group, self.width, kernel_size=self.lift_kernel)(x))
        f = fnn.relu(nn.GroupConv(self.group, self.width, strides=2)(f))
        f = nn.Restrict(self.group, self.group.subgroup([0]))(f)[..., 0]  # (N, 7, 7, width * |G|)
        f = fnn.relu(fnn.Conv(12, (7, 7), padding="VALID")(f))
        return fnn.Dense(10)(f[:, 0, 0])


class Relaxed(fnn.Module):
    """The invariant model with relaxed lifting and group convolutions in every layer (2 kernels each).

    As in Wang et al., every layer is relaxed: with equal coefficients (the initialisation) this is exactly
    :class:`Invariant`, and each layer's coefficients can move apart. Both pool with the mean over the group: a
    max passes the gradient to the winning group element only, and with it the coefficients moved less in
    training and the model broke C4 less (90-degree accuracy closer to the upright one, 2 seeds).
    """

    width: int = 6

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(nn.RelaxedLiftingConv(C4, self.width)(x))
        f = fnn.relu(nn.RelaxedGroupConv(C4, self.width, strides=2)(f))
        f = fnn.relu(nn.RelaxedGroupConv(C4, self.width, kernel_size=7, padding="VALID")(f))
        return fnn.Dense(10)(nn.GroupPool("mean")(f)[:, 0, 0])


MODELS = {"C4-invariant": Invariant(), "CNN": CNN(), "C4 -> trivial": Restricted(), "relaxed C4": Relaxed(),
          # steerable (C8: 45 degrees, C16: 22.5 degrees), widths for about the parameters of their C4 counterparts
          "C8 -> trivial": Restricted(3, groups.cyclic(8), lift_kernel=5),
          "C16-invariant": Invariant(4, groups.cyclic(16), lift_kernel=5, last=6, pool="max")}


def load(n_train: int) -> tuple[np.ndarray, ...]:
    """``(x_train, y_train, x_test, y_test, tests)``: digits in [0, 1], upsampled 8x8 -> 12x12 (bilinear) and padded
    to 13x13, a fixed train/test split; ``tests`` is the test set upright, under rotations uniform in +-30 degrees
    (one fixed draw) and at 90 degrees, ``(3 * N_TEST, 13, 13, 1)``."""
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    images = jax.image.resize(jnp.asarray(data.images[order] / 16.0, jnp.float32), (len(order), 12, 12), "linear")
    x = np.pad(np.asarray(images), ((0, 0), (0, 1), (0, 1)))[..., None]
    y = data.target[order].astype(np.int32)
    x_test = jnp.asarray(x[:N_TEST])
    angles = np.random.default_rng(3).uniform(-math.pi / 6, math.pi / 6, N_TEST).astype(np.float32)
    tests = [x_test, jax.jit(jax.vmap(actions.rotate_image))(x_test, angles), actions.on_image(C4, 1, x_test)]
    return x[N_TEST:][:n_train], y[N_TEST:][:n_train], x[:N_TEST], y[:N_TEST], np.concatenate(tests)


def run(model: fnn.Module, data: tuple, seeds: int, epochs: int, penalty: float) -> tuple[dict, Any]:
    """Train one model per seed on upright digits and measure it: ``({test: values per seed}, first seed's params)``.

    Adam (cosine decay from ``LR``) on cross-entropy plus ``penalty * relaxed_penalty``. The measures are the
    accuracy upright, under +-30 degrees and at 90 degrees, and the local equivariance error of Gruver et al.,
    ``mean |d/dt softmax(f(rot_t x))|`` over the test images and classes (``symmetry.lie_derivative``).
    Initialisation, training and measures are one compiled function for every seed (XLA's compile time is
    most of a short run); the data order comes from NumPy, the initialisation from ``rbg`` keys (fast to compile).
    """
    x_train, y_train, x_test, y_test, images = (jnp.asarray(a) for a in data)
    labels = jnp.tile(y_test, 3)
    steps = len(x_train) // BATCH
    opt = optax.adam(optax.cosine_decay_schedule(LR, epochs * steps))

    def loss(p, index):
        logits = model.apply({"params": p}, x_train[index])
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y_train[index]).mean()
        return ce + penalty * F.relaxed_penalty(p)

    def step(carry, index):
        p, s = carry
        updates, s = opt.update(jax.grad(loss)(p, index), s, p)
        return (optax.apply_updates(p, updates), s), None

    @jax.jit
    def train_and_measure(key, order):
        p = model.init(key, x_train[:1])["params"]
        p = jax.lax.scan(step, (p, opt.init(p)), order)[0][0]
        probabilities = lambda x: jax.nn.softmax(model.apply({"params": p}, x))
        correct = (jnp.argmax(model.apply({"params": p}, images), -1) == labels).reshape(3, -1)
        return jnp.append(correct.mean(1), jnp.mean(jnp.abs(symmetry.lie_derivative(probabilities, x_test)))), p

    values, first = [], None
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        order = np.concatenate([rng.permutation(len(x_train))[: steps * BATCH] for _ in range(epochs)])
        measured, params = train_and_measure(jax.random.key(seed, impl="rbg"), order.reshape(-1, BATCH))
        values.append(np.asarray(measured))
        first = params if first is None else first
    return dict(zip(TESTS, np.array(values).T)), first


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    tests = ["upright", "rot30", "rot90"]
    width = 0.8 / len(results)
    for i, (name, r) in enumerate(results.items()):
        means = [r[t].mean() for t in tests]
        spreads = [r[t].std() for t in tests]
        ax.bar(np.arange(3) + width * (i + 0.5) - 0.4, means, width, yerr=spreads, label=name)
    ax.set_xticks(range(3), ["upright", "+-30 degrees", "90 degrees"])
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 3 epochs, 600 training digits")
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--train", type=int, default=None, help="training digits (at most 1200)")
    parser.add_argument("--penalty", type=float, default=1e-3, help="weight of relaxed_penalty in the loss")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated names among " + ", ".join(MODELS))
    parser.add_argument("--plot", default=None, help="save a bar plot here (needs matplotlib)")
    parser.add_argument("--json", default=None, metavar="FILE",
                        help="write the settings and every model's values per seed here (the docs' records)")
    args = parser.parse_args(argv)
    seeds = args.seeds or (2 if args.quick else 3)
    epochs = args.epochs or (3 if args.quick else 20)
    names = [name.strip() for name in args.models.split(",")]
    unknown = [name for name in names if name not in MODELS]
    if unknown:
        parser.error(f"--models expects names among {list(MODELS)}, got {unknown}")
    data = load(args.train or (600 if args.quick else 1200))
    print(f"{seeds} seeds, {epochs} epochs, {len(data[0])} training digits {SIZE}x{SIZE}; "
          "mean +- std over seeds of the test accuracy and of the local equivariance error (Lie derivative)")
    print(f"{'model':14s} {'params':>6s} {'upright':>13s} {'+-30 deg':>13s} {'90 deg':>13s} {'Lie derivative':>15s}")
    results = {}
    for name in names:
        model = MODELS[name]
        start = time.perf_counter()
        with warnings.catch_warnings():  # C8 and C16 are approximate off the grid: what the experiment measures
            warnings.simplefilter("ignore", EquivarianceWarning)
            r, params = run(model, data, seeds, epochs, args.penalty)
        r["params"] = sum(leaf.size for leaf in jax.tree.leaves(params))
        results[name] = r
        cells = " ".join(f"{r[t].mean():.3f} +- {r[t].std():.3f}" for t in TESTS)
        print(f"{name:14s} {r['params']:6d} {cells}   ({time.perf_counter() - start:.0f} s)", flush=True)
    if args.plot:
        plot(results, args.plot)
        print(f"plot saved to {args.plot}")
    if args.json:
        record = {"settings": {"seeds": seeds, "epochs": epochs, "train": len(data[0]), "penalty": args.penalty},
                  "models": {name: {"params": int(r["params"]), **{t: np.asarray(r[t]).tolist() for t in TESTS}}
                             for name, r in results.items()}}
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
        print(f"values saved to {args.json}")
    return results


if __name__ == "__main__":
    main()
