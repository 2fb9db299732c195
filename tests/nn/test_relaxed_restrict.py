"""Linen Restrict and relaxed convolutions: equivariance under the subgroup, Linen == NNX, export (issue 14)."""
import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx as fnnx

from symjax import actions, groups, nn, nnx

D4 = groups.dihedral(4)
C4 = D4.subgroup([1])


class Net(fnn.Module):
    """D4 relaxed lift, restricted to C4, a relaxed C4 group conv: C4-equivariant while the coefficients are equal."""

    @fnn.compact
    def __call__(self, x):
        f = fnn.relu(nn.RelaxedLiftingConv(D4, 2)(x))
        f = nn.Restrict(D4, C4)(f)
        return nn.RelaxedGroupConv(C4.group, 3)(f)


def test_restricted_relaxed_net_is_equivariant_under_the_subgroup_and_exports(equivariance, arrays):
    x = jnp.asarray(arrays.normal(0, (2, 5, 5, 1)))
    net = Net()
    variables = net.init(jax.random.key(0), x)
    assert variables["params"]["RelaxedGroupConv_0"]["kernel"].shape == (3, 3, 4, 4, 2, 3)
    y = jax.jit(net.apply)(variables, x)
    assert y.shape == (2, 5, 5, 3, 4)
    # C4 acting on the input as the rotations of D4 (elements 0..3 of both)
    equivariance.assert_equivariant(lambda x: net.apply(variables, x), C4.group, x, actions.on_image,
                                    actions.on_group_image)
    plain, plain_variables = nn.export(net, variables)
    assert plain_variables["params"]["RelaxedLiftingConv_0"]["kernel"].shape == (3, 3, 1, 16)
    np.testing.assert_allclose(jax.jit(plain.apply)(plain_variables, x), y.reshape(2, 5, 5, 12), atol=1e-5)


def test_linen_and_nnx_relaxed_convolutions_agree(arrays):
    f = jnp.asarray(arrays.normal(1, (1, 5, 5, 2, 4)))
    G = groups.cyclic(4)
    linen = nn.RelaxedGroupConv(G, 3, num_filter_basis=3)
    params = linen.init(jax.random.key(1), f)["params"]
    params = dict(params, relaxed_weights=params["relaxed_weights"] + jnp.asarray(arrays.normal(2, (3, 4))))
    layer = nnx.RelaxedGroupConv(G, 2, 3, num_filter_basis=3, rngs=fnnx.Rngs(0))
    for name in ("kernel", "relaxed_weights", "bias"):
        getattr(layer, name)[...] = params[name]
    np.testing.assert_array_equal(linen.apply({"params": params}, f), layer(f))
