"""Linen field layers: a D4 steerable net through every kind is exactly equivariant; wrappers equal functional."""
import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from symjax import actions, groups, nn
from symjax import functional as F

D4 = groups.dihedral(4)
TRIVIAL = groups.Trivial(D4)
IRREPS = groups.Irrep(D4, 1, 1) + groups.Irrep(D4, 1, 0) + TRIVIAL
GATES = len(F.field_types(IRREPS)) * TRIVIAL + IRREPS
REGULAR = 2 * groups.Regular(D4) + groups.Quotient(D4, [0, 4])


class Net(fnn.Module):
    """Image -> gated irreps -> norm BN -> norm ReLU -> regular fields -> inner BN -> ReLU; invariants of both."""

    @fnn.compact
    def __call__(self, x, train: bool = True):
        f = nn.SteerableConv(TRIVIAL, GATES, kernel_size=3)(x)
        f = nn.GatedNonLinearity(GATES)(f)
        f = nn.NormBatchNorm(IRREPS, use_running_average=not train)(f)
        g = nn.NormNonLinearity(IRREPS, bias_init=fnn.initializers.constant(-1.0))(f)
        f = nn.SteerableConv(IRREPS, REGULAR, kernel_size=3)(g)
        f = nn.InnerBatchNorm(REGULAR, use_running_average=not train)(f)
        f = nn.PointwiseNonLinearity(REGULAR)(f)
        return jnp.concatenate([nn.FieldPool(REGULAR)(f), nn.NormPool(IRREPS)(g)], -1)


def test_d4_steerable_net_is_equivariant(equivariance):
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 5, 5, 1)), jnp.float32)
    model = Net()
    variables = jax.jit(model.init)(jax.random.key(0), x)
    shapes = jax.tree.map(jnp.shape, variables)
    assert shapes["params"]["NormNonLinearity_0"] == {"log_bias": (3,)}
    assert shapes["params"]["GatedNonLinearity_0"] == {"bias": (3,)}
    assert shapes["batch_stats"]["NormBatchNorm_0"] == {"mean": (1,), "var": (3,)}
    assert shapes["batch_stats"]["InnerBatchNorm_0"] == {"mean": (3,), "var": (3,)}
    train = lambda x: model.apply(variables, x, mutable=["batch_stats"])[0]  # noqa: E731
    assert equivariance.error(train, D4, x, actions.on_image, actions.on_image) < equivariance.TOL


def test_linen_wrappers_are_the_functional_calls():
    so2 = groups.SO(2)
    field = F.fourier_field(so2, 2)
    rep = 3 * groups.Irrep(so2, 1)
    x = jnp.asarray(np.random.default_rng(1).standard_normal((2, 3, 3, 16)), jnp.float32)

    @jax.jit
    def both(x):
        regular = 2 * groups.Regular(D4)
        ours = (nn.FourierPointwise(field, fnn.elu, samples=16).apply({}, x[..., :10]),
                nn.NormPool(rep).apply({}, x[..., :6]), nn.FieldPool(regular, "mean").apply({}, x))
        ref = (F.fourier_pointwise(x[..., :10], field, jax.nn.elu, samples=16), F.norm_pool(x[..., :6], rep),
               F.field_pool(x, regular, "mean"))
        return ours, ref
    ours, ref = both(x)
    assert all(jnp.array_equal(a, b) for a, b in zip(ours, ref))
    assert nn.GatedNonLinearity(GATES, drop_gates=False).out_rep == GATES


def test_linen_field_layers_reject_bad_input():
    with pytest.raises(ValueError, match="NormNonLinearity expects x of shape"):
        nn.NormNonLinearity(IRREPS).init(jax.random.key(0), jnp.ones((2, 5, 5, 5)))
    with pytest.raises(ValueError, match="pointwise_nonlinearity expects every field of rep to be a permutation"):
        nn.PointwiseNonLinearity(IRREPS).apply({}, jnp.ones((2, 5, 5, 4)))
    with pytest.raises(ValueError, match="InnerBatchNorm expects every field of rep"):
        nn.InnerBatchNorm(IRREPS, use_running_average=False).init(jax.random.key(0), jnp.ones((2, 5, 5, 4)))
