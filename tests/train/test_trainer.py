"""Trainer: learning on real digits (Linen and NNX), modes, symmetry removal, non-finite steps, bad input."""

import io
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.sharding import Mesh

from symjax import symmetry
from symjax.train import Trainer, TrainState, symmetry_metrics


def _equal(a, b):
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("kind", ["linen", "nnx"])
def test_loss_falls_on_digits(digits, kind, kit, request):
    x, y = digits
    trainer = request.getfixturevalue(f"{kind}_trainer")
    train, test = kit.batches_of(x[:320], y[:320], 32), kit.batches_of(x[320:], y[320:], 40)
    state = trainer.init(jax.random.key(0), train[0])
    before = trainer.evaluate(state, test)
    state, history = trainer.fit(state, train, epochs=4, eval_batches=test, progress=False)
    assert len(history) == 4
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert history[-1]["eval_loss"] < 0.5 * before["loss"]
    assert history[-1]["eval_accuracy"] > 0.8
    assert history[-1]["step"] == 40 and int(state.step) == 40 and int(state.epoch) == 4
    assert set(history[0]) >= {"epoch", "step", "time", "loss", "accuracy", "grad_norm", "skipped", "eval_loss"}


def test_linen_modes_batch_stats_and_dropout(digits, linen_trainer):
    x, y = digits
    trainer = linen_trainer
    batch = {"x": x[:32], "y": y[:32]}
    state = trainer.init(jax.random.key(0), batch)
    assert set(state.model_state) == {"batch_stats"}
    new, _ = trainer.step(state, batch)
    assert not np.allclose(new.model_state["batch_stats"]["BatchNorm_0"]["mean"], 0.0)
    # eval mode: deterministic and uses running averages (no rng, no mutation)
    np.testing.assert_array_equal(trainer.predict(new, x[:8]), trainer.predict(new, x[:8]))
    # train mode draws a fresh dropout mask every step: the rng advances
    assert not np.array_equal(jax.random.key_data(new.rng), jax.random.key_data(state.rng))


def test_nnx_modes_and_user_module_untouched(digits, nnx_trainer):
    x, y = digits
    trainer = nnx_trainer
    model = nnx.clone(trainer.model)
    kernel = np.asarray(model.linear1.kernel[...])
    batch = {"x": x[:32], "y": y[:32]}
    state = trainer.init(jax.random.key(0), batch)
    new, _ = trainer.step(state, batch)
    assert not np.allclose(new.model_state["norm"]["mean"][...], 0.0)
    np.testing.assert_array_equal(trainer.predict(new, x[:8]), trainer.predict(new, x[:8]))
    np.testing.assert_array_equal(model.linear1.kernel[...], kernel)
    assert model.norm.use_running_average is False and model.dropout.deterministic is False
    nnx.update(model, trainer.effective_params(new), new.model_state)
    model.eval()
    np.testing.assert_allclose(model(x[:8]), trainer.predict(new, x[:8]), rtol=1e-5, atol=1e-6)


def test_step_is_a_pure_function_of_state_and_batch(digits, linen_trainer):
    x, y = digits
    trainer = linen_trainer
    batch = {"x": x[:32], "y": y[:32]}
    state = trainer.init(jax.random.key(0), batch)
    a, metrics_a = trainer.step(state, batch)
    b, metrics_b = trainer.step(state, batch)
    _equal(a, b)
    assert float(metrics_a["loss"]) == float(metrics_b["loss"])


@pytest.mark.parametrize("kind", ["linen", "nnx"])
def test_nan_batch_leaves_state_untouched(digits, kind, request):
    x, y = digits
    trainer = request.getfixturevalue(f"{kind}_trainer")
    good = {"x": x[:32], "y": y[:32]}
    state = trainer.init(jax.random.key(0), good)
    state, _ = trainer.step(state, good)
    bad = {"x": x[:32].copy(), "y": y[:32]}
    bad["x"][3, 5] = np.nan
    after, metrics = trainer.step(state, bad)
    assert int(metrics["skipped"]) == 1
    _equal(after, state)
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(after.params))
    # fit counts the skipped step and leaves it out of the epoch means
    after, history = trainer.fit(state, [good, bad, good], epochs=1, progress=False)
    assert history[0]["skipped"] == 1 and np.isfinite(history[0]["loss"])
    assert int(after.step) == int(state.step) + 2


