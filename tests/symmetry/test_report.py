"""check_equivariance's failure report names the likely cause, or lists the common ones and the guide."""

import warnings

import jax
import jax.numpy as jnp
import pytest
from flax import nnx

import symjax.nn as snn
import symjax.nnx as snnx
from symjax import actions, groups
from symjax.symmetry import EquivarianceError, check_equivariance

C4 = groups.cyclic(4)


def failure(f, G, x, act_in, act_out):
    with warnings.catch_warnings():  # the layers themselves may warn about the same configuration
        warnings.simplefilter("ignore")
        with pytest.raises(EquivarianceError) as info:
            check_equivariance(f, G, x, act_in, act_out)
    return str(info.value)


def nnx_layer():
    return snnx.LiftingConv(C4, 1, 2, strides=2, rngs=nnx.Rngs(0))


def linen_layer():
    layer = snn.LiftingConv(C4, 2, strides=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return layer.bind(layer.init(jax.random.key(0), jnp.ones((1, 8, 8, 1))))


@pytest.mark.parametrize("make", [nnx_layer, linen_layer], ids=["nnx", "linen"])
def test_a_strided_layer_on_an_off_centre_grid_is_named(make):
    x = jax.random.normal(jax.random.key(1), (1, 8, 8, 1))
    report = failure(make(), C4, x, actions.on_image, actions.on_group_image)
    assert "likely cause:\n  - height and width 8 with kernel 3, stride 2" in report
    assert "not centred on 3.5" in report


def test_a_layer_measured_under_another_group_is_named():
    layer = snnx.LiftingConv(C4, 1, 2, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(1), (1, 9, 9, 1))
    report = failure(layer, groups.cyclic(2), x, actions.on_image, lambda G, g, y: y)
    assert "f is a layer over C4, measured under C2" in report


def test_a_function_on_a_non_square_image_under_interpolated_rotations():
    x = jax.random.normal(jax.random.key(1), (1, 9, 11, 1))
    report = failure(lambda x: x ** 2, groups.cyclic(8), x, actions.on_image, actions.on_image)
    assert "likely causes:" in report
    assert "C8 is not exact on the pixel grid" in report and "the input is 9x11, not square" in report


def test_an_unknown_cause_lists_the_common_ones_and_the_guide():
    x = jax.random.normal(jax.random.key(1), (1, 9, 9, 1))
    report = failure(lambda x: jnp.cumsum(x, axis=1), C4, x, actions.on_image, actions.on_image)
    assert "common causes (see docs/layers.md" in report
    for cause in ("stride > 1", "even kernel", "non-square input", "not exact on the pixel grid", "train-mode batch statistics"):
        assert cause in report
