import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, strategies as st

from symjax import actions, groups


on_image_jit = jax.jit(actions.on_image, static_argnums=0)
on_group_image_jit = jax.jit(actions.on_group_image, static_argnums=0)


@pytest.mark.parametrize("size", [4, 5])
def test_homomorphism_on_images_and_group_images(exact_group, size):
    G = exact_group
    x = jax.random.normal(jax.random.key(0), (2, size, size, 3))
    f = jax.random.normal(jax.random.key(1), (2, size, size, 3, G.order))
    for a in range(G.order):
        np.testing.assert_array_equal(on_image_jit(G, a, x), actions.on_image(G, a, x))
        np.testing.assert_array_equal(on_group_image_jit(G, a, f), actions.on_group_image(G, a, f))
        for b in range(G.order):
            ab = int(G.compose(a, b))
            np.testing.assert_array_equal(actions.on_image(G, a, actions.on_image(G, b, x)),
                                          actions.on_image(G, ab, x))
            np.testing.assert_array_equal(
                actions.on_group_image(G, a, actions.on_group_image(G, b, f)), actions.on_group_image(G, ab, f))
    # vmap over elements (traced path) equals the eager loop
    els = jnp.arange(G.order)
    vm = jax.vmap(lambda g: actions.on_group_image(G, g, f))(els)
    np.testing.assert_array_equal(vm, jnp.stack([actions.on_group_image(G, g, f) for g in range(G.order)]))
    # vmap over data with one element per example
    per = jax.vmap(lambda g, xi: actions.on_image(G, g, xi))(jnp.array([0, G.order - 1]), x)
    np.testing.assert_array_equal(per[1], actions.on_image(G, G.order - 1, x[1]))


def test_on_image_conventions():
    x = jax.random.normal(jax.random.key(0), (3, 5, 5, 2))
    for k in range(4):
        np.testing.assert_array_equal(actions.on_image(groups.cyclic(4), k, x), jnp.rot90(x, k, axes=(-3, -2)))
    D4 = groups.dihedral(4)
    np.testing.assert_array_equal(actions.on_image(D4, 4, x), x[..., :, ::-1, :])
    # r^k s: first reflect, then rotate
    np.testing.assert_array_equal(actions.on_image(D4, 5, x), jnp.rot90(x[..., :, ::-1, :], 1, axes=(-3, -2)))
    # C2 and D1 work on non-square images
    y = jnp.ones((4, 6, 1))
    assert actions.on_image(groups.cyclic(2), 1, y).shape == (4, 6, 1)
    assert actions.on_image(groups.dihedral(1), 1, y).shape == (4, 6, 1)


@pytest.mark.parametrize("G", [groups.cyclic(4), groups.dihedral(4)], ids=["C4", "D4"])
def test_images_and_vectors_describe_the_same_motion(G):
    img = jnp.zeros((5, 5, 1)).at[0, 3, 0].set(1.0)  # row 0, col 3: x = 1, y = 2 from the centre
    for g in range(G.order):
        out = np.asarray(actions.on_image(G, g, img)[..., 0])
        r, c = np.argwhere(out == 1.0)[0]
        np.testing.assert_allclose([c - 2, 2 - r], actions.on_vectors(G, g, jnp.array([1.0, 2.0])), atol=1e-6)


def test_group_image_regular_action_definition():
    G = groups.dihedral(4)
    f = jax.random.normal(jax.random.key(2), (5, 5, 2, 8))
    for g in range(8):
        spatial = actions.on_image(G, g, f.reshape(5, 5, 16)).reshape(5, 5, 2, 8)
        out = actions.on_group_image(G, g, f)
        for h in range(8):
            np.testing.assert_array_equal(out[..., h], spatial[..., int(G.compose(G.inverse(g), h))])


def test_grad_through_traced_element():
    G = groups.dihedral(4)
    x = jax.random.normal(jax.random.key(0), (5, 5, 1))
    w = jax.random.normal(jax.random.key(1), (5, 5, 1))
    grad = jax.grad(lambda x, g: jnp.sum(w * actions.on_image(G, g, x)))(x, jnp.int32(5))
    # the gradient of <w, T x> is T^-1 w
    np.testing.assert_allclose(grad, actions.on_image(G, int(G.inverse(5)), w), atol=1e-6)