def test_infinite_gradient_is_skipped():
    trainer = Trainer(nn.Dense(1), optax.sgd(0.1), lambda out, b: jnp.mean(jnp.sqrt(jnp.abs(out - out))))
    batch = {"x": jnp.ones((4, 2))}
    state = trainer.init(jax.random.key(0), batch)
    after, metrics = trainer.step(state, batch)
    assert float(metrics["loss"]) == 0.0 and int(metrics["skipped"]) == 1
    _equal(after, state)


def test_syre_trains_theta_on_offset_loss_plus_penalty():
    # zero data loss: the only gradient is the penalty's, weight_decay * theta
    lr, wd = 0.5, 0.1
    zero = lambda out, b: 0.0 * jnp.mean(out)
    syre = symmetry.Syre(wd, jax.random.key(7))
    trainer = Trainer(nn.Dense(3), optax.sgd(lr), zero, symmetry_removal=syre)
    batch = {"x": jnp.ones((4, 5))}
    state = trainer.init(jax.random.key(0), batch)
    expected = syre.init(state.params)
    _equal(state.removal.offsets, expected.offsets)
    new, metrics = trainer.step(state, batch)
    np.testing.assert_allclose(new.params["kernel"], (1 - lr * wd) * state.params["kernel"], rtol=1e-6)
    assert float(metrics["penalty"]) == pytest.approx(float(expected.penalty(state.params, wd)), rel=1e-6)
    np.testing.assert_allclose(
        trainer.effective_params(new)["kernel"], new.params["kernel"] + expected.offsets["kernel"], rtol=1e-6
    )


def test_syre_model_sees_effective_params():
    syre = symmetry.Syre(1e-3, jax.random.key(7), scale=1.0)
    trainer = Trainer(nn.Dense(3), optax.sgd(0.1), lambda out, b: jnp.mean(out ** 2), symmetry_removal=syre)
    x = jnp.ones((4, 5))
    state = trainer.init(jax.random.key(0), {"x": x})
    eff = trainer.effective_params(state)
    np.testing.assert_allclose(trainer.predict(state, x), nn.Dense(3).apply({"params": eff}, x), rtol=1e-6)
    assert not np.allclose(eff["kernel"], state.params["kernel"])


def test_syre_with_nnx(digits, kit, nnx_syre_trainer):
    x, y = digits
    trainer = nnx_syre_trainer
    train = kit.batches_of(x[:320], y[:320], 32)
    state = trainer.init(jax.random.key(0), train[0])
    state, history = trainer.fit(state, train, epochs=2, progress=False)
    assert history[-1]["loss"] < history[0]["loss"] and history[0]["penalty"] > 0
    eff = trainer.effective_params(state)
    np.testing.assert_allclose(
        eff["linear1"]["kernel"][...],
        state.params["linear1"]["kernel"][...] + state.removal.offsets["linear1"]["kernel"][...],
        rtol=1e-6,
    )


def test_fit_callable_batches_epoch_metrics_and_progress(digits, monkeypatch, kit, linen_trainer):
    x, y = digits
    trainer = linen_trainer
    seen = []

    def batches(epoch):
        seen.append(epoch)
        order = np.random.default_rng(epoch).permutation(320)
        return kit.batches_of(x[order], y[order], 32)

    state = trainer.init(jax.random.key(0), batches(0)[0])
    seen.clear()
    measure = symmetry_metrics(trainer, ranks=["Dense_0/kernel"], neurons=[("Dense_0/kernel", "Dense_1/kernel")])
    terminal = io.StringIO()
    terminal.isatty = lambda: True
    monkeypatch.setattr(sys, "stdout", terminal)
    state, history = trainer.fit(state, batches, epochs=2, epoch_metrics=measure)
    monkeypatch.undo()
    assert seen == [0, 1]
    assert history[1]["rank/Dense_0/kernel"] == 32.0 and history[1]["neurons/Dense_0/kernel"] == 32.0
    assert "epoch 2" in terminal.getvalue() and "loss" in terminal.getvalue()
    state, _ = trainer.fit(state, batches, epochs=1, progress=False)
    assert seen == [0, 1, 2]


