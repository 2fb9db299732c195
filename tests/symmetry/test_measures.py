"""Tests for the measures of symmetry in symjax.symmetry."""

from types import SimpleNamespace

import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from jax.flatten_util import ravel_pytree

from symjax import actions, geometry, groups
from symjax.symmetry import (
    EquivarianceError,
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
    sparsity,
)

SHIFT = SimpleNamespace(order=5, name="Z5")


def shift(G, g, x):
    return jnp.roll(x, g, axis=-1)


# ---- equivariance ------------------------------------------------------------------------------


def test_equivariance_error_zero_for_equivariant_and_positive_otherwise():
    x = jax.random.normal(jax.random.key(0), (3, 5))
    assert float(equivariance_error(jnp.tanh, SHIFT, x, shift, shift)) == 0.0
    broken = lambda x: x.at[..., 0].mul(2.0)  # noqa: E731
    assert float(equivariance_error(broken, SHIFT, x, shift, shift)) > 0.1
    invariant = lambda x: jnp.sum(x, axis=-1)  # noqa: E731
    identity = lambda G, g, y: y  # noqa: E731
    assert float(equivariance_error(invariant, SHIFT, x, shift, identity)) < 1e-6


def test_equivariance_error_is_relative_and_jittable():
    x = jax.random.normal(jax.random.key(1), (5,))
    broken = lambda x: x.at[0].mul(2.0)  # noqa: E731
    err = equivariance_error(broken, SHIFT, x, shift, shift)
    scaled = equivariance_error(broken, SHIFT, 1000.0 * x, shift, shift)
    np.testing.assert_allclose(err, scaled, rtol=1e-5)
    jitted = jax.jit(lambda x: equivariance_error(broken, SHIFT, x, shift, shift))(x)
    np.testing.assert_allclose(jitted, err, rtol=1e-6)
    zero = lambda x: jnp.zeros_like(x)  # noqa: E731
    assert float(equivariance_error(zero, SHIFT, x, shift, shift)) == 0.0


def test_equivariance_with_real_groups_and_actions():
    G = groups.dihedral(4)
    x = jax.random.normal(jax.random.key(2), (2, 5, 5, 3))
    pointwise = lambda x: jax.nn.relu(x) * 2.0  # noqa: E731
    assert float(equivariance_error(pointwise, G, x, actions.on_image, actions.on_image)) == 0.0
    errors = check_equivariance(pointwise, G, x, actions.on_image, actions.on_image)
    assert errors.shape == (G.order,)
    ramp = jnp.arange(5.0)[:, None, None]
    not_equivariant = lambda x: x * ramp  # noqa: E731  (a height-dependent gain)
    with pytest.raises(EquivarianceError) as info:
        check_equivariance(not_equivariant, G, x, actions.on_image, actions.on_image)
    report = str(info.value)
    assert "D4" in report or "dihedral" in report.lower() or G.name in report
    for g in range(G.order):
        assert f"\n  {g:>7} | " in report
    assert "<- above tol" in report
    # the identity never fails: its line carries no mark
    assert f"\n  {0:>7} | 0.000e+00\n" in report


def test_check_equivariance_is_an_assertion_error_and_checks_tol():
    x = jnp.arange(5.0)
    assert issubclass(EquivarianceError, AssertionError)
    with pytest.raises(ValueError, match="tol"):
        check_equivariance(jnp.tanh, SHIFT, x, shift, shift, tol=-1.0)
    loose = check_equivariance(lambda x: x.at[0].add(1e-3), SHIFT, x, shift, shift, tol=1e-2)
    assert loose.max() > 0


