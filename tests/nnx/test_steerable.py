"""NNX SteerableConv and the steerable default of LiftingConv/GroupConv: grid equivariance and export."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx as fnnx

from symjax import actions, groups, nnx, symmetry

C8 = groups.cyclic(8)
pytestmark = pytest.mark.filterwarnings("ignore::symjax.EquivarianceWarning")  # C8: approximate off the grid


class Net(fnnx.Module):
    def __init__(self, rngs):
        self.lift = nnx.LiftingConv(C8, 1, 2, kernel_size=5, rngs=rngs)
        self.conv = nnx.GroupConv(C8, 2, 2, rngs=rngs)
        self.bilinear = nnx.GroupConv(C8, 2, 2, basis="bilinear", rngs=rngs)
        self.vectors = nnx.SteerableConv(2 * groups.Regular(C8), 2 * groups.Irrep(C8, 1) + groups.Trivial(C8),
                                         rngs=rngs)

    def __call__(self, x):
        f = fnnx.relu(self.conv(fnnx.relu(self.lift(x))))
        return f, self.vectors(self.bilinear(f).reshape(f.shape[:3] + (-1,)))


def test_nnx_net_exact_on_the_grid_and_exports():
    net = Net(fnnx.Rngs(0))
    assert net.lift.weights.shape == (11, 1, 2) and not hasattr(net.lift, "kernel")
    assert net.bilinear.kernel.shape == (3, 3, 2, 8, 2) and not hasattr(net.bilinear, "weights")
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 9, 9, 1)), jnp.float32)
    graphdef, state = fnnx.split(net)
    apply = lambda x: fnnx.merge(graphdef, state)(x)[0]  # noqa: E731
    errors = jax.jit(lambda x: symmetry.equivariance_error(apply, C8, x, actions.on_image, actions.on_group_image,
                                                           reduce=None))(x)
    assert float(np.max(np.asarray(errors)[[0, 2, 4, 6]])) < 1e-5
    exported = nnx.export(net)
    assert exported.model.vectors.conv.kernel.shape == (3, 3, 16, 5)
    f, g = fnnx.jit(lambda net, x: net(x))(net, x)
    pf, pg = fnnx.jit(lambda model, x: model(x))(exported, x)
    np.testing.assert_allclose(pf, f.reshape(f.shape[:3] + (-1,)), atol=1e-5)
    np.testing.assert_allclose(pg, g, atol=1e-5)
