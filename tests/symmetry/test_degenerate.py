"""Degenerate inputs to the measures and to syre: a clear error naming the argument, or the natural result."""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax.symmetry import (
    check_equivariance,
    distance_to_symmetric,
    effective_rank,
    equivariance_error,
    low_rankness,
    mirror_distance,
    neural_collapse,
    neuron_collapse,
    neuron_distance,
    numerical_rank,
    remove_symmetry,
    sparsity,
)

Z2 = SimpleNamespace(order=2, name="Z2")


def flip(G, g, x):
    return jnp.where(g == 1, -x, x)


# ---- equivariance ------------------------------------------------------------------------------


@pytest.mark.parametrize("G, error", [
    (None, TypeError), (SimpleNamespace(order="4"), TypeError), (SimpleNamespace(order=0), ValueError),
], ids=["None", "order not an int", "order 0"])
def test_equivariance_error_names_G_when_it_is_not_a_group(G, error):
    with pytest.raises(error, match=r"^G must"):
        equivariance_error(lambda x: x, G, jnp.ones(3), flip, flip)


@pytest.mark.parametrize("arguments, name", [
    ((None, flip, flip), "f"), ((jnp.sin, None, flip), "act_in"), ((jnp.sin, flip, "identity"), "act_out"),
], ids=["f", "act_in", "act_out"])
def test_equivariance_error_names_what_is_not_callable(arguments, name):
    f, act_in, act_out = arguments
    with pytest.raises(TypeError, match=rf"^{name} must be a callable"):
        equivariance_error(f, Z2, jnp.ones(3), act_in, act_out)


def test_check_equivariance_names_a_tol_that_is_not_a_number():
    with pytest.raises(TypeError, match="^tol must be a non-negative number, got None"):
        check_equivariance(jnp.sin, Z2, jnp.ones(3), flip, flip, tol=None)


# ---- matrices and weights ----------------------------------------------------------------------


@pytest.mark.parametrize("call, name", [
    pytest.param(lambda: effective_rank(None), "m", id="effective_rank"),
    pytest.param(lambda: numerical_rank(None), "m", id="numerical_rank"),
    pytest.param(lambda: low_rankness(None), "m", id="low_rankness"),
    pytest.param(lambda: neuron_collapse(None, jnp.ones((3, 2))), "w_in", id="neuron_collapse"),
    pytest.param(lambda: neuron_distance(jnp.ones((3, 2)), None, 0, 1), "w_out", id="neuron_distance"),
    pytest.param(lambda: neural_collapse(None, jnp.zeros(3, int)), "features", id="neural_collapse features"),
    pytest.param(lambda: neural_collapse(jnp.ones((3, 2)), None), "labels", id="neural_collapse labels"),
    pytest.param(lambda: mirror_distance({"a": jnp.ones(2)}, None), "projection", id="mirror_distance"),
    pytest.param(lambda: distance_to_symmetric(jnp.ones(2), lambda g, p: p, None), "elements",
                 id="distance_to_symmetric"),
])
def test_a_missing_array_is_named(call, name):
    with pytest.raises(TypeError, match=rf"^{name} must be an array, got None"):
        call()


def test_ranks_of_an_empty_matrix():
    empty = jnp.zeros((0, 3))
    assert int(numerical_rank(empty)) == 0
    assert float(effective_rank(empty)) == 0.0
    with pytest.raises(ValueError, match=r"^m must have at least one row and one column, got shape \(0, 3\)"):
        low_rankness(empty)


@pytest.mark.parametrize("call, name", [
    pytest.param(lambda: numerical_rank(jnp.eye(3), rtol=-1.0), "rtol", id="numerical_rank"),
    pytest.param(lambda: low_rankness(jnp.eye(3), rtol=-1.0), "rtol", id="low_rankness"),
    pytest.param(lambda: sparsity({"w": jnp.ones(3)}, atol=-1.0), "atol", id="sparsity"),
    pytest.param(lambda: neuron_collapse(jnp.ones((2, 3)), jnp.ones((3, 2)), atol=-1.0), "atol", id="neuron_collapse"),
])
def test_negative_tolerances_are_refused(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must be a non-negative number"):
        call()


def test_sparsity_refuses_params_without_floating_entries():
    with pytest.raises(ValueError, match="^params must contain at least one floating entry"):
        sparsity({"w": jnp.zeros((0, 4)), "step": jnp.array(3)})
    assert float(sparsity({"w": 0.0, "b": 1.0})) == 0.5  # Python floats are floating entries


def test_no_hidden_neurons_are_zero_distinct_neurons():
    assert int(neuron_collapse(jnp.ones((2, 0)), jnp.ones((0, 3)))) == 0


@pytest.mark.parametrize("i, j, name", [(0, 5, "j"), (-3, 1, "i")])
def test_neuron_distance_refuses_indices_out_of_range(i, j, name):
    with pytest.raises(ValueError, match=rf"^{name} must be an index in \[-2, 2\)"):
        neuron_distance(jnp.ones((1, 2)), jnp.ones((2, 1)), i, j)


FEATURES = jnp.eye(3)


@pytest.mark.parametrize("features, labels, num_classes, error, match", [
    (jnp.zeros((0, 2)), jnp.zeros(0, int), None, ValueError, "features must have at least one row"),
    (FEATURES, jnp.array([0, 0, 2]), None, ValueError, r"every class in \[0, 3\), missing \[1\]"),
    (FEATURES, jnp.array([0.0, 1.0, 1.0]), None, TypeError, "labels must be integers"),
    (FEATURES, jnp.array([0, -1, 1]), None, ValueError, r"labels must lie in \[0, 2\)"),
    (FEATURES, jnp.array([0, 1, 2]), 2, ValueError, r"labels must lie in \[0, 2\)"),
    (FEATURES, jnp.array([0, 0, 0]), None, ValueError, "at least two classes"),
], ids=["no rows", "missing class", "float labels", "negative label", "num_classes too small", "one class"])
def test_neural_collapse_refuses_degenerate_labels(features, labels, num_classes, error, match):
    with pytest.raises(error, match=match):
        neural_collapse(features, labels, num_classes)


def test_neural_collapse_under_jit_needs_num_classes():
    labels = jnp.array([0, 1, 1])
    with pytest.raises(TypeError, match="num_classes must be given"):
        jax.jit(neural_collapse)(FEATURES, labels)
    assert np.isfinite(jax.jit(neural_collapse, static_argnums=2)(FEATURES, labels, 2))


# ---- syre on Python scalars --------------------------------------------------------------------


def test_a_python_float_leaf_is_a_floating_leaf_for_apply_and_penalty():
    params = {"w": jnp.ones((2, 2)), "scale": 1.0, "step": 3}
    removal = remove_symmetry(jax.random.key(0), params, anisotropy=0.1)
    assert removal.offsets["scale"].shape == () and removal.offsets["step"] is None
    effective = removal.apply(params)
    assert float(effective["scale"]) == pytest.approx(1.0 + float(removal.offsets["scale"]))
    assert effective["step"] == 3
    expected = 0.5 * 0.1 * (float(jnp.sum(removal.decay["w"])) + float(removal.decay["scale"]))
    assert float(removal.penalty(params, 0.1)) == pytest.approx(expected, rel=1e-6)
    grads = jax.grad(lambda p: removal.penalty(p, 0.1))({"w": jnp.ones((2, 2)), "scale": 1.0, "step": 3.0})
    assert float(grads["scale"]) == pytest.approx(0.1 * float(removal.decay["scale"]), rel=1e-6)
    assert float(grads["step"]) == 0.0