def test_single_batch_dict_and_legacy_key():
    trainer = Trainer(nn.Dense(2), optax.sgd(0.1), lambda out, b: jnp.mean(out ** 2))
    batch = {"x": np.ones((4, 3), np.float32)}
    state = trainer.init(jax.random.PRNGKey(0), batch)
    assert isinstance(state, TrainState)
    assert set(trainer.evaluate(state, batch)) == {"loss"}


def test_jit_compiles_once_per_shape():
    trainer = Trainer(nn.Dense(2), optax.sgd(0.1), lambda out, b: jnp.mean(out ** 2))
    batch = {"x": jnp.ones((4, 3))}
    state = trainer.init(jax.random.key(0), batch)
    for _ in range(3):
        state, _ = trainer.step(state, batch)
    assert trainer._step._cache_size() == 1


def test_bad_input_names_the_argument():
    loss = lambda out, b: jnp.mean(out ** 2)
    with pytest.raises(TypeError, match="model"):
        Trainer(lambda x: x, optax.sgd(0.1), loss)
    with pytest.raises(TypeError, match="optimizer"):
        Trainer(nn.Dense(1), "sgd", loss)
    with pytest.raises(TypeError, match="loss_fn"):
        Trainer(nn.Dense(1), optax.sgd(0.1), 3.0)
    with pytest.raises(TypeError, match="symmetry_removal"):
        Trainer(nn.Dense(1), optax.sgd(0.1), loss, symmetry_removal=1e-4)
    with pytest.raises(ValueError, match="'data' axis"):
        Trainer(nn.Dense(1), optax.sgd(0.1), loss, mesh=Mesh(np.asarray(jax.devices()), ("batch",)))
    trainer = Trainer(nn.Dense(1), optax.sgd(0.1), loss)
    with pytest.raises(TypeError, match="key"):
        trainer.init(0, {"x": jnp.ones((4, 2))})
    with pytest.raises(ValueError, match="input_key 'x'"):
        trainer.init(jax.random.key(0), {"image": jnp.ones((4, 2))})
    with pytest.raises(TypeError, match="example_batch must be a dict"):
        trainer.init(jax.random.key(0), jnp.ones((4, 2)))
    state = trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))})
    with pytest.raises(ValueError, match="leading"):
        trainer.step(state, {"x": jnp.ones((4, 2)), "y": jnp.ones(3)})
    with pytest.raises(TypeError, match="state must be a TrainState"):
        trainer.step(state.params, {"x": jnp.ones((4, 2))})
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        trainer.fit(state, [{"x": jnp.ones((4, 2))}], epochs=-1)
    with pytest.raises(TypeError, match="one-shot iterator"):
        trainer.fit(state, iter([{"x": jnp.ones((4, 2))}]), epochs=2)
    with pytest.raises(ValueError, match="no batch"):
        trainer.fit(state, [], epochs=1, progress=False)
    with pytest.raises(ValueError, match="at least one batch"):
        trainer.evaluate(state, [])
    vector_loss = Trainer(nn.Dense(1), optax.sgd(0.1), lambda out, b: out)
    with pytest.raises(ValueError, match="loss_fn must return a scalar"):
        vector_loss.step(state, {"x": jnp.ones((4, 2))})
    measure = symmetry_metrics(trainer, ranks=["Dense_9/kernel"])
    with pytest.raises(ValueError, match="no parameter at path 'Dense_9/kernel'"):
        measure(state)
