"""The ``symjax demo`` experiments: a p4 G-CNN against a plain CNN on rotated digits, and symmetry removal.

Part 1 trains a p4 (C4) G-CNN and a plain CNN with a matched parameter count
on upright scikit-learn digits (8x8, zero-padded to 9x9 so that rotations by
90 degrees are exact pixel permutations) and tests them on the test set
rotated by 0, 90, 180 and 270 degrees. The G-CNN is invariant by
construction: its accuracy is the same at every rotation and its measured
invariance error is float rounding.

Part 2 reproduces the experiments of symmetry removal (syre; Ziyin et al.,
ICLR 2025), each trained twice with the same weight decay: without syre
(``Syre(..., scale=0)``: zero offsets, plain L2 decay) and with it:

1. identical neurons: a two-layer ReLU student whose hidden neurons start
   identical stays collapsed forever without syre; with syre they separate;
2. low rank: a two-layer linear net fitted to a full-rank target loses its
   small singular directions to weight decay; syre keeps them;
3. a tanh MLP on digits: the numerical rank of the last hidden representation
   falls as weight decay grows; with syre (offset scale 0.1, inside the range
   the paper reports harmless) it stays higher at the same accuracy. The
   2 x len(weight_decays) runs train at once under one ``jax.vmap`` of the
   functional form (``remove_symmetry``, ``apply``, ``penalty``). NC1 (neural
   collapse) of the same features is reported alongside.

All randomness comes from explicit keys: a run is reproducible.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from rich.console import Console
from rich.table import Table

from symjax import actions, groups, symmetry
from symjax import nn as snn
from symjax.train import Trainer

__all__ = ["DemoSettings", "PRESETS", "run_demo"]


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """How long each part of the demo trains.

    Attributes:
      cnn_epochs: epochs of the G-CNN and the CNN on digits.
      augmented_cnn: also train the CNN with random rotations (C4 augmentation).
      restricted_gcnn: also train the G-CNN restricted to the trivial group before its last
        convolution (controlled symmetry breaking, docs/symmetry_breaking.md).
      width: G-CNN channels per group element; the CNN gets twice as many.
      neuron_steps: full-batch steps of the identical-neurons experiment.
      rank_steps: full-batch steps of the low-rank experiment.
      mlp_epochs: epochs of the MLP weight-decay sweep.
      weight_decays: the sweep's weight decays.
      syre_scale: the offset scale of syre in the sweep (relative to a LeCun init).
    """

    cnn_epochs: int
    augmented_cnn: bool
    width: int
    neuron_steps: int
    rank_steps: int
    mlp_epochs: int
    weight_decays: tuple[float, ...]
    syre_scale: float = 0.01
    restricted_gcnn: bool = False


PRESETS = {
    "full": DemoSettings(30, True, 8, 3000, 3000, 60, (1e-3, 1e-2, 3e-2, 6e-2, 1e-1), 0.1, restricted_gcnn=True),
    "quick": DemoSettings(10, False, 8, 1000, 1500, 25, (1e-3, 3e-2, 1e-1), 0.1),
    "smoke": DemoSettings(1, False, 4, 20, 20, 1, (1e-2,), 0.1),
}

C4 = groups.cyclic(4)
_ROTATIONS = (0, 90, 180, 270)
_BATCH = 100
_FEATURE_RTOL = 1e-3


def _digits(key: jax.Array) -> tuple[np.ndarray, ...]:
    """scikit-learn's bundled digits as ``(x_train, y_train, x_test, y_test)``, images ``(n, 9, 9, 1)`` in [0, 1]."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise ImportError("symjax demo needs scikit-learn (its bundled digits): "
                          "pip install 'symjax[demo]'") from err

    data = load_digits()
    order = np.asarray(jax.random.permutation(key, len(data.target)))
    images = np.pad(data.images[order] / 16.0, ((0, 0), (0, 1), (0, 1)))[..., None].astype(np.float32)
    labels = data.target[order].astype(np.int32)
    n_test = 592  # a multiple of 8 (any device count up to 8 splits it)
    return images[n_test:][:1200], labels[n_test:][:1200], images[:n_test], labels[:n_test]