def test_approximate_groups_and_rotate_image():
    x = jax.random.normal(jax.random.key(0), (7, 7, 2))
    np.testing.assert_allclose(actions.rotate_image(x, math.pi / 2), actions.on_image(groups.cyclic(4), 1, x),
                               atol=1e-5)
    np.testing.assert_allclose(actions.rotate_image(x, 0.0), x, atol=1e-6)
    C8 = groups.cyclic(8)
    assert not actions.is_exact_on_grid(C8)
    np.testing.assert_allclose(actions.on_image(C8, 2, x), actions.on_image(groups.cyclic(4), 1, x), atol=1e-5)
    # traced angles under vmap: SO(2) augmentation
    angles = jnp.linspace(0.0, 2 * math.pi, 5)
    assert jax.vmap(lambda a: actions.rotate_image(x, a))(angles).shape == (5, 7, 7, 2)
    # a disc-shaped blob keeps its mass under a 45-degree rotation (bilinear, interior)
    yy, xx = np.mgrid[:15, :15]
    blob = jnp.asarray(np.exp(-((yy - 7) ** 2 + (xx - 7) ** 2) / 4.0))[..., None]
    np.testing.assert_allclose(actions.rotate_image(blob, math.pi / 4).sum(), blob.sum(), rtol=0.02)


def test_on_vectors_finite_and_lie():
    v = jax.random.normal(jax.random.key(0), (10, 3))
    R = groups.SO(3).sample(jax.random.key(1))
    np.testing.assert_allclose(actions.on_vectors(groups.SO(3), R, v), v @ R.T, atol=1e-6)
    S3 = groups.symmetric(3)
    for a in range(6):
        for b in range(6):
            np.testing.assert_allclose(actions.on_vectors(S3, a, actions.on_vectors(S3, b, v)),
                                       actions.on_vectors(S3, int(S3.compose(a, b)), v))


@given(st.permutations(list(range(5))), st.permutations(list(range(5))))
def test_on_set_and_graph_are_actions(p, q):
    p, q = jnp.array(p), jnp.array(q)
    x = jnp.arange(10.0).reshape(5, 2)
    np.testing.assert_array_equal(actions.on_set(p, actions.on_set(q, x)), actions.on_set(p[q], x))
    adj = jax.random.normal(jax.random.key(0), (5, 5))
    n1, a1 = actions.on_graph(p, x, adj)
    np.testing.assert_array_equal(a1[p[:, None], p[None, :]], adj)
    n2, a2 = actions.on_graph(p, *actions.on_graph(q, x, adj))
    n3, a3 = actions.on_graph(p[q], x, adj)
    np.testing.assert_array_equal(a2, a3)
    np.testing.assert_array_equal(n2, n3)
    np.testing.assert_array_equal(jax.jit(actions.on_set)(p, x), actions.on_set(p, x))


def test_orbit_symmetrize_augment():
    G = groups.dihedral(4)
    x = jax.random.normal(jax.random.key(0), (5, 5, 1))
    orb = actions.orbit(G, x)
    assert orb.shape == (8, 5, 5, 1)
    np.testing.assert_array_equal(orb[5], actions.on_image(G, 5, x))
    W = jax.random.normal(jax.random.key(1), (25, 25))

    def f(x):
        return (W @ x.reshape(25)).reshape(5, 5, 1)

    fs = jax.jit(actions.symmetrize(f, G, actions.on_image, actions.on_image))
    scale = float(jnp.abs(fs(x)).max())
    for g in range(8):
        err = jnp.abs(fs(actions.on_image(G, g, x)) - actions.on_image(G, g, fs(x))).max()
        assert float(err) <= 1e-5 * scale
    inv = actions.symmetrize(lambda x: jnp.sum(x * jnp.arange(25.0).reshape(5, 5, 1)), G)
    np.testing.assert_allclose(inv(actions.on_image(G, 3, x)), inv(x), rtol=1e-5)
    batch = jax.random.normal(jax.random.key(2), (16, 5, 5, 1))
    out, els = actions.augment(jax.random.key(3), batch, G, return_elements=True)
    assert out.shape == batch.shape and els.shape == (16,)
    for i in range(16):
        np.testing.assert_array_equal(out[i], actions.on_image(G, int(els[i]), batch[i]))
    assert len(np.unique(np.asarray(els))) > 1


def test_bad_input():
    C4 = groups.cyclic(4)
    with pytest.raises(ValueError, match="square images, got x with H=4, W=6"):
        actions.on_image(C4, 1, jnp.ones((4, 6, 1)))
    with pytest.raises(ValueError, match=r"size \|G\| = 8 \(D4\), got 4"):
        actions.on_group_image(groups.dihedral(4), 1, jnp.ones((5, 5, 2, 4)))
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W, C\)"):
        actions.on_image(C4, 1, jnp.ones((5, 5)))
    with pytest.raises(TypeError, match="FiniteGroup"):
        actions.on_image("C4", 1, jnp.ones((5, 5, 1)))
    with pytest.raises(ValueError, match=r"\[0, 4\), got 7"):
        actions.on_image(C4, 7, jnp.ones((5, 5, 1)))
    with pytest.raises(ValueError, match="2x2 matrices"):
        actions.on_image(groups.symmetric(3), 1, jnp.ones((5, 5, 1)))
    with pytest.raises(ValueError, match="permutation of 0..2"):
        actions.on_set(jnp.array([0, 0, 1]), jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="length 2"):
        actions.on_set(jnp.array([0, 1]), jnp.ones((3, 2)))
