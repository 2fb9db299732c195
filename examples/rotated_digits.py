"""Rotated digits: a p4 or p4m G-CNN (Linen) trained on upright digits, tested at every rotation.

The G-CNN (lifting conv, group convs with group batch norm, group max-pool)
is invariant to the group by construction, so its accuracy is the same on the
test set rotated by 0, 90, 180 or 270 degrees (and flipped, for p4m). The
model is trained with ``symjax.train.Trainer`` and ``symjax.optim.syre_adamw``,
checkpointed after every epoch, and finally exported to plain ``flax.linen.Conv``
layers that give the same outputs.

    python examples/rotated_digits.py                  # p4, 15 epochs, about a minute on a CPU
    python examples/rotated_digits.py --group p4m
    python examples/rotated_digits.py --quick          # a few seconds (smoke test)
"""

from __future__ import annotations

import argparse
import tempfile

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

from symjax import actions, groups, optim, symmetry
from symjax import nn as snn
from symjax.train import Trainer

GROUPS = {"p4": groups.cyclic(4), "p4m": groups.dihedral(4)}


class GCNN(nn.Module):
    """Lift, two group convs with group batch norm, stride-2 then 5x5 VALID to 1x1, max over the group."""

    group: groups.FiniteGroup
    width: int = 8

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        f = nn.relu(snn.LiftingConv(self.group, self.width)(x))
        f = snn.GroupBatchNorm(use_running_average=not train, momentum=0.9)(f)
        f = nn.relu(snn.GroupConv(self.group, self.width, strides=2)(f))
        f = snn.GroupBatchNorm(use_running_average=not train, momentum=0.9)(f)
        f = nn.relu(snn.GroupConv(self.group, self.width, kernel_size=(5, 5), padding="VALID")(f))
        return nn.Dense(10)(snn.GroupPool("max")(f)[:, 0, 0])


def load(seed: int, n_train: int) -> tuple[np.ndarray, ...]:
    """Digits zero-padded to 9x9 (odd size: rotations stay exact at stride 2), split train/test."""
    data = load_digits()
    order = np.random.default_rng(seed).permutation(len(data.target))
    x = np.pad(data.images[order] / 16.0, ((0, 0), (0, 1), (0, 1)))[..., None].astype(np.float32)
    y = data.target[order].astype(np.int32)
    return x[592:][:n_train], y[592:][:n_train], x[:592], y[:592]


def cross_entropy(logits: jax.Array, batch: dict) -> tuple[jax.Array, dict]:
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", choices=sorted(GROUPS), default="p4")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--checkpoint-dir", default=None, help="default: a temporary folder")
    parser.add_argument("--quick", action="store_true", help="tiny run for a smoke test")
    args = parser.parse_args(argv)
    G = GROUPS[args.group]
    epochs, n_train = (1, 200) if args.quick else (args.epochs, 1200)
    x_train, y_train, x_test, y_test = load(0, n_train)

    def batches(epoch: int) -> list[dict]:
        order = np.random.default_rng(epoch).permutation(len(x_train))
        return [{"x": x_train[order[i:i + 100]], "y": y_train[order[i:i + 100]]} for i in range(0, len(order), 100)]

    model = GCNN(G)
    optimizer = optim.syre_adamw(1e-2, 1e-4, key=jax.random.key(1))
    trainer = Trainer(model, optimizer, cross_entropy)
    state = trainer.init(jax.random.key(0), batches(0)[0])
    test = [{"x": x_test, "y": y_test}]
    checkpoint_dir = args.checkpoint_dir or tempfile.mkdtemp(prefix="rotated_digits_")
    state, history = trainer.fit(state, batches, epochs=epochs, eval_batches=test, checkpoint_dir=checkpoint_dir)
    state = trainer.restore(checkpoint_dir, like=state)  # the last epoch's checkpoint: the same state

    accuracy = {g: trainer.evaluate(state, {"x": actions.on_image(G, g, x_test), "y": y_test})["accuracy"]
                for g in range(G.order)}
    error = float(symmetry.equivariance_error(
        lambda x: trainer.predict(state, x), G, x_test[:64], actions.on_image, lambda G, g, y: y))
    variables = {"params": trainer.effective_params(state), **state.model_state}
    plain_model, plain_variables = snn.export(model, variables, x_test[:1])
    gap = float(jnp.max(jnp.abs(plain_model.apply(plain_variables, x_test[:64]) - trainer.predict(state, x_test[:64]))))

    print(f"{args.group} G-CNN, {sum(p.size for p in jax.tree.leaves(state.params))} parameters, "
          f"{epochs} epochs, final train loss {history[-1]['loss']:.3f}")
    for g, acc in accuracy.items():
        print(f"  test accuracy, element {g} of {G.name}: {acc:.3f}")
    print(f"  invariance error {error:.1e}; exported plain-conv model differs by {gap:.1e}")
    print(f"  checkpoints in {checkpoint_dir}")
    return {"accuracy": accuracy, "invariance_error": error, "export_gap": gap, "history": history}


if __name__ == "__main__":
    main()
