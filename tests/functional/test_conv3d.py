"""Volumes: the cube groups' action on voxels and the 3D lifting/group convolutions, checked on every element.

Each check covers all 24 (O) or 48 (O_h) elements at once (vmapped), on 5x5x5 volumes with 2 channels.
Equivariance is float rounding only: the bound 1e-5 relative (max |difference| / max |output|) is the issue's.
"""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import EquivarianceWarning, actions, geometry, groups
from symjax import functional as F

O, OH = groups.octahedral(), groups.full_octahedral()
CUBE = [O, OH]


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def every(G, fn):
    """``fn(g)`` stacked over every element of ``G``, in one jitted vmap (a traced element: the gather path)."""
    return jax.jit(jax.vmap(fn))(jnp.arange(G.order, dtype=jnp.int32))


def relative(a, b):
    return float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))


@pytest.mark.parametrize("G", CUBE, ids=lambda G: G.name)
def test_voxel_action_is_a_group_action_matching_the_matrices(G):
    index = geometry.voxel_index(G, 3, 3, 3)  # (|G|, 27): volume g flattened is x_flat[index[g]]
    twice = index[None, :, :][np.zeros((G.order, 1, 1), int), np.arange(G.order)[None, :, None], index[:, None, :]]
    np.testing.assert_array_equal(twice, index[G.cayley_table])  # T_a(T_b x) == T_ab x for every pair
    # the voxel at coordinates p = (x, y, z) = (w - 2, 2 - h, d - 2) moves to matrices[g] @ p
    one = np.zeros((5, 5, 5, 1))
    one[0, 1, 4, 0] = 1.0
    for g, (axes, flips) in enumerate(geometry.voxel_plan(G)):
        d, h, w = np.argwhere(geometry.transform_voxels(one, axes, flips)[..., 0])[0]
        np.testing.assert_array_equal([w - 2, 2 - h, d - 2], G.matrices[g] @ np.array([2, 1, -2]))
    x = normal(0, (2, 3, 3, 3, 2))
    concrete = np.stack([np.asarray(geometry.transform_voxels(np.asarray(x), *p)) for p in geometry.voxel_plan(G)])
    np.testing.assert_array_equal(every(G, lambda g: actions.on_image(G, g, x)), concrete)  # gather == transpose
    np.testing.assert_array_equal(actions.on_image(G, 5, x), concrete[5])
    f = normal(1, (3, 3, 3, 1, G.order))
    for a, b in ((3, 7), (G.order - 1, 10)):
        np.testing.assert_array_equal(actions.on_group_image(G, a, actions.on_group_image(G, b, f)),
                                      actions.on_group_image(G, int(G.cayley_table[a, b]), f))


def test_first_elements_turn_each_depth_slice_like_c4_and_shapes_are_checked():
    x = normal(2, (4, 4, 4, 3))
    for k in range(4):
        np.testing.assert_array_equal(actions.on_image(O, k, x), actions.on_image(groups.cyclic(4), k, x))
    sub = O.subgroup([1]).group  # C4 about z: mixes H and W only, so D may differ
    assert actions.on_image(sub, 1, jnp.ones((3, 5, 5, 1))).shape == (3, 5, 5, 1)
    with pytest.raises(ValueError, match="equal sizes"):
        actions.on_image(O, 1, jnp.ones((3, 5, 5, 1)))
    with pytest.raises(ValueError, match=r"\(\.\.\., D, H, W, C\)"):
        actions.on_image(O, 1, jnp.ones((5, 5, 1)))
    with pytest.raises(ValueError, match=r"\(\.\.\., D, H, W, C, \|G\|\)"):
        actions.on_group_image(O, 1, jnp.ones((5, 5, 1, 24)))


