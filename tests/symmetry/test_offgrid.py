"""symmetry.offgrid_equivariance: analytic inputs rotated exactly, errors per angle, exact on the pixel grid."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from symjax import _selfcheck, actions, groups, symmetry
from symjax import nn as snn
from symjax.geometry import disc_mask, interpolation_matrix

C4, D4, C8, D8, C16 = groups.cyclic(4), groups.dihedral(4), groups.cyclic(8), groups.dihedral(8), groups.cyclic(16)


@pytest.mark.parametrize("G", [C4, D4], ids=["C4", "D4"])
def test_blobs_on_the_grid_are_the_exact_pixel_permutation(G):
    x = symmetry.gaussian_blobs(11, batch=2, channels=2, seed=3)
    for g in range(G.order):
        moved = symmetry.gaussian_blobs(11, batch=2, channels=2, seed=3, matrix=G.matrices[g])
        np.testing.assert_array_equal(moved, np.asarray(actions.on_image(G, g, x)))


def test_blobs_are_analytic_and_inside_the_disc():
    x = symmetry.gaussian_blobs(21, batch=3, seed=1)
    outside = (1 - disc_mask(21, 21))[None, :, :, None]
    assert np.abs(x * outside).max() < 1e-6 * np.abs(x).max()
    # two rotations by 45 degrees sampled exactly are one quarter turn, to float32 rounding (no interpolation)
    twice = symmetry.gaussian_blobs(21, batch=3, seed=1, matrix=C8.matrices[1] @ C8.matrices[1])
    np.testing.assert_allclose(twice, np.asarray(actions.on_image(C4, 1, x)), atol=1e-6)
    # the bilinear rotation of the same image is off by far more than that
    bilinear = np.einsum("pq,bqc->bpc", interpolation_matrix(C8.matrices[1], 21, 21), x.reshape(3, -1, 1))
    exact = symmetry.gaussian_blobs(21, batch=3, seed=1, matrix=C8.matrices[1])
    assert np.abs(bilinear.reshape(x.shape) - exact).max() > 1e-3


def _net(G, size):
    lift = snn.LiftingConv(G, 1, kernel_size=(3, 3), basis="bilinear")
    conv = snn.GroupConv(G, 1, basis="bilinear")
    x = jnp.zeros((1, size, size, 1))
    v1 = lift.init(jax.random.key(0), x)
    v2 = conv.init(jax.random.key(1), lift.apply(v1, x))
    return jax.jit(lambda x: conv.apply(v2, jax.nn.relu(lift.apply(v1, x))))


@pytest.mark.filterwarnings("ignore::symjax.EquivarianceWarning")  # C8 is approximate by design
def test_bilinear_c8_net_is_exact_on_the_grid_and_measured_off_it():
    """Margin: the off-grid error of this random net is 1e-2 to 1e-1 (seeds 0-3), far above float rounding."""
    net = _net(C8, 13)
    invariant = jax.jit(lambda x: snn.GroupPool("max").apply({}, net(x)).sum(axis=(1, 2)))
    result = symmetry.offgrid_equivariance(invariant, C8, size=13)
    assert result.angles.tolist() == [0, 45, 90, 135, 180, 225, 270, 315]
    assert result.ongrid_max() < 1e-5
    assert result.offgrid_mean() > 1e-3 and (result.errors[~result.on_grid] > 1e-3).all()


def test_check_is_exact_on_the_grid_and_bounded_off_it():
    """A weighted energy with only the square's symmetry (weight |x| + |y|): exact on the grid, 1e-1 off it."""
    rows, cols = np.mgrid[-4:5, -4:5]
    weight = jnp.asarray(np.abs(rows) + np.abs(cols), jnp.float32)[None, :, :, None]
    square = lambda x: jnp.sum(weight * x ** 2, axis=(1, 2))  # noqa: E731
    assert symmetry.check_offgrid_equivariance(square, C8, size=9).ongrid_max() < 1e-6
    with pytest.raises(symmetry.EquivarianceError, match=r"45\.00 \|   no \|  off \| .*<- above tol"):
        symmetry.check_offgrid_equivariance(square, C8, size=9, offgrid_tol=1e-4)
    with pytest.raises(symmetry.EquivarianceError, match=r"not invariant under C8 .* 7 of 8 elements"):
        symmetry.check_offgrid_equivariance(lambda x: x[:, :4].sum(axis=(1, 2)), C8, size=9, offgrid_tol=1e-4)


def test_reflections_have_the_angle_of_their_rotation_part():
    result = symmetry.offgrid_equivariance(lambda x: x.sum(axis=(1, 2)), D8, size=9, norm="max")
    assert result.reflections.tolist() == [False] * 8 + [True] * 8
    assert result.angles[8:].tolist() == [0, 45, 90, 135, 180, 225, 270, 315]
    assert result.on_grid.tolist() == [True, False] * 8


def test_nnx_module_and_report():
    model = nnx.Conv(1, 2, (3, 3), rngs=nnx.Rngs(0))
    result = symmetry.offgrid_equivariance(model, C4, size=9, act_out=actions.on_image)
    assert result.errors.shape == (4,) and result.errors[0] == 0
    assert "angle" in result.report() and len(result.report().splitlines()) == 5


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="G must act on the plane"):
        symmetry.offgrid_equivariance(jnp.sum, groups.symmetric(3), size=9)
    with pytest.raises(ValueError, match="norm must be one of"):
        symmetry.offgrid_equivariance(jnp.sum, C4, size=9, norm="l1")
    with pytest.raises(TypeError, match="f must be a callable"):
        symmetry.offgrid_equivariance(None, C4, size=9)
    with pytest.raises(ValueError, match="mask must broadcast"):
        symmetry.offgrid_equivariance(lambda x: x, C4, size=9, act_out=actions.on_image, mask=np.ones((3, 3)))
    with pytest.raises(ValueError, match="sigma must be a range"):
        symmetry.gaussian_blobs(9, sigma=(2.0, 1.0))
    with pytest.raises(ValueError, match="matrix must be an invertible 2x2"):
        symmetry.gaussian_blobs(9, matrix=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="offgrid_tol must be a non-negative"):
        symmetry.check_offgrid_equivariance(jnp.sum, C4, size=9, offgrid_tol=-1.0)


@pytest.mark.filterwarnings("ignore::symjax.EquivarianceWarning")  # C8 is approximate by design
def test_selfcheck_off_grid_rows():
    rows = _selfcheck._offgrid_rows(D8, size=13)
    assert [(r["setting"].split(", ", 1)[1], r["status"]) for r in rows] == [
        ("rotations by 0 + k*90 degrees", "ok"), ("reflections, axis rotated by 0 + k*90 degrees", "ok"),
        ("rotations by 45 + k*90 degrees", "off-grid"), ("reflections, axis rotated by 45 + k*90 degrees", "off-grid")]
    assert all(r["error"] < 1.0 for r in rows)
