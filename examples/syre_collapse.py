"""Symmetry removal in one screen: weight decay collapses a hidden layer, syre does not.

A two-hidden-layer tanh MLP is trained on scikit-learn digits with SGD and
strong weight decay, once with ``optax.add_decayed_weights`` and once with
``symjax.optim.syre`` (the same decay, pulled toward a fixed random anchor
``theta0`` instead of zero), each chained with ``optax.sgd``.
``symjax.train.symmetry_metrics`` tracks, after every epoch, the numerical
rank of the hidden kernels and the number of distinct neurons in the last
hidden layer: weight decay drives the ranks down, syre keeps them, at the
same accuracy.
The same is available as a parameter transform with
``Trainer(..., symmetry_removal=symmetry.Syre(weight_decay, key))``.

    python examples/syre_collapse.py             # 30 epochs, under a minute on a CPU
    python examples/syre_collapse.py --quick     # seconds (smoke test)
"""

from __future__ import annotations

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

from symjax import optim
from symjax.train import Trainer, symmetry_metrics


def cross_entropy(logits: jax.Array, batch: dict) -> tuple[jax.Array, dict]:
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true", help="tiny run for a smoke test")
    args = parser.parse_args(argv)
    epochs, n = (2, 400) if args.quick else (args.epochs, 1500)

    data = load_digits()
    x, y = (data.data[:n] / 16.0).astype(np.float32), data.target[:n].astype(np.int32)
    test = [{"x": (data.data[1500:1792] / 16.0).astype(np.float32), "y": data.target[1500:1792].astype(np.int32)}]

    def batches(epoch: int) -> list[dict]:
        order = np.random.default_rng(epoch).permutation(n)
        return [{"x": x[order[i:i + 100]], "y": y[order[i:i + 100]]} for i in range(0, n, 100)]

    model = nn.Sequential([nn.Dense(64), nn.tanh, nn.Dense(64), nn.tanh, nn.Dense(10)])
    sgd = optax.sgd(0.1, momentum=0.9)
    optimizers = {
        "decay": optax.chain(optax.add_decayed_weights(args.weight_decay), sgd),
        "syre": optax.chain(optim.syre(args.weight_decay, jax.random.key(1), scale=0.1), sgd),
    }
    results = {}
    for name, optimizer in optimizers.items():
        trainer = Trainer(model, optimizer, cross_entropy)
        measure = symmetry_metrics(trainer, ranks=["layers_0/kernel", "layers_2/kernel"],
                                   neurons=[("layers_2/kernel", "layers_4/kernel")], rtol=1e-3, atol=1e-2)
        state = trainer.init(jax.random.key(0), batches(0)[0])
        state, history = trainer.fit(state, batches, epochs=epochs, eval_batches=test, epoch_metrics=measure)
        results[name] = history
        last = history[-1]
        print(f"{name:>5}: test accuracy {last['eval_accuracy']:.3f}, rank of the hidden kernels "
              f"{last['rank/layers_0/kernel']:.0f}/64 and {last['rank/layers_2/kernel']:.0f}/64, "
              f"distinct last hidden neurons (atol 1e-2) {last['neurons/layers_2/kernel']:.0f}/64")
    return results


if __name__ == "__main__":
    main()