def test_l2_norm_is_the_relative_euclidean_distance():
    x = jax.random.normal(jax.random.key(3), (2, 5))
    broken = lambda x: x.at[..., 0].mul(2.0)  # noqa: E731
    y = broken(x)
    expected = [jnp.linalg.norm(broken(shift(SHIFT, g, x)) - shift(SHIFT, g, y)) / jnp.linalg.norm(y)
                for g in range(SHIFT.order)]
    per_element = equivariance_error(broken, SHIFT, x, shift, shift, norm="l2", reduce=None)
    np.testing.assert_allclose(per_element, expected, rtol=1e-6)
    np.testing.assert_allclose(equivariance_error(broken, SHIFT, x, shift, shift, norm="l2"), max(expected),
                               rtol=1e-6)
    np.testing.assert_allclose(equivariance_error(broken, SHIFT, 1e3 * x, shift, shift, norm="l2"), max(expected),
                               rtol=1e-5)


def test_reduce_gives_per_element_max_and_mean():
    x = jax.random.normal(jax.random.key(4), (5,))
    broken = lambda x: x.at[0].mul(2.0)  # noqa: E731
    per_element = equivariance_error(broken, SHIFT, x, shift, shift, reduce=None)
    assert per_element.shape == (SHIFT.order,) and float(per_element[0]) == 0.0
    assert float(equivariance_error(broken, SHIFT, x, shift, shift)) == float(per_element.max())
    np.testing.assert_allclose(equivariance_error(broken, SHIFT, x, shift, shift, reduce="mean"), per_element.mean(),
                               rtol=1e-6)
    np.testing.assert_array_equal(check_equivariance(broken, SHIFT, x, shift, shift, tol=10.0), per_element)


def test_mask_restricts_difference_and_reference_alike():
    x = jax.random.normal(jax.random.key(5), (5,))
    inside = jnp.array([1, 1, 1, 0, 0])
    broken_outside = lambda x: x.at[4].set(7.0)  # noqa: E731  (wrong only where the mask is zero)
    identity = lambda G, g, y: y  # noqa: E731
    assert float(equivariance_error(broken_outside, SHIFT, x, identity, identity)) == 0.0
    wrong = lambda x: x * jnp.arange(1.0, 6.0)  # noqa: E731
    masked = equivariance_error(wrong, SHIFT, x, shift, shift, mask=inside, reduce=None)
    y = wrong(x)
    for norm, size in (("max", lambda a: jnp.max(jnp.abs(a))), ("l2", jnp.linalg.norm)):
        expected = [size((wrong(shift(SHIFT, g, x)) - shift(SHIFT, g, y))[:3]) / size(y[:3]) for g in range(5)]
        np.testing.assert_allclose(equivariance_error(wrong, SHIFT, x, shift, shift, norm=norm, mask=inside,
                                                      reduce=None), expected, rtol=1e-6)
    np.testing.assert_array_equal(masked, equivariance_error(wrong, SHIFT, x, shift, shift, mask=inside > 0,
                                                             reduce=None))
    # entries outside the mask, however large, count in neither the difference nor the reference
    Z2 = SimpleNamespace(order=2, name="Z2")
    flip = lambda G, g, x: jnp.where(g == 1, -x, x)  # noqa: E731  (acts entry by entry)
    square = lambda x: x ** 2 + 1.0  # noqa: E731  (not odd: not equivariant under the flip)
    loud = lambda x: square(x) * jnp.array([1.0, 1.0, 1.0, 1e6, 1e6])  # noqa: E731
    np.testing.assert_allclose(equivariance_error(loud, Z2, x, flip, flip, mask=inside, reduce=None),
                               equivariance_error(square, Z2, x[:3], flip, flip, reduce=None), rtol=1e-6)
    traced = jax.jit(lambda x, m: equivariance_error(wrong, SHIFT, x, shift, shift, mask=m, reduce=None))(x, inside)
    np.testing.assert_allclose(traced, masked, rtol=1e-6, atol=1e-6)


