"""Degenerate batches: an empty batch is refused by name everywhere; evaluate/predict take any size."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from symjax.train import Trainer


@pytest.fixture(scope="module")
def trainer_and_state():
    trainer = Trainer(nn.Dense(2), optax.sgd(0.1), lambda out, b: jnp.mean(out ** 2), compiler_options=None)
    return trainer, trainer.init(jax.random.key(0), {"x": jnp.ones((4, 3))})


def test_empty_batch_is_a_value_error_naming_the_argument(trainer_and_state):
    trainer, state = trainer_and_state
    empty = {"x": np.zeros((0, 3), np.float32)}
    with pytest.raises(ValueError, match="example_batch must hold at least one example, got batch size 0"):
        trainer.init(jax.random.key(0), empty)
    with pytest.raises(ValueError, match="batch must hold at least one example"):
        trainer.step(state, empty)
    with pytest.raises(ValueError, match="batches must hold at least one example"):
        trainer.evaluate(state, [{"x": jnp.ones((4, 3))}, empty])
    with pytest.raises(ValueError, match="x must hold at least one example"):
        trainer.predict(state, empty["x"])
    with pytest.raises(ValueError, match="train_batches must hold at least one example"):
        trainer.fit(state, [empty], epochs=1, progress=False)


def test_predict_and_evaluate_take_any_size(trainer_and_state):
    trainer, state = trainer_and_state
    x = np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32)
    out = trainer.predict(state, x)
    assert out.shape == (7, 2)
    for n in (1, 3, 7):
        metrics = trainer.evaluate(state, {"x": x[:n]})
        assert metrics["loss"] == pytest.approx(float(jnp.mean(out[:n] ** 2)), rel=1e-6)


def test_predict_inside_a_transformation_of_the_user():
    """A traced ``x`` (jit, vmap, the equivariance measure) runs the model directly, without sharding."""
    trainer = Trainer(nn.Dense(3), optax.sgd(0.1), lambda out, b: jnp.mean(out))
    state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
    x = jnp.arange(10.0).reshape(5, 2)
    expected = trainer.predict(state, x)
    np.testing.assert_allclose(jax.jit(lambda x: trainer.predict(state, x))(x), expected, rtol=1e-6)
    batched = jax.vmap(lambda xi: trainer.predict(state, xi[None])[0])(x)
    np.testing.assert_allclose(batched, expected, rtol=1e-6)
