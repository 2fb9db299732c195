"""Train/eval mode of Linen models: every recognised keyword, an explicit train_kwarg, and the refusal."""

import inspect

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from symjax.train import LinenAdapter, Trainer, model_adapter

X = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32) + 2.0
BATCH = {"x": X}


def _loss(out, batch):
    return jnp.mean(out ** 2)


def _norm_model(keyword: str, true_in_training: bool):
    """A model ``__call__(x, <keyword>: bool = <eval value>)`` whose BatchNorm updates its statistics in training."""

    def __call__(self, x, **kwargs):
        training = kwargs.get(keyword, not true_in_training) == true_in_training
        return nn.Dense(2)(nn.BatchNorm(use_running_average=not training, momentum=0.5)(x))

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    __call__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", kind), inspect.Parameter("x", kind),
         inspect.Parameter(keyword, kind, default=not true_in_training, annotation=bool)]
    )
    return type(f"Net_{keyword}", (nn.Module,), {"__call__": nn.compact(__call__)})()


def _mean_after_step(trainer):
    state = trainer.init(jax.random.key(0), BATCH)
    new, _ = trainer.step(state, BATCH)
    before = state.model_state["batch_stats"]["BatchNorm_0"]["mean"]
    after = new.model_state["batch_stats"]["BatchNorm_0"]["mean"]
    return np.asarray(before), np.asarray(after)


SPELLINGS = [("train", True), ("training", True), ("is_training", True), ("deterministic", False),
             ("use_running_average", False), ("eval", False), ("is_eval", False), ("inference", False)]


@pytest.mark.parametrize("keyword, true_in_training", SPELLINGS)
def test_recognised_keyword_updates_batch_stats(keyword, true_in_training):
    # the adapter's train-mode call is what Trainer.step differentiates (eager here: no compilation per spelling)
    adapter = model_adapter(_norm_model(keyword, true_in_training))
    assert adapter.mode_kwargs(True) == {keyword: true_in_training}
    params, model_state = adapter.init(jax.random.key(0), X)
    _, trained = adapter.apply(params, model_state, X, jax.random.key(1), train=True)
    _, evaluated = adapter.apply(params, model_state, X, None, train=False)
    np.testing.assert_allclose(trained["batch_stats"]["BatchNorm_0"]["mean"], 0.5 * X.mean(0), rtol=1e-5)
    assert evaluated is model_state and np.all(model_state["batch_stats"]["BatchNorm_0"]["mean"] == 0)


def test_trainer_step_updates_batch_stats_of_a_training_keyword_model():
    # the case of the issue: __call__(x, training=False) was called in eval mode by step
    trainer = Trainer(_norm_model("training", True), optax.sgd(0.1), _loss, compiler_options=None)
    before, after = _mean_after_step(trainer)
    np.testing.assert_allclose(after, 0.5 * X.mean(0), rtol=1e-5)
    assert np.all(before == 0)


class Custom(nn.Module):
    @nn.compact
    def __call__(self, x, update: bool = False, drop: bool = True):
        x = nn.BatchNorm(use_running_average=not update, momentum=0.5)(x)
        return nn.Dropout(0.5, deterministic=drop)(x)


@pytest.mark.parametrize("train_kwarg", ["update", ("update", True)])
def test_explicit_train_kwarg(train_kwarg):
    trainer = Trainer(Custom(), optax.sgd(0.1), _loss, train_kwarg=train_kwarg, compiler_options=None)
    _, after = _mean_after_step(trainer)
    np.testing.assert_allclose(after, 0.5 * X.mean(0), rtol=1e-5)
    adapter = LinenAdapter(Custom(), train_kwarg=("drop", False))
    assert adapter.mode_kwargs(True) == {"drop": False} and adapter.mode_kwargs(False) == {"drop": True}


class Plain(nn.Module):
    @nn.compact
    def __call__(self, x, flag: bool = False):
        return nn.Dense(2)(x)


class NormNoFlag(nn.Module):
    @nn.compact
    def __call__(self, x, flag: bool = False):
        return nn.BatchNorm(use_running_average=not flag)(x)


class DropNoFlag(nn.Module):
    @nn.compact
    def __call__(self, x, flag: bool = False):
        return nn.Dropout(0.3, deterministic=not flag)(nn.Dense(2)(x))


@pytest.mark.parametrize("model, found", [(NormNoFlag(), "batch_stats"), (DropNoFlag(), "dropout layers")])
def test_model_with_state_or_dropout_and_no_flag_is_refused_at_init(model, found):
    trainer = Trainer(model, optax.sgd(0.1), _loss, compiler_options=None)
    with pytest.raises(ValueError, match=f"train_kwarg: {type(model).__name__} has .*{found}"):
        trainer.init(jax.random.key(0), BATCH)
    # the fix the message names
    trainer = Trainer(model, optax.sgd(0.1), _loss, train_kwarg="flag", compiler_options=None)
    state = trainer.init(jax.random.key(0), BATCH)
    trainer.step(state, BATCH)
    # the explicit opt-out: the model switches modes by other means
    Trainer(model, optax.sgd(0.1), _loss, train_kwarg=False, compiler_options=None).init(jax.random.key(0), BATCH)


def test_model_without_state_or_dropout_needs_no_flag():
    trainer = Trainer(Plain(), optax.sgd(0.1), _loss, compiler_options=None)
    state = trainer.init(jax.random.key(0), BATCH)
    assert trainer.adapter.mode_kwargs(True) == {}
    trainer.step(state, BATCH)


def test_bad_train_kwarg_names_the_argument():
    with pytest.raises(ValueError, match="train_kwarg names 'training'.*keywords are \\['flag', 'x'\\]"):
        Trainer(Plain(), optax.sgd(0.1), _loss, train_kwarg="training")
    with pytest.raises(TypeError, match="train_kwarg must be"):
        LinenAdapter(Plain(), train_kwarg=("flag", "yes"))
    with pytest.raises(TypeError, match="train_kwarg must be"):
        LinenAdapter(Plain(), train_kwarg=True)

    class Both(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool = False, deterministic: bool = True):
            return x

    with pytest.raises(ValueError, match=r"several train/eval keywords \['train', 'deterministic'\]"):
        model_adapter(Both())
    assert model_adapter(Both(), train_kwarg="train").mode_kwargs(False) == {"train": False}
    from flax import nnx

    with pytest.raises(TypeError, match="train_kwarg applies to flax.linen models only"):
        Trainer(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), optax.sgd(0.1), _loss, train_kwarg="train")
