"""NNX Restrict and relaxed convolutions: equivariance under the subgroup, export, checked arguments (issue 14)."""
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx as fnnx

from symjax import actions, groups, nnx

C8 = groups.cyclic(8)
C4 = groups.cyclic(4)


class Net(fnnx.Module):
    """C4 relaxed lift, C4 -> C2, a C2 group conv, C2 -> trivial: C2-equivariant, plain channels at the end."""

    def __init__(self, rngs):
        C2 = C4.subgroup([2])
        self.lift = nnx.RelaxedLiftingConv(C4, 1, 2, rngs=rngs)
        self.down = nnx.Restrict(C4, C2)
        self.conv = nnx.GroupConv(C2.group, 4, 3, rngs=rngs)
        self.plain = nnx.Restrict(C2.group, C2.group.subgroup([0]))

    def features(self, x):
        return self.conv(fnnx.relu(self.down(self.lift(x))))

    def __call__(self, x):
        return self.plain(self.features(x))


def test_nnx_restricted_net_is_equivariant_under_the_subgroup_and_exports(equivariance, arrays):
    net = Net(fnnx.Rngs(0))
    x = jnp.asarray(arrays.normal(0, (2, 5, 5, 1)))
    y = net(x)
    features = net.features(x)
    # the trivial subgroup: the C2 maps as plain channels c * 2 + g
    assert y.shape == (2, 5, 5, 6, 1) and jnp.array_equal(y, features.reshape(2, 5, 5, 6, 1))
    C2 = C4.subgroup([2]).group
    equivariance.assert_equivariant(net.features, C2, x, actions.on_image, actions.on_group_image)
    exported = nnx.export(net)
    assert exported.model.lift.conv.kernel.shape == (3, 3, 1, 8)
    np.testing.assert_allclose(exported(x), y, atol=1e-5)


def test_nnx_restrict_checks_its_subgroup_when_built():
    with pytest.raises(TypeError, match="Subgroup"):
        nnx.Restrict(C8, [2])
    with pytest.raises(ValueError, match="subgroup of G"):
        nnx.Restrict(C8, groups.dihedral(4).subgroup([1, 4]))
    assert nnx.Restrict(C8, C8.subgroup([2]))(jnp.ones((1, 3, 3, 2, 8))).shape == (1, 3, 3, 4, 4)
