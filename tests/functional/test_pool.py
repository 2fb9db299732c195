"""Spatial pooling: values and gradients against Flax's pools, equivariance under C4/D4, bad input."""
import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import actions, groups, symmetry
from symjax import functional as F


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


@pytest.mark.parametrize("window", [1, 2, 3])
def test_matches_flax_pools_values_and_gradients(window):
    f = normal(0, (2, 6, 6, 3, 4))  # a group feature map: trailing axes are kept
    flat = f.reshape(2, 6, 6, 12)
    ours_max = F.spatial_pool(f, window)
    ref_max = fnn.max_pool(flat, (window, window), strides=(window, window))
    np.testing.assert_array_equal(ours_max.reshape(ref_max.shape), ref_max)
    ours_mean = F.spatial_pool(f, window, reduce="mean")
    ref_mean = fnn.avg_pool(flat, (window, window), strides=(window, window))
    np.testing.assert_allclose(ours_mean.reshape(ref_mean.shape), ref_mean, rtol=1e-6, atol=1e-6)
    r = normal(1, ref_max.shape)  # continuous data: no ties, so the max gradient is unique
    g_ours = jax.grad(lambda f: jnp.sum(F.spatial_pool(f, window).reshape(r.shape) * r))(f)
    g_ref = jax.grad(lambda x: jnp.sum(fnn.max_pool(x, (window, window), strides=(window, window)) * r))(flat)
    np.testing.assert_array_equal(g_ours.reshape(g_ref.shape), g_ref)


@pytest.mark.parametrize("G", [groups.cyclic(4), groups.dihedral(4)], ids=lambda G: G.name)
@pytest.mark.parametrize("reduce", ["max", "mean"])
def test_commutes_with_rotations_and_flips(G, reduce):
    f = normal(2, (2, 8, 8, 3, G.order))
    pool = lambda f: F.spatial_pool(f, 2, reduce)  # noqa: E731
    err = symmetry.equivariance_error(pool, G, f, actions.on_group_image, actions.on_group_image)
    assert float(err) < 1e-6
    x = normal(3, (2, 12, 12, 3))
    err = symmetry.equivariance_error(lambda x: F.spatial_pool(x, 4, reduce), G, x, actions.on_image,
                                      actions.on_image)
    assert float(err) < 1e-6


def test_jit_and_vmap():
    f = normal(4, (3, 2, 4, 4, 5))
    out = jax.jit(jax.vmap(F.spatial_pool, in_axes=(0, None, None)), static_argnums=(1, 2))(f, 2, "max")
    assert out.shape == (3, 2, 2, 2, 5)
    np.testing.assert_array_equal(out[1], F.spatial_pool(f[1]))


def test_bad_input():
    f = jnp.ones((1, 6, 6, 2))
    with pytest.raises(ValueError, match="divisible by window = 4"):
        F.spatial_pool(f, 4)
    for window in (0, 2.0, True, "2"):
        with pytest.raises(TypeError, match="window"):
            F.spatial_pool(f, window)
    with pytest.raises(ValueError, match="reduce"):
        F.spatial_pool(f, 2, reduce="sum")
    with pytest.raises(ValueError, match=r"\(N, H, W, \.\.\.\)"):
        F.spatial_pool(jnp.ones((6, 6)))


def test_max_gradient_is_shared_on_ties():
    f = jnp.zeros((1, 2, 2, 1)).at[0, 0, 0, 0].set(-1.0)  # three tied maxima (0.0), one smaller value
    g = jax.grad(lambda f: F.spatial_pool(f).sum())(f)
    np.testing.assert_allclose(g[0, ..., 0], [[0.0, 1 / 3], [1 / 3, 1 / 3]], rtol=1e-6)
