"""Linen SteerableConv and the steerable default of LiftingConv/GroupConv: grid equivariance, export, Linen == NNX."""
import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx as fnnx

from symjax import actions, groups, nn, nnx, symmetry
from symjax import functional as F

C4, C8, D8 = groups.cyclic(4), groups.cyclic(8), groups.dihedral(8)
pytestmark = pytest.mark.filterwarnings("ignore::symjax.EquivarianceWarning")  # C8/D8: approximate off the grid


def normal(seed, shape):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


class Net(fnn.Module):
    """Default (steerable) lifting and group convs, then a steerable conv from regular fields to vectors + scalars."""
    group: groups.FiniteGroup

    @fnn.compact
    def __call__(self, x):
        G = self.group
        f = fnn.relu(nn.LiftingConv(G, 2, kernel_size=5)(x))
        f = fnn.relu(nn.GroupConv(G, 2)(f))
        out = groups.Irrep(G, *((1, 1) if G.name.startswith("D") else (1,))) + groups.Trivial(G)
        g = nn.SteerableConv(2 * groups.Regular(G), out)(f.reshape(f.shape[:3] + (-1,)))
        return f, g


def test_net_exact_at_multiples_of_90_degrees_and_exports():
    G = D8  # C8: tests/nnx/test_steerable.py
    x = normal(0, (2, 9, 9, 1))
    net = Net(G)
    variables = net.init(jax.random.key(0), x)
    params = variables["params"]
    assert set(params["LiftingConv_0"]) == {"weights", "bias"} and params["LiftingConv_0"]["weights"].shape == (11, 1, 2)
    assert params["GroupConv_0"]["weights"].shape == (6, 2, G.order, 2)
    apply = lambda x: net.apply(variables, x)[0]  # noqa: E731
    errors = jax.jit(lambda x: symmetry.equivariance_error(apply, G, x, actions.on_image, actions.on_group_image,
                                                           reduce=None))(x)
    on_grid = [g for g, m in enumerate(G.matrices) if np.abs(m - np.round(m)).max() < 1e-9]
    assert float(np.max(np.asarray(errors)[on_grid])) < 1e-5
    plain, plain_variables = nn.export(net, variables)
    assert plain_variables["params"]["SteerableConv_0"]["kernel"].shape == (3, 3, 2 * G.order, 3)
    f, g = jax.jit(net.apply)(variables, x)
    pf, pg = jax.jit(plain.apply)(plain_variables, x)
    np.testing.assert_allclose(pf, f.reshape(f.shape[:3] + (-1,)), atol=1e-5)
    np.testing.assert_allclose(pg, g, atol=1e-5)


def test_basis_option_and_exact_groups_unchanged():
    x = normal(1, (1, 7, 7, 2))
    bilinear = nn.LiftingConv(C8, 3, basis="bilinear")
    assert bilinear.init(jax.random.key(0), x)["params"]["kernel"].shape == (3, 3, 2, 3)
    exact = nn.GroupConv(C4, 3)  # exact group: the free kernel, bit-identical to the functional definition
    f = normal(2, (1, 7, 7, 2, 4))
    variables = exact.init(jax.random.key(0), f)
    assert variables["params"]["kernel"].shape == (3, 3, 2, 4, 3)
    assert exact.functional == F.FunctionalGroupConv(C4, 3)
    with pytest.raises(ValueError, match="basis to be one of"):
        nn.LiftingConv(C8, 3, basis="escnn").init(jax.random.key(0), x)


def test_regular_convs_take_the_basis_settings_linen_and_nnx():
    """``rings``/``sigma``/``max_frequency`` reach the steerable basis of LiftingConv/GroupConv; the free kernel refuses
    them by name."""
    x = normal(4, (1, 9, 9, 2))
    settings = dict(kernel_size=5, rings=F.escnn_rings(5), sigma=F.escnn_sigma(5), max_frequency=(0, 2, 0))
    layer = nn.LiftingConv(C8, 3, **settings)
    assert layer.functional == F.FunctionalSteerableLiftingConv(C8, 3, **settings)
    assert layer.functional != nn.LiftingConv(C8, 3, kernel_size=5).functional
    variables = layer.init(jax.random.key(0), x)
    assert variables["params"]["weights"].shape == (1 + 5 + 1, 2, 3)  # rings: 1, 5 (m <= 2), 1 (isotropic)
    module = nnx.LiftingConv(C8, 2, 3, **settings, rngs=fnnx.Rngs(0))
    module.weights[...] = variables["params"]["weights"]
    np.testing.assert_allclose(module(x), layer.apply(variables, x), atol=1e-6)
    group = nnx.GroupConv(C8, 3, 2, kernel_size=5, sigma=0.5, rngs=fnnx.Rngs(0))
    assert group.functional.sigma == 0.5
    for make in (lambda: nn.GroupConv(C4, 2, kernel_size=5, max_frequency=1).init(jax.random.key(0),
                                                                                 normal(5, (1, 7, 7, 2, 4))),
                 lambda: nnx.LiftingConv(C8, 2, 3, basis="bilinear", rings=(0, 1), rngs=fnnx.Rngs(0))):
        with pytest.raises(ValueError, match="(max_frequency|rings) sets the steerable basis"):
            make()
    steered_c4 = nn.GroupConv(C4, 2, kernel_size=5, basis="steerable", max_frequency=1)
    assert isinstance(steered_c4.functional, F.FunctionalSteerableGroupConv)


def test_linen_and_nnx_agree():
    G = D8
    rep_in, rep_out = groups.Irrep(G, 1, 1) + groups.Trivial(G), groups.Regular(G) + groups.Irrep(G, 1, 2)
    x = normal(3, (2, 7, 7, 3))
    linen = nn.SteerableConv(rep_in, rep_out, kernel_size=5, strides=2)
    variables = linen.init(jax.random.key(0), x)
    module = nnx.SteerableConv(rep_in, rep_out, kernel_size=5, strides=2, rngs=fnnx.Rngs(0))
    assert module.weights.shape == variables["params"]["weights"].shape
    module.weights[...] = variables["params"]["weights"]
    module.bias[...] = variables["params"]["bias"] + 1.0
    variables = {"params": {"weights": variables["params"]["weights"], "bias": variables["params"]["bias"] + 1.0}}
    np.testing.assert_array_equal(jax.jit(linen.apply)(variables, x), module(x))