def test_act_out_none_measures_invariance():
    x = jax.random.normal(jax.random.key(6), (3, 5))
    identity = lambda G, g, y: y  # noqa: E731
    for f in (lambda x: jnp.sum(x ** 2, axis=-1), lambda x: x[..., 0]):
        np.testing.assert_array_equal(equivariance_error(f, SHIFT, x, shift, None, reduce=None),
                                      equivariance_error(f, SHIFT, x, shift, identity, reduce=None))
    with pytest.raises(EquivarianceError, match="not invariant under Z5") as info:
        check_equivariance(lambda x: x[..., 0], SHIFT, x, shift, None)
    assert "<- above tol" in str(info.value)


def test_options_are_checked():
    x = jnp.arange(5.0)
    with pytest.raises(ValueError, match="norm must be one of .*got 'l1'"):
        equivariance_error(jnp.tanh, SHIFT, x, shift, shift, norm="l1")
    with pytest.raises(ValueError, match="reduce must be one of .*got 'sum'"):
        equivariance_error(jnp.tanh, SHIFT, x, shift, shift, reduce="sum")
    shapes = r"mask must broadcast against the output of f, of shape \(5,\), got shape \(3,\)"
    with pytest.raises(ValueError, match=shapes):
        equivariance_error(jnp.tanh, SHIFT, x, shift, shift, mask=jnp.ones(3))
    with pytest.raises(ValueError, match=r"mask .* got shape \(2, 5\)"):
        check_equivariance(jnp.tanh, SHIFT, x, shift, shift, mask=jnp.ones((2, 5)))


def test_check_equivariance_names_the_worst_element_and_the_norm():
    x = jnp.arange(1.0, 6.0)
    gain = jnp.array([1.0, 1.0, 1.0, 1.0, 3.0])
    with pytest.raises(EquivarianceError) as info:
        check_equivariance(lambda x: x * gain, SHIFT, x, shift, shift, norm="l2")
    report = str(info.value)
    errors = equivariance_error(lambda x: x * gain, SHIFT, x, shift, shift, norm="l2", reduce=None)
    worst = int(jnp.argmax(errors))
    assert f"worst: element {worst} (relative L2 error {float(errors[worst]):.3e})" in report
    assert "element | relative L2 error" in report


def test_exact_groups_act_exactly_on_disc_images(exact_group, equivariance, arrays):
    G = exact_group
    x = arrays.disc_image(7, batch=2, channels=3)
    disc = geometry.disc_mask(7, 7, margin=1)[:, :, None]
    assert float(jnp.max(jnp.abs(x * (1 - disc)))) == 0.0
    for options in ({}, {"norm": "l2"}, {"norm": "l2", "mask": disc}):
        assert equivariance.assert_equivariant(jax.nn.relu, G, x, actions.on_image, actions.on_image,
                                               **options).max() == 0.0
    pooled = lambda x: jnp.sum(x, axis=(-3, -2))  # noqa: E731
    assert equivariance.error(pooled, G, x, actions.on_image, None) <= equivariance.TOL


def test_interpolated_rotations_are_measured_in_the_disc(equivariance, arrays):
    C8 = groups.cyclic(8)
    x = arrays.disc_image(15, channels=2)
    disc = geometry.disc_mask(15, 15, margin=1)[:, :, None]
    errors = equivariance.errors(jnp.tanh, C8, x, actions.on_image, actions.on_image, norm="l2", mask=disc)
    assert errors.shape == (8,)
    np.testing.assert_array_less(errors[::2], equivariance.TOL)  # multiples of 90 degrees permute the grid
    assert np.all((1e-4 < errors[1::2]) & (errors[1::2] < 0.5))
    with pytest.raises(AssertionError, match="worst: element [1357]"):
        equivariance.assert_equivariant(jnp.tanh, C8, x, actions.on_image, actions.on_image, norm="l2", mask=disc)


# ---- ranks -------------------------------------------------------------------------------------