@pytest.mark.parametrize("G", CUBE, ids=lambda G: G.name)
def test_lifting_and_group_conv_are_equivariant_for_every_element(G):
    x = normal(3, (1, 4, 4, 4, 2))
    k1, bias, k2 = normal(4, (3, 3, 3, 2, 2)), normal(5, (2,)), normal(6, (3, 3, 3, 2, G.order, 2))

    @jax.jit
    def errors(x):
        y = F.lifting_conv(x, k1, G, bias=bias)
        z = F.group_conv(y, k2, G)

        def one(g):  # (transformed input through the layer, layer output transformed), for each check
            lift = F.lifting_conv(actions.on_image(G, g, x), k1, G, bias=bias), actions.on_group_image(G, g, y)
            conv = F.group_conv(actions.on_group_image(G, g, y), k2, G), actions.on_group_image(G, g, z)
            pool = F.group_pool(actions.on_group_image(G, g, z)), actions.on_image(G, g, F.group_pool(z))
            space = (F.spatial_pool(actions.on_group_image(G, g, z), dims=3),
                     actions.on_group_image(G, g, F.spatial_pool(z, dims=3)))
            return lift, conv, pool, space

        pairs = jax.vmap(one)(jnp.arange(G.order, dtype=jnp.int32))
        return [jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)) for a, b in pairs], y.shape, z.shape

    errs, y_shape, z_shape = errors(x)
    assert y_shape == z_shape == (1, 4, 4, 4, 2, G.order)
    assert max(float(e) for e in errs[:3]) <= 1e-5 and float(errs[3]) == 0.0  # pooling moves values: exact


def test_kernel_expansion_is_the_action_on_kernels():
    plan, regular = geometry.voxel_plan(O), geometry.regular_index(O)
    k = np.asarray(normal(7, (3, 3, 3, 1, 2)))
    lifted = np.asarray(F.lift_kernel(k, O)).reshape(3, 3, 3, 1, 2, 24)
    kg = np.asarray(normal(8, (3, 3, 3, 2, 24, 1)))
    expanded = np.asarray(F.group_kernel(kg, O)).reshape(3, 3, 3, 2, 24, 1, 24)
    for h in range(24):  # copy h: the kernel moved by h (on_image; on_group_image with the group axis permuted)
        moved = geometry.transform_voxels(k.reshape(3, 3, 3, 2), *plan[h]).reshape(k.shape)
        np.testing.assert_array_equal(lifted[..., h], moved)
        moved = geometry.transform_voxels(kg.reshape(3, 3, 3, 48), *plan[h]).reshape(kg.shape)[:, :, :, :, regular[h]]
        np.testing.assert_array_equal(expanded[..., h], moved)


def test_volume_configurations_are_checked():
    def trace(x, k, G, **kw):  # the checks run when the convolution is traced: no need to compile it
        return jax.eval_shape(lambda x, k: F.lifting_conv(x, k, G, **kw), jnp.ones(x), jnp.ones(k)).shape

    with pytest.warns(EquivarianceWarning, match="depth, height and width 6 with kernel 3, stride 2"):
        trace((1, 6, 6, 6, 1), (3, 3, 3, 1, 1), O, strides=2)
    with pytest.raises(ValueError, match="strict=True"):
        trace((1, 6, 6, 6, 1), (2, 2, 2, 1, 1), O, strict=True)
    with pytest.warns(EquivarianceWarning, match="5x5x7, not cubic"):
        trace((1, 5, 5, 7, 1), (3, 3, 3, 1, 1), O)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert trace((1, 7, 7, 7, 1), (3, 3, 3, 1, 1), OH, strides=2) == (1, 4, 4, 4, 1, 48)
        assert trace((1, 3, 5, 5, 1), (3, 3, 3, 1, 1), O.subgroup([1]).group) == (1, 3, 5, 5, 1, 4)
    causes = geometry.equivariance_pitfalls(O, (7, 7, 7), (3, 3, 3), strides=(1, 1, 2))
    assert any("sample depth, height and width differently (output 7x7x4)" in c for c in causes)
    assert geometry.equivariance_pitfalls(OH, (9, 9, 9), 3, strides=2) == []
    with pytest.raises(ValueError, match=r"rank 5 \(N, D, H, W, cin\) for group = O"):
        F.lifting_conv(jnp.ones((1, 5, 5, 1)), jnp.ones((3, 3, 1, 1)), O)
    with pytest.raises(ValueError, match="cubic kernel"):
        F.lift_kernel(jnp.ones((3, 3, 5, 1, 1)), O)
    with pytest.raises(ValueError, match=r"\|G\| = 24"):
        F.group_kernel(jnp.ones((3, 3, 3, 1, 48, 1)), O)
    with pytest.raises(ValueError, match=r"kernel_size .*\(kd, kh, kw\): group = O acts on volumes"):
        F.FunctionalLiftingConv(O, 2)  # the default (3, 3) is a 2D kernel: volumes need kernel_size=3
