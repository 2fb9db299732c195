"""equivariant_linear: equivariance for finite and Lie groups (eager and jit), the formula, init, bad input."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symjax import actions, groups
from symjax.functional._equivariant_linear import equivariant_linear, equivariant_linear_init
from symjax.groups._reps import Regular, Standard, Trivial, equivariant_basis, invariant_basis

D4, O3, SO3 = groups.dihedral(4), groups.O(3), groups.SO(3)

FINITE = [
    (Regular(D4), Regular(D4) + Standard(D4) + Trivial(D4)),
    (Standard(D4) * Standard(D4), 2 * Standard(D4) + Trivial(D4)),
    (Standard(groups.symmetric(4)), Standard(groups.symmetric(4))),
]
LIE = [
    (Standard(O3) * Standard(O3) + Standard(O3), Standard(O3) + Trivial(O3)),
    (Standard(SO3) * Standard(SO3), 2 * Standard(SO3) + Trivial(SO3)),
    (3 * Standard(O3) + Trivial(O3), Standard(O3) * Standard(O3)),
]


def _layer_args(rep_in, rep_out, seed):
    """float32 inputs, coefficients and an invariant bias drawn in NumPy (no compilation per shape)."""
    basis = equivariant_basis(rep_in, rep_out)
    inv = invariant_basis(rep_out)
    rng = np.random.default_rng(seed)
    coeffs = rng.normal(size=len(basis)).astype(np.float32)
    bias = (rng.normal(size=len(inv)) @ inv).astype(np.float32)
    x = rng.normal(size=(5, rep_in.dim)).astype(np.float32)
    return x, coeffs, basis, bias


def _check_equivariant(rep_in, rep_out, r_in, r_out, seed):
    """``f(x rho_in(g)^T) == f(x) rho_out(g)^T`` for the stacked ``(m, d, d)`` matrices, under jit."""
    x, coeffs, basis, bias = _layer_args(rep_in, rep_out, seed)
    f = jax.jit(lambda x, c, b: equivariant_linear(x, c, basis, b))
    moved = np.einsum("gij,nj->gni", r_in, x).astype(np.float32)
    expected = np.einsum("gij,nj->gni", r_out, np.asarray(f(x, coeffs, bias), np.float64))
    np.testing.assert_allclose(f(moved, coeffs, bias), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("rep_in, rep_out", FINITE, ids=repr)
def test_equivariant_for_every_element(rep_in, rep_out):
    _check_equivariant(rep_in, rep_out, rep_in.matrices, rep_out.matrices, 0)


@pytest.mark.parametrize("rep_in, rep_out", LIE, ids=repr)
def test_equivariant_for_sampled_lie_elements(rep_in, rep_out):
    R = np.asarray(rep_in.group.sample(jax.random.key(2), (4,)), np.float64)
    _check_equivariant(rep_in, rep_out, rep_in._build(R, np), rep_out._build(R, np), 1)


@settings(max_examples=5)
@given(seed=st.integers(0, 2 ** 16))
def test_vector_map_commutes_with_on_vectors(seed):
    V = Standard(O3)
    basis = equivariant_basis(2 * V, 3 * V)
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    coeffs = jax.random.normal(k1, (len(basis),))
    R = O3.sample(k2)
    pts = jax.random.normal(k3, (7, 2, 3))  # 7 points, 2 vector channels each

    def f(p):
        return equivariant_linear(p.reshape(7, 6), coeffs, basis).reshape(7, 3, 3)

    np.testing.assert_allclose(f(actions.on_vectors(O3, R, pts)), actions.on_vectors(O3, R, f(pts)),
                               atol=1e-5, rtol=1e-5)


def test_formula_and_grad():
    rep_in, rep_out = Regular(D4), Standard(D4) + Trivial(D4)
    x, coeffs, basis, bias = _layer_args(rep_in, rep_out, 3)
    W = np.tensordot(np.asarray(coeffs, np.float64), basis, axes=1)
    y = equivariant_linear(x, coeffs, basis, bias)  # eager
    np.testing.assert_allclose(y, x @ W.T + bias, atol=1e-5)
    g = rep_in.matrices[5]
    np.testing.assert_allclose(equivariant_linear(x @ g.T, coeffs, basis, bias), y @ rep_out.matrices[5].T, atol=1e-5)
    assert equivariant_linear(x[0], coeffs, basis).shape == (rep_out.dim,)
    g = jax.grad(lambda c: equivariant_linear(x, c, basis).sum())(coeffs)
    np.testing.assert_allclose(g, np.einsum("koi,ni->k", basis, x), atol=1e-4)


def test_complex_representations():
    U = Standard(groups.SU(2))
    basis = equivariant_basis(U * U, U * U)
    x = jax.random.normal(jax.random.key(0), (3, 4))
    y = equivariant_linear(x, jnp.ones(len(basis)), basis)
    assert jnp.iscomplexobj(y) and y.shape == (3, 4)
    g = (U * U).rho(groups.SU(2).sample(jax.random.key(1)))
    np.testing.assert_allclose(equivariant_linear(x.astype(jnp.complex64) @ g.T, jnp.ones(len(basis)), basis),
                               y @ g.T, atol=1e-5)


def test_init_preserves_variance():
    V = Standard(O3)
    basis = equivariant_basis(16 * V, 16 * V)
    x = jax.random.normal(jax.random.key(0), (512, 48))
    keys = jax.random.split(jax.random.key(1), 64)
    variances = jax.vmap(lambda k: jnp.var(equivariant_linear(x, equivariant_linear_init(k, basis), basis)))(keys)
    assert 0.8 < float(jnp.mean(variances)) < 1.2
    assert equivariant_linear_init(jax.random.key(0), basis, jnp.bfloat16).dtype == jnp.bfloat16
    empty = equivariant_basis(Standard(O3), Trivial(O3))
    assert equivariant_linear_init(jax.random.key(0), empty).shape == (0,)
    np.testing.assert_array_equal(equivariant_linear(jnp.ones((2, 3)), jnp.zeros(0), empty), 0.0)


def test_bad_input():
    basis = equivariant_basis(Standard(O3), 2 * Standard(O3))
    with pytest.raises(ValueError, match="x of shape \\(..., dim_in=3\\), got \\(2, 4\\)"):
        equivariant_linear(jnp.ones((2, 4)), jnp.ones(2), basis)
    with pytest.raises(ValueError, match="coeffs of shape \\(k,\\) = \\(2,\\).*got \\(3,\\)"):
        equivariant_linear(jnp.ones((2, 3)), jnp.ones(3), basis)
    with pytest.raises(ValueError, match="bias of shape \\(dim_out,\\) = \\(6,\\), got \\(3,\\)"):
        equivariant_linear(jnp.ones((2, 3)), jnp.ones(2), basis, jnp.ones(3))
    with pytest.raises(ValueError, match="basis of shape \\(k, dim_out, dim_in\\), got \\(6, 3\\)"):
        equivariant_linear(jnp.ones((2, 3)), jnp.ones(2), basis[0])
    with pytest.raises(ValueError, match="basis of shape"):
        equivariant_linear_init(jax.random.key(0), [1.0, 2.0])