def test_ranks_of_simple_matrices():
    assert float(effective_rank(jnp.eye(6))) == pytest.approx(6.0, rel=1e-5)
    assert float(effective_rank(jnp.zeros((3, 3)))) == 0.0
    assert int(numerical_rank(jnp.zeros((3, 3)))) == 0
    m = jnp.diag(jnp.array([2.0, 1.0, 1e-7, 0.0]))
    assert int(numerical_rank(m)) == 2
    assert int(numerical_rank(m, rtol=1e-8)) == 3
    assert float(low_rankness(m)) == 0.5
    assert float(low_rankness(jnp.eye(3))) == 0.0


@settings(max_examples=8, deadline=None)
@given(rank=st.integers(1, 6), seed=st.integers(0, 2**31 - 1), c=st.floats(1e-2, 1e2))
def test_rank_properties(rank, seed, c):
    ka, kb = jax.random.split(jax.random.key(seed))
    keep = (jnp.arange(6) < rank).astype(jnp.float32)  # fixed shapes: one compilation
    m = (jax.random.normal(ka, (8, 6)) * keep) @ jax.random.normal(kb, (6, 6))
    assert int(numerical_rank(m)) == rank
    assert float(low_rankness(m)) == pytest.approx(1 - rank / 6)
    er = float(effective_rank(m))
    assert 1.0 - 1e-5 <= er <= rank + 1e-4
    assert float(effective_rank(c * m)) == pytest.approx(er, rel=1e-4)  # scale invariant
    assert float(effective_rank(m.T)) == pytest.approx(er, rel=1e-4)


def test_ranks_reject_non_matrices_and_jit():
    with pytest.raises(ValueError, match="m must be a 2-D matrix"):
        numerical_rank(jnp.ones(3))
    with pytest.raises(ValueError, match="m must be a 2-D matrix"):
        effective_rank(jnp.ones((2, 2, 2)))
    m = jnp.diag(jnp.array([1.0, 0.5, 0.0]))
    assert int(jax.jit(numerical_rank)(m)) == 2
    assert float(jax.jit(low_rankness)(m)) == pytest.approx(1 / 3)
    batched = jax.vmap(effective_rank)(jnp.stack([jnp.eye(3), m]))
    assert batched.shape == (2,)


# ---- sparsity and neurons ----------------------------------------------------------------------


def test_sparsity_counts_floating_entries_only():
    params = {"w": jnp.array([[0.0, 1e-8], [1.0, -2.0]]), "n": jnp.array([0, 0, 0]), "none": None}
    assert float(sparsity(params)) == 0.5
    assert float(sparsity(params, atol=1.5)) == 0.75
    assert float(jax.jit(sparsity)(params)) == 0.5
    with pytest.raises(ValueError, match="params"):
        sparsity({"n": jnp.array([1])})


def test_neuron_collapse_counts_distinct_neurons():
    w_in = jax.random.normal(jax.random.key(0), (4, 3))
    w_out = jax.random.normal(jax.random.key(1), (3, 2))
    assert int(neuron_collapse(w_in, w_out)) == 3
    dup_in = jnp.concatenate([w_in, w_in[:, :1], w_in[:, 1:2] + 1e-7], axis=1)
    dup_out = jnp.concatenate([w_out, w_out[:1], w_out[1:2]], axis=0)
    assert int(neuron_collapse(dup_in, dup_out)) == 3
    assert int(neuron_collapse(dup_in, dup_out, atol=0.0)) == 4
    perm = jnp.array([4, 2, 0, 3, 1])
    assert int(jax.jit(neuron_collapse)(dup_in[:, perm], dup_out[perm])) == 3
    # a neuron whose outgoing weights differ is a different neuron
    assert int(neuron_collapse(dup_in, dup_out.at[3, 0].add(1.0))) == 4


