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

    python examples/plasticity.py                        # 60 tasks, one seed
    python examples/plasticity.py --tasks 20 --seeds 4   # what the tests run: 4 seeds at once (vmapped)
    python examples/plasticity.py --quick                # 3 tasks (smoke test)
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


def run(make_optimizer, tasks: list[tuple], epochs: int, seeds: list[int]) -> list[dict]:
    """Train one network per seed through ``tasks`` in order (the seeds vmapped); metrics after each task.

    Args:
      make_optimizer: ``key -> optax transformation`` (the key seeds syre's offsets).
      tasks: ``(train x, train y, test x, test y)`` per task, each with a leading seed axis.
      epochs: epochs per task.
      seeds: seed ``s`` draws the init from ``key(s)``, the optimizer from
        ``key(7 + 1000 s)`` and task ``t``'s data order from ``key(100 + t + 1000 s)``.

    Returns:
      Per task, ``{"accuracy", "rank", "dead"}``, each a list with one value per seed.
    """
    seeds = np.asarray(seeds)
    key = jax.vmap(jax.random.key)
    params = jax.vmap(init)(key(seeds))
    optimizer_keys = key(7 + 1000 * seeds)
    state = jax.vmap(lambda k, p: make_optimizer(k).init(p))(optimizer_keys, params)

    def task(params, state, optimizer_key, x, y, x_test, y_test, order_key):
        optimizer = make_optimizer(optimizer_key)

        def step(carry, idx):
            params, state = carry
            grads = jax.grad(lambda p: optax.softmax_cross_entropy_with_integer_labels(
                logits(p, x[idx]), y[idx]).mean())(params)
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        order = jnp.concatenate([jax.random.permutation(k, TRAIN) for k in jax.random.split(order_key, epochs)])
        (params, state), _ = jax.lax.scan(step, (params, state), order.reshape(-1, BATCH))
        f = features(params, x_test)
        return params, state, {"accuracy": jnp.mean(jnp.argmax(logits(params, x_test), -1) == y_test),
                               "rank": symmetry.numerical_rank(f, rtol=1e-3),
                               "dead": jnp.sum(jnp.all(f <= 0, axis=0))}

    all_tasks = jax.jit(jax.vmap(task))
    history = []
    for t, (x, y, x_test, y_test) in enumerate(tasks):
        params, state, metrics = all_tasks(params, state, optimizer_keys, x, y, x_test, y_test,
                                           key(100 + t + 1000 * seeds))
        history.append({k: np.asarray(v, np.float64).tolist() for k, v in metrics.items()})
    return history


def permuted_tasks(n_tasks: int, seeds: list[int]) -> list[tuple]:
    """Task ``t`` of seed ``s`` permutes the 64 pixels with ``default_rng(t + 1000 s)`` (task 0: identity)."""
    digits = load_digits()
    x, y = (digits.data / 16.0).astype(np.float32), digits.target.astype(np.int32)
    tasks = []
    for t in range(n_tasks):
        perms = [np.arange(64) if t == 0 else np.random.default_rng(t + 1000 * s).permutation(64) for s in seeds]
        tasks.append((np.stack([x[:TRAIN, p] for p in perms]), np.stack([y[:TRAIN]] * len(seeds)),
                      np.stack([x[TRAIN:, p] for p in perms]), np.stack([y[TRAIN:]] * len(seeds))))
    return tasks


def summary(history: list[dict], k: int) -> dict:
    """Means over the first ``k`` and the last ``k`` tasks and over the seeds: ``{metric: (first, last)}``."""
    return {m: (float(np.mean([r[m] for r in history[:k]])), float(np.mean([r[m] for r in history[-k:]])))
            for m in history[0]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per task")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--seeds", type=int, default=1, help="train seeds 0 .. SEEDS-1 at once (vmapped)")
    parser.add_argument("--quick", action="store_true", help="3 tasks of 1 epoch (smoke test)")
    args = parser.parse_args(argv)
    n_tasks, epochs = (3, 1) if args.quick else (args.tasks, args.epochs)
    seeds = list(range(args.seeds))
    tasks = permuted_tasks(n_tasks, seeds)

    adam = optax.adam(1e-2)
    optimizers = {
        "decay": lambda key: optax.chain(optax.add_decayed_weights(args.weight_decay), adam),
        "syre": lambda key: optax.chain(optim.syre(args.weight_decay, key, scale=0.1), adam),
    }
    results = {name: run(make, tasks, epochs, seeds) for name, make in optimizers.items()}
    k = max(1, n_tasks // 6)
    print(f"{n_tasks} permuted-digit tasks, {epochs} epochs each, weight decay {args.weight_decay}, "
          f"{len(seeds)} seed(s); means over the first and the last {k} tasks and over the seeds")
    for name, history in results.items():
        s = summary(history, k)
        print(f"{name:>5}: test accuracy {s['accuracy'][0]:.3f} -> {s['accuracy'][1]:.3f}, "
              f"rank of the last hidden features {s['rank'][0]:.1f} -> {s['rank'][1]:.1f} / {WIDTH}, "
              f"dead units {s['dead'][0]:.1f} -> {s['dead'][1]:.1f}")
    return results


if __name__ == "__main__":
    main()
