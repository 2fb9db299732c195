"""symjax.geometry: grid plans, index maps, the one bilinear resampling, the disc mask."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import actions, geometry, groups

EXACT = geometry.exact_groups()


def rotation(angle):
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def test_exact_groups_are_exactly_the_groups_with_a_grid_plan():
    assert [G.name for G in EXACT] == list(geometry.EXACT_GROUP_NAMES)
    assert all(geometry.is_exact_on_grid(G) for G in EXACT + (groups.klein_four(),))
    for G in (groups.cyclic(3), groups.cyclic(8), groups.dihedral(8), groups.symmetric(3)):
        assert not geometry.is_exact_on_grid(G)
    assert geometry.is_planar(groups.cyclic(8)) and not geometry.is_planar(groups.symmetric(3))


@pytest.mark.parametrize("G", EXACT, ids=[G.name for G in EXACT])
def test_pixel_index_is_the_action_on_images(G):
    x = np.random.default_rng(0).standard_normal((5, 5, 2))
    index = geometry.pixel_index(G, 5, 5)
    for g in range(G.order):
        moved = np.asarray(actions.on_image(G, g, jnp.asarray(x)))
        np.testing.assert_array_equal(moved.reshape(25, 2), x.reshape(25, 2)[index[g]].astype(np.float32))


@pytest.mark.parametrize("G", EXACT, ids=[G.name for G in EXACT])
def test_interpolation_of_grid_elements_is_the_pixel_permutation(G):
    for size in (3, 4):
        index = geometry.pixel_index(G, size, size)
        for g, m in enumerate(G.matrices):
            np.testing.assert_array_equal(geometry.interpolation_matrix(m, size, size),
                                          np.eye(size * size)[index[g]])


def test_regular_index_is_the_inverse_times_the_element():
    G = groups.dihedral(4)
    index = geometry.regular_index(G)
    for g in range(G.order):
        for h in range(G.order):
            assert index[g, h] == G.cayley_table[G.inverse_table[g], h]


@pytest.mark.parametrize("angle", [0.3, 1.0, math.pi / 4, 2.5])
def test_one_interpolation_for_numpy_and_jax(angle):
    """The kernels' (NumPy, float64) and the images' (jnp, traced) paths read the same taps."""
    index_np, weight_np = geometry.bilinear_taps(rotation(angle), 6, 7)
    index_jx, weight_jx = jax.jit(lambda m: geometry.bilinear_taps(m, 6, 7, xp=jnp))(jnp.asarray(rotation(angle)))
    np.testing.assert_array_equal(index_np, np.asarray(index_jx))
    np.testing.assert_allclose(weight_np, np.asarray(weight_jx), atol=1e-6)
    x = np.random.default_rng(1).standard_normal((6, 7, 1))
    via_matrix = geometry.interpolation_matrix(rotation(angle), 6, 7) @ x.reshape(42, 1)
    np.testing.assert_allclose(np.asarray(geometry.resample(jnp.asarray(x, jnp.float32), rotation(angle))),
                               via_matrix.reshape(6, 7, 1), atol=1e-5)


def test_resample_by_a_quarter_turn_is_rot90_and_integer_images_become_float():
    x = jnp.arange(12).reshape(1, 3, 4, 1).repeat(2, axis=0)
    out = geometry.resample(x, rotation(math.pi))
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(out, jnp.rot90(x, 2, axes=(1, 2)).astype(jnp.float32))


def test_disc_mask():
    assert geometry.disc_mask(1, 1).tolist() == [[1.0]]
    mask = geometry.disc_mask(7, 7)
    assert mask[3].tolist() == [1.0] * 7 and mask[0].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    np.testing.assert_array_equal(mask, mask.T)
    assert geometry.disc_mask(7, 7, margin=1).sum() < mask.sum()


def test_pixel_index_refuses_groups_off_the_grid():
    with pytest.raises(ValueError, match="exact on the pixel grid"):
        geometry.pixel_index(groups.cyclic(8), 3, 3)
    with pytest.raises(TypeError, match="FiniteGroup"):
        geometry.is_exact_on_grid("C4")