def test_neuron_distance_is_the_pair_mirror_distance():
    w_in = jax.random.normal(jax.random.key(0), (3, 4))
    w_out = jax.random.normal(jax.random.key(1), (4, 2))
    params = {"w_in": w_in, "w_out": w_out}
    swap = jnp.arange(4).at[jnp.array([1, 3])].set(jnp.array([3, 1]))
    n = w_in.size + w_out.size
    # P = (I - S) / 2 with S the permutation of the flattened entries that swaps neurons 1 and 3.
    index = {
        "w_in": jnp.arange(w_in.size).reshape(w_in.shape)[:, swap],
        "w_out": w_in.size + jnp.arange(w_out.size).reshape(w_out.shape)[swap],
    }
    flat_index = ravel_pytree(index)[0].astype(int)
    S = jnp.eye(n)[flat_index]
    P = 0.5 * (jnp.eye(n) - S)
    np.testing.assert_allclose(mirror_distance(params, P), neuron_distance(w_in, w_out, 1, 3), rtol=1e-5)

    def act(g, p):  # Z2 acting by the swap
        swapped = {"w_in": p["w_in"][:, swap], "w_out": p["w_out"][swap]}
        return jax.tree.map(lambda a, b: jnp.where(g == 1, b, a), p, swapped)

    np.testing.assert_allclose(
        distance_to_symmetric(params, act, jnp.arange(2)), neuron_distance(w_in, w_out, 1, 3), rtol=1e-5
    )


def test_neuron_shapes_are_checked():
    with pytest.raises(ValueError, match="w_in"):
        neuron_collapse(jnp.ones((3, 4)), jnp.ones((5, 2)))
    with pytest.raises(ValueError, match="w_out"):
        neuron_distance(jnp.ones((3, 4)), jnp.ones(4), 0, 1)


# ---- neural collapse, mirrors, group-symmetric states ------------------------------------------


def test_neural_collapse():
    means = jnp.eye(3) * 4.0
    labels = jnp.repeat(jnp.arange(3), 10)
    collapsed = means[labels]
    assert float(neural_collapse(collapsed, labels)) == pytest.approx(0.0, abs=1e-6)
    noisy = collapsed + 0.5 * jax.random.normal(jax.random.key(0), collapsed.shape)
    noisier = collapsed + 2.0 * jax.random.normal(jax.random.key(0), collapsed.shape)
    nc1 = float(neural_collapse(noisy, labels))
    assert 0 < nc1 < float(neural_collapse(noisier, labels))
    jitted = jax.jit(neural_collapse, static_argnums=2)(noisy, labels, 3)
    np.testing.assert_allclose(jitted, nc1, rtol=1e-5)
    with pytest.raises(ValueError, match="labels"):
        neural_collapse(noisy, labels[:-1])


def test_mirror_distance_checks_the_projection():
    params = {"a": jnp.ones(2), "b": jnp.zeros(())}
    assert float(mirror_distance(params, jnp.zeros((3, 3)))) == 0.0
    np.testing.assert_allclose(mirror_distance(params, jnp.eye(3)), jnp.sqrt(2.0))
    with pytest.raises(ValueError, match="projection"):
        mirror_distance(params, jnp.eye(2))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_distance_to_symmetric_under_a_cyclic_group(seed):
    theta = jax.random.normal(jax.random.key(seed), (4, 3))
    G = groups.cyclic(4)
    act = lambda g, w: jnp.roll(w, g, axis=0)  # noqa: E731  (C4 permuting the 4 rows)
    elements = jnp.arange(G.order)
    dist = distance_to_symmetric(theta, act, elements)
    np.testing.assert_allclose(dist, jnp.linalg.norm(theta - theta.mean(0)), rtol=1e-5)
    symmetric = theta.mean(0, keepdims=True) * jnp.ones((4, 1))
    assert float(distance_to_symmetric(symmetric, act, elements)) < 1e-5
    # the Reynolds average is symmetric: its distance is 0
    average = jnp.mean(jax.vmap(lambda g: act(g, theta))(elements), axis=0)
    assert float(distance_to_symmetric(average, act, elements)) < 1e-5


def test_distance_to_symmetric_checks_elements():
    with pytest.raises(ValueError, match="elements"):
        distance_to_symmetric(jnp.ones(3), lambda g, p: p, jnp.zeros((0,), int))