def _cross_entropy(logits: jax.Array, batch: dict) -> tuple[jax.Array, dict]:
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}


def _batches(x: np.ndarray, y: np.ndarray, key: jax.Array, augment: bool = False):
    """``epoch -> list of batches``, reshuffled per epoch from ``key`` (optionally randomly rotated)."""

    def batches(epoch: int) -> list[dict]:
        k_order, k_augment = jax.random.split(jax.random.fold_in(key, epoch))
        order = np.asarray(jax.random.permutation(k_order, len(x)))
        xs, ys = x[order], y[order]
        if augment:
            xs = np.asarray(actions.augment(k_augment, jnp.asarray(xs), C4))
        return [{"x": xs[i:i + _BATCH], "y": ys[i:i + _BATCH]} for i in range(0, len(x) - _BATCH + 1, _BATCH)]

    return batches


def _p4_layers(x: jax.Array, width: int) -> jax.Array:
    """The G-CNN's first three layers (lift, a 3x3 group conv, a stride-2 one: 9x9 -> 5x5), inside the caller's
    ``nn.compact`` method (the submodules are the caller's: ``LiftingConv_0``, ``GroupConv_0``, ``GroupConv_1``)."""
    f = nn.relu(snn.LiftingConv(C4, width)(x))
    f = nn.relu(snn.GroupConv(C4, width)(f))
    return nn.relu(snn.GroupConv(C4, width, strides=2)(f))


class GCNN(nn.Module):
    """p4 G-CNN: lift, two 3x3 group convs (the second with stride 2: 9x9 -> 5x5), a 5x5 VALID group conv
    to 1x1, max over the group, a dense head."""

    width: int = 8

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        f = _p4_layers(x, self.width)
        f = nn.relu(snn.GroupConv(C4, self.width, kernel_size=(5, 5), padding="VALID")(f))
        return nn.Dense(10)(snn.GroupPool("max")(f)[:, 0, 0])


class RestrictedGCNN(nn.Module):
    """The G-CNN's first three layers, then C4 restricted to the trivial group (plain channels ``c * 4 + g``,
    ``nn.Restrict``) and a plain 5x5 VALID convolution with the CNN's width: equivariant features under a head that
    tells orientations apart (a 6 from a 9 rotated by 180 degrees), so no longer invariant."""

    width: int = 8

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        f = snn.Restrict(C4, C4.subgroup([0]))(_p4_layers(x, self.width))[..., 0]  # (N, 5, 5, width * 4)
        f = nn.relu(nn.Conv(2 * self.width, (5, 5), padding="VALID")(f))
        return nn.Dense(10)(f[:, 0, 0])


class CNN(nn.Module):
    """The same architecture with plain convolutions."""

    width: int = 16

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.relu(nn.Conv(self.width, (3, 3))(x))
        x = nn.relu(nn.Conv(self.width, (3, 3))(x))
        x = nn.relu(nn.Conv(self.width, (3, 3), strides=2)(x))
        x = nn.relu(nn.Conv(self.width, (5, 5), padding="VALID")(x))
        return nn.Dense(10)(x[:, 0, 0])


