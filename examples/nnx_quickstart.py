"""NNX quickstart: a p4 G-CNN written with ``symjax.nnx``, trained with symmetry removal, saved and resumed.

1. Build an NNX model from ``symjax.nnx`` layers (``LiftingConv``,
   ``GroupConv``, ``GroupPool``) and plain ``flax.nnx`` layers.
2. Train it with ``symjax.train.Trainer`` and ``symmetry.Syre`` (the model
   sees ``theta + theta0``; ``theta`` gets the weight decay).
3. Save a checkpoint, restore it into a fresh state, continue training: the
   parameters equal those of a run that never stopped, bit for bit.
4. Copy the trained weights back into the NNX module and use it directly.

    python examples/nnx_quickstart.py            # about a minute on a CPU
    python examples/nnx_quickstart.py --quick    # seconds (smoke test)
"""

from __future__ import annotations

import argparse
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from sklearn.datasets import load_digits

from symjax import actions, groups, symmetry
from symjax import nnx as snnx
from symjax.train import Trainer

C4 = groups.cyclic(4)


class GCNN(nnx.Module):
    def __init__(self, width: int, *, rngs: nnx.Rngs):
        self.lift = snnx.LiftingConv(C4, 1, width, rngs=rngs)
        self.conv1 = snnx.GroupConv(C4, width, width, rngs=rngs)
        self.conv2 = snnx.GroupConv(C4, width, width, strides=2, rngs=rngs)  # 9x9 -> 5x5, still exact
        self.conv3 = snnx.GroupConv(C4, width, width, kernel_size=(5, 5), padding="VALID", rngs=rngs)  # -> 1x1
        self.pool = snnx.GroupPool("max")
        self.head = nnx.Linear(width, 10, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        f = nnx.relu(self.conv1(nnx.relu(self.lift(x))))
        f = nnx.relu(self.conv3(nnx.relu(self.conv2(f))))
        return self.head(self.pool(f)[:, 0, 0])


def cross_entropy(logits: jax.Array, batch: dict) -> tuple[jax.Array, dict]:
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
    return loss, {"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="tiny run for a smoke test")
    args = parser.parse_args(argv)
    epochs, n_train, width = (2, 200, 4) if args.quick else (args.epochs, 1200, 8)

    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    x = np.pad(data.images[order] / 16.0, ((0, 0), (0, 1), (0, 1)))[..., None].astype(np.float32)  # 9x9: exact
    y = data.target[order].astype(np.int32)
    x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[1200:1792], y[1200:1792]

    def batches(epoch: int) -> list[dict]:
        order = np.random.default_rng(epoch).permutation(n_train)
        return [{"x": x_train[order[i:i + 100]], "y": y_train[order[i:i + 100]]} for i in range(0, n_train, 100)]

    model = GCNN(width, rngs=nnx.Rngs(0))
    trainer = Trainer(model, optax.adam(1e-2), cross_entropy,
                      symmetry_removal=symmetry.Syre(1e-4, jax.random.key(2)))
    state = trainer.init(jax.random.key(0), batches(0)[0])

    # train half-way, checkpoint, then resume from disk into a fresh state
    half = epochs // 2
    straight, history = trainer.fit(state, batches, epochs=epochs, progress=False)
    checkpoint_dir = tempfile.mkdtemp(prefix="nnx_quickstart_")
    trainer.fit(state, batches, epochs=half, checkpoint_dir=checkpoint_dir)  # writes the checkpoint
    resumed = trainer.restore(checkpoint_dir, like=trainer.init(jax.random.key(0), batches(0)[0]))
    resumed, _ = trainer.fit(resumed, batches, epochs=epochs - half)
    pairs = zip(jax.tree.leaves(resumed.params), jax.tree.leaves(straight.params))
    exact = all(bool(jnp.all(a == b)) for a, b in pairs)

    # back to plain NNX: the module with the effective weights theta + theta0, in eval mode
    nnx.update(model, trainer.effective_params(resumed), resumed.model_state)
    model.eval()
    predict = nnx.jit(lambda module, x: jnp.argmax(module(x), -1))
    accuracy = [float(jnp.mean(predict(model, actions.on_image(C4, k, x_test)) == y_test)) for k in range(4)]

    print(f"p4 G-CNN (NNX), {sum(p.size for p in jax.tree.leaves(state.params))} parameters, {epochs} epochs, "
          f"final train loss {history[-1]['loss']:.3f}")
    print(f"  resumed from {checkpoint_dir} after {half} epochs: bitwise equal to the straight run: {exact}")
    print("  test accuracy at 0/90/180/270 degrees: " + " ".join(f"{a:.3f}" for a in accuracy))
    return {"accuracy": accuracy, "resume_exact": exact, "history": history}


if __name__ == "__main__":
    main()
