"""Training: a jitted, data-parallel Trainer for Linen and NNX models, with Orbax checkpoints.

Three parts, each usable alone:

- model adapters (:func:`model_adapter`, :class:`LinenAdapter`,
  :class:`NNXAdapter`): a model as two pure functions, ``init(key, x)`` and
  ``apply(params, model_state, x, rng, train)``;
- the pure steps (:func:`make_train_step`, :func:`make_eval_step`):
  ``(state, batch) -> (state, metrics)``, for a loop of your own;
- :class:`Trainer`: composes a model, an Optax optimizer and a loss into those
  steps, jitted and sharded over a ``jax.sharding.Mesh``, with the loop
  (``fit``: progress, history, checkpoints). Symmetry removal
  (:class:`symjax.symmetry.Syre`) plugs in as an argument. The whole run
  lives in one pytree, :class:`TrainState`, so checkpoints resume exactly.

>>> import jax, jax.numpy as jnp, optax, flax.linen as nn
>>> from symjax import train
>>> trainer = train.Trainer(nn.Dense(1), optax.sgd(0.1), lambda out, b: jnp.mean((out[:, 0] - b["y"]) ** 2))
>>> batch = {"x": jnp.ones((8, 2)), "y": jnp.ones(8)}
>>> state = trainer.init(jax.random.key(0), batch)
>>> state, metrics = trainer.step(state, batch)
>>> sorted(metrics)
['grad_norm', 'loss', 'skipped']
"""

from symjax.train._adapters import LinenAdapter, ModelAdapter, NNXAdapter, model_adapter
from symjax.train._metrics import symmetry_metrics
from symjax.train._step import TrainState, make_eval_step, make_train_step
from symjax.train._trainer import Trainer

__all__ = [
    "LinenAdapter",
    "ModelAdapter",
    "NNXAdapter",
    "TrainState",
    "Trainer",
    "make_eval_step",
    "make_train_step",
    "model_adapter",
    "symmetry_metrics",
]