def _rotated_digits(settings: DemoSettings, key: jax.Array) -> dict[str, Any]:
    """Part 1: every model gets the same init key and the same data order."""
    k_data, k_init, k_order = jax.random.split(key, 3)
    x_train, y_train, x_test, y_test = _digits(k_data)
    models = {"p4 G-CNN": (GCNN(settings.width), False), "CNN": (CNN(2 * settings.width), False)}
    if settings.augmented_cnn:
        models["CNN + C4 aug."] = (CNN(2 * settings.width), True)
    if settings.restricted_gcnn:
        models["p4 -> trivial"] = (RestrictedGCNN(settings.width), False)
    results = {}
    for name, (model, augment) in models.items():
        trainer = Trainer(model, optax.adam(1e-2), _cross_entropy)
        batches = _batches(x_train, y_train, k_order, augment=augment)
        state = trainer.init(k_init, batches(0)[0])
        state, history = trainer.fit(state, batches, epochs=settings.cnn_epochs, progress=False)
        # one call on the whole orbit of the test set: logits (4, n_test, 10)
        orbit = actions.orbit(C4, jnp.asarray(x_test), actions.on_image)
        logits = trainer.predict(state, orbit.reshape(-1, *x_test.shape[1:])).reshape(4, len(x_test), -1)
        accuracy = jnp.mean(jnp.argmax(logits, -1) == y_test, axis=1)
        # max_g max|f(g x) - f(x)| / max|f(x)|, on the model's pure apply (the measure vmaps over elements)
        variables = {"params": trainer.effective_params(state), **state.model_state}
        error = symmetry.equivariance_error(lambda x: model.apply(variables, x), C4, jnp.asarray(x_test),
                                            actions.on_image, None)
        times = [h["time"] for h in history]
        results[name] = {
            "params": int(sum(leaf.size for leaf in jax.tree.leaves(state.params))),
            "train_time": float(sum(times)),
            "epoch_time": float(np.median(times[1:])) if len(times) > 1 else float(times[0]),
            "accuracy": [float(a) for a in accuracy],
            "invariance_error": float(error),
        }
    return results


def _identical_columns(init):
    """A kernel initializer whose output columns (the hidden neurons' incoming weights) are all equal."""

    def tiled(key, shape, dtype=jnp.float32):
        return jnp.tile(init(key, (*shape[:-1], 1), dtype), (1,) * (len(shape) - 1) + (shape[-1],))

    return tiled


def _identical_rows(init):
    """A kernel initializer whose rows (the hidden neurons' outgoing weights) are all equal."""

    def tiled(key, shape, dtype=jnp.float32):
        return jnp.tile(init(key, (1, *shape[1:]), dtype), (shape[0],) + (1,) * (len(shape) - 1))

    return tiled


def _mse(out: jax.Array, batch: dict) -> jax.Array:
    return 0.5 * jnp.mean(jnp.sum((out - batch["y"]) ** 2, axis=-1))


