"""DeepSets layers: permutation equivariance and invariance, bad input."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symjax import actions
from symjax import functional as F


@settings(max_examples=10)
@given(n=st.sampled_from([1, 5]), seed=st.integers(0, 2**16))
def test_set_linear_permutation_equivariant(n, seed):
    rng = np.random.default_rng(seed)
    x, lam, gam, bias = (jnp.asarray(rng.standard_normal(s), jnp.float32) for s in [(2, n, 3), (3, 4), (3, 4), (4,)])
    perm = jnp.asarray(rng.permutation(n))
    @jax.jit
    def both(x, perm):
        return F.set_linear(actions.on_set(perm, x), lam, gam, bias), actions.on_set(perm, F.set_linear(x, lam, gam, bias))

    np.testing.assert_allclose(*both(x, perm), rtol=1e-5, atol=1e-5)


def test_set_linear_formula():
    x = jnp.array([[1.0, 0.0], [3.0, 2.0]])
    lam, gam, b = jnp.array([[1.0], [2.0]]), jnp.array([[10.0], [0.0]]), jnp.array([0.5])
    np.testing.assert_allclose(F.set_linear(x, lam, gam, b), x @ lam + x.mean(0) @ gam + b)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_set_pool_invariant(reduce):
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 5, 3)), jnp.float32)
    perm = jnp.array([3, 0, 4, 1, 2])
    np.testing.assert_allclose(F.set_pool(actions.on_set(perm, x), reduce), F.set_pool(x, reduce), rtol=1e-5, atol=1e-6)
    assert F.set_pool(x, reduce).shape == (2, 3)


def test_bad_input():
    with pytest.raises(ValueError, match="lam of shape"):
        F.set_linear(jnp.ones((4, 3)), jnp.ones((2, 5)), jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="gam"):
        F.set_linear(jnp.ones((4, 3)), jnp.ones((3, 5)), jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="bias"):
        F.set_linear(jnp.ones((4, 3)), jnp.ones((3, 5)), jnp.ones((3, 5)), jnp.ones(4))
    with pytest.raises(ValueError, match=r"\(\.\.\., N, cin\)"):
        F.set_linear(jnp.ones(3), jnp.ones((3, 5)), jnp.ones((3, 5)))
    with pytest.raises(ValueError, match="reduce"):
        F.set_pool(jnp.ones((4, 3)), "min")
