"""Approximate rotations: C_n / D_n kernels rotated by bilinear interpolation (symjax.functional._approx)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx as fnnx

from symjax import actions, groups, nn, nnx
from symjax import functional as F
from symjax.geometry import disc_mask, pixel_index
from symjax.functional import _approx

C8, D8 = groups.cyclic(8), groups.dihedral(8)

# Every convolution here is over a group that rotates by interpolation, which warns
# symjax.EquivarianceWarning by design (tested in tests/functional/test_conv.py).
pytestmark = pytest.mark.filterwarnings("ignore::symjax.EquivarianceWarning")


def _errors(G, k: int, size: int, smooth: bool, equivariance, arrays, disc: bool = True) -> np.ndarray:
    """Per element: relative L2 equivariance error of lifting -> relu -> group conv, in the central disc."""
    rng = np.random.default_rng(1)
    c = 3
    k1 = jnp.asarray(rng.standard_normal((k, k, 1, c)), jnp.float32)
    k2 = jnp.asarray(rng.standard_normal((k, k, c, G.order, c)), jnp.float32)

    def conv(x, kernel):
        y = jax.lax.conv_general_dilated(x.reshape(x.shape[:3] + (-1,)), kernel, (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y.reshape(y.shape[:-1] + (-1, G.order))

    def f(x):
        h = jax.nn.relu(conv(x, _approx.lift_kernel(k1, G, disc=disc)))
        return conv(h, _approx.group_kernel(k2, G, disc=disc))

    mask = disc_mask(size, size, margin=1)[None, :, :, None, None]
    return equivariance.errors(f, G, arrays.disc_image(size, smooth), actions.on_image, actions.on_group_image,
                               norm="l2", mask=mask)


@pytest.mark.parametrize("G", [groups.cyclic(4), groups.dihedral(4)])
def test_interpolation_tensor_is_the_pixel_permutation_for_exact_groups(G):
    for k in (3, 5):
        tensor = _approx.interpolation_tensor(G, k, k, disc=False)
        np.testing.assert_array_equal(tensor, np.eye(k * k, dtype=np.float32)[pixel_index(G, k, k)])


def test_expansion_shapes_and_copies_match_on_image():
    k = jnp.asarray(np.random.default_rng(0).standard_normal((5, 5, 2, 3)), jnp.float32)
    lifted = F.lift_kernel(k, C8)
    assert lifted.shape == (5, 5, 2, 24)
    masked = k * disc_mask(5, 5).reshape(5, 5, 1, 1)
    copies = lifted.reshape(5, 5, 2, 3, 8)
    for h in range(8):  # copy h is the disc-masked kernel moved by on_image
        ref = actions.on_image(C8, h, masked.reshape(5, 5, 6)).reshape(5, 5, 2, 3)
        np.testing.assert_allclose(copies[..., h], ref, atol=1e-6)
    assert F.group_kernel(jnp.ones((3, 3, 2, 16, 4)), D8).shape == (3, 3, 32, 64)
    # interpolation weights: rows sum to at most 1, the centre tap is fixed by every element
    tensor = _approx.interpolation_tensor(D8, 7, 7)
    assert tensor.shape == (16, 49, 49) and np.all(tensor.sum(-1) <= 1 + 1e-6)
    np.testing.assert_array_equal(tensor[:, 24, 24], np.ones(16))


def test_group_kernel_block_is_on_group_image_of_the_kernel():
    k = jnp.asarray(np.random.default_rng(2).standard_normal((3, 3, 2, 8, 1)), jnp.float32)
    expanded = F.group_kernel(k, C8).reshape(3, 3, 2, 8, 1, 8)
    masked = k[..., 0] * disc_mask(3, 3).reshape(3, 3, 1, 1)
    for h in (1, 2, 5):
        ref = actions.on_group_image(C8, h, masked)
        np.testing.assert_allclose(expanded[..., 0, h], ref, atol=1e-6)


@pytest.mark.parametrize("G", [C8, D8])
def test_layers_finite_under_jit_and_grid_elements_exact(G, arrays):
    x = arrays.disc_image(9, smooth=False)
    k1 = jnp.asarray(np.random.default_rng(0).standard_normal((3, 3, 1, 2)), jnp.float32)
    k2 = jnp.asarray(np.random.default_rng(1).standard_normal((3, 3, 2, G.order, 2)), jnp.float32)
    f = jax.jit(lambda x: F.group_conv(jax.nn.relu(F.lifting_conv(x, k1, G)), k2, G))
    y = f(x)
    assert y.shape == (1, 9, 9, 2, G.order) and bool(jnp.all(jnp.isfinite(y)))
    scale = float(jnp.max(jnp.abs(y)))
    # 90-degree rotations (element n/4) and, for D8, the width flip (element n) permute the grid exactly
    exact = [G.order // 4] if G is C8 else [2, 8, 10]
    for g in exact:
        err = jnp.max(jnp.abs(f(actions.on_image(G, g, x)) - actions.on_group_image(G, g, y))) / scale
        assert float(err) < 1e-5, (G.name, g, float(err))
    # the 45-degree rotation is approximate but bounded (traced element under jit)
    err = jax.jit(lambda g: jnp.max(jnp.abs(f(actions.on_image(G, g, x)) - actions.on_group_image(G, g, y))))(
        jnp.int32(1)) / scale
    assert 1e-4 < float(err) < 1.0


def test_error_bounded_and_smaller_for_smooth_inputs_larger_kernels_and_the_disc(equivariance, arrays):
    noise = _errors(C8, 5, 15, False, equivariance, arrays)
    smooth = _errors(C8, 5, 15, True, equivariance, arrays)
    np.testing.assert_array_less(np.r_[noise[::2], smooth[::2]], 1e-5)  # 0, 90, 180, 270 degrees: exact
    assert noise.max() < 0.8 and smooth.max() < 0.4
    assert smooth.max() < noise.max()
    assert _errors(C8, 5, 15, True, equivariance, arrays, disc=False).max() > smooth.max()  # the disc mask helps
    assert _errors(D8, 7, 15, True, equivariance, arrays).max() < _errors(D8, 3, 15, True, equivariance, arrays).max()


def test_linen_and_nnx_accept_c8_and_reject_groups_without_plane_matrices():
    x = jnp.ones((1, 7, 7, 2))
    model = nn.LiftingConv(C8, 3)
    y = model.apply(model.init(jax.random.key(0), x), x)
    assert y.shape == (1, 7, 7, 3, 8)
    g = nn.GroupConv(D8, 2)
    assert g.apply(g.init(jax.random.key(0), jnp.ones((1, 7, 7, 3, 16))), jnp.ones((1, 7, 7, 3, 16))).shape == \
        (1, 7, 7, 2, 16)
    layer = nnx.GroupConv(C8, 2, 4, rngs=fnnx.Rngs(0))
    assert layer(jnp.ones((1, 7, 7, 2, 8))).shape == (1, 7, 7, 4, 8)
    with pytest.raises(ValueError, match="group = A4"):
        nn.LiftingConv(groups.alternating(4), 2).init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="group = S3"):
        nnx.GroupConv(groups.symmetric(3), 2, 2, rngs=fnnx.Rngs(0))
    with pytest.raises(ValueError, match="G = S4"):
        F.group_kernel(jnp.ones((3, 3, 1, 24, 1)), groups.symmetric(4))
    with pytest.raises(ValueError, match="square kernel"):
        F.lift_kernel(jnp.ones((3, 5, 1, 1)), C8)