def _run_steps(trainer: Trainer, state, batch: dict, steps: int, record) -> tuple[Any, list]:
    """Full-batch steps; ``record(state, loss)`` at about 50 evenly spaced steps (the loss at that state)."""
    every = max(steps // 50, 1)
    log = []
    for step in range(steps + 1):
        new_state, metrics = trainer.step(state, batch)
        if step % every == 0 or step == steps:
            log.append((step, record(state, float(metrics["loss"]))))
        if step < steps:
            state = new_state
    return state, log


def _paired_runs(model: nn.Module, optimizer, weight_decay: float, key: jax.Array, batch: dict, steps: int,
                 record) -> tuple[Trainer, dict[str, tuple[Any, list]]]:
    """Train ``model`` twice from the same init with the same weight decay: without syre and with it.

    "Without" is ``Syre(weight_decay, key, scale=0)``: zero offsets, plain L2
    decay. The offsets live in the state, so one trainer (one compiled step)
    serves both runs.
    """
    k_init, k_syre = jax.random.split(key)
    trainer = Trainer(model, optimizer, _mse, symmetry_removal=symmetry.Syre(weight_decay, k_syre))
    with_syre = trainer.init(k_init, batch)
    no_offsets = symmetry.Syre(weight_decay, k_syre, scale=0.0).init(with_syre.params)
    without = with_syre.replace(removal=jax.device_put(no_offsets, trainer.state_sharding))
    runs = {
        name: _run_steps(trainer, state, batch, steps, lambda st, loss: record(trainer, st, loss))
        for name, state in (("without syre", without), ("with syre", with_syre))
    }
    return trainer, runs


@jax.jit
def _neuron_measures(w_in: jax.Array, w_out: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The largest distance of a hidden neuron to neuron 0, and the number of distinct neurons (atol 1e-3)."""
    others = jnp.arange(w_in.shape[1])
    spread = jnp.max(jax.vmap(lambda j: symmetry.neuron_distance(w_in, w_out, 0, j))(others))
    return spread, symmetry.neuron_collapse(w_in, w_out, atol=1e-3)


def _identical_neurons(settings: DemoSettings, key: jax.Array) -> dict[str, Any]:
    """Experiment 1: a student whose 8 hidden ReLU neurons start identical, fitting a 6-neuron teacher.

    The teacher's output weights are positive, so that one student neuron alone fits it only partly.
    """
    k_x, k_t1, k_t2, k_runs = jax.random.split(key, 4)
    d_in, teacher_width, width = 8, 6, 8
    x = jax.random.normal(k_x, (256, d_in))
    w1 = jax.random.normal(k_t1, (d_in, teacher_width)) / np.sqrt(d_in)
    y = jax.nn.relu(x @ w1) @ jnp.abs(jax.random.normal(k_t2, (teacher_width, 1)))
    batch = {"x": np.asarray(x), "y": np.asarray(y)}
    lecun = nn.initializers.lecun_normal()
    model = nn.Sequential([
        nn.Dense(width, use_bias=False, kernel_init=_identical_columns(lecun)),
        nn.relu,
        nn.Dense(1, use_bias=False, kernel_init=_identical_rows(lecun)),
    ])

    def record(trainer, state, loss):
        params = trainer.effective_params(state)
        spread, count = _neuron_measures(params["layers_0"]["kernel"], params["layers_2"]["kernel"])
        return loss, float(spread), int(count)

    _, runs = _paired_runs(model, optax.sgd(0.05, momentum=0.9), 1e-3, k_runs, batch, settings.neuron_steps, record)
    return {
        name: {
            "steps": [step for step, _ in log],
            "loss": [loss for _, (loss, _, _) in log],
            "neuron_spread": [spread for _, (_, spread, _) in log],
            "distinct_neurons": [count for _, (_, _, count) in log],
        }
        for name, (_, log) in runs.items()
    }


_rank = jax.jit(symmetry.numerical_rank)


def _low_rank(settings: DemoSettings, key: jax.Array) -> dict[str, Any]:
    """Experiment 2: ``W2 W1`` (10 x 10) fitted to a full-rank target with singular values 1 ... 0.01."""
    k_u, k_v, k_x, k_runs = jax.random.split(key, 4)
    d, weight_decay = 10, 0.05
    u, _ = jnp.linalg.qr(jax.random.normal(k_u, (d, d)))
    v, _ = jnp.linalg.qr(jax.random.normal(k_v, (d, d)))
    target_sv = np.geomspace(1.0, 0.01, d)
    target = (u * target_sv) @ v.T
    x = jax.random.normal(k_x, (256, d))
    batch = {"x": np.asarray(x), "y": np.asarray(x @ target.T)}
    model = nn.Sequential([nn.Dense(d, use_bias=False), nn.Dense(d, use_bias=False)])

    def record(trainer, state, loss):
        return int(_rank(trainer.effective_params(state)["layers_0"]["kernel"])), loss

    trainer, runs = _paired_runs(
        model, optax.sgd(0.2, momentum=0.9), weight_decay, k_runs, batch, settings.rank_steps, record
    )
    results = {"target_singular_values": target_sv.tolist(), "weight_decay": weight_decay}
    for name, (state, log) in runs.items():
        params = trainer.effective_params(state)
        w1, w2 = params["layers_0"]["kernel"], params["layers_1"]["kernel"]
        results[name] = {
            "steps": [step for step, _ in log],
            "rank_w1": [r for _, (r, _) in log],
            "rank_product": int(symmetry.numerical_rank(w1 @ w2)),
            "singular_values_w1": np.linalg.svd(np.asarray(w1), compute_uv=False).tolist(),
            "loss": log[-1][1][1],
        }
    return results


class _MLP(nn.Module):
    """A tanh MLP (no dead units, so a rank drop is weight decay's doing) with a ``features`` method."""

    width: int = 64

    def setup(self):
        self.hidden1 = nn.Dense(self.width)
        self.hidden2 = nn.Dense(self.width)
        self.head = nn.Dense(10)

    def features(self, x: jax.Array) -> jax.Array:
        return nn.tanh(self.hidden2(nn.tanh(self.hidden1(x))))

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.head(self.features(x))


def _mlp_rank(settings: DemoSettings, key: jax.Array) -> dict[str, Any]:
    """Experiment 3: rank of the last hidden layer of an MLP on digits vs weight decay, with and without syre."""
    k_data, k_init, k_syre, k_order = jax.random.split(key, 4)
    x_train, y_train, x_test, y_test = (jnp.asarray(a) for a in _digits(k_data))
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    model = _MLP()
    theta_init = model.init(k_init, x_train[:1])["params"]
    decays = jnp.asarray(settings.weight_decays, jnp.float32)
    n = len(settings.weight_decays)
    # the same init and data order for every run; only theta0 (zero or random) and the decay differ
    removals = [symmetry.remove_symmetry(k_syre, theta_init, scale=scale) for scale in (0.0, settings.syre_scale)]
    stacked = jax.tree.map(lambda a, b: jnp.stack([a] * n + [b] * n), *removals)
    steps_per_epoch = len(x_train) // _BATCH
    order = jax.vmap(lambda k: jax.random.permutation(k, len(x_train)))(
        jax.random.split(k_order, settings.mlp_epochs)
    )[:, : steps_per_epoch * _BATCH].reshape(-1, _BATCH)
    optimizer = optax.sgd(0.1, momentum=0.9)

    def train(removal, weight_decay):
        def loss(theta, index):
            logits = model.apply({"params": removal.apply(theta)}, x_train[index])
            data = optax.softmax_cross_entropy_with_integer_labels(logits, y_train[index]).mean()
            return data + removal.penalty(theta, weight_decay)

        def step(carry, index):
            theta, opt_state = carry
            updates, opt_state = optimizer.update(jax.grad(loss)(theta, index), opt_state, theta)
            return (optax.apply_updates(theta, updates), opt_state), None

        (theta, _), _ = jax.lax.scan(step, (theta_init, optimizer.init(theta_init)), order)
        variables = {"params": removal.apply(theta)}
        accuracy = jnp.mean(jnp.argmax(model.apply(variables, x_test), -1) == y_test)
        features = model.apply(variables, x_train, method=_MLP.features)
        return features, accuracy

    features, accuracy = jax.jit(jax.vmap(train))(stacked, jnp.concatenate([decays, decays]))
    ranks = [int(symmetry.numerical_rank(f, rtol=_FEATURE_RTOL)) for f in features]
    nc1 = [float(symmetry.neural_collapse(f, y_train, num_classes=10)) for f in features]
    results = {"weight_decay": list(settings.weight_decays), "width": model.width, "syre_scale": settings.syre_scale}
    for i, name in enumerate(("without syre", "with syre")):
        part = slice(i * n, (i + 1) * n)
        results[name] = {
            "rank": ranks[part],
            "test_accuracy": [float(a) for a in accuracy[part]],
            "nc1": nc1[part],
        }
    return results


def _plot_digits(results: dict, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / len(results)
    for i, (name, r) in enumerate(results.items()):
        ax.bar(np.arange(4) + i * width, r["accuracy"], width, label=f"{name} ({r['params']} params)")
    ax.set_xticks(np.arange(4) + 0.4 - width / 2, [f"{d} deg" for d in _ROTATIONS])
    ax.set_ylabel("test accuracy")
    columns = min(len(results), 2)  # the legend in rows of two above the bars
    ax.set_ylim(0, 1.0 + 0.15 * -(-len(results) // columns))
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_title("digits: trained upright, tested rotated")
    ax.legend(fontsize=8, loc="upper center", ncol=columns)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _plot_syre(neurons: dict, rank: dict, mlp: dict, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 4)
    for name, r in neurons.items():
        axes[0].semilogy(r["steps"], r["loss"], label=name)
        axes[1].plot(r["steps"], r["neuron_spread"], label=name)
    axes[0].set(title="1. identical neurons: loss", xlabel="step")
    axes[1].set(title="1. max distance to neuron 0", xlabel="step")
    steps = np.arange(len(rank["target_singular_values"]))
    axes[2].semilogy(steps, rank["target_singular_values"], "k:", label="target")
    for name in ("without syre", "with syre"):
        axes[2].semilogy(steps, np.maximum(rank[name]["singular_values_w1"], 1e-12), "o-", label=name)
    axes[2].set(title="2. singular values of W1", xlabel="index")
    for name in ("without syre", "with syre"):
        axes[3].semilogx(mlp["weight_decay"], mlp[name]["rank"], "o-", label=name)
    axes[3].set(title="3. rank of last hidden layer", xlabel="weight decay", ylim=(0, mlp["width"] + 2))
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _digits_table(results: dict) -> Table:
    table = Table(title="p4 G-CNN vs CNN on digits: trained upright, test accuracy rotated")
    for column in ("model", "params", "train s", "s/epoch", *(f"{d}°" for d in _ROTATIONS), "inv. error"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for name, r in results.items():
        table.add_row(
            name, str(r["params"]), f"{r['train_time']:.1f}", f"{r['epoch_time']:.3f}",
            *(f"{a:.3f}" for a in r["accuracy"]), f"{r['invariance_error']:.1e}",
        )
    return table


def _syre_tables(neurons: dict, rank: dict, mlp: dict) -> list[Table]:
    t1 = Table(title="1. identical neurons (8 student neurons start identical; teacher has 6)")
    for column in ("", "final loss", "max neuron distance", "distinct neurons (atol 1e-3)"):
        t1.add_column(column, justify="right")
    for name, r in neurons.items():
        t1.add_row(name, f"{r['loss'][-1]:.2e}", f"{r['neuron_spread'][-1]:.3f}", str(r["distinct_neurons"][-1]))
    t2 = Table(title="2. low rank: W2 W1 (10 x 10), target singular values 1 ... 0.01, "
                     f"weight decay {rank['weight_decay']}")
    for column in ("", "final loss", "rank W1", "rank W2 W1", "smallest singular value of W1"):
        t2.add_column(column, justify="right")
    for name in ("without syre", "with syre"):
        r = rank[name]
        t2.add_row(name, f"{r['loss']:.2e}", str(r["rank_w1"][-1]), str(r["rank_product"]),
                   f"{min(r['singular_values_w1']):.1e}")
    t3 = Table(title=f"3. tanh MLP on digits: last hidden layer (width {mlp['width']}), syre scale {mlp['syre_scale']}")
    for column in ("weight decay", "rank", "rank (syre)", "test acc", "test acc (syre)", "NC1", "NC1 (syre)"):
        t3.add_column(column, justify="right")
    plain, syre = mlp["without syre"], mlp["with syre"]
    for i, wd in enumerate(mlp["weight_decay"]):
        t3.add_row(
            f"{wd:g}", str(plain["rank"][i]), str(syre["rank"][i]), f"{plain['test_accuracy'][i]:.3f}",
            f"{syre['test_accuracy'][i]:.3f}", f"{plain['nc1'][i]:.3f}", f"{syre['nc1'][i]:.3f}",
        )
    return [t1, t2, t3]


def run_demo(
    quick: bool = False,
    out: str = "demo_out",
    *,
    preset: str | None = None,
    console: Console | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Run the demo: print tables, write PNG plots into ``out``, return the key numbers.

    Args:
      quick: the short run (``preset="quick"``, under 2 minutes on 2 CPU cores)
        instead of the full one (under 10 minutes).
      out: folder for the plots (created if needed).
      preset: ``"full"``, ``"quick"`` or ``"smoke"`` (a seconds-long check);
        overrides ``quick``.
      console: a ``rich`` console to print to (default: a new one on stdout).
      seed: seed of every key of the demo.

    Returns:
      ``{"settings", "digits", "identical_neurons", "low_rank", "mlp_rank",
      "plots", "part_times", "time"}``: ``digits`` maps each model to its ``params``,
      ``train_time``, ``epoch_time``, ``accuracy`` (at 0, 90, 180, 270 degrees)
      and ``invariance_error``; the syre parts hold the curves and final
      measures of both runs (``"without syre"``, ``"with syre"``).

    ``run_demo(quick=True)`` is ``symjax demo --quick``; the presets are:

    >>> sorted(PRESETS), PRESETS["quick"].cnn_epochs, PRESETS["full"].augmented_cnn
    (['full', 'quick', 'smoke'], 10, True)
    """
    if preset is None:
        preset = "quick" if quick else "full"
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder path, got {type(out).__name__}")
    settings = PRESETS[preset]
    console = console or Console()
    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    k_digits, k_neurons, k_rank, k_mlp = jax.random.split(jax.random.key(seed), 4)

    console.print(f"[bold]symjax demo[/bold] ({preset}; devices: {jax.device_count()} x {jax.devices()[0].platform})")
    part_times = {}

    def timed(name, fn, *args):
        tic = time.perf_counter()
        result = fn(*args)
        part_times[name] = time.perf_counter() - tic
        return result

    with console.status("training the p4 G-CNN and the CNN on upright digits..."):
        digits = timed("digits", _rotated_digits, settings, k_digits)
    console.print(_digits_table(digits))
    console.print(
        "The G-CNN is invariant to 90-degree rotations by construction (same accuracy at every angle, "
        "invariance error at float rounding); the CNN only knows the orientation it was trained on."
    )
    if settings.restricted_gcnn:
        console.print(
            "p4 -> trivial keeps the G-CNN's equivariant layers and restricts C4 to the trivial group before its last "
            "convolution: its head can tell a 6 from a 9 rotated by 180 degrees, so it is no longer invariant (one "
            "seed here; the trade-off over seeds and rotations in between: docs/symmetry_breaking.md)."
        )
    with console.status("symmetry removal: identical neurons, low rank, MLP rank vs weight decay..."):
        neurons = timed("identical_neurons", _identical_neurons, settings, k_neurons)
        rank = timed("low_rank", _low_rank, settings, k_rank)
        mlp = timed("mlp_rank", _mlp_rank, settings, k_mlp)
    for table in _syre_tables(neurons, rank, mlp):
        console.print(table)
    console.print(
        "Same weight decay in every pair of runs; syre only adds a fixed random offset theta0 "
        "(scale 0.01 of an init in 1 and 2, 0.1 in 3), which breaks the permutation and rotation symmetries "
        "that weight decay otherwise collapses."
    )
    plots = [os.path.join(out, "digits_rotations.png"), os.path.join(out, "syre_experiments.png")]
    _plot_digits(digits, plots[0])
    _plot_syre(neurons, rank, mlp, plots[1])
    elapsed = time.perf_counter() - start
    console.print(f"plots: {', '.join(os.path.abspath(p) for p in plots)}")
    console.print(f"demo time: {elapsed:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in part_times.items()) + ")")
    return {
        "settings": dataclasses.asdict(settings),
        "digits": digits,
        "identical_neurons": neurons,
        "low_rank": rank,
        "mlp_rank": mlp,
        "plots": plots,
        "part_times": part_times,
        "time": elapsed,
    }
