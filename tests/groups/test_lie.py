import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import groups


@pytest.mark.parametrize("G", [groups.SO(2), groups.SO(3), groups.SO(4), groups.O(3), groups.SU(2), groups.SU(3)],
                         ids=lambda G: G.name)
def test_exp_log_and_algebra(G):
    n = G.n
    expected_dim = n * (n - 1) // 2 if G.kind in ("SO", "O") else n * n - 1
    assert G.dim == expected_dim and G.lie_algebra.shape == (expected_dim, n, n)
    A = G.lie_algebra
    np.testing.assert_allclose(A, -np.conj(np.swapaxes(A, -1, -2)))  # anti-Hermitian
    np.testing.assert_allclose(np.trace(A, axis1=1, axis2=2), 0, atol=1e-12)
    c = 0.3 * jax.random.normal(jax.random.key(0), (5, G.dim))
    g = G.exp(c)
    assert g.shape == (5, n, n)
    assert bool(G.contains(g, atol=1e-5).all())
    np.testing.assert_allclose(G.log(g), c, atol=2e-5)
    np.testing.assert_allclose(jax.jit(G.exp)(c), g, atol=1e-5)


def test_haar_samples():
    R = groups.SO(3).sample(jax.random.key(0), (4000,))
    assert R.shape == (4000, 3, 3)
    assert bool(groups.SO(3).contains(R, atol=1e-4).all())
    np.testing.assert_allclose(R.mean(axis=0), 0.0, atol=0.05)  # Haar: E[R] = 0
    Q = groups.O(3).sample(jax.random.key(1), (2000,))
    dets = np.linalg.det(np.asarray(Q))
    assert 0.4 < (dets > 0).mean() < 0.6
    U = groups.SU(2).sample(jax.random.key(2), (1000,))
    assert bool(groups.SU(2).contains(U, atol=1e-4).all())
    np.testing.assert_allclose(U.mean(axis=0), 0.0, atol=0.08)


def test_contains_and_discretize():
    assert not bool(groups.SO(2).contains(np.diag([-1.0, 1.0])))
    assert bool(groups.O(2).contains(np.diag([-1.0, 1.0])))
    assert not bool(groups.SO(3).contains(2 * np.eye(3)))
    C6 = groups.SO(2).discretize(6)
    assert C6 == groups.cyclic(6)
    D3 = groups.O(2).discretize(3)
    assert D3.order == 6 and bool(groups.O(2).contains(D3.matrices).all())
    np.testing.assert_allclose(groups.SO(2).exp(jnp.array([2 * np.pi / 6])), C6.matrices[1], atol=1e-6)
    with pytest.raises(ValueError, match="SO\\(2\\) and O\\(2\\)"):
        groups.SO(3).discretize(4)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n >= 2"):
        groups.SO(1)
    with pytest.raises(ValueError, match="dim = 3"):
        groups.SO(3).exp(jnp.zeros(2))
    assert hash(groups.SO(3)) == hash(groups.SO(3))
