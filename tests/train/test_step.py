"""The trainer's parts alone: model adapters, the pure steps in a loop of one's own, compiler options."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from symjax import symmetry, xla
from symjax.train import (
    LinenAdapter,
    ModelAdapter,
    NNXAdapter,
    Trainer,
    TrainState,
    make_eval_step,
    make_train_step,
    model_adapter,
)


def _leaves(tree):
    return [
        np.asarray(jax.random.key_data(leaf) if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key) else leaf)
        for leaf in jax.tree.leaves(tree)
    ]


def _assert_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(_leaves(a), _leaves(b)):
        np.testing.assert_array_equal(x, y)


def _fresh_state(adapter, optimizer, key, x, syre=None):
    params, model_state = jax.jit(adapter.init)(key, x) if adapter.compile_init else adapter.init(key, x)
    return TrainState(
        step=jnp.int32(0), epoch=jnp.int32(0), params=params, opt_state=optimizer.init(params),
        model_state=model_state, rng=jax.random.split(key, 3)[0],
        removal=None if syre is None else syre.init(params),
    )


@pytest.mark.parametrize("kind", ["linen", "nnx"])
def test_own_loop_matches_trainer_step(digits, kit, kind):
    # batch norm, dropout, adam and syre: the user's jitted loop and Trainer.step take the same path
    x, y = digits
    batches = kit.batches_of(x[:128], y[:128], 32)
    model = kit.LinenMLP() if kind == "linen" else kit.NNXMLP(rngs=nnx.Rngs(0))
    syre = symmetry.Syre(1e-2, jax.random.key(3))
    optimizer = optax.adam(1e-2)
    trainer = Trainer(model, optimizer, kit.cross_entropy, symmetry_removal=syre, compiler_options=None)
    expected = trainer.init(jax.random.key(0), batches[0])

    adapter = model_adapter(model)
    state = _fresh_state(adapter, optimizer, jax.random.key(0), batches[0]["x"], syre)
    _assert_equal(state, expected)
    step = jax.jit(make_train_step(adapter, optimizer, kit.cross_entropy, symmetry_removal=syre))
    for batch in batches:
        expected, expected_metrics = trainer.step(expected, batch)
        state, metrics = step(state, batch)
        assert set(metrics) == {"loss", "accuracy", "penalty", "grad_norm", "skipped"}
        assert float(metrics["loss"]) == float(expected_metrics["loss"])
    _assert_equal(state, expected)
    assert int(state.step) == len(batches)

    eval_step = jax.jit(make_eval_step(adapter, kit.cross_entropy))
    assert float(eval_step(state, batches[0])["loss"]) == pytest.approx(
        trainer.evaluate(expected, batches[0])["loss"], rel=1e-6
    )


def test_non_finite_guard_leaves_the_state_unchanged(digits, kit):
    x, y = digits
    adapter, optimizer = LinenAdapter(kit.LinenMLP()), optax.sgd(0.1, momentum=0.9)
    step = jax.jit(make_train_step(adapter, optimizer, kit.cross_entropy))
    good = {"x": x[:32], "y": y[:32]}
    state, metrics = step(_fresh_state(adapter, optimizer, jax.random.key(0), good["x"]), good)
    assert int(metrics["skipped"]) == 0 and int(state.step) == 1
    bad = {"x": good["x"].copy(), "y": good["y"]}
    bad["x"][0, 0] = np.inf
    after, metrics = step(state, bad)
    assert int(metrics["skipped"]) == 1
    _assert_equal(after, state)  # parameters, momentum, batch statistics, step and rng
    after, metrics = step(after, good)
    assert int(metrics["skipped"]) == 0 and int(after.step) == 2


def test_steps_check_their_arguments():
    loss = lambda out, b: jnp.mean(out ** 2)
    with pytest.raises(TypeError, match="optimizer"):
        make_train_step(nn.Dense(1), "adam", loss)
    with pytest.raises(TypeError, match="loss_fn"):
        make_eval_step(nn.Dense(1), None)
    with pytest.raises(TypeError, match="input_key"):
        make_eval_step(nn.Dense(1), loss, input_key=0)
    with pytest.raises(TypeError, match="symmetry_removal"):
        make_train_step(nn.Dense(1), optax.sgd(0.1), loss, symmetry_removal=0.1)
    with pytest.raises(TypeError, match="model must be a flax.linen.Module"):
        make_train_step(lambda x: x, optax.sgd(0.1), loss)
    adapter, optimizer = LinenAdapter(nn.Dense(1)), optax.sgd(0.1)
    state = _fresh_state(adapter, optimizer, jax.random.key(0), jnp.ones((4, 2)))
    syre, batch = symmetry.Syre(1e-3, jax.random.key(1)), {"x": jnp.ones((4, 2))}
    with pytest.raises(ValueError, match="state.removal must hold the offsets"):
        make_train_step(adapter, optimizer, loss, symmetry_removal=syre)(state, batch)
    with pytest.raises(ValueError, match="symmetry_removal=None"):
        make_train_step(adapter, optimizer, loss)(state.replace(removal=syre.init(state.params)), batch)


class _Stats(nn.Module):
    @nn.compact
    def __call__(self, x, deterministic: bool = True):
        x = nn.BatchNorm(use_running_average=deterministic, momentum=0.5)(nn.Dense(4)(x))
        return nn.Dropout(0.5, deterministic=deterministic)(x)


def test_linen_adapter_batch_stats_and_modes():
    adapter = model_adapter(_Stats())
    assert isinstance(adapter, LinenAdapter)
    x = jax.random.normal(jax.random.key(0), (16, 3)) + 2.0
    params, model_state = jax.jit(adapter.init)(jax.random.key(1), x)
    assert set(params) == {"Dense_0", "BatchNorm_0"} and set(model_state) == {"batch_stats"}
    apply = jax.jit(adapter.apply, static_argnames="train")
    # train: deterministic=False, batch statistics of x, running averages updated, dropout from rng
    out, new_state = apply(params, model_state, x, jax.random.key(2), train=True)
    assert not np.allclose(new_state["batch_stats"]["BatchNorm_0"]["mean"], 0.0)
    assert np.mean(np.asarray(out) == 0.0) > 0.25
    other, _ = apply(params, model_state, x, jax.random.key(3), train=True)
    assert not np.array_equal(out, other)
    # eval: deterministic=True, running averages, state returned unchanged
    first, same = apply(params, new_state, x, None, train=False)
    _assert_equal(same, new_state)
    np.testing.assert_array_equal(first, apply(params, new_state, x, None, train=False)[0])
    assert np.all(first != 0.0)


class _NoParams(nn.Module):
    @nn.compact
    def __call__(self, x):
        self.variable("counts", "calls", jnp.zeros, ())
        return x


def test_linen_adapter_without_mode_keyword_or_state():
    adapter = LinenAdapter(nn.Dense(2))
    params, model_state = adapter.init(jax.random.key(0), jnp.ones((4, 3)))
    assert model_state == {}
    out, state = adapter.apply(params, model_state, jnp.ones((4, 3)), jax.random.key(1), train=True)
    assert out.shape == (4, 2) and state == {}
    with pytest.raises(ValueError, match="'params' collection"):
        LinenAdapter(_NoParams()).init(jax.random.key(0), jnp.ones((4, 3)))
    with pytest.raises(TypeError, match="module must be a flax.linen.Module"):
        LinenAdapter(nnx.Linear(2, 2, rngs=nnx.Rngs(0)))


def test_nnx_adapter_batch_norm_on_a_copy():
    module = nnx.Sequential(nnx.Linear(3, 4, rngs=nnx.Rngs(0)), nnx.BatchNorm(4, momentum=0.5, rngs=nnx.Rngs(1)))
    kernel = np.asarray(module.layers[0].kernel[...])
    adapter = model_adapter(module)
    assert isinstance(adapter, NNXAdapter) and adapter.compile_init is False
    params, model_state = adapter.init(jax.random.key(0), None)
    np.testing.assert_array_equal(params["layers"][0]["kernel"][...], kernel)
    x = jax.random.normal(jax.random.key(2), (16, 3)) + 2.0
    apply = jax.jit(adapter.apply, static_argnames="train")
    out, new_state = apply(params, model_state, x, None, train=True)
    mean = np.asarray(new_state["layers"][1]["mean"][...])
    assert not np.allclose(mean, 0.0)
    np.testing.assert_allclose(np.mean(np.asarray(out), 0), 0.0, atol=1e-5)  # batch statistics
    evaluated, same = apply(params, new_state, x, None, train=False)
    _assert_equal(same, new_state)
    assert not np.allclose(np.mean(np.asarray(evaluated), 0), 0.0, atol=1e-3)  # running averages
    # the module passed in is untouched: its parameters, statistics and mode
    np.testing.assert_array_equal(module.layers[0].kernel[...], kernel)
    np.testing.assert_array_equal(module.layers[1].mean[...], np.zeros(4))
    assert module.layers[1].use_running_average is False
    with pytest.raises(TypeError, match="module must be a flax.nnx.Module"):
        NNXAdapter(nn.Dense(2))


class _Line(ModelAdapter):
    """y = w x + b on 1-d inputs: a model that is neither Linen nor NNX."""

    def init(self, key, x):
        return {"w": jnp.zeros(()), "b": jnp.zeros(())}, {}

    def apply(self, params, model_state, x, rng, train):
        return params["w"] * x + params["b"], model_state


def test_trainer_takes_a_model_adapter():
    adapter = _Line()
    assert model_adapter(adapter) is adapter
    x = jnp.linspace(-1.0, 1.0, 8)
    batch = {"x": x, "y": 3.0 * x - 1.0}
    trainer = Trainer(adapter, optax.adam(0.1), lambda out, b: jnp.mean((out - b["y"]) ** 2))
    state = trainer.init(jax.random.key(0), batch)
    state, history = trainer.fit(state, [batch], epochs=200, progress=False)
    assert history[-1]["loss"] < 1e-3
    assert float(state.params["w"]) == pytest.approx(3.0, abs=0.05)


def test_compiler_options_none_and_auto_agree(digits, kit):
    x, y = digits
    batches = kit.batches_of(x[:128], y[:128], 32)
    runs = {}
    for options in ("auto", None):
        trainer = Trainer(kit.LinenMLP(), optax.adam(1e-2), kit.cross_entropy, compiler_options=options)
        state = trainer.init(jax.random.key(0), batches[0])
        runs[options] = (trainer,) + trainer.fit(state, batches, epochs=2, progress=False)
    auto, plain = runs["auto"], runs[None]
    platform = auto[0].mesh.devices.flat[0].platform
    assert auto[0].compiler_options == xla.compiler_options(platform) and plain[0].compiler_options == {}
    for a, b in zip(_leaves(auto[1].params), _leaves(plain[1].params)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert auto[2][-1]["loss"] == pytest.approx(plain[2][-1]["loss"], rel=1e-4)


def test_compiler_options_argument():
    loss = lambda out, b: jnp.mean(out ** 2)
    # a dict is passed through: here nothing to YNNPACK, where this XLA:CPU knows the option
    options = {xla.OPTION: ""} if xla.compiler_options() else {}
    trainer = Trainer(nn.Dense(1), optax.sgd(0.1), loss, compiler_options=options)
    assert trainer.compiler_options == options
    state, _ = trainer.step(trainer.init(jax.random.key(0), {"x": jnp.ones((4, 2))}), {"x": jnp.ones((4, 2))})
    assert int(state.step) == 1
    assert Trainer(nn.Dense(1), optax.sgd(0.1), loss, compiler_options={}).compiler_options == {}
    with pytest.raises(ValueError, match="compiler_options must be 'auto'"):
        Trainer(nn.Dense(1), optax.sgd(0.1), loss, compiler_options="fast")
    with pytest.raises(TypeError, match="compiler_options must be 'auto'"):
        Trainer(nn.Dense(1), optax.sgd(0.1), loss, compiler_options=3)
