"""Loss of plasticity, task after task: weight decay lets the representation collapse, syre keeps it.

A ReLU MLP (64 -> 128 -> 128 -> 10) learns scikit-learn's digits again and
again, each task with a new fixed permutation of the 64 input pixels, without
resetting its weights (Adam, a few epochs per task). After every task we
measure, on the task's test images, the accuracy, the numerical rank of the
last hidden representation (``symmetry.numerical_rank``) and the number of
dead units (never active on the test set). With ``optax.add_decayed_weights``
the rank shrinks and units die as the tasks go on; with ``symjax.optim.syre``
(the same decay, pulled toward a fixed random anchor ``theta0`` instead of
zero) more of the representation stays alive. This is the loss-of-plasticity
experiment of the symmetry-removal paper at CPU scale: here the accuracy
hardly differs, the representation does.

    python examples/plasticity.py              # 60 tasks, about 15 s on a 2-core CPU
    python examples/plasticity.py --quick      # 3 tasks (smoke test)
"""
from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax
from sklearn.datasets import load_digits

from symjax import optim, symmetry

WIDTH, BATCH, TRAIN = 128, 100, 1500


def init(key: jax.Array) -> list[dict]:
    sizes = [(64, WIDTH), (WIDTH, WIDTH), (WIDTH, 10)]
    return [{"w": jax.random.normal(k, s) * jnp.sqrt(2.0 / s[0]), "b": jnp.zeros(s[1])}
            for k, s in zip(jax.random.split(key, len(sizes)), sizes)]


def features(params: list[dict], x: jax.Array) -> jax.Array:
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x


def logits(params: list[dict], x: jax.Array) -> jax.Array:
    return features(params, x) @ params[-1]["w"] + params[-1]["b"]


def run(optimizer: optax.GradientTransformation, tasks: list[tuple], epochs: int) -> list[dict]:
    """Train through ``tasks`` (train x, train y, test x, test y) in order; metrics after each."""
    params = init(jax.random.key(0))
    state = optimizer.init(params)

    @jax.jit
    def task(params, state, x, y, x_test, y_test, key):
        def step(carry, idx):
            params, state = carry
            grads = jax.grad(lambda p: optax.softmax_cross_entropy_with_integer_labels(
                logits(p, x[idx]), y[idx]).mean())(params)
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        order = jnp.concatenate([jax.random.permutation(k, TRAIN) for k in jax.random.split(key, epochs)])
        (params, state), _ = jax.lax.scan(step, (params, state), order.reshape(-1, BATCH))
        f = features(params, x_test)
        return params, state, {"accuracy": jnp.mean(jnp.argmax(logits(params, x_test), -1) == y_test),
                               "rank": symmetry.numerical_rank(f, rtol=1e-3),
                               "dead": jnp.sum(jnp.all(f <= 0, axis=0))}

    history = []
    for t, (x, y, x_test, y_test) in enumerate(tasks):
        params, state, metrics = task(params, state, x, y, x_test, y_test, jax.random.key(100 + t))
        history.append({k: float(v) for k, v in metrics.items()})
    return history


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per task")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--quick", action="store_true", help="3 tasks of 1 epoch (smoke test)")
    args = parser.parse_args(argv)
    n_tasks, epochs = (3, 1) if args.quick else (args.tasks, args.epochs)

    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int32)
    perms = [np.arange(64)] + [np.random.default_rng(t).permutation(64) for t in range(1, n_tasks)]
    tasks = [(x[:TRAIN, p], y[:TRAIN], x[TRAIN:, p], y[TRAIN:]) for p in perms]

    adam = optax.adam(1e-2)
    optimizers = {
        "decay": optax.chain(optax.add_decayed_weights(args.weight_decay), adam),
        "syre": optax.chain(optim.syre(args.weight_decay, jax.random.key(7), scale=0.1), adam),
    }
    results = {name: run(opt, tasks, epochs) for name, opt in optimizers.items()}
    k = max(1, n_tasks // 6)
    print(f"{n_tasks} permuted-digit tasks, {epochs} epochs each, weight decay {args.weight_decay}; "
          f"means over the first and the last {k} tasks")
    for name, history in results.items():
        first, last = history[:k], history[-k:]

        def mean(rows, key):
            return sum(r[key] for r in rows) / len(rows)

        print(f"{name:>5}: test accuracy {mean(first, 'accuracy'):.3f} -> {mean(last, 'accuracy'):.3f}, "
              f"rank of the last hidden features {mean(first, 'rank'):.0f} -> {mean(last, 'rank'):.0f} / {WIDTH}, "
              f"dead units {mean(first, 'dead'):.0f} -> {mean(last, 'dead'):.0f}")
    return results


if __name__ == "__main__":
    main()
