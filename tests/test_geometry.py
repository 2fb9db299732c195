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


def _correlate(x: np.ndarray, kernel: np.ndarray, stride: int, pads) -> np.ndarray:
    """Cross-correlation of ``(H, W)`` with ``(kh, kw)``, zero padding ``((top, bottom), (left, right))``, in NumPy."""
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, pads), kernel.shape)[::stride, ::stride]
    return np.einsum("ijab,ab->ij", windows, kernel)


def _lax_pads(padding: str, size: int, kernel: int, stride: int):
    """``"SAME"``/``"VALID"`` as XLA documents them (independent of ``geometry.axis_padding``)."""
    if padding == "VALID":
        return 0, 0
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


CONFIGS = [(size, stride, padding, 3) for size in range(7, 13) for stride in (1, 2, 3) for padding in ("SAME", "VALID")]
CONFIGS += [(size, 1, padding, 4) for size in range(7, 13) for padding in ("SAME", "VALID")]


@pytest.mark.parametrize("G", [groups.cyclic(4), groups.dihedral(1), groups.cyclic(2)], ids=["C4", "D1", "C2"])
def test_centred_sampling_rule_predicts_the_measured_equivariance(G):
    """``is_centred`` / ``equivariance_pitfalls`` against the measured error of a correlation, per element.

    Sizes 7..12, strides 1..3, SAME and VALID, a 3x3 kernel, and a 4x4 one at
    stride 1. The correlation is NumPy in float64 (no compilation per shape):
    an element ``g`` commutes with it when ``corr(g x, g k) == g corr(x, k)``,
    which is the lifting convolution's equivariance for that element.
    """
    rng = np.random.default_rng(0)
    for size, stride, padding, k in CONFIGS:
        x, kernel = rng.standard_normal((size, size)), rng.standard_normal((k, k))
        pads = (_lax_pads(padding, size, k, stride),) * 2
        assert geometry.axis_padding(padding, size, k, stride) == pads[0]
        y = _correlate(x, kernel, stride, pads)
        error = 0.0
        for quarter_turns, flip in geometry.grid_plan(G):
            moved = _correlate(geometry.transform_exact(x[..., None], quarter_turns, flip)[..., 0],
                               geometry.transform_exact(kernel[..., None], quarter_turns, flip)[..., 0], stride, pads)
            expected = geometry.transform_exact(y[..., None], quarter_turns, flip)[..., 0]
            error = max(error, np.abs(moved - expected).max() / np.abs(y).max())
        pitfalls = geometry.equivariance_pitfalls(G, (size, size), k, stride, padding)
        assert bool(pitfalls) == (error > 1e-9), (size, stride, padding, k, error, pitfalls)
        assert geometry.is_centred(size, k, stride, pads[0]) == (error <= 1e-9)


def test_only_reversed_axes_need_a_centred_grid():
    D1 = groups.dihedral(1)  # flips the width axis only
    assert geometry.equivariance_pitfalls(D1, (8, 9), 3, strides=2) == []  # height 8 is never reversed
    assert geometry.equivariance_pitfalls(D1, (9, 8), 3, strides=2)[0].startswith("width 8")
    assert geometry.equivariance_pitfalls(groups.trivial(), (8, 10), 4, strides=3, padding=((0, 3), (1, 0))) == []
    assert geometry.equivariance_pitfalls(groups.dihedral(2), (7, 9), 3) == []  # no 90-degree rotation


def test_equivariance_pitfalls_name_each_cause():
    C4 = groups.cyclic(4)
    assert geometry.equivariance_pitfalls(C4, (9, 9), 3, strides=2) == []
    assert geometry.equivariance_pitfalls(C4, (9, 9), 4, padding="VALID", strides=1) == []
    (cause,) = geometry.equivariance_pitfalls(C4, (28, 28), 3, strides=2)
    assert "height and width 28" in cause and "stride 2" in cause and "27, 29" in cause
    (cause,) = geometry.equivariance_pitfalls(C4, (7, 7), (4, 4))
    assert "even kernel" in cause
    (cause,) = geometry.equivariance_pitfalls(C4, (7, 7), 3, padding=((0, 2), (0, 2)))
    assert "padding (0, 2)" in cause
    (cause,) = geometry.equivariance_pitfalls(C4, (9, 11), 3)
    assert "9x11, not square" in cause
    (cause,) = geometry.equivariance_pitfalls(C4, (9, 9), 3, strides=(1, 2), padding="VALID")
    assert "height and width differently" in cause
    assert "not square" in geometry.equivariance_pitfalls(C4, (9, 9), (3, 5))[0]
    causes = geometry.equivariance_pitfalls(groups.cyclic(8), (29, 29), 3)
    assert len(causes) == 1 and "not exact on the pixel grid" in causes[0]
    assert geometry.equivariance_pitfalls(groups.dihedral(4), (8, 8)) == []  # input only: nothing wrong yet
    with pytest.raises(ValueError, match="2x2 orthogonal"):
        geometry.equivariance_pitfalls(groups.symmetric(3), (9, 9))
    with pytest.raises(ValueError, match="input_shape"):
        geometry.equivariance_pitfalls(C4, (1, 9, 9, 3))
    with pytest.raises(ValueError, match="padding"):
        geometry.axis_padding("REFLECT", 9, 3)
    assert issubclass(geometry.EquivarianceWarning, UserWarning)
    import symjax
    assert symjax.EquivarianceWarning is geometry.EquivarianceWarning
