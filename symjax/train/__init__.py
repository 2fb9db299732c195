"""Training: a jitted, data-parallel Trainer for Linen and NNX models, with Orbax checkpoints.

:class:`Trainer` composes a model, an Optax optimizer and a loss into jitted
steps sharded over a ``jax.sharding.Mesh``; symmetry removal
(:class:`symjax.symmetry.Syre`) plugs in as an argument. The whole run lives
in one pytree, :class:`TrainState`, so checkpoints resume exactly.

>>> import jax, jax.numpy as jnp, optax, flax.linen as nn
>>> from symjax import train
>>> trainer = train.Trainer(nn.Dense(1), optax.sgd(0.1), lambda out, b: jnp.mean((out[:, 0] - b["y"]) ** 2))
>>> batch = {"x": jnp.ones((8, 2)), "y": jnp.ones(8)}
>>> state = trainer.init(jax.random.key(0), batch)
>>> state, metrics = trainer.step(state, batch)
>>> sorted(metrics)
['grad_norm', 'loss', 'skipped']
"""

from symjax.train._trainer import Trainer, TrainState, symmetry_metrics

__all__ = ["TrainState", "Trainer", "symmetry_metrics"]
