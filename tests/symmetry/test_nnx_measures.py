"""The measures of equivariance on NNX modules: measured on a copy, the user's module never changes."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import symjax.nnx as snnx
from symjax import actions, groups
from symjax.symmetry import check_equivariance, equivariance_error

C4 = groups.cyclic(4)


class Net(nnx.Module):
    """Lifting conv + group batch norm: equivariant under C4 in train and eval mode."""

    def __init__(self, rngs):
        self.conv = snnx.LiftingConv(C4, 1, 3, rngs=rngs)
        self.bn = snnx.GroupBatchNorm(3, rngs=rngs)

    def __call__(self, x):
        return self.bn(self.conv(x))

    def features(self, x):
        return self.conv(x)


def snapshot(model):
    return [np.asarray(leaf) for leaf in jax.tree.leaves(nnx.state(model))]


def assert_unchanged(model, before):
    after = snapshot(model)
    assert len(after) == len(before)
    assert all(np.array_equal(a, b) for a, b in zip(after, before))


@pytest.fixture
def model():
    return Net(nnx.Rngs(0))


@pytest.fixture
def x():
    return jax.random.normal(jax.random.key(1), (2, 9, 9, 1))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_module_state_is_unchanged_after_measuring(model, x, mode):
    model.bn.mean[...] = jnp.full((3,), 0.5)  # running statistics that train mode would move
    getattr(model, mode)()
    before = snapshot(model)
    error = equivariance_error(model, C4, x, actions.on_image, actions.on_group_image)
    assert float(error) < 1e-5
    check_equivariance(model, C4, x, actions.on_image, actions.on_group_image)
    assert_unchanged(model, before)
    assert model.bn.use_running_average == (mode == "eval")


def test_train_mode_measures_batch_statistics_of_the_batch(model, x):
    model.bn.mean[...] = jnp.full((3,), 5.0)  # eval mode would subtract these stale statistics
    model.train()
    errors = equivariance_error(model, C4, x, actions.on_image, actions.on_group_image, reduce=None)
    assert errors.shape == (4,) and float(jnp.max(errors)) < 1e-5


def test_bound_method_and_jit_of_the_measure(model, x):
    model.train()
    before = snapshot(model)
    measure = jax.jit(lambda x: equivariance_error(model.features, C4, x, actions.on_image, actions.on_group_image))
    assert float(measure(x)) < 1e-5
    assert_unchanged(model, before)


def test_nnx_jit_closing_over_an_eval_module_works(model, x):
    model.eval()
    f = nnx.jit(lambda x: model(x))
    assert float(equivariance_error(f, C4, x, actions.on_image, actions.on_group_image)) < 1e-5


@pytest.mark.parametrize("make_f", [
    pytest.param(lambda model: functools.partial(nnx.jit(lambda module, x: module(x)), model), id="nnx.jit(module, x)"),
    pytest.param(lambda model: (lambda x: model(x)), id="closure in train mode"),
])
def test_functions_writing_nnx_state_get_a_clear_error_and_leave_the_module_intact(model, x, make_f):
    model.train()
    before = snapshot(model)
    with pytest.raises(TypeError, match=r"pass the module itself .*nnx\.split\(model\)"):
        equivariance_error(make_f(model), C4, x, actions.on_image, actions.on_group_image)
    assert_unchanged(model, before)
    model.eval()
    assert model(x).shape == (2, 9, 9, 3, 4)
